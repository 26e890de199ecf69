// ffmpeg, an independent decoder, reads every stream the edge serves through
// the manifest URL, as `ffmpeg -i http://edge/…/manifest(format=…)` users do:
// each video rendition and audio track decodes with nothing on stderr at
// `-v error`, and the result is the source's: video frames bit-identical to
// decoding the source MP4 (every frame, in order), audio PCM equal to the
// source's within AAC decoder rounding, language tags where ffmpeg reads them.
//
// Smooth Streaming is not here: ffmpeg has no Smooth client demuxer (the
// players test covers it with dash.js and Shaka).
//
// ffmpeg's HLS demuxer and segment URLs. Debian's ffmpeg 5.1.x carries the
// backported `extension_picky` check (`ffmpeg -h demuxer=hls`): a segment URL
// must end in an allowed extension matching the detected format, so
// Azure-style `Fragments(video=0,format=m3u8-cmaf)` alone is refused with
// "URL … is not in allowed_segment_extensions" or "detected format mpegts
// extension none mismatches allowed extensions". `-allowed_extensions ALL` and
// `-allowed_segment_extensions ALL` do not lift that; `-extension_picky 0` does
// (checked against this ffmpeg). The edge appends `.mp4` / `.m4s` / `.ts` to
// the segment URLs it writes in playlists, so stock ffmpeg needs no option;
// these tests pass none on purpose, so a playlist that loses the suffixes fails
// here as it would for users. HLS_INPUT_OPTS is where `-extension_picky 0`
// would go.
//
// Every stream is decoded on its own (`-map 0:N`): with all streams of a DASH
// input mapped at once, ffmpeg 5.1's dash demuxer ends early and drops the last
// B-frames of some representations, which is not the edge's doing (the same
// segment bytes decode completely via HLS and one stream at a time).
//
//   node --test wasm-tests/ffmpeg.test.js
'use strict';

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { MEDIA, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { primaryLanguage, summarize } = require('./lib/manifest');

const HLS_INPUT_OPTS = [];
const CONCURRENCY = Number(process.env.EDGEPACK_FFMPEG_CONCURRENCY) || 2;

const FORMATS = {
  'hls-cmaf': { label: 'HLS fMP4', resource: 'manifest(format=m3u8-cmaf)', kind: 'hls' },
  'hls-ts': { label: 'HLS TS', resource: 'manifest(format=m3u8-aapl)', kind: 'hls' },
  'dash-cmaf': { label: 'DASH CMAF', resource: 'manifest(format=mpd-time-cmaf)', kind: 'dash' },
  'dash-csf': { label: 'DASH CSF', resource: 'manifest(format=mpd-time-csf)', kind: 'dash' },
};

// Each asset and the source files (under fixtures/media) whose tracks its
// manifests must carry, every one of them.
const ASSETS = [
  { name: 'abr.ism', base: '/abr/abr.ism', sources: ['abr/video_720.mp4', 'abr/video_360.mp4', 'abr/video_240.mp4', 'abr/audio_eng.mp4'] },
  { name: 'muxed_moov_end.mp4', base: '/muxed_moov_end.mp4', sources: ['muxed_moov_end.mp4'], aliases: true },
  { name: 'multilang.mp4', base: '/multilang.mp4', sources: ['multilang.mp4'] },
  { name: 'multilang.ism', base: '/multilang/multilang.ism', sources: ['multilang/video_360.mp4', 'multilang/audio_eng.mp4', 'multilang/audio_fra.mp4'] },
  { name: 'audio_only.mp4', base: '/audio_only.mp4', sources: ['audio_only.mp4'], aliases: true },
];

// Audio decoded from the edge's segments is compared with decoding the source
// file, window by window. The edge leaves out the source's AAC priming packet
// (the one its edit list trims), so the decoder has no pre-roll for the first
// frame: that frame differs (mean |diff| ~2000) and is skipped; later frames
// differ by rounding only (< 35 measured). A wrong, shifted or truncated
// track differs by hundreds to thousands.
const AAC_FRAME = 1024;
const PCM_WINDOW = AAC_FRAME;
const PCM_MAX_WINDOW_MEAN_DIFF = 64;

function manifestPath(asset, format) {
  if (asset.aliases && format === 'hls-cmaf') return `${asset.base}/master.m3u8`;
  if (asset.aliases && format === 'dash-cmaf') return `${asset.base}/manifest.mpd`;
  return `${asset.base}/${FORMATS[format].resource}`;
}

/** Runs a tool; resolves { code, stdout (Buffer), stderr (string) }. */
function run(cmd, args, { timeoutMs = 120_000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal ?? 1) : 0, stdout, stderr: stderr.toString() });
    });
  });
}

