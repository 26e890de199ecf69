// GStreamer, a third independent client, plays every output format of every
// asset to the end: uridecodebin3 with GStreamer's adaptive demuxers
// (hlsdemux2 / dashdemux2 / mssdemux2 from gst-plugins-good 1.22+, else the
// v1 hlsdemux / dashdemux / mssdemux), decoders from gst-libav, every stream
// into `fakesink sync=false` (headless, as fast as it decodes). The driver is
// wasm-tests/lib/gst_decode.py (system Python, python3-gi).
//
// Per (asset, format), the adaptive default (the demuxer picks the variant
// and the default audio track):
//   - no ERROR and no WARNING message on the bus, EOS reached, within a timeout;
//   - video: exactly the source's frame count (ffprobe -count_packets), first
//     frame at 0 (+ the B-frame reorder delay, see VIDEO_START_SLACK_FRAMES),
//     frames spanning the source's duration, no PTS hole > 1.5 frame
//     durations, no frame out of order;
//   - audio: the track decodes to the source track's duration (± 2 AAC
//     frames), starts at 0, no hole or overlap > 50 ms;
//   - the demuxer offers as many audio streams as the source has (multilang:
//     both languages); the default one is decoded (GStreamer 1.22's
//     adaptivedemux2 ignores a select-streams event asking for all).
// On the ABR ladder each rendition is also forced (through the demuxer's
// bandwidth estimate) on each format.
// Negative controls: through a proxy that drops a segment from the HLS media
// playlists or answers 404 for one, the same checks must fail; and the gap
// detector must report the hole in the edge's TS segments with one left out.
//
//   node --test wasm-tests/gstreamer.test.js
//   EDGEPACK_GST_CONCURRENCY=1 ...   one pipeline at a time (default 2)
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { startEdge } = require('./lib/edge');
const { primaryLanguage, summarize } = require('./lib/manifest');
const { ASSETS, FORMATS, limiter, manifestPath, printTable, runDriver, skipReason, sourceInfo } = require('./lib/decoders');
const { startFaultProxy } = require('./lib/fault_proxy');

const DRIVER = path.join(__dirname, 'lib', 'gst_decode.py');
const CONCURRENCY = Number(process.env.EDGEPACK_GST_CONCURRENCY) || 2;
const RUN_TIMEOUT_S = 90;

// One AAC frame is 1024 samples (21.3 ms at 48 kHz). The edge drops the
// source's priming frame (its edit list trims it), and decoders may trim the
// last partial frame: allow two frames either way.
const AUDIO_DURATION_TOLERANCE_S = (2 * 1024) / 48_000;
const AUDIO_START_TOLERANCE_S = 0.05;
// GStreamer presents B-frame video from fragmented MP4 and TS that starts
// with DTS < PTS (negative composition offsets, or PTS = DTS + reorder
// delay) with its first frame at the reorder delay: 2 frames (0.083 s) for
// these x264 fixtures, the same for ffmpeg's own `-f hls -hls_segment_type
// fmp4` and `-f dash` output of the same files, while the source MP4 (edit
// list) starts at 0. Allow that, and half a frame of rounding; a lost first
// segment (6 s) still fails.
const VIDEO_START_SLACK_FRAMES = 2.5;

const GST_CHECK = [
  'import gi',
  "gi.require_version('Gst', '1.0')",
  'from gi.repository import Gst',
  'Gst.init(None)',
  "missing = [e for e in ('uridecodebin3', 'fakesink', 'avdec_h264', 'avdec_aac') if not Gst.ElementFactory.find(e)]",
  "missing += [k for k in ('hlsdemux', 'dashdemux', 'mssdemux') if not (Gst.ElementFactory.find(k + '2') or Gst.ElementFactory.find(k))]",
  "assert not missing, 'missing GStreamer elements: ' + ', '.join(missing)",
].join('\n');
const skip = skipReason(GST_CHECK, 'GStreamer (gstreamer1.0-plugins-{base,good,bad}, gstreamer1.0-libav, python3-gi)');

const slots = limiter(CONCURRENCY);
const decode = (url, extra = [], timeoutS = RUN_TIMEOUT_S) =>
  slots(() => runDriver(DRIVER, [url, '--timeout', String(timeoutS), ...extra], { timeoutMs: (timeoutS + 30) * 1000 }));
