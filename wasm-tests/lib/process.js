// Helpers to run a local service (the origin, Viceroy) for a test and tear it down.
'use strict';

const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** A free TCP port on 127.0.0.1 (for services that cannot take port 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Services still running. A test file killed by a signal (the runner's
// timeout, Ctrl-C, a CI cancel) runs no after() hooks, and its origin and
// Viceroy would live on as orphans holding ports and memory: stop them on the
// way out.
const live = new Set();
let exitHooked = false;
function stopAllNow() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}
function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', stopAllNow);
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
    process.on(signal, () => {
      stopAllNow();
      // Keep the signal's usual effect: exit. Other handlers (Playwright
      // closes its browser on SIGTERM but does not exit) get a moment first.
      if (process.listenerCount(signal) === 1) process.exit(128 + number);
      setTimeout(() => process.exit(128 + number), 3_000).unref();
    });
  }
}

/**
 * Spawns `command args` and resolves once `ready(line)` returns a truthy value
 * for a line of its stdout/stderr (that value is returned as `ready`), or once
 * `readyUrl` answers any HTTP status. Rejects with the captured output if the
 * process exits first or `timeoutMs` passes.
 */
async function startService({ name, command, args = [], cwd = REPO_ROOT, env, ready, readyUrl, timeoutMs = 15_000 }) {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  hookExit();
  live.add(child);
  let output = '';
  let readyValue;
  const lineWaiters = [];
  const onData = (chunk) => {
    const text = chunk.toString();
    output += text;
    if (output.length > 1_000_000) output = output.slice(-500_000);
    for (const line of text.split('\n')) {
      if (!line) continue;
      if (ready && readyValue === undefined) {
        const value = ready(line);
        if (value) readyValue = value;
      }
      for (const waiter of lineWaiters) waiter(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      exited = { code, signal };
      resolve(exited);
    });
  });

  const service = {
    name,
    child,
    get output() {
      return output;
    },
    get ready() {
      return readyValue;
    },
    /** Stops the service: SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
    async stop(graceMs = 3_000) {
      if (exited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exitPromise;
      clearTimeout(timer);
      return result;
    },
  };

  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (exited) {
      throw new Error(`${name} exited (${JSON.stringify(exited)}) before it was ready:\n${output}`);
    }
    if (ready && readyValue !== undefined) return service;
    if (readyUrl && (await httpAnswers(readyUrl))) return service;
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(`${name} was not ready after ${timeoutMs} ms:\n${output}`);
    }
    await sleep(50);
  }
}

/** True when `url` answers with any HTTP status. */
function httpAnswers(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * One HTTP/1.1 request with the path sent exactly as given (fetch() would
 * normalise `..` and `%2e%2e` away). Resolves { status, headers, body: Buffer },
 * or { error } when the connection fails or ends early.
 */
function rawRequest(baseUrl, rawPath, { method = 'GET', headers = {} } = {}) {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const req = http.request({ hostname, port, path: rawPath, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (error) => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), error }));
      res.on('aborted', () => {});
    });
    req.on('error', (error) => resolve({ error }));
    req.end();
  });
}

module.exports = { REPO_ROOT, freePort, httpAnswers, rawRequest, sleep, startService };
