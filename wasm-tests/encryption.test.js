// `encryption=cbc` end to end on the built module (issue 14, first slice):
// HLS MPEG-TS (`m3u8-aapl`, `m3u8-aapl-v3`) with every segment encrypted
// whole with AES-128-CBC and PKCS#7 padding, announced by
// `#EXT-X-KEY:METHOD=AES-128` (RFC 8216 §4.3.2.4), the key served by the
// edge at the playlist-relative key URL `Key(encryption=cbc)`.
//
// - ffmpeg fetches the key itself and decodes the encrypted master with the
//   very frame checksums of the clear stream (`-f framecrc`), nothing on
//   stderr;
// - the key URL answers 16 bytes, `application/octet-stream`,
//   `Cache-Control: private, no-store`, no ETag, never from the output cache;
// - a segment decrypts (node's OpenSSL, IV per RFC 8216 §5.2) to the clear
//   segment byte for byte; its Content-Length is the padded length, its ETag
//   is not the clear one's, and a Range is a slice of the encrypted body;
// - cbc with a non-TS format is 400 (as are cbcs-aapl with TS and piff
//   with anything but Smooth), no seed 501;
// - with `token_required: 'on'` the key URL without a token is 403 and with
//   the manifest's token (carried by the relative URI) it is 200;
// - hls.js plays the encrypted stream in headless Chromium (when a browser
//   is installed).
//
//   node --test wasm-tests/encryption.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/encryption.test.js
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFile } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, parseHls, text } = require('./lib/edge-http');
const { signEdgepackPath } = require('./lib/token');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own configuration: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || false;

const SEED = crypto.randomBytes(32).toString('base64');
const TOKEN_KEY = crypto.randomBytes(32).toString('base64');

const encrypted = (base, format) => `${base}/manifest(format=${format},encryption=cbc).m3u8`;
const clear = (base, format) => `${base}/manifest(format=${format}).m3u8`;

