// Fragmented inputs (issue 16, item 1): fragmented copies (`ffmpeg -c copy`,
// fixtures/generate.sh gen_frag) of a progressive file serve exactly what
// the progressive original serves. The URLs of the outputs (HLS fMP4 and
// TS, DASH CMAF, Smooth, the bare-MP4 shapes) are crawled on both and the
// bodies compared: media segments byte for byte; init segments byte for
// byte once the bitrates of the sample entry (`btrt`, esds), which ffmpeg
// recomputes when it remuxes, are blanked; manifests once the bitrates it carries are. ffmpeg
// decodes one HLS and one DASH output of a fragmented source. Cold manifest
// origin reads are counted per layout against the per-file budget.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const { MEDIA, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { get, mapLimit, parseHls, parseMpd, parseXml, text, withReads } = require('./lib/edge-http');

const FRAG = path.join(MEDIA, 'frag');
const missing = fs.existsSync(path.join(FRAG, 'prog.ism')) ? false : 'fixtures/media/frag missing: run fixtures/generate.sh';
const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own origin: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || missing;

/** Reads one file's cold index may take: head + moov, mfro tail, 24 fragment windows (src/mp4/fragments.rs). */
const MAX_INDEX_READS = 2 + 1 + 24;

/** Every output format the crawl knows. */
const ALL = ['m3u8-cmaf', 'm3u8-aapl', 'mpd-time-cmaf', 'smooth', 'bare'];

// Fragmented copies of muxed_moov_end.mp4 whose moov keeps the edit lists
// (delay_moov): same timeline, so the same bytes. Within the time budget
// (CI runs this file under both runtimes; a cold index of these reads the
// whole 4 MB file, and the wasi:http runtime keeps no index between
// requests), each format is crawled on one or two layouts; the HLS fMP4
// segments (the same URLs as DASH CMAF's) on all. DASH CSF (ISO-FF live
// profile) is left out: its segments come from the same index and muxer.
const SAME = {
  'muxed_kf.mp4': ['m3u8-cmaf', 'smooth', 'bare'],
  'muxed_dur.mp4': ['m3u8-cmaf', 'm3u8-aapl'],
  'muxed_cmaf.mp4': ['mpd-time-cmaf'],
  'muxed_sidx.mp4': ['m3u8-cmaf', 'bare'],
};

/** Every element named `name` under `node`. */
function findAll(node, name, out = []) {
  if (node.name === name) out.push(node);
  for (const c of node.children || []) findAll(c, name, out);
  return out;
}

/** Smooth fragment URLs of a Smooth client manifest. */
function smoothUrls(body, base) {
  const urls = [];
  for (const si of findAll(parseXml(body), 'StreamIndex')) {
    const tpl = si.attrs.Url;
    let t = 0;
    const times = [];
    for (const c of si.children.filter((x) => x.name === 'c')) {
      if (c.attrs.t !== undefined) t = Number(c.attrs.t);
      const r = Number(c.attrs.r || 1);
      for (let k = 0; k < r; k++) {
        times.push(t);
        t += Number(c.attrs.d);
      }
    }
    for (const ql of si.children.filter((x) => x.name === 'QualityLevel')) {
      for (const time of times) {
        urls.push(new URL(tpl.replace('{bitrate}', ql.attrs.Bitrate).replace('{start time}', String(time)), base).href);
      }
    }
  }
  return urls;
}

/**
 * Every URL of the outputs `formats` (default: all) of the asset at `asset`
 * (absolute URL), with its body: { [url relative to the asset]: Buffer }.
 */
