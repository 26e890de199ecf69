// edgepack in the browser: the fetch loop around the wasm Packager.
//
// The Packager (src/browser/, built with wasm-bindgen) never does I/O. Asked
// for a path, it either answers or lists the byte ranges of bucket objects it
// needs; this module fetches those with HTTP Range (and If-Match), hands the
// bodies over, and asks again until it answers, usually after 1–3 rounds for
// a cold manifest and 1 for a segment.
//
//   import init, { Packager } from './pkg/edgepack.js';   // wasm-bindgen --target web
//   import { packageRequest, toResponse } from './edgepack-browser.js';
//   await init();
//   const packager = new Packager(6000);
//   const r = await packageRequest(packager, 'https://bucket.example/media',
//                                  '/abr/abr.ism/manifest(format=m3u8-cmaf)');
//   // r: { status, contentType, body: Uint8Array, reason, immutable, rounds, reads }
//
// A cross-origin bucket must allow it with CORS: Access-Control-Allow-Origin,
// Allow-Headers "Range, If-Match", and Expose-Headers "Content-Range, ETag"
// (without ETag the packager still works, without the version check).
// Works in pages, workers and service workers, and in Node 20+ (fetch).

/** Rounds before giving up (a cold manifest needs 3 at most; a bug must not loop). */
export const MAX_ROUNDS = 8;
/** Largest body accepted for one read (the packager refuses larger ones too). */
export const MAX_READ_BYTES = 64 * 1024 * 1024;

/**
 * Percent-encodes an object path for a URL, as the edge does: RFC 3986
 * unreserved characters and "/" stay, every other UTF-8 byte is %XX.
 */