/** Runs a tool; resolves { code, stdout (string), stderr (string) }. */
function run(cmd, args, { timeoutMs = 180_000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * Every decoded frame of every stream of `url`, as ffmpeg's framecrc lines
 * (stream, dts, pts, duration, size, CRC of the decoded frame).
 */
async function frameCrcs(url) {
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', url, '-map', '0', '-fps_mode', 'passthrough', '-f', 'framecrc', '-']);
  assert.equal(r.code, 0, `ffmpeg ${url}: ${r.stderr}`);
  assert.equal(r.stderr, '', `ffmpeg -v error wrote to stderr for ${url}`);
  const lines = r.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(lines.length > 0, `no frames decoded from ${url}`);
  return lines;
}

/** The key tags and segments of a media playlist, with each segment's IV. */
function keyedSegments(body, base) {
  const lines = body.split(/\r?\n/);
  let sequence = Number(lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'))?.slice(22) ?? 0);
  let key = null;
  const out = [];
  for (const line of lines) {
    if (line.startsWith('#EXT-X-KEY:')) {
      const uri = /URI="([^"]*)"/.exec(line)?.[1];
      const iv = /IV=0x([0-9a-fA-F]{32})/.exec(line)?.[1];
      assert.match(line, /METHOD=AES-128/, line);
      assert.ok(uri && !uri.startsWith('/') && !uri.includes('..'), `relative key URI: ${line}`);
      key = { uri, url: new URL(uri, base).href, iv: iv ? Buffer.from(iv, 'hex') : null };
    } else if (line && !line.startsWith('#')) {
      assert.ok(key, `${base}: a key tag before the first segment`);
      // RFC 8216 §5.2: without IV, the Media Sequence Number, big-endian.
      const iv = key.iv ?? Buffer.from(sequence.toString(16).padStart(32, '0'), 'hex');
      out.push({ url: new URL(line, base).href, keyUrl: key.url, keyUri: key.uri, iv });
      sequence += 1;
    }
  }
  return out;
}

function decrypt(data, key, iv) {
  const d = crypto.createDecipheriv('aes-128-cbc', key, iv);
  return Buffer.concat([d.update(data), d.final()]);
}

/** The key of an encrypted title: 16 bytes, private, no-store, no validator. */
function assertKey(res) {
  assert.equal(res.status, 200, `${res.url}: ${res.status} ${res.body.toString('utf8', 0, 200)}`);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream', `${res.url}: content type`);
  assert.equal(res.headers.get('cache-control'), 'private, no-store', `${res.url}: cache-control`);
  assert.equal(Number(res.headers.get('content-length')), 16, `${res.url}: content-length`);
  assert.equal(res.body.length, 16, `${res.url}: 16 raw bytes`);
  assert.equal(res.headers.get('etag'), null, `${res.url}: a key has no validator`);
  assert.equal(res.headers.get('x-edgepack-cache'), null, `${res.url}: never from the output cache`);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
}

/** The first media playlist a master lists: { url, body }. */
async function firstPlaylist(masterUrl) {
  const master = await get(masterUrl);
  assertOk(master, CT.hls, { immutable: false });
  const m = parseHls(text(master), masterUrl);
  const url = m.variants[0]?.url ?? m.media[0]?.url;
  assert.ok(url, `${masterUrl} lists a media playlist`);
  const res = await get(url);
  assertOk(res, CT.hls, { immutable: false });
  return { master, url, body: text(res) };
}

describe('encryption=cbc: AES-128 HLS TS with the key at the edge', { skip }, () => {
  let origin;
  let edge;
  let E;

  before(async () => {
    origin = await startOrigin();
    // The output cache stays on: encrypted segments are stored (under keys
    // of their own) and keys never are.
    edge = await startEdge({ originUrl: origin.url, secrets: { encryption_key_seed: SEED } });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  for (const [base, format] of [
    ['/muxed_moov_end.mp4', 'm3u8-aapl'],
    ['/muxed_moov_end.mp4', 'm3u8-aapl-v3'],
    ['/abr/abr.ism', 'm3u8-aapl'],
  ]) {
    test(`ffmpeg decodes ${base} ${format} encrypted with the clear stream's frame checksums`, async () => {
      const [enc, plain] = await Promise.all([frameCrcs(E + encrypted(base, format)), frameCrcs(E + clear(base, format))]);
      assert.equal(enc.length, plain.length, 'as many frames');
      assert.deepEqual(enc, plain);
    });
  }

  test('the master keeps encryption=cbc in every child URL and lists no I-frame playlist', async () => {
    const url = E + encrypted('/abr/abr.ism', 'm3u8-aapl');
    const res = await get(url);
    assertOk(res, CT.hls, { immutable: false });
    const m = parseHls(text(res), url);
    assert.equal(m.iframes.length, 0);
    assert.match(res.headers.get('edgepack-omitted') || '', /I-frame playlists: not offered with encryption=cbc/);
    for (const v of [...m.variants, ...m.media]) assert.match(v.url, /,encryption=cbc\)/, v.url);
    const { url: playlistUrl, body } = await firstPlaylist(url);
    const segments = keyedSegments(body, playlistUrl);
    assert.ok(segments.length >= 3, `${playlistUrl}: ${segments.length} segments`);
    for (const s of segments) {
      assert.match(s.url, /,encryption=cbc\)\.ts$/, s.url);
      assert.equal(s.keyUri, 'Key(encryption=cbc)');
    }
  });

  test('the key URL: 16 bytes, octet-stream, private no-store, no ETag, not cached', async () => {
    const { url, body } = await firstPlaylist(E + encrypted('/abr/abr.ism', 'm3u8-aapl'));
    const [seg] = keyedSegments(body, url);
    const first = await get(seg.keyUrl);
    assertKey(first);
    const again = await get(seg.keyUrl);
    assertKey(again);
    assert.deepEqual(again.body, first.body);
    const head = await get(seg.keyUrl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers.get('cache-control'), 'private, no-store');
    // One key per asset: another rendition's key URL gives the same bytes,
    // another asset's key differs.
    const other = await get(`${E}/abr/abr.ism/QualityLevels(1)/Key(encryption=cbc)`);
    assertKey(other);
    assert.deepEqual(other.body, first.body);
    const elsewhere = await get(`${E}/muxed_moov_end.mp4/QualityLevels(1)/Key(encryption=cbc)`);
    assertKey(elsewhere);
    assert.notDeepEqual(elsewhere.body, first.body);
  });

  for (const format of ['m3u8-aapl', 'm3u8-aapl-v3']) {
    test(`${format} segments decrypt to the clear ones; exact length, own ETag, ranges`, async () => {
      const { url, body } = await firstPlaylist(E + encrypted('/muxed_moov_end.mp4', format));
      const segments = keyedSegments(body, url);
      const key = (await get(segments[0].keyUrl)).body;
      for (const s of segments.slice(0, 3)) {
        const enc = await get(s.url);
        assertOk(enc, CT.ts, { immutable: true });
        const plainRes = await get(s.url.replace(',encryption=cbc', ''));
        assertOk(plainRes, CT.ts, { immutable: true });
        const plain = plainRes.body;
        assert.equal(enc.body.length, (Math.floor(plain.length / 16) + 1) * 16, `${s.url}: PKCS#7 length`);
        assert.notEqual(enc.headers.get('etag'), plainRes.headers.get('etag'), `${s.url}: its own ETag`);
        assert.notDeepEqual(enc.body.subarray(0, 188), plain.subarray(0, 188));
        assert.ok(decrypt(enc.body, key, s.iv).equals(plain), `${s.url} decrypts to the clear segment`);
        // A Range is a slice of the encrypted body, whole-cache or not.
        const n = enc.body.length;
        for (const [a, b] of [[0, 15], [100, 299], [n - 20, n - 1]]) {
          const part = await get(s.url, { headers: { Range: `bytes=${a}-${b}` } });
          assert.equal(part.status, 206, `${s.url} bytes=${a}-${b}`);
          assert.equal(part.headers.get('content-range'), `bytes ${a}-${b}/${n}`);
          assert.ok(part.body.equals(enc.body.subarray(a, b + 1)), `${s.url} bytes=${a}-${b}`);
        }
        // Revalidation by the encrypted segment's own ETag.
        const cond = await get(s.url, { headers: { 'If-None-Match': enc.headers.get('etag') } });
        assert.equal(cond.status, 304);
        const twice = await get(s.url);
        assert.ok(twice.body.equals(enc.body), `${s.url}: the same bytes again`);
      }
    });
  }

  test('refusals: cbc needs MPEG-TS, cbcs-aapl CMAF, piff Smooth (400); I-frames are 501', async () => {
    for (const p of [
      '/abr/abr.ism/manifest(format=m3u8-cmaf,encryption=cbc)',
      '/abr/abr.ism/manifest(format=mpd-time-cmaf,encryption=cbc)',
      '/abr/abr.ism/manifest(encryption=cbc)',
    ]) {
      assertError(await get(E + p), 400, /m3u8-aapl/);
    }
    // cbcs-aapl is built for the CMAF formats (cbcs.test.js), not for TS.
    assertError(await get(`${E}/abr/abr.ism/manifest(format=m3u8-aapl,encryption=cbcs-aapl)`), 400);
    // piff is built for Smooth Streaming (piff.test.js), not for DASH/HLS.
    assertError(await get(`${E}/abr/abr.ism/manifest(format=mpd-time-cmaf,encryption=piff)`), 400, /encryption=piff is PIFF sample encryption of Smooth Streaming/);
    assertError(
      await get(`${E}/abr/abr.ism/QualityLevels(1)/Manifest(video,format=m3u8-aapl,type=keyframes,encryption=cbc)`),
      501,
      /I-frame/,
    );
    assertError(await get(`${E}/abr/abr.ism/QualityLevels(1)/Key(format=m3u8-aapl)`), 400, /encryption=/);
  });

  const browserSkip = browserSkipReason();
  test('hls.js plays the encrypted HLS TS', { skip: browserSkip || false }, async () => {
    const browser = await launchBrowser();
    try {
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
      try {
        await P.load(page, { player: 'hls.js', path: encrypted('/abr/abr.ism', 'm3u8-aapl') });
        await P.checkPlays(page, { seconds: 8 });
        await P.assertNoPlayerErrors(page, 'hls.js on the encrypted stream');
      } finally {
        await page.closeAll();
      }
    } finally {
      await browser.close();
    }
  });
});

describe('encryption=cbc without a key seed', { skip }, () => {
  let origin;
  let edge;
  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url });
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  test('is 501 "encryption=cbc needs encryption_key_seed", key URL included', async () => {
    for (const p of ['/abr/abr.ism/manifest(format=m3u8-aapl,encryption=cbc)', '/abr/abr.ism/QualityLevels(1)/Key(encryption=cbc)']) {
      assertError(await get(edge.url + p), 501, /^encryption=cbc needs encryption_key_seed\n$/);
    }
    // Clear TS is untouched.
    assertOk(await get(edge.url + clear('/abr/abr.ism', 'm3u8-aapl')), CT.hls, { immutable: false });
  });
});

