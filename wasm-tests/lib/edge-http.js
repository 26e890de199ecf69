// HTTP helpers for the black-box edge tests: fetch with timing, the header
// checks every edge response must pass, minimal HLS / DASH reading to list
// every URL a manifest references, origin-log accounting, and a byte-for-byte
// check of a segment's payload against the source MP4.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { parseSegment, sourceTracks } = require('./mp4');

const CT = {
  hls: 'application/vnd.apple.mpegurl',
  dash: 'application/dash+xml',
  smooth: 'application/vnd.ms-sstr+xml',
  video: 'video/mp4',
  audio: 'audio/mp4',
  ts: 'video/mp2t',
};

/** Connection-level causes of a `fetch failed` that came before any response. */
const NO_RESPONSE = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);

/**
 * GET (or `method`) `url`; resolves { url, status, headers, body: Buffer, ms }.
 *
 * A GET or HEAD whose connection closed before any response head is sent
 * once more (logged to stderr with its cause): an idempotent request on a
 * loopback connection a loaded CI machine let die is what HTTP clients
 * retry (RFC 9110 §9.2.2), and one lost connection in ~1 500 requests per
 * run must not fail a run. The same failure twice still throws, with its
 * cause, so an edge that crashes on a request fails its test.
 */
async function get(url, { method = 'GET', headers = {} } = {}) {
  const started = performance.now();
  let res;
  try {
    res = await fetch(url, { method, headers, redirect: 'manual' });
  } catch (error) {
    const code = error?.cause?.code;
    if (!(method === 'GET' || method === 'HEAD') || !NO_RESPONSE.has(code)) throw withCause(error, url);
    console.error(`edge-http: ${method} ${url}: connection closed before a response (${code}: ${error.cause.message}); sent once more`);
    try {
      res = await fetch(url, { method, headers, redirect: 'manual' });
    } catch (again) {
      throw withCause(again, url);
    }
  }
  const body = Buffer.from(await res.arrayBuffer());
  return { url, status: res.status, headers: res.headers, body, ms: performance.now() - started };
}

/** `fetch failed` says nothing on its own: the URL and the cause join the message. */
function withCause(error, url) {
  if (error?.cause) error.message = `${error.message} (${url}: ${error.cause.code ?? ''} ${error.cause.message ?? error.cause})`;
  return error;
}

/**
 * Like get(), but a body that ends before its Content-Length (the connection
 * closed early) resolves with `truncated: true` instead of throwing.
 */
async function getMaybeTruncated(url) {
  const started = performance.now();
  let res;
  try {
    res = await fetch(url);
  } catch (error) {
    // The edge began a streamed 200 and aborted it when an origin read came
    // up short; whether the client saw the headers first is a race in the
    // runtime's HTTP server (Viceroy may close before flushing them). Either
    // way the client never holds a complete 200: report it as a truncated
    // answer with no status (0).
    return { url, status: 0, headers: new Headers(), body: null, ms: performance.now() - started, truncated: true, error };
  }
  try {
    const body = Buffer.from(await res.arrayBuffer());
    return { url, status: res.status, headers: res.headers, body, ms: performance.now() - started, truncated: false };
  } catch (error) {
    return { url, status: res.status, headers: res.headers, body: null, ms: performance.now() - started, truncated: true, error };
  }
}

const text = (res) => res.body.toString('utf8');

/** Headers every edge response carries, errors included (CORS). */
function assertCors(res) {
  assert.equal(res.headers.get('access-control-allow-origin'), '*', `${res.url}: CORS header (status ${res.status})`);
}

/**
 * A successful packaged response: 200, the content type, Content-Length equal
 * to the body, CORS, an ETag, and the Cache-Control its kind calls for
 * (`immutable` for init/media segments, a short max-age for manifests).
 */
function assertOk(res, contentType, { immutable } = {}) {
  assert.equal(res.status, 200, `${res.url}: status ${res.status}: ${res.body?.toString('utf8', 0, 200)}`);
  assert.equal((res.headers.get('content-type') || '').split(';')[0], contentType, `${res.url}: content type`);
  assert.equal(Number(res.headers.get('content-length')), res.body.length, `${res.url}: Content-Length vs body`);
  assertCors(res);
  assert.match(res.headers.get('etag') || '', /^(W\/)?"[^"]+"$/, `${res.url}: ETag`);
  const cc = res.headers.get('cache-control') || '';
  const maxAge = Number(/max-age=(\d+)/.exec(cc)?.[1]);
  if (immutable) {
    assert.match(cc, /immutable/, `${res.url}: segments are immutable (${cc})`);
    assert.ok(maxAge >= 86_400, `${res.url}: segment max-age ${maxAge}`);
  } else if (immutable === false) {
    assert.doesNotMatch(cc, /immutable/, `${res.url}: manifests are not immutable (${cc})`);
    assert.ok(Number.isFinite(maxAge) && maxAge <= 3_600, `${res.url}: manifest max-age ${maxAge} should be short`);
  }
}

