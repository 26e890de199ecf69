// Who may ask for what (issue 13), end to end on the built module: signed
// viewer URLs (every child of a signed manifest opens with the same token;
// expired, tampered, unknown-key, other-asset and missing tokens are 403),
// Azure locator URLs mapped to their container, allowed prefixes answering
// like a missing object, media-only packaging, nosniff everywhere, and a
// CORS allow-list echoing only listed origins with `Vary: Origin`.
// Tokens are minted with the README's WebCrypto snippet (lib/token.js).
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { MEDIA, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, parseHls, parseXml, text } = require('./lib/edge-http');
const { signEdgepackPath } = require('./lib/token');

const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own configuration: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || false;

const K1 = crypto.randomBytes(32).toString('base64');
const K2 = crypto.randomBytes(32).toString('base64');
const ASSET_GUID = crypto.randomUUID();
const LOCATOR = crypto.randomUUID();
const ABR = '/abr/abr.ism';

/** Every element named `name` under `node`. */
function findAll(node, name, out = []) {
  if (node.name === name) out.push(node);
  for (const c of node.children || []) findAll(c, name, out);
  return out;
}

describe('access: signed URLs, locators, prefixes, media only', { skip }, () => {
  let origin;
  let edge;
  let E;
  let root;
  const inHour = () => Math.floor(Date.now() / 1000) + 3600;
  const signed = (p, { kid = 'k1', key = K1, exp = inHour() } = {}) => signEdgepackPath(p, kid, key, exp);

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-access-'));
    for (const name of fs.readdirSync(MEDIA)) fs.symlinkSync(path.join(MEDIA, name), path.join(root, name));
    // Azure's layout: the asset's blobs in container `asset-{asset guid}`.
    fs.symlinkSync(path.join(MEDIA, 'abr'), path.join(root, `asset-${ASSET_GUID}`));
    fs.mkdirSync(path.join(root, 'abr-private'));
    fs.writeFileSync(path.join(root, 'abr-private', 'secret.txt'), 'password=hunter2\n');
    origin = await startOrigin({ root });
    edge = await startEdge({
      originUrl: origin.url,
      settings: {
        token_required: 'on',
        locators: JSON.stringify({ [LOCATOR.toUpperCase()]: ASSET_GUID }),
        allowed_prefixes: 'abr/,asset-',
        output_cache: 'off',
      },
      secrets: { token_keys: `k1:${K1},k2:${K2}` },
    });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  test('without a token: 403 "token required"; /health needs none', async () => {
    assertError(await get(`${E}${ABR}/manifest(format=m3u8-cmaf)`), 403, /token required/);
    assert.equal((await get(`${E}/health`)).status, 200);
  });

  test('one token opens an HLS master and every child URL it lists, in both HLS formats', async () => {
    for (const format of ['m3u8-cmaf', 'm3u8-aapl']) {
      const masterUrl = `${E}${await signed(`${ABR}/manifest(format=${format})`)}`;
      const master = await get(masterUrl);
      assertOk(master, CT.hls, { immutable: false });
      const m = parseHls(text(master), masterUrl);
      const playlists = [...m.variants, ...m.media, ...m.iframes].map((v) => v.url);
      assert.ok(playlists.length >= 2, `${format}: playlists listed`);
      for (const url of playlists) {
        assert.ok(new URL(url).pathname.startsWith(new URL(masterUrl).pathname.split('/abr/')[0]), `${url} keeps the token`);
        const pl = await get(url);
        assertOk(pl, CT.hls, { immutable: false });
        const p = parseHls(text(pl), url);
        const children = [p.map, p.segments[0]?.url, p.segments.at(-1)?.url].filter(Boolean);
        for (const child of children) {
          const res = await get(child);
          assert.equal(res.status, 200, `${child}: ${text(res).slice(0, 200)}`);
        }
      }
    }
  });

  test('one token opens a DASH MPD and its segments, and a Smooth manifest and its fragments', async () => {
    const mpdUrl = `${E}${await signed(`${ABR}/manifest(format=mpd-time-cmaf)`)}`;
    const mpd = await get(mpdUrl);
    assertOk(mpd, CT.dash, { immutable: false });
    const doc = parseXml(text(mpd));
    const rep = findAll(doc, 'Representation')[0];
    const tpl = findAll(doc, 'SegmentTemplate')[0];
    const id = rep.attrs.id;
    const init = new URL(tpl.attrs.initialization.replace('$RepresentationID$', id).replace('$Bandwidth$', rep.attrs.bandwidth), mpdUrl).href;
    const first = findAll(tpl, 'S')[0];
    const media = new URL(
      tpl.attrs.media.replace('$RepresentationID$', id).replace('$Bandwidth$', rep.attrs.bandwidth).replace('$Time$', first.attrs.t || '0'),
      mpdUrl,
    ).href;
    for (const url of [init, media]) assert.equal((await get(url)).status, 200, url);

    const ismcUrl = `${E}${await signed(`${ABR}/manifest`)}`;
    const ismc = await get(ismcUrl);
    assertOk(ismc, CT.smooth, { immutable: false });
    const sdoc = parseXml(text(ismc));
    const stream = findAll(sdoc, 'StreamIndex').find((s) => s.attrs.Type === 'video');
    const q = findAll(stream, 'QualityLevel')[0];
    const frag = stream.attrs.Url.replace('{bitrate}', q.attrs.Bitrate).replace('{start time}', findAll(stream, 'c')[0].attrs.t || '0');
    assert.equal((await get(new URL(frag, ismcUrl).href)).status, 200, frag);
  });

  test('expired, tampered, unknown key, malformed and other-asset tokens: 403, the token never echoed', async () => {
    const p = `${ABR}/manifest(format=m3u8-cmaf)`;
    const good = await signed(p);
    const sig = good.split('/')[1].split('.')[3];
    const flip = sig[5] === 'A' ? 'B' : 'A';
    const cases = [
      [await signed(p, { exp: Math.floor(Date.now() / 1000) - 5 }), /token expired/],
      [good.replace(sig, sig.slice(0, 5) + flip + sig.slice(6)), /token not valid/],
      [await signed(p, { exp: inHour() }).then((s) => s.replace(/^\/tk\.k1\.(\d+)/, (_, e) => `/tk.k1.${Number(e) + 1}`)), /token not valid/],
      [await signed(p, { kid: 'k9' }), /unknown token key/],
      [await signed(p, { key: K2 }), /token not valid/],
      [`/tk.k1.notanumber.${sig}${p}`, /malformed token/],
      // A token for abr/abr.ism does not open another asset.
      [`/${good.split('/')[1]}/abr/video_240.mp4/master.m3u8`, /token not valid/],
    ];
    for (const [pathWithToken, reason] of cases) {
      const res = await get(`${E}${pathWithToken}`);
      assertError(res, 403, reason);
      const tokSig = pathWithToken.split('/')[1].split('.')[3];
      assert.ok(!text(res).includes(tokSig), `${pathWithToken}: the error echoes the signature`);
    }
    // Rotation: a token from the second key opens the asset too.
    assert.equal((await get(`${E}${await signed(p, { kid: 'k2', key: K2 })}`)).status, 200);
  });

  test('Azure locator URLs are served from the asset container, same bytes; an unknown locator is 404', async () => {
    const p = '/manifest(format=m3u8-cmaf)';
    const viaLocator = await get(`${E}${await signed(`/${LOCATOR}/abr.ism${p}`)}`);
    const direct = await get(`${E}${await signed(`${ABR}${p}`)}`);
    assertOk(viaLocator, CT.hls, { immutable: false });
    assert.deepEqual(viaLocator.body, direct.body, 'locator and direct manifests agree');
    const seg = '/QualityLevels(500000)/Fragments(video=60000000,format=m3u8-cmaf)';
    const a = await get(`${E}${await signed(`/${LOCATOR}/abr.ism${seg}`)}`);
    const b = await get(`${E}${await signed(`${ABR}${seg}`)}`);
    assert.equal(a.status, 200, text(a).slice(0, 200));
    assert.deepEqual(a.body, b.body, 'locator and direct segments agree');
    assertError(await get(`${E}${await signed(`/${crypto.randomUUID()}/abr.ism${p}`)}`), 404, /unknown locator/);
  });

  test('outside the allowed prefixes answers exactly like a missing object; non-media objects are never packaged', async () => {
    const outside = await get(`${E}${await signed('/muxed_moov_end.mp4/master.m3u8')}`);
    const missing = await get(`${E}${await signed('/abr/nothere.mp4/master.m3u8')}`);
    assertError(outside, 404, /not found/);
    assertError(missing, 404, /not found/);
    const secret = await get(`${E}${await signed('/abr-private/,secret.txt,.urlset/master.m3u8')}`);
    assert.ok([400, 404].includes(secret.status), `non-media member: ${secret.status}`);
    assert.ok(!/hunter2|bytes|\d{2,} /.test(text(secret)), `the error quotes nothing of the object: ${text(secret)}`);
  });

  test('X-Content-Type-Options: nosniff on every answer', async () => {
    const urls = [
      [`${E}/health`, 'GET'],
      [`${E}${ABR}/manifest(format=m3u8-cmaf)`, 'GET'],
      [`${E}${await signed(`${ABR}/manifest(format=m3u8-cmaf)`)}`, 'GET'],
      [`${E}${await signed(`${ABR}/QualityLevels(500000)/Fragments(video=i,format=m3u8-cmaf)`)}`, 'GET'],
      [`${E}/nothing/here`, 'GET'],
      [`${E}${ABR}/manifest(format=m3u8-cmaf)`, 'OPTIONS'],
    ];
    for (const [url, method] of urls) {
      const res = await get(url, { method });
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${method} ${url} (${res.status})`);
    }
  });
});

describe('access: CORS allow-list', { skip }, () => {
  let origin;
  let edge;
  let E;

  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url, settings: { cors_origin: 'https://a.example, https://b.example:8443' } });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  test('a listed Origin is echoed with Vary: Origin; any other gets no ACAO; preflights alike', async () => {
    const url = `${E}${ABR}/manifest(format=m3u8-cmaf)`;
    for (const [sent, echoed] of [
      ['https://a.example', 'https://a.example'],
      ['https://b.example:8443', 'https://b.example:8443'],
      ['https://evil.example', null],
      ['null', null],
      [undefined, null],
    ]) {
      for (const method of ['GET', 'OPTIONS']) {
        const res = await get(url, { method, headers: sent ? { origin: sent } : {} });
        assert.ok([200, 204].includes(res.status), `${method} ${sent}: ${res.status}`);
        assert.equal(res.headers.get('access-control-allow-origin'), echoed, `${method} Origin ${sent}`);
        assert.match(res.headers.get('vary') || '', /origin/i, `${method} Origin ${sent}: Vary`);
      }
    }
  });
});
