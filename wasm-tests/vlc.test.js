// VLC (libvlc 3 through python3-vlc: wasm-tests/lib/vlc_decode.py) plays
// every output format of every asset to the end with its `adaptive` module
// (VLC's HLS, DASH and Smooth client) and its own demuxers (ts, mp4) and
// decoders. The `vlc` / `cvlc` programs refuse to run as root; libvlc does
// not, so the driver embeds it. Pictures go to libvlc's memory video output
// (each distinct picture displayed is counted, late frames are not dropped)
// and audio to its memory audio output, at rate 2 so a 30 s title plays in
// ~16 s. VLC plays in real time: on a loaded machine it can fall behind and
// drop late pictures / audio buffers itself; a cell whose only problems are
// such lateness symptoms is played once more at rate 1 (reported in the
// table), since lateness is the machine's, not the stream's.
//
// Per (asset, format) — a ladder (abr.ism) pinned to its top rendition and
// to its bottom one (adaptive-logic highest / lowest):
//   - the player reaches Ended (not Error) within a timeout;
//   - no libvlc message at error level;
//   - no message at any level that names a discontinuity, a duplicate packet
//     or a lost / corrupted packet or picture (VLC's TS demuxer reports broken
//     MPEG-TS continuity counters with "discontinuity received 0x… instead of
//     0x…" and duplicates with "duplicate packet"): such a message fails the
//     cell and is quoted in full;
//   - video: every source frame displayed (the source's frame count; the
//     last one may be missing: VLC can report Ended and tear the output down
//     before the final picture's display time), no lost picture;
//   - audio: the played samples (× rate) last the source's duration ± 2 AAC
//     frames, no lost buffer; demux_corrupted is 0.
// Warnings are listed in the failure message and the table but, unless they
// match the pattern above, do not fail a cell: VLC 3 warns about ordinary
// things ("elst box found", "decoded zero sample").
// Negative controls: a segment dropped from the HLS playlists (fMP4: VLC's
// fragment sequence check; TS: its continuity-counter check), or answered
// with 404, must fail the checks.
//
//   node --test wasm-tests/vlc.test.js
//   EDGEPACK_VLC_CONCURRENCY=1 ...   one player at a time (default 3)
//   EDGEPACK_VLC_RATE=1 ...          play in real time (default 2)
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { startEdge } = require('./lib/edge');
const { summarize } = require('./lib/manifest');
const { ASSETS, FORMATS, limiter, manifestPath, printTable, runDriver, skipReason, sourceInfo } = require('./lib/decoders');
const { startFaultProxy } = require('./lib/fault_proxy');

const DRIVER = path.join(__dirname, 'lib', 'vlc_decode.py');
// Two players at once on a 2-core machine: VLC plays in real time, and a
// third player (plus the edge and the origin) makes it fall behind.
const CONCURRENCY = Number(process.env.EDGEPACK_VLC_CONCURRENCY) || 2;
const RATE = Number(process.env.EDGEPACK_VLC_RATE) || 2;
// Real-time lateness: VLC's own reports that it could not keep up.
const COUNTS = /distinct pictures displayed|s played, the source lasts/;
const LATENESS = /late video -> dropping frame|buffer too late|picture is too late|too late to be displayed|lost (pictures|buffers)|audio output is too slow|PCR +is called too late|pts_delay increased/;
const RUN_TIMEOUT_S = 90;
const AUDIO_DURATION_TOLERANCE_S = (2 * 1024) / 48_000;

const VLC_CHECK = [
  'import vlc',
  "i = vlc.Instance(['--intf=dummy', '--vout=vdummy', '--aout=adummy'])",
  "assert i is not None, 'libvlc_new failed'",
  "import os, glob",
  "assert glob.glob('/usr/lib/*/vlc/plugins/demux/libadaptive_plugin.so'), 'no VLC adaptive module (vlc-plugin-base)'",
].join('\n');
const skip = skipReason(VLC_CHECK, 'libvlc (vlc-bin, vlc-plugin-base, python3-vlc)');

const slots = limiter(CONCURRENCY);
const play = (url, { rate = RATE, timeoutS = RUN_TIMEOUT_S, logic = '' } = {}) =>
  slots(() =>
    runDriver(DRIVER, [url, '--timeout', String(timeoutS), '--rate', String(rate), ...(logic ? ['--logic', logic] : [])], { timeoutMs: (timeoutS + 30) * 1000 }),
  );
// A broken stream may stall the player: the negative controls give up sooner.
const CONTROL_TIMEOUT_S = 40;

