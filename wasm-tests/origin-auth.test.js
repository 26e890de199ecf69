// Origin authentication against real bucket servers (wasm-tests/lib/buckets.js):
// the edge signs its origin reads for Azurite with Shared Key and with a SAS,
// and for an S3 server with SigV4, and what it serves from each private
// container/bucket is byte-for-byte what it serves from the plain local origin
// (origin/server.js) for the same URLs: HLS fMP4 and TS (master, media
// playlist, init, a media segment), DASH (MPD, init, a segment), Smooth
// (manifest, a fragment). ffmpeg decodes an HLS and a DASH output of each to
// the same frames as from the local origin, and hls.js plays from Azurite.
//
// Refused credentials (a wrong key or secret, a SAS signed with a wrong key,
// an expired SAS, no credentials on a private container) answer 502 with
// `origin refused credentials`, and nothing the edge answers carries the key,
// a signature or the SAS.
//
// And the plumbing under all of it, which needs no signing: origin_host and
// origin_prefix reach objects in a public-read container/bucket of the same
// servers (origin_auth none).
//
// Settings and secrets (buckets.js makes them): origin_auth, azure_account,
// azure_key (secret), azure_sas (secret), s3_access_key_id,
// s3_secret_access_key (secret), s3_region, origin_host, origin_prefix.
//
//   node --test wasm-tests/origin-auth.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/origin-auth.test.js
'use strict';

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { SECRET_STORE, edgeConfig, edgeSkipReason, startEdge } = require('./lib/edge');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const { get, mapLimit, parseHls, parseMpd, parseXml, text } = require('./lib/edge-http');
const { startAzurite, startS3 } = require('./lib/buckets');
const P = require('./lib/players');

// Each test here starts its own edges against its own origins.
const SKIP = process.env.EDGEPACK_EDGE_URL ? 'needs its own edges: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || false;

const ABR = '/abr/abr.ism';
const REFUSED = /origin refused credentials/;

/** The first and the middle element of a list (one of each when it is short). */
const firstAndMiddle = (list) => [...new Set([list[0], list[Math.floor(list.length / 2)]])].filter(Boolean);

/** A path with its query, from an absolute URL. */
const pathOf = (url) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

async function fetchOk(base, p) {
  const res = await get(base + p);
  assert.equal(res.status, 200, `GET ${p}: ${res.status} ${text(res).slice(0, 300)}`);
  return res;
}

/**
 * The URLs (paths) to compare for one edge: walked from the manifests it
 * serves, so they are the URLs a player would fetch.
 */
async function samplePaths(edgeUrl) {
  const out = [];
  const add = (what, p) => out.push({ what, path: p });

  // HLS: master, the first variant's playlist, its init (fMP4), the first
  // and a middle segment; and the first audio rendition's playlist.
  for (const [label, master] of [
    ['HLS fMP4', `${ABR}/manifest(format=m3u8-cmaf)`],
    ['HLS TS', `${ABR}/manifest(format=m3u8-aapl)`],
    ['HLS fMP4, bare mp4', '/muxed_moov_end.mp4/master.m3u8'],
  ]) {
    add(`${label} master`, master);
    const m = parseHls(text(await fetchOk(edgeUrl, master)), edgeUrl + master);
    assert.ok(m.variants.length, `${master}: no variants`);
    const playlists = [m.variants[0].url, ...m.media.slice(0, 1).map((x) => x.url)];
    for (const pl of playlists) {
      const pp = pathOf(pl);
      add(`${label} media playlist`, pp);
      const p = parseHls(text(await fetchOk(edgeUrl, pp)), pl);
      if (p.map) add(`${label} init`, pathOf(p.map));
      for (const s of firstAndMiddle(p.segments)) add(`${label} segment`, pathOf(s.url));
    }
  }

  // DASH: the MPD, and per adaptation (video, audio) one representation's
  // init and a middle segment.
  const mpd = `${ABR}/manifest(format=mpd-time-cmaf)`;
  add('DASH MPD', mpd);
  const d = parseMpd(text(await fetchOk(edgeUrl, mpd)), edgeUrl + mpd);
  for (const kind of ['video', 'audio']) {
    const rep = d.reps.find((r) => r.contentType === kind);
    assert.ok(rep, `${mpd}: no ${kind} representation`);
    if (rep.init) add(`DASH ${kind} init`, pathOf(rep.init));
    add(`DASH ${kind} segment`, pathOf(rep.segments[Math.floor(rep.segments.length / 2)].url));
  }

  // Smooth: the manifest and the middle fragment of each stream's first level.
  const ism = `${ABR}/manifest`;
  add('Smooth manifest', ism);
  const doc = parseXml(text(await fetchOk(edgeUrl, ism)));
  const walk = (node, fn) => {
    fn(node);
    node.children.forEach((c) => walk(c, fn));
  };
  const streams = [];
  walk(doc, (n) => n.name === 'StreamIndex' && streams.push(n));
  assert.ok(streams.length, `${ism}: no StreamIndex`);
  for (const s of streams) {
    const level = s.children.find((c) => c.name === 'QualityLevel');
    const chunks = s.children.filter((c) => c.name === 'c');
    let t = 0;
    const starts = chunks.map((c) => {
      if (c.attrs.t !== undefined) t = Number(c.attrs.t);
      const start = t;
      t += Number(c.attrs.d);
      return start;
    });
    const start = starts[Math.floor(starts.length / 2)];
    const frag = s.attrs.Url.replace('{bitrate}', level.attrs.Bitrate).replace('{Bitrate}', level.attrs.Bitrate).replace(/\{start[ _]time\}/i, String(start));
    add(`Smooth ${s.attrs.Type} fragment`, `${ABR}/${frag}`);
  }
  return out;
}