// A broken stream may stall the demuxer instead of ending: the negative
// controls give up sooner (a clean run of that asset takes ~5 s).
const CONTROL_TIMEOUT_S = 25;

const fmt = (s) => (s === null || s === undefined ? '-' : Number(s).toFixed(3));

/**
 * Everything wrong with a driver report, given the source: [] when the
 * playback was complete and clean.
 */
function judge(run, source) {
  const problems = [];
  const r = run.report;
  if (!r) return [`the driver produced no report (exit ${run.code}): ${run.stderr.slice(-2000)}`];
  if (r.fatal) return [`driver: ${r.fatal}`];
  for (const e of r.errors) problems.push(`ERROR from ${e.src}: ${e.message}${e.debug ? ` (${e.debug.split('\n')[0]})` : ''}`);
  for (const w of r.warnings) problems.push(`WARNING from ${w.src}: ${w.message}${w.debug ? ` (${w.debug.split('\n')[0]})` : ''}`);
  if (r.timed_out) problems.push(`no EOS within the timeout (position ${fmt(r.position_s)} s)`);
  else if (!r.eos) problems.push('stopped without EOS');
  if (!r.demuxers.length) problems.push(`no adaptive demuxer was used (elements: ${r.elements.join(', ')})`);

  const video = r.streams.filter((s) => s.kind === 'video');
  const audio = r.streams.filter((s) => s.kind === 'audio');
  // One stream per type is decoded (the default selection); the collection
  // must offer every audio track of the source.
  if (video.length !== (source.video.length ? 1 : 0)) problems.push(`${video.length} video streams decoded, want ${source.video.length ? 1 : 0}`);
  if (audio.length !== (source.audio.length ? 1 : 0)) problems.push(`${audio.length} audio streams decoded, want ${source.audio.length ? 1 : 0}`);
  const offered = r.collection.filter((c) => c.type === 'audio').length;
  if (!r.errors.length && offered !== source.audio.length) problems.push(`the demuxer offers ${offered} audio streams, the source has ${source.audio.length}`);

  for (const v of video) {
    const ref = source.video.find((s) => `${s.width}x${s.height}` === v.sizes[v.sizes.length - 1]) || source.video[source.video.length - 1];
    if (!ref) continue;
    const frame = 1 / ref.fps;
    const duration = ref.frames / ref.fps;
    if (v.sizes.some((s) => !source.video.some((x) => `${x.width}x${x.height}` === s))) problems.push(`video decoded at ${v.sizes.join(' → ')}, no such source rendition`);
    if (v.frames !== ref.frames) problems.push(`video: ${v.frames} frames decoded, the source (${ref.source}) has ${ref.frames}`);
    if (v.first_s === null || v.first_s < -frame / 2 || v.first_s > VIDEO_START_SLACK_FRAMES * frame) {
      problems.push(`video: first frame at ${fmt(v.first_s)} s, want 0 (≤ ${VIDEO_START_SLACK_FRAMES} frames)`);
    }
    if (v.end_s === null || Math.abs(v.end_s - v.first_s - duration) > frame / 2) problems.push(`video: frames span ${fmt(v.end_s - v.first_s)} s (${fmt(v.first_s)} → ${fmt(v.end_s)}), the source lasts ${fmt(duration)} s`);
    for (const h of v.holes) problems.push(`video: hole of ${fmt(h.gap_s)} s after ${fmt(h.at_s)} s`);
    for (const o of v.overlaps) problems.push(`video: frame at ${fmt(o.at_s)} s not after the previous one (back ${fmt(o.gap_s)} s)`);
  }
  const unmatched = [...source.audio];
  for (const a of audio) {
    const lang = a.language ? primaryLanguage(a.language) : null;
    let ref = unmatched.find((s) => lang && primaryLanguage(s.lang) === lang) || unmatched[0];
    if (!ref) continue;
    unmatched.splice(unmatched.indexOf(ref), 1);
    const label = `audio${a.language ? ` (${a.language})` : ''}`;
    if (Math.abs(a.decoded_s - ref.duration) > AUDIO_DURATION_TOLERANCE_S) problems.push(`${label}: ${fmt(a.decoded_s)} s decoded, the source (${ref.source} ${ref.lang}) lasts ${fmt(ref.duration)} s`);
    if (a.first_s === null || Math.abs(a.first_s) > AUDIO_START_TOLERANCE_S) problems.push(`${label}: starts at ${fmt(a.first_s)} s, want 0`);
    for (const h of a.holes) problems.push(`${label}: hole of ${fmt(h.gap_s)} s after ${fmt(h.at_s)} s`);
    for (const o of a.overlaps) problems.push(`${label}: overlap of ${fmt(o.gap_s)} s at ${fmt(o.at_s)} s`);
  }
  return problems;
}