const fmt = (s) => (s === null || s === undefined ? '-' : Number(s).toFixed(3));
const quote = (m) => `[${m.level} ${m.module || '?'}] ${m.text}`;

/** Everything wrong with a driver report: [] when playback was complete and clean. */
function judge(run, source) {
  const r = run.report;
  if (!r) return [`the driver produced no report (exit ${run.code}): ${run.stderr.slice(-2000)}`];
  if (r.fatal) return [`driver: ${r.fatal}`];
  const problems = [];
  if (r.timed_out) problems.push(`not Ended within the timeout (last time ${fmt(r.last_time_s)} s)`);
  else if (r.state !== 'Ended' || r.error_event) problems.push(`final state ${r.state}${r.error_event ? ' (MediaPlayerEncounteredError)' : ''}, want Ended`);
  for (const m of r.messages.filter((x) => x.level === 'error')) problems.push(`error message: ${quote(m)}`);
  for (const m of r.flagged.filter((x) => x.level !== 'error')) problems.push(`flagged message: ${quote(m)}`);
  const st = r.stats;
  if (source.video.length) {
    const want = source.video[source.video.length - 1].frames;
    if (r.pictures !== want && r.pictures !== want - 1) problems.push(`video: ${r.pictures} distinct pictures displayed, the source has ${want} frames`);
    if (st.lost_pictures) problems.push(`video: ${st.lost_pictures} lost pictures`);
  }
  if (source.audio.length) {
    const audioS = (r.audio_samples * r.rate) / 48_000;
    const ref = source.audio[0];
    if (Math.abs(audioS - ref.duration) > AUDIO_DURATION_TOLERANCE_S) problems.push(`audio: ${fmt(audioS)} s played, the source lasts ${fmt(ref.duration)} s`);
    if (st.lost_abuffers) problems.push(`audio: ${st.lost_abuffers} lost buffers`);
  }
  if (st.demux_corrupted) problems.push(`demux_corrupted = ${st.demux_corrupted}`);
  return problems;
}

function row(asset, format, variant, run, problems) {
  const r = run.report || { stats: {}, messages: [], flagged: [] };
  return {
    asset: asset.name,
    format,
    variant,
    rate: r.rate ?? '-',
    state: r.state || '-',
    pictures: r.pictures !== undefined ? `${r.pictures}${r.video_formats?.length ? ` ${r.video_formats.join('→')}` : ''}` : '-',
    'audio s': r.audio_samples !== undefined ? fmt((r.audio_samples * r.rate) / 48_000) : '-',
    'lost p/a': `${r.stats.lost_pictures ?? '-'}/${r.stats.lost_abuffers ?? '-'}`,
    'discont.': r.stats.demux_discontinuity ?? '-',
    'err/warn': `${r.messages.filter((m) => m.level === 'error').length}/${r.messages.filter((m) => m.level === 'warning').length}`,
    flagged: r.flagged.length,
    s: (run.ms / 1000).toFixed(1),
    result: problems.length ? 'FAIL' : 'ok',
  };
}

const explain = (run) => {
  const r = run.report;
  if (!r) return '';
  const warnings = [...new Set(r.messages.map(quote))];
  return `\nstats: ${JSON.stringify(r.stats)}\nwarnings (${warnings.length} distinct): ${warnings.slice(0, 30).join('\n  ')}`;
};

