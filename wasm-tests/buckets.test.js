// The bucket servers of wasm-tests/lib/buckets.js check credentials the way
// Azure Blob Storage and S3 do, so origin-auth.test.js proves something: a
// correctly signed ranged GET succeeds and returns the object's bytes, and a
// request signed with a wrong key, an expired or tampered SAS, an edited
// signed request, or no signature at all is refused with 403. The signed
// requests are made by the official SDKs (@azure/storage-blob,
// @aws-sdk/client-s3) and, for Azure Shared Key, also by a plain fetch with a
// signature computed here, the shape the edge sends. What each server does
// with Range, If-Match and HEAD and what its ETags look like is printed at
// the end (and asserted where the edge depends on it).
//
// No edge runs here, so test.sh runs this file once (in the fastly stage).
//
//   node --test wasm-tests/buckets.test.js
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { MEDIA } = require('./lib/origin');
const { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, startS3 } = require('./lib/buckets');

const FILE = 'abr/video_360.mp4';
const SOURCE = fs.readFileSync(path.join(MEDIA, FILE));
const RANGE = { start: 1000, end: 1999 }; // inclusive, as in a Range header
const WRONG_AZURE_KEY = crypto.randomBytes(64).toString('base64');
// Azurite's x-ms-error-code for every refused credential (a wrong key, a bad,
// expired or edited SAS). Azure itself says AuthenticationFailed and names
// the reason; either way it is a 403, which is all the edge may rely on.
const AZURITE_REFUSED = 'AuthorizationFailure';

// What each server was seen to do, printed at the end.
const behaviour = [];
function note(server, what, seen) {
  behaviour.push({ server, what, seen });
}

/** A fetch result with the body read: { status, headers, body: Buffer, text }. */
async function request(url, init = {}) {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8') };
}

