// Just enough ISO BMFF reading for black-box edge tests: top-level box
// layout, a source file's per-track sample table (offset, size, decode time),
// and the boxes of a CMAF fragment the edge produced (tfdt, trun, mdat), so a
// test can check a segment's payload byte for byte against the source file.
// Not a validator.
'use strict';

const fs = require('node:fs');

/** Boxes of `buf` between `start` and `end`: [{ type, start, size, header }]. */
function boxes(buf, start = 0, end = buf.length) {
  const out = [];
  let pos = start;
  while (pos + 8 <= end) {
    let size = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    let header = 8;
    if (size === 1) {
      if (pos + 16 > end) break;
      size = Number(buf.readBigUInt64BE(pos + 8));
      header = 16;
    } else if (size === 0) {
      size = end - pos;
    }
    if (size < header) throw new Error(`box ${type} at ${pos}: size ${size}`);
    out.push({ type, start: pos, size, header });
    pos += size;
  }
  return out;
}

/** Top-level box layout of a file, read with a few small reads (no whole-file read). */
function fileLayout(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const total = fs.fstatSync(fd).size;
    const out = [];
    const head = Buffer.alloc(16);
    let pos = 0;
    while (pos + 8 <= total) {
      fs.readSync(fd, head, 0, 16, pos);
      let size = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      let header = 8;
      if (size === 1) {
        size = Number(head.readBigUInt64BE(8));
        header = 16;
      } else if (size === 0) size = total - pos;
      if (size < header) throw new Error(`${file}: box ${type} at ${pos}: size ${size}`);
      out.push({ type, start: pos, size, header });
      pos += size;
    }
    return { total, boxes: out };
  } finally {
    fs.closeSync(fd);
  }
}

function child(buf, parent, type) {
  return boxes(buf, parent.start + parent.header, parent.start + parent.size).find((b) => b.type === type);
}

function path(buf, parent, types) {
  let node = parent;
  for (const t of types) {
    node = node && child(buf, node, t);
  }
  return node;
}

/** Body offset of a full box (after version/flags). */
const body = (b) => b.start + b.header + 4;

/**
 * Tracks of a source MP4: [{ id, handler: 'vide'|'soun'|…, timescale,
 * samples: [{ offset, size, dts }] }]. Reads only the moov.
 */
function sourceTracks(file) {
  const layout = fileLayout(file);
  const moovBox = layout.boxes.find((b) => b.type === 'moov');
  if (!moovBox) throw new Error(`${file}: no moov`);
  const fd = fs.openSync(file, 'r');
  const moov = Buffer.alloc(moovBox.size);
  fs.readSync(fd, moov, 0, moovBox.size, moovBox.start);
  fs.closeSync(fd);
  const root = { start: 0, size: moov.length, header: moovBox.header };
  const tracks = [];
  for (const trak of boxes(moov, root.header, moov.length).filter((b) => b.type === 'trak')) {
    const tkhd = child(moov, trak, 'tkhd');
    const tkv = moov[tkhd.start + tkhd.header];
    const id = moov.readUInt32BE(body(tkhd) + (tkv === 1 ? 16 : 8));
    const mdhd = path(moov, trak, ['mdia', 'mdhd']);
    const mdv = moov[mdhd.start + mdhd.header];
    const timescale = moov.readUInt32BE(body(mdhd) + (mdv === 1 ? 16 : 8));
    const hdlr = path(moov, trak, ['mdia', 'hdlr']);
    const handler = moov.toString('latin1', body(hdlr) + 4, body(hdlr) + 8);
    const stbl = path(moov, trak, ['mdia', 'minf', 'stbl']);
    // stsz
    const stsz = child(moov, stbl, 'stsz');
    const fixed = moov.readUInt32BE(body(stsz));
    const count = moov.readUInt32BE(body(stsz) + 4);
    const sizes = new Array(count);
    for (let i = 0; i < count; i++) sizes[i] = fixed || moov.readUInt32BE(body(stsz) + 8 + 4 * i);
    // stco / co64
    const stco = child(moov, stbl, 'stco');
    const co64 = child(moov, stbl, 'co64');
    const chunkBox = stco || co64;
    const nChunks = moov.readUInt32BE(body(chunkBox));
    const chunks = new Array(nChunks);
    for (let i = 0; i < nChunks; i++) {
      chunks[i] = stco
        ? moov.readUInt32BE(body(chunkBox) + 4 + 4 * i)
        : Number(moov.readBigUInt64BE(body(chunkBox) + 4 + 8 * i));
    }
    // stsc
    const stsc = child(moov, stbl, 'stsc');
    const nStsc = moov.readUInt32BE(body(stsc));
    const stscEntries = [];
    for (let i = 0; i < nStsc; i++) {
      const o = body(stsc) + 4 + 12 * i;
      stscEntries.push({ first: moov.readUInt32BE(o), perChunk: moov.readUInt32BE(o + 4) });
    }
    // stts
    const stts = child(moov, stbl, 'stts');
    const nStts = moov.readUInt32BE(body(stts));
    const samples = new Array(count);
    let s = 0;
    for (let c = 0; c < nChunks; c++) {
      let e = stscEntries.length - 1;
      while (e > 0 && stscEntries[e].first > c + 1) e--;
      let off = chunks[c];
      for (let k = 0; k < stscEntries[e].perChunk && s < count; k++, s++) {
        samples[s] = { offset: off, size: sizes[s], dts: 0 };
        off += sizes[s];
      }
    }
    let dts = 0;
    s = 0;
    for (let i = 0; i < nStts; i++) {
      const o = body(stts) + 4 + 8 * i;
      const n = moov.readUInt32BE(o);
      const d = moov.readUInt32BE(o + 4);
      for (let k = 0; k < n && s < count; k++, s++) {
        samples[s].dts = dts;
        dts += d;
      }
    }
    tracks.push({ id, handler, timescale, samples });
  }
  return tracks;
}

