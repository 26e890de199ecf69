// Warm manifests from the set summary (issue 11, `src/summary.rs`): once
// one manifest of a title is packaged, every other manifest of it that
// misses the output cache is written from the cached summary, without
// loading the index blobs. Its bytes must be the ones the indexes give:
// each manifest is compared with the same manifest from a second edge
// with `set_summary = off` (every manifest from the indexes).
//
// The wasi:http build has no cache API: there both edges package from the
// origin each time, and the check is that nothing differs between them.
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertOk, get, withReads } = require('./lib/edge-http');

const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own edges: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || false;

describe('manifests from the set summary', { skip }, () => {
  let origin;
  // Edges by fragment-table policy: [summary on, summary off].
  const edges = {};

  before(async () => {
    origin = await startOrigin();
    const table = { fragment_index: 'table' };
    const [warm, fresh, warmTable, freshTable] = await Promise.all([
      startEdge({ originUrl: origin.url }),
      startEdge({ originUrl: origin.url, settings: { set_summary: 'off' } }),
      startEdge({ originUrl: origin.url, settings: table }),
      startEdge({ originUrl: origin.url, settings: { ...table, set_summary: 'off' } }),
    ]);
    edges.default = [warm, fresh];
    edges.table = [warmTable, freshTable];
  });

  after(async () => {
    for (const e of Object.values(edges).flat()) await e?.stop();
    await origin?.stop();
  });

  // Each title: the manifest that stores the summary, then the others
  // (each a miss of the output cache: another URL), and the edges'
  // fragment-table policy. `stsd/joined.mp4` has a track with several
  // sample descriptions (in-band parameter sets count in its BANDWIDTH
  // and I-frame ranges); `frag/muxed_sidx.mp4` under `fragment_index=table`
  // is an interleaved file of fragment-level tracks (its variants compare
  // the tracks' fragment offsets): both summarized since layout 2.
  const titles = [
    ['/abr/abr.ism', 'manifest(format=m3u8-cmaf)', 'default'],
    ['/long_2h.mp4', 'master.m3u8', 'default'],
    ['/frag/frag.ism', 'manifest(format=m3u8-cmaf)', 'default'],
    ['/stsd/joined.mp4', 'manifest(format=m3u8-cmaf)', 'default'],
    ['/frag/muxed_sidx.mp4', 'manifest(format=m3u8-cmaf)', 'table'],
  ];
  const others = [
    ['manifest(format=mpd-time-cmaf)', CT.dash],
    ['Manifest', CT.smooth],
    ['manifest(format=m3u8-aapl)', CT.hls],
    ['manifest(format=m3u8-aapl-v3)', CT.hls],
    ['manifest(format=m3u8-cmaf,max_bitrate=1000000)', CT.hls],
  ];

  for (const [asset, first, policy] of titles) {
    test(`${asset}: manifests after the first are the bytes the indexes give`, async () => {
      const [warm, fresh] = edges[policy];
      const master = await get(`${warm.url}${asset}/${first}`);
      assertOk(master, CT.hls);
      // Media and I-frame playlists the TS and fMP4 masters name.
      const ts = await get(`${warm.url}${asset}/manifest(format=m3u8-aapl)`);
      const children = [master, ts]
        .flatMap((r) => r.body.toString().split('\n'))
        .flatMap((l) => (l.startsWith('#') ? [...l.matchAll(/URI="([^"]*Manifest\([^"]*)"/g)].map((m) => m[1]) : [l]))
        .filter((l) => l.includes('Manifest('));
      assert.ok(children.length >= 2, `${asset}: ${children}`);
      const urls = [...others, ...children.map((c) => [c, CT.hls])];
      const { stats } = await withReads(origin, async () => {
        for (const [u, type] of urls) {
          const a = await get(`${warm.url}${asset}/${u}`);
          const b = await get(`${fresh.url}${asset}/${u}`);
          assert.equal(a.status, b.status, `${asset}/${u}`);
          if (a.status !== 200) continue;
          assertOk(a, type);
          assert.ok(a.body.equals(b.body), `${asset}/${u}: from the summary ≠ from the indexes`);
          assert.equal(a.headers.get('etag'), b.headers.get('etag'), `${asset}/${u}`);
        }
      });
      console.log(`# ${asset}: ${urls.length} manifests compared, ${stats.reads} origin reads`);
    });
  }
});
