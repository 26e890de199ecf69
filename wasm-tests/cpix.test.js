// Keys from a CPIX document (issue 14; DASH-IF CPIX 2.3) end to end on the
// built module, with `key_source = cpix` and no key seed:
//
// - the asset's key is the one of `{asset without extension}.cpix.xml`
//   beside it (fixtures/cpix/abr.cpix.xml, prefixed namespaces, as key
//   servers write it): ffmpeg decrypts the cenc DASH output with it and
//   decodes the clear frames; the key URL and the ClearKey licence answer
//   it; `tenc` and `cenc:default_KID` carry its id;
// - the document's DRMSystemList is signalled: Widevine's and PlayReady's
//   PSSH boxes, exactly, in the init segment after the common one; in the
//   MPD a `cenc:pssh` for Widevine and PlayReady's ContentProtectionData
//   verbatim; in HLS the FairPlay `skd://` EXT-X-KEY (media playlists) and
//   EXT-X-SESSION-KEY (master) for `cbcs-aapl`;
// - every encrypted HLS master has an EXT-X-SESSION-KEY for the edge's own
//   key (RFC 8216 §4.3.4.5), resolving to the media playlists' key URL;
// - Shaka Player still plays the ClearKey path (DASH cenc, HLS fMP4 cbcs);
// - a missing document is 404 naming it, an invalid one 502, an
//   EncryptedValue key 501; the clear title needs none.
//
//   node --test wasm-tests/cpix.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/cpix.test.js
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { FIXTURES, MEDIA, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, text } = require('./lib/edge-http');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');
const { b64url, cleanup, dashRenditions, fetchAll, frameMd5, postLicence, tencKid } = require('./lib/cmaf-crypto');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own configuration: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || false;

const CPIX = path.join(FIXTURES, 'cpix');
const F = JSON.parse(fs.readFileSync(path.join(CPIX, 'pssh.json'), 'utf8'));
const KID_HEX = F.kid.replace(/-/g, '');
const SEGMENTS = 2;

/**
 * An origin root: folders holding the abr title (symlinks to
 * fixtures/media/abr) beside a CPIX fixture each, and one without any.
 */
function originRoot() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-cpix-'));
  const folders = { abr: 'abr.cpix.xml', invalid: 'invalid.cpix.xml', encrypted: 'encrypted.cpix.xml', missing: null };
  for (const [dir, cpix] of Object.entries(folders)) {
    fs.mkdirSync(path.join(root, dir));
    for (const f of fs.readdirSync(path.join(MEDIA, 'abr'))) {
      if (f.endsWith('.cpix.xml')) continue;
      fs.symlinkSync(path.join(MEDIA, 'abr', f), path.join(root, dir, f));
    }
    if (cpix) fs.symlinkSync(path.join(CPIX, cpix), path.join(root, dir, 'abr.cpix.xml'));
  }
  return root;
}

