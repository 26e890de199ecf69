// `encryption=piff` end to end on the built module (issue 14): Smooth
// Streaming with PIFF 1.1 sample encryption (AES-128-CTR, the `cenc`
// cipher) and a PlayReady ProtectionHeader, as Azure Media Services served
// PlayReady Smooth.
//
// - both Smooth manifests (2.2 `manifest`, 2.0 `format=fmp4-v20`) carry
//   `<Protection><ProtectionHeader SystemID="9A04F079-…">`: base64 of a
//   PlayReady Header Object (little-endian length, one record of type 1,
//   UTF-16LE WRMHEADER v4.0.0.0) whose KID (GUID byte order) is the key id
//   the edge's CENC outputs carry in `tenc` and whose LA_URL is the
//   `playready_la_url` setting; otherwise the manifest is the clear one,
//   its fragment URLs asking for `encryption=piff`;
// - video and audio fragments carry the PIFF SampleEncryptionBox
//   (`uuid` a2394f52-…, flags 2 for video subsamples) and `saiz`/`saio`
//   pointing into it; decrypted here with node's AES-128-CTR under those
//   IVs and subsamples, the payload is the clear fragment's byte for byte;
// - ffmpeg (its mov demuxer reads `saiz`/`saio`) decodes a PIFF fragment,
//   behind the edge's `encryption=cenc` CMAF init (same key, a `tenc`), to
//   the frames of the clear fragment behind the clear init; the wrong key
//   does not;
// - piff with a non-Smooth format is 400, a Key URL for piff is 400 (the
//   licence is the PlayReady server's). No seed (501) is checked by the unit
//   tests (src/service/piff_tests.rs): a second edge would double this
//   file's time.
//
//   node --test wasm-tests/piff.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/piff.test.js
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, text } = require('./lib/edge-http');
const { boxes } = require('./lib/mp4');
const { cleanup, dashRenditions, frameMd5, tencKid } = require('./lib/cmaf-crypto');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own configuration: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || false;

const SEED = crypto.randomBytes(32).toString('base64');
const LA_URL = 'https://playready.example.com/rightsmanager.asmx?cfg=(kid:header)&x=1';
const ASSET = '/abr/abr.ism';
const PLAYREADY = '9A04F079-9840-4286-AB92-E65BE0885F95';
const PIFF_SENC = 'a2394f525a9b4f14a2446c427c648df4';
/** Fragments per stream checked: enough to cross GOPs, quick. */
const FRAGMENTS = 3;
/** Fragments per stream ffmpeg decodes (three runs each). */
const DECODED = 2;

/** GUID byte order (first three fields little-endian) <-> ISO byte order. */
function guidSwap(b) {
  const o = Buffer.from(b);
  o.subarray(0, 4).reverse();
  o.subarray(4, 6).reverse();
  o.subarray(6, 8).reverse();
  return o;
}

/** The PlayReady Header Object: { xml, kid (hex, ISO order), laUrl }. */
function parsePro(pro) {
  assert.equal(pro.readUInt32LE(0), pro.length, 'PRO length');
  assert.equal(pro.readUInt16LE(4), 1, 'one record');
  assert.equal(pro.readUInt16LE(6), 1, 'record type 1: rights management header');
  const len = pro.readUInt16LE(8);
  assert.equal(len, pro.length - 10, 'record length');
  const xml = pro.subarray(10, 10 + len).toString('utf16le');
  assert.match(xml, /^<WRMHEADER xmlns="http:\/\/schemas\.microsoft\.com\/DRM\/2007\/03\/PlayReadyHeader" version="4\.0\.0\.0">/);
  assert.match(xml, /<PROTECTINFO><KEYLEN>16<\/KEYLEN><ALGID>AESCTR<\/ALGID><\/PROTECTINFO>/);
  const kid = guidSwap(Buffer.from(/<KID>([^<]+)<\/KID>/.exec(xml)[1], 'base64')).toString('hex');
  const la = /<LA_URL>([^<]+)<\/LA_URL>/.exec(xml)?.[1]?.replace(/&amp;/g, '&');
  return { xml, kid, laUrl: la };
}

/** Every fragment URL (absolute) of a Smooth 2.0 manifest, by stream. */
function smoothStreams(manifest, base) {
  const out = [];
  for (const m of manifest.matchAll(/<StreamIndex ([^>]*)>([\s\S]*?)<\/StreamIndex>/g)) {
    const attr = (s, n) => new RegExp(`\\b${n}="([^"]*)"`).exec(s)?.[1];
    const type = attr(m[1], 'Type');
    if (type === 'text') continue;
    const url = attr(m[1], 'Url');
    const times = [];
    let t = 0;
    for (const c of m[2].matchAll(/<c ([^/]*)\/>/g)) {
      if (attr(c[1], 't') !== undefined) t = Number(attr(c[1], 't'));
      times.push(t);
      t += Number(attr(c[1], 'd'));
    }
    const bitrates = [...m[2].matchAll(/<QualityLevel ([^>]*)>/g)].map((q) => attr(q[1], 'Bitrate'));
    out.push({
      type,
      bitrates,
      url,
      fragments: (br, n = FRAGMENTS) => times.slice(0, n).map((x) => new URL(url.replace('{bitrate}', br).replace('{start time}', x), base).href),
    });
  }
  return out;
}

