// Freshness without mixing (setting `revalidate_after`): a cached index,
// `.ism` and every output made from them are used for `revalidate_after`
// seconds; after that the edge confirms each source's version with a
// one-byte read before naming an output. A replaced object then gets new
// manifests and segments (new ETags, the new bytes, nothing of the old
// version mixed in); an unchanged one costs one-byte reads and is served
// from the output cache again; a replaced subtitle sidecar gives a new text
// segment. Counted at the origin (/__log).
//
// Viceroy only: the wasi:http build caches nothing, so it always reads the
// current object.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { MEDIA, sleep, startOrigin } = require('./lib/origin');
const { RUNTIME, edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertOk, get, text, verifyPayload, withReads } = require('./lib/edge-http');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own origin: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || (RUNTIME !== 'fastly' && 'the wasi:http build caches nothing to revalidate') || false;

describe('source revalidation', { skip }, () => {
  let origin;
  let root;
  let edge;
  let E;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-fresh-'));
    // A folder of its own whose files can be swapped under the edge.
    for (const dir of ['abr', 'subs']) {
      fs.mkdirSync(path.join(root, dir));
      for (const name of fs.readdirSync(path.join(MEDIA, dir))) {
        fs.symlinkSync(path.join(MEDIA, dir, name), path.join(root, dir, name));
      }
    }
    origin = await startOrigin({ root });
    edge = await startEdge({ originUrl: origin.url, settings: { revalidate_after: '1' } });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const master = () => `${E}/abr/abr.ism/manifest(format=m3u8-cmaf)`;
  const seg = `/abr/abr.ism/QualityLevels(500000)/Fragments(video=60000000,format=m3u8-cmaf)`;
  const init = `/abr/abr.ism/QualityLevels(500000)/Fragments(video=i,format=m3u8-cmaf)`;
  const resolution = (m) => /RESOLUTION=(\d+x\d+)[^\n]*\n[^\n]*QualityLevels\(500000\)/.exec(m)?.[1];

  test('unchanged sources: after revalidate_after, one-byte checks and then the cached outputs', async () => {
    const m1 = await get(master());
    assertOk(m1, CT.hls, { immutable: false });
    const s1 = await get(`${E}${seg}`);
    assertOk(s1, CT.video, { immutable: true });
    const again = await get(`${E}${seg}`);
    assert.equal(again.headers.get('x-edgepack-cache'), 'hit');
    await sleep(2100);
    const { result, log } = await withReads(origin, () => get(`${E}${seg}`));
    assertOk(result, CT.video, { immutable: true });
    assert.equal(result.headers.get('etag'), s1.headers.get('etag'));
    assert.ok(result.body.equals(s1.body));
    assert.equal(result.headers.get('x-edgepack-cache'), 'hit', 'confirmed, then served from the output cache');
    const reads = log.map((e) => `${e.path} ${e.range}`);
    assert.ok(reads.length > 0, 'the versions were checked');
    for (const r of reads) {
      // The `.ism` is read again whole (it is small); media files get a
      // one-byte check.
      assert.ok(r.startsWith('/abr/abr.ism ') || r.endsWith(' bytes=0-0'), `only checks: ${reads}`);
    }
    // Within the interval again: nothing read.
    const { stats } = await withReads(origin, () => get(`${E}${seg}`));
    assert.equal(stats.reads, 0);
  });

  test('a replaced media file: new manifest, init and segments with new ETags, made from the new bytes only', async () => {
    const m1 = await get(master());
    const i1 = await get(`${E}${init}`);
    const s1 = await get(`${E}${seg}`);
    assert.equal(resolution(text(m1)), '640x360');
    verifyPayload(s1.body, path.join(MEDIA, 'abr', 'video_360.mp4'), 'vide');
    // Replace video_360.mp4 with other content (the 240p encode).
    const file = path.join(root, 'abr', 'video_360.mp4');
    fs.unlinkSync(file);
    fs.copyFileSync(path.join(MEDIA, 'abr', 'video_240.mp4'), file);
    await sleep(2100);
    const m2 = await get(master());
    assertOk(m2, CT.hls, { immutable: false });
    assert.notEqual(m2.headers.get('etag'), m1.headers.get('etag'));
    assert.notEqual(resolution(text(m2)), '640x360', text(m2));
    const i2 = await get(`${E}${init}`);
    assertOk(i2, CT.video, { immutable: true });
    assert.notEqual(i2.headers.get('etag'), i1.headers.get('etag'));
    assert.ok(!i2.body.equals(i1.body));
    const s2 = await get(`${E}${seg}`);
    assertOk(s2, CT.video, { immutable: true });
    assert.notEqual(s2.headers.get('etag'), s1.headers.get('etag'));
    verifyPayload(s2.body, file, 'vide');
    // And those are what the cache serves from now on.
    const s3 = await get(`${E}${seg}`);
    assert.equal(s3.headers.get('x-edgepack-cache'), 'hit');
    assert.ok(s3.body.equals(s2.body));
  });

  test('a replaced subtitle sidecar: its text segment is made from the new file, under a new ETag', async () => {
    const vtt = `${E}/subs/subs.ism/QualityLevels(1000)/Fragments(sub_eng_sdh=0,format=m3u8-cmaf).vtt`;
    const v1 = await get(vtt);
    assertOk(v1, 'text/vtt', { immutable: true });
    assert.ok(text(v1).includes('Hello there.'), text(v1));
    assert.equal((await get(vtt)).headers.get('x-edgepack-cache'), 'hit');
    const file = path.join(root, 'subs', 'subs_eng_sdh.vtt');
    const replaced = fs.readFileSync(file, 'utf8').replace('Hello there.', 'Hello again.');
    fs.unlinkSync(file);
    fs.writeFileSync(file, replaced);
    await sleep(2100);
    const { result: v2, log } = await withReads(origin, () => get(vtt));
    assertOk(v2, 'text/vtt', { immutable: true });
    assert.ok(text(v2).includes('Hello again.') && !text(v2).includes('Hello there.'), text(v2));
    assert.notEqual(v2.headers.get('etag'), v1.headers.get('etag'));
    const sidecar = log.filter((e) => e.path === '/subs/subs_eng_sdh.vtt').map((e) => e.range);
    assert.equal(sidecar[0], 'bytes=0-0', `a one-byte check first: ${sidecar}`);
    const v3 = await get(vtt);
    assert.equal(v3.headers.get('x-edgepack-cache'), 'hit');
    assert.ok(v3.body.equals(v2.body));
  });
});