/** ffmpeg's CRC of every decoded frame of the first video stream of `url`. */
function framecrc(url) {
  const args = ['-hide_banner', '-nostdin', '-v', 'error', '-i', url, '-map', '0:v:0', '-fps_mode', 'passthrough', '-f', 'framecrc', '-'];
  return new Promise((resolve) => {
    execFile('ffmpeg', args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const crcs = String(stdout).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',')[5]?.trim());
      resolve({ code: err ? (err.code ?? err.signal ?? 1) : 0, stderr: String(stderr), crcs });
    });
  });
}

/**
 * A 502 refusing credentials, carrying none of `secrets` (nor their URL-
 * or base64-decoded forms, nor a SAS's sig) in its body or headers.
 */
function assertRefused(res, secrets, what) {
  const body = text(res);
  assert.equal(res.status, 502, `${what}: status ${res.status}: ${body.slice(0, 300)}`);
  assert.match(body, REFUSED, `${what}: the reason`);
  const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
  const needles = new Set();
  for (const value of Object.values(secrets)) {
    needles.add(value);
    needles.add(encodeURIComponent(value));
    const sig = new URLSearchParams(value).get('sig');
    if (sig) {
      needles.add(sig);
      needles.add(encodeURIComponent(sig));
    }
  }
  for (const n of needles) {
    if (n.length < 8) continue;
    assert.ok(!body.includes(n), `${what}: the body carries a secret`);
    assert.ok(!headers.includes(n), `${what}: a header carries a secret`);
  }
  assert.doesNotMatch(body, /sig=|SharedKey |AWS4-HMAC-SHA256|Signature=|SignatureProvided|X-Amz-Credential/i, `${what}: the body carries signing material`);
}

test('startEdge secrets: the generated fastly.toml has the Secret Store Viceroy reads', () => {
  const toml = edgeConfig('http://127.0.0.1:1', {
    settings: { origin_auth: 'azure-sas' },
    secrets: { azure_sas: 'sv=2025-01-05&sig=a%2Fb"\\', azure_key: 'k==' },
  });
  const at = toml.indexOf('[local_server.secret_stores]');
  assert.ok(at >= 0, toml);
  assert.ok(toml.slice(at).includes(`${SECRET_STORE} = [{ key = "azure_sas", data = "sv=2025-01-05&sig=a%2Fb\\"\\\\" }, { key = "azure_key", data = "k==" }]`), toml);
  // Without secrets the file is as before (every existing caller).
  assert.doesNotMatch(edgeConfig('http://127.0.0.1:1'), /^\s*\[\s*local_server\.secret_stores\s*\]/m);
  // Given again (the file already has the store), the test's replaces it.
  const again = edgeConfig('http://127.0.0.1:1', { source: toml, secrets: { azure_key: 'other' } });
  assert.equal(again.match(new RegExp(`^${SECRET_STORE} =`, 'gm')).length, 1, again);
  assert.throws(() => edgeConfig('http://127.0.0.1:1', { secrets: { 'not a name': 'x' } }), /Viceroy allows only/);
});

