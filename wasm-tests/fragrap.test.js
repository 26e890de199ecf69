// Fragments that do not start at a keyframe (issue 16, item 1): a
// fragment-level index (`fragment_index=table`) of a file cut every 0.75 s
// by duration while its GOP is 2 s, whose sidx says where the SAP inside
// each fragment is (`starts_with_SAP` 0, `SAP_delta_time`, ISO/IEC
// 14496-12 §8.16.3.3; fixtures/sidx_sap.py writes what ffmpeg does not).
// Segments start at those SAPs, mid-fragment (src/mp4/fragtable.rs
// split_at_sap, src/service/moofs.rs). Checked: cold manifest 1 read,
// every HLS fMP4/TS video segment is the progressive original's byte for
// byte, ffmpeg decodes HLS and DASH to the original's frames (every
// packet of the title), a segment's reads stay within budget (and how many
// bytes its payload reads re-read from its moof reads: none), hls.js
// plays it. And `muxed_sidx.mp4` (interleaved, a sidx per track, each
// track's fragments the whole moof + mdat): the variant's BANDWIDTH is at
// least the real peak (video plus audio segment bytes over EXTINF) and
// within 1.5× of it (src/manifest/hls.rs shared_fragment_overhead).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const { MEDIA, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { fetchAllOk, get, hlsSegmentUrls, parseHls, parseMpd, text, withReads } = require('./lib/edge-http');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');
const { framemd5Lines } = require('./lib/decoders');

const FRAG = path.join(MEDIA, 'frag');
const NAME = 'video_360_sap.mp4';
const missing = fs.existsSync(path.join(FRAG, NAME)) ? false : 'fixtures/media/frag/video_360_sap.mp4 missing: run fixtures/generate.sh';
const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own origin: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || missing;

/** Reads a segment may take: its moofs (one merged round), then its payload. */
const MAX_SEGMENT_READS = 4;

/** [start, end) of a logged `Range: bytes=a-b`. */
function span(range) {
  const m = /bytes=(\d+)-(\d+)/.exec(range || '');
  return m ? [Number(m[1]), Number(m[2]) + 1] : null;
}

/** Bytes of `log`'s ranges of one path read more than once. */
function reread(log) {
  const spans = log.map((e) => span(e.range)).filter(Boolean).sort((a, b) => a[0] - b[0]);
  let twice = 0;
  let reach = 0;
  for (const [a, b] of spans) {
    if (a < reach) twice += Math.min(b, reach) - a;
    reach = Math.max(reach, b);
  }
  return twice;
}

