// The browser build (src/browser/, wasm32-unknown-unknown + wasm-bindgen) in
// Node: the nodejs glue in target/browser-node/ driven by the same round loop
// the page uses (browser/edgepack-browser.js) with Node's fetch against the
// local origin over fixtures/media. Manifests, playlists, init, CMAF and TS
// segments, Smooth; segment bytes equal the native CLI's; errors; rounds.
//
// Build first (scripts/test.sh does):
//   cargo rustc --release --target wasm32-unknown-unknown --lib --crate-type cdylib
//   wasm-bindgen --target nodejs --out-dir target/browser-node target/wasm32-unknown-unknown/release/edgepack.wasm
'use strict';

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { after, before, describe, test } = require('node:test');
const { REPO_ROOT } = require('./lib/process');
const { MEDIA, startOrigin } = require('./lib/origin');

const GLUE = path.join(REPO_ROOT, 'target', 'browser-node', 'edgepack.js');
const WRAPPER = path.join(REPO_ROOT, 'browser', 'edgepack-browser.js');

const CT = {
  hls: 'application/vnd.apple.mpegurl',
  dash: 'application/dash+xml',
  smooth: 'application/vnd.ms-sstr+xml',
  mp4: 'video/mp4',
  ts: 'video/mp2t',
  error: 'text/plain; charset=utf-8',
};

