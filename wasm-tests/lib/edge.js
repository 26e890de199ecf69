// Runs the edge (the release wasm under Viceroy) for a test, with its `origin`
// backend pointed at a test origin.
//
//   const origin = await startOrigin();
//   const edge = await startEdge({ originUrl: origin.url });  // or skip: see edgeSkipReason()
//   await fetch(`${edge.url}/abr/abr.ism/manifest(format=m3u8-cmaf)`);
//   await edge.stop();
//
// The generated fastly.toml is the repo's with the origin backend URL
// replaced, so any other [local_server] settings added there apply too.
//
// EDGEPACK_EDGE_URL=http://127.0.0.1:7676 makes startEdge() use an edge that
// is already running (scripts/run.sh) instead of starting Viceroy; its own
// origin is then whatever it was started with.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { REPO_ROOT, freePort, sleep, startService } = require('./process');

const WASM = path.join(REPO_ROOT, 'target', 'wasm32-wasip1', 'release', 'edgepack.wasm');
const FASTLY_TOML = path.join(REPO_ROOT, 'fastly.toml');
const BACKEND = 'origin';

/**
 * Why the edge cannot run here, or null when it can. A missing wasm is a
 * reason to skip locally, but under CI=true it throws: CI must never pass
 * because the build step produced nothing.
 */
function edgeSkipReason() {
  if (process.env.EDGEPACK_EDGE_URL) return null;
  if (fs.existsSync(WASM)) return null;
  const reason = `${path.relative(REPO_ROOT, WASM)} does not exist (build it: cargo build --release --target wasm32-wasip1 --bin edgepack)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  return reason;
}

/**
 * The text of fastly.toml with `[local_server.backends.<backend>] url` set to
 * `originUrl`, and relative `file = "…"` paths (config/secret store files)
 * made absolute, since the generated file lives in a temp directory.
 */
function edgeConfig(originUrl, { source = fs.readFileSync(FASTLY_TOML, 'utf8'), backend = BACKEND } = {}) {
  const lines = source.split('\n');
  let section = null;
  let replaced = false;
  const out = lines.map((line) => {
    const header = /^\s*\[([^\]]+)\]\s*(#.*)?$/.exec(line);
    if (header) {
      section = header[1].trim();
      return line;
    }
    if (section === `local_server.backends.${backend}` && /^\s*url\s*=/.test(line)) {
      replaced = true;
      return `url = ${JSON.stringify(originUrl)}`;
    }
    const file = /^(\s*file\s*=\s*)"([^"]+)"(.*)$/.exec(line);
    if (file && section?.startsWith('local_server.') && !path.isAbsolute(file[2])) {
      return `${file[1]}${JSON.stringify(path.join(REPO_ROOT, file[2]))}${file[3]}`;
    }
    return line;
  });
  if (!replaced) {
    // An inline table (`backends.origin = { url = … }`) or a missing backend:
    // add a section Viceroy will read.
    if (source.includes(`backends.${backend}`)) {
      throw new Error(`fastly.toml: cannot find a plain \`url =\` line under [local_server.backends.${backend}]`);
    }
    out.push('', `[local_server.backends.${backend}]`, `url = ${JSON.stringify(originUrl)}`, '');
  }
  return out.join('\n');
}

/**
 * Starts Viceroy on a free port with the release wasm and waits until
 * GET /health answers 200. Options: originUrl (required unless
 * EDGEPACK_EDGE_URL is set), port (default: a free one), timeoutMs.
 * Resolves { url, port, configFile, service, stop() }.
 */
async function startEdge({ originUrl, port, timeoutMs = 30_000 } = {}) {
  const external = process.env.EDGEPACK_EDGE_URL;
  if (external) {
    const url = external.replace(/\/+$/, '');
    await waitForHealth(url, timeoutMs, () => null);
    return { url, port: Number(new URL(url).port), configFile: null, service: null, external: true, stop: async () => {} };
  }
  if (!originUrl) throw new Error('startEdge: originUrl is required');
  if (!fs.existsSync(WASM)) throw new Error(`${WASM} does not exist`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-edge-'));
  const configFile = path.join(dir, 'fastly.toml');
  fs.writeFileSync(configFile, edgeConfig(originUrl));
  // Viceroy cannot take port 0; a port freed a moment ago could be taken
  // again before Viceroy binds it, so retry on "address in use".
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const edgePort = port ?? (await freePort());
    const url = `http://127.0.0.1:${edgePort}`;
    let service;
    try {
      service = await startService({
        name: 'viceroy',
        command: process.env.VICEROY || 'viceroy',
        args: [WASM, '-C', configFile, '--addr', `127.0.0.1:${edgePort}`],
        readyUrl: `${url}/health`,
        timeoutMs,
      });
      await waitForHealth(url, timeoutMs, () => service.child.exitCode);
    } catch (err) {
      lastErr = err;
      await service?.stop();
      if (port === undefined && /address (already )?in use|AddrInUse/i.test(String(err.message))) continue;
      break;
    }
    return {
      url,
      port: edgePort,
      configFile,
      service,
      external: false,
      async stop() {
        await service.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastErr;
}

/** Polls `${url}/health` until it answers 200 (any other status keeps waiting). */
async function waitForHealth(url, timeoutMs, exited) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited() !== null && exited() !== undefined) throw new Error(`edge exited before /health answered 200 (${last})`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err.cause?.code || err.message;
    }
    await sleep(100);
  }
  throw new Error(`${url}/health did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}

module.exports = { WASM, edgeConfig, edgeSkipReason, startEdge };