function assertRange(res, what) {
  assert.equal(res.status, 206, `${what}: status ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.headers.get('content-range'), `bytes ${RANGE.start}-${RANGE.end}/${SOURCE.length}`, `${what}: Content-Range`);
  assert.ok(res.body.equals(SOURCE.subarray(RANGE.start, RANGE.end + 1)), `${what}: the bytes are not the object's`);
}

/**
 * Azure Shared Key (https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key):
 * the Authorization header for a GET/HEAD with no body. `resource` is the
 * CanonicalizedResource ("/" + account + the URL path, no query here).
 */
function sharedKey({ method, headers, resource, account = AZURITE_ACCOUNT, key }) {
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const standard = [
    'content-encoding', 'content-language', 'content-length', 'content-md5', 'content-type', 'date',
    'if-modified-since', 'if-match', 'if-none-match', 'if-unmodified-since', 'range',
  ].map((name) => h[name] ?? '');
  const msHeaders = Object.keys(h).filter((k) => k.startsWith('x-ms-')).sort().map((k) => `${k}:${h[k]}\n`).join('');
  const toSign = `${method}\n${standard.join('\n')}\n${msHeaders}${resource}`;
  const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(toSign, 'utf8').digest('base64');
  return `SharedKey ${account}:${sig}`;
}

describe('azurite', () => {
  let az;
  let etag;
  let path_; // URL path of FILE in the private container

  before(async () => {
    az = await startAzurite({ anonymous: true });
    path_ = new URL(az.objectUrl(FILE)).pathname;
    console.log(`azurite: started in ${az.timings.startMs} ms, ${az.files.length} files uploaded to 3 containers in ${az.timings.uploadMs} ms`);
  });
  after(() => az?.stop());

  /** A request signed with Shared Key by this file's signer. */
  function signedFetch({ method = 'GET', headers = {}, key = AZURITE_KEY, resource = `/${AZURITE_ACCOUNT}${path_}` } = {}) {
    const all = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2021-08-06', ...headers };
    return request(az.objectUrl(FILE), { method, headers: { ...all, authorization: sharedKey({ method, headers: all, resource, key }) } });
  }

  test('Shared Key (SDK): ranged download, HEAD and If-Match', async () => {
    const { BlobServiceClient, StorageSharedKeyCredential } = require('@azure/storage-blob');
    const svc = new BlobServiceClient(`${az.url}/${AZURITE_ACCOUNT}`, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
    const blob = svc.getContainerClient(az.container).getBlobClient(FILE);
    const props = await blob.getProperties();
    etag = props.etag;
    assert.match(etag, /^"0x[0-9A-F]+"$/, 'Azurite ETag: "0x…" (quoted, strong)');
    assert.equal(props.contentLength, SOURCE.length);
    note('azurite', 'ETag format', etag);
    const dl = await blob.download(RANGE.start, RANGE.end - RANGE.start + 1, { conditions: { ifMatch: etag } });
    assert.equal(dl._response.status, 206);
    assert.equal(dl.contentRange, `bytes ${RANGE.start}-${RANGE.end}/${SOURCE.length}`);
    const other = new BlobServiceClient(`${az.url}/${AZURITE_ACCOUNT}`, new StorageSharedKeyCredential(AZURITE_ACCOUNT, WRONG_AZURE_KEY));
    await assert.rejects(other.getContainerClient(az.container).getBlobClient(FILE).download(0, 10), (err) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, AZURITE_REFUSED);
      return true;
    });
    note('azurite', 'Shared Key, SDK, wrong key', `403 ${AZURITE_REFUSED}`);
  });

  test('Shared Key (plain fetch): ranged GET, HEAD, If-Match; wrong key and edits refused', async () => {
    const range = { range: `bytes=${RANGE.start}-${RANGE.end}` };
    assertRange(await signedFetch({ headers: range }), 'signed GET with Range');
    note('azurite', 'Shared Key GET + Range', '206, Content-Range, exact bytes');

    // The canonicalized resource of a path-style URL: "/" + account + the
    // URL path, which itself starts with the account.
    const short = await signedFetch({ headers: range, resource: path_ });
    note('azurite', `Shared Key with resource /account/container/blob (account not repeated)`, `${short.status}`);

    const head = await signedFetch({ method: 'HEAD' });
    assert.equal(head.status, 200, 'signed HEAD');
    assert.equal(head.headers.get('content-length'), String(SOURCE.length));
    assert.ok(etag, 'the SDK test ran first');
    assert.equal(head.headers.get('etag'), etag);
    note('azurite', 'HEAD (signed)', `200, Content-Length, ETag`);

    assertRange(await signedFetch({ headers: { ...range, 'if-match': etag } }), 'If-Match: the current ETag');
    const stale = await signedFetch({ headers: { ...range, 'if-match': '"0x8D000000000000"' } });
    assert.equal(stale.status, 412, 'If-Match: another ETag');
    assert.equal(stale.headers.get('x-ms-error-code'), 'ConditionNotMet');
    note('azurite', 'If-Match', 'current ETag: 206; other ETag: 412 ConditionNotMet');

    const wrong = await signedFetch({ headers: range, key: WRONG_AZURE_KEY });
    assert.equal(wrong.status, 403, 'wrong key');
    assert.equal(wrong.headers.get('x-ms-error-code'), AZURITE_REFUSED);
    assert.ok(!/SharedKey|Signature found/i.test(wrong.text), 'Azurite does not echo the signature (Azure does)');
    note('azurite', 'Shared Key, wrong key', `403 ${AZURITE_REFUSED}; the body does not echo the signature (Azure's does)`);

    // A signature for another range does not sign this one.
    const all = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2021-08-06', range: 'bytes=0-9' };
    const auth = sharedKey({ method: 'GET', headers: all, resource: `/${AZURITE_ACCOUNT}${path_}`, key: AZURITE_KEY });
    const edited = await request(az.objectUrl(FILE), { headers: { ...all, range: 'bytes=0-99', authorization: auth } });
    assert.equal(edited.status, 403, 'a signed request with its Range edited');

    const anonymous = await request(az.objectUrl(FILE), { headers: range });
    assert.equal(anonymous.status, 403, 'no credentials on the private container');
    note('azurite', 'no credentials, private container', `${anonymous.status} ${anonymous.headers.get('x-ms-error-code')}`);
    assertRange(await request(az.objectUrl(FILE, az.publicContainer), { headers: range }), 'no credentials, public container');
  });

  test('SAS: container SAS reads; wrong key, expired and tampered SAS refused', async () => {
    const range = { range: `bytes=${RANGE.start}-${RANGE.end}` };
    const { secrets } = az.credentials('azure-sas');
    const sas = secrets.azure_sas;
    assert.match(sas, /(^|&)sig=/);
    assert.ok(!sas.startsWith('?'), 'the SAS secret is the query string without "?"');
    assertRange(await request(`${az.objectUrl(FILE)}?${sas}`, { headers: range }), 'GET with a SAS');
    const head = await request(`${az.objectUrl(FILE)}?${sas}`, { method: 'HEAD' });
    assert.equal(head.status, 200, 'HEAD with a SAS');
    assert.equal(head.headers.get('etag'), etag);
    const stale = await request(`${az.objectUrl(FILE)}?${sas}`, { headers: { ...range, 'if-match': '"0x8D000000000000"' } });
    assert.equal(stale.status, 412, 'If-Match with a SAS');
    note('azurite', 'SAS (sv=' + new URLSearchParams(sas).get('sv') + ')', 'GET + Range 206, HEAD 200, If-Match 412 on another ETag');

    const refused = async (what, query) => {
      const res = await request(`${az.objectUrl(FILE)}?${query}`, { headers: range });
      assert.equal(res.status, 403, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
      assert.equal(res.headers.get('x-ms-error-code'), AZURITE_REFUSED, what);
      note('azurite', `SAS ${what}`, `403 ${AZURITE_REFUSED}`);
      return res;
    };
    await refused('signed with a wrong key', az.credentials('azure-sas', { key: WRONG_AZURE_KEY }).secrets.azure_sas);
    await refused('expired', az.credentials('azure-sas', { expiresOn: new Date(Date.now() - 60_000) }).secrets.azure_sas);
    const tampered = new URLSearchParams(sas);
    tampered.set('se', new Date(Date.now() + 48 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'));
    await refused('with its expiry edited', tampered.toString());
    // A SAS for one container does not open another.
    const other = await request(`${az.objectUrl('abr.ism', az.assetContainer)}?${sas}`);
    assert.equal(other.status, 403, 'the media container SAS on the asset container');
  });

  test('the asset container holds the abr set at its root', async () => {
    assert.match(az.assetContainer, /^asset-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const { secrets } = az.credentials('azure-sas', { containerName: az.assetContainer });
    const res = await request(`${az.objectUrl('abr.ism', az.assetContainer)}?${secrets.azure_sas}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(fs.readFileSync(path.join(MEDIA, 'abr/abr.ism'))));
    assert.deepEqual(az.assetFiles.map((f) => path.basename(f)).sort(), ['abr.ism', 'audio_eng.mp4', 'video_240.mp4', 'video_360.mp4', 'video_720.mp4']);
  });
});

describe('s3', () => {
  let s3;
  let S3;

  before(async () => {
    s3 = await startS3({ anonymous: true });
    S3 = require('@aws-sdk/client-s3');
    console.log(`s3: started in ${s3.timings.startMs} ms, ${s3.files.length} files uploaded to 2 buckets in ${s3.timings.uploadMs} ms`);
  });
  after(() => s3?.stop());

  function client(credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }) {
    return new S3.S3Client({ endpoint: s3.url, region: s3.region, forcePathStyle: true, credentials, maxAttempts: 1 });
  }

  /** The request as the SDK signed it (sent too), for replaying with edits. */
  async function signedRequest(command) {
    const c = client();
    let captured;
    c.middlewareStack.addRelativeTo(
      (next) => async (args) => {
        captured = args.request.clone();
        return next(args);
      },
      { name: 'captureSigned', relation: 'after', toMiddleware: 'httpSigningMiddleware' },
    );
    const out = await c.send(command);
    await out.Body?.transformToByteArray();
    c.destroy();
    return captured;
  }

  /** Sends a captured SDK request with fetch, after `edit(req)`. */
  function replay(req, edit = () => {}) {
    const query = new URLSearchParams(req.query).toString();
    const r = { method: req.method, path: req.path + (query ? `?${query}` : ''), headers: { ...req.headers } };
    edit(r);
    delete r.headers.host; // fetch sets it from the URL
    return request(`${s3.url}${r.path}`, { method: r.method, headers: r.headers });
  }

  test('SigV4 (SDK): ranged GET, HEAD; ETag is the quoted MD5', async () => {
    const c = client();
    const md5 = crypto.createHash('md5').update(SOURCE).digest('hex');
    const head = await c.send(new S3.HeadObjectCommand({ Bucket: s3.bucket, Key: FILE }));
    assert.equal(head.ETag, `"${md5}"`);
    assert.equal(head.ContentLength, SOURCE.length);
    note('s3', 'ETag format', `"<md5 hex>" (${head.ETag})`);
    note('s3', 'HEAD (signed)', '200, Content-Length, ETag');
    const got = await c.send(new S3.GetObjectCommand({ Bucket: s3.bucket, Key: FILE, Range: `bytes=${RANGE.start}-${RANGE.end}` }));
    assert.equal(got.ContentRange, `bytes ${RANGE.start}-${RANGE.end}/${SOURCE.length}`);
    assert.ok(Buffer.from(await got.Body.transformToByteArray()).equals(SOURCE.subarray(RANGE.start, RANGE.end + 1)));
    note('s3', 'SigV4 GET + Range', '206, Content-Range, exact bytes');
    c.destroy();
  });

  test('SigV4: a wrong secret, an unknown key, edits and no signature are refused', async () => {
    const wrong = client({ accessKeyId: s3.accessKeyId, secretAccessKey: crypto.randomBytes(30).toString('base64') });
    await assert.rejects(wrong.send(new S3.GetObjectCommand({ Bucket: s3.bucket, Key: FILE, Range: 'bytes=0-9' })), (err) => {
      assert.equal(err.$metadata.httpStatusCode, 403);
      assert.equal(err.name, 'SignatureDoesNotMatch');
      return true;
    });
    wrong.destroy();
    const unknown = client({ accessKeyId: 'AKIANOSUCHKEY', secretAccessKey: s3.secretAccessKey });
    await assert.rejects(unknown.send(new S3.HeadObjectCommand({ Bucket: s3.bucket, Key: FILE })), (err) => err.$metadata.httpStatusCode === 403);
    unknown.destroy();

    const signed = await signedRequest(new S3.GetObjectCommand({ Bucket: s3.bucket, Key: FILE, Range: `bytes=${RANGE.start}-${RANGE.end}` }));
    assert.match(signed.headers.authorization, /SignedHeaders=[^,]*\bhost\b[^,]*\brange\b/, 'the SDK signs host and range');
    assertRange(await replay(signed), 'the SDK-signed request, replayed');
    const sig = /Signature=([0-9a-f]+)/.exec(signed.headers.authorization)[1];
    const badSig = await replay(signed, (r) => {
      r.headers.authorization = r.headers.authorization.replace(sig, sig.replace(/.$/, (ch) => (ch === '0' ? '1' : '0')));
    });
    assert.equal(badSig.status, 403, 'one signature digit changed');
    assert.ok(badSig.text.includes('<Code>SignatureDoesNotMatch</Code>'));
    note('s3', 'SigV4 wrong secret / edited signature', `403 SignatureDoesNotMatch; body has <SignatureProvided> like AWS: ${badSig.text.includes('<SignatureProvided>')}`);
    for (const [what, edit] of [
      ['another key', (r) => { r.path = r.path.replace('video_360', 'video_240'); }],
      ['another range', (r) => { r.headers.range = 'bytes=0-99'; }],
      ['another date', (r) => { r.headers['x-amz-date'] = r.headers['x-amz-date'].replace(/\d(?=Z$)/, (d) => String((Number(d) + 1) % 10)); }],
    ]) {
      const res = await replay(signed, edit);
      assert.equal(res.status, 403, `signed request with ${what}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    note('s3', 'signed request replayed with its key / Range / x-amz-date edited', '403 SignatureDoesNotMatch');
    const unsignedHost = await replay(signed, (r) => {
      r.headers.authorization = r.headers.authorization.replace(/SignedHeaders=([^,]+)/, (_, list) =>
        `SignedHeaders=${list.split(';').filter((h) => h !== 'host').join(';')}`);
    });
    assert.equal(unsignedHost.status, 400, 'host not among SignedHeaders');

    const anonymous = await request(s3.objectUrl(FILE), { headers: { range: 'bytes=0-9' } });
    assert.equal(anonymous.status, 403, 'no signature on the private bucket');
    note('s3', 'no credentials, private bucket', '403 AccessDenied');
    assertRange(await request(s3.objectUrl(FILE, s3.publicBucket), { headers: { range: `bytes=${RANGE.start}-${RANGE.end}` } }), 'no signature, public bucket');
  });

  test('If-Match (the gate in s3_server.js adds it)', async () => {
    const c = client();
    const md5 = `"${crypto.createHash('md5').update(SOURCE).digest('hex')}"`;
    const range = `bytes=${RANGE.start}-${RANGE.end}`;
    const got = await c.send(new S3.GetObjectCommand({ Bucket: s3.bucket, Key: FILE, Range: range, IfMatch: md5 }));
    assert.equal(got.ContentRange, `bytes ${RANGE.start}-${RANGE.end}/${SOURCE.length}`);
    await got.Body.transformToByteArray();
    await assert.rejects(c.send(new S3.GetObjectCommand({ Bucket: s3.bucket, Key: FILE, Range: range, IfMatch: '"0123"' })), (err) => {
      assert.equal(err.$metadata.httpStatusCode, 412);
      assert.equal(err.name, 'PreconditionFailed');
      return true;
    });
    note('s3', 'If-Match', 'current ETag: 206; other ETag: 412 PreconditionFailed (the gate; s3rver alone ignores it)');
    c.destroy();
  });

  test('odd ranges: what the server does (recorded, not required)', async () => {
    const c = client();
    const send = async (input) => {
      try {
        const out = await c.send(new S3.GetObjectCommand({ Bucket: s3.bucket, Key: FILE, ...input }));
        const body = await out.Body.transformToByteArray();
        return `${out.$metadata.httpStatusCode} ${out.ContentRange || ''} ${body.length} bytes`.trim();
      } catch (err) {
        return `${err.$metadata?.httpStatusCode} ${err.name}`;
      }
    };
    note('s3', 'Range bytes=0-0', await send({ Range: 'bytes=0-0' }));
    note('s3', 'Range bytes=-100 (suffix)', await send({ Range: 'bytes=-100' }));
    c.destroy();
  });
});

after(() => {
  if (!behaviour.length) return;
  const w = Math.max(...behaviour.map((b) => b.what.length));
  console.log(['\nbucket server behaviour:', ...behaviour.map((b) => `  ${b.server.padEnd(8)} ${b.what.padEnd(w)}  ${b.seen}`)].join('\n'));
});
