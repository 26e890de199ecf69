// Runs the edge for a test, with its origin pointed at a test origin, under
// the runtime EDGEPACK_RUNTIME names:
//   fastly (default)  the release wasm32-wasip1 wasm under Viceroy;
//   wasi-http         the wasm32-wasip2 wasi:http component under jco
//                     (scripts/wasi-http/serve.mjs), configured through
//                     EDGEPACK_* environment variables; EDGEPACK_WASI_COMPONENT
//                     overrides the component's path.
//
//   const origin = await startOrigin();
//   const edge = await startEdge({ originUrl: origin.url });  // or skip: see edgeSkipReason()
//   await fetch(`${edge.url}/abr/abr.ism/manifest(format=m3u8-cmaf)`);
//   await edge.stop();
//
// The generated fastly.toml is the repo's with the origin backend URL
// replaced, so any other [local_server] settings added there apply too; the
// wasi:http build gets the same config store settings as environment
// variables (scripts/wasi-http/settings.js). A test's `secrets` (origin
// credentials: wasm-tests/lib/buckets.js) go into the Secret Store
// `edgepack_secrets` of the generated fastly.toml, or are EDGEPACK_<KEY>
// variables like the settings under wasi:http.
//
// EDGEPACK_EDGE_URL=http://127.0.0.1:7676 makes startEdge() use an edge that
// is already running (scripts/run.sh) instead of starting one; its own
// origin is then whatever it was started with.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { REPO_ROOT, freePort, sleep, startService } = require('./process');
const { settingsEnv } = require('../../scripts/wasi-http/settings');

const RUNTIMES = ['fastly', 'wasi-http'];
const RUNTIME = process.env.EDGEPACK_RUNTIME || 'fastly';
if (!RUNTIMES.includes(RUNTIME)) {
  throw new Error(`EDGEPACK_RUNTIME=${RUNTIME}: expected one of ${RUNTIMES.join(', ')}`);
}
const WASM = path.join(REPO_ROOT, 'target', 'wasm32-wasip1', 'release', 'edgepack.wasm');
const WASI_COMPONENT = process.env.EDGEPACK_WASI_COMPONENT
  ? path.resolve(process.env.EDGEPACK_WASI_COMPONENT)
  : path.join(REPO_ROOT, 'target', 'wasm32-wasip2', 'release', 'edgepack.wasm');
const WASI_SERVE = path.join(REPO_ROOT, 'scripts', 'wasi-http', 'serve.mjs');
const FASTLY_TOML = path.join(REPO_ROOT, 'fastly.toml');
const BACKEND = 'origin';
const SECRET_STORE = 'edgepack_secrets';
// Viceroy's rule for Secret Store and secret names (viceroy-lib config/secret_store.rs).
const SECRET_NAME = /^[A-Za-z0-9_.-]{1,255}$/;

// What startEdge runs, and how to build it.
const BUILD =
  RUNTIME === 'wasi-http'
    ? { file: WASI_COMPONENT, command: 'cargo rustc --release --target wasm32-wasip2 --lib --crate-type cdylib' }
    : { file: WASM, command: 'cargo build --release --target wasm32-wasip1 --bin edgepack' };

/**
 * Why the edge cannot run here, or null when it can. A missing wasm is a
 * reason to skip locally, but under CI=true it throws: CI must never pass
 * because the build step produced nothing.
 */
function edgeSkipReason() {
  if (process.env.EDGEPACK_EDGE_URL) return null;
  if (fs.existsSync(BUILD.file)) return null;
  const reason = `${path.relative(REPO_ROOT, BUILD.file)} does not exist (build it: ${BUILD.command})`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  return reason;
}

/**
 * The text of fastly.toml with `[local_server.backends.<backend>] url` set to
 * `originUrl`, and relative `file = "…"` paths (config/secret store files)
 * made absolute, since the generated file lives in a temp directory.
 * `settings` override keys of the config store `edgepack`; non-empty
 * `secrets` become the whole Secret Store `edgepack_secrets` (Viceroy's inline
 * form, `[local_server.secret_stores]` `edgepack_secrets = [{ key, data }, …]`),
 * replacing a one-line definition of that store in the file.
 */
