// Edit lists (issue 16, item 2; src/mp4/elst.rs, src/index/edits.rs): the
// fixtures of fixtures/generate.sh gen_edits (a 12 s title, 2 s GOPs with
// B-frames, AAC) with an initial empty edit, ffmpeg's own start trim
// (-ss/-t -c copy), a start + end trim, a cut on keyframes and a cut
// between keyframes. Manifests (HLS fMP4 playlists, DASH MPD and
// SegmentTimeline) last what the edit list presents; ffmpeg decoding the
// HLS fMP4 and DASH outputs shows the same frames as ffmpeg decoding the
// source file, first frame included, but where video can only cut at a
// keyframe (README "Edit lists"): a start inside a GOP moves back to its
// keyframe, a cut between keyframes moves out to them; those frames are
// counted exactly.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const { MEDIA, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { get, parseHls, parseMpd, text } = require('./lib/edge-http');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');

const EDITS = path.join(MEDIA, 'edits');
const missing = fs.existsSync(path.join(EDITS, 'cut_mid.mp4')) ? false : 'fixtures/media/edits missing: run fixtures/generate.sh';
const noFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 ? false : 'ffmpeg not installed';
const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own origin: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || missing || noFfmpeg;

/**
 * Each fixture: what its edit list presents (seconds); what we serve when
 * that differs (a start after a GOP's first frame moves back to its
 * keyframe, `lead` frames; a cut between keyframes moves out to them,
 * `extra` frames); the frames a player shows (`frames`); and the outputs
 * ffmpeg decodes (`formats`).
 */
const CASES = [
  // Segments cover the media (12 s); the tracks start 0.5 s in.
  { name: 'delay.mp4', presents: 12.5, delay: 0.5, frames: 288, formats: ['m3u8-cmaf'] },
  // ffmpeg -ss 1.25 -t 5 -c copy: starts 30 frames into the 0 s GOP; its
  // video edit runs past the media (which ends at 6.33 s).
  { name: 'ss.mp4', presents: 5.0, served: 6.25, lead: 30, frames: 152, shownTo: Infinity, formats: ['m3u8-cmaf'] },
  { name: 'trim.mp4', presents: 5.0, served: 6.25, lead: 30, frames: 150, formats: ['m3u8-cmaf', 'mpd-time-cmaf'] },
  { name: 'cut.mp4', presents: 10.0, frames: 240, formats: ['m3u8-cmaf', 'm3u8-aapl'] },
  // 0–3 s and 7–12 s; video keeps 0–4 s and 6–12 s (keyframes at 4 s and
  // 6 s), audio follows it.
  { name: 'cut_mid.mp4', presents: 8.0, served: 10.0, extra: 48, frames: 240, formats: ['m3u8-cmaf'] },
];

/**
 * Manifest durations are exact to the B-frame delay (2 frames at 24 fps):
 * a track's presentation end is its last decode time minus its edit
 * shift, as for every title (README "Timeline").
 */
const TOLERANCE_S = 0.09;

/**
 * `ffmpeg -f framemd5` of `input`'s stream `map` (every decoded frame, no
 * duplicates): [{ pts (s), hash }] in output order.
 */
function framemd5(input, map, inputArgs = []) {
  const r = spawnSync(
    'ffmpeg',
    ['-v', 'error', ...inputArgs, '-i', input, '-map', map, '-fps_mode', 'passthrough', '-f', 'framemd5', '-'],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 },
  );
  assert.equal(r.status, 0, `${input}: ${r.stderr}`);
  let tb = 1;
  const frames = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^#tb 0: (\d+)\/(\d+)/.exec(line);
    if (m) tb = Number(m[1]) / Number(m[2]);
    if (!line || line.startsWith('#')) continue;
    const f = line.split(',').map((s) => s.trim());
    frames.push({ pts: Number(f[2]) * tb, dur: Number(f[3]) * tb, hash: f[5] });
  }
  return frames;
}

/** Frames presented in [0, end): what a player shows. */
function presented(frames, end) {
  return frames.filter((f) => f.pts >= -1e-6 && f.pts < end - 1e-6);
}