/** An error answer: the status, a plain-text reason, CORS, not cacheable. */
function assertError(res, statuses, reason) {
  const list = [statuses].flat();
  const body = res.body.toString('utf8');
  assert.ok(list.includes(res.status), `${res.url}: status ${res.status}, expected ${list.join('/')}: ${body.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') || '', /^text\/plain/, `${res.url}: error content type`);
  assert.ok(body.trim().length > 0, `${res.url}: error body gives a reason`);
  if (reason) assert.match(body, reason, `${res.url}: reason`);
  assertCors(res);
  assert.match(res.headers.get('cache-control') || '', /no-store|no-cache|max-age=0/, `${res.url}: errors are not cached`);
}

/** Top-level box types of an MP4 body. */
function boxTypes(buf) {
  const out = [];
  let pos = 0;
  while (pos + 8 <= buf.length) {
    const size = buf.readUInt32BE(pos);
    out.push(buf.toString('latin1', pos + 4, pos + 8));
    if (size < 8) break;
    pos += size;
  }
  return out;
}

function assertInit(res) {
  const types = boxTypes(res.body);
  assert.equal(types[0], 'ftyp', `${res.url}: init starts with ftyp (${types})`);
  assert.ok(types.includes('moov'), `${res.url}: init has a moov (${types})`);
}

function assertMediaSegment(res) {
  const types = boxTypes(res.body);
  assert.equal(types[0], 'styp', `${res.url}: segment starts with styp (${types})`);
  assert.ok(types.includes('moof') && types.includes('mdat'), `${res.url}: moof + mdat (${types})`);
  assert.ok(types.indexOf('moof') < types.indexOf('mdat'), `${res.url}: moof before mdat`);
}

/** "A=1,B=\"x,y\"" -> { A: '1', B: 'x,y' }. */
function hlsAttributes(list) {
  const out = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  let m;
  while ((m = re.exec(list))) out[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
  return out;
}

/**
 * Every URI an HLS playlist references, resolved against `base`:
 * { variants, media, iframes, map, segments: [{ url, duration }] }.
 */
function parseHls(body, base) {
  const lines = body.split(/\r?\n/);
  assert.equal(lines[0], '#EXTM3U', `${base}: playlist starts with #EXTM3U`);
  const out = { variants: [], media: [], iframes: [], map: null, segments: [], targetDuration: null, ended: false };
  let pending = null;
  let duration = null;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-STREAM-INF:')) pending = hlsAttributes(line.slice(18));
    else if (line.startsWith('#EXT-X-MEDIA:')) {
      const a = hlsAttributes(line.slice(13));
      if (a.URI) out.media.push({ ...a, url: new URL(a.URI, base).href });
    } else if (line.startsWith('#EXT-X-I-FRAME-STREAM-INF:')) {
      const a = hlsAttributes(line.slice(26));
      if (a.URI) out.iframes.push({ ...a, url: new URL(a.URI, base).href });
    } else if (line.startsWith('#EXT-X-MAP:')) {
      out.map = new URL(hlsAttributes(line.slice(11)).URI, base).href;
    } else if (line.startsWith('#EXT-X-TARGETDURATION:')) out.targetDuration = Number(line.slice(22));
    else if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8));
    else if (line === '#EXT-X-ENDLIST') out.ended = true;
    else if (line && !line.startsWith('#')) {
      const url = new URL(line, base).href;
      if (pending) {
        out.variants.push({ ...pending, url });
        pending = null;
      } else {
        out.segments.push({ url, duration });
        duration = null;
      }
    }
  }
  return out;
}

