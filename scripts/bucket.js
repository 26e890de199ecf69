#!/usr/bin/env node
// A bucket server for scripts/run.sh --origin azurite|s3: starts Azurite or the
// SigV4-checking S3 server (wasm-tests/lib/buckets.js) on a free 127.0.0.1
// port, uploads every file of --media (and the player page, so the edge's
// /player works), then writes into --out:
//   fastly.toml    fastly.toml with the backend pointed at the bucket, the
//                  signing settings in the config store and the credentials
//                  in the Secret Store edgepack_secrets (for Viceroy);
//   wasi-http.env  the same as EDGEPACK_* lines, EDGEPACK_ORIGIN included
//                  (for scripts/wasi-http/serve.mjs);
//   bucket.json    { kind, url, host, settings, secrets, … }, written last:
//                  run.sh waits for it.
// Then it runs until SIGINT/SIGTERM, and stops the server (its data is in a
// temp dir, removed on stop).
//
//   node scripts/bucket.js --origin azurite --media fixtures/media --out out/bucket
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { ASSETS, PLAYER_DIR } = require('../origin/server');
const { listFiles, startBucket } = require('../wasm-tests/lib/buckets');
const { edgeConfig, envOf } = require('../wasm-tests/lib/edge');
const { settingsEnv } = require('./wasi-http/settings');

const { values: opts } = parseArgs({
  options: {
    origin: { type: 'string' },
    media: { type: 'string', default: path.join(__dirname, '..', 'fixtures', 'media') },
    out: { type: 'string' },
  },
});

/** Writes `text` to `file` readable by us only (it holds credentials), atomically. */
function writePrivate(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

async function main() {
  if (!['azurite', 's3'].includes(opts.origin)) throw new Error('--origin must be azurite or s3');
  if (!opts.out) throw new Error('--out DIR is required');
  const root = path.resolve(opts.media);
  fs.mkdirSync(opts.out, { recursive: true });
  fs.rmSync(path.join(opts.out, 'bucket.json'), { force: true });

  const player = [
    ['_player/index.html', path.join(PLAYER_DIR, 'index.html')],
    ...Object.entries(ASSETS).map(([name, file]) => [`_assets/${name}`, file]),
  ];
  const started = Date.now();
  const bucket = await startBucket(opts.origin, { root, files: listFiles(root), extra: player, timeoutMs: 60_000 });
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await bucket.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  bucket.service.child.on('exit', (code, signal) => {
    if (stopping) return;
    process.stderr.write(`bucket: the ${bucket.kind} server exited (${signal || code}):\n${bucket.service.output.slice(-2000)}\n`);
    process.exit(1);
  });

  const { settings, secrets } = bucket;
  writePrivate(path.join(opts.out, 'fastly.toml'), edgeConfig(bucket.url, { settings, secrets }));
  const env = { ...settingsEnv(), ...envOf(settings), ...envOf(secrets), EDGEPACK_ORIGIN: bucket.url };
  for (const [k, v] of Object.entries(env)) {
    if (/[\n\r]/.test(v)) throw new Error(`${k}: a value with a line break cannot be passed on as a line`);
  }
  writePrivate(path.join(opts.out, 'wasi-http.env'), Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''));
  const info = {
    kind: bucket.kind,
    url: bucket.url,
    host: bucket.host,
    settings,
    secrets,
    files: bucket.files.length,
    sampleObjectUrl: bucket.objectUrl(bucket.files.includes('abr/abr.ism') ? 'abr/abr.ism' : bucket.files[0]),
    ...(bucket.kind === 'azurite'
      ? { account: bucket.account, key: bucket.key, container: bucket.container, assetContainer: bucket.assetContainer }
      : { accessKeyId: bucket.accessKeyId, secretAccessKey: bucket.secretAccessKey, bucket: bucket.bucket, region: bucket.region }),
    ms: Date.now() - started,
  };
  writePrivate(path.join(opts.out, 'bucket.json'), `${JSON.stringify(info, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify({ event: 'ready', kind: bucket.kind, url: bucket.url, files: info.files, ms: info.ms })}\n`);
}

main().catch((err) => {
  process.stderr.write(`bucket: ${err.stack || err}\n`);
  process.exit(1);
});