/**
 * The payload of a PIFF-encrypted fragment decrypted with `key` (node's
 * AES-128-CTR: the 8-byte IV, then a 64-bit block counter from 0; a sample's
 * protected ranges are one keystream), after checking the box layout.
 */
function decryptPiff(frag, key) {
  const moof = boxes(frag).find((b) => b.type === 'moof');
  const traf = boxes(frag, moof.start + 8, moof.start + moof.size).find((b) => b.type === 'traf');
  const kids = boxes(frag, traf.start + 8, traf.start + traf.size);
  const uuid = kids.find((b) => b.type === 'uuid' && frag.toString('hex', b.start + 8, b.start + 24) === PIFF_SENC);
  assert.ok(uuid, 'a PIFF SampleEncryptionBox in the traf');
  assert.ok(!kids.some((b) => b.type === 'senc'), 'no CENC senc beside it');
  const flags = frag.readUInt32BE(uuid.start + 24);
  const subsamples = (flags & 2) !== 0;
  const count = frag.readUInt32BE(uuid.start + 28);
  const trun = kids.find((b) => b.type === 'trun');
  const tf = frag.readUInt32BE(trun.start + 8) & 0xffffff;
  assert.equal(frag.readUInt32BE(trun.start + 12), count, 'sample_count = trun samples');
  const per = [0x100, 0x200, 0x400, 0x800].filter((f) => tf & f).length * 4;
  const first = trun.start + 20 + (tf & 4 ? 4 : 0);
  const sizeAt = tf & 0x100 ? 4 : 0;
  const saio = kids.find((b) => b.type === 'saio');
  assert.equal(moof.start + frag.readUInt32BE(saio.start + 16), uuid.start + 32, 'saio points at the first IV');
  const mdat = boxes(frag).find((b) => b.type === 'mdat');
  const payload = Buffer.from(frag.subarray(mdat.start + 8, mdat.start + mdat.size));
  let at = uuid.start + 32;
  let p = 0;
  for (let i = 0; i < count; i++) {
    const size = frag.readUInt32BE(first + i * per + sizeAt);
    const iv = Buffer.concat([frag.subarray(at, at + 8), Buffer.alloc(8)]);
    at += 8;
    const sample = payload.subarray(p, p + size);
    const ranges = [];
    if (subsamples) {
      const n = frag.readUInt16BE(at);
      at += 2;
      let s = 0;
      for (let j = 0; j < n; j++) {
        s += frag.readUInt16BE(at);
        const prot = frag.readUInt32BE(at + 2);
        at += 6;
        ranges.push([s, s + prot]);
        s += prot;
      }
      assert.equal(s, size, `subsamples cover sample ${i}`);
    } else {
      ranges.push([0, size]);
    }
    const enc = Buffer.concat(ranges.map(([a, b]) => sample.subarray(a, b)));
    const d = crypto.createDecipheriv('aes-128-ctr', key, iv);
    const dec = Buffer.concat([d.update(enc), d.final()]);
    let q = 0;
    for (const [a, b] of ranges) {
      dec.copy(sample, a, q, q + (b - a));
      q += b - a;
    }
    p += size;
  }
  assert.equal(at, uuid.start + uuid.size, 'the entries fill the box');
  assert.equal(p, payload.length);
  return { payload, subsamples };
}

const mdatOf = (frag) => {
  const m = boxes(frag).find((b) => b.type === 'mdat');
  return frag.subarray(m.start + 8, m.start + m.size);
};

