// A key per track type (issue 14; DASH-IF CPIX 2.3 §5.3.5 usage rules) end
// to end on the built module, with `key_source = cpix`: the abr title
// beside fixtures/cpix/trackkeys.cpix.xml (an AUDIO key, an SD key for
// pictures up to 1024x576 and an HD key above, as a SPEKE v2 provider
// answers PRESET-AUDIO-1 + PRESET-VIDEO-2):
//
// - DASH cenc: one AdaptationSet per key (240p+360p SD, 720p HD, audio),
//   each with its `cenc:default_KID` and its Widevine pssh; every
//   rendition's `tenc` names its key; ffmpeg decrypts each rendition with
//   ITS key to the clear frames, and the video with the audio key does not
//   give them;
// - HLS fMP4 cbcs: an EXT-X-SESSION-KEY per key, each media playlist's
//   EXT-X-KEY names its key (`Key(encryption=…,kid=…)`), each key URL
//   answers its key;
// - the ClearKey licence answers every key id asked that is the asset's;
// - Shaka Player and dash.js play the DASH cenc title by ClearKey in
//   Chromium (audio, SD and HD keys from one licence URL);
// - MPEG-TS AES-128 (`m3u8-aapl`, one track per playlist): each playlist's
//   key URL names its track's key and its segments decrypt with it; muxed
//   `m3u8-aapl-v3` and Smooth PIFF (one key per output) are 501;
// - `key_source = provider` with `key_provider_track_keys = audio-sd-hd`:
//   the test key server (wasm-tests/lib/keyserver.js, which echoes the
//   request with values) is asked once for AUDIO, SD and HD keys with their
//   usage rules, and ffmpeg decrypts each rendition with its type's key.
//
//   node --test wasm-tests/trackkeys.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/trackkeys.test.js
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { FIXTURES, MEDIA, startOrigin } = require('./lib/origin');
const { keyOf, startKeyServer } = require('./lib/keyserver');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, text } = require('./lib/edge-http');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');
const { b64url, cleanup, dashRenditions, fetchAll, frameMd5, postLicence, tencKid } = require('./lib/cmaf-crypto');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own configuration: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || false;

const SEGMENTS = 2;
// The fixture's keys (test data, not secrets).
const KEYS = {
  audio: { kid: 'a0a1a2a3-b4b5-4c6c-8d7d-e8e9f0f1f2f3', key: '0f1e2d3c4b5a69788796a5b4c3d2e1f0' },
  sd: { kid: '5d5d5d5d-1111-4222-8333-444455556666', key: '11223344556677889900aabbccddeeff' },
  hd: { kid: '4d4d4d4d-7777-4888-9999-aaaabbbbcccc', key: 'ffeeddccbbaa00998877665544332211' },
};
const hex = (kid) => kid.replace(/-/g, '');

/** The key a rendition should have, by type and picture size. */
function expectedKey(r) {
  if (r.contentType === CT.audio) return KEYS.audio;
  const w = Number(/\swidth="(\d+)"/.exec(r.repAttrs)?.[1]);
  const h = Number(/\sheight="(\d+)"/.exec(r.repAttrs)?.[1]);
  return w * h <= 1024 * 576 ? KEYS.sd : KEYS.hd;
}

/** An origin root with the abr title (symlinks) beside the trackkeys CPIX. */
function originRoot() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-trackkeys-'));
  fs.mkdirSync(path.join(root, 'tk'));
  for (const f of fs.readdirSync(path.join(MEDIA, 'abr'))) {
    if (f.endsWith('.cpix.xml')) continue;
    fs.symlinkSync(path.join(MEDIA, 'abr', f), path.join(root, 'tk', f));
  }
  fs.symlinkSync(path.join(FIXTURES, 'cpix', 'trackkeys.cpix.xml'), path.join(root, 'tk', 'abr.cpix.xml'));
  return root;
}

