#!/usr/bin/env node
// Local origin for edgepack: serves a directory the way an object-storage bucket
// does (Range -> 206/416, strong ETag, Last-Modified, If-Match / If-None-Match,
// HEAD), logs every request, and injects faults on request for tests.
//
//   node origin/server.js [--port 8081] [--root fixtures/media] [--log FILE]
//
// --port 0 picks a free port. The first stdout line is JSON:
//   {"event":"listening","url":"http://127.0.0.1:PORT","port":PORT,"root":"..."}
// and every request after that is one JSON line (also appended to --log FILE).
//
// Test endpoints (not logged):
//   GET  /__log          JSON array of requests seen since the last reset
//   POST /__log/reset    clears it
// Faults, by path prefix, followed by the object's path:
//   /__fault/status/{code}/...   answers {code} without touching the file
//   /__fault/slow/{ms}/...       waits {ms} then serves the file
//   /__fault/short/...           declares the full Content-Length, sends half, closes
//   /__fault/etag-flip/...       serves the file with a new ETag on every request
//   /__fault/weak-etag/...       serves the file with a weak ETag (W/"…") and, as
//                                servers comparing If-Match strongly do (RFC 9110
//                                §13.1.1), answers 412 to any If-Match but *
//   /__fault/no-etag/...         serves the file without an ETag (Last-Modified
//                                and the size are all a client has to tell
//                                versions apart)
//   /__fault/short-after/{n}/... serves the first {n} requests for this exact
//                                fault path normally, then behaves like /short/
//                                (a truncated payload read after good index reads)
// Player scripts from node_modules: /_assets/{hls.min.js, dash.all.min.js,
// dash.mss.min.js, shaka-player.compiled.js, iso_boxer.min.js}.
// The player page: /_player/ and /_player/index.html serve origin/player/index.html
// (the edge proxies its /player there); /_player/assets/{file} is /_assets/{file}
// so the page's relative script URLs work when it is opened here directly.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const rangeParser = require('range-parser');
const send = require('send');

const REPO_ROOT = path.resolve(__dirname, '..');
const PLAYER_DIR = path.join(__dirname, 'player');
const NODE_MODULES = path.join(REPO_ROOT, 'node_modules');

const ASSETS = {
  'hls.min.js': path.join(NODE_MODULES, 'hls.js', 'dist', 'hls.min.js'),
  'dash.all.min.js': path.join(NODE_MODULES, 'dashjs', 'dist', 'dash.all.min.js'),
  'dash.mss.min.js': path.join(NODE_MODULES, 'dashjs', 'dist', 'dash.mss.min.js'),
  'shaka-player.compiled.js': path.join(NODE_MODULES, 'shaka-player', 'dist', 'shaka-player.compiled.js'),
  // Shaka's Smooth Streaming support needs codem-isoboxer on window.
  'iso_boxer.min.js': path.join(NODE_MODULES, 'codem-isoboxer', 'dist', 'iso_boxer.min.js'),
};

// Longest delay /__fault/slow accepts, so a typo cannot hang a test run.
const MAX_SLOW_MS = 120_000;
// Bound on the in-memory log (a long soak test must not grow it without limit).
const MAX_LOG_ENTRIES = 100_000;

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers':
    'Content-Length, Content-Range, Content-Type, ETag, Last-Modified, Accept-Ranges',
};