/** Streams of an input as ffprobe sees them: [{ index, kind, width, height, lang }]. */
async function probe(input, inputOpts = []) {
  const r = await run('ffprobe', ['-v', 'error', ...inputOpts, '-show_streams', '-of', 'json', input]);
  assert.equal(r.code, 0, `ffprobe ${input}: ${r.stderr}`);
  assert.equal(r.stderr, '', `ffprobe ${input} wrote to stderr`);
  return JSON.parse(r.stdout.toString()).streams
    .filter((s) => s.codec_type === 'video' || s.codec_type === 'audio')
    .map((s) => ({
      index: s.index,
      kind: s.codec_type,
      width: s.width || 0,
      height: s.height || 0,
      lang: s.tags?.language ? primaryLanguage(s.tags.language) : null,
    }));
}

/**
 * Decodes one stream. Video: the CRC of every decoded frame, in output order
 * (-fps_mode passthrough: no frame dropped or duplicated to fit a rate).
 * Audio: mono s16 PCM.
 */
async function decode(input, stream, inputOpts = []) {
  const common = ['-hide_banner', '-nostdin', '-v', 'error', ...inputOpts, '-i', input, '-map', `0:${stream.index}`];
  if (stream.kind === 'video') {
    const r = await run('ffmpeg', [...common, '-fps_mode', 'passthrough', '-f', 'framecrc', '-']);
    const crcs = r.stdout.toString().split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',')[5].trim());
    return { code: r.code, stderr: r.stderr, crcs };
  }
  const r = await run('ffmpeg', [...common, '-ac', '1', '-f', 's16le', '-']);
  const b = r.stdout;
  return { code: r.code, stderr: r.stderr, pcm: new Int16Array(b.buffer, b.byteOffset, Math.floor(b.length / 2)) };
}

/**
 * Largest mean |a - b| over PCM_WINDOW-sample windows after the first AAC
 * frame (both the same length): { diff, at } with `at` in samples.
 */
function worstWindowDiff(a, b) {
  let worst = 0;
  let at = 0;
  for (let start = AAC_FRAME; start + PCM_WINDOW <= a.length; start += PCM_WINDOW) {
    let sum = 0;
    for (let i = start; i < start + PCM_WINDOW; i++) sum += Math.abs(a[i] - b[i]);
    if (sum / PCM_WINDOW > worst) {
      worst = sum / PCM_WINDOW;
      at = start;
    }
  }
  return { diff: worst, at };
}

// Reference decodes of the source tracks, computed once per file.
const references = new Map();
function reference(source) {
  if (!references.has(source)) {
    references.set(source, (async () => {
      const file = path.join(MEDIA, source);
      const streams = await probe(file);
      return Promise.all(streams.map(async (s) => {
        const d = await decode(file, s);
        assert.equal(d.code, 0, `decoding the source ${source}: ${d.stderr}`);
        return { ...s, source, ...d };
      }));
    })());
  }
  return references.get(source);
}

const describeStream = (s) => (s.kind === 'video' ? `video ${s.width}x${s.height}` : `audio${s.lang ? ` (${s.lang})` : ''}`);

const skip = edgeSkipReason() || false;