function edgeConfig(originUrl, { source = fs.readFileSync(FASTLY_TOML, 'utf8'), backend = BACKEND, settings = {}, secrets = {} } = {}) {
  const lines = source.split('\n');
  let section = null;
  let replaced = false;
  const store = 'local_server.config_stores.edgepack.contents';
  const hasSecrets = Object.keys(secrets).length > 0;
  const out = lines.map((line) => {
    const header = /^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      section = header[1].trim();
      if (hasSecrets && section.startsWith(`local_server.secret_stores.${SECRET_STORE}`)) {
        throw new Error(`fastly.toml: cannot replace the Secret Store ${SECRET_STORE} defined as [${section}]; use the one-line form under [local_server.secret_stores]`);
      }
      return line;
    }
    // A setting overridden by the test: drop the file's line, appended below.
    const kv = /^\s*([A-Za-z0-9_-]+)\s*=/.exec(line);
    if (section === store && kv && kv[1] in settings) return '';
    if (hasSecrets && section === 'local_server.secret_stores' && kv?.[1] === SECRET_STORE) {
      if (!/\]\s*(#.*)?$/.test(line)) throw new Error(`fastly.toml: cannot replace a multi-line ${SECRET_STORE} = [...]`);
      return '';
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
  if (Object.keys(settings).length) {
    const at = out.findIndex((l) => l.trim() === `[${store}]`);
    if (at < 0) throw new Error(`fastly.toml: no [${store}] section to add settings to`);
    out.splice(at + 1, 0, ...Object.entries(settings).map(([k, v]) => `${k} = ${JSON.stringify(String(v))}`));
  }
  if (hasSecrets) {
    for (const key of Object.keys(secrets)) {
      if (!SECRET_NAME.test(key)) throw new Error(`secret name ${JSON.stringify(key)}: Viceroy allows only letters, digits, '-', '_' and '.'`);
    }
    // TOML basic strings take JSON's escapes.
    const items = Object.entries(secrets).map(([k, v]) => `{ key = ${JSON.stringify(k)}, data = ${JSON.stringify(String(v))} }`);
    const line = `${SECRET_STORE} = [${items.join(', ')}]`;
    const at = out.findIndex((l) => /^\s*\[\s*local_server\.secret_stores\s*\]\s*(#.*)?$/.test(l));
    if (at < 0) out.push('', '[local_server.secret_stores]', line, '');
    else out.splice(at + 1, 0, line);
  }
  return out.join('\n');
}

/** { EDGEPACK_<KEY>: value } for the wasi:http build: how it reads both settings and secrets. */
function envOf(map) {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [`EDGEPACK_${k.toUpperCase()}`, String(v)]));
}

/**
 * Starts the edge (Viceroy with the release wasm, or the wasi:http component
 * under jco: see RUNTIME) on a free port and waits until GET /health answers
 * 200. Options: originUrl (required unless EDGEPACK_EDGE_URL is set), port
 * (default: a free one), timeoutMs, settings (config store keys overriding
 * fastly.toml's, e.g. { output_cache: 'off' }), secrets (Secret Store keys,
 * e.g. { azure_key: '…' }), backends (Viceroy only: other fastly.toml
 * backends' URLs, e.g. { key_provider: url }; under wasi:http requests go
 * to the URL a setting names). Resolves { url, port, configFile (null
 * for wasi-http), service, external, stop() }.
 */
async function startEdge({ originUrl, port, timeoutMs = 30_000, settings = {}, secrets = {}, backends = {} } = {}) {
  const external = process.env.EDGEPACK_EDGE_URL;
  if (external) {
    const url = external.replace(/\/+$/, '');
    await waitForHealth(url, timeoutMs, () => null);
    return { url, port: Number(new URL(url).port), configFile: null, service: null, external: true, stop: async () => {} };
  }
  if (!originUrl) throw new Error('startEdge: originUrl is required');
  if (!fs.existsSync(BUILD.file)) throw new Error(`${BUILD.file} does not exist`);
  const wasi = RUNTIME === 'wasi-http';
  let dir = null;
  let configFile = null;
  if (!wasi) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-edge-'));
    configFile = path.join(dir, 'fastly.toml');
    // 0600: it may hold origin credentials.
    let config = edgeConfig(originUrl, { settings, secrets });
    // Other backends (e.g. { key_provider: url }): their url lines too.
    for (const [backend, url] of Object.entries(backends)) config = edgeConfig(url, { source: config, backend });
    fs.writeFileSync(configFile, config, { mode: 0o600 });
  }
  const removeDir = () => dir && fs.rmSync(dir, { recursive: true, force: true });
  // Neither runtime can take port 0; a port freed a moment ago could be taken
  // again before the edge binds it, so retry on "address in use".
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const edgePort = port ?? (await freePort());
    const url = `http://127.0.0.1:${edgePort}`;
    let service;
    try {
      const addr = `127.0.0.1:${edgePort}`;
      service = await startService(
        wasi
          ? {
              name: 'wasi-http',
              command: process.execPath,
              args: [WASI_SERVE, '--addr', addr, '--component', WASI_COMPONENT],
              env: {
                ...settingsEnv(),
                ...envOf(settings),
                ...envOf(secrets),
                EDGEPACK_ORIGIN: originUrl,
              },
              readyUrl: `${url}/health`,
              timeoutMs,
            }
          : {
              name: 'viceroy',
              command: process.env.VICEROY || 'viceroy',
              args: [WASM, '-C', configFile, '--addr', addr],
              readyUrl: `${url}/health`,
              timeoutMs,
            },
      );
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
        removeDir();
      },
    };
  }
  removeDir();
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

module.exports = { RUNTIME, SECRET_STORE, WASI_COMPONENT, WASM, edgeConfig, edgeSkipReason, envOf, startEdge };