function row(asset, format, variant, run, problems) {
  const r = run.report || { streams: [], demuxers: [], errors: [], warnings: [] };
  const v = r.streams.find((s) => s.kind === 'video');
  const audio = r.streams.filter((s) => s.kind === 'audio');
  return {
    asset: asset.name,
    format,
    variant,
    demuxer: [...new Set(r.demuxers)].join('+') || '-',
    video: v ? `${v.sizes.join('→')} ${v.frames}f` : '-',
    'v end': v ? fmt(v.end_s) : '-',
    audio: audio.map((a) => `${a.language || '?'}:${fmt(a.decoded_s)}s`).join(' ') || '-',
    holes: r.streams.reduce((n, s) => n + s.holes.length + s.overlaps.length, 0),
    'err/warn': `${r.errors.length}/${r.warnings.length}`,
    eos: r.eos ? 'yes' : r.timed_out ? 'TIMEOUT' : 'no',
    s: (run.ms / 1000).toFixed(1),
    result: problems.length ? 'FAIL' : 'ok',
  };
}

const explain = (run) => {
  const r = run.report;
  if (!r) return '';
  const short = { ...r, streams: r.streams.map((s) => ({ ...s, holes: s.holes.slice(0, 3), overlaps: s.overlaps.slice(0, 3) })), collection: r.collection.map((c) => `${c.type}:${c.language || ''}`) };
  return `\ndriver report: ${JSON.stringify(short)}`;
};