describe('key_source = cpix: keys and DRM signalling from the CPIX document beside the asset', { skip }, () => {
  let root;
  let origin;
  let edge;
  let E;
  const ASSET = '/abr/abr.ism';

  before(async () => {
    root = originRoot();
    origin = await startOrigin({ root });
    edge = await startEdge({ originUrl: origin.url, settings: { key_source: 'cpix' } });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    cleanup();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  test('DASH cenc: the CPIX key decrypts (ffmpeg), the MPD and init carry every system\'s pssh exactly', async () => {
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd`;
    const res = await get(mpdUrl);
    assertOk(res, CT.dash, { immutable: false });
    const mpd = text(res);
    const reps = dashRenditions(mpd, mpdUrl, SEGMENTS);
    const video = reps.find((r) => r.contentType === CT.video);
    assert.ok(video, mpd);
    const set = video.set;
    assert.match(set, new RegExp(`value="cenc" cenc:default_KID="${F.kid}"`));
    // ClearKey (the test players' path) as before, then the document's systems.
    assert.match(set, /schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"[\s\S]*<dashif:Laurl/);
    const wv = /<ContentProtection schemeIdUri="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"[\s\S]*?<\/ContentProtection>/.exec(set)?.[0];
    assert.ok(wv, set);
    assert.equal(/<cenc:pssh>([^<]+)<\/cenc:pssh>/.exec(wv)[1], F.widevine);
    const pr = /<ContentProtection schemeIdUri="urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95"[\s\S]*?<\/ContentProtection>/.exec(set)?.[0];
    assert.ok(pr, set);
    assert.ok(pr.includes(`<mspr:pro xmlns:mspr="urn:microsoft:playready">${F.playreadyPro}</mspr:pro>`), pr);
    assert.ok(pr.includes(`<pssh xmlns="urn:mpeg:cenc:2013">${F.playready}</pssh>`), pr);
    assert.doesNotMatch(mpd, /94ce86fb/, 'FairPlay is HLS only');

    const init = await get(video.init);
    assert.equal(init.status, 200);
    const common = Buffer.from(`0000003470737368010000001077efecc0b24d02ace33c1e52e2fb4b00000001${KID_HEX}00000000`, 'hex');
    const systems = Buffer.concat([common, Buffer.from(F.widevine, 'base64'), Buffer.from(F.playready, 'base64')]);
    assert.ok(init.body.subarray(init.body.length - systems.length).equals(systems), 'the common, Widevine and PlayReady pssh boxes end the moov');
    assert.equal(tencKid(init.body), KID_HEX);

    const enc = await fetchAll([video.init, ...video.media], video.contentType);
    const plain = await fetchAll([video.init, ...video.media].map((u) => u.replace(',encryption=cenc', '')), video.contentType);
    const [dec, ref] = await Promise.all([frameMd5(enc, F.key), frameMd5(plain)]);
    assert.equal(ref.code, 0, ref.stderr);
    assert.equal(dec.code, 0, dec.stderr);
    assert.ok(ref.frames.length > 10, `${ref.frames.length} frames`);
    assert.deepEqual(dec.frames, ref.frames, 'decrypted with the CPIX key: the clear frames');

    const laurl = /<dashif:Laurl[^>]*>([^<]+)<\/dashif:Laurl>/.exec(mpd)[1];
    const lic = await postLicence(laurl, [Buffer.from(KID_HEX, 'hex')]);
    assert.equal(lic.status, 200, lic.body.toString());
    assert.equal(JSON.parse(lic.body).keys[0].k, b64url(Buffer.from(F.key, 'hex')));
  });

  test('HLS: EXT-X-SESSION-KEY for the edge key and FairPlay in the master, FairPlay EXT-X-KEY in media playlists', async () => {
    const masterUrl = `${E}${ASSET}/manifest(format=m3u8-cmaf,encryption=cbcs-aapl).m3u8`;
    const master = await get(masterUrl);
    assertOk(master, CT.hls, { immutable: false });
    const session = text(master).split('\n').filter((l) => l.startsWith('#EXT-X-SESSION-KEY:'));
    assert.equal(session.length, 2, text(master));
    assert.match(session[0], /^#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="QualityLevels\(\d+\)\/Key\(encryption=cbcs-aapl\)",KEYFORMAT="identity"$/);
    assert.equal(session[1], F.fairplayMaster);
    const sessionKey = await get(new URL(/URI="([^"]+)"/.exec(session[0])[1], masterUrl).href);
    assert.equal(sessionKey.body.toString('hex'), F.key);
    const plUri = text(master).split('\n').find((l) => l && !l.startsWith('#'));
    const plUrl = new URL(plUri, masterUrl).href;
    const pl = text(await get(plUrl));
    const keys = pl.split('\n').filter((l) => l.startsWith('#EXT-X-KEY:'));
    assert.deepEqual(keys, ['#EXT-X-KEY:METHOD=SAMPLE-AES,URI="Key(encryption=cbcs-aapl)",KEYFORMAT="identity"', F.fairplayMedia]);
    // The session key's URI is the media playlist's key URI.
    assert.equal(new URL('Key(encryption=cbcs-aapl)', plUrl).href, new URL(/URI="([^"]+)"/.exec(session[0])[1], masterUrl).href.replace(/QualityLevels\(\d+\)/, /QualityLevels\(\d+\)/.exec(plUrl)[0]));
    // cenc is SAMPLE-AES-CTR: FairPlay's SAMPLE-AES lines are left out.
    const cenc = text(await get(`${E}${ASSET}/manifest(format=m3u8-cmaf,encryption=cenc).m3u8`));
    assert.match(cenc, /^#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES-CTR,URI="QualityLevels\(\d+\)\/Key\(encryption=cenc\)",KEYFORMAT="identity"$/m);
    assert.doesNotMatch(cenc, /skd:/);
    // MPEG-TS AES-128: the session key too, and the key is the CPIX one.
    const ts = text(await get(`${E}${ASSET}/manifest(format=m3u8-aapl,encryption=cbc).m3u8`));
    const tsSession = /^#EXT-X-SESSION-KEY:METHOD=AES-128,URI="([^"]+)"$/m.exec(ts);
    assert.ok(tsSession, ts);
    assert.equal((await get(new URL(tsSession[1], `${E}${ASSET}/manifest`).href)).body.toString('hex'), F.key);
  });

  const browserSkip = browserSkipReason();
  test('shaka plays DASH cenc and HLS fMP4 cbcs (with session keys) by ClearKey beside the CPIX systems', { skip: browserSkip || false }, async () => {
    const browser = await launchBrowser();
    try {
      for (const [label, manifest] of [['DASH cenc', 'manifest(format=mpd-time-cmaf,encryption=cenc).mpd'], ['HLS fMP4 cbcs', 'manifest(format=m3u8-cmaf,encryption=cbcs-aapl).m3u8']]) {
        const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
        try {
          await P.load(page, { player: 'shaka', path: `${ASSET}/${manifest}` });
          await P.checkPlays(page, { seconds: 3 });
          await P.assertNoPlayerErrors(page, `shaka on the CPIX ${label} title`);
        } finally {
          await page.closeAll();
        }
      }
    } finally {
      await browser.close();
    }
  });

  test('missing document 404 naming it, invalid 502, EncryptedValue 501; clear needs none', async () => {
    const mpd = (dir) => `${E}/${dir}/abr.ism/manifest(format=mpd-time-cmaf,encryption=cenc)`;
    assertError(await get(mpd('missing')), 404, /^CPIX document missing\/abr\.cpix\.xml not found at origin\n$/);
    assertError(await get(`${E}/missing/abr.ism/QualityLevels(1)/Key(encryption=cbc)`), 404, /CPIX document/);
    assertOk(await get(`${E}/missing/abr.ism/manifest(format=mpd-time-cmaf)`), CT.dash, { immutable: false });
    assertError(await get(mpd('invalid')), 502, /^CPIX document invalid\/abr\.cpix\.xml: a ContentKey's PlainValue is not the base64 of 16 bytes\n$/);
    const r = await get(mpd('encrypted'));
    assertError(r, 501, /EncryptedValue/);
    assert.doesNotMatch(text(r), new RegExp(F.key, 'i'));
  });
});