/**
 * The parts of a CMAF media segment the tests look at: top-level box types,
 * tfdt base decode time, trun sample sizes and the mdat payload.
 */
function parseSegment(buf) {
  const top = boxes(buf);
  const moof = top.find((b) => b.type === 'moof');
  const mdat = top.find((b) => b.type === 'mdat');
  const out = { types: top.map((b) => b.type), moof, mdat, payload: null, baseTime: null, sampleSizes: [] };
  if (mdat) out.payload = buf.subarray(mdat.start + mdat.header, mdat.start + mdat.size);
  if (!moof) return out;
  const traf = child(buf, moof, 'traf');
  if (!traf) return out;
  const tfhd = child(buf, traf, 'tfhd');
  const tfhdFlags = buf.readUInt32BE(tfhd.start + tfhd.header) & 0xffffff;
  let o = body(tfhd) + 4; // track_ID
  if (tfhdFlags & 0x1) o += 8;
  if (tfhdFlags & 0x2) o += 4;
  if (tfhdFlags & 0x8) o += 4;
  const defaultSize = tfhdFlags & 0x10 ? buf.readUInt32BE(o) : null;
  const tfdt = child(buf, traf, 'tfdt');
  if (tfdt) {
    const v = buf[tfdt.start + tfdt.header];
    out.baseTime = v === 1 ? Number(buf.readBigUInt64BE(body(tfdt))) : buf.readUInt32BE(body(tfdt));
  }
  for (const trun of boxes(buf, traf.start + traf.header, traf.start + traf.size).filter((b) => b.type === 'trun')) {
    const flags = buf.readUInt32BE(trun.start + trun.header) & 0xffffff;
    const n = buf.readUInt32BE(body(trun));
    let p = body(trun) + 4;
    if (flags & 0x1) p += 4;
    if (flags & 0x4) p += 4;
    for (let i = 0; i < n; i++) {
      if (flags & 0x100) p += 4;
      let size = defaultSize;
      if (flags & 0x200) {
        size = buf.readUInt32BE(p);
        p += 4;
      }
      if (flags & 0x400) p += 4;
      if (flags & 0x800) p += 4;
      out.sampleSizes.push(size);
    }
  }
  return out;
}

/** Byte runs (merged adjacent sample ranges) of `samples`, in file order. */
function sampleRuns(samples) {
  const runs = [];
  for (const s of [...samples].sort((a, b) => a.offset - b.offset)) {
    const last = runs[runs.length - 1];
    if (last && last.end === s.offset) last.end += s.size;
    else runs.push({ start: s.offset, end: s.offset + s.size });
  }
  return runs;
}

/**
 * Fewest bytes any plan of at most `reads` contiguous range reads can fetch
 * to cover `runs`: the payload plus the smallest gaps that must be bridged.
 */
function minBytesForReads(runs, reads) {
  const payload = runs.reduce((n, r) => n + (r.end - r.start), 0);
  const gaps = [];
  for (let i = 1; i < runs.length; i++) gaps.push(runs[i].start - runs[i - 1].end);
  gaps.sort((a, b) => a - b);
  const bridge = Math.max(0, runs.length - reads);
  return payload + gaps.slice(0, bridge).reduce((n, g) => n + g, 0);
}

/** Fewest contiguous reads that keep bytes read within `factor` × payload. */
function readsForRatio(runs, factor) {
  const payload = runs.reduce((n, r) => n + (r.end - r.start), 0);
  const gaps = [];
  for (let i = 1; i < runs.length; i++) gaps.push(runs[i].start - runs[i - 1].end);
  gaps.sort((a, b) => a - b);
  let slack = (factor - 1) * payload;
  let bridged = 0;
  for (const g of gaps) {
    if (g > slack) break;
    slack -= g;
    bridged++;
  }
  return runs.length - bridged;
}

/**
 * The reads the edge's cost model plans for `runs` (src/plan.rs
 * `ReadCost`): neighbours merge across every gap of at most `mergeGap`
 * bytes (round trip × bandwidth). Resolves { reads, bytes }.
 */
function readsForCost(runs, mergeGap) {
  let reads = runs.length ? 1 : 0;
  let bytes = runs.reduce((n, r) => n + (r.end - r.start), 0);
  for (let i = 1; i < runs.length; i++) {
    const gap = runs[i].start - runs[i - 1].end;
    if (gap <= mergeGap) bytes += gap;
    else reads++;
  }
  return { reads, bytes };
}

module.exports = { boxes, fileLayout, minBytesForReads, parseSegment, readsForCost, readsForRatio, sampleRuns, sourceTracks };
