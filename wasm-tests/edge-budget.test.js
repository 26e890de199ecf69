// Origin read budgets and the edge cache, counted at the origin (its
// /__log): cold and warm manifests, warm and cold segments, and the bytes an
// interleaved file costs. The budgets (issue 3):
//   cold manifest ≤ 2 reads per MP4 when faststart, ≤ 3 with moov at the end;
//   warm manifest 0; warm segment of a one-track file exactly 1; cold ≤ 2;
//   interleaved: the reads the cost model plans (issue 11 item 6: a gap
//   costing less to read than a round trip is read through, so a segment
//   whose runs span under 1 MB is one read), within 32 requests; a cold
//   manifest never reads a byte of an object twice.
// Prints a table of the measured figures.
//
// Order matters: each cold measurement uses objects this file has not touched
// yet; cold segments are measured on a freshly started Viceroy (empty cache).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { MEDIA, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertOk, get, parseHls, text, verifyPayload, withReads } = require('./lib/edge-http');
const { fileLayout, minBytesForReads, readsForCost, readsForRatio, sampleRuns } = require('./lib/mp4');

const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own origin: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || false;

/** Fastly's limit on backend requests per client request. */
const MAX_BACKEND_REQUESTS = 32;
/**
 * Widest gap the edge reads through rather than making another request,
 * with the default `origin_rtt_ms` (40) and `origin_bandwidth` (50 MB/s):
 * 40 ms × 50 MB/s (src/plan.rs `ReadCost::merge_gap`).
 */
const MERGE_GAP = 2_000_000;

/** Byte ranges of `log` (one object) that were read more than once. */
function rereads(log) {
  const ranges = log
    .map((e) => /^bytes=(\d+)-(\d*)/.exec(e.range || ''))
    .filter(Boolean)
    .map((m) => ({ start: Number(m[1]), end: m[2] === '' ? Infinity : Number(m[2]) + 1 }))
    .sort((a, b) => a.start - b.start);
  const out = [];
  for (let i = 1; i < ranges.length; i++) {
    const end = Math.max(...ranges.slice(0, i).map((r) => r.end));
    if (ranges[i].start < end) out.push(`${ranges[i].start}-${Math.min(end, ranges[i].end) - 1}`);
  }
  return out;
}

// Fastly allows 32 backend requests per client request (Viceroy does not
// enforce it): the edge caps payload reads by what the index reads left.

/**
 * The origin root: fixtures/media (symlinked) plus set/m1..m6.mp4, six names
 * for muxed_moov_end.mp4, for a many-file urlset.
 */
function makeRoot() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-budget-'));
  for (const name of fs.readdirSync(MEDIA)) fs.symlinkSync(path.join(MEDIA, name), path.join(root, name));
  fs.mkdirSync(path.join(root, 'set'));
  for (let i = 1; i <= 6; i++) {
    const to = path.join(root, 'set', `m${i}.mp4`);
    try {
      fs.linkSync(path.join(MEDIA, 'muxed_moov_end.mp4'), to);
    } catch {
      fs.copyFileSync(path.join(MEDIA, 'muxed_moov_end.mp4'), to);
    }
  }
  return root;
}

