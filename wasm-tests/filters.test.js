// Dynamic filters (Azure asset/account filter JSON) and playback modifiers
// end to end on the built module (issue 15, items 1–3). The origin serves a
// temp folder: `abr/` and `multilang/` (links to fixtures/media) with
// asset filters in `{asset}/filters/`, and account filters in `_filters/`.
//
// - a time range clips HLS, DASH and Smooth manifests (and I-frame
//   playlists) to whole segments: exactly the expected segment URLs, a run
//   of the unfiltered ones, served with the same bytes with or without
//   `filter=`; durations are the clip's;
// - track selections and modifiers give exactly the expected renditions;
//   `filter=a;b` intersects; an account filter is found after the asset's;
// - unknown filter 404 naming it, invalid JSON 502, bad modifier 400,
//   nothing left 400;
// - hls.js plays a clipped HLS (when a browser is installed).
//
//   node --test wasm-tests/filters.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/filters.test.js
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { REPO_ROOT } = require('./lib/process');
const { CT, assertError, assertOk, get, parseHls, text } = require('./lib/edge-http');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');

const MEDIA = path.join(REPO_ROOT, 'fixtures', 'media');
const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own origin: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || (!fs.existsSync(path.join(MEDIA, 'abr', 'abr.ism')) && 'fixtures/media not generated') || false;

const HNS = 10_000_000;
// 7 s – 17 s in ms: segments (6 s, video keyframes every 2 s) 1 and 2.
const FILTERS = {
  'abr/filters/clip.json': {
    name: 'clip',
    properties: { presentationTimeRange: { startTimestamp: 7000, endTimestamp: 17000, timescale: 1000 } },
  },
  'abr/filters/broken.json': '{"properties": {"tracks": [',
  'abr/filters/nothing.json': { tracks: [{ trackSelections: [{ property: 'Type', operation: 'Equal', value: 'Text' }] }] },
  // Account filters: video up to 600 kbit/s plus all audio; French audio only.
  '_filters/low.json': {
    properties: {
      firstQuality: { bitrate: 250000 },
      tracks: [
        { trackSelections: [{ property: 'type', operation: 'equal', value: 'audio' }] },
        { trackSelections: [{ property: 'Type', operation: 'Equal', value: 'Video' }, { property: 'Bitrate', operation: 'Equal', value: '0-600000' }] },
      ],
    },
  },
  '_filters/french.json': {
    tracks: [{ trackSelections: [{ property: 'Type', operation: 'NotEqual', value: 'Audio' }] },
      { trackSelections: [{ property: 'Language', operation: 'Equal', value: 'fr' }] }],
  },
  '_filters/late.json': { presentationTimeRange: { startTimestamp: 130000000 } },
};

/** A temp origin root: the assets linked file by file, filters written. */
function makeRoot() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-filters-'));
  for (const asset of ['abr', 'multilang']) {
    fs.mkdirSync(path.join(root, asset, 'filters'), { recursive: true });
    for (const f of fs.readdirSync(path.join(MEDIA, asset))) {
      fs.symlinkSync(path.join(MEDIA, asset, f), path.join(root, asset, f));
    }
  }
  fs.mkdirSync(path.join(root, '_filters'));
  for (const [p, v] of Object.entries(FILTERS)) {
    fs.writeFileSync(path.join(root, p), typeof v === 'string' ? v : JSON.stringify(v));
  }
  return root;
}