async function crawl(asset, formats = ALL) {
  const out = {};
  const rel = (u) => u.slice(asset.length);
  const fetchAll = async (urls) => {
    const fresh = [...new Set(urls)].filter((u) => !(rel(u) in out));
    const res = await mapLimit(fresh, 6, (u) => get(u));
    fresh.forEach((u, i) => {
      assert.equal(res[i].status, 200, `${u}: ${res[i].status} ${text(res[i]).slice(0, 200)}`);
      out[rel(u)] = res[i].body;
    });
    return res;
  };
  for (const format of ['m3u8-cmaf', 'm3u8-aapl'].filter((f) => formats.includes(f))) {
    const masterUrl = `${asset}/manifest(format=${format})`;
    const [master] = await fetchAll([masterUrl]);
    const m = parseHls(text(master), masterUrl);
    const lists = [...m.variants, ...m.media, ...m.iframes].map((v) => v.url);
    const bodies = await fetchAll(lists);
    const segs = [];
    bodies.forEach((b, i) => {
      const p = parseHls(text(b), lists[i]);
      if (p.map) segs.push(p.map);
      segs.push(...p.segments.map((s) => s.url));
    });
    await fetchAll(segs);
  }
  for (const format of ['mpd-time-cmaf', 'mpd-time-csf'].filter((f) => formats.includes(f))) {
    const mpdUrl = `${asset}/manifest(format=${format})`;
    const [mpd] = await fetchAll([mpdUrl]);
    const reps = parseMpd(text(mpd), mpdUrl).reps;
    await fetchAll(reps.flatMap((r) => [r.init, ...r.segments.map((s) => s.url)]).filter(Boolean));
  }
  if (formats.includes('smooth')) {
    const smoothUrl = `${asset}/manifest`;
    const [smooth] = await fetchAll([smoothUrl]);
    await fetchAll(smoothUrls(text(smooth), smoothUrl));
  }
  if (formats.includes('bare') && asset.endsWith('.mp4')) await fetchAll([`${asset}/master.m3u8`, `${asset}/manifest.mpd`]);
  return out;
}

/**
 * An init segment with the bitrates ffmpeg recomputes when it remuxes
 * zeroed: `btrt` (ISO/IEC 14496-12 §8.5.2.2) and the esds
 * DecoderConfigDescriptor's maxBitrate/avgBitrate (ISO/IEC 14496-1 §7.2.6.6).
 */
function blankBitrates(buf) {
  const b = Buffer.from(buf);
  for (let i = b.indexOf('btrt'); i >= 4; i = b.indexOf('btrt', i + 4)) b.fill(0, i + 4, i + 16);
  for (let i = b.indexOf('esds'); i >= 4; i = b.indexOf('esds', i + 4)) {
    // version/flags, ES_Descriptor (tag 3, length, ES_ID, flags), then
    // DecoderConfigDescriptor (tag 4, length, objectType, streamType +
    // bufferSizeDB (4 bytes), maxBitrate, avgBitrate).
    let p = i + 8;
    if (b[p] !== 3) continue;
    p++;
    while (b[p] & 0x80) p++;
    p += 4;
    if (b[p] !== 4) continue;
    p++;
    while (b[p] & 0x80) p++;
    p += 1;
    b.fill(0, p + 4, p + 12);
  }
  return b;
}

/** A manifest with its bitrate figures blanked (they come from `btrt`). */
function blankRates(s) {
  return s
    .replace(/(BANDWIDTH|AVERAGE-BANDWIDTH)=\d+/g, '$1=_')
    .replace(/(maxBandwidth|bandwidth|MaxBitrate|Bitrate)="\d+"/g, '$1="_"')
    .replace(/QualityLevels\(\d+\)/g, 'QualityLevels(_)');
}

/**
 * Compares two crawls: the same URLs (those of `got` among `want`'s when
 * `partial`), and equal bodies by kind.
 */
function compare(name, got, want, partial) {
  const norm = (u) => blankRates(u);
  const a = Object.fromEntries(Object.entries(got).map(([u, b]) => [norm(u), [u, b]]));
  const b = Object.fromEntries(Object.entries(want).map(([u, v]) => [norm(u), [u, v]]));
  const wanted = Object.keys(b).filter((k) => !partial || k in a);
  assert.deepEqual(Object.keys(a).sort(), wanted.sort(), `${name}: the same URLs`);
  let segments = 0;
  for (const [key, [url, body]] of Object.entries(a)) {
    const other = b[key][1];
    if (/Fragments\([^)]*=i[,)]/.test(url)) {
      assert.ok(blankBitrates(body).equals(blankBitrates(other)), `${name}: init ${url} differs beyond its bitrates`);
    } else if (/Fragments\(/.test(url)) {
      assert.ok(body.equals(other), `${name}: segment ${url} is not byte-identical`);
      segments++;
    } else {
      assert.equal(blankRates(body.toString('utf8')), blankRates(other.toString('utf8')), `${name}: manifest ${url}`);
    }
  }
  return segments;
}

