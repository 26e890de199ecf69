// Helpers shared by the Common Encryption end-to-end tests (`cenc.test.js`,
// `cbcs.test.js`): ffmpeg frame digests of (decrypted) fMP4 renditions, the
// renditions of an MPD, the key id of an init segment, ClearKey licence
// requests.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { CT, assertOk, get } = require('./edge-http');

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** POSTs a W3C ClearKey licence request for `kids` (Buffers) to `url`. */
function postLicence(url, kids, { body } = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body ?? JSON.stringify({ kids: kids.map(b64url), type: 'temporary' }),
  }).then(async (res) => ({ url, status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }));
}

function run(cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal ?? 1) : 0, stdout, stderr });
    });
  });
}

let tmp = null;
let files = 0;

/** Removes the files `frameMd5` wrote. */
function cleanup() {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = null;
}

/**
 * framemd5 lines of fMP4 files (in order), decrypted with `keyHex` when
 * given; `code` and `stderr` of the first failing run, if any.
 */
async function frameMd5(list, keyHex) {
  tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-crypt-'));
  const out = { code: 0, stderr: '', frames: [] };
  for (const bytes of list) {
    const file = path.join(tmp, `r${files++}.mp4`);
    fs.writeFileSync(file, bytes);
    const args = ['-hide_banner', '-nostdin', '-v', 'error'];
    if (keyHex) args.push('-decryption_key', keyHex);
    args.push('-i', file, '-map', '0', '-fps_mode', 'passthrough', '-f', 'framemd5', '-');
    const r = await run('ffmpeg', args);
    if (r.code !== 0 && out.code === 0) Object.assign(out, { code: r.code, stderr: r.stderr });
    out.frames.push(...r.stdout.split('\n').filter((l) => l && !l.startsWith('#')));
  }
  return out;
}

/**
 * Fetches an init segment and media segments; resolves one file per media
 * segment (init + that segment), as ffmpeg 5.1 is given them: its mov
 * demuxer looks up a sample's `senc` entry in the last `moof` it parsed,
 * not the sample's own, so a small multi-fragment file it reads whole
 * before the first packet decrypts with the wrong entries (the same file
 * fragment by fragment decrypts right).
 */
async function fetchAll([initUrl, ...urls], contentType) {
  const init = await get(initUrl);
  assertOk(init, contentType, { immutable: true });
  const out = [];
  for (const u of urls) {
    const res = await get(u);
    assertOk(res, contentType, { immutable: true });
    out.push(Buffer.concat([init.body, res.body]));
  }
  return out;
}

/**
 * The Representations of an MPD with their init and first `segments`
 * media segment URLs (SegmentTemplate with $Bandwidth$ / $Time$ and a
 * SegmentTimeline).
 */
function dashRenditions(mpd, base, segments) {
  const out = [];
  for (const a of mpd.matchAll(/<AdaptationSet ([^>]*)>([\s\S]*?)<\/AdaptationSet>/g)) {
    // The set's own descriptors (ContentProtection, Role): what precedes
    // its first Representation.
    const set = a[2].split('<Representation ')[0];
    for (const r of setRenditions(a[2], base, segments)) out.push({ ...r, set });
  }
  return out;
}

/** The Representations of one AdaptationSet's body (see dashRenditions). */
function setRenditions(mpd, base, segments) {
  const out = [];
  for (const m of mpd.matchAll(/<Representation ([^>]*)>([\s\S]*?)<\/Representation>/g)) {
    const bw = /bandwidth="(\d+)"/.exec(m[1])[1];
    const body = m[2];
    const init = /initialization="([^"]+)"/.exec(body)[1].replace('$Bandwidth$', bw);
    const media = /media="([^"]+)"/.exec(body)[1].replace('$Bandwidth$', bw);
    const times = [];
    let t = 0;
    for (const s of body.matchAll(/<S ([^/]*)\/>/g)) {
      const a = (n) => /* attr */ ((x) => (x ? Number(x[1]) : null))(new RegExp(`\\b${n}="(\\d+)"`).exec(s[1]));
      if (a('t') !== null) t = a('t');
      for (let i = 0; i <= (a('r') ?? 0); i++) {
        times.push(t);
        t += a('d');
      }
    }
    out.push({
      bw,
      body,
      contentType: /audio/.test(m[1] + body) || /mp4a/.test(m[1]) ? CT.audio : CT.video,
      init: new URL(init, base).href,
      media: times.slice(0, segments).map((x) => new URL(media.replace('$Time$', x), base).href),
    });
  }
  return out;
}

/** The key id (hex) in an init segment's `tenc`. */
function tencKid(init) {
  const at = init.indexOf('tenc');
  assert.ok(at > 0, 'a tenc box');
  return init.subarray(at + 12, at + 28).toString('hex');
}

module.exports = { b64url, cleanup, dashRenditions, fetchAll, frameMd5, postLicence, run, tencKid };
