// A service worker that packages in the browser: requests under its scope for
// `*.ism/…`, `*.mp4/…` and `*.urlset/…` (the edge's URL grammar) are answered
// by the edgepack wasm from byte ranges of the bucket, so a player on the page
// can point at e.g. `./abr/abr.ism/manifest(format=m3u8-cmaf)` with no
// packaging server at all. Everything else goes to the network.
//
// Build the web glue next to this file (see README "In the browser"):
//   cargo rustc --release --target wasm32-unknown-unknown --lib --crate-type cdylib
//   wasm-bindgen --target web --out-dir browser/pkg target/wasm32-unknown-unknown/release/edgepack.wasm
// and register it as a module worker, naming the bucket:
//   navigator.serviceWorker.register(
//     '/sw.js?bucket=' + encodeURIComponent('https://bucket.example/media'),
//     { type: 'module' });
// The bucket needs CORS for the page's origin (see edgepack-browser.js).
//
// An example, not a product: one Packager per worker lifetime (a browser
// stops idle workers, which empties the index cache), no persistent caching.

import init, { Packager } from './pkg/edgepack.js';
import { packageRequest, toResponse } from './edgepack-browser.js';

const params = new URL(self.location.href).searchParams;
const BUCKET = params.get('bucket') || new URL('./media', self.location.href).href;
const SEGMENT_MS = Number(params.get('segment_ms')) || 6000;
/** Paths the packager answers: an asset (.ism, .mp4, .urlset) followed by a sub-path. */
const PACKAGED = /\.(ism|mp4|urlset)\//i;

const ready = init().then(() => new Packager(SEGMENT_MS));

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' && request.method !== 'HEAD') return;
  const url = new URL(request.url);
  const scope = new URL(self.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  // The packager's path is relative to the scope: /app/abr/abr.ism/… -> /abr/abr.ism/…
  const path = `/${url.pathname.slice(scope.pathname.length)}`;
  if (!PACKAGED.test(path)) return;
  event.respondWith(
    (async () => {
      try {
        const p = await ready;
        const result = await packageRequest(p, BUCKET, path, url.search, { signal: request.signal });
        return toResponse(result, { head: request.method === 'HEAD' });
      } catch (e) {
        return new Response(`edgepack: ${e?.message ?? e}\n`, {
          status: 502,
          headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
        });
      }
    })(),
  );
});
