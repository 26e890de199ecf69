// Real object-storage servers for the black-box tests, loaded with the test
// media, so the edge's signed origin reads (origin_auth) meet a server that
// checks them:
//   startAzurite()  Azurite's blob service (npm azurite), account
//                   devstoreaccount1 with its well-known key, path-style URLs
//                   (http://127.0.0.1:PORT/devstoreaccount1/<container>/<blob>);
//   startS3()       @20minutes/s3rver behind the gate in s3_server.js, which
//                   verifies SigV4 and refuses unsigned requests, path-style
//                   (http://127.0.0.1:PORT/<bucket>/<key>).
// Each starts on a free 127.0.0.1 port with its data in a new temp dir and
// uploads the media with the service's official SDK (@azure/storage-blob,
// @aws-sdk/client-s3), so the objects carry the server's own ETags.
//
//   const az = await startAzurite();
//   const edge = await startEdge({ originUrl: az.url, settings: az.settings, secrets: az.secrets });
//   const sas = az.credentials('azure-sas');         // { settings, secrets } for another edge
//   await az.stop();
//
// The handle: { kind, url, port, host: '127.0.0.1:PORT', settings, secrets,
// credentials(auth, opts), objectUrl(path), files, …, stop() }. `settings` are
// config store keys and `secrets` Secret Store keys (both EDGEPACK_<KEY>
// variables under wasi:http), for the server's default signing mode; the edge's
// origin URL is `url`, and `origin_host` / `origin_prefix` in `settings` say
// which Host it signs and where the objects are.
//
// Options of both: root (the folder uploaded, default fixtures/media), files
// (paths under root, default MEDIA_FILES), extra ([[key, absolute file], …]
// uploaded too, e.g. the player page for scripts/run.sh), anonymous (also
// create a public-read container/bucket with the same files, for
// credentials('none')), timeoutMs.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { MEDIA } = require('./origin');
const { freePort, startService } = require('./process');

// fixtures/media except the 2-hour file (68 MB; the tests of it need only the
// local origin): the ABR and language sets with their .ism, and the bare MP4s.
const MEDIA_FILES = [
  'abr/abr.ism',
  'abr/audio_eng.mp4',
  'abr/video_240.mp4',
  'abr/video_360.mp4',
  'abr/video_720.mp4',
  'multilang/multilang.ism',
  'multilang/audio_eng.mp4',
  'multilang/audio_fra.mp4',
  'multilang/video_360.mp4',
  'audio_only.mp4',
  'multilang.mp4',
  'muxed_moov_end.mp4',
];

const CONTENT_TYPES = { '.mp4': 'video/mp4', '.ism': 'application/xml', '.html': 'text/html; charset=utf-8', '.js': 'text/javascript' };
const contentType = (file) => CONTENT_TYPES[path.extname(file)] || 'application/octet-stream';
const UPLOAD_CONCURRENCY = 4;

// Azurite's emulator account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const AZURITE_MAIN = require.resolve('azurite/dist/src/blob/main.js');
const S3_SERVER = path.join(__dirname, 's3_server.js');
const S3_REGION = 'us-east-1';

/** Every regular file under `root`, as '/'-separated relative paths, sorted. */
function listFiles(root) {
  const out = [];
  const walk = (dir, rel) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      const stat = fs.statSync(abs);
      if (stat.isDirectory()) walk(abs, r);
      else if (stat.isFile()) out.push(r);
    }
  };
  walk(root, '');
  return out.sort();
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function eachLimit(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Starts a server with startService on a free port, retrying when the port
 * was taken between freePort() and the server binding it.
 */
async function startOnFreePort(start) {
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return { port, service: await start(port) };
    } catch (err) {
      lastErr = err;
      if (!/EADDRINUSE|address (already )?in use/i.test(String(err.message))) break;
    }
  }
  throw lastErr;
}

function tempDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `edgepack-${name}-`));
}

/** The files to upload, checked to exist so a missing fixture fails here, by name. */
function uploadList(root, files) {
  const list = files ?? MEDIA_FILES;
  for (const f of list) {
    if (!fs.statSync(path.join(root, f), { throwIfNoEntry: false })?.isFile()) {
      throw new Error(`${path.join(root, f)} does not exist (bash fixtures/generate.sh makes the fixtures)`);
    }
  }
  return list;
}

/**
 * Azurite's blob service with containers `media` (private: every read must be
 * signed) holding `files` under their relative paths, `asset-<guid>`
 * (private) holding the abr/ set at its root as a Media Services asset
 * container does, and with `anonymous`, `media-public` (public read access
 * for blobs) holding `files` too.
 *
 * Signing modes for credentials(auth, opts):
 *   'azure-shared-key'  opts.key (default the account key; pass another to test a wrong key)
 *   'azure-sas'         a container SAS (read) for `media` (or
 *                       opts.containerName); opts.expiresOn (default in 24 h;
 *                       a past date makes an expired SAS), opts.key (the key
 *                       it is signed with)
 *   'none'              the public container (needs `anonymous`)
 * `settings` / `secrets` are credentials(auth) for the `auth` option (default
 * 'azure-shared-key').
 */