describe('a key per track type from CPIX usage rules', { skip }, () => {
  let root;
  let origin;
  let edge;
  let E;
  const ASSET = '/tk/abr.ism';

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

  test('DASH cenc: an AdaptationSet per key; ffmpeg decrypts each rendition with its own key only', async () => {
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd`;
    const res = await get(mpdUrl);
    assertOk(res, CT.dash, { immutable: false });
    const mpd = text(res);
    const sets = [...mpd.matchAll(/<AdaptationSet [^>]*>[\s\S]*?<\/AdaptationSet>/g)].map((m) => m[0]);
    assert.equal(sets.length, 3, mpd);
    // The SD and HD video sets, split only by key, name each other as
    // switchable (ISO/IEC 23009-1 §5.3.3.5); audio has no such partner.
    const id = (x) => /<AdaptationSet [^>]*\bid="(\d+)"/.exec(x)[1];
    const switching = (x) => /schemeIdUri="urn:mpeg:dash:adaptation-set-switching:2016" value="([^"]*)"/.exec(x)?.[1];
    const video = sets.filter((x) => x.includes('contentType="video"'));
    assert.equal(video.length, 2, mpd);
    assert.equal(switching(video[0]), id(video[1]), video[0]);
    assert.equal(switching(video[1]), id(video[0]), video[1]);
    assert.equal(switching(sets.find((x) => x.includes('contentType="audio"'))), undefined);
    const reps = dashRenditions(mpd, mpdUrl, SEGMENTS);
    assert.equal(reps.length, 4, mpd);
    const seen = new Set();
    for (const r of reps) {
      r.repAttrs = new RegExp(`<Representation [^>]*bandwidth="${r.bw}"[^>]*>`).exec(mpd)[0];
      const want = expectedKey(r);
      seen.add(want.kid);
      // The set's scheme descriptor, and every default_KID in it, is the key's.
      assert.match(r.set, new RegExp(`value="cenc" cenc:default_KID="${want.kid}"`), `${r.repAttrs}\n${r.set}`);
      for (const m of r.set.matchAll(/cenc:default_KID="([^"]+)"/g)) assert.equal(m[1], want.kid, r.set);
      const wv = /schemeIdUri="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"[\s\S]*?<cenc:pssh>([^<]+)</.exec(r.set);
      assert.ok(wv, r.set);
      assert.equal(Buffer.from(wv[1], 'base64').subarray(-16).toString('hex'), hex(want.kid), 'its Widevine pssh');

      const init = await get(r.init);
      assert.equal(tencKid(init.body), hex(want.kid), `${r.bw}: tenc`);
      const enc = await fetchAll([r.init, ...r.media], r.contentType);
      const plain = await fetchAll([r.init, ...r.media].map((u) => u.replace(',encryption=cenc', '')), r.contentType);
      const [dec, ref] = await Promise.all([frameMd5(enc, want.key), frameMd5(plain)]);
      assert.equal(ref.code, 0, ref.stderr);
      assert.equal(dec.code, 0, dec.stderr);
      assert.ok(ref.frames.length > 10, `${ref.frames.length} frames`);
      assert.deepEqual(dec.frames, ref.frames, `${r.bw}: decrypted with its key, the clear frames`);
      if (r.contentType === CT.video) {
        const wrong = await frameMd5(enc, KEYS.audio.key);
        assert.ok(wrong.code !== 0 || JSON.stringify(wrong.frames) !== JSON.stringify(ref.frames), `${r.bw}: the audio key does not decrypt the video`);
      }
    }
    assert.equal(seen.size, 3, 'audio, SD and HD keys all used');

    const laurl = /<dashif:Laurl[^>]*>([^<]+)<\/dashif:Laurl>/.exec(mpd)[1];
    const all = Object.values(KEYS);
    const lic = await postLicence(new URL(laurl, mpdUrl).href, all.map((k) => Buffer.from(hex(k.kid), 'hex')));
    assert.equal(lic.status, 200, lic.body.toString());
    const keys = JSON.parse(lic.body).keys;
    assert.equal(keys.length, 3);
    for (const k of all) {
      assert.ok(keys.some((j) => j.kid === b64url(Buffer.from(hex(k.kid), 'hex')) && j.k === b64url(Buffer.from(k.key, 'hex'))), JSON.stringify(keys));
    }
  });

  test('HLS fMP4 cbcs: a session key per key, each media playlist names its key, each key URL answers it', async () => {
    const masterUrl = `${E}${ASSET}/manifest(format=m3u8-cmaf,encryption=cbcs-aapl).m3u8`;
    const master = await get(masterUrl);
    assertOk(master, CT.hls, { immutable: false });
    const session = text(master).split('\n').filter((l) => l.startsWith('#EXT-X-SESSION-KEY:'));
    assert.equal(session.length, 3, text(master));
    for (const k of Object.values(KEYS)) {
      const line = session.find((l) => l.includes(`kid=${hex(k.kid)})`));
      assert.ok(line, text(master));
      assert.match(line, /^#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="QualityLevels\(\d+\)\/Key\(encryption=cbcs-aapl,kid=[0-9a-f]{32}\)",KEYFORMAT="identity"$/);
      const key = await get(new URL(/URI="([^"]+)"/.exec(line)[1], masterUrl).href);
      assert.equal(key.status, 200);
      assert.equal(key.body.toString('hex'), k.key);
    }
    const lines = text(master).split('\n');
    const playlists = [
      ...lines.filter((l) => l && !l.startsWith('#')),
      ...lines.filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO')).map((l) => /URI="([^"]+)"/.exec(l)[1]),
    ];
    const named = new Set();
    for (const uri of playlists) {
      const plUrl = new URL(uri, masterUrl).href;
      const pl = text(await get(plUrl));
      const keys = pl.split('\n').filter((l) => l.startsWith('#EXT-X-KEY:'));
      assert.equal(keys.length, 1, pl);
      const kid = /kid=([0-9a-f]{32})/.exec(keys[0])[1];
      named.add(kid);
      const initUri = /#EXT-X-MAP:URI="([^"]+)"/.exec(pl)[1];
      const init = await get(new URL(initUri, plUrl).href);
      assert.equal(tencKid(init.body), kid, `${uri}: the key tag names the init segment's key`);
    }
    assert.equal(named.size, 3, [...named].join(' '));
    // A key URL of this asset must say which key.
    assertError(await get(`${E}${ASSET}/QualityLevels(1)/Key(encryption=cbcs-aapl)`), 400, /kid=/);
  });

  const browserSkip = browserSkipReason();
  for (const player of ['shaka', 'dash.js']) {
    test(`${player} plays the DASH cenc title by ClearKey (the licence answers each key)`, { skip: browserSkip || false }, async () => {
      const browser = await launchBrowser();
      try {
        const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
        try {
          await P.load(page, { player, path: `${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd` });
          await P.checkPlays(page, { seconds: 3 });
          await P.assertNoPlayerErrors(page, `${player} on the key-per-track-type DASH title`);
        } finally {
          await page.closeAll();
        }
      } finally {
        await browser.close();
      }
    });
  }

  test('MPEG-TS AES-128 (m3u8-aapl): each playlist\'s key URL names its track\'s key and its segments decrypt with it', async () => {
    const crypto = require('node:crypto');
    const masterUrl = `${E}${ASSET}/manifest(format=m3u8-aapl,encryption=cbc).m3u8`;
    const master = text(await get(masterUrl));
    const session = master.split('\n').filter((l) => l.startsWith('#EXT-X-SESSION-KEY:METHOD=AES-128,'));
    assert.equal(session.length, 3, master);
    const lines = master.split('\n');
    const playlists = [
      ...lines.filter((l) => l && !l.startsWith('#')),
      ...lines.filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO')).map((l) => /URI="([^"]+)"/.exec(l)[1]),
    ];
    const byKid = Object.fromEntries(Object.values(KEYS).map((k) => [hex(k.kid), k.key]));
    const named = new Set();
    for (const uri of playlists) {
      const plUrl = new URL(uri, masterUrl).href;
      const pl = text(await get(plUrl));
      const key = /#EXT-X-KEY:METHOD=AES-128,URI="(Key\(encryption=cbc,kid=([0-9a-f]{32})\))"/.exec(pl);
      assert.ok(key, pl);
      named.add(key[2]);
      assert.equal((await get(new URL(key[1], plUrl).href)).body.toString('hex'), byKid[key[2]]);
      const seg = pl.split('\n').find((l) => l && !l.startsWith('#'));
      const enc = (await get(new URL(seg, plUrl).href)).body;
      const clear = (await get(new URL(seg.replace(',encryption=cbc', ''), plUrl).href)).body;
      // IV = the media sequence number (0), RFC 8216 §5.2.
      const d = crypto.createDecipheriv('aes-128-cbc', Buffer.from(byKid[key[2]], 'hex'), Buffer.alloc(16));
      assert.ok(Buffer.concat([d.update(enc), d.final()]).equals(clear), `${uri}: decrypts with its key`);
    }
    assert.equal(named.size, 3, [...named].join(' '));
  });

  test('outputs with one key for every track are 501: muxed MPEG-TS (m3u8-aapl-v3), Smooth PIFF', async () => {
    assertError(await get(`${E}${ASSET}/manifest(format=m3u8-aapl-v3,encryption=cbc).m3u8`), 501, /key per track type/);
    assertError(await get(`${E}${ASSET}/manifest(encryption=piff)`), 501, /key per track type/);
  });
});