describe('VLC plays every format to the end', { skip, concurrency: true }, () => {
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
    printTable(`VLC (${DRIVER}) results, per asset × format:`, rows);
  });

  for (const asset of ASSETS) {
    for (const [format, f] of Object.entries(FORMATS)) {
      test(`vlc · ${f.label} · ${asset.name}`, async (t) => {
        const mpath = manifestPath(asset, format);
        const url = edge.url + mpath;
        const res = await fetch(url);
        const text = await res.text();
        if (res.status === 501) return t.skip(`the edge answers 501 for ${mpath}: ${f.label} not implemented yet`);
        assert.equal(res.status, 200, `GET ${mpath}: ${res.status} ${text.slice(0, 200)}`);
        // A ladder is played twice, pinned to its top and to its bottom
        // rendition: VLC's adaptive logic, left to itself, starts low and
        // switches up, and across that switch VLC 3 shows ~30 fewer
        // pictures — with ffmpeg's own HLS output of the same files as
        // well (687 of 720), so a switch says nothing about the edge.
        const ladder = summarize(text, f.kind).video;
        const cells = ladder.length > 1
          ? [{ variant: 'highest', logic: 'highest', size: ladder[ladder.length - 1] }, { variant: 'lowest', logic: 'lowest', size: ladder[0] }]
          : [{ variant: 'adaptive', logic: '' }];
        for (const cell of cells) {
          await t.test(`${cell.variant}${cell.size ? ` (${cell.size.width}x${cell.size.height})` : ''}: plays to the end, cleanly`, async () => {
            const opts = cell.logic ? { logic: cell.logic } : {};
            let run = await play(url, opts);
            let problems = judge(run, sourceInfo(asset));
            // Lateness, and the frame / sample counts it spoils: play again in real time.
            // Above 1x VLC also drops a picture or two to keep up without
            // reporting it (seen in CI: 718 of 720 at 2x, no late message),
            // so counts alone off at a fast rate get the real-time rerun too.
            const fast = (run.report?.rate ?? 1) > 1;
            const onlyCounts = problems.length > 0 && problems.every((p) => COUNTS.test(p));
            if (
              ((problems.some((p) => LATENESS.test(p)) && problems.every((p) => LATENESS.test(p) || COUNTS.test(p))) ||
              (fast && onlyCounts))
            ) {
              rows.push(row(asset, format, `${cell.variant} (late)`, run, problems));
              run = await play(url, { ...opts, rate: 1 });
              problems = judge(run, sourceInfo(asset));
              rows.push(row(asset, format, `${cell.variant}, again at 1x`, run, problems));
              // Still only late in real time: the machine cannot keep up
              // with real-time playback (CI on 2 busy cores), which says
              // nothing about the stream. Every other check still applies;
              // the row and the log say the counts were not judged.
              // (Exact frame counts are also judged by ffmpeg and GStreamer,
              // which do not play in real time.)
              if (problems.length && problems.every((p) => LATENESS.test(p) || COUNTS.test(p))) {
                t.diagnostic(`${cell.variant}: VLC fell behind twice; counts not judged: ${problems.join('; ')}`);
                rows.push(row(asset, format, `${cell.variant}: late twice, counts not judged`, run, []));
                problems = [];
              }
            } else {
              rows.push(row(asset, format, cell.variant, run, problems));
            }
            if (cell.size) {
              // VLC's output size is the coded size, rounded up (426x240 -> 432x258).
              const sizes = run.report?.video_formats ?? [];
              const ok = sizes.length === 1 && Math.abs(Number(sizes[0].split('x')[0]) - cell.size.width) < 16;
              if (!ok) problems.push(`expected only the ${cell.size.width}x${cell.size.height} rendition, the output saw ${sizes.join(' → ') || 'none'}`);
            }
            assert.deepEqual(problems, [], `vlc_decode.py ${url} --rate ${run.report?.rate}${cell.logic ? ` --logic ${cell.logic}` : ''}${explain(run)}`);
          });
        }
      });
    }
  }

  // The TS control is the defect class this file watches for: a segment
  // missing from an HLS TS playlist breaks the continuity counters VLC's TS
  // demuxer checks ("discontinuity received 0x3 instead of 0x2 (pid=0)").
  const control = ASSETS.find((a) => a.name === 'muxed_moov_end.mp4');
  for (const [mode, format, expect] of [
    ['drop-segment', 'hls-cmaf', /Fragment sequence discontinuity detected 4 != 3/],
    ['404-segment', 'hls-cmaf', /pictures displayed|played|flagged|error|state|Ended/],
    ['drop-segment', 'hls-ts', /flagged message: \[warning ts\] discontinuity received 0x3 instead of 0x2/],
  ]) {
    test(`vlc · negative control: ${mode} (${FORMATS[format].label} · ${control.name}) fails the checks`, async () => {
      const proxy = await startFaultProxy(edge.url, { mode, index: 2 });
      try {
        const run = await play(proxy.url + manifestPath(control, format), { timeoutS: CONTROL_TIMEOUT_S });
        const problems = judge(run, sourceInfo(control));
        rows.push(row(control, format, `control ${mode}`, run, problems));
        assert.ok(proxy.seen.playlists > 0, 'the player fetched no media playlist through the proxy');
        assert.ok(problems.some((p) => expect.test(p)), `the checks passed a broken stream (${mode}, ${format}), or not for ${expect}: ${JSON.stringify(problems)}${explain(run)}`);
        console.log(`negative control ${mode} ${format}: ${problems.length} problems, e.g. ${problems.filter((p) => expect.test(p)).slice(0, 2).join(' | ')}`);
      } finally {
        await proxy.stop();
      }
    });
  }
});

