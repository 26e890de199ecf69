// `encryption=cenc` end to end on the built module (issue 14): Common
// Encryption (ISO/IEC 23001-7 `cenc`, AES-128-CTR) of the CMAF outputs,
// DASH (`mpd-time-cmaf`) and HLS fMP4 (`m3u8-cmaf`).
//
// - ffmpeg decrypts a rendition (init + media segments, as a player
//   appends them) with `-decryption_key` and decodes the very frames of the
//   clear rendition (`-f framemd5`); the wrong key does not;
// - the MPD signals `urn:mpeg:dash:mp4protection:2011` `cenc` with
//   `cenc:default_KID`, ClearKey with the licence URL and the W3C common
//   system with a `cenc:pssh`, once per AdaptationSet; the HLS
//   playlist has `EXT-X-MAP` then `EXT-X-KEY:METHOD=SAMPLE-AES-CTR` with
//   `KEYFORMAT="identity"` and the key URL, which answers the key whose id
//   the init segment's `tenc` and `pssh` carry;
// - the ClearKey licence route `License(encryption=cenc)` (W3C EME §9.1.4),
//   the absolute `dashif:Laurl` of the MPD, answers a POSTed licence request
//   for the asset's key id with its JWK set (`application/json`, `no-store`),
//   a wrong key id with 403, a GET with 405, an oversized body with 413, and
//   behind signed URLs only with the manifest's token;
// - Shaka Player and dash.js play the DASH title in headless Chromium with
//   nothing but the MPD's licence URL (no key in the player configuration);
// - cenc with MPEG-TS is 400; without a key seed 501.
//
//   node --test wasm-tests/cenc.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/cenc.test.js
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, text } = require('./lib/edge-http');
const { signEdgepackPath } = require('./lib/token');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');
const { b64url, cleanup, dashRenditions, fetchAll, frameMd5, postLicence, tencKid } = require('./lib/cmaf-crypto');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own configuration: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || false;

const SEED = crypto.randomBytes(32).toString('base64');
const TOKEN_KEY = crypto.randomBytes(32).toString('base64');
const ASSET = '/abr/abr.ism';
/** Segments per rendition decoded: enough to cross GOPs, quick. */
const SEGMENTS = 3;