describe('key_provider_track_keys = audio-sd-hd: a key per track type asked of a key server', { skip }, () => {
  let origin;
  let keys;
  let edge;
  let E;
  const ASSET = '/abr/abr.ism';

  before(async () => {
    origin = await startOrigin();
    keys = await startKeyServer();
    edge = await startEdge({
      originUrl: origin.url,
      settings: { key_source: 'provider', key_provider_url: keys.url, key_provider_track_keys: 'audio-sd-hd' },
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

  test('one request with AUDIO, SD and HD keys and rules; each rendition decrypts with its type\'s key', async () => {
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd`;
    const res = await get(mpdUrl);
    assertOk(res, CT.dash, { immutable: false });
    assert.deepEqual(keys.rejected, []);
    assert.equal(keys.requests.length, 1, 'one CPIX request');
    const asked = keys.requests[0];
    assert.equal(asked.kids.length, 3);
    const rule = (type) => new RegExp(`<cpix:ContentKeyUsageRule kid="([0-9a-f-]{36})" intendedTrackType="${type}">`).exec(asked.body)?.[1];
    const kidOf = { audio: rule('AUDIO'), sd: rule('SD'), hd: rule('HD') };
    assert.ok(kidOf.audio && kidOf.sd && kidOf.hd, asked.body);
    assert.match(asked.body, /<cpix:VideoFilter maxPixels="589824"\/>/);
    assert.match(asked.body, /<cpix:VideoFilter minPixels="589825"\/>/);
    const mpd = text(res);
    assert.equal([...mpd.matchAll(/<AdaptationSet /g)].length, 3, mpd);
    for (const r of dashRenditions(mpd, mpdUrl, SEGMENTS)) {
      r.repAttrs = new RegExp(`<Representation [^>]*bandwidth="${r.bw}"[^>]*>`).exec(mpd)[0];
      const want = expectedKey(r);
      const kid = want === KEYS.audio ? kidOf.audio : want === KEYS.sd ? kidOf.sd : kidOf.hd;
      assert.match(r.set, new RegExp(`value="cenc" cenc:default_KID="${kid}"`), `${r.repAttrs}\n${r.set}`);
      const enc = await fetchAll([r.init, ...r.media], r.contentType);
      const plain = await fetchAll([r.init, ...r.media].map((u) => u.replace(',encryption=cenc', '')), r.contentType);
      const [dec, ref] = await Promise.all([frameMd5(enc, keyOf(kid)), frameMd5(plain)]);
      assert.equal(dec.code, 0, dec.stderr);
      assert.ok(ref.frames.length > 10, `${ref.frames.length} frames`);
      assert.deepEqual(dec.frames, ref.frames, `${r.bw}: decrypted with the provider's ${kid}`);
    }
    assert.equal(keys.requests.length, 1, 'asked once, then cached');
  });
});