/** Why the test cannot run (no glue built): skip locally, fail under CI=true. */
function skipReason() {
  if (fs.existsSync(GLUE)) return false;
  const reason = `${path.relative(REPO_ROOT, GLUE)} does not exist (see the build commands at the top of this file)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  return reason;
}

/** The native CLI's body for a request path (src/main.rs over fixtures/media). */
function nativeBody(requestPath) {
  return execFileSync('cargo', ['run', '--release', '--quiet', '--bin', 'edgepack', '--', MEDIA, requestPath], {
    cwd: REPO_ROOT,
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 15 * 60_000,
  });
}

/** Top-level ISO BMFF box types of a buffer. */
function boxTypes(buf) {
  const types = [];
  for (let pos = 0; pos + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(pos);
    types.push(buf.toString('latin1', pos + 4, pos + 8));
    if (size < 8) break;
    pos += size;
  }
  return types;
}

/** URIs of an HLS playlist (non-comment lines), and of EXT-X-MAP. */
function hlsUris(text) {
  const lines = text.split('\n').map((l) => l.trim());
  const map = lines.map((l) => /^#EXT-X-MAP:.*URI="([^"]+)"/.exec(l)).find(Boolean);
  return { uris: lines.filter((l) => l && !l.startsWith('#')), map: map ? map[1] : null };
}

/** A playlist URI resolved against the request path it came from. */
const resolve = (uri, base) => new URL(uri, `http://packager${base}`).pathname;

describe('browser packager (wasm-bindgen, nodejs glue)', { skip: skipReason() }, () => {
  let origin;
  let Packager;
  let packageRequest;
  let packager;
  const seen = [];
  const get = async (p, query) => {
    const t0 = performance.now();
    const r = await packageRequest(packager, origin.url, p, query);
    seen.push({ path: p.length > 70 ? `…${p.slice(-69)}` : p, status: r.status, rounds: r.rounds, reads: r.reads, bytes: r.body.length, ms: Number((performance.now() - t0).toFixed(1)) });
    return r;
  };
  const text = (r) => Buffer.from(r.body).toString('utf8');

  before(async () => {
    origin = await startOrigin();
    ({ Packager } = require(GLUE));
    ({ packageRequest } = await import(pathToFileURL(WRAPPER).href));
    packager = new Packager(6000);
  });
  after(async () => {
    if (seen.length) {
      console.log('\nbrowser packager (shared instance): rounds of origin reads per request');
      console.table(seen);
    }
    packager?.free();
    await origin?.stop();
  });

  test('HLS (CMAF): master, media playlist, init and a segment equal to the native CLI', async () => {
    const master = '/abr/abr.ism/manifest(format=m3u8-cmaf)';
    const m = await get(master);
    assert.equal(m.status, 200, m.reason);
    assert.equal(m.contentType, CT.hls);
    assert.ok(m.rounds <= 3, `cold manifest took ${m.rounds} rounds`);
    assert.match(text(m), /^#EXTM3U/);
    assert.deepEqual(Buffer.from(m.body), nativeBody(master));

    const variant = hlsUris(text(m)).uris.find((u) => u.includes('Manifest(video'));
    assert.ok(variant, text(m));
    const playlistPath = resolve(variant, master);
    const pl = await get(playlistPath);
    assert.equal(pl.status, 200, pl.reason);
    assert.equal(pl.contentType, CT.hls);
    assert.equal(pl.rounds, 0, 'indexes cached by the master request');
    const { uris, map } = hlsUris(text(pl));
    assert.ok(map && uris.length > 3, text(pl));

    const init = await get(resolve(map, playlistPath));
    assert.equal(init.status, 200, init.reason);
    assert.equal(init.contentType, CT.mp4);
    assert.equal(init.immutable, true);
    assert.deepEqual(boxTypes(Buffer.from(init.body)).slice(0, 2), ['ftyp', 'moov']);

    const segPath = resolve(uris[1], playlistPath);
    const seg = await get(segPath);
    assert.equal(seg.status, 200, seg.reason);
    assert.equal(seg.contentType, CT.mp4);
    assert.equal(seg.immutable, true);
    assert.equal(seg.rounds, 1, 'a segment is one round of payload reads');
    assert.deepEqual(boxTypes(Buffer.from(seg.body)), ['styp', 'moof', 'mdat']);
    assert.deepEqual(Buffer.from(seg.body), nativeBody(segPath));
    assert.equal(packager.stored_bytes, 0, 'payload dropped once answered');
  });

  test('DASH MPD and Smooth manifest', async () => {
    const mpd = await get('/abr/abr.ism/manifest(format=mpd-time-cmaf)');
    assert.equal(mpd.status, 200, mpd.reason);
    assert.equal(mpd.contentType, CT.dash);
    assert.match(text(mpd), /<MPD[\s>]/);
    const ss = await get('/abr/abr.ism/manifest');
    assert.equal(ss.status, 200, ss.reason);
    assert.equal(ss.contentType, CT.smooth);
    assert.match(text(ss), /<SmoothStreamingMedia[\s>]/);
    // The query string is an options source too.
    const q = await get('/abr/abr.ism/manifest', '?format=mpd-time-csf');
    assert.equal(q.status, 200, q.reason);
    assert.equal(q.contentType, CT.dash);
  });

  test('MPEG-TS segment (muxed, moov at the end) equals the native CLI', async () => {
    const fresh = new Packager(6000);
    try {
      const master = '/muxed_moov_end.mp4/manifest(format=m3u8-aapl-v3)';
      const m = await packageRequest(fresh, origin.url, master);
      assert.equal(m.status, 200, m.reason);
      assert.ok(m.rounds <= 3, `cold manifest took ${m.rounds} rounds`);
      const playlistPath = resolve(hlsUris(text(m)).uris[0], master);
      const pl = await packageRequest(fresh, origin.url, playlistPath);
      assert.equal(pl.status, 200, pl.reason);
      const segPath = resolve(hlsUris(text(pl)).uris[2], playlistPath);
      const seg = await packageRequest(fresh, origin.url, segPath);
      assert.equal(seg.status, 200, seg.reason);
      assert.equal(seg.contentType, CT.ts);
      const body = Buffer.from(seg.body);
      assert.ok(body.length > 0 && body.length % 188 === 0, `${body.length} bytes`);
      assert.equal(body[0], 0x47);
      assert.deepEqual(body, nativeBody(segPath));
      assert.equal(fresh.stored_bytes, 0);
    } finally {
      fresh.free();
    }
  });

  test('errors: bad URL 400, missing object 404, unsupported option 501', async () => {
    for (const [p, status] of [
      ['/abr/../abr/abr.ism/manifest', 400],
      ['/abr/abr.ism/manifest(format=nope)', 400],
      ['/nope/missing.mp4/master.m3u8', 404],
      ['/abr/missing.ism/manifest(format=m3u8-cmaf)', 404],
      ['/abr/abr.ism/QualityLevels(1)/Fragments(nosuch=0,format=m3u8-cmaf)', 404],
      ['/abr/abr.ism/manifest(format=m3u8-cmaf,encryption=cenc)', 501],
    ]) {
      const r = await get(p);
      assert.equal(r.status, status, `${p}: ${r.status} ${r.reason}`);
      assert.equal(r.contentType, CT.error);
      assert.ok(r.reason.length > 0);
      assert.equal(text(r), `${r.reason}\n`);
    }
  });

  test('rounds and origin reads: cold, warm, ranged and conditional', async () => {
    const fresh = new Packager(6000);
    try {
      await origin.resetLog();
      const master = '/abr/abr.ism/manifest(format=m3u8-cmaf)';
      const cold = await packageRequest(fresh, origin.url, master);
      assert.equal(cold.status, 200, cold.reason);
      // The .ism, then the head of its four MP4s at once (faststart).
      assert.ok(cold.rounds >= 2 && cold.rounds <= 3, `${cold.rounds} rounds`);
      assert.equal(cold.reads, 5);
      const warm = await packageRequest(fresh, origin.url, '/abr/abr.ism/manifest(format=mpd-time-cmaf)');
      assert.equal(warm.status, 200, warm.reason);
      assert.equal(warm.rounds, 0);
      assert.ok(fresh.cached_entries >= 5, `${fresh.cached_entries} cache entries`);
      const seg = await packageRequest(
        fresh,
        origin.url,
        '/abr/abr.ism/QualityLevels(128000)/Fragments(aac_eng_2_128=0,format=m3u8-cmaf)',
      );
      assert.equal(seg.status, 200, seg.reason);
      const log = (await origin.requests()).filter((r) => !r.path.startsWith('/__'));
      assert.equal(log.length, cold.reads + seg.reads);
      for (const r of log) {
        assert.match(r.range ?? '', /^bytes=\d+-\d+$/, JSON.stringify(r));
        assert.equal(r.status, 206, JSON.stringify(r));
      }
      // Payload reads carry the ETag the index was built from.
      const payload = log.slice(cold.reads);
      assert.ok(payload.length > 0 && payload.every((r) => r.ifMatch), JSON.stringify(payload));
    } finally {
      fresh.free();
    }
  });

  test('origin faults: statuses map as at the edge; a network failure is retried once', async () => {
    const fresh = new Packager(6000);
    const at = (base, p) => packageRequest(fresh, base, p);
    try {
      for (const [fault, status, reason] of [
        ['status/403', 502, /check origin auth/],
        ['status/503', 502, /503/],
        ['status/504', 504, /timed out/],
        ['short', 502, /body read failed|short body/],
      ]) {
        const r = await at(`${origin.url}/__fault/${fault}`, '/audio_only.mp4/master.m3u8');
        assert.equal(r.status, status, `${fault}: ${r.reason}`);
        assert.match(r.reason, reason);
      }
      let calls = 0;
      const flaky = (url, init) => (calls++ === 0 ? Promise.reject(new TypeError('fetch failed')) : fetch(url, init));
      const r = await packageRequest(fresh, origin.url, '/audio_only.mp4/master.m3u8', undefined, { fetch: flaky });
      assert.equal(r.status, 200, r.reason);
      assert.equal(calls, 2);
    } finally {
      fresh.free();
    }
  });

  test('an object replaced at the origin is re-indexed; one that keeps changing gives 502', async () => {
    const base = `${origin.url}/__fault/etag-flip`;
    const fresh = new Packager(6000);
    try {
      // audio_only.mp4 is smaller than the head read: after the 412 the new
      // version's head read carries both the moov and the payload.
      const m = await packageRequest(fresh, base, '/audio_only.mp4/master.m3u8');
      assert.equal(m.status, 200, m.reason);
      await origin.resetLog();
      const seg = await packageRequest(fresh, base, '/audio_only.mp4/QualityLevels(1)/Fragments(audio=0,format=m3u8-cmaf)');
      assert.equal(seg.status, 200, seg.reason);
      assert.deepEqual(
        (await origin.requests()).map((r) => r.status),
        [412, 206],
      );
      // Moov at the end: the tail read (If-Match the head's ETag) fails every time.
      const kept = await packageRequest(fresh, base, '/muxed_moov_end.mp4/master.m3u8');
      assert.equal(kept.status, 502, kept.reason);
      assert.match(kept.reason, /kept changing/);
      assert.ok(kept.rounds <= 4, `${kept.rounds} rounds`);
    } finally {
      fresh.free();
    }
  });
});