describe('edge origin reads and cache', { skip }, () => {
  let origin;
  let edge;
  let E;
  const rows = [];
  // Segment URLs found while warm, requested again after a restart (cold).
  const later = {};

  let root;

  before(async () => {
    root = makeRoot();
    origin = await startOrigin({ root });
    // Output cache off: these tests price what packaging reads from the
    // origin (the output cache, which answers warm repeats with no read at
    // all, is tested in edge-cache.test.js).
    edge = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off' } });
    E = edge.url;
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (rows.length) {
      console.log('\norigin reads per request (counted at the origin):');
      console.table(rows);
    }
  });

  const record = (what, stats, budget, { payload = '', ratio = '', ms = '', note = '' } = {}) => {
    rows.push({ what, reads: stats.reads, bytes: stats.bytes, payload, ratio, budget, ms, note });
  };

  /** Reads of one request, with per-object counts. */
  const measure = (url, opts) => withReads(origin, () => get(url, opts));

  /** Media playlist URLs of an HLS master, video first. */
  async function playlists(masterUrl) {
    const m = parseHls(text(await get(masterUrl)), masterUrl);
    const out = [];
    for (const v of m.variants) out.push({ url: v.url, kind: 'vide', res: v.RESOLUTION });
    for (const x of m.media) out.push({ url: x.url, kind: 'soun', lang: x.LANGUAGE });
    return out;
  }

  async function segmentsOf(playlistUrl) {
    return parseHls(text(await get(playlistUrl)), playlistUrl).segments.map((s) => s.url);
  }

  describe('manifests', () => {
    const cold = [
      { what: 'cold manifest: audio_only.mp4 (faststart, 1 track)', url: '/audio_only.mp4/master.m3u8', files: 1, perFile: 2 },
      { what: 'cold manifest: multilang.mp4 (faststart, 3 tracks)', url: '/multilang.mp4/manifest.mpd', files: 1, perFile: 2 },
      { what: 'cold manifest: long_2h.mp4 (faststart, 4.6 MB moov)', url: '/long_2h.mp4/master.m3u8', files: 1, perFile: 2 },
      { what: 'cold manifest: muxed_moov_end.mp4 (moov at end)', url: '/muxed_moov_end.mp4/master.m3u8', files: 1, perFile: 3 },
      { what: 'cold manifest: abr.ism (.ism + 4 faststart MP4s)', url: '/abr/abr.ism/manifest(format=m3u8-cmaf)', files: 4, perFile: 2, ism: true },
    ];

    test('cold manifests: ≤ 2 reads per faststart MP4, ≤ 3 with the moov at the end, no byte read twice', async () => {
      for (const c of cold) {
        const { result, stats, log } = await measure(`${E}${c.url}`);
        assert.equal(result.status, 200, `${c.url}: ${result.body.toString().slice(0, 200)}`);
        const perObject = Object.entries(stats.byPath);
        const mp4s = perObject.filter(([p]) => p.endsWith('.mp4'));
        assert.equal(mp4s.length, c.files, `${c.url}: objects read: ${JSON.stringify(stats.byPath)}`);
        for (const [p, s] of mp4s) assert.ok(s.reads <= c.perFile, `${c.url}: ${p} took ${s.reads} reads (budget ${c.perFile})`);
        if (c.ism) assert.equal(stats.byPath['/abr/abr.ism']?.reads, 1, '.ism read once');
        for (const [p] of mp4s) {
          const mine = log.filter((e) => decodeURIComponent(e.path.split('?')[0]) === p);
          assert.deepEqual(rereads(mine), [], `${c.url}: ${p} read some bytes twice: ${mine.map((e) => e.range)}`);
        }
        const budget = c.ism ? `1 + ≤${c.perFile}/MP4` : `≤ ${c.perFile}`;
        record(c.what, stats, budget, { ms: Math.round(result.ms), note: perObject.map(([p, x]) => `${path.basename(p)}: ${x.reads}`).join(', ') });
      }
    });

    test('warm manifests and playlists: 0 origin reads', async () => {
      const urls = [
        ...cold.map((c) => c.url),
        '/audio_only.mp4/manifest.mpd',
        '/multilang.mp4/master.m3u8',
        '/long_2h.mp4/manifest.mpd',
        '/muxed_moov_end.mp4/manifest(format=mpd-time-csf)',
        '/abr/abr.ism/manifest(format=mpd-time-cmaf)',
        '/abr/abr.ism/manifest(format=mpd-time-csf).mpd',
        '/abr/abr.ism/QualityLevels(1000000)/Manifest(video,format=m3u8-cmaf)',
        '/abr/abr.ism/QualityLevels(128000)/Manifest(aac_eng_2_128,format=m3u8-cmaf)',
      ];
      let total = 0;
      let slowest = 0;
      for (const u of urls) {
        const { result, stats } = await measure(`${E}${u}`);
        assert.equal(result.status, 200, u);
        assert.equal(stats.reads, 0, `warm ${u} read from the origin: ${JSON.stringify(stats.byPath)}`);
        total += stats.reads;
        slowest = Math.max(slowest, result.ms);
      }
      record(`warm manifests/playlists (${urls.length} requests)`, { reads: total, bytes: 0 }, '0', { ms: `≤ ${Math.round(slowest)}` });
    });
  });

  describe('segments', () => {
    /**
     * One warm segment request of a one-track file: exactly one read, of
     * exactly the payload, conditional on the ETag.
     */
    async function warmSingle(what, url, file, kind) {
      await get(url); // index warm + any first-time work
      const { result, stats, log } = await measure(url);
      assertOk(result, kind === 'soun' ? CT.audio : CT.video, { immutable: true });
      const v = verifyPayload(result.body, file, kind);
      assert.equal(stats.reads, 1, `${what}: ${JSON.stringify(log.map((e) => e.range))}`);
      assert.equal(stats.bytes, v.payload, `${what}: read exactly the payload`);
      assert.ok(log[0].ifMatch, `${what}: payload read carries If-Match`);
      record(what, stats, '= 1', { payload: v.payload, ratio: (stats.bytes / v.payload).toFixed(2), ms: Math.round(result.ms) });
    }

    test('warm segment of a one-track file: exactly 1 read, of exactly the payload', async () => {
      const abr = await playlists(`${E}/abr/abr.ism/manifest(format=m3u8-cmaf)`);
      const v720 = abr.find((p) => p.res === '1280x720');
      const audio = abr.find((p) => p.kind === 'soun');
      const vs = await segmentsOf(v720.url);
      const as = await segmentsOf(audio.url);
      await warmSingle('warm segment: abr.ism video 720p (seg 2)', vs[2], path.join(MEDIA, 'abr', 'video_720.mp4'), 'vide');
      await warmSingle('warm segment: abr.ism audio (seg 3)', as[3], path.join(MEDIA, 'abr', 'audio_eng.mp4'), 'soun');
      const ao = await playlists(`${E}/audio_only.mp4/master.m3u8`);
      const aos = await segmentsOf(ao[0].url);
      await warmSingle('warm segment: audio_only.mp4 (seg 1)', aos[1], path.join(MEDIA, 'audio_only.mp4'), 'soun');
      later.ismVideo = vs[1];

      // Bare-MP4 URLs for the cold test (the restart empties the cache).
      const bare = await playlists(`${E}/abr/video_720.mp4/master.m3u8`);
      later.bareVideo = (await segmentsOf(bare[0].url))[3];
      later.bareAudio = (await segmentsOf((await playlists(`${E}/abr/audio_eng.mp4/master.m3u8`))[0].url))[2];
    });

    test('HEAD of a warm segment: no origin read', async () => {
      const { result, stats } = await measure(later.ismVideo, { method: 'HEAD' });
      assert.equal(result.status, 200);
      assert.equal(stats.reads, 0);
      record('warm segment HEAD', stats, '0');
    });

    /**
     * A warm segment of an interleaved file: reads and bytes against the
     * payload, and against what any plan could do with the file's layout.
     */
    async function interleaved(what, url, file, kind) {
      // verifyPayload parses the source's moov synchronously (seconds for
      // long_2h under load): let the event loop see any keep-alive socket
      // the edge closed meanwhile, so fetch does not reuse it ("other side
      // closed"; the wasi:http server's keep-alive is 5 s).
      await new Promise((r) => setTimeout(r, 20));
      await get(url);
      const { result, stats, log } = await measure(url);
      assertOk(result, kind === 'soun' ? CT.audio : CT.video, { immutable: true });
      const v = verifyPayload(result.body, file, kind);
      const runs = sampleRuns(v.samples);
      const ratio = stats.bytes / v.payload;
      const best = minBytesForReads(runs, stats.reads);
      const needed = readsForRatio(runs, 1.2);
      const planned = readsForCost(runs, MERGE_GAP);
      const span = runs.length ? runs[runs.length - 1].end - runs[0].start : 0;
      assert.ok(stats.reads <= MAX_BACKEND_REQUESTS, `${what}: ${stats.reads} reads`);
      assert.ok(stats.bytes >= v.payload, `${what}: read less than the payload?`);
      assert.ok(log.every((e) => e.ifMatch), `${what}: every payload read carries If-Match`);
      if (span < 1_000_000) assert.equal(stats.reads, 1, `${what}: runs span ${span} bytes, yet ${stats.reads} reads`);
      if (planned.reads <= MAX_BACKEND_REQUESTS) {
        // Every gap that costs less than a round trip is read through, no
        // other: exactly the cost model's reads and bytes.
        assert.deepEqual({ reads: stats.reads, bytes: stats.bytes }, planned, `${what}: ${runs.length} runs`);
      } else {
        // The request budget forces more merges: the cheapest plan for its
        // read count.
        assert.ok(stats.bytes <= best * 1.01, `${what}: read ${stats.bytes} bytes in ${stats.reads} reads; the best plan with ${stats.reads} reads takes ${best}`);
      }
      const at32 = minBytesForReads(runs, MAX_BACKEND_REQUESTS) / v.payload;
      record(what, stats, `cost model, ≤ ${MAX_BACKEND_REQUESTS}`, {
        payload: v.payload,
        ratio: ratio.toFixed(2),
        ms: Math.round(result.ms),
        note: `${runs.length} runs over ${span} B; 1.2× needs ${needed} reads; optimum @${stats.reads} reads ${(best / v.payload).toFixed(2)}×, @32 ${at32.toFixed(2)}×`,
      });
      return { stats, payload: v.payload };
    }

    test('interleaved file (muxed_moov_end.mp4): audio and video segment reads vs payload', async () => {
      const file = path.join(MEDIA, 'muxed_moov_end.mp4');
      const pls = await playlists(`${E}/muxed_moov_end.mp4/master.m3u8`);
      const audio = await segmentsOf(pls.find((p) => p.kind === 'soun').url);
      const video = await segmentsOf(pls.find((p) => p.kind === 'vide').url);
      await interleaved('warm segment: muxed_moov_end audio (seg 1)', audio[1], file, 'soun');
      await interleaved('warm segment: muxed_moov_end video (seg 1)', video[1], file, 'vide');
      later.muxedAudio = audio[2];
      const set = await playlists(`${E}/set/m,1,2,3,4,5,6,.mp4.urlset/master.m3u8`);
      later.setAudio = (await segmentsOf(set.find((p) => p.kind === 'soun').url))[1];
      const multi = await playlists(`${E}/multilang.mp4/master.m3u8`);
      const fr = await segmentsOf(multi.find((p) => p.lang === 'fr').url);
      await interleaved('warm segment: multilang.mp4 French audio (seg 2)', fr[2], path.join(MEDIA, 'multilang.mp4'), 'soun');
    });

    test('origin_rtt_ms = 0 (a free round trip): no gap is worth reading', async () => {
      // The settings reach the planner on this runtime: with free requests
      // only the request budget merges runs.
      const free = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off', origin_rtt_ms: '0' } });
      try {
        const x = new URL(later.muxedAudio);
        const url = `${free.url}${x.pathname}`;
        await get(url);
        const { result, stats } = await measure(url);
        assertOk(result, CT.audio, { immutable: true });
        assert.equal(stats.reads, 30, `${stats.reads} reads: the budget, not the cost model, decides`);
        record('warm segment, origin_rtt_ms=0: muxed_moov_end audio', stats, '= 30 (budget)', { ms: Math.round(result.ms) });
      } finally {
        await free.stop();
      }
    });

    test('2-hour file: warm middle segment', async () => {
      const file = path.join(MEDIA, 'long_2h.mp4');
      const pls = await playlists(`${E}/long_2h.mp4/master.m3u8`);
      const video = await segmentsOf(pls.find((p) => p.kind === 'vide').url);
      const audio = await segmentsOf(pls.find((p) => p.kind === 'soun').url);
      await interleaved('warm segment: long_2h video (middle)', video[video.length >> 1], file, 'vide');
      await interleaved('warm segment: long_2h audio (middle)', audio[audio.length >> 1], file, 'soun');
      later.longVideo = video[(video.length >> 1) + 7];
    });

    test('cold segments on a fresh Viceroy (no manifest first): ≤ 2 reads per one-track file', async () => {
      const rebase = (u) => {
        const x = new URL(u);
        return `${E}${x.pathname}${x.search}`;
      };
      const restart = async () => {
        await edge.stop();
        // Output cache off: these tests price what packaging reads from the
        // origin (the output cache, which answers warm repeats with no read at
        // all, is tested in edge-cache.test.js).
        edge = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off' } });
        E = edge.url;
      };
      /** Reads that fetch the index: the head probe, or (the rest of) the moov. */
      const indexReads = (log, file) => {
        const moov = fileLayout(file).boxes.find((b) => b.type === 'moov');
        return log.filter((e) => {
          const start = Number(/^bytes=(\d+)-/.exec(e.range || '')?.[1]);
          return start === 0 || (start >= moov.start && start < moov.start + moov.size);
        }).length;
      };

      // Through the .ism: the .ism, then every MP4 of the set is indexed
      // (the timeline is shared), then the payload.
      await restart();
      {
        const what = 'cold segment: abr.ism video 720p';
        const { result, stats } = await measure(rebase(later.ismVideo));
        assertOk(result, CT.video, { immutable: true });
        verifyPayload(result.body, path.join(MEDIA, 'abr', 'video_720.mp4'), 'vide');
        const per = Object.fromEntries(Object.entries(stats.byPath).map(([p, s]) => [p.replace('/abr/', ''), s.reads]));
        for (const [p, n] of Object.entries(per)) assert.ok(n <= 2, `${what}: ${p} took ${n} reads`);
        assert.equal(per['video_720.mp4'], 2, `${what}: head probe + payload`);
        record(what, stats, '≤ 2 per file', { ms: Math.round(result.ms), note: Object.entries(per).map(([p, n]) => `${p}: ${n}`).join(', ') });
      }

      // Bare one-track MP4s: head probe (it has the moov) + the payload.
      await restart();
      for (const [what, key, file, kind] of [
        ['cold segment: abr/video_720.mp4 (bare, 1 track)', 'bareVideo', 'abr/video_720.mp4', 'vide'],
        ['cold segment: abr/audio_eng.mp4 (bare, 1 track)', 'bareAudio', 'abr/audio_eng.mp4', 'soun'],
      ]) {
        const { result, stats, log } = await measure(rebase(later[key]));
        assertOk(result, kind === 'soun' ? CT.audio : CT.video, { immutable: true });
        verifyPayload(result.body, path.join(MEDIA, file), kind);
        assert.deepEqual(Object.keys(stats.byPath), [`/${file}`]);
        assert.ok(stats.reads <= 2, `${what}: ${stats.reads} reads`);
        const index = indexReads(log, path.join(MEDIA, file));
        record(what, stats, '≤ 2', { ms: Math.round(result.ms), note: `${index} index + ${stats.reads - index} payload` });
      }

      // Interleaved, moov at the end: head + moov, then the coalesced payload.
      for (const [what, key, name, kind] of [
        ['cold segment: muxed_moov_end audio', 'muxedAudio', 'muxed_moov_end.mp4', 'soun'],
        ['cold segment: long_2h video (middle)', 'longVideo', 'long_2h.mp4', 'vide'],
      ]) {
        const file = path.join(MEDIA, name);
        const { result, stats, log } = await measure(rebase(later[key]));
        assertOk(result, kind === 'soun' ? CT.audio : CT.video, { immutable: true });
        verifyPayload(result.body, file, kind);
        const index = indexReads(log, file);
        assert.ok(index <= 2, `${what}: ${index} index reads`);
        assert.ok(stats.reads <= MAX_BACKEND_REQUESTS, `${what}: ${stats.reads} backend requests in one client request`);
        record(what, stats, `index ≤ 2; all ≤ ${MAX_BACKEND_REQUESTS}`, { ms: Math.round(result.ms), note: `${index} index + ${stats.reads - index} payload` });
      }

      // HEAD of a cold segment: the index only, never the payload.
      await restart();
      {
        const { result, stats, log } = await measure(rebase(later.bareVideo), { method: 'HEAD' });
        assert.equal(result.status, 200);
        assert.equal(result.body.length, 0);
        assert.ok(log.every((e) => /^bytes=0-/.test(e.range)), `HEAD read payload: ${log.map((e) => e.range)}`);
        record('cold segment HEAD: abr/video_720.mp4', stats, 'index only');
      }
    });

    test('cold segment of a 6-file urlset (moov at end, interleaved): ≤ 32 backend requests', async () => {
      await edge.stop();
      // Output cache off: these tests price what packaging reads from the
      // origin (the output cache, which answers warm repeats with no read at
      // all, is tested in edge-cache.test.js).
      edge = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off' } });
      E = edge.url;
      const x = new URL(later.setAudio);
      const { result, stats } = await measure(`${E}${x.pathname}`);
      assertOk(result, CT.audio, { immutable: true });
      verifyPayload(result.body, path.join(MEDIA, 'muxed_moov_end.mp4'), 'soun');
      const members = Object.keys(stats.byPath).length;
      record('cold segment: 6-file urlset of muxed_moov_end', stats, `all ≤ ${MAX_BACKEND_REQUESTS}`, { ms: Math.round(result.ms), note: `${members} objects read` });
      assert.ok(stats.reads <= MAX_BACKEND_REQUESTS, `${stats.reads} backend requests in one client request: ${JSON.stringify(stats.byPath)}`);
    });
  });
});
