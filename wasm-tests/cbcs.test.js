// `encryption=cbcs-aapl` end to end on the built module (issue 14): Common
// Encryption `cbcs` (ISO/IEC 23001-7 §10.4: AES-128-CBC, 1:9 pattern for
// video, whole blocks for audio, constant IV) of the CMAF outputs, HLS
// fMP4 (`m3u8-cmaf`) and DASH (`mpd-time-cmaf`).
//
// - ffmpeg decrypts a DASH video and audio rendition and an HLS audio
//   rendition (init + media segments) with `-decryption_key` and decodes
//   the very frames of the clear rendition (`-f framemd5`); the wrong key
//   does not;
// - the init segment has `schm` `cbcs` and a version-1 `tenc` with the
//   pattern and a 16-byte constant IV; the HLS playlist has `EXT-X-MAP`
//   then `EXT-X-KEY:METHOD=SAMPLE-AES` with `KEYFORMAT="identity"`; the
//   MPD has `mp4protection` `value="cbcs"` with `cenc:default_KID` and the
//   ClearKey `dashif:Laurl` `License(encryption=cbcs-aapl)`, which answers
//   the key;
// - Shaka Player plays the DASH and the HLS fMP4 titles in headless
//   Chromium (ClearKey, `cbcs`) and seeks; on DASH it switches rendition;
// - cbcs-aapl with MPEG-TS is 400.
//
//   node --test wasm-tests/cbcs.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/cbcs.test.js
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, text } = require('./lib/edge-http');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');
const { b64url, cleanup, dashRenditions, fetchAll, frameMd5, postLicence, tencKid } = require('./lib/cmaf-crypto');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own configuration: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || false;

const SEED = crypto.randomBytes(32).toString('base64');
const ASSET = '/abr/abr.ism';
const OPT = ',encryption=cbcs-aapl';
/** Segments per rendition decoded: enough to cross a GOP, quick. */
const SEGMENTS = 2;

/** The pattern byte, IV size and constant IV of an init segment's `tenc`. */
function cbcsTenc(init) {
  const schm = init.indexOf('schm');
  assert.equal(init.toString('latin1', schm + 8, schm + 12), 'cbcs', 'schm cbcs');
  const at = init.indexOf('tenc');
  assert.equal(init[at + 4], 1, 'tenc version 1');
  assert.equal(init[at + 11], 0, 'no per-sample IV');
  assert.equal(init[at + 28], 16, '16-byte constant IV');
  return { pattern: init[at + 9], iv: init.subarray(at + 29, at + 45).toString('hex') };
}

/** ffmpeg decodes `enc` with the key to `plain`'s frames, not with another. */
async function checkDecrypts(what, enc, plain, keyHex, { wrongKey = true } = {}) {
  const [dec, ref] = await Promise.all([frameMd5(enc, keyHex), frameMd5(plain)]);
  assert.equal(ref.code, 0, ref.stderr);
  assert.equal(dec.code, 0, dec.stderr);
  assert.ok(ref.frames.length > 10, `${what}: ${ref.frames.length} frames`);
  assert.deepEqual(dec.frames, ref.frames, `${what}: decrypted frames equal the clear ones`);
  if (!wrongKey) return;
  const wrong = await frameMd5(enc, '00112233445566778899aabbccddeeff');
  assert.ok(wrong.code !== 0 || JSON.stringify(wrong.frames) !== JSON.stringify(ref.frames), `${what}: the wrong key does not decode the clear frames`);
}