export function encodeObjectPath(path) {
  let out = '';
  for (const b of new TextEncoder().encode(path)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~/]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** "bytes 0-99/1234" -> { first: 0, last: 99, total: 1234 }, else null. */
export function parseContentRange(value) {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec((value || '').trim());
  if (!m) return null;
  const [first, last, total] = m.slice(1).map(Number);
  if (!(first <= last && last < total && Number.isSafeInteger(total))) return null;
  return { first, last, total };
}

/** Tries more for a read that failed at the network level (not for HTTP errors). */
export const NETWORK_RETRIES = 1;

const errorText = (e) => {
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? e}${cause ? ` (${cause})` : ''}`;
};

/**
 * One HTTP attempt at a read. Resolves { body, first, total, etag } or
 * { status, reason, network } (network: the request or its body failed in
 * transit, worth another try).
 */
async function fetchOnce(url, need, fetchFn, signal) {
  const { start, end, ifMatch } = need;
  const headers = { Range: `bytes=${start}-${end - 1}` };
  if (ifMatch) headers['If-Match'] = ifMatch;
  const refuse = (res, status, reason) => {
    res.body?.cancel().catch(() => {});
    return { status, reason, network: false };
  };
  let res;
  try {
    res = await fetchFn(url, { headers, signal });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    return { status: 0, reason: `fetch failed: ${errorText(e)}`, network: true };
  }
  if (res.status !== 206 && res.status !== 200) return refuse(res, res.status, res.statusText || '');
  const etag = res.headers.get('ETag') ?? '';
  // An origin that ignored If-Match would hand us another version's bytes.
  if (ifMatch && etag && etag !== ifMatch) return refuse(res, 412, `ETag ${etag} is not ${ifMatch}`);
  let first = 0;
  let total = null;
  if (res.status === 206) {
    const cr = res.headers.get('Content-Range');
    const range = parseContentRange(cr);
    if (!range || range.first !== start) {
      return refuse(res, 502, cr === null ? 'no Content-Range (not exposed by CORS?)' : `unusable Content-Range '${cr}'`);
    }
    first = range.first;
    total = range.total;
  } else {
    // 200: the whole object (the origin ignored Range); refuse a huge one.
    const len = Number(res.headers.get('Content-Length'));
    if (len > MAX_READ_BYTES) return refuse(res, 502, `origin ignored Range on a ${len}-byte object`);
  }
  let body;
  try {
    body = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    return { status: 0, reason: `body read failed: ${errorText(e)}`, network: true };
  }
  if (total === null) total = body.length;
  const want = Math.min(end, total) - start;
  if (body.length - (start - first) < want) {
    return { status: 502, reason: `short body (${body.length} bytes, wanted ${want})`, network: true };
  }
  return { body, first, total, etag };
}

/**
 * Fetches one needed read and provides it to the packager, or reports why it
 * failed (packager.fail with the HTTP status, 0 for a network error), so the
 * next request() answers with the error the edge would give. A read that
 * fails in transit is tried NETWORK_RETRIES more times (GETs of a range are
 * idempotent; a reused keep-alive connection can be closed under us). Resolves
 * to the number of body bytes received. Rethrows only an abort (`signal`).
 */
export async function fetchRead(packager, bucketBaseUrl, need, { fetch: fetchFn = globalThis.fetch, signal } = {}) {
  const url = `${bucketBaseUrl.replace(/\/+$/, '')}/${encodeObjectPath(need.path)}`;
  let r;
  for (let tries = 0; tries <= NETWORK_RETRIES; tries++) {
    r = await fetchOnce(url, need, fetchFn, signal);
    if (!r.network) break;
  }
  if (r.body) {
    try {
      packager.provide(need.path, r.first, r.body, r.total, r.etag);
      return r.body.length;
    } catch (e) {
      r = { status: 502, reason: String(e?.message ?? e) };
    }
  }
  packager.fail(need.path, need.start, r.status, r.reason);
  return 0;
}

/** The reads an Answer lists. */
function needsOf(answer) {
  const out = [];
  for (let i = 0; i < answer.need_count; i++) {
    out.push({
      path: answer.need_path(i),
      start: answer.need_start(i),
      end: answer.need_end(i),
      ifMatch: answer.need_if_match(i) ?? null,
    });
  }
  return out;
}

/**
 * Answers one request path (e.g. "/abr/abr.ism/manifest(format=mpd-time-cmaf)")
 * and optional query string (with or without "?") from the bucket at
 * `bucketBaseUrl`, doing as many fetch rounds as the packager asks for (the
 * reads of one round run concurrently).
 *
 * Resolves { status, contentType, body: Uint8Array, reason, immutable,
 * rounds, reads, bytesFetched }. `status` is 200 or the HTTP error the edge
 * would answer (400, 404, 501, 502, 504); `reason` is the one-line error.
 * Options: fetch (default globalThis.fetch), signal, maxRounds.
 */
export async function packageRequest(packager, bucketBaseUrl, path, query, options = {}) {
  const { maxRounds = MAX_ROUNDS } = options;
  const q = query ? String(query).replace(/^\?/, '') : '';
  let reads = 0;
  let bytesFetched = 0;
  for (let rounds = 0; ; rounds++) {
    const answer = packager.request(path, q || undefined);
    let needs;
    try {
      if (answer.status !== 0) {
        return {
          status: answer.status,
          contentType: answer.content_type,
          body: answer.body,
          reason: answer.reason,
          immutable: answer.immutable,
          rounds,
          reads,
          bytesFetched,
        };
      }
      needs = needsOf(answer);
    } finally {
      answer.free();
    }
    if (rounds >= maxRounds || needs.length === 0) {
      const reason = `no answer after ${rounds} rounds of origin reads`;
      return {
        status: 502,
        contentType: 'text/plain; charset=utf-8',
        body: new TextEncoder().encode(`${reason}\n`),
        reason,
        immutable: false,
        rounds,
        reads,
        bytesFetched,
      };
    }
    reads += needs.length;
    const got = await Promise.all(needs.map((n) => fetchRead(packager, bucketBaseUrl, n, options)));
    bytesFetched += got.reduce((a, b) => a + b, 0);
  }
}

/**
 * A fetch Response for a packageRequest result, with the headers the edge
 * sends: segments are immutable, manifests short-lived, errors not stored.
 * `head`: no body (for HEAD requests).
 */
export function toResponse(result, { head = false, manifestMaxAge = 60 } = {}) {
  const cacheControl =
    result.status !== 200
      ? 'no-store'
      : result.immutable
        ? 'public, max-age=31536000, immutable'
        : `public, max-age=${manifestMaxAge}`;
  return new Response(head ? null : result.body, {
    status: result.status,
    headers: {
      'Content-Type': result.contentType,
      'Content-Length': String(result.body.length),
      'Cache-Control': cacheControl,
    },
  });
}
