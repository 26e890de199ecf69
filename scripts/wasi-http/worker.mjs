// One instance of the edgepack component, for serve.mjs's pool: a worker
// thread imports the transpiled module (so it gets an instance of its own)
// and serves it on preview2-shim's HTTPServer on 127.0.0.1:0, then tells the
// main thread the port. It lives as long as the pool, so its in-memory index
// cache stays warm; a trap in the component kills the thread, and serve.mjs
// starts a new one.

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

// The same specifier the transpiled code imports, so the server and the
// component share one preview2-shim (resource tables, I/O thread).
const { HTTPServer } = await import('@bytecodealliance/preview2-shim/http');
const { incomingHandler } = await import(pathToFileURL(path.join(workerData.dir, workerData.file)).href);
if (typeof incomingHandler?.handle !== 'function') {
  parentPort.postMessage({ error: 'is not a wasi:http/proxy component (no incoming-handler export)' });
} else {
  const server = new HTTPServer(incomingHandler);
  server.listen(0, '127.0.0.1');
  parentPort.postMessage({ port: server.address().port });
}