describe('edit lists', { skip }, () => {
  let origin;
  let edge;
  let E;

  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off' } });
    E = edge.url;
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  test('an edit list packaging cannot show is refused with the reason', async () => {
    const res = await get(`${E}/edits/dwell.mp4/manifest(format=m3u8-cmaf)`);
    assert.equal(res.status, 501, text(res).slice(0, 300));
    assert.match(text(res), /media_rate 0/);
  });

  test('manifests last what the edit list presents', async () => {
    for (const c of CASES) {
      const want = c.served ?? c.presents;
      // Segments hold media: a delay is a gap before the first one.
      const media = want - (c.delay ?? 0);
      const master = `${E}/edits/${c.name}/manifest(format=m3u8-cmaf)`;
      const res = await get(master);
      assert.equal(res.status, 200, `${c.name}: ${text(res).slice(0, 300)}`);
      const m = parseHls(text(res), master);
      const lists = [...m.variants, ...m.media].map((v) => v.url);
      assert.ok(lists.length >= 2, `${c.name}: audio and video playlists`);
      for (const url of lists) {
        const pl = parseHls(text(await get(url)), url);
        const total = pl.segments.reduce((n, s) => n + s.duration, 0);
        assert.ok(Math.abs(total - media) < TOLERANCE_S, `${c.name} ${url}: EXTINF add up to ${total}s, want ${media}s`);
      }
      const mpdUrl = `${E}/edits/${c.name}/manifest(format=mpd-time-cmaf)`;
      const mres = await get(mpdUrl);
      assert.equal(mres.status, 200, `${c.name}: ${text(mres).slice(0, 300)}`);
      const mpd = parseMpd(text(mres), mpdUrl);
      assert.ok(Math.abs(mpd.duration - want) < TOLERANCE_S, `${c.name}: MPD duration ${mpd.duration}s, want ${want}s`);
      // Smooth: the client manifest's Duration (100 ns units).
      const smooth = text(await get(`${E}/edits/${c.name}/manifest`));
      const sd = Number(/<SmoothStreamingMedia[^>]* Duration="(\d+)"/.exec(smooth)?.[1]) / 1e7;
      assert.ok(Math.abs(sd - want) < TOLERANCE_S, `${c.name}: Smooth Duration ${sd}s, want ${want}s`);
      for (const rep of mpd.reps) {
        const first = rep.segments[0];
        const total = rep.segments.reduce((n, s) => n + s.duration, 0);
        assert.ok(Math.abs(total - media) < TOLERANCE_S, `${c.name} ${rep.id}: SegmentTimeline covers ${total}s, want ${media}s`);
        if (!c.delay) assert.equal(first.time, 0, `${c.name} ${rep.id}: the timeline starts at 0`);
      }
    }
  });

  test('ffmpeg shows the source’s first frame and frames through HLS fMP4, DASH and HLS TS', async () => {
    for (const c of CASES) {
      // The source as ffmpeg presents it, and as stored (from its first
      // keyframe, which is where a moved start begins).
      const src = framemd5(path.join(EDITS, c.name), '0:v:0');
      const lead = c.lead ?? 0;
      const stored = lead ? framemd5(path.join(EDITS, c.name), '0:v:0', ['-ignore_editlist', '1']) : src;
      // HLS fMP4 for every case; DASH CMAF (the same muxer, its own
      // timeline of URLs) and HLS TS (another muxer) for some, within the
      // test's time budget.
      for (const format of c.formats) {
        const url = `${E}/edits/${c.name}/manifest(format=${format})`;
        const all = framemd5(url, '0:v:0');
        // ffmpeg starts its output at 0 (it adds the B-frame delay to
        // every time): times relative to the first frame.
        const t0 = all[0].pts;
        const end = (c.served ?? c.presents) - (c.delay ?? 0);
        const out = presented(all.map((f) => ({ ...f, pts: f.pts - t0 })), c.shownTo ?? end);
        assert.equal(out.length, c.frames, `${c.name} ${format}: frames shown`);
        assert.equal(out.length, src.length + lead + (c.extra ?? 0), `${c.name} ${format}: the source's frames and the moved boundaries'`);
        assert.equal(out[0].hash, lead ? stored[0].hash : src[0].hash, `${c.name} ${format}: first frame`);
        assert.equal(out[lead].hash, src[0].hash, `${c.name} ${format}: the edit's first frame after the lead-in`);
        const outHashes = new Set(out.map((f) => f.hash));
        const lost = src.filter((f) => !outHashes.has(f.hash)).length;
        assert.equal(lost, 0, `${c.name} ${format}: ${lost} source frames not shown`);
        if (!c.extra) {
          assert.deepEqual(out.slice(lead).map((f) => f.hash), src.map((f) => f.hash), `${c.name} ${format}: same frames in order`);
        }
      }
    }
  });

  // Players: hls.js across the cut of cut.mp4 (at 4 s), dash.js from the
  // moved start of trim.mp4.
  test('hls.js plays across a cut and dash.js a trimmed start', { skip: browserSkipReason() || false }, async () => {
    const browser = await launchBrowser();
    try {
      for (const [player, name, format, ext] of [
        ['hls.js', 'cut.mp4', 'm3u8-cmaf', '.m3u8'],
        ['dash.js', 'trim.mp4', 'mpd-time-cmaf', '.mpd'],
      ]) {
        const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
        try {
          await P.load(page, { player, path: `/edits/${name}/manifest(format=${format})${ext}` });
          const s = await P.checkPlays(page, { seconds: 5 });
          await P.assertNoPlayerErrors(page, `${player} on ${name}`);
          const c = CASES.find((x) => x.name === name);
          const want = c.served ?? c.presents;
          assert.ok(Math.abs(s.duration - want) < TOLERANCE_S, `${player} on ${name}: duration ${s.duration}s, want ${want}s`);
        } finally {
          await page.closeAll();
        }
      }
    } finally {
      await browser.close();
    }
  });

  test('audio lasts what we present, to a frame', async () => {
    for (const c of CASES) {
      const want = (c.served ?? c.presents) - (c.delay ?? 0);
      const url = `${E}/edits/${c.name}/manifest(format=m3u8-cmaf)`;
      const frames = framemd5(url, '0:a:0');
      const got = frames.at(-1).pts + frames.at(-1).dur - frames[0].pts;
      // Cut at AAC frames (21.3 ms) where ffmpeg trims the source to
      // the sample.
      assert.ok(Math.abs(got - want) < 0.045, `${c.name}: audio lasts ${got}s, want ${want}s`);
    }
  });
});
