// Serves the wasi:http build of edgepack (a wasi:http/proxy component) on
// Node with jco: the component is transpiled to JS, then preview2-shim's
// HTTPServer feeds it requests. This is what `jco serve` does, minus its
// per-run temp dir and re-transpile, which would cost seconds on every start
// (the tests start many edges).
//
//   node scripts/wasi-http/serve.mjs [--addr 127.0.0.1:7676] [--component PATH] [--workers N]
//
// The component reads its settings from this process's environment
// (EDGEPACK_ORIGIN, EDGEPACK_SEGMENT_MS, …: see settings.js). The default
// component is target/wasm32-wasip2/release/edgepack.wasm, or
// $EDGEPACK_WASI_COMPONENT when set.
//
// preview2-shim runs the component's handler synchronously on its thread, so
// one instance serves one request at a time: a client reading two responses
// lazily (ffmpeg: video and audio segments on two connections) would wait on
// a response that is never started while the instance blocks writing the
// other. `wasmtime serve` handles requests concurrently, so this does too:
// a pool of --workers (default 4, or $EDGEPACK_WASI_WORKERS) worker threads,
// each with its own instance on its own HTTPServer (worker.mjs), behind a
// plain proxy on --addr. Workers are persistent, so each instance's
// in-memory index cache lives as long as the worker; a request goes to the
// lowest-numbered idle worker, so sequential requests all reach worker 0 and
// find what the previous one cached.

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SHARE_ENV, Worker } from 'node:worker_threads';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = path.join(ROOT, 'target', 'wasi-http-js');
const NAME = 'edgepack';
const BUILD = 'cargo rustc --release --target wasm32-wasip2 --lib --crate-type cdylib';
const WORKER = new URL('./worker.mjs', import.meta.url);

function fail(message) {
  console.error(`serve: error: ${message}`);
  process.exit(1);
}

async function load(specifier) {
  try {
    return await import(specifier);
  } catch (err) {
    if (err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return fail(`${specifier} is not installed (run: npm ci)`);
  }
}

/**
 * The directory holding the component transpiled to JS. It is named by a
 * hash of the component's bytes and only ever appears complete (written
 * under a temp name, then renamed), so concurrent starts never read a
 * half-written one, and a rebuilt component gets a new one instead of having
 * files replaced under a running server. Unchanged bytes are not transpiled
 * again, even when cargo relinks.
 */
async function transpiled(component) {
  const bytes = fs.readFileSync(component);
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const dir = path.join(OUT, hash);
  if (fs.existsSync(dir)) {
    const now = new Date();
    fs.utimesSync(dir, now, now); // in use: keep it from prune()
    return dir;
  }
  const { transpile } = await load('@bytecodealliance/jco');
  let files;
  try {
    ({ files } = await transpile(bytes, { name: NAME, wasiShim: true, noTypescript: true, quiet: true }));
  } catch (err) {
    fail(`cannot transpile ${component} (is it a wasm32-wasip2 component?): ${err.message ?? err}`);
  }
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith('.d.ts')) continue;
    fs.mkdirSync(path.dirname(path.join(tmp, name)), { recursive: true });
    fs.writeFileSync(path.join(tmp, name), data);
  }
  // The generated code is ESM, and the repo's package.json says commonjs.
  fs.writeFileSync(path.join(tmp, 'package.json'), '{ "type": "module" }\n');
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    // Another start published the same component first: use theirs.
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
  }
  prune(dir);
  return dir;
}

/** Removes older transpiles (and temp dirs of crashed starts) unused for an hour. */
function prune(keep) {
  const cutoff = Date.now() - 3_600_000;
  for (const entry of fs.readdirSync(OUT)) {
    const p = path.join(OUT, entry);
    if (p === keep) continue;
    try {
      if (fs.statSync(p).mtimeMs < cutoff) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // removed by another start meanwhile
    }
  }
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      addr: { type: 'string', default: '127.0.0.1:7676' },
      component: {
        type: 'string',
        default: process.env.EDGEPACK_WASI_COMPONENT || path.join(ROOT, 'target/wasm32-wasip2/release/edgepack.wasm'),
      },
      workers: { type: 'string', default: process.env.EDGEPACK_WASI_WORKERS || '4' },
    },
  }));
} catch (err) {
  fail(`${err.message} (usage: serve.mjs [--addr HOST:PORT] [--component PATH] [--workers N])`);
}
const colon = opts.addr.lastIndexOf(':');
const host = opts.addr.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
const port = Number(opts.addr.slice(colon + 1));
if (colon < 1 || !Number.isInteger(port) || port < 0 || port > 65535) fail(`--addr must be HOST:PORT, not ${opts.addr}`);
const size = Number(opts.workers);
if (!Number.isInteger(size) || size < 1) fail(`--workers must be a positive integer, not ${opts.workers}`);

const component = path.resolve(opts.component);
if (!fs.existsSync(component)) fail(`${component} does not exist (build it: ${BUILD})`);
// Only resolved here: importing it would start the shim's I/O thread in this
// thread, which runs no component.
try {
  import.meta.resolve('@bytecodealliance/preview2-shim/http');
} catch {
  fail('@bytecodealliance/preview2-shim is not installed (run: npm ci)');
}
const dir = await transpiled(component);

