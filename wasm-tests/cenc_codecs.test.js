// Common Encryption of HEVC and AV1 end to end on the built module, from
// `fixtures/small` (`hevc.mp4`: x265 I/P/B slices; `av1.mp4`: libaom,
// two tile columns, hidden alt-ref frames):
//
// - HEVC `cbcs` (`encryption=cbcs-aapl`): ffmpeg decrypts every DASH
//   segment (init + segment) with `-decryption_key` and decodes the very
//   frames of the clear rendition (`-f framemd5`), the wrong key does not;
//   every slice NAL unit's protected range (from `senc`) starts after its
//   slice segment header (measured by `src/codec/hevc_slice.rs`, H.265
//   §7.3.6.1; ISO/IEC 23001-7 §10.4.2 keeps it clear) and less than 32
//   bytes into the NAL unit, where the fixed lead used before would have
//   started it;
// - AV1 `cenc` and `cbcs` (AV1 ISOBMFF §7: tile data only, `cenc` whole
//   blocks ending each tile, `cbcs` a subsample per tile): ffmpeg
//   decrypts every DASH segment to the clear frames; the wrong key does
//   not; `cenc` protected ranges are whole blocks, the `tenc` pattern is
//   1:9 for `cbcs`.
//
//   node --test wasm-tests/cenc_codecs.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/cenc_codecs.test.js
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');
const { SMALL, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertOk, get, text } = require('./lib/edge-http');
const { cleanup, dashRenditions, fetchAll, frameMd5 } = require('./lib/cmaf-crypto');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own configuration: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || false;

const SEED = crypto.randomBytes(32).toString('base64');
const OPT = ',encryption=cbcs-aapl';

/** Child boxes of `buf` between `from` and `to`: [type, start, end]. */
function boxes(buf, from = 0, to = buf.length) {
  const out = [];
  for (let at = from; at + 8 <= to; ) {
    const size = buf.readUInt32BE(at);
    if (size < 8) break;
    out.push([buf.toString('latin1', at + 4, at + 8), at, at + size]);
    at += size;
  }
  return out;
}

/**
 * The samples of a CMAF segment (`moof` + `mdat`, one `traf`): for each,
 * its bytes and its `senc` subsamples [clear, protected]. `ivSize`: the
 * per-sample IV before them (8 for `cenc` here, none for `cbcs`).
 */
function samples(seg, ivSize = 0) {
  const [, moofAt, moofEnd] = boxes(seg).find((b) => b[0] === 'moof');
  const [, trafAt, trafEnd] = boxes(seg, moofAt + 8, moofEnd).find((b) => b[0] === 'traf');
  const kids = boxes(seg, trafAt + 8, trafEnd);
  const [, trunAt] = kids.find((b) => b[0] === 'trun');
  const [, sencAt] = kids.find((b) => b[0] === 'senc');
  const flags = seg.readUInt32BE(trunAt + 8) & 0xffffff;
  const count = seg.readUInt32BE(trunAt + 12);
  const per = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
  const first = trunAt + 20 + (flags & 4 ? 4 : 0);
  let data = moofAt + seg.readInt32BE(trunAt + 16);
  // senc: full box header, sample count, then per sample its IV, a
  // subsample count and the subsamples.
  let at = sencAt + 16;
  const out = [];
  for (let i = 0; i < count; i++) {
    const size = seg.readUInt32BE(first + i * per + (flags & 0x100 ? 4 : 0));
    at += ivSize;
    const n = seg.readUInt16BE(at);
    at += 2;
    const subs = [];
    for (let k = 0; k < n; k++, at += 6) subs.push([seg.readUInt16BE(at), seg.readUInt32BE(at + 2)]);
    out.push({ at: data, size, subs });
    data += size;
  }
  return out;
}

/** A sample's protected ranges: [start, end) offsets in the sample. */
function protectedRanges(s) {
  const ranges = [];
  let q = 0;
  for (const [c, p] of s.subs) {
    q += c;
    if (p > 0) ranges.push([q, q + p]);
    q += p;
  }
  assert.equal(q, s.size, 'the map covers the sample');
  return ranges;
}

/** The video Representation of `asset`'s DASH MPD under `scheme`. */
async function videoRendition(base, asset, scheme) {
  const mpdUrl = `${base}/${asset}/manifest(format=mpd-time-cmaf,encryption=${scheme}).mpd`;
  const res = await get(mpdUrl);
  assertOk(res, CT.dash, { immutable: false });
  const reps = dashRenditions(text(res), mpdUrl, 1000).filter((r) => r.contentType === CT.video);
  assert.equal(reps.length, 1, text(res));
  assert.match(text(res), new RegExp(`mp4protection:2011" value="${scheme === 'cenc' ? 'cenc' : 'cbcs'}"`));
  return { ...reps[0], mpd: text(res) };
}

/** ffmpeg decodes every segment of `rep` with the key to the clear frames. */
async function checkDecrypts(rep, opt, keyHex, minFrames) {
  assert.ok(rep.media.length >= 2, rep.body);
  const enc = await fetchAll([rep.init, ...rep.media], CT.video);
  const plain = await fetchAll([rep.init, ...rep.media].map((u) => u.replace(opt, '')), CT.video);
  const [dec, ref] = await Promise.all([frameMd5(enc, keyHex), frameMd5(plain)]);
  assert.equal(ref.code, 0, ref.stderr);
  assert.equal(dec.code, 0, dec.stderr);
  assert.ok(ref.frames.length >= minFrames, `${ref.frames.length} frames`);
  assert.deepEqual(dec.frames, ref.frames, 'decrypted frames equal the clear ones');
  const wrong = await frameMd5(enc, '00112233445566778899aabbccddeeff');
  assert.ok(wrong.code !== 0 || JSON.stringify(wrong.frames) !== JSON.stringify(ref.frames), 'the wrong key does not decode the clear frames');
  return enc;
}

