// Long fragmented titles (issue 16, item 1): a fragmented file with a
// `sidx` or an `mfra` indexed at fragment granularity from that table, its
// moofs read per segment (src/mp4/fragtable.rs, src/service/moofs.rs).
// A title is indexed so when walking its moofs would exceed the read
// budget (≳ 190 MB of small fragments); the setting `fragment_index=table`
// does it for any file with a table, which keeps these fixtures the small
// fragmented copies of muxed_moov_end.mp4 (fixtures/generate.sh gen_frag).
// Checked: cold manifest reads (1 with a sidx, 3 with an mfra), every URL
// of HLS fMP4/TS, DASH and Smooth answers, video segments are the
// progressive original's byte for byte, ffmpeg decodes HLS and DASH to
// the original's frames, a segment's reads stay within budget, hls.js
// plays it.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const { MEDIA, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { fetchAllOk, get, hlsSegmentUrls, parseMpd, text, withReads } = require('./lib/edge-http');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');
const { framemd5Lines } = require('./lib/decoders');

const FRAG = path.join(MEDIA, 'frag');
const missing = fs.existsSync(path.join(FRAG, 'muxed_sidx.mp4')) ? false : 'fixtures/media/frag missing: run fixtures/generate.sh';
const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own origin: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || missing;

/** Reads a segment of a fragment-level track may take: its moofs (one round, merged), then its payload. */
const MAX_SEGMENT_READS = 4;