describe('encryption=cbcs-aapl: cbcs Common Encryption of CMAF outputs', { skip }, () => {
  let origin;
  let edge;
  let E;
  let keyHex;

  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url, secrets: { encryption_key_seed: SEED } });
    E = edge.url;
    const key = await get(`${E}${ASSET}/QualityLevels(1)/Key(encryption=cbcs-aapl)`);
    assert.equal(key.status, 200);
    assert.equal(key.body.length, 16);
    keyHex = key.body.toString('hex');
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    cleanup();
  });

  test('HLS fMP4: SAMPLE-AES identity key after EXT-X-MAP; ffmpeg decodes the clear video and audio frames', async () => {
    const masterUrl = `${E}${ASSET}/manifest(format=m3u8-cmaf${OPT}).m3u8`;
    const master = await get(masterUrl);
    assertOk(master, CT.hls, { immutable: false });
    const video = text(master).split('\n').filter((l) => l && !l.startsWith('#'));
    const audio = [...text(master).matchAll(/#EXT-X-MEDIA:TYPE=AUDIO,.*URI="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(video.length >= 2 && audio.length >= 1, text(master));
    // Every playlist's signalling; ffmpeg on the audio rendition (the DASH
    // test decodes video and audio, with the same segment code).
    for (const [uri, isAudio] of [[video[0], false], [audio[0], true]]) {
      assert.ok(uri.includes(`${OPT})`), uri);
      const plUrl = new URL(uri, masterUrl).href;
      const pl = await get(plUrl);
      assertOk(pl, CT.hls, { immutable: false });
      const lines = text(pl).split('\n');
      const mapAt = lines.findIndex((l) => l.startsWith('#EXT-X-MAP:'));
      const keyAt = lines.findIndex((l) => l.startsWith('#EXT-X-KEY:'));
      assert.ok(mapAt >= 0 && keyAt > mapAt, `EXT-X-MAP before EXT-X-KEY: ${text(pl)}`);
      assert.equal(lines[keyAt], '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="Key(encryption=cbcs-aapl)",KEYFORMAT="identity"');
      const keyRes = await get(new URL('Key(encryption=cbcs-aapl)', plUrl).href);
      assert.equal(keyRes.body.toString('hex'), keyHex, 'one key per asset');
      const mapUri = /URI="([^"]+)"/.exec(lines[mapAt])[1];
      const segs = lines.filter((l) => l && !l.startsWith('#')).slice(0, SEGMENTS);
      const ct = isAudio ? CT.audio : CT.video;
      const enc = await fetchAll([mapUri, ...segs].map((u) => new URL(u, plUrl).href), ct);
      const plain = await fetchAll([mapUri, ...segs].map((u) => new URL(u.replace(OPT, ''), plUrl).href), ct);
      const init = (await get(new URL(mapUri, plUrl).href)).body;
      assert.ok(init.includes(Buffer.from(isAudio ? 'enca' : 'encv')), 'encv/enca');
      const { pattern } = cbcsTenc(init);
      assert.equal(pattern, isAudio ? 0x00 : 0x19, 'audio whole blocks, video 1:9');
      assert.ok(init.includes(Buffer.from(`1077efecc0b24d02ace33c1e52e2fb4b00000001${tencKid(init)}`, 'hex')), 'common pssh with the kid');
      // Sizes: cbcs encrypts in place; only video's moof grows (saiz,
      // saio, senc), audio has no sample auxiliary information at all.
      const seg = await get(new URL(segs[0], plUrl).href);
      const clearSeg = await get(new URL(segs[0].replace(OPT, ''), plUrl).href);
      assert.equal(Number(seg.headers.get('content-length')), seg.body.length);
      if (isAudio) assert.equal(seg.body.length, clearSeg.body.length);
      else assert.ok(seg.body.length > clearSeg.body.length);
      assert.ok(!seg.body.equals(clearSeg.body));
      if (isAudio) await checkDecrypts(uri, enc, plain, keyHex, { wrongKey: false });
    }
  });

  test('DASH: mp4protection cbcs + default_KID and the ClearKey licence URL; ffmpeg decodes video and audio; the licence answers the key', async () => {
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf${OPT}).mpd`;
    const res = await get(mpdUrl);
    assertOk(res, CT.dash, { immutable: false });
    const mpd = text(res);
    const laurl = /<dashif:Laurl[^>]*>([^<]+)<\/dashif:Laurl>/.exec(mpd)?.[1];
    assert.equal(laurl, `${E}${ASSET}/License(encryption=cbcs-aapl)`, 'absolute, next to the MPD');
    const reps = dashRenditions(mpd, mpdUrl, SEGMENTS);
    assert.ok(reps.length >= 2, mpd);
    let kid;
    for (const r of reps) {
      assert.doesNotMatch(r.body, /ContentProtection/, `${r.bw}: ContentProtection on the Representation`);
      kid = /cenc:default_KID="([0-9a-f-]{36})"/.exec(r.set)?.[1];
      assert.ok(kid, `${r.bw}: default_KID`);
      assert.match(r.set, /schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cbcs"/);
      assert.match(r.set, /schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"/);
      assert.ok(r.media[0].endsWith(`${OPT}).m4s`), r.media[0]);
      // ffmpeg on the smallest Representation of each kind (quickest to
      // decode; the others share the code path).
      const smallest = reps.filter((x) => x.contentType === r.contentType).reduce((a, b) => (Number(b.bw) < Number(a.bw) ? b : a));
      if (smallest !== r) continue;
      const enc = await fetchAll([r.init, ...r.media], r.contentType);
      const plain = await fetchAll([r.init, ...r.media].map((u) => u.replace(OPT, '')), r.contentType);
      assert.equal(tencKid(enc[0]), kid.replace(/-/g, ''));
      await checkDecrypts(`DASH ${r.bw}`, enc, plain, keyHex, { wrongKey: r.contentType === CT.video });
    }
    const kidBytes = Buffer.from(kid.replace(/-/g, ''), 'hex');
    const lic = await postLicence(laurl, [kidBytes]);
    assert.equal(lic.status, 200, lic.body.toString());
    assert.deepEqual(JSON.parse(lic.body), { keys: [{ kty: 'oct', k: b64url(Buffer.from(keyHex, 'hex')), kid: b64url(kidBytes) }], type: 'temporary' });
  });

  const browserSkip = browserSkipReason();
  // Rendition switches on DASH only (the same segments under HLS; CI time).
  for (const [label, manifest, switches] of [['DASH', `manifest(format=mpd-time-cmaf${OPT}).mpd`, true], ['HLS fMP4', `manifest(format=m3u8-cmaf${OPT}).m3u8`, false]]) {
    test(`shaka plays the cbcs ${label} title (ClearKey)${switches ? ', switches rendition' : ''} and seeks`, { skip: browserSkip || false }, async () => {
      const browser = await launchBrowser();
      try {
        const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
        try {
          await P.load(page, { player: 'shaka', path: `${ASSET}/${manifest}` });
          const end = await P.checkPlays(page, { seconds: 3 });
          const renditions = await page.evaluate(() => window.edgepack.renditions());
          assert.ok(renditions.length >= 2, JSON.stringify(renditions));
          if (switches) {
            await P.checkRendition(page, renditions.reduce((a, b) => (b.height < a.height ? b : a)));
          }
          await P.checkSeek(page, end.duration / 2);
          await P.assertNoPlayerErrors(page, `shaka on the cbcs ${label} title`);
        } finally {
          await page.closeAll();
        }
      } finally {
        await browser.close();
      }
    });
  }

  test('refusals: cbcs-aapl with MPEG-TS is 400', async () => {
    assertError(await get(`${E}${ASSET}/manifest(format=m3u8-aapl${OPT})`), 400, /m3u8-cmaf/);
  });
});