describe('GStreamer plays every format to the end', { skip, concurrency: true }, () => {
  let origin;
  let edge;
  const rows = [];
  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url });
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
    rows.sort((a, b) => a.asset.localeCompare(b.asset) || a.format.localeCompare(b.format) || a.variant.localeCompare(b.variant));
    printTable(`GStreamer (${DRIVER}) results, per asset × format × variant:`, rows);
  });

  for (const asset of ASSETS) {
    for (const [format, f] of Object.entries(FORMATS)) {
      test(`gstreamer · ${f.label} · ${asset.name}`, async (t) => {
        const mpath = manifestPath(asset, format);
        const url = edge.url + mpath;
        const res = await fetch(url);
        const text = await res.text();
        if (res.status === 501) return t.skip(`the edge answers 501 for ${mpath}: ${f.label} not implemented yet`);
        assert.equal(res.status, 200, `GET ${mpath}: ${res.status} ${text.slice(0, 200)}`);
        const source = sourceInfo(asset);

        const run = await decode(url);
        const problems = judge(run, source);
        rows.push(row(asset, format, 'adaptive', run, problems));
        await t.test('adaptive default: complete, clean, gapless', () => {
          assert.deepEqual(problems, [], `gst_decode.py ${url}${explain(run)}`);
        });

        // Each rendition of a ladder, forced through the demuxer's bandwidth
        // estimate: connection-bitrate (and start-bitrate) fixed between the
        // rendition's bitrate and the next one's, bandwidth-target-ratio 1.
        // GStreamer 1.22's dashdemux2 still fetches
        // its first segment from the lowest representation, then switches:
        // a forced run must end on the rendition and pass every check
        // across the switch. If the demuxer does not go to it at all, that
        // is GStreamer's choice, not the edge's output: the subtest is
        // skipped with what was decoded (the playback checks still apply).
        const ladder = summarize(text, f.kind).video;
        if (ladder.length > 1) {
          for (const [i, v] of ladder.entries()) {
            const size = `${v.width}x${v.height}`;
            const next = ladder[i + 1]?.bitrate ?? v.bitrate * 4;
            const bps = String(Math.round((v.bitrate + next) / 2));
            const forced = await decode(url, ['--connection-bitrate', bps, '--demux-prop', `start-bitrate=${bps}`, '--demux-prop', 'bandwidth-target-ratio=1']);
            const p = judge(forced, source);
            const got = forced.report?.streams.find((s) => s.kind === 'video')?.sizes ?? [];
            rows.push(row(asset, format, `forced ${v.height}p`, forced, p));
            await t.test(`${size} forced: complete, clean, gapless`, (st) => {
              assert.deepEqual(p, [], `gst_decode.py ${url} --connection-bitrate ${bps}${explain(forced)}`);
              if (got[got.length - 1] !== size) st.skip(`GStreamer did not go to ${size} (decoded ${got.join(' → ') || 'nothing'}) with connection-bitrate ${bps}`);
            });
          }
        }
      });
    }
  }

  // Negative controls: the same checks on a broken stream must fail.
  const control = ASSETS.find((a) => a.name === 'muxed_moov_end.mp4');
  for (const [mode, expect] of [
    ['drop-segment', /hole|frames decoded|lasts|ends at/],
    ['404-segment', /ERROR|WARNING|hole|frames decoded|lasts/],
  ]) {
    test(`gstreamer · negative control: ${mode} (HLS fMP4 · ${control.name}) fails the checks`, async () => {
      const proxy = await startFaultProxy(edge.url, { mode, index: 2 });
      try {
        const run = await decode(proxy.url + manifestPath(control, 'hls-cmaf'), [], CONTROL_TIMEOUT_S);
        const problems = judge(run, sourceInfo(control));
        rows.push(row(control, 'hls-cmaf', `control ${mode}`, run, problems));
        assert.ok(proxy.seen.playlists > 0, 'the player fetched no media playlist through the proxy');
        if (mode === 'drop-segment') assert.ok(proxy.seen.dropped.length > 0, 'no segment was dropped');
        else assert.ok(proxy.seen.refused.length > 0, 'the player never asked for the removed segment');
        assert.ok(problems.some((p) => expect.test(p)), `the checks passed a broken stream (${mode}): ${JSON.stringify(problems)}${explain(run)}`);
        console.log(`negative control ${mode}: ${problems.length} problems, e.g. ${problems.slice(0, 3).join(' | ')}`);
      } finally {
        await proxy.stop();
      }
    });
  }

  // hlsdemux2 stalls when a playlist skips a segment (above), so the gap
  // detector itself is shown firing on the edge's own TS: the m3u8-aapl-v3
  // segments (video + audio muxed) of muxed_moov_end.mp4 with segment 2 left
  // out, concatenated and played as one file (tsdemux folds the 6 s jump into
  // a ~0.45 s one, still far above the thresholds).
  test('gstreamer · negative control: edge TS segments with one left out show a hole', async () => {
    const base = `${edge.url}${control.base}/`;
    const mv = await (await fetch(`${base}manifest(format=m3u8-aapl-v3)`)).text();
    const media = new URL(mv.split('\n').find((l) => l && !l.startsWith('#')), base);
    const segments = (await (await fetch(media)).text()).split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(segments.length > 3, `only ${segments.length} segments in ${media}`);
    const parts = [];
    for (const [i, uri] of segments.entries()) {
      if (i === 2) continue;
      const res = await fetch(new URL(uri, media));
      assert.equal(res.status, 200, `GET ${uri}`);
      parts.push(Buffer.from(await res.arrayBuffer()));
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-gst-'));
    try {
      const file = path.join(dir, 'cut.ts');
      fs.writeFileSync(file, Buffer.concat(parts));
      const run = await decode(`file://${file}`, [], CONTROL_TIMEOUT_S);
      const problems = judge(run, sourceInfo(control));
      rows.push(row(control, 'ts file', 'control cut segment', run, problems));
      assert.ok(problems.some((p) => /hole of/.test(p)), `no hole reported for a stream missing a segment: ${JSON.stringify(problems)}${explain(run)}`);
      console.log(`negative control cut segment: ${problems.filter((p) => /hole/.test(p)).join(' | ')}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