describe('fragments that start mid-GOP: segments start at the SAPs the sidx names', { skip }, () => {
  let origin;
  let edge;
  let E;
  let root;
  const rows = [];

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-fragrap-'));
    fs.symlinkSync(FRAG, path.join(root, 'frag'));
    origin = await startOrigin({ root });
    edge = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off', fragment_index: 'table' } });
    E = edge.url;
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (rows.length) {
      console.log('\nSAPs inside fragments: origin reads');
      console.table(rows);
    }
  });

  test('cold manifest: one read (moov and sidx)', async () => {
    const { result: res, stats } = await withReads(origin, () => get(`${E}/frag/${NAME}/manifest(format=m3u8-cmaf)`));
    assert.equal(res.status, 200, text(res).slice(0, 300));
    rows.push({ request: `${NAME} cold manifest`, reads: stats.reads, bytes: stats.bytes });
    assert.equal(stats.reads, 1);
  });

  test('HLS fMP4 and TS video segments are the progressive original’s byte for byte', async () => {
    for (const format of ['m3u8-cmaf', 'm3u8-aapl']) {
      const frag = await hlsSegmentUrls(`${E}/frag/${NAME}`, format);
      const prog = await hlsSegmentUrls(`${E}/frag/video_360.mp4`, format);
      const rel = (u, a) => u.slice(a.length).replace(/QualityLevels\(\d+\)/, 'QualityLevels(_)');
      const want = new Map(prog.urls.map((u) => [rel(u, `${E}/frag/video_360.mp4`), u]));
      const segs = frag.urls.filter((u) => /video=\d/.test(u));
      const twins = segs.map((u) => want.get(rel(u, `${E}/frag/${NAME}`)));
      twins.forEach((t, k) => assert.ok(t, `${segs[k]}: no segment at that time in the original`));
      assert.equal(segs.length, prog.urls.filter((u) => /video=\d/.test(u)).length, `${format}: segment count`);
      const [a, b] = await Promise.all([fetchAllOk(segs), fetchAllOk(twins)]);
      segs.forEach((u, k) => assert.ok(a[k].equals(b[k]), `${u} differs from ${twins[k]}`));
      assert.ok(segs.length >= 4, `${format}: ${segs.length} segments`);
    }
  });

  test('a segment starting mid-fragment reads its moofs and payload within the budget', async () => {
    const { urls } = await hlsSegmentUrls(`${E}/frag/${NAME}`, 'm3u8-cmaf');
    const segs = urls.filter((u) => /video=\d/.test(u));
    // wasi:http keeps no index between requests: a cold index first (1).
    const cold = process.env.EDGEPACK_RUNTIME === 'wasi-http' ? 1 : 0;
    for (const [i, seg] of segs.slice(1, 3).entries()) {
      const ts = seg.replace('m3u8-cmaf', 'm3u8-aapl').replace('.m4s', '.ts');
      for (const [kind, u] of [['fMP4', seg], ['TS', ts]]) {
        const { result: res, log, stats } = await withReads(origin, () => get(u));
        assert.equal(res.status, 200, `${u}: ${text(res).slice(0, 300)}`);
        // The segment's own reads (not the head read of a cold index).
        const media = log.filter((e) => decodeURIComponent(e.path).endsWith(NAME) && !/bytes=0-/.test(e.range || ''));
        const spans = JSON.stringify(media.map((e) => e.range));
        rows.push({ request: `${kind} video segment ${i + 2} (warm index)`, reads: stats.reads, bytes: stats.bytes, reread: reread(media) });
        assert.ok(stats.reads <= cold + MAX_SEGMENT_READS, `${u}: ${stats.reads} reads`);
        // Its fragments (< 64 KB) are read whole with their moofs: the
        // payload is sent from those bytes, not read again.
        assert.equal(reread(media), 0, `${u}: bytes read twice: ${spans}`);
        assert.equal(media.length, 1, `${u}: ${spans}`);
      }
    }
  });

  test('ffmpeg: every packet of HLS fMP4 and DASH, and the first decoded seconds, are the original’s', async () => {
    const probe = spawnSync('ffmpeg', ['-version']);
    if (probe.status !== 0) return;
    for (const format of ['m3u8-cmaf', 'mpd-time-cmaf']) {
      const want = framemd5Lines(`${E}/frag/video_360.mp4/manifest(format=${format})`, '0:v:0', 0);
      const got = framemd5Lines(`${E}/frag/${NAME}/manifest(format=${format})`, '0:v:0', 0);
      assert.ok(want.length >= 700, `${format}: ${want.length} packets`);
      assert.deepEqual(got, want, `${format}: packets differ`);
    }
    const want = framemd5Lines(`${E}/frag/video_360.mp4/manifest(format=m3u8-aapl)`, '0:v:0', 3);
    const got = framemd5Lines(`${E}/frag/${NAME}/manifest(format=m3u8-aapl)`, '0:v:0', 3);
    assert.ok(want.length >= 70, `${want.length} frames`);
    assert.deepEqual(got, want, 'TS: decoded frames differ');
    const mpdUrl = `${E}/frag/${NAME}/manifest(format=mpd-time-cmaf)`;
    const mpd = await get(mpdUrl);
    assert.equal(parseMpd(text(mpd), mpdUrl).reps.length, 1);
  });

  test('interleaved file, a sidx per track: BANDWIDTH at least the real peak, within 1.5× of it', async () => {
    // muxed_sidx.mp4: every track's fragments are the whole moof + mdat.
    for (const format of ['m3u8-cmaf', 'm3u8-aapl']) {
      const masterUrl = `${E}/frag/muxed_sidx.mp4/manifest(format=${format})`;
      const master = await get(masterUrl);
      assert.equal(master.status, 200, text(master).slice(0, 300));
      const bandwidth = Number(/BANDWIDTH=(\d+)/.exec(text(master))[1]);
      const m = parseHls(text(master), masterUrl);
      const lists = [m.variants[0].url, m.media.find((x) => x.TYPE === 'AUDIO').url];
      const [video, audio] = await Promise.all(lists.map(async (u) => {
        const p = parseHls(text(await get(u)), u);
        const bodies = await fetchAllOk(p.segments.map((x) => x.url));
        return p.segments.map((x, i) => ({ duration: x.duration, bytes: bodies[i].length }));
      }));
      assert.equal(video.length, audio.length);
      const peak = Math.max(...video.map((v, i) => ((v.bytes + audio[i].bytes) * 8) / v.duration));
      rows.push({ request: `muxed_sidx.mp4 ${format}: BANDWIDTH / real peak`, reads: '', bytes: `${bandwidth} / ${Math.round(peak)}` });
      assert.ok(bandwidth >= peak, `${format}: BANDWIDTH ${bandwidth} under the real peak ${peak}`);
      assert.ok(bandwidth <= 1.5 * peak, `${format}: BANDWIDTH ${bandwidth} over 1.5× the real peak ${peak}`);
    }
  });

  test('hls.js plays it', { skip: browserSkipReason() || false }, async () => {
    const browser = await launchBrowser();
    try {
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
      try {
        await P.load(page, { player: 'hls.js', path: `/frag/${NAME}/manifest(format=m3u8-cmaf).m3u8` });
        await P.checkPlays(page, { seconds: 3 });
        await P.assertNoPlayerErrors(page, 'hls.js on SAPs inside fragments');
      } finally {
        await page.closeAll();
      }
    } finally {
      await browser.close();
    }
  });
});
