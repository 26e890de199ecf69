// Mints signed viewer URLs exactly as the README tells a site to: this is
// the README's WebCrypto snippet (keep the two identical), so the suite
// proves the documented code against the edge's verifier (src/token.rs).
'use strict';

async function signEdgepackPath(urlPath, kid, keyBase64, expires) {
  const segs = urlPath.split('?')[0].slice(1).split('/').map(decodeURIComponent);
  const sub = /^qualitylevels\(/i.test(segs.at(-2) ?? '') ? 2 : 1; // QualityLevels(…)/… is two segments
  const scope = segs.slice(0, segs.length - sub).join('/');         // e.g. "abr/abr.ism"
  const raw = Uint8Array.from(atob(keyBase64), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const msg = new TextEncoder().encode(`edgepack-token/1\n${kid}\n${expires}\n${scope}`);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, msg));
  const sig = btoa(String.fromCharCode(...mac)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return `/tk.${kid}.${expires}.${sig}${urlPath}`;
}

module.exports = { signEdgepackPath };
