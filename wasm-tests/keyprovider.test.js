// Keys from a key provider (issue 14 item 3; AWS SPEKE v2.0 / DASH-IF CPIX
// 2.3) end to end on the built module, with `key_source = provider`: the
// edge POSTs a CPIX request (contentId = the asset, one ContentKey per key
// id, no value) to `key_provider_url` through the sans-IO job (Fastly: the
// backend `key_provider`), and the answer's key encrypts the asset:
//
// - ffmpeg decrypts the cenc DASH output with the provider's key to the
//   clear output's frames; a wrong key does not;
// - `tenc`, `cenc:default_KID`, the key URL and the ClearKey licence carry
//   the provider's key id and key;
// - the provider is asked once per asset and scheme: its parsed answer is
//   cached (the test key server counts the requests);
// - the secret `key_provider_auth` is sent as `Authorization`;
// - a provider answering 503 is 502 naming the status; a provider that is
//   down is 502 with the reason.
//
//   node --test wasm-tests/keyprovider.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/keyprovider.test.js
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, text } = require('./lib/edge-http');
const { keyOf, startKeyServer } = require('./lib/keyserver');
const { b64url, cleanup, dashRenditions, fetchAll, frameMd5, postLicence, tencKid } = require('./lib/cmaf-crypto');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own configuration: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || false;

const ASSET = '/abr/abr.ism';
const SEGMENTS = 2;
// The key server's credentials: the secret `key_provider_auth`, sent as
// `Authorization` (the server answers 401 without it).
const AUTH = 'Bearer edgepack-test-token';

describe('key_source = provider: keys asked of a CPIX key server', { skip }, () => {
  let origin;
  let keys;
  let edge;
  let E;

  before(async () => {
    origin = await startOrigin();
    keys = await startKeyServer({ authorization: AUTH });
    edge = await startEdge({
      originUrl: origin.url,
      settings: { key_source: 'provider', key_provider_url: keys.url },
      secrets: { key_provider_auth: AUTH },
      backends: { key_provider: keys.origin },
    });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await keys?.stop();
    await origin?.stop();
    cleanup();
  });

  test('DASH cenc: the provider\'s key decrypts (ffmpeg) to the clear frames, a wrong key does not; asked once', async () => {
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd`;
    const res = await get(mpdUrl);
    assertOk(res, CT.dash, { immutable: false });
    assert.deepEqual(keys.rejected, []);
    assert.equal(keys.requests.length, 1, 'one CPIX request');
    const asked = keys.requests[0];
    assert.equal(asked.contentId, 'abr/abr.ism');
    assert.equal(asked.kids.length, 1);
    assert.match(asked.body, /commonEncryptionScheme="cenc"/);
    const kid = asked.kids[0];
    const kidHex = kid.replace(/-/g, '');
    const key = keyOf(kid);

    const mpd = text(res);
    const reps = dashRenditions(mpd, mpdUrl, SEGMENTS);
    const video = reps.find((r) => r.contentType === CT.video);
    assert.ok(video, mpd);
    assert.match(video.set, new RegExp(`value="cenc" cenc:default_KID="${kid}"`));

    const enc = await fetchAll([video.init, ...video.media], video.contentType);
    assert.equal(tencKid(enc[0]), kidHex);
    const plain = await fetchAll([video.init, ...video.media].map((u) => u.replace(',encryption=cenc', '')), video.contentType);
    const wrongKey = keyOf('00000000-0000-0000-0000-000000000000');
    const [dec, ref, wrong] = await Promise.all([frameMd5(enc, key), frameMd5(plain), frameMd5(enc, wrongKey)]);
    assert.equal(ref.code, 0, ref.stderr);
    assert.equal(dec.code, 0, dec.stderr);
    assert.ok(ref.frames.length > 10, `${ref.frames.length} frames`);
    assert.deepEqual(dec.frames, ref.frames, 'decrypted with the provider\'s key: the clear frames');
    assert.ok(wrong.code !== 0 || JSON.stringify(wrong.frames) !== JSON.stringify(ref.frames), 'a wrong key does not give the clear frames');

    // Key URL and ClearKey licence: the provider's key.
    const keyUrl = `${E}${ASSET}/QualityLevels(1)/Key(encryption=cenc)`;
    assert.equal((await get(keyUrl)).body.toString('hex'), key);
    const laurl = /<dashif:Laurl[^>]*>([^<]+)<\/dashif:Laurl>/.exec(mpd)[1];
    const lic = await postLicence(laurl, [Buffer.from(kidHex, 'hex')]);
    assert.equal(lic.status, 200, lic.body.toString());
    assert.equal(JSON.parse(lic.body).keys[0].k, b64url(Buffer.from(key, 'hex')));
    // Manifest, init, segments, key and licence: still the one request.
    assert.equal(keys.requests.length, 1, 'the parsed answer is cached');
  });

  test('a provider answering 503 is 502 naming the status; one that is down is 502', async () => {
    // Another scheme asks for another key id: not cached yet.
    keys.mode = 503;
    const before = keys.requests.length;
    const r = await get(`${E}${ASSET}/manifest(format=mpd-time-cmaf,encryption=cbcs-aapl)`);
    assertError(r, 502, /^key provider: failed for abr\/abr\.ism \(HTTP 503\)\n$/);
    assert.equal(keys.requests.length, before + 1);
    assert.match(keys.requests.at(-1).body, /commonEncryptionScheme="cbcs"/);
    // Not cached: asked again.
    assertError(await get(`${E}${ASSET}/QualityLevels(1)/Key(encryption=cbcs-aapl)`), 502, /HTTP 503/);
    assert.equal(keys.requests.length, before + 2);
    await keys.stop();
    assertError(await get(`${E}${ASSET}/QualityLevels(1)/Key(encryption=cbc)`), 502, /^key provider: unreachable asking for the keys of abr\/abr\.ism/);
    // The clear title needs no key.
    assertOk(await get(`${E}${ASSET}/manifest(format=mpd-time-cmaf)`), CT.dash, { immutable: false });
  });
});