async function startAzurite({ root = MEDIA, files, extra = [], anonymous = false, auth = 'azure-shared-key', timeoutMs = 90_000 } = {}) {
  const { BlobServiceClient, ContainerSASPermissions, SASProtocol, StorageSharedKeyCredential, generateBlobSASQueryParameters } =
    require('@azure/storage-blob');
  const list = uploadList(root, files);
  const started = Date.now();
  const dir = tempDir('azurite');
  let service;
  let port;
  try {
    ({ port, service } = await startOnFreePort((p) =>
      startService({
        name: 'azurite',
        command: process.execPath,
        args: [
          AZURITE_MAIN,
          '--blobHost', '127.0.0.1',
          '--blobPort', String(p),
          '--location', dir,
          '--silent',
          // The SDK may speak a newer service version than this Azurite knows.
          '--skipApiVersionCheck',
          '--loose',
          // Azurite reports usage to Microsoft unless told not to; nothing
          // leaves this machine.
          '--disableTelemetry',
          // The account is always the first path segment (never taken from a
          // `<account>.blob.…` Host).
          '--disableProductStyleUrl',
        ],
        ready: (line) => /successfully listens on/.test(line) || undefined,
        timeoutMs,
      }),
    ));
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stop = async () => {
    await service.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const listening = Date.now();
  const url = `http://127.0.0.1:${port}`;
  const host = `127.0.0.1:${port}`;
  const container = 'media';
  const publicContainer = anonymous ? 'media-public' : null;
  const assetContainer = `asset-${crypto.randomUUID()}`;
  const assetFiles = list.filter((f) => f.startsWith('abr/'));
  try {
    const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
    const blobs = new BlobServiceClient(`${url}/${AZURITE_ACCOUNT}`, credential, { retryOptions: { maxTries: 2 } });
    const upload = async (name, entries) => {
      const c = blobs.getContainerClient(name);
      await c.create(name === publicContainer ? { access: 'blob' } : {});
      await eachLimit(entries, UPLOAD_CONCURRENCY, ([blob, file]) =>
        c.getBlockBlobClient(blob).uploadFile(file, { blobHTTPHeaders: { blobContentType: contentType(file) } }),
      );
    };
    const entries = [...list.map((f) => [f, path.join(root, f)]), ...extra];
    await upload(container, entries);
    await upload(assetContainer, assetFiles.map((f) => [f.slice('abr/'.length), path.join(root, f)]));
    if (publicContainer) await upload(publicContainer, entries);
  } catch (err) {
    await stop();
    throw new Error(`azurite: uploading the media failed: ${err.message}`);
  }

  const base = { origin_host: host, azure_account: AZURITE_ACCOUNT };
  const credentials = (mode, { key = AZURITE_KEY, expiresOn, containerName = container } = {}) => {
    switch (mode) {
      case 'azure-shared-key':
        return {
          settings: { ...base, origin_auth: mode, origin_prefix: `${AZURITE_ACCOUNT}/${containerName}/` },
          secrets: { azure_key: key },
        };
      case 'azure-sas': {
        const end = expiresOn ?? new Date(Date.now() + 24 * 3600_000);
        const sas = generateBlobSASQueryParameters(
          {
            containerName,
            permissions: ContainerSASPermissions.parse('r'),
            // A little in the past, so clock steps between here and the
            // server do not matter; an expired SAS had a valid window once.
            startsOn: new Date(Math.min(Date.now() - 5 * 60_000, end.getTime() - 3600_000)),
            expiresOn: end,
            protocol: SASProtocol.HttpsAndHttp,
          },
          new StorageSharedKeyCredential(AZURITE_ACCOUNT, key),
        ).toString();
        return {
          settings: { ...base, origin_auth: mode, origin_prefix: `${AZURITE_ACCOUNT}/${containerName}/` },
          secrets: { azure_sas: sas },
        };
      }
      case 'none':
        if (!publicContainer) throw new Error("azurite: credentials('none') needs startAzurite({ anonymous: true })");
        return { settings: { origin_host: host, origin_auth: 'none', origin_prefix: `${AZURITE_ACCOUNT}/${publicContainer}/` }, secrets: {} };
      default:
        throw new Error(`azurite: no signing mode ${mode}`);
    }
  };
  const { settings, secrets } = credentials(auth);
  return {
    kind: 'azurite',
    url,
    port,
    host,
    settings,
    secrets,
    credentials,
    account: AZURITE_ACCOUNT,
    key: AZURITE_KEY,
    container,
    publicContainer,
    assetContainer,
    assetFiles,
    files: list,
    dir,
    service,
    /** How long starting the server and uploading the media took, ms. */
    timings: { startMs: listening - started, uploadMs: Date.now() - listening },
    /** The URL of `file` in the private container (or `containerName`). */
    objectUrl: (file, containerName = container) => `${url}/${AZURITE_ACCOUNT}/${containerName}/${file}`,
    stop,
  };
}

/**
 * An S3 server (s3_server.js) with bucket `media` (private) holding `files`
 * under their relative paths and, with `anonymous`, `media-public` (anonymous
 * GET/HEAD allowed) holding them too. One access key, made up per start.
 *
 * Signing modes for credentials(auth, opts):
 *   's3'    opts.secret (default the right one; pass another to test a wrong key)
 *   'none'  the public bucket (needs `anonymous`)
 */
async function startS3({ root = MEDIA, files, extra = [], anonymous = false, auth = 's3', timeoutMs = 90_000 } = {}) {
  // The SDK warns on every run that its releases after January 2027 need
  // node 22; the pinned one runs on node 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');
  const list = uploadList(root, files);
  const started = Date.now();
  const dir = tempDir('s3');
  const accessKeyId = `EDGEPACKTEST${crypto.randomBytes(4).toString('hex').toUpperCase()}`;
  const secretAccessKey = crypto.randomBytes(30).toString('base64');
  const bucket = 'media';
  const publicBucket = anonymous ? 'media-public' : null;
  let service;
  let port;
  try {
    ({ port, service } = await startOnFreePort((p) =>
      startService({
        name: 's3',
        command: process.execPath,
        args: [
          S3_SERVER,
          '--port', String(p),
          '--dir', dir,
          '--access-key-id', accessKeyId,
          '--secret-access-key', secretAccessKey,
          '--bucket', bucket,
          ...(publicBucket ? ['--public', publicBucket] : []),
        ],
        ready: (line) => {
          try {
            const msg = JSON.parse(line);
            return msg.event === 'listening' ? msg : undefined;
          } catch {
            return undefined;
          }
        },
        timeoutMs,
      }),
    ));
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stop = async () => {
    await service.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const listening = Date.now();
  const url = `http://127.0.0.1:${port}`;
  const host = `127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint: url,
    region: S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 2,
  });
  try {
    const entries = [...list.map((f) => [f, path.join(root, f)]), ...extra];
    for (const b of [bucket, publicBucket].filter(Boolean)) {
      await eachLimit(entries, UPLOAD_CONCURRENCY, ([key, file]) =>
        client.send(new PutObjectCommand({ Bucket: b, Key: key, Body: fs.readFileSync(file), ContentType: contentType(file) })),
      );
    }
  } catch (err) {
    client.destroy();
    await stop();
    throw new Error(`s3: uploading the media failed: ${err.message}`);
  }
  client.destroy();

  const credentials = (mode, { secret = secretAccessKey } = {}) => {
    switch (mode) {
      case 's3':
        return {
          settings: { origin_host: host, origin_auth: 's3', origin_prefix: `${bucket}/`, s3_access_key_id: accessKeyId, s3_region: S3_REGION },
          secrets: { s3_secret_access_key: secret },
        };
      case 'none':
        if (!publicBucket) throw new Error("s3: credentials('none') needs startS3({ anonymous: true })");
        return { settings: { origin_host: host, origin_auth: 'none', origin_prefix: `${publicBucket}/` }, secrets: {} };
      default:
        throw new Error(`s3: no signing mode ${mode}`);
    }
  };
  const { settings, secrets } = credentials(auth);
  return {
    kind: 's3',
    url,
    port,
    host,
    settings,
    secrets,
    credentials,
    accessKeyId,
    secretAccessKey,
    region: S3_REGION,
    bucket,
    publicBucket,
    files: list,
    dir,
    service,
    /** How long starting the server and uploading the media took, ms. */
    timings: { startMs: listening - started, uploadMs: Date.now() - listening },
    /** The URL of `file` in the private bucket (or `bucketName`). */
    objectUrl: (file, bucketName = bucket) => `${url}/${bucketName}/${file}`,
    stop,
  };
}

/** Starts the bucket server `kind` ('azurite' or 's3') with `opts`. */
function startBucket(kind, opts) {
  if (kind === 'azurite') return startAzurite(opts);
  if (kind === 's3') return startS3(opts);
  throw new Error(`no bucket server ${kind} (azurite or s3)`);
}

module.exports = { AZURITE_ACCOUNT, AZURITE_KEY, MEDIA_FILES, S3_REGION, listFiles, startAzurite, startBucket, startS3 };