/** `Fragments(name=TIME` of a URL. */
const timeOf = (url) => Number(/Fragments\([^=]+=(\d+)/.exec(decodeURIComponent(url))[1]);

describe('dynamic filters and playback modifiers', { skip }, () => {
  let root;
  let origin;
  let edge;
  let E;
  const ABR = () => `${E}/abr/abr.ism`;

  before(async () => {
    root = makeRoot();
    origin = await startOrigin({ root });
    edge = await startEdge({ originUrl: origin.url });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  async function hls(url) {
    const res = await get(url);
    assertOk(res, CT.hls, { immutable: false });
    return parseHls(text(res), res.url);
  }

  test('a clip lists exactly the whole segments around its range, same URLs, same bytes', async () => {
    const playlist = (opts) => `${ABR()}/QualityLevels(1000000)/Manifest(video,format=m3u8-cmaf${opts}).m3u8`;
    const full = await hls(playlist(''));
    const clip = await hls(playlist(',filter=clip'));
    assert.deepEqual(clip.segments.map((s) => timeOf(s.url)), [6 * HNS, 12 * HNS]);
    const at = full.segments.findIndex((s) => s.url === clip.segments[0].url);
    assert.deepEqual(clip.segments.map((s) => s.url), full.segments.slice(at, at + 2).map((s) => s.url));
    assert.ok(clip.ended, 'an on-demand clip ends');
    assert.equal(clip.map, full.map);
    // The same segment asked for with the filter: the same bytes.
    const plain = await get(clip.segments[0].url);
    const filtered = await get(clip.segments[0].url.replace(',format=m3u8-cmaf)', ',format=m3u8-cmaf,filter=clip)'));
    assertOk(plain, CT.video, { immutable: true });
    assert.equal(filtered.status, 200);
    assert.ok(plain.body.equals(filtered.body), 'same bytes with filter=');

    // The multivariant playlist hands the filter to its media playlists.
    const master = await hls(`${ABR()}/manifest(format=m3u8-cmaf,filter=clip).m3u8`);
    assert.ok(master.variants.length > 0 && master.variants.every((v) => v.url.includes(',filter=clip)')), 'variants carry filter=');
    const audio = await hls(master.media[0].url);
    assert.equal(audio.segments.length, 2);
    assert.ok(audio.segments.every((s) => !s.url.includes('filter')), 'segment URLs stay canonical');

    // I-frame playlists (TS master): clipped too.
    const ts = await hls(`${ABR()}/manifest(format=m3u8-aapl,filter=clip).m3u8`);
    assert.ok(ts.iframes.length > 0);
    const iframes = await hls(ts.iframes[0].url);
    const times = new Set(iframes.segments.map((s) => timeOf(s.url)));
    assert.deepEqual([...times], [6 * HNS, 12 * HNS]);
  });

  test('DASH and Smooth clip to the same segments and the clip\'s duration', async () => {
    const mpd = await get(`${ABR()}/manifest(format=mpd-time-cmaf,filter=clip)`);
    assertOk(mpd, CT.dash, { immutable: false });
    const body = text(mpd);
    assert.match(body, /mediaPresentationDuration="PT12(\.0+)?S"/);
    assert.match(body, new RegExp(`presentationTimeOffset="${6 * HNS}"`));
    const video = /contentType="video"[\s\S]*?<SegmentTimeline>([\s\S]*?)<\/SegmentTimeline>/.exec(body)[1];
    assert.match(video, new RegExp(`<S t="${6 * HNS}" d="${6 * HNS}" r="1"/>`), video);
    const ism = text(await get(`${ABR()}/manifest(filter=clip)`));
    // Duration: the clip's, to the end of its last audio frame.
    const duration = Number(/Duration="(\d+)"/.exec(ism)[1]);
    assert.ok(Math.abs(duration - 12 * HNS) < HNS / 10, `Duration ${duration}`);
    const smoothVideo = /Type="video"[\s\S]*?<\/StreamIndex>/.exec(ism)[0];
    assert.match(smoothVideo, /Chunks="2"/);
    assert.match(smoothVideo, new RegExp(`<c t="${6 * HNS}" d="${6 * HNS}" r="2"/>`));
  });

  test('track selections, account filters, first quality and combined filters', async () => {
    const low = await hls(`${ABR()}/manifest(format=m3u8-cmaf,filter=low).m3u8`);
    assert.deepEqual(low.variants.map((v) => Number(/QualityLevels\((\d+)\)/.exec(v.url)[1])), [250000, 500000]);
    assert.equal(low.media.length, 1);
    const both = await hls(`${ABR()}/manifest(format=m3u8-cmaf,filter=clip;low).m3u8`);
    assert.equal(both.variants.length, 2);
    const playlist = await hls(both.variants[0].url);
    assert.deepEqual(playlist.segments.map((s) => timeOf(s.url)), [6 * HNS, 12 * HNS]);
    // clip (≤ 17 s) and late (≥ 13 s): segment 2 only.
    const narrow = await hls(`${ABR()}/QualityLevels(500000)/Manifest(video,format=m3u8-cmaf,filter=clip;late).m3u8`);
    assert.deepEqual(narrow.segments.map((s) => timeOf(s.url)), [12 * HNS]);
    const fr = await hls(`${E}/multilang/multilang.ism/manifest(format=m3u8-cmaf,filter=french).m3u8`);
    assert.deepEqual(fr.media.map((m) => m.LANGUAGE), ['fr']);
  });

  test('playback modifiers', async () => {
    const bitrates = (p) => p.variants.map((v) => Number(/QualityLevels\((\d+)\)/.exec(v.url)[1]));
    const m360 = await hls(`${ABR()}/manifest(format=m3u8-cmaf).m3u8?max_resolution=360p`);
    assert.deepEqual(bitrates(m360).sort(), [250000, 500000]);
    assert.ok(m360.variants.every((v) => v.url.includes('max_resolution=360p')));
    const asc = await hls(`${ABR()}/manifest(format=m3u8-cmaf,rendition_order=asc).m3u8`);
    assert.deepEqual(bitrates(asc), [250000, 500000, 1000000]);
    const desc = await hls(`${ABR()}/manifest(format=m3u8-cmaf).m3u8?rendition_order=desc&min_bitrate=400000`);
    assert.deepEqual(bitrates(desc), [1000000, 500000]);
    const res = await hls(`${ABR()}/manifest(format=m3u8-cmaf).m3u8?min_resolution=1280x720`);
    assert.deepEqual(bitrates(res), [1000000]);
    const fr = await hls(`${E}/multilang/multilang.ism/manifest(format=m3u8-cmaf).m3u8?default_audio_lang=fr`);
    assert.deepEqual(fr.media.map((m) => [m.LANGUAGE, m.DEFAULT]), [['fr', 'YES'], ['en', 'NO']]);
    const mpd = text(await get(`${E}/multilang/multilang.ism/manifest(format=mpd-time-cmaf)?default_audio_lang=fra`));
    assert.match(mpd, /lang="fr"[^>]*>\s*<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/);
  });

  test('errors: unknown 404, invalid 502, bad modifier 400, nothing left 400', async () => {
    const cases = [
      ['/abr/abr.ism/manifest(format=m3u8-cmaf,filter=nosuch)', 404, /filter nosuch/],
      ['/abr/abr.ism/manifest(format=m3u8-cmaf,filter=clip;nosuch)', 404, /filter nosuch/],
      ['/abr/abr.ism/manifest(format=mpd-time-cmaf,filter=broken)', 502, /filter broken: invalid JSON/],
      ['/abr/abr.ism/manifest(filter=nothing)', 400, /no track/],
      ['/abr/abr.ism/manifest(format=m3u8-cmaf,filter=a$b)', 400, /filter name/],
      ['/abr/abr.ism/manifest(format=m3u8-cmaf)?max_resolution=big', 400, /max_resolution/],
      ['/abr/abr.ism/manifest(format=m3u8-cmaf)?rendition_order=random', 400, /rendition_order/],
      ['/abr/abr.ism/manifest(format=m3u8-cmaf)?max_bitrate=1000', 400, /no video rendition/],
      ['/abr/abr.ism/manifest(format=m3u8-cmaf)?default_audio_lang=de', 400, /default_audio_lang/],
      ['/abr/abr.ism/manifest(format=m3u8-cmaf)?default_subtitles_lang=en', 400, /subtitle/],
    ];
    for (const [p, status, reason] of cases) assertError(await get(`${E}${p}`), status, reason);
  });

  const browserSkip = browserSkipReason();
  test('hls.js plays a clipped HLS', { skip: browserSkip || false }, async () => {
    const browser = await launchBrowser();
    try {
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
      try {
        await P.load(page, { player: 'hls.js', path: '/abr/abr.ism/manifest(format=m3u8-cmaf,filter=clip).m3u8' });
        await P.checkPlays(page, { seconds: 4 });
        await P.assertNoPlayerErrors(page, 'hls.js on a clipped stream');
      } finally {
        await page.closeAll();
      }
    } finally {
      await browser.close();
    }
  });
});