/** Elements of an XML document as { name, attrs, children } (enough for an MPD). */
function parseXml(body) {
  const root = { name: '#document', attrs: {}, children: [] };
  const stack = [root];
  const re = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
  let m;
  while ((m = re.exec(body))) {
    if (!m[2]) continue;
    const [, closing, name, attrText, selfClosing] = m;
    // Nodes are named without their prefix (`cenc:pssh` → `pssh`): closing
    // tags are matched the same way, or a prefixed element would unwind
    // the stack to the root and lose everything after it.
    const local = name.replace(/^.*:/, '');
    if (closing) {
      while (stack.length > 1 && stack.pop().name !== local);
      continue;
    }
    const attrs = {};
    const ar = /([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
    let a;
    while ((a = ar.exec(attrText))) attrs[a[1]] = (a[2] ?? a[3]).replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"');
    const node = { name: local, attrs, children: [] };
    stack[stack.length - 1].children.push(node);
    if (!selfClosing) stack.push(node);
  }
  return root;
}

const kids = (node, name) => node.children.filter((c) => c.name === name);

/** ISO 8601 duration (PT…H…M…S) in seconds. */
function isoSeconds(d) {
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(d || '');
  if (!m) return NaN;
  return (Number(m[1] || 0) * 24 + Number(m[2] || 0)) * 3600 + Number(m[3] || 0) * 60 + Number(m[4] || 0);
}

function fillTemplate(tpl, rep, vars) {
  return tpl.replace(/\$(RepresentationID|Bandwidth|Time|Number)(%0(\d+)d)?\$|\$\$/g, (all, name, _f, width) => {
    if (all === '$$') return '$';
    let v = { RepresentationID: rep.attrs.id, Bandwidth: rep.attrs.bandwidth, ...vars }[name];
    assert.notEqual(v, undefined, `template ${tpl}: no value for ${name}`);
    v = String(v);
    return width ? v.padStart(Number(width), '0') : v;
  });
}

/**
 * Every Representation of a static MPD with its init and media segment URLs
 * (SegmentTemplate + SegmentTimeline, or SegmentTemplate with a duration),
 * resolved against `base`: [{ id, bandwidth, contentType, mimeType, codecs,
 * lang, init, segments: [{ url, time, duration }] }], plus the presentation
 * duration in seconds.
 */
function parseMpd(body, base) {
  const doc = parseXml(body);
  const mpd = kids(doc, 'MPD')[0];
  assert.ok(mpd, `${base}: no MPD element`);
  const total = isoSeconds(mpd.attrs.mediaPresentationDuration);
  const reps = [];
  for (const period of kids(mpd, 'Period')) {
    for (const set of kids(period, 'AdaptationSet')) {
      for (const rep of kids(set, 'Representation')) {
        const tpl = kids(rep, 'SegmentTemplate')[0] || kids(set, 'SegmentTemplate')[0];
        assert.ok(tpl, `${base}: Representation ${rep.attrs.id} has no SegmentTemplate`);
        const timescale = Number(tpl.attrs.timescale || 1);
        const segments = [];
        const timeline = kids(tpl, 'SegmentTimeline')[0];
        let number = Number(tpl.attrs.startNumber || 1);
        if (timeline) {
          let t = 0;
          for (const s of kids(timeline, 'S')) {
            if (s.attrs.t !== undefined) t = Number(s.attrs.t);
            const d = Number(s.attrs.d);
            let r = Number(s.attrs.r || 0);
            if (r < 0) r = Math.ceil((total * timescale - t) / d) - 1;
            for (let k = 0; k <= r; k++) {
              segments.push({ time: t, duration: d / timescale, url: new URL(fillTemplate(tpl.attrs.media, rep, { Time: t, Number: number }), base).href });
              t += d;
              number++;
            }
          }
        } else {
          const d = Number(tpl.attrs.duration);
          const n = Math.ceil((total * timescale) / d);
          for (let k = 0; k < n; k++, number++) {
            segments.push({ time: k * d, duration: d / timescale, url: new URL(fillTemplate(tpl.attrs.media, rep, { Time: k * d, Number: number }), base).href });
          }
        }
        reps.push({
          id: rep.attrs.id,
          bandwidth: Number(rep.attrs.bandwidth),
          contentType: set.attrs.contentType || (rep.attrs.mimeType || set.attrs.mimeType || '').split('/')[0],
          mimeType: rep.attrs.mimeType || set.attrs.mimeType,
          codecs: rep.attrs.codecs || set.attrs.codecs,
          lang: set.attrs.lang,
          init: tpl.attrs.initialization ? new URL(fillTemplate(tpl.attrs.initialization, rep, {}), base).href : null,
          segments,
        });
      }
    }
  }
  return { duration: total, reps };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in order. */
async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Origin log entries for objects (control and asset requests left out). */
function objectReads(log) {
  return log.filter((e) => !e.path.startsWith('/_assets/') && !e.path.startsWith('/_player/'));
}

/** { reads, bytes, byPath: { path: { reads, bytes } } } of log entries. */
function readStats(log) {
  const byPath = {};
  let bytes = 0;
  for (const e of log) {
    const p = decodeURIComponent(e.path.split('?')[0]);
    byPath[p] ??= { reads: 0, bytes: 0 };
    byPath[p].reads++;
    byPath[p].bytes += e.bytes;
    bytes += e.bytes;
  }
  return { reads: log.length, bytes, byPath };
}

/**
 * Runs `fn` between an origin log reset and a log read; resolves
 * { result, log, stats }. The origin logs a request when its response has
 * finished, so it waits briefly for stragglers.
 */
async function withReads(origin, fn) {
  await origin.resetLog();
  const result = await fn();
  await new Promise((r) => setTimeout(r, 30));
  const log = objectReads(await origin.requests());
  return { result, log, stats: readStats(log) };
}

const trackCache = new Map();
function tracksOf(file) {
  if (!trackCache.has(file)) trackCache.set(file, { tracks: sourceTracks(file), fd: fs.openSync(file, 'r') });
  return trackCache.get(file);
}

function readAt(fd, offset, size) {
  const buf = Buffer.alloc(size);
  fs.readSync(fd, buf, 0, size, offset);
  return buf;
}

/**
 * Checks a media segment byte for byte against the source file: the
 * fragment's samples must be consecutive samples of one track of `file`
 * starting at the tfdt decode time, and the mdat payload must be exactly
 * their bytes. `handler` ('vide' / 'soun') narrows the tracks tried.
 * Returns { track, first, count, samples, payload }.
 */
function verifyPayload(segment, file, handler) {
  const seg = parseSegment(segment);
  assert.ok(seg.payload, `no mdat in segment of ${file}`);
  assert.ok(seg.sampleSizes.length > 0, `no samples in segment of ${file}`);
  assert.equal(
    seg.sampleSizes.reduce((a, b) => a + b, 0),
    seg.payload.length,
    `segment of ${file}: trun sizes add up to the mdat payload`,
  );
  const { tracks, fd } = tracksOf(file);
  const tried = [];
  const sizesMatch = (t, first) =>
    first >= 0 &&
    first + seg.sampleSizes.length <= t.samples.length &&
    seg.sampleSizes.every((z, i) => t.samples[first + i].size === z);
  for (const t of tracks.filter((x) => !handler || x.handler === handler)) {
    // The fragment's decode time is the source's, unless an edit list
    // shifted it (audio priming dropped): then find the samples by sizes.
    let first = t.samples.findIndex((s) => s.dts === seg.baseTime);
    if (!sizesMatch(t, first)) {
      first = -1;
      for (let i = 0; i + seg.sampleSizes.length <= t.samples.length && first < 0; i++) {
        if (sizesMatch(t, i)) first = i;
      }
    }
    tried.push(`track ${t.id}: first=${first}`);
    if (first < 0) continue;
    const samples = t.samples.slice(first, first + seg.sampleSizes.length);
    const expected = Buffer.concat(samples.map((s) => readAt(fd, s.offset, s.size)));
    assert.ok(expected.equals(seg.payload), `segment of ${file} (track ${t.id}, samples ${first}+${samples.length}): payload differs from the source bytes`);
    return { track: t, first, count: samples.length, samples, payload: seg.payload.length };
  }
  assert.fail(`segment of ${file} (tfdt ${seg.baseTime}, ${seg.sampleSizes.length} samples) matches no source track (${tried.join('; ')})`);
}

/**
 * Every segment URL (init segments included, each once) of the HLS output
 * `format` of `asset`, reading the master and each of its playlists (each
 * asserted 200); also the master's text.
 */
async function hlsSegmentUrls(asset, format) {
  const masterUrl = `${asset}/manifest(format=${format})`;
  const master = await get(masterUrl);
  assert.equal(master.status, 200, `${masterUrl}: ${text(master).slice(0, 300)}`);
  const m = parseHls(text(master), masterUrl);
  const out = [];
  for (const u of [...m.variants, ...m.media].map((v) => v.url)) {
    const r = await get(u);
    assert.equal(r.status, 200, `${u}: ${text(r).slice(0, 300)}`);
    const p = parseHls(text(r), u);
    if (p.map) out.push(p.map);
    out.push(...p.segments.map((s) => s.url));
  }
  return { master: text(master), urls: [...new Set(out)] };
}

/** Bodies of `urls` (4 at a time), each asserted 200. */
async function fetchAllOk(urls) {
  const res = await mapLimit(urls, 4, (u) => get(u));
  res.forEach((r, i) => assert.equal(r.status, 200, `${urls[i]}: ${r.status} ${text(r).slice(0, 300)}`));
  return res.map((r) => r.body);
}

module.exports = {
  CT,
  assertCors,
  assertError,
  assertInit,
  assertMediaSegment,
  assertOk,
  boxTypes,
  get,
  getMaybeTruncated,
  fetchAllOk,
  hlsAttributes,
  hlsSegmentUrls,
  isoSeconds,
  mapLimit,
  objectReads,
  parseHls,
  parseMpd,
  parseXml,
  readStats,
  text,
  verifyPayload,
  withReads,
};