describe('long fragmented titles: a fragment-level index from sidx / mfra', { skip }, () => {
  let origin;
  let edge;
  let E;
  let root;
  const rows = [];

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-fraglong-'));
    fs.symlinkSync(FRAG, path.join(root, 'frag'));
    fs.symlinkSync(path.join(MEDIA, 'muxed_moov_end.mp4'), path.join(root, 'muxed_moov_end.mp4'));
    origin = await startOrigin({ root });
    edge = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off', fragment_index: 'table' } });
    E = edge.url;
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (rows.length) {
      console.log('\nfragment-level index: origin reads');
      console.table(rows);
    }
  });

  test('cold manifests: one read with a sidx, three with an mfra; no I-frame playlist', async () => {
    // video_360_sidx.mp4: one track, a sidx and no mfra.
    const files = [['muxed_sidx.mp4', 1], ['muxed_kf.mp4', 3], ['video_360_kf.mp4', 3], ['video_360_sidx.mp4', 1]];
    for (const [name, want] of files.filter(([n]) => fs.existsSync(path.join(FRAG, n)))) {
      const { result: res, stats } = await withReads(origin, () => get(`${E}/frag/${name}/manifest(format=m3u8-aapl)`));
      assert.equal(res.status, 200, `${name}: ${text(res).slice(0, 300)}`);
      assert.ok(!text(res).includes('I-FRAME'), `${name}: an I-frame playlist is listed`);
      rows.push({ request: `${name} cold manifest`, reads: stats.reads, bytes: stats.bytes });
      assert.equal(stats.reads, want, `${name}: ${stats.reads} reads`);
    }
    const iframes = await get(`${E}/frag/muxed_kf.mp4/QualityLevels(1)/Manifest(video,format=m3u8-aapl,type=keyframes)`);
    assert.equal(iframes.status, 501, text(iframes));
  });

  test('every HLS, DASH and Smooth URL answers; video segments are the progressive original’s byte for byte', async () => {
    // CI time: TS on the sidx layout only; DASH (the HLS fMP4 segments
    // under other URLs) its init and first segments.
    for (const [name, format] of [['muxed_sidx.mp4', 'm3u8-cmaf'], ['muxed_sidx.mp4', 'm3u8-aapl'], ['muxed_kf.mp4', 'm3u8-cmaf']]) {
      const frag = await hlsSegmentUrls(`${E}/frag/${name}`, format);
      const prog = await hlsSegmentUrls(`${E}/muxed_moov_end.mp4`, format);
      const bodies = await fetchAllOk(frag.urls);
      // Video: the same keyframes cut both, so the same URLs and bytes.
      const rel = (u, a) => u.slice(a.length).replace(/QualityLevels\(\d+\)/, 'QualityLevels(_)');
      const progVideo = new Map(prog.urls.filter((u) => /video=\d/.test(u)).map((u) => [rel(u, `${E}/muxed_moov_end.mp4`), u]));
      const pairs = frag.urls.map((u, i) => [u, i]).filter(([u]) => /video=\d/.test(u));
      const twins = pairs.map(([u]) => progVideo.get(rel(u, `${E}/frag/${name}`)));
      twins.forEach((t, k) => assert.ok(t, `${pairs[k][0]}: no segment at that time in the original`));
      const wants = await fetchAllOk(twins);
      pairs.forEach(([u, i], k) => assert.ok(bodies[i].equals(wants[k]), `${u} differs from ${twins[k]}`));
      assert.ok(pairs.length >= 5, `${name} ${format}: ${pairs.length} video segments compared`);
    }
    const mpdUrl = `${E}/frag/muxed_kf.mp4/manifest(format=mpd-time-cmaf)`;
    const mpd = await get(mpdUrl);
    assert.equal(mpd.status, 200, text(mpd).slice(0, 300));
    const reps = parseMpd(text(mpd), mpdUrl).reps;
    assert.ok(reps.length >= 2);
    await fetchAllOk(reps.flatMap((r) => [r.init, ...r.segments.slice(0, 2).map((x) => x.url)]).filter(Boolean));
    const smooth = await get(`${E}/frag/muxed_kf.mp4/manifest`);
    assert.equal(smooth.status, 200, text(smooth).slice(0, 300));
    const frag = await get(`${E}/frag/muxed_kf.mp4/QualityLevels(1)/Fragments(video=0)`);
    assert.equal(frag.status, 200, text(frag).slice(0, 300));
  });

  test('a segment reads its moofs and payload within the budget', async () => {
    const asset = `${E}/frag/muxed_kf.mp4`;
    await get(`${asset}/manifest(format=m3u8-cmaf)`);
    const { urls } = await hlsSegmentUrls(asset, 'm3u8-cmaf');
    const seg = urls.filter((u) => /video=\d/.test(u))[2];
    const { result: res, stats } = await withReads(origin, () => get(seg));
    assert.equal(res.status, 200, text(res).slice(0, 300));
    rows.push({ request: 'muxed_kf.mp4 video segment 3 (warm index)', reads: stats.reads, bytes: stats.bytes });
    // wasi:http keeps no index between requests: a cold index first (3).
    const cold = process.env.EDGEPACK_RUNTIME === 'wasi-http' ? 3 : 0;
    assert.ok(stats.reads <= cold + MAX_SEGMENT_READS, `${stats.reads} reads`);
  });

  test('ffmpeg decodes HLS and DASH of the fragment-level title to the original’s frames', async () => {
    const probe = spawnSync('ffmpeg', ['-version']);
    if (probe.status !== 0) return;
    // Decoded: the first 4 s of each protocol (CI time: 720p); the whole
    // title's packets, video and audio (audio is cut at its own fragment
    // boundaries, so its segments differ; its packets do not).
    for (const format of ['m3u8-cmaf', 'mpd-time-cmaf', 'm3u8-aapl']) {
      const want = framemd5Lines(`${E}/muxed_moov_end.mp4/manifest(format=${format})`, '0:v:0', 4);
      const got = framemd5Lines(`${E}/frag/muxed_sidx.mp4/manifest(format=${format})`, '0:v:0', 4);
      assert.ok(want.length >= 90, `${format}: ${want.length} frames`);
      assert.deepEqual(got, want, `${format}: decoded video frames differ`);
    }
    for (const [map, least] of [['0:v:0', 700], ['0:a:0', 1400]]) {
      const want = framemd5Lines(`${E}/muxed_moov_end.mp4/manifest(format=m3u8-cmaf)`, map, 0);
      const got = framemd5Lines(`${E}/frag/muxed_kf.mp4/manifest(format=m3u8-cmaf)`, map, 0);
      assert.ok(want.length >= least, `${map}: ${want.length} packets`);
      assert.deepEqual(got, want, `${map}: packets differ`);
    }
  });

  test('hls.js plays the fragment-level title', { skip: browserSkipReason() || false }, async () => {
    const browser = await launchBrowser();
    try {
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
      try {
        await P.load(page, { player: 'hls.js', path: '/frag/muxed_kf.mp4/manifest(format=m3u8-cmaf).m3u8' });
        await P.checkPlays(page, { seconds: 3 });
        await P.assertNoPlayerErrors(page, 'hls.js on the fragment-level title');
      } finally {
        await page.closeAll();
      }
    } finally {
      await browser.close();
    }
  });
});