describe('ffmpeg decodes every stream via the manifest', { skip, concurrency: CONCURRENCY }, () => {
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

  for (const asset of ASSETS) {
    for (const [format, f] of Object.entries(FORMATS)) {
      test(`ffmpeg · ${f.label} · ${asset.name}`, async (t) => {
        const mpath = manifestPath(asset, format);
        const url = edge.url + mpath;
        const res = await fetch(url);
        const text = await res.text();
        if (res.status === 501) return t.skip(`the edge answers 501 for ${mpath}: ${f.label} not implemented yet`);
        assert.equal(res.status, 200, `GET ${mpath}: ${res.status} ${text.slice(0, 200)}`);
        const inputOpts = f.kind === 'hls' ? HLS_INPUT_OPTS : [];

        const refs = (await Promise.all(asset.sources.map(reference))).flat();
        const streams = await probe(url, inputOpts);
        const summary = summarize(text, f.kind);
        const want = (kind) => refs.filter((r) => r.kind === kind).map(describeStream).sort();
        const got = (kind) => streams.filter((s) => s.kind === kind).map((s) => (kind === 'video' ? describeStream(s) : 'audio')).sort();

        await t.test(`ffmpeg finds every rendition of the source (${refs.map(describeStream).join(', ')})`, () => {
          assert.deepEqual(got('video'), want('video'), `video streams of ${mpath}`);
          assert.equal(got('audio').length, want('audio').length, `audio streams of ${mpath}: ${JSON.stringify(streams)}`);
          assert.equal(summary.video.length, want('video').length, `video renditions in the manifest ${mpath}`);
          assert.equal(summary.audio.length, want('audio').length, `audio tracks in the manifest ${mpath}`);
        });

        const unmatched = refs.filter((r) => r.kind === 'audio');
        for (const s of streams) {
          await t.test(`${describeStream(s)} decodes cleanly and equals the source`, async () => {
            const d = await decode(url, s, inputOpts);
            assert.equal(d.stderr, '', `ffmpeg -v error wrote to stderr decoding ${describeStream(s)} of ${mpath}`);
            assert.equal(d.code, 0, `ffmpeg exited ${d.code}`);
            if (s.kind === 'video') {
              const ref = refs.find((r) => r.kind === 'video' && r.width === s.width && r.height === s.height);
              assert.ok(ref, `no source video is ${s.width}x${s.height}`);
              assert.equal(d.crcs.length, ref.crcs.length, `${describeStream(s)}: ${d.crcs.length} frames decoded, the source has ${ref.crcs.length}`);
              const first = d.crcs.findIndex((c, i) => c !== ref.crcs[i]);
              assert.equal(first, -1, `${describeStream(s)}: decoded frame ${first} differs from the source's`);
              return;
            }
            // The source track this audio is: the closest PCM among those not yet matched.
            let best = null;
            for (const ref of unmatched) {
              const slack = Math.abs(ref.pcm.length - d.pcm.length);
              const n = Math.min(ref.pcm.length, d.pcm.length);
              const { diff, at } = worstWindowDiff(ref.pcm.subarray(0, n), d.pcm.subarray(0, n));
              if (!best || diff < best.diff) best = { ref, diff, at, slack };
            }
            assert.ok(best, 'more audio streams than the source has');
            unmatched.splice(unmatched.indexOf(best.ref), 1);
            assert.ok(best.slack <= 1024, `audio: ${d.pcm.length} samples decoded, the source (${best.ref.source}) has ${best.ref.pcm.length}`);
            assert.ok(best.diff <= PCM_MAX_WINDOW_MEAN_DIFF, `audio differs from every source track (closest: ${best.ref.source} ${best.ref.lang}, mean |diff| ${best.diff.toFixed(1)} over the ${PCM_WINDOW} samples at ${(best.at / 48_000).toFixed(2)} s)`);
            if (s.lang && best.ref.lang && best.ref.lang !== 'und') {
              assert.equal(s.lang, best.ref.lang, `audio labelled ${s.lang} carries the ${best.ref.lang} track of ${best.ref.source}`);
            }
          });
        }
      });
    }
  }
});
