// The hostile inputs of fixtures/hostile/ (issue 12: bounded work for every
// request) through the built module, not only the native core
// (src/service/hostile_tests.rs): each answers the status and reason its
// README row names — never a trap (Viceroy answers a trapped instance with
// an empty 500), never a 200 for a file that is not whole and true — and
// the edge keeps serving after each. The valid ones play end to end.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { FIXTURES, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, parseHls, text } = require('./lib/edge-http');

const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own origin: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || false;
const HOSTILE = path.join(FIXTURES, 'hostile');

/** file → [status, reason] of its manifests (fixtures/hostile/README.md). */
const REFUSED = {
  'repeated_offsets_video.mp4': [502, /overlaps other sample data/],
  'repeated_offsets_audio.mp4': [502, /overlaps other sample data/],
  'no_stss_16m.mp4': [502, /over the limit of \d+ samples per track/],
  'one_keyframe.mp4': [502, /a segment of \d+ samples is over/],
  'absurd_durations.mp4': [502, /a timeline of \d+ segments is over the limit/],
  'absurd_counts.mp4': [502, /samples per file/],
  'truncated_faststart.mp4': [502, /media truncated at byte \d+ of \d+/],
  'chunk_past_end.mp4': [502, /media truncated at byte/],
  'frag_trun_count.mp4': [502, /4294967295 samples need \d+ bytes, the trun has 4/],
  'frag_data_past_end.mp4': [502, /media truncated at byte \d+ of \d+/],
  'frag_box_past_end.mp4': [502, /runs past the end of a \d+-byte file/],
  'frag_tiny_box.mp4': [502, /smaller than its header/],
  'frag_encrypted.mp4': [501, /encrypted input/],
  'attributes.ism': [502, /more than \d+ attributes on one element/],
  'elements.ism': [502, /more than \d+ elements/],
};
const PLAYABLE = ['faststart.mp4', 'no_stss_long.mp4'];

describe('hostile media through the module', { skip }, () => {
  let origin;
  let edge;
  let E;
  let root;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-hostile-'));
    fs.symlinkSync(HOSTILE, path.join(root, 'hostile'));
    origin = await startOrigin({ root });
    edge = await startEdge({ originUrl: origin.url, settings: { output_cache: 'off' } });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const manifests = (file) =>
    file.endsWith('.ism')
      ? [`/hostile/${file}/manifest(format=m3u8-cmaf)`, `/hostile/${file}/manifest(format=mpd-time-cmaf)`, `/hostile/${file}/manifest`]
      : [`/hostile/${file}/master.m3u8`, `/hostile/${file}/manifest.mpd`, `/hostile/${file}/manifest(format=m3u8-aapl)`, `/hostile/${file}/manifest`];

  test('every refused file: its status and reason in every format, and the edge keeps serving', async () => {
    for (const [file, [status, reason]] of Object.entries(REFUSED)) {
      for (const url of manifests(file)) {
        const res = await get(`${E}${url}`);
        assertError(res, status, reason);
        assert.ok(!/hunter2/.test(text(res)));
      }
      const health = await get(`${E}/health`);
      assert.equal(health.status, 200, `after ${file}: the edge still answers`);
    }
  });

  test('the valid ones play: every media playlist, first and last segment, in HLS fMP4 and TS', async () => {
    for (const file of PLAYABLE) {
      for (const master of [`/hostile/${file}/master.m3u8`, `/hostile/${file}/manifest(format=m3u8-aapl)`]) {
        const mres = await get(`${E}${master}`);
        assertOk(mres, CT.hls, { immutable: false });
        const m = parseHls(text(mres), `${E}${master}`);
        for (const v of [...m.variants, ...m.media]) {
          const pl = await get(v.url);
          assertOk(pl, CT.hls, { immutable: false });
          const p = parseHls(text(pl), v.url);
          assert.ok(p.segments.length > 0 && p.ended, `${v.url}: a whole VOD playlist`);
          for (const s of [p.segments[0], p.segments.at(-1)]) {
            const seg = await get(s.url);
            assert.equal(seg.status, 200, `${s.url}: ${text(seg).slice(0, 200)}`);
            assert.ok(seg.body.length > 0, `${s.url}: a body`);
          }
        }
      }
    }
  });

  test('an unknown FourCC is escaped in CODECS and refused where the format needs the codec', async () => {
    const res = await get(`${E}/hostile/bad_fourcc.mp4/master.m3u8`);
    assertOk(res, CT.hls, { immutable: false });
    const m = parseHls(text(res), `${E}/hostile/bad_fourcc.mp4/master.m3u8`);
    for (const v of m.variants) assert.doesNotMatch(v.CODECS || '', /a,b/, 'the comma of the FourCC never splits CODECS');
    assert.match(text(res), /a%2Cb%22/);
    for (const url of ['/hostile/bad_fourcc.mp4/manifest(format=m3u8-aapl)', '/hostile/bad_fourcc.mp4/manifest']) {
      const r = await get(`${E}${url}`);
      // TS and Smooth need to know the codec: refused with its name, or
      // (when the other track is enough) served without it.
      if (r.status !== 200) assertError(r, 501, /codec|a%2Cb|a,b/i);
    }
  });
});