describe('Common Encryption of HEVC (measured slice headers) and AV1 (tiles)', { skip }, () => {
  let origin;
  let edge;
  let keys;

  before(async () => {
    origin = await startOrigin({ root: SMALL });
    // 1 s segments: the 2 s fixtures give two each.
    edge = await startEdge({ originUrl: origin.url, settings: { segment_ms: '1000' }, secrets: { encryption_key_seed: SEED } });
    keys = {};
    for (const asset of ['hevc.mp4', 'av1.mp4']) {
      const url = `${edge.url}/${asset}/QualityLevels(1)/Key(encryption=cenc)`;
      const key = await get(url);
      assert.equal(key.status, 200, url);
      assert.equal(key.body.length, 16);
      keys[asset] = key.body.toString('hex');
    }
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    cleanup();
  });

  test('HEVC cbcs: ffmpeg decrypts every DASH segment to the clear frames; the wrong key does not', async () => {
    const rep = await videoRendition(edge.url, 'hevc.mp4', 'cbcs-aapl');
    await checkDecrypts(rep, OPT, keys['hevc.mp4'], 40);
  });

  test('HEVC cbcs: every slice is protected from just after its slice segment header', async () => {
    const rep = await videoRendition(edge.url, 'hevc.mp4', 'cbcs-aapl');
    let slices = 0;
    for (const url of rep.media) {
      const enc = (await get(url)).body;
      const clear = (await get(url.replace(OPT, ''))).body;
      const clearMdat = boxes(clear).find((b) => b[0] === 'mdat');
      let clearAt = clearMdat[1] + 8;
      for (const s of samples(enc)) {
        const plain = clear.subarray(clearAt, clearAt + s.size);
        const cipher = enc.subarray(s.at, s.at + s.size);
        clearAt += s.size;
        const ranges = protectedRanges(s);
        for (let at = 0; at < s.size; ) {
          const len = plain.readUInt32BE(at);
          const start = at + 4;
          const end = start + len;
          const type = (plain[start] >> 1) & 0x3f;
          if (type < 32 && len >= 48) {
            const range = ranges.find(([a, b]) => a >= start && b === end);
            assert.ok(range, `slice at ${start}: a protected range ending with it`);
            const lead = range[0] - start;
            assert.ok(lead >= 3 && lead < 32, `slice at ${start}: clear lead ${lead}`);
            assert.ok(cipher.subarray(start, range[0]).equals(plain.subarray(start, range[0])), 'the lead is clear');
            assert.ok(!cipher.subarray(range[0], range[0] + 16).equals(plain.subarray(range[0], range[0] + 16)), 'the first block after it is encrypted');
            slices += 1;
          }
          at = end;
        }
      }
    }
    assert.ok(slices >= 10, `${slices} slices`);
  });

  for (const [scheme, opt] of [['cenc', ',encryption=cenc'], ['cbcs-aapl', OPT]]) {
    test(`AV1 ${scheme}: ffmpeg decrypts every DASH segment to the clear frames; tile subsamples`, async () => {
      const rep = await videoRendition(edge.url, 'av1.mp4', scheme);
      assert.match(rep.mpd, /codecs="av01\./);
      const init = (await get(rep.init)).body;
      assert.ok(init.includes(Buffer.from('encv')), 'encv');
      assert.ok(init.includes(Buffer.from('frma')) && init.includes(Buffer.from('av01')), 'frma av01');
      const tenc = init.indexOf('tenc');
      if (scheme === 'cbcs-aapl') assert.equal(init[tenc + 9], 0x19, '1:9 pattern');
      await checkDecrypts(rep, opt, keys['av1.mp4'], 40);
      let ranges = 0;
      for (const url of rep.media) {
        const enc = (await get(url)).body;
        for (const s of samples(enc, scheme === 'cenc' ? 8 : 0)) {
          for (const [a, b] of protectedRanges(s)) {
            if (scheme === 'cenc') assert.equal((b - a) % 16, 0, 'cenc: whole blocks');
            assert.ok(a >= 2, 'OBU header clear');
            ranges += 1;
          }
        }
      }
      assert.ok(ranges >= 40, `${ranges} protected ranges`);
    });
  }

  // A real client of the AV1 map: Chromium decodes AV1 with dav1d, and
  // Shaka gets the key from the MPD's ClearKey licence URL alone (W3C EME
  // §9.1.4). The title lasts 2 s: 1.5 s of it played.
  test('Shaka plays the AV1 cenc DASH title in Chromium with ClearKey', { skip: browserSkipReason() || false }, async () => {
    const browser = await launchBrowser();
    try {
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(edge.url)}`);
      try {
        await P.load(page, { player: 'shaka', path: '/av1.mp4/manifest(format=mpd-time-cmaf,encryption=cenc).mpd' });
        await P.checkPlays(page, { seconds: 1.5 });
        await P.assertNoPlayerErrors(page, 'Shaka on the AV1 cenc DASH title');
      } finally {
        await page.closeAll();
      }
    } finally {
      await browser.close();
    }
  });
});