describe('encryption=cbc behind signed URLs', { skip }, () => {
  let origin;
  let edge;
  let E;
  const inHour = () => Math.floor(Date.now() / 1000) + 3600;
  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({
      originUrl: origin.url,
      settings: { token_required: 'on' },
      secrets: { encryption_key_seed: SEED, token_keys: `k1:${TOKEN_KEY}` },
    });
    E = edge.url;
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  test('the key URL is 403 without a token and 200 with the manifest\'s', async () => {
    const master = await signEdgepackPath(encrypted('/abr/abr.ism', 'm3u8-aapl'), 'k1', TOKEN_KEY, inHour());
    const token = master.split('/')[1];
    const { url, body } = await firstPlaylist(E + master);
    const segments = keyedSegments(body, url);
    // The relative key URI resolves under the token.
    assert.ok(segments[0].keyUrl.startsWith(`${E}/${token}/abr/abr.ism/QualityLevels(`), segments[0].keyUrl);
    const withToken = await get(segments[0].keyUrl);
    assertKey(withToken);
    const bare = segments[0].keyUrl.replace(`/${token}`, '');
    assertError(await get(bare), 403, /token required/);
    // Another asset's token does not open this key.
    const otherToken = (await signEdgepackPath('/abr/other.ism/manifest', 'k1', TOKEN_KEY, inHour())).split('/')[1];
    assertError(await get(bare.replace(E, `${E}/${otherToken}`)), 403, /token not valid/);
    // The segments open with the same token and decrypt with that key.
    const enc = await get(segments[0].url);
    assertOk(enc, CT.ts, { immutable: true });
    const plain = decrypt(enc.body, withToken.body, segments[0].iv);
    assert.equal(plain[0], 0x47, 'a TS sync byte after decryption');
    assert.equal(plain.length % 188, 0);
  });
});
