// The output cache (Fastly cache::core, which Viceroy implements with
// transactions): a packaged manifest or segment is stored on the first
// request and served from the cache after that, with no origin read;
// concurrent identical misses collapse into one packaging run; Range and
// If-None-Match are answered from the stored copy; a broken origin read
// never leaves a short output in the cache. Counted at the origin (/__log).
//
// The wasi:http build has no cache API (the standard defines none), so
// there every request packages: checked too, so the difference is explicit.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { MEDIA, startOrigin } = require('./lib/origin');
const { RUNTIME, edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertOk, get, getMaybeTruncated, parseHls, text, verifyPayload, withReads } = require('./lib/edge-http');

const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own origin: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || false;
const CACHED = RUNTIME === 'fastly';

describe('edge output cache', { skip }, () => {
  let origin;
  let edge;
  let E;
  let root;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-outputs-'));
    for (const name of fs.readdirSync(MEDIA)) fs.symlinkSync(path.join(MEDIA, name), path.join(root, name));
    origin = await startOrigin({ root });
    edge = await startEdge({ originUrl: origin.url });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const ABR = '/abr/abr.ism';
  const seg = (t) => `${E}${ABR}/QualityLevels(500000)/Fragments(video=${t},format=m3u8-cmaf)`;

  test('a second request for a manifest, an init and a media segment reads nothing from the origin', async () => {
    const urls = [
      [`${E}${ABR}/manifest(format=m3u8-cmaf)`, CT.hls, false],
      [`${E}${ABR}/manifest(format=mpd-time-cmaf)`, CT.dash, false],
      [`${E}${ABR}/QualityLevels(500000)/Fragments(video=i,format=m3u8-cmaf)`, CT.video, true],
      [seg(60000000), CT.video, true],
      [`${E}${ABR}/QualityLevels(500000)/Fragments(video=60000000,format=m3u8-aapl)`, CT.ts, true],
      [`${E}/muxed_moov_end.mp4/master.m3u8`, CT.hls, false],
    ];
    for (const [url, type, immutable] of urls) {
      const first = await get(url);
      assertOk(first, type, { immutable });
      const { result: again, stats } = await withReads(origin, () => get(url));
      assertOk(again, type, { immutable });
      assert.ok(again.body.equals(first.body), `${url}: the cached copy is the packaged bytes`);
      assert.equal(again.headers.get('etag'), first.headers.get('etag'), url);
      assert.equal(again.headers.get('content-length'), first.headers.get('content-length'), url);
      if (CACHED) {
        assert.equal(again.headers.get('x-edgepack-cache'), 'hit', url);
        // The module's time, and its part in cache calls (never more).
        for (const [res, state] of [[first, 'miss'], [again, 'hit']]) {
          const timing = res.headers.get('server-timing') || '';
          const m = timing.match(/^edgepack;desc="(\w+)";dur=(\d+\.\d{3}), cache;dur=(\d+\.\d{3})$/);
          assert.ok(m, `${url}: server-timing ${timing}`);
          assert.equal(m[1], state, url);
          assert.ok(Number(m[3]) <= Number(m[2]), `${url}: cache part within the whole: ${timing}`);
        }
        assert.equal(stats.reads, 0, `${url}: a cache hit read ${JSON.stringify(stats.byPath)}`);
      } else {
        assert.equal(again.headers.get('x-edgepack-cache'), null, url);
        // No output cache (wasi:http has no cache API): every answer built
        // in memory (manifests, init segments; not a streamed media
        // segment) is packaged, none of its time in platform cache calls.
        if (type === CT.hls || type === CT.dash || url.includes('video=i,')) {
          for (const res of [first, again]) {
            const timing = res.headers.get('server-timing') || '';
            assert.match(timing, /^edgepack;desc="packaged";dur=\d+\.\d{3}, cache;dur=0\.000$/, url);
          }
        }
      }
    }
    // The segment read from the cache is still exactly the source's samples.
    const s = await get(seg(60000000));
    verifyPayload(s.body, path.join(MEDIA, 'abr', 'video_360.mp4'), 'vide');
  });

  test('Range and If-None-Match are answered from the stored copy', async () => {
    const url = seg(120000000);
    const whole = await get(url);
    assertOk(whole, CT.video, { immutable: true });
    const { result: part, stats } = await withReads(origin, () => get(url, { headers: { range: 'bytes=100-1099' } }));
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-1099/${whole.body.length}`);
    assert.ok(part.body.equals(whole.body.subarray(100, 1100)));
    const etag = whole.headers.get('etag');
    const { result: notModified, stats: s304 } = await withReads(origin, () => get(url, { headers: { 'if-none-match': etag } }));
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body.length, 0);
    if (CACHED) {
      assert.equal(stats.reads, 0, 'a range of a cached segment reads nothing');
      assert.equal(s304.reads, 0, 'a revalidation of a cached segment reads nothing');
    }
  });

  test('a range of a segment not yet cached: the whole segment is stored, the range answered', async () => {
    const url = seg(180000000);
    const { result: part, stats } = await withReads(origin, () => get(url, { headers: { range: 'bytes=0-99' } }));
    assert.equal(part.status, 206);
    assert.equal(part.body.length, 100);
    // Cached: the miss packages the whole segment (payload read) to store
    // it. Uncached: bytes 0-99 are all moof, so no payload read at all.
    if (CACHED) assert.ok(stats.reads >= 1, 'the ranged miss stored the whole segment');
    else assert.equal(stats.reads, 0, 'a range inside the header reads no payload');
    const { result: whole, stats: again } = await withReads(origin, () => get(url));
    assertOk(whole, CT.video, { immutable: true });
    assert.ok(whole.body.subarray(0, 100).equals(part.body));
    if (CACHED) assert.equal(again.reads, 0, 'the whole segment was stored by the ranged miss');
  });

  test('32 concurrent first requests for one segment cost the origin what one costs', async () => {
    // The index is warm (the manifest was read): only payload reads remain.
    const url = `${E}${ABR}/QualityLevels(250000)/Fragments(video=240000000,format=m3u8-cmaf)`;
    const one = await withReads(origin, () => get(`${E}${ABR}/QualityLevels(1000000)/Fragments(video=240000000,format=m3u8-cmaf)`));
    assert.ok(one.stats.reads >= 1, 'a cold segment reads its payload');
    const { result, stats } = await withReads(origin, () => Promise.all(Array.from({ length: 32 }, () => get(url))));
    const bodies = result.map((r) => r.body);
    for (const r of result) assertOk(r, CT.video, { immutable: true });
    assert.ok(bodies.every((b) => b.equals(bodies[0])), 'every viewer got the same bytes');
    const states = result.map((r) => r.headers.get('x-edgepack-cache'));
    console.log(`# 32 concurrent: ${stats.reads} origin reads (one request: ${one.stats.reads}); cache states ${JSON.stringify(states.reduce((m, s) => ({ ...m, [s]: (m[s] || 0) + 1 }), {}))}`);
    if (CACHED) {
      assert.equal(stats.reads, one.stats.reads, `collapsed: ${JSON.stringify(stats.byPath)}`);
      assert.equal(states.filter((s) => s === 'miss').length, 1, 'one request packaged, the others waited for it');
    }
  });

  test('a short origin body while storing: an error, and nothing short is kept', async () => {
    // short-after/1: the index read is whole, the payload read is cut.
    const base = `${E}/__fault/short-after/1/abr/video_240.mp4`;
    const m = parseHls(text(await get(`${base}/master.m3u8`)), `${base}/master.m3u8`);
    const pl = parseHls(text(await get(m.variants[0].url)), m.variants[0].url);
    const url = pl.segments[1].url;
    const res = await getMaybeTruncated(url);
    // 0: a streamed 200 aborted before its headers reached us (see getMaybeTruncated).
    if (res.status === 200 || res.status === 0) assert.ok(res.truncated, 'a 200 with a cut origin read must not look complete');
    else assert.equal(res.status, 502);
    // Asked again (the origin still cuts every read of this path): packaged
    // again and failing again, never a stored short copy served as a hit.
    const again = await getMaybeTruncated(url);
    assert.notEqual(again.headers.get('x-edgepack-cache'), 'hit');
    if (again.status === 200 || again.status === 0) assert.ok(again.truncated, 'a short copy was kept');
    else assert.equal(again.status, 502);
  });
});
