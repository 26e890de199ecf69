// Tracks with several sample descriptions (issue 16, item 2;
// src/mp4/descriptions.rs): fixtures/media/stsd/joined.mp4 (generate.sh
// gen_stsd) is one H.264 track with two `stsd` entries, 2 s of 320x180
// Constrained Baseline then 2 s of 640x360 High, `stsc` switching at the
// keyframe of the join, plus AAC. We package it with in-band parameter
// sets (`avc3`, each sync sample led by its own description's SPS/PPS):
// manifests say avc3 and the larger size; ffmpeg decodes HLS fMP4, HLS TS
// and DASH outputs to exactly the frames it decodes from the source, the
// switch to 640x360 at the join included; cenc decrypts to the same
// frames, cbcs-aapl is 501; the Smooth fragment carries both SPS; hls.js
// plays through the join. Segments of 6 s (the default: the join is inside the only
// video segment, built from its read samples) and of 2 s (the join starts
// a segment: header plus source runs).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const { MEDIA, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, get, parseHls, text } = require('./lib/edge-http');
const C = require('./lib/cmaf-crypto');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');

const FILE = path.join(MEDIA, 'stsd', 'joined.mp4');
const missing = fs.existsSync(FILE) ? false : 'fixtures/media/stsd missing: run fixtures/generate.sh';
const noFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 ? false : 'ffmpeg not installed';
const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own origin: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || missing || noFfmpeg;

const FRAMES = 96;
const JOIN = 48;
const DURATION = 4;

/**
 * `ffmpeg -f framemd5` of `input`'s first video stream, every decoded frame
 * at its own size (`-autoscale 0`: no scaler to the first frame's size):
 * [{ size (bytes), hash }] in output order.
 */