describe('encryption=piff: PIFF 1.1 Smooth Streaming with a PlayReady header', { skip }, () => {
  let origin;
  let edge;
  let E;
  let key;
  let kid;

  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({
      originUrl: origin.url,
      settings: { playready_la_url: LA_URL },
      secrets: { encryption_key_seed: SEED },
    });
    E = edge.url;
    // The key the edge encrypts with (the CENC key URL: one key per asset
    // for every scheme) and the key id its CMAF init carries.
    const k = await get(`${E}${ASSET}/QualityLevels(1)/Key(encryption=cenc)`);
    assert.equal(k.status, 200);
    key = k.body;
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd`;
    const reps = dashRenditions(text(await get(mpdUrl)), mpdUrl, 1);
    kid = tencKid((await get(reps[0].init)).body);
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    cleanup();
  });

  test('Smooth 2.2 and 2.0 manifests: Protection with the PlayReady header of the key id and LA_URL; otherwise the clear manifest', async () => {
    for (const [opts, clearUrl] of [
      ['encryption=piff', `${E}${ASSET}/manifest`],
      ['format=fmp4-v20,encryption=piff', `${E}${ASSET}/manifest(format=fmp4-v20)`],
    ]) {
      const res = await get(`${E}${ASSET}/manifest(${opts})`);
      assertOk(res, CT.smooth, { immutable: false });
      const m = text(res);
      const prot = /\s*<Protection>\s*<ProtectionHeader SystemID="([^"]+)">([^<]+)<\/ProtectionHeader>\s*<\/Protection>/.exec(m);
      assert.ok(prot, m.slice(0, 600));
      assert.equal(prot[1], PLAYREADY);
      assert.ok(m.indexOf('<Protection>') < m.indexOf('<StreamIndex'), 'Protection before the StreamIndexes');
      const pro = parsePro(Buffer.from(prot[2], 'base64'));
      assert.equal(pro.kid, kid, 'KID is the key id of the CENC outputs');
      assert.equal(pro.laUrl, LA_URL);
      const clear = text(await get(clearUrl));
      assert.equal(m.replace(prot[0], '').replace(/,encryption=piff\)/g, ')'), clear, `${opts}: the clear manifest otherwise`);
      assert.match(m, /Url="QualityLevels\(\{bitrate\}\)\/Fragments\(video=\{start time\}[^"]*,encryption=piff\)"/);
    }
  });

  test('video and audio fragments: PIFF SampleEncryptionBox + saiz/saio; decrypted, the clear payload', async () => {
    const url = `${E}${ASSET}/manifest(format=fmp4-v20,encryption=piff)`;
    const streams = smoothStreams(text(await get(url)), url);
    const kinds = new Set();
    for (const s of streams) {
      for (const br of [s.bitrates[0], s.bitrates[s.bitrates.length - 1]]) {
        for (const u of s.fragments(br)) {
          const enc = await get(u);
          const ct = s.type === 'audio' ? CT.audio : CT.video;
          assertOk(enc, ct, { immutable: true });
          const clear = await get(u.replace(',encryption=piff', ''));
          assertOk(clear, ct, { immutable: true });
          assert.notEqual(enc.headers.get('etag'), clear.headers.get('etag'), `${u}: its own ETag`);
          assert.ok(!mdatOf(enc.body).equals(mdatOf(clear.body)), `${u}: encrypted`);
          const { payload, subsamples } = decryptPiff(enc.body, key);
          assert.equal(subsamples, s.type === 'video', `${u}: subsamples for video only`);
          assert.ok(payload.equals(mdatOf(clear.body)), `${u}: decrypts to the clear payload`);
          kinds.add(s.type);
        }
      }
    }
    assert.deepEqual([...kinds].sort(), ['audio', 'video']);
  });

  test('ffmpeg decodes PIFF fragments (behind the CENC init) to the clear frames; the wrong key does not', async () => {
    const url = `${E}${ASSET}/manifest(format=fmp4-v20,encryption=piff)`;
    const streams = smoothStreams(text(await get(url)), url);
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd`;
    const reps = dashRenditions(text(await get(mpdUrl)), mpdUrl, 1);
    for (const s of streams) {
      const br = s.bitrates[0];
      const rep = reps.find((r) => r.bw === br);
      assert.ok(rep, `a DASH Representation at ${br}`);
      const encInit = (await get(rep.init)).body;
      const clearInit = (await get(rep.init.replace(',encryption=cenc', ''))).body;
      const enc = [];
      const plain = [];
      for (const u of s.fragments(br, DECODED)) {
        enc.push(Buffer.concat([encInit, (await get(u)).body]));
        plain.push(Buffer.concat([clearInit, (await get(u.replace(',encryption=piff', ''))).body]));
      }
      const [dec, ref, wrong] = await Promise.all([
        frameMd5(enc, key.toString('hex')),
        frameMd5(plain),
        frameMd5(enc, '00112233445566778899aabbccddeeff'),
      ]);
      assert.equal(ref.code, 0, ref.stderr);
      assert.equal(dec.code, 0, dec.stderr);
      assert.ok(ref.frames.length > 10, `${s.type}: ${ref.frames.length} frames`);
      assert.deepEqual(dec.frames, ref.frames, `${s.type}: decrypted frames equal the clear ones`);
      assert.ok(wrong.code !== 0 || JSON.stringify(wrong.frames) !== JSON.stringify(ref.frames), `${s.type}: the wrong key does not decode the clear frames`);
    }
  });

  test('refusals: piff is Smooth only (400), has no edge key URL (400)', async () => {
    for (const p of [
      `${ASSET}/manifest(format=mpd-time-cmaf,encryption=piff)`,
      `${ASSET}/manifest(format=m3u8-cmaf,encryption=piff)`,
      `${ASSET}/manifest(format=m3u8-aapl,encryption=piff)`,
    ]) {
      assertError(await get(E + p), 400, /Smooth/);
    }
    assertError(await get(`${E}${ASSET}/QualityLevels(1)/Key(encryption=piff)`), 400, /licence server/);
    // Other schemes are not built for Smooth.
    assertError(await get(`${E}${ASSET}/manifest(encryption=cenc)`), 400);
  });
});
