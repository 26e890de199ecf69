// The local origin behaves like an object-storage bucket, and its test hooks work.
// It serves the committed fixtures/small so this runs without generated media.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { SMALL, rawRequest, startOrigin } = require('./lib/origin');

const FILE = 'avc_bframes.mp4';
const BYTES = fs.readFileSync(path.join(SMALL, FILE));

describe('origin', () => {
  let origin;
  before(async () => {
    origin = await startOrigin({ root: SMALL });
  });
  after(async () => {
    await origin?.stop();
  });

  test('Range answers 206 with exactly the requested bytes', async () => {
    const res = await fetch(`${origin.url}/${FILE}`, { headers: { Range: 'bytes=100-1123' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), `bytes 100-1123/${BYTES.length}`);
    assert.equal(res.headers.get('content-length'), '1024');
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(BYTES.subarray(100, 1124)));

    const tail = await fetch(`${origin.url}/${FILE}`, { headers: { Range: 'bytes=-16' } });
    assert.equal(tail.status, 206);
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(BYTES.subarray(BYTES.length - 16)));
  });

  test('an unsatisfiable Range answers 416 with the size', async () => {
    const res = await fetch(`${origin.url}/${FILE}`, { headers: { Range: `bytes=${BYTES.length}-` } });
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('content-range'), `bytes */${BYTES.length}`);
    await res.arrayBuffer();
  });

  test('HEAD gives the length and validators without a body', async () => {
    const res = await fetch(`${origin.url}/${FILE}`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(BYTES.length));
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.equal(res.headers.get('content-type'), 'video/mp4');
    assert.match(res.headers.get('etag'), /^"[^"]+"$/, 'strong ETag');
    assert.ok(res.headers.get('last-modified'));
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  test('If-Match / If-None-Match follow the ETag', async () => {
    const head = await fetch(`${origin.url}/${FILE}`, { method: 'HEAD' });
    const etag = head.headers.get('etag');

    const match = await fetch(`${origin.url}/${FILE}`, { headers: { Range: 'bytes=0-7', 'If-Match': etag } });
    assert.equal(match.status, 206);
    assert.ok(Buffer.from(await match.arrayBuffer()).equals(BYTES.subarray(0, 8)));

    const stale = await fetch(`${origin.url}/${FILE}`, { headers: { Range: 'bytes=0-7', 'If-Match': '"stale"' } });
    assert.equal(stale.status, 412);
    await stale.arrayBuffer();

    const fresh = await fetch(`${origin.url}/${FILE}`, { headers: { 'If-None-Match': etag } });
    assert.equal(fresh.status, 304);
  });

  test('a missing object answers 404', async () => {
    const res = await fetch(`${origin.url}/no/such/object.mp4`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });

  test('paths escaping the root are refused', async () => {
    const secret = fs.readFileSync(path.join(SMALL, '..', 'generate.sh'));
    for (const rawPath of [
      '/../generate.sh',
      '/%2e%2e/generate.sh',
      '/..%2fgenerate.sh',
      '/x/../../generate.sh',
      '/__fault/short/../generate.sh',
      '/__fault/short/%2e%2e/generate.sh',
      '/__fault/slow/1/%2e%2e/generate.sh',
      '/__fault/etag-flip/..%2fgenerate.sh',
    ]) {
      const res = await rawRequest(origin.url, rawPath);
      assert.ok(!res.error, `${rawPath}: ${res.error}`);
      assert.ok(res.status === 403 || res.status === 404 || res.status === 400, `${rawPath} answered ${res.status}`);
      assert.ok(!res.body.includes(secret.subarray(0, 40)), `${rawPath} leaked the file`);
    }
  });

  test('the log records method, path, Range, If-Match, status and bytes', async () => {
    await origin.resetLog();
    assert.deepEqual(await origin.requests(), []);
    const res = await fetch(`${origin.url}/${FILE}`, { headers: { Range: 'bytes=10-19', 'If-Match': '*' } });
    await res.arrayBuffer();
    const seen = await origin.requests();
    assert.equal(seen.length, 1);
    assert.equal(seen[0].method, 'GET');
    assert.equal(seen[0].path, `/${FILE}`);
    assert.equal(seen[0].range, 'bytes=10-19');
    assert.equal(seen[0].ifMatch, '*');
    assert.equal(seen[0].status, 206);
    assert.equal(seen[0].bytes, 10);
    assert.ok(!Number.isNaN(Date.parse(seen[0].time)));

    const lines = fs.readFileSync(origin.logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.path === `/${FILE}` && l.range === 'bytes=10-19' && l.status === 206));
  });

  test('fault: status', async () => {
    const res = await fetch(`${origin.url}/__fault/status/503/${FILE}`);
    assert.equal(res.status, 503);
    await res.arrayBuffer();
  });

  test('fault: slow waits, then serves the object', async () => {
    const t0 = Date.now();
    const res = await fetch(`${origin.url}/__fault/slow/200/${FILE}`, { headers: { Range: 'bytes=0-3' } });
    assert.equal(res.status, 206);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(BYTES.subarray(0, 4)));
    assert.ok(Date.now() - t0 >= 190, 'answered too soon');
  });

  test('fault: short declares the full length and closes early', async () => {
    const res = await rawRequest(origin.url, `/__fault/short/${FILE}`, { headers: { Range: 'bytes=0-999' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers['content-length'], '1000');
    assert.ok(res.body.length < 1000, `got ${res.body.length} bytes`);
    assert.ok(res.body.equals(BYTES.subarray(0, res.body.length)));
  });

  test('fault: etag-flip changes the ETag on every request', async () => {
    const a = await fetch(`${origin.url}/__fault/etag-flip/${FILE}`, { method: 'HEAD' });
    const b = await fetch(`${origin.url}/__fault/etag-flip/${FILE}`, { method: 'HEAD' });
    assert.notEqual(a.headers.get('etag'), b.headers.get('etag'));
    const c = await fetch(`${origin.url}/__fault/etag-flip/${FILE}`, {
      headers: { Range: 'bytes=0-3', 'If-Match': b.headers.get('etag') },
    });
    assert.equal(c.status, 412);
    await c.arrayBuffer();
  });

  test('player scripts are served from node_modules', async () => {
    for (const name of ['hls.min.js', 'dash.all.min.js', 'dash.mss.min.js', 'shaka-player.compiled.js']) {
      const res = await fetch(`${origin.url}/_assets/${name}`, { method: 'HEAD' });
      assert.equal(res.status, 200, name);
      assert.match(res.headers.get('content-type'), /javascript/, name);
      assert.ok(Number(res.headers.get('content-length')) > 10_000, name);
    }
    const res = await fetch(`${origin.url}/_assets/package.json`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });

  test('the player page and its relative script path are served', async () => {
    for (const p of ['/_player/', '/_player/index.html']) {
      const res = await fetch(`${origin.url}${p}`);
      assert.equal(res.status, 200, p);
      assert.match(res.headers.get('content-type'), /^text\/html/, p);
      assert.match(await res.text(), /window\.edgepack/, p);
    }
    const js = await fetch(`${origin.url}/_player/assets/hls.min.js`, { method: 'HEAD' });
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /javascript/);
    for (const p of ['/_player/assets/package.json', '/_player/server.js', '/_player/../server.js']) {
      const res = await rawRequest(origin.url, p);
      assert.ok(res.status === 404 || res.status === 403, `${p}: ${res.status}`);
    }
  });
});
