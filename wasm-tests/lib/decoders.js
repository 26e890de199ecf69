// Shared by the independent-client tests (gstreamer.test.js, vlc.test.js,
// hls-strict.test.js): the assets and output formats they cover, what the
// source files hold (ffprobe), a bounded runner for the Python drivers, the
// skip rules, and a compact results table for CI logs.
'use strict';

const assert = require('node:assert/strict');
const { execFile, execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');
const { MEDIA } = require('./origin');
const { edgeSkipReason } = require('./edge');

/** The system Python: python3-gi and python3-vlc are Debian packages. */
const PYTHON = process.env.EDGEPACK_SYSTEM_PYTHON || '/usr/bin/python3';

const FORMATS = {
  'hls-cmaf': { label: 'HLS fMP4', resource: 'manifest(format=m3u8-cmaf)', kind: 'hls' },
  'hls-ts': { label: 'HLS TS', resource: 'manifest(format=m3u8-aapl)', kind: 'hls' },
  'dash-cmaf': { label: 'DASH CMAF', resource: 'manifest(format=mpd-time-cmaf)', kind: 'dash' },
  'dash-csf': { label: 'DASH CSF', resource: 'manifest(format=mpd-time-csf)', kind: 'dash' },
  smooth: { label: 'Smooth', resource: 'manifest', kind: 'smooth' },
};

// The assets of ffmpeg.test.js, with the source files (under fixtures/media)
// whose tracks their manifests carry.
const ASSETS = [
  { name: 'abr.ism', base: '/abr/abr.ism', sources: ['abr/video_720.mp4', 'abr/video_360.mp4', 'abr/video_240.mp4', 'abr/audio_eng.mp4'] },
  { name: 'muxed_moov_end.mp4', base: '/muxed_moov_end.mp4', sources: ['muxed_moov_end.mp4'], aliases: true },
  { name: 'multilang.mp4', base: '/multilang.mp4', sources: ['multilang.mp4'] },
  { name: 'multilang.ism', base: '/multilang/multilang.ism', sources: ['multilang/video_360.mp4', 'multilang/audio_eng.mp4', 'multilang/audio_fra.mp4'] },
  { name: 'audio_only.mp4', base: '/audio_only.mp4', sources: ['audio_only.mp4'], aliases: true },
];

/** Azure-style path, or the nginx-vod alias ffmpeg.test.js uses for the same asset. */
function manifestPath(asset, format) {
  if (asset.aliases && format === 'hls-cmaf') return `${asset.base}/master.m3u8`;
  if (asset.aliases && format === 'dash-cmaf') return `${asset.base}/manifest.mpd`;
  return `${asset.base}/${FORMATS[format].resource}`;
}

/**
 * The tracks of the asset's source files as ffprobe reads them (packets
 * counted, not trusted from the header): { duration, video: [{ width,
 * height, frames, fps, duration, codec, profile, level }], audio: [{ lang,
 * packets, rate, duration, codec, profile, source }] }. Cached.
 */
const probes = new Map();
function sourceInfo(asset) {
  if (probes.has(asset.name)) return probes.get(asset.name);
  const out = { duration: 0, video: [], audio: [] };
  for (const source of asset.sources) {
    const file = path.join(MEDIA, source);
    const json = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-count_packets', '-show_streams', '-show_format', '-of', 'json', file], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      }),
    );
    out.duration = Math.max(out.duration, Number(json.format.duration));
    for (const s of json.streams) {
      const [n, d] = (s.avg_frame_rate || '0/1').split('/').map(Number);
      const common = { source, codec: s.codec_name, profile: s.profile, level: s.level, duration: Number(s.duration) };
      if (s.codec_type === 'video') {
        out.video.push({ ...common, width: s.width, height: s.height, frames: Number(s.nb_read_packets), fps: d ? n / d : 0 });
      } else if (s.codec_type === 'audio') {
        out.audio.push({ ...common, lang: s.tags?.language || 'und', packets: Number(s.nb_read_packets), rate: Number(s.sample_rate), channels: s.channels });
      }
    }
  }
  out.video.sort((a, b) => a.height - b.height);
  probes.set(asset.name, out);
  return out;
}

/**
 * Runs a Python driver that prints one JSON object; resolves { report, code,
 * stderr, ms }. Killed (SIGKILL) after timeoutMs; `report` is then null.
 */
function runDriver(script, args, { timeoutMs = 120_000, env } = {}) {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      [script, ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        let report = null;
        try {
          report = JSON.parse(stdout.trim().split('\n').pop());
        } catch {
          // no JSON: the driver crashed or was killed
        }
        resolve({ report, code: err ? (err.code ?? err.signal ?? 1) : 0, stderr: String(stderr), ms: Date.now() - started });
      },
    );
  });
}

/**
 * Why a test file must skip (the edge cannot run, or `check` — a Python
 * snippet run with the system Python — fails), or false. Under CI=true any
 * reason throws instead: CI must not pass because a tool is missing.
 */
function skipReason(check, what) {
  let reason = edgeSkipReason();
  if (!reason && check) {
    try {
      execFileSync(PYTHON, ['-c', check], { stdio: 'pipe', timeout: 30_000 });
    } catch (err) {
      reason = `${what} is not usable with ${PYTHON} (bash scripts/setup.sh installs it): ${String(err.stderr || err.message).trim().split('\n').pop()}`;
    }
  }
  if (reason && process.env.CI === 'true') throw new Error(`CI=true: ${reason}`);
  return reason || false;
}

/** Prints rows (objects with the same keys) as a fixed-width table. */
function printTable(title, rows) {
  if (!rows.length) return;
  const keys = Object.keys(rows[0]);
  const cell = (v) => (v === undefined || v === null ? '' : String(v));
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => cell(r[k]).length)));
  const line = (vals) => vals.map((v, i) => cell(v).padEnd(widths[i])).join('  ').trimEnd();
  const out = [`\n${title}`, line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(keys.map((k) => r[k])))];
  console.log(out.join('\n'));
}

/** A FIFO of at most `limit` tasks at once (node:test runs tests concurrently; this bounds the decoders). */
function limiter(limit) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= limit || !queue.length) return;
    active++;
    const { fn, resolve, reject } = queue.shift();
    Promise.resolve()
      .then(fn)
      .then(resolve, reject)
      .finally(() => {
        active--;
        next();
      });
  };
  return (fn) =>
    new Promise((resolve, reject) => {
      queue.push({ fn, resolve, reject });
      next();
    });
}

/**
 * ffmpeg's per-frame MD5s of stream `map` of `url` (header lines dropped):
 * of the decoded frames of the first `seconds`, or of every packet when
 * `seconds` is 0 (`-c copy`: the whole title, without the decoding cost).
 */
function framemd5Lines(url, map, seconds) {
  const args = ['-v', 'error', '-i', url, '-map', map];
  args.push(...(seconds ? ['-t', String(seconds)] : ['-c', 'copy']), '-f', 'framemd5', '-');
  const r = spawnSync('ffmpeg', args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${url}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
}

module.exports = { ASSETS, FORMATS, PYTHON, framemd5Lines, limiter, manifestPath, printTable, runDriver, skipReason, sourceInfo };
