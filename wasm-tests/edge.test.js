// The edge (release wasm under Viceroy) over HTTP, black-box: every URL shape
// answers with the right bytes and headers, errors are clean, HTTP semantics
// (HEAD, OPTIONS, CORS, ETag, Cache-Control) hold, and the 2-hour file works.
// One origin (fixtures/media) and one Viceroy for the whole file.
//
// Origin faults and corrupt media: edge-faults.test.js. Origin read budgets
// and cache behaviour: edge-budget.test.js.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { MEDIA, rawRequest, startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const {
  CT,
  assertCors,
  assertError,
  assertInit,
  assertMediaSegment,
  assertOk,
  get,
  mapLimit,
  parseHls,
  parseMpd,
  parseXml,
  text,
  verifyPayload,
  withReads,
} = require('./lib/edge-http');

// These tests count requests at their own origin, so an already-running edge
// (EDGEPACK_EDGE_URL) with some other origin cannot be used.
const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own origin: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || false;

const ABR = '/abr/abr.ism';
const FORMATS = [
  { format: 'm3u8-cmaf', kind: 'hls', suffix: '.m3u8' },
  { format: 'mpd-time-cmaf', kind: 'dash', suffix: '.mpd' },
  { format: 'mpd-time-csf', kind: 'dash', suffix: '.mpd' },
];

/** trackName@systemBitrate -> absolute source file, from an .ism next to its MP4s. */
function ismSources(ismFile) {
  const xml = parseXml(fs.readFileSync(ismFile, 'utf8'));
  const out = {};
  const walk = (node) => {
    if (node.name === 'video' || node.name === 'audio') {
      const params = Object.fromEntries(node.children.filter((c) => c.name === 'param').map((p) => [p.attrs.name, p.attrs.value]));
      out[`${params.trackName}@${node.attrs.systemBitrate}`] = path.join(path.dirname(ismFile), node.attrs.src);
    }
    node.children.forEach(walk);
  };
  walk(xml);
  return out;
}

/** "…/QualityLevels(500000)/Fragments(video=0,…)" -> "video@500000". */
function trackKey(url) {
  const m = /QualityLevels\((\d+)\)\/(?:Manifest|Fragments)\(([A-Za-z0-9_.-]+)[,=)]/.exec(decodeURIComponent(url));
  return m ? `${m[2]}@${m[1]}` : null;
}