function parseArgs(argv) {
  const opts = { port: 8081, root: path.join(REPO_ROOT, 'fixtures', 'media'), log: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--port': {
        const port = Number(value());
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port`);
        opts.port = port;
        break;
      }
      case '--root':
        opts.root = path.resolve(value());
        break;
      case '--log':
        opts.log = path.resolve(value());
        break;
      case '-h':
      case '--help':
        opts.help = true;
        break;
      default:
        throw new Error(`unknown argument: ${arg}`);
    }
  }
  return opts;
}

// A strong validator, as S3/GCS give: it changes whenever size or mtime does.
function strongEtag(stat) {
  return `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
}

// Maps a URL path (still percent-encoded) to a file under root, or null when it
// is malformed or escapes root. send() does the same check for the paths it
// serves; this is for the fault handlers that open files themselves.
function resolveInRoot(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  if (decoded.split(/[\\/]/).some((part) => part === '..')) return null;
  const file = path.join(root, path.normalize(decoded));
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  return file;
}

function createOrigin(opts) {
  const root = path.resolve(opts.root);
  const logFile = opts.log ? fs.createWriteStream(opts.log, { flags: 'a' }) : null;
  let entries = [];
  let etagFlips = 0;
  // Requests seen per /__fault/short-after/{n}/{path} (the whole fault path).
  const shortAfterSeen = new Map();

  function record(entry) {
    const line = JSON.stringify(entry);
    process.stdout.write(line + '\n');
    if (logFile) logFile.write(line + '\n');
    entries.push(entry);
    if (entries.length > MAX_LOG_ENTRIES) entries = entries.slice(-MAX_LOG_ENTRIES);
  }

  // Counts body bytes and logs the request once the response is done (or aborted).
  function trackResponse(req, res) {
    const started = process.hrtime.bigint();
    let bytes = 0;
    const count = (chunk, encoding) => {
      if (chunk && typeof chunk !== 'function') {
        bytes += Buffer.isBuffer(chunk) ? chunk.length : Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding : 'utf8');
      }
    };
    const write = res.write;
    const end = res.end;
    res.write = function (chunk, encoding, cb) {
      count(chunk, encoding);
      return write.call(this, chunk, encoding, cb);
    };
    res.end = function (chunk, encoding, cb) {
      count(chunk, encoding);
      return end.call(this, chunk, encoding, cb);
    };
    res.on('close', () => {
      record({
        time: new Date().toISOString(),
        method: req.method,
        path: req.url,
        range: req.headers.range ?? null,
        ifMatch: req.headers['if-match'] ?? null,
        ifNoneMatch: req.headers['if-none-match'] ?? null,
        status: res.statusCode,
        bytes: req.method === 'HEAD' ? 0 : bytes,
        complete: res.writableFinished,
        ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
      });
    });
  }

  function plain(res, status, message) {
    const body = `${message}\n`;
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  // Serves root + urlPath with send(); `etag` overrides the validator when given.
  function serveFile(req, res, fileRoot, urlPath, etag) {
    // Request Cache-Control/Pragma are directives for caches; a bucket still
    // answers If-None-Match with 304 under them (send() would not). fetch()
    // adds `no-cache` to every conditional request, so this matters in tests.
    delete req.headers['cache-control'];
    delete req.headers.pragma;
    const stream = send(req, urlPath, {
      root: fileRoot,
      index: false,
      dotfiles: 'ignore',
      cacheControl: false,
    });
    stream.on('headers', (response, _file, stat) => {
      const tag = etag ? etag(stat) : strongEtag(stat);
      if (tag) response.setHeader('ETag', tag);
      else response.removeHeader('ETag');
    });
    stream.on('directory', () => plain(res, 404, 'Not Found'));
    stream.on('error', (err) => {
      const status = err.status || err.statusCode || 500;
      // send() puts headers that belong to the error (416's Content-Range) here.
      for (const [name, value] of Object.entries(err.headers || {})) {
        if (value !== undefined) res.setHeader(name, value);
      }
      plain(res, status, http.STATUS_CODES[status] || 'Error');
    });
    stream.pipe(res);
  }

  // Declares the full length of the (possibly ranged) body, sends half, then
  // closes the connection: a truncated origin read.
  function serveShort(req, res, urlPath) {
    const file = resolveInRoot(root, urlPath);
    if (!file) return plain(res, 403, 'Forbidden');
    let stat;
    try {
      stat = fs.statSync(file);
    } catch {
      return plain(res, 404, 'Not Found');
    }
    if (!stat.isFile()) return plain(res, 404, 'Not Found');
    let start = 0;
    let end = stat.size - 1;
    const headers = {
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      ETag: strongEtag(stat),
      'Last-Modified': stat.mtime.toUTCString(),
    };
    let status = 200;
    if (req.headers.range) {
      const ranges = rangeParser(stat.size, req.headers.range, { combine: true });
      if (ranges === -1) {
        res.writeHead(416, { 'Content-Range': `bytes */${stat.size}`, 'Content-Length': 0 });
        return res.end();
      }
      if (Array.isArray(ranges) && ranges.length === 1) {
        status = 206;
        ({ start, end } = ranges[0]);
        headers['Content-Range'] = `bytes ${start}-${end}/${stat.size}`;
      }
    }
    const declared = end - start + 1;
    headers['Content-Length'] = declared;
    res.writeHead(status, headers);
    const half = Math.floor(declared / 2);
    if (req.method === 'HEAD' || half === 0) {
      res.flushHeaders();
      res.socket.end();
      return;
    }
    const body = fs.createReadStream(file, { start, end: start + half - 1 });
    body.on('data', (chunk) => res.write(chunk));
    body.on('error', () => res.destroy());
    // socket.end() flushes what was written, then closes: the client sees EOF
    // before Content-Length bytes arrived.
    body.on('end', () => res.socket.end());
  }

  function serveAsset(req, res, name) {
    const file = Object.hasOwn(ASSETS, name) ? ASSETS[name] : null;
    if (!file) return plain(res, 404, 'Not Found');
    if (!fs.existsSync(file)) return plain(res, 404, `${name} missing: run npm ci`);
    serveFile(req, res, path.dirname(file), '/' + path.basename(file));
  }

  function handleFault(req, res, rest) {
    let m;
    if ((m = /^\/status\/(\d{3})(\/.*)$/.exec(rest))) {
      const code = Number(m[1]);
      if (code < 200 || code > 599) return plain(res, 400, 'fault status must be 200-599');
      return plain(res, code, `injected fault: status ${code}`);
    }
    if ((m = /^\/slow\/(\d+)(\/.*)$/.exec(rest))) {
      const ms = Math.min(Number(m[1]), MAX_SLOW_MS);
      const timer = setTimeout(() => serveFile(req, res, root, m[2]), ms);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if ((m = /^\/short(\/.*)$/.exec(rest))) {
      return serveShort(req, res, m[1]);
    }
    if ((m = /^\/short-after\/(\d+)(\/.*)$/.exec(rest))) {
      const seen = (shortAfterSeen.get(rest) || 0) + 1;
      if (shortAfterSeen.size > 10_000) shortAfterSeen.clear();
      shortAfterSeen.set(rest, seen);
      if (seen <= Number(m[1])) return serveFile(req, res, root, m[2]);
      return serveShort(req, res, m[2]);
    }
    if ((m = /^\/weak-etag(\/.*)$/.exec(rest))) {
      const ifMatch = req.headers['if-match'];
      if (ifMatch !== undefined && ifMatch.trim() !== '*') return plain(res, 412, 'Precondition Failed');
      return serveFile(req, res, root, m[1], (stat) => `W/${strongEtag(stat)}`);
    }
    if ((m = /^\/no-etag(\/.*)$/.exec(rest))) {
      delete req.headers['if-match'];
      return serveFile(req, res, root, m[1], () => null);
    }
    if ((m = /^\/etag-flip(\/.*)$/.exec(rest))) {
      const flip = ++etagFlips;
      return serveFile(req, res, root, m[1], (stat) => `"flip-${flip}-${stat.size.toString(16)}"`);
    }
    return plain(res, 404, 'unknown fault');
  }

  function handle(req, res) {
    for (const [name, value] of Object.entries(CORS_HEADERS)) res.setHeader(name, value);
    // The raw (still percent-encoded, dot segments intact) path: send() and
    // resolveInRoot() decode it themselves and refuse anything escaping root.
    const query = req.url.indexOf('?');
    const pathname = query < 0 ? req.url : req.url.slice(0, query);
    if (!pathname.startsWith('/')) return plain(res, 400, 'Bad Request');

    // Control endpoints answer without being logged.
    if (pathname === '/__log' && req.method === 'GET') {
      const body = JSON.stringify(entries);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      return res.end(body);
    }
    if (pathname === '/__log/reset' && req.method === 'POST') {
      entries = [];
      res.writeHead(204);
      return res.end();
    }

    trackResponse(req, res);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] || 'Range',
        'Access-Control-Max-Age': '600',
      });
      return res.end();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, OPTIONS');
      return plain(res, 405, 'Method Not Allowed');
    }
    if (pathname.startsWith('/__fault/')) return handleFault(req, res, pathname.slice('/__fault'.length));
    if (pathname.startsWith('/_assets/')) return serveAsset(req, res, pathname.slice('/_assets/'.length));
    if (pathname.startsWith('/_player/assets/')) return serveAsset(req, res, pathname.slice('/_player/assets/'.length));
    if (pathname === '/_player/' || pathname === '/_player/index.html') {
      return serveFile(req, res, PLAYER_DIR, '/index.html');
    }
    return serveFile(req, res, root, pathname);
  }

  const server = http.createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      process.stderr.write(`origin: ${err.stack || err}\n`);
      if (!res.headersSent) plain(res, 500, 'Internal Server Error');
      else res.destroy();
    }
  });
  server.on('close', () => logFile?.end());
  return server;
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`origin: ${err.message}\nusage: node origin/server.js [--port N] [--root DIR] [--log FILE]\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write('usage: node origin/server.js [--port N] [--root DIR] [--log FILE]\n');
    return;
  }
  if (!fs.existsSync(opts.root)) {
    process.stderr.write(`origin: root ${opts.root} does not exist (run fixtures/generate.sh)\n`);
    process.exit(1);
  }
  const server = createOrigin(opts);
  server.on('error', (err) => {
    process.stderr.write(`origin: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(opts.port, '127.0.0.1', () => {
    const { port } = server.address();
    const url = `http://127.0.0.1:${port}`;
    process.stdout.write(JSON.stringify({ event: 'listening', url, port, root: opts.root }) + '\n');
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

module.exports = { ASSETS, PLAYER_DIR, createOrigin, parseArgs, resolveInRoot };

if (require.main === module) main();
