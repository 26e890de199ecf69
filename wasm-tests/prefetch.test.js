// Self-prefetch (setting `prefetch = on`): after answering media segment N
// (from the cache or packaged), the edge packages segment N + 1 of the same
// track into its output cache. A player fetching in order then gets every
// segment after the first from the cache, and the origin sees segment
// N + 1's reads before the request for it. Counted at the origin (/__log).
//
// Viceroy only: the wasi:http build has no cache API, so nothing can be
// prefetched into one (its README section says so).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { MEDIA, sleep, startOrigin } = require('./lib/origin');
const { RUNTIME, edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertOk, get, parseHls, text, verifyPayload, withReads } = require('./lib/edge-http');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own origin: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || (RUNTIME !== 'fastly' && 'the wasi:http build has no output cache to prefetch into') || false;

/**
 * Waits until the origin has logged more than `above` requests (the
 * edge's work after a response runs on its own schedule, slower on a busy
 * machine) and then none for `quietMs`; resolves the count.
 */
async function settle(origin, above = -1, quietMs = 300, maxMs = 15_000) {
  const end = Date.now() + maxMs;
  let n = (await origin.requests()).length;
  while (n <= above && Date.now() < end) {
    await sleep(50);
    n = (await origin.requests()).length;
  }
  for (;;) {
    await sleep(quietMs);
    const m = (await origin.requests()).length;
    if (m === n || Date.now() > end) return m;
    n = m;
  }
}

describe('self-prefetch', { skip }, () => {
  let origin;
  let root;
  let edge;
  let plain;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-prefetch-'));
    for (const name of fs.readdirSync(MEDIA)) fs.symlinkSync(path.join(MEDIA, name), path.join(root, name));
    origin = await startOrigin({ root });
    edge = await startEdge({ originUrl: origin.url, settings: { prefetch: 'on' } });
    plain = await startEdge({ originUrl: origin.url });
  });

  after(async () => {
    await edge?.stop();
    await plain?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const playlist = async (E, format, bitrate = 500000) => {
    const url = `${E}/abr/abr.ism/QualityLevels(${bitrate})/Manifest(video,format=${format})`;
    const res = await get(url);
    assertOk(res, CT.hls, { immutable: false });
    const pl = parseHls(text(res), url);
    assert.ok(pl.segments.length >= 4, `${url}: ${pl.segments.length} segments`);
    return pl;
  };

  /** Origin reads as comparable keys ("path bytes=a-b"). */
  const keys = (log) => log.map((e) => `${e.path} ${e.range}`);

  /** Resolves once the origin log holds every read in `want` (false after 15 s). */
  async function logged(want) {
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      const have = new Set(keys(await origin.requests()));
      if (want.every((k) => have.has(k))) return true;
      await sleep(50);
    }
    return false;
  }

  for (const [format, type] of [['m3u8-cmaf', CT.video], ['m3u8-aapl', CT.ts]]) {
    test(`${format}: in-order playback finds every segment after the first stored, read before it was asked for`, async () => {
      const segs = (await playlist(edge.url, format)).segments;
      // What each segment reads at the origin on an edge without prefetch
      // (index warm): the reads a prefetch must make.
      const plainSegs = (await playlist(plain.url, format)).segments;
      assert.equal(plainSegs.length, segs.length);
      await settle(origin);
      const packaged = [];
      const wants = [];
      for (const s of plainSegs) {
        const { result, log } = await withReads(origin, () => get(s.url));
        assertOk(result, type, { immutable: true });
        packaged.push(result);
        wants.push(keys(log));
      }
      assert.ok(wants.every((w) => w.length > 0), JSON.stringify(wants));
      await settle(origin);
      await origin.resetLog();
      const first = await get(segs[0].url);
      assertOk(first, type, { immutable: true });
      assert.equal(first.headers.get('x-edgepack-cache'), 'miss');
      for (let i = 1; i < segs.length; i++) {
        // The previous answer's prefetch reads segment i at the origin
        // before the player asks for it...
        assert.ok(await logged(wants[i]), `segment ${i}: its reads ${wants[i]} before the request`);
        // ...so the request for it is a cache hit, with the packaged bytes.
        const res = await get(segs[i].url);
        assertOk(res, type, { immutable: true });
        assert.equal(res.headers.get('x-edgepack-cache'), 'hit', segs[i].url);
        assert.ok(res.body.equals(packaged[i].body), `${segs[i].url}: prefetched bytes equal packaged bytes`);
        assert.equal(res.headers.get('etag'), packaged[i].headers.get('etag'));
        if (format === 'm3u8-cmaf') verifyPayload(res.body, path.join(MEDIA, 'abr', 'video_360.mp4'), 'vide');
      }
      // Every segment was read once (the last prefetched nothing: it has
      // no successor), and nothing else was read.
      await settle(origin);
      assert.deepEqual(keys(await origin.requests()).sort(), wants.flat().sort());
    });
  }

  test('the last segment prefetches nothing; without the setting nothing is prefetched', async () => {
    const pl = await playlist(edge.url, 'm3u8-cmaf', 1000000);
    const last = pl.segments[pl.segments.length - 1];
    await settle(origin);
    const { result: res, stats: own } = await withReads(origin, () => get(last.url));
    assertOk(res, CT.video, { immutable: true });
    assert.equal(res.headers.get('x-edgepack-cache'), 'miss');
    assert.ok(own.reads > 0);
    await sleep(600);
    assert.equal((await origin.requests()).length, own.reads, 'nothing read after the last segment');

    const p2 = await playlist(plain.url, 'm3u8-cmaf', 1000000);
    await get(p2.segments[0].url);
    await settle(origin);
    const { result, stats: s2 } = await withReads(origin, () => get(p2.segments[1].url));
    assert.equal(result.headers.get('x-edgepack-cache'), 'miss', 'prefetch is off by default');
    assert.ok(s2.reads > 0);
  });
});
