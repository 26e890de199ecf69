#!/usr/bin/env node
// An S3 server that checks SigV4 signatures, for the black-box tests
// (wasm-tests/lib/buckets.js starts it): @20minutes/s3rver, a maintained fork
// of s3rver (s3rver 3.7.1 accepts any SigV4 signature: its v4 check is a
// stub), with one access key and a gate in front that makes it behave like a
// private bucket on AWS:
//   - a request with no signature at all is refused (403 AccessDenied), except
//     GET/HEAD into a bucket named by --public (s3rver alone lets anonymous
//     requests do anything);
//   - a SigV4 Authorization header must sign `host`, as AWS requires;
//   - a SignatureDoesNotMatch error carries <SignatureProvided>, as AWS's does,
//     so a test can see whether a client passes the origin's error body on;
//   - If-Match on GET/HEAD is honoured (412 PreconditionFailed), checked after
//     authentication as on AWS (s3rver ignores it; the edge sends it on
//     payload reads to notice an object that changed under its index).
// Still s3rver's, not AWS's: `Range: bytes=0-0` returns the whole object (206
// with the full Content-Range) and a suffix range `bytes=-N` the first N+1
// bytes; the edge sends neither (its reads are `bytes=first-last`, last > 0).
//
//   node wasm-tests/lib/s3_server.js --port 0 --dir DIR --access-key-id ID \
//     --secret-access-key SECRET --bucket media [--bucket …] [--public media-public]
//
// Buckets named by --bucket or --public are created at start. The first stdout
// line is JSON: {"event":"listening","url":"http://127.0.0.1:PORT","port":PORT}.
'use strict';

const { parseArgs } = require('node:util');
const S3rver = require('@20minutes/s3rver');
// The fork's account registry (no public API for keys other than S3RVER's).
const AWSAccount = require('@20minutes/s3rver/lib/models/account');
const S3Error = require('@20minutes/s3rver/lib/models/error');

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    address: { type: 'string', default: '127.0.0.1' },
    dir: { type: 'string' },
    'access-key-id': { type: 'string' },
    'secret-access-key': { type: 'string' },
    bucket: { type: 'string', multiple: true, default: [] },
    public: { type: 'string', multiple: true, default: [] },
  },
});
for (const name of ['dir', 'access-key-id', 'secret-access-key']) {
  if (!opts[name]) throw new Error(`s3_server: --${name} is required`);
}

// Only our key: the fork's built-in S3RVER/S3RVER pair would let a client
// that falls back to it in.
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(opts['access-key-id'], opts['secret-access-key']);

const publicBuckets = new Set(opts.public);

/** If-Match's list against the object's ETag (strong comparison, RFC 9110 §13.1.1). */
function etagListMatches(header, etag) {
  if (header.trim() === '*') return true;
  return header.split(',').map((t) => t.trim()).some((t) => !t.startsWith('W/') && t === etag);
}

/** The gate described at the top, run before s3rver's own middleware. */
async function gate(ctx, next) {
  const auth = ctx.get('authorization');
  const presigned = 'X-Amz-Signature' in ctx.query || 'Signature' in ctx.query;
  if (!auth && !presigned) {
    const bucket = decodeURIComponent(ctx.path.split('/')[1] || '');
    if (!(publicBuckets.has(bucket) && (ctx.method === 'GET' || ctx.method === 'HEAD'))) {
      throw new S3Error('AccessDenied', 'Access Denied');
    }
  }
  if (/^AWS4-HMAC-SHA256 /i.test(auth)) {
    const signed = /SignedHeaders=([^,\s]+)/.exec(auth)?.[1]?.split(';') ?? [];
    if (!signed.includes('host')) {
      throw new S3Error(
        'AuthorizationHeaderMalformed',
        "The authorization header is malformed; 'Host' must be a 'SignedHeader' in the AWS Authorization.",
      );
    }
  }
  try {
    await next();
    const ifMatch = ctx.get('if-match');
    if (ifMatch && (ctx.method === 'GET' || ctx.method === 'HEAD') && (ctx.status === 200 || ctx.status === 206)) {
      if (!etagListMatches(ifMatch, ctx.response.get('etag'))) {
        ctx.body?.destroy?.();
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
      }
    }
  } catch (err) {
    if (err.code === 'SignatureDoesNotMatch') {
      const provided = /Signature=([0-9a-fA-F]+)/.exec(auth)?.[1] ?? ctx.query['X-Amz-Signature'] ?? ctx.query.Signature;
      if (provided) err.detail.SignatureProvided = provided;
    }
    throw err;
  }
}

async function main() {
  const buckets = [...new Set([...opts.bucket, ...opts.public])];
  const server = new S3rver({
    address: opts.address,
    port: Number(opts.port),
    directory: opts.dir,
    silent: true,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  // Koa composes its middleware when the server starts listening (run()), so
  // the gate goes first.
  server.middleware.unshift(gate);
  const { port } = await server.run();
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: `http://${opts.address}:${port}`, port })}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`s3_server: ${err.stack || err}\n`);
  process.exit(1);
});