function framemd5(input) {
  const r = spawnSync(
    'ffmpeg',
    ['-v', 'error', '-i', input, '-map', '0:v:0', '-fps_mode', 'passthrough', '-autoscale', '0', '-f', 'framemd5', '-'],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 },
  );
  assert.equal(r.status, 0, `${input}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').map((s) => s.trim()))
    .map((f) => ({ size: Number(f[4]), hash: f[5] }));
}

const SMALL = 320 * 180 * 1.5;
const LARGE = 640 * 360 * 1.5;

describe('several sample descriptions', { skip }, () => {
  let origin;
  let edge;
  let short;
  let E;
  let S;
  let source;

  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off' }, secrets: { encryption_key_seed: require('node:crypto').randomBytes(32).toString('base64') } });
    E = edge.url;
    // 2 s segments: the join starts one.
    short = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off', segment_ms: '2000' } });
    S = short.url;
    source = framemd5(FILE);
  });
  after(async () => {
    await edge?.stop();
    await short?.stop();
    await origin?.stop();
  });

  test('ffmpeg reads the fixture as two sizes', () => {
    assert.equal(source.length, FRAMES);
    assert.deepEqual(
      [source[0].size, source[JOIN - 1].size, source[JOIN].size, source[FRAMES - 1].size],
      [SMALL, SMALL, LARGE, LARGE],
    );
  });

  test('manifests say avc3 with the highest profile and level (High 3.0 over Baseline 1.3) and the largest size', async () => {
    const master = `${E}/stsd/joined.mp4/manifest(format=m3u8-cmaf)`;
    const res = await get(master);
    assert.equal(res.status, 200, text(res).slice(0, 300));
    const m = parseHls(text(res), master);
    const v = m.variants[0];
    assert.match(v.CODECS, /avc3\.64001e/, v.CODECS);
    assert.equal(v.RESOLUTION, '640x360');
    const mpdUrl = `${E}/stsd/joined.mp4/manifest(format=mpd-time-cmaf)`;
    const mpd = text(await get(mpdUrl));
    assert.match(mpd, /codecs="avc3\.64001e"/);
    assert.match(mpd, /width="640"/);
    assert.match(mpd, /height="360"/);
    const pl = parseHls(text(await get(v.url)), v.url);
    const total = pl.segments.reduce((n, s) => n + s.duration, 0);
    assert.ok(Math.abs(total - DURATION) < 0.05, `EXTINF add up to ${total}s`);
    const init = (await get(pl.map)).body;
    // With 2 s segments the join starts the second one.
    const sm = `${S}/stsd/joined.mp4/manifest(format=m3u8-cmaf)`;
    const sv = parseHls(text(await get(sm)), sm).variants[0];
    const spl = parseHls(text(await get(sv.url)), sv.url);
    assert.deepEqual(spl.segments.map((x) => x.duration), [2, 2]);
    assert.ok(init.includes(Buffer.from('avc3')) && !init.includes(Buffer.from('avc1')), 'init segment uses avc3');
  });

  test('ffmpeg decodes HLS fMP4, HLS TS and DASH to the source frames, both sizes', async () => {
    const cases = [];
    for (const seg of [undefined, 2000]) {
      for (const format of ['m3u8-cmaf', 'm3u8-aapl', 'mpd-time-cmaf']) cases.push({ format, seg });
    }
    for (const { format, seg } of cases) {
      const url = `${seg ? S : E}/stsd/joined.mp4/manifest(format=${format})`;
      const out = framemd5(url);
      const what = `${format}${seg ? ` ${seg} ms segments` : ''}`;
      assert.equal(out.length, FRAMES, `${what}: frames`);
      assert.equal(out[JOIN].size, LARGE, `${what}: the first frame after the join is 640x360`);
      assert.equal(out[JOIN - 1].size, SMALL, `${what}: the last frame before it is 320x180`);
      assert.deepEqual(out.map((f) => f.hash), source.map((f) => f.hash), `${what}: the source's frames`);
    }
  });

  test('encryption=cenc keeps the parameter sets clear and decrypts to the clear frames; cbcs-aapl is refused', async () => {
    const master = `${E}/stsd/joined.mp4/manifest(format=m3u8-cmaf,encryption=cenc)`;
    const res = await get(master);
    assert.equal(res.status, 200, text(res).slice(0, 300));
    const v = parseHls(text(res), master).variants[0];
    const pl = parseHls(text(await get(v.url)), v.url);
    const key = await get(new URL('Key(encryption=cenc)', v.url).href);
    assert.equal(key.status, 200);
    const urls = [pl.map, ...pl.segments.map((x) => x.url)];
    const enc = await C.fetchAll(urls, CT.video);
    const plain = await C.fetchAll(urls.map((u) => u.replace(',encryption=cenc', '')), CT.video);
    // Both SPS NAL units (type 7, 0x67, after a 4-byte length) are in the
    // clear in the only video segment: one leads sample 0, one the join.
    const body = enc[0];
    let sps = 0;
    for (let i = body.indexOf(Buffer.from('mdat')); i >= 0 && i < body.length - 5; i++) {
      if (body[i] === 0 && body[i + 1] === 0 && body[i + 2] === 0 && body[i + 3] > 3 && body[i + 3] < 64 && body[i + 4] === 0x67) sps++;
    }
    assert.equal(sps, 2, 'clear SPS NAL units in the encrypted segment');
    try {
      const [dec, ref] = await Promise.all([C.frameMd5(enc, key.body.toString('hex')), C.frameMd5(plain)]);
      assert.equal(ref.code, 0, ref.stderr);
      assert.equal(dec.code, 0, dec.stderr);
      assert.equal(ref.frames.length, FRAMES);
      assert.deepEqual(dec.frames, ref.frames, 'decrypted frames equal the clear ones');
    } finally {
      C.cleanup();
    }
    const cbcs = `${E}/stsd/joined.mp4/QualityLevels(${/QualityLevels\((\d+)\)/.exec(v.url)[1]})/Fragments(video=0,format=m3u8-cmaf,encryption=cbcs-aapl).m4s`;
    const r = await get(cbcs);
    assert.equal(r.status, 501, text(r).slice(0, 300));
    assert.match(text(r), /cbcs-aapl of a track with several sample descriptions/);
  });

  test('Smooth: H264 at the largest size, the fragment carries both parameter sets', async () => {
    const manifest = text(await get(`${E}/stsd/joined.mp4/manifest`));
    assert.match(manifest, /FourCC="H264" MaxWidth="640" MaxHeight="360"/);
    const bw = /Type="video"[\s\S]*?Bitrate="(\d+)"/.exec(manifest)[1];
    const frag = await get(`${E}/stsd/joined.mp4/QualityLevels(${bw})/Fragments(video=0)`);
    assert.equal(frag.status, 200, text(frag).slice(0, 300));
    assert.equal(Number(frag.headers.get('content-length')), frag.body.length);
    // The two SPS as the fixture's avcC boxes hold them (after their 2-byte
    // lengths), found 4-byte-length-prefixed in the fragment.
    const file = fs.readFileSync(FILE);
    let found = 0;
    for (let at = file.indexOf('avcC'); at > 0; at = file.indexOf('avcC', at + 4)) {
      const len = file.readUInt16BE(at + 10);
      const sps = file.subarray(at + 12, at + 12 + len);
      if (frag.body.includes(Buffer.concat([Buffer.from([0, 0, 0, len]), sps]))) found++;
    }
    assert.equal(found, 2, 'both SPS in the fragment');
  });

  test('hls.js plays through the join at the source duration', { skip: browserSkipReason() || false }, async () => {
    const browser = await launchBrowser();
    try {
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
      try {
        await P.load(page, { player: 'hls.js', path: '/stsd/joined.mp4/manifest(format=m3u8-cmaf).m3u8' });
        const s = await P.checkPlays(page, { seconds: 3 });
        await P.assertNoPlayerErrors(page, 'hls.js on joined.mp4');
        assert.ok(Math.abs(s.duration - DURATION) <= 1 / 24 + 0.03, `duration ${s.duration}s, want ${DURATION}s ± a frame`);
        assert.equal(`${s.videoWidth}x${s.videoHeight}`, '640x360', 'decoding the second description after the join');
      } finally {
        await page.closeAll();
      }
    } finally {
      await browser.close();
    }
  });
});
