// Starts origin/server.js for a test on a free port, with its own log file.
//
//   const origin = await startOrigin();           // root: fixtures/media
//   await fetch(`${origin.url}/abr/abr.ism`);
//   const seen = await origin.requests();         // GET /__log
//   await origin.resetLog();                      // POST /__log/reset
//   await origin.stop();                          // also removes its temp log dir
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { REPO_ROOT, freePort, rawRequest, sleep, startService } = require('./process');

const FIXTURES = path.join(REPO_ROOT, 'fixtures');
const MEDIA = path.join(FIXTURES, 'media');
const SMALL = path.join(FIXTURES, 'small');
const SERVER = path.join(REPO_ROOT, 'origin', 'server.js');

// Temp log directories this process made and has not removed yet: removed
// by stop(), and at exit for an origin a test never stopped, so a test run
// leaves no edgepack-origin-* behind.
const ownDirs = new Set();
function removeDir(dir) {
  if (!ownDirs.delete(dir)) return;
  fs.rmSync(dir, { recursive: true, force: true });
}
process.on('exit', () => {
  for (const dir of [...ownDirs]) removeDir(dir);
});

/**
 * Starts the origin. Options: root (directory served, default fixtures/media),
 * port (default 0 = a free one), logFile (default a new temp file).
 * Resolves { url, port, root, logFile, service, requests(), resetLog(), stop() }.
 */
async function startOrigin({ root = MEDIA, port = 0, logFile } = {}) {
  let dir;
  if (!logFile) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-origin-'));
    ownDirs.add(dir);
    logFile = path.join(dir, 'origin.log');
  }
  let service;
  try {
    service = await startService({
      name: 'origin',
      command: process.execPath,
      args: [SERVER, '--port', String(port), '--root', root, '--log', logFile],
      ready: (line) => {
        try {
          const msg = JSON.parse(line);
          return msg.event === 'listening' ? msg : undefined;
        } catch {
          return undefined;
        }
      },
    });
  } catch (e) {
    if (dir) removeDir(dir);
    throw e;
  }
  const { url } = service.ready;
  return {
    url,
    port: service.ready.port,
    root,
    logFile,
    service,
    /** Requests the origin saw since the last reset (see origin/server.js). */
    async requests() {
      const res = await fetch(`${url}/__log`);
      if (!res.ok) throw new Error(`GET /__log: ${res.status}`);
      return res.json();
    },
    async resetLog() {
      const res = await fetch(`${url}/__log/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`POST /__log/reset: ${res.status}`);
    },
    /** Stops the origin and removes the log directory startOrigin made (not a given logFile). */
    async stop() {
      const result = await service.stop();
      if (dir) removeDir(dir);
      return result;
    },
  };
}

module.exports = { FIXTURES, MEDIA, SMALL, freePort, rawRequest, sleep, startOrigin };