describe('encryption=cenc: Common Encryption of CMAF outputs', { skip }, () => {
  let origin;
  let edge;
  let E;

  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url, secrets: { encryption_key_seed: SEED } });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    cleanup();
  });

  test('HLS fMP4: SAMPLE-AES-CTR identity key after EXT-X-MAP; ffmpeg decodes the clear frames with it', async () => {
    const masterUrl = `${E}${ASSET}/manifest(format=m3u8-cmaf,encryption=cenc).m3u8`;
    const master = await get(masterUrl);
    assertOk(master, CT.hls, { immutable: false });
    const uris = [
      ...text(master).split('\n').filter((l) => l && !l.startsWith('#')),
      ...[...text(master).matchAll(/URI="([^"]+)"/g)].map((m) => m[1]),
    ];
    assert.ok(uris.length >= 2, text(master));
    // The first variant (video) and the first audio rendition: audio
    // playlists are the URIs of `#EXT-X-MEDIA:TYPE=AUDIO` lines.
    const audio = text(master).split('\n')
      .filter((l) => l.startsWith('#EXT-X-MEDIA:') && l.includes('TYPE=AUDIO'))
      .map((l) => /URI="([^"]+)"/.exec(l)?.[1])
      .filter(Boolean);
    assert.ok(audio.length >= 1, `an audio rendition: ${text(master)}`);
    for (const uri of [uris[0], audio[0]]) {
      assert.match(uri, /,encryption=cenc\)/, uri);
      const plUrl = new URL(uri, masterUrl).href;
      const pl = await get(plUrl);
      assertOk(pl, CT.hls, { immutable: false });
      const lines = text(pl).split('\n');
      const mapAt = lines.findIndex((l) => l.startsWith('#EXT-X-MAP:'));
      const keyAt = lines.findIndex((l) => l.startsWith('#EXT-X-KEY:'));
      assert.ok(mapAt >= 0 && keyAt > mapAt, `EXT-X-MAP before EXT-X-KEY: ${text(pl)}`);
      assert.equal(lines[keyAt], '#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="Key(encryption=cenc)",KEYFORMAT="identity"');
      assert.equal(lines.filter((l) => l.startsWith('#EXT-X-KEY')).length, 1, 'one key for the playlist');
      const keyRes = await get(new URL('Key(encryption=cenc)', plUrl).href);
      assert.equal(keyRes.status, 200);
      assert.equal(keyRes.body.length, 16);
      assert.equal(keyRes.headers.get('cache-control'), 'private, no-store');
      const mapUri = /URI="([^"]+)"/.exec(lines[mapAt])[1];
      const segs = lines.filter((l) => l && !l.startsWith('#')).slice(0, SEGMENTS);
      const ct = uri === audio[0] ? CT.audio : CT.video;
      const enc = await fetchAll([mapUri, ...segs].map((u) => new URL(u, plUrl).href), ct);
      const plain = await fetchAll([mapUri, ...segs].map((u) => new URL(u.replace(',encryption=cenc', ''), plUrl).href), ct);
      const init = await get(new URL(mapUri, plUrl).href);
      assert.ok(init.body.includes(Buffer.from('encv')) || init.body.includes(Buffer.from('enca')), 'encv/enca');
      const kid = tencKid(init.body);
      assert.ok(enc[0].subarray(0, init.body.length).equals(init.body));
      assert.ok(init.body.includes(Buffer.from(`1077efecc0b24d02ace33c1e52e2fb4b00000001${kid}`, 'hex')), 'common pssh with the kid');
      const [dec, ref] = await Promise.all([frameMd5(enc, keyRes.body.toString('hex')), frameMd5(plain)]);
      assert.equal(ref.code, 0, ref.stderr);
      assert.equal(dec.code, 0, dec.stderr);
      assert.ok(ref.frames.length > 10, `${ref.frames.length} frames`);
      assert.deepEqual(dec.frames, ref.frames, `${uri}: decrypted frames equal the clear ones`);
      const wrong = await frameMd5(enc, '00112233445566778899aabbccddeeff');
      assert.ok(wrong.code !== 0 || JSON.stringify(wrong.frames) !== JSON.stringify(ref.frames), 'the wrong key does not decode the clear frames');
    }
  });

  test('DASH: ContentProtection (mp4protection cenc + default_KID, ClearKey Laurl, common pssh) per AdaptationSet; ffmpeg decodes video and audio', async () => {
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd`;
    const res = await get(mpdUrl);
    assertOk(res, CT.dash, { immutable: false });
    const mpd = text(res);
    assert.match(mpd, /xmlns:cenc="urn:mpeg:cenc:2013"/);
    const reps = dashRenditions(mpd, mpdUrl, SEGMENTS);
    assert.ok(reps.length >= 2, mpd);
    const keyRes = await get(`${E}${ASSET}/QualityLevels(1)/Key(encryption=cenc)`);
    assert.equal(keyRes.status, 200);
    for (const r of reps) {
      // On the AdaptationSet (DASH-IF IOP §7.7.2; dash.js 4 reads it only
      // there), none on the Representation.
      assert.doesNotMatch(r.body, /ContentProtection/, `${r.bw}: ContentProtection on the Representation`);
      const kid = /cenc:default_KID="([0-9a-f-]{36})"/.exec(r.set)?.[1];
      assert.ok(kid, `${r.bw}: default_KID`);
      assert.match(r.set, /schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc"/);
      assert.match(r.set, /schemeIdUri="urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"/);
      // The ClearKey element has the licence URL and no pssh: dash.js gives
      // its init data to EME as `keyids` JSON, which a pssh box is not.
      const clearKey = /<ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"[\s\S]*?<\/ContentProtection>/.exec(r.set)?.[0];
      assert.ok(clearKey, `${r.bw}: the ClearKey ContentProtection`);
      assert.match(clearKey, /<dashif:Laurl licenseType="EME-1.0">http/);
      assert.doesNotMatch(clearKey, /pssh/);
      const pssh = Buffer.from(/<cenc:pssh>([^<]+)<\/cenc:pssh>/.exec(r.set)[1], 'base64');
      assert.equal(pssh.toString('latin1', 4, 8), 'pssh');
      assert.equal(pssh.subarray(32, 48).toString('hex'), kid.replace(/-/g, ''));
      assert.match(r.media[0], /,encryption=cenc\)\.m4s$/);
      // ffmpeg on the first Representation of each kind (the others share
      // the code path; the native tests decrypt every segment of them all).
      if (reps.find((x) => x.contentType === r.contentType) !== r) continue;
      const enc = await fetchAll([r.init, ...r.media], r.contentType);
      const plain = await fetchAll([r.init, ...r.media].map((u) => u.replace(',encryption=cenc', '')), r.contentType);
      assert.equal(tencKid(enc[0]), kid.replace(/-/g, ''));
      const [dec, ref] = await Promise.all([frameMd5(enc, keyRes.body.toString('hex')), frameMd5(plain)]);
      assert.equal(dec.code, 0, dec.stderr);
      assert.deepEqual(dec.frames, ref.frames, `${r.bw}: decrypted frames equal the clear ones`);
      // Encrypted segments are immutable outputs of their own.
      const seg = await get(r.media[1]);
      const clearSeg = await get(r.media[1].replace(',encryption=cenc', ''));
      assert.notEqual(seg.headers.get('etag'), clearSeg.headers.get('etag'));
      const again = await get(r.media[1]);
      assert.ok(again.body.equals(seg.body), 'the same bytes again');
    }
  });

  test('licence route: the JWK set for the asset\'s key id; wrong id 403, GET 405, large 413', async () => {
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd`;
    const mpd = text(await get(mpdUrl));
    const laurl = /<dashif:Laurl[^>]*>([^<]+)<\/dashif:Laurl>/.exec(mpd)?.[1];
    assert.equal(laurl, `${E}${ASSET}/License(encryption=cenc)`, 'absolute, next to the MPD');
    assert.match(mpd, /schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"/);
    const kid = Buffer.from(/cenc:default_KID="([0-9a-f-]{36})"/.exec(mpd)[1].replace(/-/g, ''), 'hex');
    const key = (await get(`${E}${ASSET}/QualityLevels(1)/Key(encryption=cenc)`)).body;
    const res = await postLicence(laurl, [crypto.randomBytes(16), kid]);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.match(res.headers.get('cache-control') || '', /no-store/);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(JSON.parse(res.body), { keys: [{ kty: 'oct', k: b64url(key), kid: b64url(kid) }], type: 'temporary' });
    assertError(await postLicence(laurl, [crypto.randomBytes(16)]), 403, /no key id of this asset/);
    // Another asset's licence route does not give this asset's key.
    assertError(await postLicence(`${E}/muxed_moov_end.mp4/License(encryption=cenc)`, [kid]), 403);
    assertError(await postLicence(laurl, [], { body: 'not json' }), 400, /licence request/);
    assertError(await postLicence(laurl, [], { body: JSON.stringify({ kids: ['x'.repeat(9000)] }) }), 413);
    assertError(await get(laurl), 405, /POST/);
    assertError(await postLicence(`${E}${ASSET}/manifest(format=mpd-time-cmaf)`, [kid]), 405, /POST is for License/);
    // A CORS preflight allows the POST and its JSON body.
    const pre = await fetch(laurl, { method: 'OPTIONS', headers: { Origin: 'https://player.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
    assert.match(pre.headers.get('access-control-allow-methods') || '', /POST/);
    assert.match(pre.headers.get('access-control-allow-headers') || '', /Content-Type/i);
  });

  const browserSkip = browserSkipReason();
  for (const player of ['shaka', 'dash.js']) {
    test(`${player} plays the cenc DASH title with only the MPD's licence URL`, { skip: browserSkip || false }, async () => {
      const browser = await launchBrowser();
      try {
        const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
        try {
          await P.load(page, { player, path: `${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd` });
          await P.checkPlays(page, { seconds: 4 });
          await P.assertNoPlayerErrors(page, `${player} on the cenc DASH title`);
        } finally {
          await page.closeAll();
        }
      } finally {
        await browser.close();
      }
    });
  }

  test('refusals: cenc with MPEG-TS is 400', async () => {
    assertError(await get(`${E}${ASSET}/manifest(format=m3u8-aapl,encryption=cenc)`), 400, /m3u8-cmaf/);
  });
});

describe('encryption=cenc without a key seed', { skip }, () => {
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

  test('is 501 "encryption=cenc needs encryption_key_seed"', async () => {
    for (const p of [
      `${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc)`,
      `${ASSET}/QualityLevels(1)/Fragments(video=0,format=mpd-time-cmaf,encryption=cenc)`,
    ]) {
      assertError(await get(edge.url + p), 501, /^encryption=cenc needs encryption_key_seed\n$/);
    }
  });
});

describe('encryption=cenc licences behind signed URLs', { skip }, () => {
  let origin;
  let edge;
  let E;
  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({
      originUrl: origin.url,
      settings: { token_required: 'on' },
      secrets: { encryption_key_seed: SEED, token_keys: `k1:${TOKEN_KEY}` },
    });
    E = edge.url;
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  test('the MPD\'s licence URL carries its token; without one the licence is 403', async () => {
    const inHour = Math.floor(Date.now() / 1000) + 3600;
    const signed = await signEdgepackPath(`${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd`, 'k1', TOKEN_KEY, inHour);
    const token = signed.split('/')[1];
    const res = await get(E + signed);
    assertOk(res, CT.dash, { immutable: false });
    const mpd = text(res);
    const laurl = /<dashif:Laurl[^>]*>([^<]+)<\/dashif:Laurl>/.exec(mpd)[1];
    assert.equal(laurl, `${E}/${token}${ASSET}/License(encryption=cenc)`);
    const kid = Buffer.from(/cenc:default_KID="([0-9a-f-]{36})"/.exec(mpd)[1].replace(/-/g, ''), 'hex');
    const ok = await postLicence(laurl, [kid]);
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(JSON.parse(ok.body).keys[0].kid, b64url(kid));
    assertError(await postLicence(`${E}${ASSET}/License(encryption=cenc)`, [kid]), 403, /token required/);
  });
});