describe('edge', { skip }, () => {
  let origin;
  let edge;
  let E;
  const timings = [];
  // Observations printed at the end (behaviour the tests accept but note).
  const rangeNotes = new Set();

  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url });
    E = edge.url;
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
    for (const n of rangeNotes) console.log(`note: ${n}`);
    if (timings.length) {
      console.log('\nedge response times (ms):');
      console.table(timings);
    }
  });

  /**
   * Fetches an HLS master, every playlist it names, and every init and
   * media segment those list; checks headers and box structure, and each
   * segment's payload against `sources(url)` (a source file, a list of
   * candidates, or null to skip). Returns the number of URLs fetched.
   */
  async function walkHls(masterUrl, sources) {
    const master = await get(masterUrl);
    assertOk(master, CT.hls, { immutable: false });
    const m = parseHls(text(master), masterUrl);
    const playlists = [
      ...m.variants.map((v) => ({ url: v.url, audio: !/avc|hvc|hev/.test(v.CODECS || '') })),
      ...m.media.map((x) => ({ url: x.url, audio: x.TYPE === 'AUDIO' })),
    ];
    assert.ok(playlists.length > 0, `${masterUrl}: no playlists`);
    let fetched = 1;
    for (const pl of playlists) {
      const res = await get(pl.url);
      assertOk(res, CT.hls, { immutable: false });
      const p = parseHls(text(res), pl.url);
      assert.ok(p.ended, `${pl.url}: VOD playlist ends with #EXT-X-ENDLIST`);
      assert.ok(p.map, `${pl.url}: fMP4 playlist has EXT-X-MAP`);
      assert.ok(p.segments.length > 0, `${pl.url}: no segments`);
      for (const s of p.segments) {
        assert.ok(Math.round(s.duration) <= p.targetDuration, `${pl.url}: EXTINF ${s.duration} > target ${p.targetDuration}`);
      }
      const type = pl.audio ? CT.audio : CT.video;
      const init = await get(p.map);
      assertOk(init, type, { immutable: true });
      assertInit(init);
      const segs = await mapLimit(p.segments, 4, (s) => get(s.url));
      for (const seg of segs) {
        assertOk(seg, type, { immutable: true });
        assertMediaSegment(seg);
        checkSource(seg, sources, pl.audio ? 'soun' : 'vide');
      }
      fetched += 2 + segs.length;
    }
    return fetched;
  }

  /** Same for a DASH MPD (SegmentTemplate/SegmentTimeline expanded). */
  async function walkDash(mpdUrl, sources, { csf = false } = {}) {
    const res = await get(mpdUrl);
    assertOk(res, CT.dash, { immutable: false });
    const body = text(res);
    assert.match(body, /<MPD[\s>]/);
    assert.match(body, /type="static"/);
    if (!csf) assert.match(body, /urn:mpeg:dash:profile:cmaf:2019/, `${mpdUrl}: CMAF profile`);
    const mpd = parseMpd(body, mpdUrl);
    assert.ok(mpd.reps.length > 0, `${mpdUrl}: no representations`);
    let fetched = 1;
    for (const rep of mpd.reps) {
      const audio = rep.contentType === 'audio';
      const type = audio ? CT.audio : CT.video;
      const total = rep.segments.reduce((n, s) => n + s.duration, 0);
      assert.ok(Math.abs(total - mpd.duration) < 0.5, `${mpdUrl} ${rep.id}: segments add up to ${total}s, MPD says ${mpd.duration}s`);
      const init = await get(rep.init);
      assertOk(init, type, { immutable: true });
      assertInit(init);
      const segs = await mapLimit(rep.segments, 4, (s) => get(s.url));
      for (const seg of segs) {
        assertOk(seg, type, { immutable: true });
        assertMediaSegment(seg);
        checkSource(seg, sources, audio ? 'soun' : 'vide');
      }
      fetched += 1 + segs.length;
    }
    return fetched;
  }

  function checkSource(seg, sources, handler) {
    const files = [sources?.(seg.url)].flat().filter(Boolean);
    if (!files.length) return;
    const errors = [];
    for (const file of files) {
      try {
        verifyPayload(seg.body, file, handler);
        return;
      } catch (err) {
        errors.push(`${path.relative(MEDIA, file)}: ${err.message}`);
      }
    }
    assert.fail(`${seg.url}: payload is not the source's bytes:\n  ${errors.join('\n  ')}`);
  }

  const abrSources = () => {
    const map = ismSources(path.join(MEDIA, 'abr', 'abr.ism'));
    return (url) => map[trackKey(url)] ?? assert.fail(`${url}: no .ism entry for ${trackKey(url)}`);
  };

  describe('URL shapes', () => {
    test('/health answers 200 (GET and HEAD)', async () => {
      const res = await get(`${E}/health`);
      assert.equal(res.status, 200);
      assert.equal(text(res).trim(), 'ok');
      assertCors(res);
      const head = await get(`${E}/health`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
    });

    test('Azure .ism manifest, every format, with and without the .m3u8/.mpd suffix', async () => {
      for (const { format, kind, suffix } of FORMATS) {
        const plain = await get(`${E}${ABR}/manifest(format=${format})`);
        const suffixed = await get(`${E}${ABR}/manifest(format=${format})${suffix}`);
        for (const res of [plain, suffixed]) {
          assertOk(res, CT[kind], { immutable: false });
          assert.match(text(res), kind === 'hls' ? /^#EXTM3U\n/ : /^<\?xml[^>]*>\s*<MPD[\s>]/);
        }
        assert.equal(text(suffixed), text(plain), `${format}: the suffix is ignored`);
        assert.equal(suffixed.headers.get('etag'), plain.headers.get('etag'));
        timings.push({ what: `abr.ism manifest ${format}`, ms: Math.round(plain.ms) });
      }
      const csf = text(await get(`${E}${ABR}/manifest(format=mpd-time-csf)`));
      assert.doesNotMatch(csf, /profile:cmaf/, 'mpd-time-csf is the ISO-FF live profile, not CMAF');
    });

    test('manifest aliases, case-insensitive keywords and options in the query string', async () => {
      const hls = text(await get(`${E}${ABR}/manifest(format=m3u8-cmaf)`));
      const cmaf = text(await get(`${E}${ABR}/manifest(format=mpd-time-cmaf)`));
      const csf = text(await get(`${E}${ABR}/manifest(format=mpd-time-csf)`));
      const same = [
        ['/Manifest(FORMAT=M3U8-CMAF)', CT.hls, hls],
        ['/manifest.m3u8', CT.hls, hls],
        ['/master.m3u8', CT.hls, hls],
        ['/manifest.mpd', CT.dash, cmaf],
        ['/manifest?format=mpd-time-csf', CT.dash, csf],
        ['/manifest(format=m3u8-cmaf)?format=m3u8-cmaf&token=abc&_=123', CT.hls, hls],
      ];
      for (const [sub, type, body] of same) {
        const res = await get(`${E}${ABR}${sub}`);
        assertOk(res, type, { immutable: false });
        assert.equal(text(res), body, `${sub} is the same manifest`);
      }
    });

    for (const { format, kind } of FORMATS) {
      test(`abr.ism ${format}: every playlist, init and segment it references`, async () => {
        const started = performance.now();
        const url = `${E}${ABR}/manifest(format=${format})`;
        const n = kind === 'hls' ? await walkHls(url, abrSources()) : await walkDash(url, abrSources(), { csf: format === 'mpd-time-csf' });
        assert.ok(n >= 1 + 4 * 6, `${format}: fetched only ${n} URLs`);
        timings.push({ what: `walk abr.ism ${format} (${n} URLs)`, ms: Math.round(performance.now() - started) });
      });
    }

    test('abr.ism HLS media playlists address tracks by .ism trackName and systemBitrate', async () => {
      const m = parseHls(text(await get(`${E}${ABR}/manifest(format=m3u8-cmaf)`)), `${E}${ABR}/`);
      const keys = [...m.variants, ...m.media].map((v) => trackKey(v.url)).sort();
      assert.deepEqual(keys, ['aac_eng_2_128@128000', 'video@1000000', 'video@250000', 'video@500000']);
      assert.equal(m.media[0].LANGUAGE, 'en');
      assert.equal(m.media[0].DEFAULT, 'YES');
      // The sub-resource shapes without the media extension the manifests add.
      const pl = await get(`${E}${ABR}/QualityLevels(500000)/Manifest(video,format=m3u8-cmaf)`);
      assertOk(pl, CT.hls, { immutable: false });
      const init = await get(`${E}${ABR}/QualityLevels(500000)/Fragments(video=i,format=mpd-time-csf)`);
      assertOk(init, CT.video, { immutable: true });
      assertInit(init);
      const seg = await get(`${E}${ABR}/QualityLevels(128000)/Fragments(aac_eng_2_128=0,format=mpd-time-cmaf)`);
      assertOk(seg, CT.audio, { immutable: true });
      assertMediaSegment(seg);
      checkSource(seg, () => path.join(MEDIA, 'abr', 'audio_eng.mp4'), 'soun');
    });

    test('bare MP4, moov at the end, interleaved: /x.mp4/master.m3u8 and /x.mp4/manifest.mpd', async () => {
      const file = path.join(MEDIA, 'muxed_moov_end.mp4');
      const started = performance.now();
      const hls = await walkHls(`${E}/muxed_moov_end.mp4/master.m3u8`, () => file);
      const dash = await walkDash(`${E}/muxed_moov_end.mp4/manifest.mpd`, () => file);
      timings.push({ what: `walk muxed_moov_end.mp4 HLS+DASH (${hls + dash} URLs)`, ms: Math.round(performance.now() - started) });
      const m = parseHls(text(await get(`${E}/muxed_moov_end.mp4/master.m3u8`)), E);
      assert.equal(m.variants.length, 1);
      assert.match(m.variants[0].CODECS, /avc1\..*mp4a\.40\.2|mp4a\.40\.2.*avc1\./);
      assert.equal(m.media.length, 1, 'one audio rendition');
    });

    test('bare MP4 with two audio languages and an audio-only MP4', async () => {
      const multi = path.join(MEDIA, 'multilang.mp4');
      await walkHls(`${E}/multilang.mp4/master.m3u8`, () => multi);
      await walkDash(`${E}/multilang.mp4/manifest.mpd`, () => multi);
      const m = parseHls(text(await get(`${E}/multilang.mp4/master.m3u8`)), E);
      assert.deepEqual(m.media.map((x) => x.LANGUAGE).sort(), ['en', 'fr']);
      assert.equal(m.media.filter((x) => x.DEFAULT === 'YES').length, 1, 'exactly one DEFAULT=YES');

      const audioOnly = path.join(MEDIA, 'audio_only.mp4');
      await walkHls(`${E}/audio_only.mp4/master.m3u8`, () => audioOnly);
      await walkDash(`${E}/audio_only.mp4/manifest.mpd`, () => audioOnly);
    });

    test('multilang.ism: two systemLanguages become two audio renditions', async () => {
      const dir = path.join(MEDIA, 'multilang');
      const map = ismSources(path.join(dir, 'multilang.ism'));
      const sources = (url) => map[trackKey(url)];
      await walkHls(`${E}/multilang/multilang.ism/manifest(format=m3u8-cmaf)`, sources);
      await walkDash(`${E}/multilang/multilang.ism/manifest(format=mpd-time-cmaf)`, sources);
      const mpd = parseMpd(text(await get(`${E}/multilang/multilang.ism/manifest(format=mpd-time-cmaf)`)), E + '/');
      assert.deepEqual(mpd.reps.filter((r) => r.contentType === 'audio').map((r) => r.lang).sort(), ['en', 'fr']);
    });

    test('urlset /abr/video_,240,360,.mp4.urlset/{master.m3u8,manifest.mpd}', async () => {
      const files = [path.join(MEDIA, 'abr', 'video_240.mp4'), path.join(MEDIA, 'abr', 'video_360.mp4')];
      await walkHls(`${E}/abr/video_,240,360,.mp4.urlset/master.m3u8`, () => files);
      await walkDash(`${E}/abr/video_,240,360,.mp4.urlset/manifest.mpd`, () => files);
      const m = parseHls(text(await get(`${E}/abr/video_,240,360,.mp4.urlset/master.m3u8`)), E);
      assert.deepEqual(m.variants.map((v) => v.RESOLUTION).sort(), ['426x240', '640x360']);
      // Same grammar with the Azure manifest word.
      assertOk(await get(`${E}/abr/video_,240,360,.mp4.urlset/manifest(format=mpd-time-csf)`), CT.dash, { immutable: false });
    });

    // MPEG-TS (m3u8-aapl, m3u8-aapl-v3) and Smooth are being built: until they
    // land they answer 501 naming the format; once they do, a 200 must be right.
    const notYet = (res, name) => {
      assertError(res, 501);
      assert.ok(text(res).includes(name), `${res.url}: 501 names the format (${text(res).trim()})`);
    };

    function assertTs(res) {
      const type = (res.headers.get('content-type') || '').split(';')[0];
      if (type === 'audio/aac') {
        assertOk(res, 'audio/aac', { immutable: true });
        assert.ok(res.body[0] === 0xff && (res.body[1] & 0xf0) === 0xf0, `${res.url}: ADTS sync`);
        return;
      }
      assertOk(res, CT.ts, { immutable: true });
      assert.equal(res.body.length % 188, 0, `${res.url}: whole 188-byte packets`);
      for (let i = 0; i < res.body.length; i += 188) assert.equal(res.body[i], 0x47, `${res.url}: sync byte at ${i}`);
    }

    for (const format of ['m3u8-aapl', 'm3u8-aapl-v3']) {
      test(`${format} (MPEG-TS HLS): 501 naming the format, or a correct TS rendition`, async () => {
        const res = await get(`${E}${ABR}/manifest(format=${format})`);
        if (res.status === 501) return notYet(res, format);
        assertOk(res, CT.hls, { immutable: false });
        const m = parseHls(text(res), res.url);
        const playlists = [...m.variants, ...m.media].map((v) => v.url);
        assert.ok(playlists.length > 0);
        for (const url of playlists) {
          const pl = await get(url);
          assertOk(pl, CT.hls, { immutable: false });
          const p = parseHls(text(pl), url);
          assert.equal(p.map, null, `${url}: TS playlists have no EXT-X-MAP`);
          assert.ok(p.segments.length > 0);
          const segs = await mapLimit([p.segments[0], p.segments[p.segments.length - 1]], 2, (s) => get(s.url));
          segs.forEach(assertTs);
        }
        // I-frame playlists: byte ranges of the TS segments.
        for (const ifr of m.iframes) {
          const pl = await get(ifr.url);
          assertOk(pl, CT.hls, { immutable: false });
          const body = text(pl);
          assert.match(body, /#EXT-X-I-FRAMES-ONLY/);
          const entry = /#EXT-X-BYTERANGE:(\d+)@(\d+)\s*\n([^#\s][^\n]*)/.exec(body);
          assert.ok(entry, `${ifr.url}: an EXT-X-BYTERANGE entry`);
          const [, len, off, uri] = entry;
          const start = Number(off);
          const end = start + Number(len);
          const res = await get(new URL(uri, ifr.url).href, { headers: { Range: `bytes=${start}-${end - 1}` } });
          let range;
          if (res.status === 206) {
            assert.equal(res.body.length, end - start, `${res.url}: 206 length`);
            range = res.body;
          } else {
            // A server may ignore Range (RFC 9110 §14.2) and send it all.
            assertTs(res);
            assert.ok(end <= res.body.length, `${res.url}: I-frame range ${start}-${end} past the segment (${res.body.length})`);
            range = res.body.subarray(start, end);
            rangeNotes.add(`Range on a TS segment answered ${res.status} with the whole ${res.body.length}-byte segment (I-frame range: ${end - start} bytes)`);
          }
          assert.equal(range.length % 188, 0, 'I-frame range is whole TS packets');
          for (let i = 0; i < range.length; i += 188) assert.equal(range[i], 0x47, `I-frame range: sync byte at ${i}`);
        }
      });
    }

    test('Smooth Streaming (manifest, fmp4-v20): 501 naming the format, or a correct Smooth manifest', async () => {
      for (const [sub, name] of [['manifest', 'smooth'], ['manifest(format=fmp4-v20)', 'fmp4-v20']]) {
        const res = await get(`${E}${ABR}/${sub}`);
        if (res.status === 501) {
          notYet(res, name);
          continue;
        }
        assertOk(res, CT.smooth, { immutable: false });
        const doc = parseXml(text(res));
        const ssm = doc.children.find((c) => c.name === 'SmoothStreamingMedia');
        assert.ok(ssm, `${sub}: SmoothStreamingMedia root`);
        assert.equal(ssm.attrs.TimeScale ?? '10000000', '10000000');
        for (const index of ssm.children.filter((c) => c.name === 'StreamIndex')) {
          const level = index.children.find((c) => c.name === 'QualityLevel');
          const first = index.children.find((c) => c.name === 'c');
          const rel = index.attrs.Url.replace('{bitrate}', level.attrs.Bitrate).replace('{start time}', first.attrs.t ?? '0');
          const frag = await get(new URL(rel, `${E}${ABR}/`).href);
          assertOk(frag, index.attrs.Type === 'audio' ? CT.audio : CT.video, { immutable: true });
          assert.ok(['moof', 'styp'].includes(frag.body.toString('latin1', 4, 8)), `${frag.url}: a fragment`);
        }
      }
    });

    test('encryption= is valid but not built: 501 (or a 200 once it is)', async () => {
      for (const opt of ['encryption=cenc', 'encryption=cbcs-aapl']) {
        const res = await get(`${E}${ABR}/manifest(format=m3u8-cmaf,${opt})`);
        if (res.status === 200) assertOk(res, CT.hls, { immutable: false });
        else assertError(res, 501);
      }
    });

    test('filter= names a filter file: an unknown one is 404 naming it (filters.test.js has the rest)', async () => {
      const res = await get(`${E}${ABR}/manifest(format=m3u8-cmaf,filter=first)`);
      assertError(res, 404);
      assert.match(res.body.toString(), /filter first/);
    });
  });

  describe('errors', () => {
    const malformed = [
      ['/manifest(format=m3u8-cmaf', /parenthes/],
      ['/manifest(format=bogus)', /format/],
      ['/manifest(foo=bar)', /option/],
      ['/manifest(format=m3u8-cmaf,format=m3u8-cmaf)', /twice|duplicate/i],
      ['/manifest(format=m3u8-cmaf)?format=mpd-time-cmaf', /differ|conflict/i],
      ['/manifest(format=m3u8-cmaf,type=keyframes)', /type/],
      ['/manifest(format=m3u8-cmaf,encryption=rot13)', /encryption/],
      ['/manifest(format=m3u8-cmaf,audio-only=maybe)', /audio-only/],
      ['/manifest(format=m3u8-cmaf).txt', /resource/],
      ['/manifest(format=m3u8-cmaf,)', /option/],
      ['/bogus', /resource/],
      ['/QualityLevels(abc)/Manifest(video,format=m3u8-cmaf)', /bitrate/],
      ['/QualityLevels(+5)/Manifest(video,format=m3u8-cmaf)', /bitrate/],
      ['/QualityLevels(250000)/Manifest(vi$deo,format=m3u8-cmaf)', /track name/],
      ['/QualityLevels(250000)/Manifest(video,format=mpd-time-cmaf)', /HLS/],
      ['/QualityLevels(250000)/Fragments(video=-1,format=m3u8-cmaf)', /time/],
      ['/QualityLevels(250000)/Fragments(video,format=m3u8-cmaf)', /time/],
      ['/QualityLevels(250000)/Fragments(video=99999999999999999999999,format=m3u8-cmaf)', /range/],
      ['/QualityLevels(250000)/Fragments(video=0,format=m3u8-cmaf).exe', /resource/],
      ['/QualityLevels(250000)', /resource/],
    ];

    test('malformed URLs: 400 with the reason, before any origin read', async () => {
      const { stats } = await withReads(origin, async () => {
        for (const [sub, reason] of malformed) {
          assertError(await get(`${E}${ABR}${sub}`), 400, reason);
        }
        assertError(await get(`${E}/abr/${'a'.repeat(2100)}.mp4/master.m3u8`), 400, /too long/);
        assertError(await get(`${E}/abr/video_,${Array.from({ length: 17 }, (_, i) => i).join(',')},.mp4.urlset/master.m3u8`), 400, /16/);
        assertError(await get(`${E}/abr/x.mp4%00/master.m3u8`), 400, /NUL/);
      });
      assert.equal(stats.reads, 0, `malformed requests reached the origin: ${JSON.stringify(stats.byPath)}`);
    });

    test('unknown paths: 404, no origin read', async () => {
      const { stats } = await withReads(origin, async () => {
        for (const p of ['/', '/nope', '/favicon.ico', '/abr/video_240.mkv/master.m3u8', '/abr/abr.ism', '/abr/video_240.mp4', '/healthz']) {
          assertError(await get(`${E}${p}`), 404);
        }
      });
      assert.equal(stats.reads, 0, JSON.stringify(stats.byPath));
    });

    test('missing objects, tracks and segments: 404', async () => {
      assertError(await get(`${E}/abr/nothere.mp4/master.m3u8`), 404, /not found/);
      assertError(await get(`${E}/abr/nothere.ism/manifest(format=m3u8-cmaf)`), 404, /not found/);
      assertError(await get(`${E}/abr/video_,240,999,.mp4.urlset/master.m3u8`), 404, /video_999/);
      assertError(await get(`${E}${ABR}/QualityLevels(999)/Manifest(video,format=m3u8-cmaf)`), 404, /999/);
      assertError(await get(`${E}${ABR}/QualityLevels(250000)/Manifest(nosuch,format=m3u8-cmaf)`), 404);
      assertError(await get(`${E}${ABR}/QualityLevels(250000)/Fragments(video=999999999999,format=m3u8-cmaf)`), 404);
      assertError(await get(`${E}${ABR}/QualityLevels(128000)/Fragments(video=0,format=m3u8-cmaf)`), 404);
      // One output, one URL: a time inside a segment but not its written
      // start is not another name for it.
      for (const t of [60000001, 59999999, 61000000]) {
        assertError(await get(`${E}${ABR}/QualityLevels(250000)/Fragments(video=${t},format=m3u8-cmaf)`), 404, /no segment/);
      }
      assertError(await get(`${E}${ABR}/QualityLevels(128000)/Fragments(aac_eng_2_128=120000000,format=mpd-time-cmaf)`), 404);
    });

    test('path traversal never reaches outside the origin root', async () => {
      const attempts = [
        '/../etc/passwd',
        '/../../etc/passwd.mp4/master.m3u8',
        '/abr/../../../etc/x.mp4/master.m3u8',
        '/%2e%2e/%2e%2e/etc/x.mp4/master.m3u8',
        '/abr/%2E%2E/%2E%2E/x.mp4/manifest.mpd',
        '/abr/.%2e/.%2e/x.ism/manifest(format=m3u8-cmaf)',
        '/abr%2f..%2f..%2fx.mp4/master.m3u8',
        '/abr/..%2F..%2Fx.mp4/master.m3u8',
        '/abr%5c..%5c..%5cx.mp4/master.m3u8',
        '/abr\\..\\..\\x.mp4/master.m3u8',
        '/%252e%252e/%252e%252e/x.mp4/master.m3u8',
        '/%c0%ae%c0%ae/x.mp4/master.m3u8',
        '/abr/.,.,.urlset/master.m3u8',
        '/abr/..,x,.urlset/master.m3u8',
        '/./abr/./../../x.mp4/master.m3u8',
        '/player/assets/..%2f..%2fetc%2fpasswd',
        '/player/assets/../../abr/abr.ism',
      ];
      const { log } = await withReads(origin, async () => {
        for (const p of attempts) {
          const res = await rawRequest(E, p);
          assert.ok(!res.error, `${p}: ${res.error}`);
          assert.ok([400, 404].includes(res.status), `${p}: status ${res.status}: ${res.body.toString().slice(0, 200)}`);
          assert.equal(res.headers['access-control-allow-origin'], '*', `${p}: CORS`);
          assert.ok(res.body.length > 0, `${p}: a reason`);
        }
      });
      for (const e of log) {
        let decoded = e.path;
        for (let i = 0; i < 3; i++) decoded = decodeURIComponent(decoded);
        assert.ok(!decoded.split(/[\\/]/).includes('..'), `origin saw a '..' segment: ${e.path}`);
        assert.ok(!decoded.includes('\\'), `origin saw a backslash: ${e.path}`);
        const resolved = path.resolve(MEDIA, '.' + decoded);
        assert.ok(resolved.startsWith(MEDIA + path.sep), `origin path ${e.path} resolves outside the root`);
      }
      console.log(`traversal: ${attempts.length} attempts, origin saw ${log.length} in-root requests: ${[...new Set(log.map((e) => e.path))].join(' ')}`);
    });

    test('methods other than GET/HEAD/OPTIONS: 405 with CORS', async () => {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const res = await get(`${E}${ABR}/manifest(format=m3u8-cmaf)`, { method });
        assertError(res, 405);
      }
    });
  });

  describe('HTTP semantics', () => {
    test('HEAD: the GET headers without a body; no payload read for segments', async () => {
      const urls = [
        [`${E}${ABR}/manifest(format=m3u8-cmaf)`, CT.hls, false],
        [`${E}${ABR}/manifest(format=mpd-time-cmaf)`, CT.dash, false],
        [`${E}${ABR}/QualityLevels(500000)/Manifest(video,format=m3u8-cmaf)`, CT.hls, false],
        [`${E}${ABR}/QualityLevels(500000)/Fragments(video=i,format=m3u8-cmaf)`, CT.video, true],
        [`${E}${ABR}/QualityLevels(500000)/Fragments(video=60000000,format=m3u8-cmaf)`, CT.video, true],
        [`${E}${ABR}/QualityLevels(128000)/Fragments(aac_eng_2_128=120106667,format=mpd-time-cmaf)`, CT.audio, true],
        [`${E}/muxed_moov_end.mp4/master.m3u8`, CT.hls, false],
      ];
      for (const [url, type, immutable] of urls) {
        const full = await get(url);
        assertOk(full, type, { immutable });
        const { result: head, stats } = await withReads(origin, () => get(url, { method: 'HEAD' }));
        assert.equal(head.status, 200, url);
        assert.equal(head.body.length, 0, `${url}: HEAD has no body`);
        for (const h of ['content-type', 'content-length', 'etag', 'cache-control', 'access-control-allow-origin']) {
          assert.equal(head.headers.get(h), full.headers.get(h), `${url}: HEAD ${h}`);
        }
        assert.equal(stats.reads, 0, `${url}: HEAD read from the origin: ${JSON.stringify(stats.byPath)}`);
      }
    });

    test('OPTIONS preflight: 204 with the CORS headers, on any path', async () => {
      for (const p of [`${ABR}/manifest(format=m3u8-cmaf)`, `${ABR}/QualityLevels(500000)/Fragments(video=0,format=m3u8-cmaf)`, '/nope', '/health']) {
        const res = await get(`${E}${p}`, {
          method: 'OPTIONS',
          headers: { Origin: 'https://player.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' },
        });
        assert.equal(res.status, 204, p);
        assert.equal(res.body.length, 0);
        assertCors(res);
        assert.match(res.headers.get('access-control-allow-methods') || '', /GET/);
        assert.match(res.headers.get('access-control-allow-methods') || '', /HEAD/);
        assert.match(res.headers.get('access-control-allow-headers') || '', /range/i);
        assert.ok(Number(res.headers.get('access-control-max-age')) > 0);
      }
    });

    test('If-None-Match with the current ETag: 304, no body, no payload read', async () => {
      for (const sub of [
        `${ABR}/manifest(format=m3u8-cmaf)`,
        `${ABR}/QualityLevels(250000)/Fragments(video=i,format=m3u8-cmaf)`,
        `${ABR}/QualityLevels(250000)/Fragments(video=120000000,format=m3u8-cmaf)`,
        `/muxed_moov_end.mp4/QualityLevels(127273)/Fragments(audio=59946667,format=m3u8-cmaf)`,
      ]) {
        const full = await get(`${E}${sub}`);
        assert.equal(full.status, 200, sub);
        const etag = full.headers.get('etag');
        const { result: res, stats } = await withReads(origin, () => get(`${E}${sub}`, { headers: { 'If-None-Match': etag } }));
        assert.equal(res.status, 304, `${sub}: revalidation`);
        assert.equal(res.body.length, 0);
        assert.equal(res.headers.get('etag'), etag);
        assertCors(res);
        assert.equal(stats.reads, 0, `${sub}: a 304 read from the origin: ${JSON.stringify(stats.byPath)}`);
        const stale = await get(`${E}${sub}`, { headers: { 'If-None-Match': '"not-the-etag"' } });
        assert.equal(stale.status, 200, `${sub}: another ETag gets the body`);
        assert.ok(stale.body.equals(full.body));
      }
    });

    test('Range on a segment: 206 with exactly the bytes, or the whole segment with 200', async () => {
      const url = `${E}${ABR}/QualityLevels(250000)/Fragments(video=60000000,format=m3u8-cmaf)`;
      const full = await get(url);
      assertOk(full, CT.video, { immutable: true });
      for (const [range, start, end] of [['bytes=0-99', 0, 100], ['bytes=1000-1999', 1000, 2000], [`bytes=-50`, full.body.length - 50, full.body.length]]) {
        const res = await get(url, { headers: { Range: range } });
        assertCors(res);
        if (res.status === 206) {
          assert.equal(res.headers.get('content-range'), `bytes ${start}-${end - 1}/${full.body.length}`);
          assert.ok(res.body.equals(full.body.subarray(start, end)), `${range}: the requested bytes`);
        } else {
          assert.equal(res.status, 200, `${range}: ${res.status}`);
          assert.ok(res.body.equals(full.body), `${range}: 200 must be the whole segment`);
          rangeNotes.add(`Range on a CMAF segment answered 200 with the whole ${full.body.length}-byte segment`);
        }
      }
    });

    test('ETags are stable, distinct per resource, and Cache-Control fits the resource', async () => {
      const urls = [
        `${ABR}/manifest(format=m3u8-cmaf)`,
        `${ABR}/manifest(format=mpd-time-cmaf)`,
        `${ABR}/QualityLevels(250000)/Fragments(video=i,format=m3u8-cmaf)`,
        `${ABR}/QualityLevels(500000)/Fragments(video=i,format=m3u8-cmaf)`,
        `${ABR}/QualityLevels(250000)/Fragments(video=0,format=m3u8-cmaf)`,
        `${ABR}/QualityLevels(250000)/Fragments(video=60000000,format=m3u8-cmaf)`,
        `${ABR}/QualityLevels(500000)/Fragments(video=60000000,format=m3u8-cmaf)`,
      ];
      const tags = new Set();
      for (const u of urls) {
        const a = await get(`${E}${u}`);
        const b = await get(`${E}${u}`);
        assert.equal(a.status, 200, u);
        assert.equal(a.headers.get('etag'), b.headers.get('etag'), `${u}: stable ETag`);
        assert.ok(a.body.equals(b.body), `${u}: same bytes twice`);
        tags.add(a.headers.get('etag'));
      }
      assert.equal(tags.size, urls.length, 'each resource has its own ETag');
      const errors = [await get(`${E}/nope`), await get(`${E}${ABR}/bogus`), await get(`${E}/abr/nothere.mp4/master.m3u8`)];
      for (const e of errors) assert.match(e.headers.get('cache-control') || '', /no-store/, `${e.url}: errors are not cached`);
    });

    test('CORS exposes Content-Range (byte-range players) and keeps Content-Length and ETag', async () => {
      const url = `${E}${ABR}/QualityLevels(250000)/Fragments(video=0,format=m3u8-cmaf)`;
      for (const res of [await get(url), await get(url, { headers: { Range: 'bytes=0-99' } }), await get(`${E}/nope`)]) {
        const exposed = (res.headers.get('access-control-expose-headers') || '').split(',').map((h) => h.trim().toLowerCase());
        for (const h of ['content-range', 'content-length', 'etag']) {
          assert.ok(exposed.includes(h), `${res.url} (${res.status}): ${h} not in Access-Control-Expose-Headers ${exposed}`);
        }
      }
    });
  });

  describe('2-hour file', () => {
    const file = path.join(MEDIA, 'long_2h.mp4');

    test('HLS and DASH manifests, a middle and the last segment of each track', async () => {
      const t = (what, res) => timings.push({ what: `long_2h ${what}`, ms: Math.round(res.ms), bytes: res.body.length });
      const master = await get(`${E}/long_2h.mp4/master.m3u8`);
      t('master.m3u8 (cold)', master);
      assertOk(master, CT.hls, { immutable: false });
      const warm = await get(`${E}/long_2h.mp4/master.m3u8`);
      t('master.m3u8 (warm)', warm);
      const m = parseHls(text(master), master.url);
      const playlists = [...m.variants.map((v) => [v.url, 'vide']), ...m.media.map((x) => [x.url, 'soun'])];
      assert.equal(playlists.length, 2);
      for (const [url, handler] of playlists) {
        const pl = await get(url);
        t(`${handler} media playlist`, pl);
        assertOk(pl, CT.hls, { immutable: false });
        const p = parseHls(text(pl), url);
        const total = p.segments.reduce((n, s) => n + s.duration, 0);
        assert.ok(Math.abs(total - 7200) < 7, `${handler}: playlist covers ${total}s`);
        assert.ok(p.segments.length >= 1100, `${handler}: ${p.segments.length} segments`);
        const type = handler === 'vide' ? CT.video : CT.audio;
        const init = await get(p.map);
        assertOk(init, type, { immutable: true });
        for (const [label, s] of [['middle', p.segments[p.segments.length >> 1]], ['last', p.segments[p.segments.length - 1]]]) {
          const seg = await get(s.url);
          t(`${handler} ${label} segment (HLS)`, seg);
          assertOk(seg, type, { immutable: true });
          assertMediaSegment(seg);
          verifyPayload(seg.body, file, handler);
        }
      }

      const mpdRes = await get(`${E}/long_2h.mp4/manifest.mpd`);
      t('manifest.mpd', mpdRes);
      assertOk(mpdRes, CT.dash, { immutable: false });
      const mpd = parseMpd(text(mpdRes), mpdRes.url);
      assert.ok(Math.abs(mpd.duration - 7200) < 2, `MPD duration ${mpd.duration}`);
      for (const rep of mpd.reps) {
        const handler = rep.contentType === 'audio' ? 'soun' : 'vide';
        const total = rep.segments.reduce((n, s) => n + s.duration, 0);
        assert.ok(Math.abs(total - mpd.duration) < 1, `${rep.id}: timeline covers ${total}s of ${mpd.duration}s`);
        for (const [label, s] of [['middle', rep.segments[rep.segments.length >> 1]], ['last', rep.segments[rep.segments.length - 1]]]) {
          const seg = await get(s.url);
          t(`${handler} ${label} segment (DASH)`, seg);
          assertOk(seg, handler === 'vide' ? CT.video : CT.audio, { immutable: true });
          verifyPayload(seg.body, file, handler);
        }
      }
    });
  });
});