test('assertRefused fails on a leaked SAS, sig or signature (negative control)', () => {
  const res = (body) => ({ status: 502, headers: new Headers({ 'content-type': 'text/plain' }), body: Buffer.from(body) });
  const secrets = { azure_sas: 'sv=2025-01-05&sr=c&sp=r&sig=abcdefgh%2Bijkl%3D', azure_key: 'a2V5a2V5a2V5a2V5' };
  assertRefused(res('origin refused credentials for abr/abr.ism\n'), secrets, 'a clean answer');
  for (const leak of [
    'GET /media/abr/abr.ism?sv=2025-01-05&sr=c&sp=r&sig=abcdefgh%2Bijkl%3D', // the SAS
    'signature abcdefgh+ijkl= refused', // its sig, decoded
    'Authorization: SharedKey devstoreaccount1:c2lnbmF0dXJl', // a Shared Key header
    'key a2V5a2V5a2V5a2V5', // the key
  ]) {
    assert.throws(() => assertRefused(res(`origin refused credentials: ${leak}`), secrets, leak), /carries/, leak);
  }
  assert.throws(() => assertRefused(res('origin refused access to abr/abr.ism'), secrets, 'another reason'), /the reason/);
});

describe('origin auth', { skip: SKIP }, () => {
  let origin;
  let reference; // the edge on the local origin
  let az;
  let s3;
  let paths; // [{ what, path }], from the reference edge
  const refBodies = new Map();
  const refCrcs = new Map();
  const edges = [];
  const timings = [];

  async function edgeFor(bucket, creds) {
    const t0 = Date.now();
    const edge = await startEdge({ originUrl: bucket.url, settings: creds.settings, secrets: creds.secrets });
    timings.push({ what: `edge start (${bucket.kind} ${creds.settings.origin_auth})`, ms: Date.now() - t0 });
    edges.push(edge);
    return edge;
  }

  before(async () => {
    const t0 = Date.now();
    [origin, az, s3] = await Promise.all([startOrigin(), startAzurite({ anonymous: true }), startS3({ anonymous: true })]);
    timings.push({ what: 'origin + azurite + s3 started and loaded (in parallel)', ms: Date.now() - t0 });
    timings.push({ what: 'azurite start / upload', ms: `${az.timings.startMs} / ${az.timings.uploadMs}` });
    timings.push({ what: 's3 start / upload', ms: `${s3.timings.startMs} / ${s3.timings.uploadMs}` });
    reference = await startEdge({ originUrl: origin.url });
    edges.push(reference);
    paths = await samplePaths(reference.url);
    await mapLimit(paths, 4, async ({ path: p }) => refBodies.set(p, (await fetchOk(reference.url, p)).body));
  });
  after(async () => {
    await Promise.all(edges.map((e) => e.stop()));
    await Promise.all([origin?.stop(), az?.stop(), s3?.stop()]);
    if (timings.length) console.table(timings);
  });

  /** The comparisons every signing mode (and the anonymous plumbing) must pass. */
  function servesLikeTheLocalOrigin(label, bucketOf, credsOf, { decode = true } = {}) {
    describe(label, () => {
      let edge;
      before(async () => {
        edge = await edgeFor(bucketOf(), credsOf());
      });

      test('manifests, inits and segments: 200 and byte-identical to the local origin', async () => {
        assert.ok(paths.length >= 15, `only ${paths.length} URLs sampled`);
        const diffs = [];
        await mapLimit(paths, 4, async ({ what, path: p }) => {
          const res = await get(edge.url + p);
          if (res.status !== 200) diffs.push(`${what} ${p}: status ${res.status}: ${text(res).slice(0, 200)}`);
          else if (!res.body.equals(refBodies.get(p))) diffs.push(`${what} ${p}: ${res.body.length} bytes differ from the local origin's ${refBodies.get(p).length}`);
        });
        assert.deepEqual(diffs, [], `${diffs.length} of ${paths.length} URLs differ:\n${diffs.join('\n')}`);
      });

      if (decode) {
        for (const [fmt, p] of [['HLS fMP4', `${ABR}/manifest(format=m3u8-cmaf)`], ['DASH CMAF', `${ABR}/manifest(format=mpd-time-cmaf)`]]) {
          test(`ffmpeg decodes ${fmt} to the local origin's frames`, async () => {
            if (!refCrcs.has(p)) refCrcs.set(p, framecrc(reference.url + p));
            const want = await refCrcs.get(p);
            assert.equal(want.code, 0, `ffmpeg on the local origin's ${p}: ${want.stderr}`);
            const got = await framecrc(edge.url + p);
            assert.equal(got.code, 0, `ffmpeg ${p}: ${got.stderr}`);
            assert.equal(got.stderr, '', `ffmpeg ${p} wrote to stderr`);
            assert.ok(want.crcs.length > 100, `only ${want.crcs.length} frames from the local origin`);
            assert.deepEqual(got.crcs, want.crcs, `${p}: frames differ from the local origin's`);
          });
        }
      }
    });
  }

  servesLikeTheLocalOrigin('Azurite, Shared Key', () => az, () => az.credentials('azure-shared-key'));
  servesLikeTheLocalOrigin('Azurite, SAS', () => az, () => az.credentials('azure-sas'));
  servesLikeTheLocalOrigin('S3, SigV4', () => s3, () => s3.credentials('s3'));
  // No signing: only origin_host and origin_prefix, on public-read copies.
  servesLikeTheLocalOrigin('Azurite, public container, origin_auth none', () => az, () => az.credentials('none'), { decode: false });
  servesLikeTheLocalOrigin('S3, public bucket, origin_auth none', () => s3, () => s3.credentials('none'), { decode: false });

  describe('refused credentials: 502, and no secret in the answer', () => {
    const wrongAzureKey = Buffer.alloc(64, 7).toString('base64');
    const cases = [
      ['Azurite, Shared Key with a wrong key', () => az, () => az.credentials('azure-shared-key', { key: wrongAzureKey })],
      ['Azurite, SAS signed with a wrong key', () => az, () => az.credentials('azure-sas', { key: wrongAzureKey })],
      ['Azurite, expired SAS', () => az, () => az.credentials('azure-sas', { expiresOn: new Date(Date.now() - 3600_000) })],
      ['S3, a wrong secret', () => s3, () => s3.credentials('s3', { secret: 'wrong-secret-0123456789abcdefghijklmnopqrst' })],
      // Credentials forgotten: the same answer, with no secret to leak.
      ['Azurite, origin_auth none on the private container', () => az, () => ({ settings: { ...az.settings, origin_auth: 'none' }, secrets: {} })],
    ];
    for (const [label, bucketOf, credsOf] of cases) {
      test(label, async () => {
        const creds = credsOf();
        const edge = await edgeFor(bucketOf(), creds);
        // Secrets the test knows besides the edge's: the right ones, in case
        // an answer quotes the origin's expectation.
        const known = { ...creds.secrets, right_azure_key: az.key, right_s3_secret: s3.secretAccessKey };
        const segment = paths.find((x) => x.what === 'HLS fMP4 segment').path;
        for (const p of [`${ABR}/manifest(format=m3u8-cmaf)`, `${ABR}/manifest(format=mpd-time-cmaf)`, segment, '/muxed_moov_end.mp4/master.m3u8']) {
          assertRefused(await get(edge.url + p), known, `${label}: GET ${p}`);
        }
      });
    }
  });

  describe('hls.js plays from Azurite (Shared Key)', () => {
    const skip = browserSkipReason();
    if (skip && process.env.CI === 'true') throw new Error(`CI=true: ${skip}`);
    let edge;
    let browser;
    before(async () => {
      if (skip) return;
      edge = await edgeFor(az, az.credentials('azure-shared-key'));
      browser = await launchBrowser();
    });
    after(() => browser?.close());

    test('abr.ism, HLS fMP4: loads and plays 5 s', { skip: skip || false }, async () => {
      // The page comes from the local origin, as in players.test.js: the edge
      // is another origin, so CORS is exercised too.
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(edge.url)}`);
      try {
        await P.load(page, { player: 'hls.js', path: `${ABR}/manifest(format=m3u8-cmaf)` });
        await P.checkPlays(page, { seconds: 5 });
        await P.assertNoPlayerErrors(page, 'hls.js from Azurite');
      } finally {
        await page.closeAll();
      }
    });
  });
});