describe('fragmented MP4 / CMAF / ISMV inputs', { skip }, () => {
  let origin;
  let edge;
  let E;
  let root;
  const rows = [];

  before(async () => {
    // The root: frag/ plus the progressive original under the same folder.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-frag-'));
    fs.symlinkSync(FRAG, path.join(root, 'frag'));
    fs.symlinkSync(path.join(MEDIA, 'muxed_moov_end.mp4'), path.join(root, 'muxed_moov_end.mp4'));
    origin = await startOrigin({ root });
    edge = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off' } });
    E = edge.url;
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (rows.length) {
      console.log('\ncold manifest origin reads per fragmented layout:');
      console.table(rows);
    }
  });

  test('cold manifests: origin reads per layout within the budget', async () => {
    for (const name of [...Object.keys(SAME), 'muxed_empty.mp4', 'muxed.ismv']) {
      const { result: res, stats } = await withReads(origin, () => get(`${E}/frag/${name}/manifest(format=m3u8-cmaf)`));
      assert.equal(res.status, 200, `${name}: ${text(res).slice(0, 200)}`);
      rows.push({ file: name, reads: stats.reads, bytes: stats.bytes, budget: MAX_INDEX_READS });
      assert.ok(stats.reads <= MAX_INDEX_READS, `${name}: ${stats.reads} reads`);
    }
    const { result: res, stats } = await withReads(origin, () => get(`${E}/frag/frag.ism/manifest(format=m3u8-cmaf)`));
    assert.equal(res.status, 200, text(res).slice(0, 200));
    rows.push({ file: 'frag.ism (2 ISMV)', reads: stats.reads, bytes: stats.bytes, budget: 1 + 2 * MAX_INDEX_READS });
  });

  test('every output URL of each fragmented layout is the progressive original’s', async () => {
    const want = await crawl(`${E}/muxed_moov_end.mp4`);
    for (const [name, formats] of Object.entries(SAME)) {
      const got = await crawl(`${E}/frag/${name}`, formats);
      const segments = compare(name, got, want, true);
      assert.ok(segments >= 10, `${name}: ${segments} segments compared`);
    }
  });

  test('an .ism over ISMV files serves what the .ism over the MP4s serves (but for the ISMV timescale)', async () => {
    // ffmpeg's ISMV writer rescales to 10 MHz and drops the edit lists:
    // same samples on another timeline, so compared through decoding.
    const prog = await crawl(`${E}/frag/prog.ism`, ['m3u8-aapl']);
    const frag = await crawl(`${E}/frag/frag.ism`, ['m3u8-aapl']);
    const count = (c) => Object.keys(c).filter((u) => /Fragments\(/.test(u)).length;
    assert.equal(count(frag), count(prog));
  });

  // Opt-in (EDGEPACK_FRAG_LONG=1; ~70 MB copied and read): the reads and
  // time of a cold manifest of a 2-hour title fragmented at every keyframe
  // (3 600 fragments), made from long_2h.mp4 at run time.
  test('a long fragmented title: cold manifest reads (EDGEPACK_FRAG_LONG=1)', { skip: !process.env.EDGEPACK_FRAG_LONG }, async () => {
    const work = path.join(root, 'long');
    fs.mkdirSync(work);
    const out = path.join(work, 'long_kf.mp4');
    const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(MEDIA, 'long_2h.mp4'), '-map', '0', '-c', 'copy', '-movflags', 'frag_keyframe+delay_moov', out]);
    assert.equal(made.status, 0, String(made.stderr));
    for (const [label, movflags] of [['long_kf.mp4', null], ['long_kf_nomfra.mp4', 'frag_keyframe+delay_moov+skip_trailer']]) {
      if (movflags) {
        const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(MEDIA, 'long_2h.mp4'), '-map', '0', '-c', 'copy', '-movflags', movflags, path.join(work, label)]);
        assert.equal(r.status, 0, String(r.stderr));
      }
      const t0 = Date.now();
      const { result: res, stats } = await withReads(origin, () => get(`${E}/long/${label}/manifest(format=m3u8-cmaf)`));
      const ms = Date.now() - t0;
      assert.equal(res.status, 200, text(res).slice(0, 300));
      rows.push({ file: `${label} (2 h, 3600 fragments)`, reads: stats.reads, bytes: stats.bytes, budget: MAX_INDEX_READS, ms });
      assert.ok(stats.reads <= MAX_INDEX_READS, `${label}: ${stats.reads} reads`);
    }
  });

  test('ffmpeg decodes HLS and DASH of fragmented sources without errors', async () => {
    const probe = spawnSync('ffmpeg', ['-version']);
    if (probe.status !== 0) return;
    for (const url of [
      `${E}/frag/muxed_empty.mp4/manifest(format=m3u8-cmaf)`,
      `${E}/frag/muxed.ismv/manifest(format=mpd-time-cmaf)`,
    ]) {
      const r = spawnSync('ffmpeg', ['-v', 'error', '-i', url, '-t', '6', '-f', 'null', '-'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `${url}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), '', `${url}: ffmpeg said ${r.stderr}`);
    }
  });
});
