// Starts origin/server.js for a test on a free port, with its own log file.
//
//   const origin = await startOrigin();           // root: fixtures/media
//   await fetch(`${origin.url}/abr/abr.ism`);
//   const seen = await origin.requests();         // GET /__log
//   await origin.resetLog();                      // POST /__log/reset
//   await origin.stop();
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { REPO_ROOT, freePort, rawRequest, sleep, startService } = require('./process');

const FIXTURES = path.join(REPO_ROOT, 'fixtures');
const MEDIA = path.join(FIXTURES, 'media');
const SMALL = path.join(FIXTURES, 'small');
const SERVER = path.join(REPO_ROOT, 'origin', 'server.js');

/**
 * Starts the origin. Options: root (directory served, default fixtures/media),
 * port (default 0 = a free one), logFile (default a new temp file).
 * Resolves { url, port, root, logFile, service, requests(), resetLog(), stop() }.
 */
async function startOrigin({ root = MEDIA, port = 0, logFile } = {}) {
  if (!logFile) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-origin-'));
    logFile = path.join(dir, 'origin.log');
  }
  const service = await startService({
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
    stop: () => service.stop(),
  };
}

module.exports = { FIXTURES, MEDIA, SMALL, freePort, rawRequest, sleep, startOrigin };