// slots[i] is worker i: { worker, port (null until it listens), ready, jobs },
// jobs being the requests it has in flight, { res, upstream, wres, gone } each.
const slots = [];
let stopping = false;

/** Starts worker i; `ready` resolves with its port, or rejects if it dies first. */
function start(i) {
  // SHARE_ENV: the component reads EDGEPACK_* through the worker's process.env.
  const worker = new Worker(WORKER, { env: SHARE_ENV, workerData: { dir, file: `${NAME}.js` } });
  const slot = { worker, port: null, jobs: new Set() };
  slots[i] = slot;
  slot.ready = new Promise((resolve, reject) => {
    worker.once('message', (msg) => {
      if (msg.error) return reject(new Error(`${component} ${msg.error}`));
      slot.port = msg.port;
      resolve(msg.port);
    });
    let error;
    worker.on('error', (err) => {
      error = err;
    });
    worker.once('exit', (code) => {
      const why = error?.stack ?? `exit code ${code}`;
      reject(new Error(`worker ${i} exited before listening: ${why}`));
      if (stopping || slot.port === null) return; // startup failures are the caller's
      console.error(`serve: worker ${i} died (${why}); ${slot.jobs.size} request(s) in flight; starting another`);
      for (const job of slot.jobs) abort(job, 'the component instance serving this request died');
      restart(i);
    });
  });
  slot.ready.catch(() => {}); // each waiter handles it
  return slot;
}

/** Replaces dead worker i, retrying (not in a tight loop) if it fails to start. */
function restart(i) {
  start(i).ready.catch((err) => {
    if (stopping) return;
    console.error(`serve: ${err.message}`);
    setTimeout(() => !stopping && restart(i), 1000);
  });
}

/**
 * The lowest-numbered idle worker, else the one with the fewest requests in
 * flight; one being replaced only if none is up (the request then waits).
 */
function pick() {
  const up = slots.filter((slot) => slot.port !== null);
  const pool = up.length ? up : slots;
  return pool.find((slot) => slot.jobs.size === 0) ?? pool.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
}

/** Ends a request that cannot be answered: 502 if nothing was sent, else a cut connection (never a clean end). */
function abort(job, why) {
  job.upstream?.destroy();
  const { res } = job;
  if (res.destroyed || res.writableEnded) return;
  if (res.headersSent) return res.destroy();
  res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end(`edgepack: ${why}\n`);
}

// Hop-by-hop headers are per connection; Node sets its own on each side.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
function endToEnd(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  return out;
}

async function proxy(req, res) {
  const slot = pick();
  const job = { res, upstream: null };
  slot.jobs.add(job);
  // A job is in flight until the worker's response is over, not just the
  // client's: that is when the worker is free again.
  const done = () => slot.jobs.delete(job);
  // A client gone before the end: drain the worker's response instead of
  // aborting it. When a response's socket closes, preview2-shim unpipes the
  // component's body stream and leaves it full, so the component's next
  // blocking flush (every body ends with one) would block that instance
  // forever; drained, it finishes at once.
  res.once('close', () => {
    if (res.writableFinished) return;
    job.gone = true;
    job.wres?.unpipe(res).resume();
  });
  let workerPort;
  try {
    workerPort = await slot.ready;
  } catch {
    done();
    return abort(job, 'no component instance could be started');
  }
  if (job.gone) return done(); // the client left while this worker was starting
  const headers = endToEnd(req.rawHeaders);
  // Raw headers keep repeated ones; a body of unknown length is re-chunked by Node.
  if (req.headers['transfer-encoding']) headers.push('Transfer-Encoding', 'chunked');
  // agent: false: a fresh loopback connection per request is cheap, and a
  // kept-alive one can be closed by the worker just as it is reused.
  const upstream = http.request({ host: '127.0.0.1', port: workerPort, method: req.method, path: req.url, headers, agent: false });
  job.upstream = upstream;
  upstream.on('error', (err) => {
    done();
    abort(job, `the component instance failed: ${err.message}`);
  });
  upstream.on('response', (wres) => {
    job.wres = wres;
    wres.on('error', () => {}); // handled on 'close'
    wres.once('close', () => {
      done();
      // A body the worker cut off reaches the client as a cut connection,
      // never as a clean end.
      if (!wres.complete) res.destroy();
    });
    if (job.gone) return wres.resume();
    res.writeHead(wres.statusCode, wres.statusMessage, endToEnd(wres.rawHeaders));
    wres.pipe(res);
  });
  req.pipe(upstream);
}

const started = Array.from({ length: size }, (_, i) => start(i).ready);
try {
  await Promise.all(started);
} catch (err) {
  stopping = true;
  fail(err.message);
}

const server = http.createServer(proxy);
try {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
} catch (err) {
  if (err?.code === 'EADDRINUSE') fail(`address already in use: ${opts.addr} (EADDRINUSE)`);
  fail(`cannot listen on ${opts.addr}: ${err?.message ?? err}`);
}
console.error(`listening on http://${opts.addr}`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    stopping = true;
    server.close();
    // A worker stuck in a synchronous write still terminates; do not wait long.
    setTimeout(() => process.exit(0), 1000).unref();
    await Promise.allSettled(slots.map((slot) => slot.worker.terminate()));
    process.exit(0);
  });
}
