// Subtitles (issue 15 items 4–6): WebVTT and TTML sidecars listed by an
// `.ism` `<textstream>` served as HLS SUBTITLES renditions on the shared
// timeline, for fMP4 (`m3u8-cmaf`) and MPEG-TS (`m3u8-aapl`).
//
// fixtures/media/subs (fixtures/generate.sh, gen_subs): two abr renditions
// + audio, English SDH captions, French subtitles (CRLF + BOM) and a forced
// English track; boundaries at 0, 6, 12, 18, 24 s.
//
// - the multivariant playlist lists the three SUBTITLES renditions with
//   their NAME, LANGUAGE, FORCED and CHARACTERISTICS, and every variant
//   refers to the group;
// - each text playlist has exactly the video playlist's EXTINF durations;
//   every segment answers 200 text/vtt with the cues that overlap it (a
//   cue spanning a boundary in both) and the X-TIMESTAMP-MAP of its format;
// - a non-canonical time is 404, an init segment 404, a broken sidecar 502
//   with the line; Smooth lists text StreamIndexes with TTML fragments;
// - ffmpeg extracts the WebVTT from the subtitle playlist with the source's
//   cue times (1 ms);
// - hls.js in headless Chromium lists the text tracks and shows the cue at
//   13.25 s through the textTracks API (when a browser is installed).
//
// - TTML/IMSC1 sidecars (ttml.ism: 25 fps frames, ticks, offsets, a timed
//   <span>): HLS WebVTT segments with the source cue times (1 ms), DASH
//   IMSC1 in fMP4 (stpp) with media-time documents, Smooth TTML fragments
//   whose tfxd is their <c>, a bad time 502, and Shaka showing the cue at
//   13.24 s.
//
//   node --test wasm-tests/subtitles.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/subtitles.test.js
'use strict';

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertError, assertOk, get, parseHls } = require('./lib/edge-http');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const P = require('./lib/players');

const skip = process.env.EDGEPACK_EDGE_URL
  ? 'needs its own configuration: unset EDGEPACK_EDGE_URL'
  : edgeSkipReason() || false;

const ASSET = '/subs/subs.ism';
const master = (format) => `${ASSET}/manifest(format=${format}).m3u8`;

// The sidecars' cues (start, end in ms; first text line), by track name.
const CUES = {
  sub_eng_sdh: [
    [1000, 3000, '[door creaks]'],
    [5000, 7500, 'This cue spans the 6 s boundary.'],
    [13250, 15750, '<i>Third cue</i> &amp; more'],
    [25000, 29000, '[music ends]'],
  ],
  textstream_fra: [
    [2000, 4000, 'Bonjour.'],
    [11500, 12500, 'Ce sous-titre chevauche 12 s.'],
    [20000, 21000, 'Au revoir.'],
  ],
  forced_eng: [[8000, 9000, '[in French] Where is the station?']],
};

/** Runs a tool; resolves { code, stdout, stderr }. */
function run(cmd, args, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `hh:mm:ss.ttt` or `mm:ss.ttt` → ms. */
function ms(ts) {
  const [hms, frac] = ts.split('.');
  const parts = hms.split(':').map(Number);
  while (parts.length < 3) parts.unshift(0);
  return ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000 + Number(frac);
}

/** The cues of a WebVTT document: [start ms, end ms, first text line]. */
function vttCues(body) {
  const lines = body.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\S+) --> (\S+)/.exec(lines[i]);
    if (m) out.push([ms(m[1]), ms(m[2]), lines[i + 1] ?? '']);
  }
  return out;
}

describe('subtitles: WebVTT and TTML sidecars in HLS, DASH and Smooth', { skip }, () => {
  let origin;
  let edge;
  let E;

  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url });
    E = edge.url;
  });

  // One Chromium for both player checks (launching one costs seconds).
  let browser;
  const sharedBrowser = async () => (browser ??= await launchBrowser());

  after(async () => {
    await browser?.close();
    await edge?.stop();
    await origin?.stop();
  });

  test('the multivariant playlist lists the text renditions', async () => {
    for (const format of ['m3u8-cmaf', 'm3u8-aapl']) {
      const res = await get(E + master(format));
      assertOk(res, CT.hls);
      const pl = parseHls(res.body.toString('utf8'), res.url);
      const subs = pl.media.filter((m) => m.TYPE === 'SUBTITLES');
      assert.deepEqual(subs.map((m) => [m.NAME, m.LANGUAGE, m['GROUP-ID'], m.DEFAULT, m.AUTOSELECT, m.FORCED, m.CHARACTERISTICS]), [
        ['English (SDH)', 'en', 'subs', 'NO', 'YES', undefined, 'public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound'],
        ['French', 'fr', 'subs', 'NO', 'YES', undefined, undefined],
        ['English (forced)', 'en', 'subs', 'NO', 'YES', 'YES', undefined],
      ], format);
      assert.ok(pl.variants.length >= 2, format);
      for (const v of pl.variants) assert.equal(v.SUBTITLES, 'subs', `${format}: ${v.url}`);
    }
  });

  for (const format of ['m3u8-cmaf', 'm3u8-aapl']) {
    test(`every ${format} text segment holds the cues that overlap it`, async () => {
      const pl = parseHls((await get(E + master(format))).body.toString('utf8'), E + master(format));
      const videoRes = await get(pl.variants[0].url);
      const video = parseHls(videoRes.body.toString('utf8'), videoRes.url);
      const mpegts = format === 'm3u8-aapl' ? 900000 : 0;
      for (const m of pl.media.filter((x) => x.TYPE === 'SUBTITLES')) {
        const res = await get(m.url);
        assertOk(res, CT.hls);
        const text = parseHls(res.body.toString('utf8'), res.url);
        assert.deepEqual(text.segments.map((s) => s.duration), video.segments.map((s) => s.duration), `${m.NAME}: EXTINF as video`);
        assert.equal(text.targetDuration, video.targetDuration);
        assert.equal(text.map, null, 'no EXT-X-MAP for WebVTT');
        const name = /Manifest\(([^,]+),/.exec(m.URI)[1];
        let start = 0;
        const seen = [];
        for (const [i, s] of text.segments.entries()) {
          assert.match(s.url, /\.vtt$/);
          const seg = await get(s.url);
          assertOk(seg, 'text/vtt', { immutable: true });
          const body = seg.body.toString('utf8');
          assert.ok(body.startsWith(`WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:${mpegts},LOCAL:00:00:00.000\n`), body.slice(0, 80));
          const end = i + 1 === text.segments.length ? Infinity : start + s.duration * 1000;
          const want = CUES[name].filter(([a, b]) => b > start && a < end);
          assert.deepEqual(vttCues(body), want, `${name} segment ${i} [${start}, ${end})`);
          seen.push(...vttCues(body));
          start = end;
        }
        // Every cue is somewhere; the one spanning a boundary twice.
        assert.deepEqual([...new Map(seen.map((c) => [c.join('|'), c])).values()], CUES[name]);
      }
    });
  }

  test('refusals: wrong time, init, other formats, a broken sidecar', async () => {
    const frag = (name, t, format = 'm3u8-cmaf') => `${E}${ASSET}/QualityLevels(1000)/Fragments(${name}=${t},format=${format}).vtt`;
    assertError(await get(frag('sub_eng_sdh', 60000001)), 404);
    assertError(await get(frag('sub_eng_sdh', 'i')), 404);
    // Smooth (no format) answers a TTML fragment.
    const smoothFrag = await get(`${E}${ASSET}/QualityLevels(1000)/Fragments(sub_eng_sdh=0)`);
    assertOk(smoothFrag, 'application/mp4', { immutable: true });
    assert.equal(smoothFrag.body.toString('latin1', 4, 8), 'moof');
    const bad = await get(`${E}/subs/bad.ism/QualityLevels(1000)/Fragments(textstream_eng=0,format=m3u8-cmaf).vtt`);
    assertError(bad, 502);
    assert.match(bad.body.toString('utf8'), /subs_bad\.vtt.*line 3/);
    // Smooth lists the text streams (TTML fragments).
    const smooth = await get(`${E}${ASSET}/manifest`);
    assertOk(smooth, CT.smooth);
    assert.deepEqual([...smooth.body.toString('utf8').matchAll(/<StreamIndex Type="text" Subtype="(\w+)" Name="([^"]+)"/g)].map((m) => [m[1], m[2]]),
      [['CAPT', 'sub_eng_sdh'], ['SUBT', 'textstream_fra'], ['SUBT', 'forced_eng']]);
    assert.doesNotMatch(smooth.headers.get('edgepack-omitted') || '', /sub_eng_sdh/);
  });

  test('DASH: a text AdaptationSet per track, WebVTT in fMP4 on the video timeline', async () => {
    const mpdUrl = `${E}${ASSET}/manifest(format=mpd-time-cmaf).mpd`;
    const res = await get(mpdUrl);
    assertOk(res, CT.dash);
    const mpd = res.body.toString('utf8');
    const sets = mpd.split('<AdaptationSet').slice(1);
    const texts = sets.filter((a) => a.includes('contentType="text"'));
    const attr = (a, re) => re.exec(a)?.[1];
    assert.deepEqual(texts.map((a) => [
      attr(a, /lang="([^"]*)"/), attr(a, /mimeType="([^"]*)"/), attr(a, /codecs="([^"]*)"/),
      attr(a, /<Role schemeIdUri="urn:mpeg:dash:role:2011" value="([^"]*)"/), attr(a, /<Accessibility [^>]*value="([^"]*)"/),
    ]), [
      ['en', 'application/mp4', 'wvtt', 'caption', '2'],
      ['fr', 'application/mp4', 'wvtt', 'subtitle', undefined],
      ['en', 'application/mp4', 'wvtt', 'forced-subtitle', undefined],
    ]);
    const timeline = (a) => /<SegmentTimeline>[\s\S]*?<\/SegmentTimeline>/.exec(a)[0];
    const video = sets.find((a) => a.includes('contentType="video"'));
    for (const a of texts) {
      assert.equal(timeline(a), timeline(video));
      const rep = /<Representation id="([^"]*)" bandwidth="(\d+)"/.exec(a);
      const tpl = /initialization="([^"]*)" media="([^"]*)"/.exec(a);
      const base = new URL('.', mpdUrl).href;
      const init = await get(new URL(tpl[1].replace('$Bandwidth$', rep[2]), mpdUrl).href);
      assertOk(init, 'application/mp4', { immutable: true });
      assert.ok(init.body.includes('wvtt') && init.body.includes('vttC'), 'wvtt sample entry');
      let t = 0;
      for (const m of timeline(a).matchAll(/<S (?:t="(\d+)" )?d="(\d+)"(?: r="(\d+)")?\/>/g)) {
        if (m[1]) t = Number(m[1]);
        for (let i = 0; i <= Number(m[3] || 0); i++) {
          const seg = await get(new URL(tpl[2].replace('$Bandwidth$', rep[2]).replace('$Time$', t), base).href);
          assertOk(seg, 'application/mp4', { immutable: true });
          assert.equal(seg.body.toString('latin1', 4, 8), 'styp');
          t += Number(m[2]);
        }
      }
    }
  });

  test('ffmpeg extracts the WebVTT with the source cue times', async () => {
    for (const format of ['m3u8-cmaf', 'm3u8-aapl']) {
      const url = `${E}${ASSET}/QualityLevels(1000)/Manifest(sub_eng_sdh,format=${format}).m3u8`;
      const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', url, '-map', '0:s', '-f', 'webvtt', '-']);
      assert.equal(r.code, 0, `${format}: ${r.stderr}`);
      const cues = vttCues(r.stdout);
      // Repeats of a cue spanning a boundary are one cue.
      const unique = [...new Map(cues.map((c) => [c.join('|'), c])).values()];
      assert.equal(unique.length, CUES.sub_eng_sdh.length, `${format}:\n${r.stdout}`);
      for (const [i, [a, b, t]] of CUES.sub_eng_sdh.entries()) {
        assert.ok(Math.abs(unique[i][0] - a) <= 1 && Math.abs(unique[i][1] - b) <= 1, `${format} cue ${i}: ${unique[i]} vs ${a}-${b}`);
        // ffmpeg's WebVTT decoder resolves character references.
        assert.equal(unique[i][2], t.replace('&amp;', '&'));
      }
    }
  });

  const browserSkip = browserSkipReason();
  test('hls.js lists the text tracks and shows the cue at 13.25 s', { skip: browserSkip || false }, async () => {
    const browser = await sharedBrowser();
    {
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
      try {
        await P.load(page, { player: 'hls.js', path: master('m3u8-cmaf') });
        const tracks = await page.evaluate(() => window.edgepack.state.player.subtitleTracks.map((t) => [t.name, t.lang, !!t.forced]));
        assert.deepEqual(tracks, [['English (SDH)', 'en', false], ['French', 'fr', false], ['English (forced)', 'en', true]]);
        const cue = await page.evaluate(async () => {
          const hls = window.edgepack.state.player;
          const v = window.edgepack.video;
          hls.subtitleDisplay = true;
          hls.subtitleTrack = 0;
          v.currentTime = 13.5;
          const deadline = Date.now() + 20_000;
          while (Date.now() < deadline) {
            for (const tt of v.textTracks) {
              const c = [...(tt.cues || [])].find((x) => x.text.includes('Third cue'));
              if (c) return { label: tt.label, mode: tt.mode, start: c.startTime, end: c.endTime, active: [...(tt.activeCues || [])].map((x) => x.text) };
            }
            await new Promise((r) => setTimeout(r, 200));
          }
          return { tracks: [...v.textTracks].map((t) => `${t.label}:${t.mode}:${t.cues?.length}`) };
        });
        assert.ok(cue.start !== undefined, `no cue found: ${JSON.stringify(cue)}`);
        assert.equal(cue.label, 'English (SDH)');
        assert.ok(Math.abs(cue.start - 13.25) < 0.01 && Math.abs(cue.end - 15.75) < 0.01, JSON.stringify(cue));
        await P.assertNoPlayerErrors(page, 'hls.js with subtitles');
      } finally {
        await page.closeAll();
      }
    }
  });

  test('Shaka lists the DASH text tracks and shows the cue at 13.25 s', { skip: browserSkip || false }, async () => {
    const browser = await sharedBrowser();
    {
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
      try {
        await P.load(page, { player: 'shaka', path: `${ASSET}/manifest(format=mpd-time-cmaf).mpd` });
        const tracks = await page.evaluate(() => window.edgepack.state.player.getTextTracks().map((t) => [t.language, t.roles.join(','), !!t.forced]));
        assert.deepEqual(tracks, [['en', 'caption', false], ['fr', 'subtitle', false], ['en', 'forced-subtitle', true]]);
        const cue = await P.shakaCue(page, { at: 13.5, text: 'Third cue' });
        assert.ok(cue.start !== undefined, `no cue found: ${JSON.stringify(cue)}`);
        assert.ok(Math.abs(cue.start - 13.25) < 0.01 && Math.abs(cue.end - 15.75) < 0.01, JSON.stringify(cue));
        await P.assertNoPlayerErrors(page, 'Shaka with DASH subtitles');
      } finally {
        await page.closeAll();
      }
    }
  });

  // --- TTML / IMSC1 sidecars (fixtures/media/subs/ttml.ism) ---
  const TTML = '/subs/ttml.ism';
  // The TTML sources' cues in ms (25 fps frames, ticks, offsets, a timed
  // <span> splitting a paragraph), first text line as WebVTT writes it.
  const TTML_CUES = {
    ttml_eng_sdh: [
      [1000, 3000, '[door creaks]'],
      [5000, 7520, 'This cue spans the 6 s boundary.'],
      [13240, 15760, 'Third cue &amp; more'],
      [25000, 29000, '[music ends]'],
    ],
    textstream_spa: [
      [2000, 4000, 'Hola.'],
      [11500, 12500, 'Este subtítulo cruza 12 s.'],
      [20000, 21000, 'Adiós.'],
    ],
    ttml_forced_eng: [
      [8000, 8500, '[in French]'],
      [8500, 9500, '[in French] Where is the station?'],
    ],
  };
  const near = (got, want, what) => {
    assert.equal(got.length, want.length, `${what}: ${JSON.stringify(got)}`);
    for (const [i, [a, b, t]] of want.entries()) {
      assert.ok(Math.abs(got[i][0] - a) <= 1 && Math.abs(got[i][1] - b) <= 1, `${what} cue ${i}: ${got[i]} vs ${a}-${b}`);
      assert.equal(got[i][2], t, `${what} cue ${i}`);
    }
  };

  test('dash.js lists the DASH text tracks and shows the cue at 13.25 s', { skip: browserSkip || false }, async () => {
    const browser = await sharedBrowser();
    const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
    try {
      await P.load(page, { player: 'dash.js', path: `${ASSET}/manifest(format=mpd-time-cmaf).mpd` });
      const tracks = await page.evaluate(() => window.edgepack.state.player.getTracksFor('text').map((t) => [t.lang, (t.roles || []).join(',')]));
      assert.deepEqual(tracks, [['en', 'caption'], ['fr', 'subtitle'], ['en', 'forced-subtitle']]);
      const cue = await P.dashjsCue(page, { at: 13.5, text: 'Third cue' });
      assert.ok(cue.start !== undefined, `no cue found: ${JSON.stringify(cue)}`);
      assert.ok(Math.abs(cue.start - 13.25) < 0.01 && Math.abs(cue.end - 15.75) < 0.01, JSON.stringify(cue));
      await P.assertNoPlayerErrors(page, 'dash.js with DASH subtitles');
    } finally {
      await page.closeAll();
    }
  });

  test('TTML: HLS lists the tracks; WebVTT segments carry the source cue times', async () => {
    const url = `${E}${TTML}/manifest(format=m3u8-cmaf).m3u8`;
    const pl = parseHls((await get(url)).body.toString('utf8'), url);
    const subs = pl.media.filter((m) => m.TYPE === 'SUBTITLES');
    assert.deepEqual(subs.map((m) => [m.NAME, m.LANGUAGE, m.FORCED, !!m.CHARACTERISTICS]), [
      ['English (SDH)', 'en', undefined, true],
      ['Spanish', 'es', undefined, false],
      ['English (forced)', 'en', 'YES', false],
    ]);
    for (const m of subs) {
      const name = /Manifest\(([^,]+),/.exec(m.URI)[1];
      const res = await get(m.url);
      const text = parseHls(res.body.toString('utf8'), res.url);
      const seen = [];
      for (const s of text.segments) {
        const seg = await get(s.url);
        assertOk(seg, 'text/vtt', { immutable: true });
        seen.push(...vttCues(seg.body.toString('utf8')));
      }
      near([...new Map(seen.map((c) => [c.join('|'), c])).values()], TTML_CUES[name], name);
    }
    const bad = await get(`${E}/subs/ttml_bad.ism/QualityLevels(1000)/Fragments(textstream_deu=0,format=m3u8-cmaf).vtt`);
    assertError(bad, 502);
    assert.match(bad.body.toString('utf8'), /ttml_bad\.ttml.*TTML byte \d+: bad begin time/);
  });

  test('TTML: DASH offers IMSC1 in fMP4 (stpp) with media-time documents', async () => {
    const mpdUrl = `${E}${TTML}/manifest(format=mpd-time-cmaf).mpd`;
    const res = await get(mpdUrl);
    assertOk(res, CT.dash);
    const sets = res.body.toString('utf8').split('<AdaptationSet').slice(1);
    const texts = sets.filter((a) => a.includes('contentType="text"'));
    const attr = (a, re) => re.exec(a)?.[1];
    assert.deepEqual(texts.map((a) => [attr(a, /lang="([^"]*)"/), attr(a, /mimeType="([^"]*)"/), attr(a, /codecs="([^"]*)"/),
      attr(a, /<Role [^>]*value="([^"]*)"/)]), [
      ['en', 'application/mp4', 'stpp.ttml.im1t', 'caption'],
      ['es', 'application/mp4', 'stpp.ttml.im1t', 'subtitle'],
      ['en', 'application/mp4', 'stpp.ttml.im1t', 'forced-subtitle'],
    ]);
    // The English SDH track: every segment one sample, a TTML document
    // whose <p> times are media time, clipped to the segment.
    const a = texts[0];
    const rep = /<Representation id="([^"]*)" bandwidth="(\d+)"/.exec(a);
    const tpl = /initialization="([^"]*)" media="([^"]*)"/.exec(a);
    const timescale = Number(attr(a, /timescale="(\d+)"/));
    const init = await get(new URL(tpl[1].replace('$Bandwidth$', rep[2]), mpdUrl).href);
    assertOk(init, 'application/mp4', { immutable: true });
    assert.ok(init.body.includes('stpp') && init.body.includes('sthd') && init.body.includes('application/ttml+xml;codecs=im1t'));
    const ps = [];
    let t = 0;
    for (const m of /<SegmentTimeline>[\s\S]*?<\/SegmentTimeline>/.exec(a)[0].matchAll(/<S (?:t="(\d+)" )?d="(\d+)"(?: r="(\d+)")?\/>/g)) {
      if (m[1]) t = Number(m[1]);
      for (let i = 0; i <= Number(m[3] || 0); i++) {
        const seg = await get(new URL(tpl[2].replace('$Bandwidth$', rep[2]).replace('$Time$', t), mpdUrl).href);
        assertOk(seg, 'application/mp4', { immutable: true });
        const doc = seg.body.toString('utf8', seg.body.indexOf('<?xml'));
        assert.match(doc, /^<\?xml[^>]*\?><tt [^>]*ttp:timeBase="media"[^>]*xml:lang="en"/);
        for (const p of doc.matchAll(/<p begin="([^"]+)" end="([^"]+)">(.*?)(?:<br\/>|<\/p>)/g)) {
          assert.ok(ms(p[1]) >= Math.floor((t * 1000) / timescale), `${p[0]} inside the segment at ${t}`);
          ps.push([ms(p[1]), ms(p[2]), p[3]]);
        }
        t += Number(m[2]);
      }
    }
    // Joined again across boundaries, the cues are the source's.
    const joined = [];
    for (const c of ps) {
      const last = joined[joined.length - 1];
      if (last && last[2] === c[2] && last[1] === c[0]) last[1] = c[1];
      else joined.push([...c]);
    }
    near(joined, TTML_CUES.ttml_eng_sdh, 'stpp');
  });

  test('TTML: Smooth text fragments parse back with the source cue times (fragment-relative)', async () => {
    const res = await get(`${E}${TTML}/manifest`);
    assertOk(res, CT.smooth);
    const xml = res.body.toString('utf8');
    const streams = [...xml.matchAll(/<StreamIndex Type="text"[^>]*>[\s\S]*?<\/StreamIndex>/g)].map((m) => m[0]);
    const attr = (a, n) => new RegExp(`${n}="([^"]*)"`).exec(a)?.[1];
    assert.deepEqual(streams.map((a) => [attr(a, 'Subtype'), attr(a, 'Name'), attr(a, 'Language'), attr(a, 'FourCC')]), [
      ['CAPT', 'ttml_eng_sdh', 'eng', 'TTML'],
      ['SUBT', 'textstream_spa', 'spa', 'TTML'],
      ['SUBT', 'ttml_forced_eng', 'eng', 'TTML'],
    ]);
    // The video's chunk list, fragment by fragment.
    const video = /<StreamIndex Type="video"[\s\S]*?<\/StreamIndex>/.exec(xml)[0];
    const cs = (a) => [...a.matchAll(/<c (?:t="(\d+)" )?d="(\d+)"(?: r="(\d+)")?\/>/g)];
    assert.deepEqual(cs(streams[0]).map((m) => m.slice(1)), cs(video).map((m) => m.slice(1)));
    const ps = [];
    let t = 0;
    for (const m of cs(streams[0])) {
      if (m[1]) t = Number(m[1]);
      for (let i = 0; i < Number(m[3] || 1); i++) {
        const f = await get(`${E}${TTML}/QualityLevels(1000)/Fragments(ttml_eng_sdh=${t})`);
        assertOk(f, 'application/mp4', { immutable: true });
        assert.equal(f.body.toString('latin1', 4, 8), 'moof');
        // tfxd: the fragment's absolute time and duration (HNS) = its <c>.
        const u = f.body.indexOf(Buffer.from('6d1d9b0542d544e680e2141daff757b2', 'hex'));
        assert.ok(u > 0, 'tfxd');
        assert.equal(Number(f.body.readBigUInt64BE(u + 20)), t);
        assert.equal(Number(f.body.readBigUInt64BE(u + 28)), Number(m[2]));
        const doc = f.body.toString('utf8', f.body.indexOf('<?xml'));
        // Times relative to the fragment's start, as Smooth clients read them.
        const base = Math.round(t / 10_000);
        for (const p of doc.matchAll(/<p begin="([^"]+)" end="([^"]+)">(.*?)(?:<br\/>|<\/p>)/g)) ps.push([base + ms(p[1]), base + ms(p[2]), p[3]]);
        t += Number(m[2]);
      }
    }
    const joined = [];
    for (const c of ps) {
      const last = joined[joined.length - 1];
      if (last && last[2] === c[2] && last[1] === c[0]) last[1] = c[1];
      else joined.push([...c]);
    }
    near(joined, TTML_CUES.ttml_eng_sdh, 'smooth');
  });

  test('TTML: Shaka lists the IMSC1 tracks and shows the cue at 13.24 s', { skip: browserSkip || false }, async () => {
    const browser = await sharedBrowser();
    const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
    try {
      await P.load(page, { player: 'shaka', path: `${TTML}/manifest(format=mpd-time-cmaf).mpd` });
      const tracks = await page.evaluate(() => window.edgepack.state.player.getTextTracks().map((t) => [t.language, t.roles.join(','), !!t.forced, t.mimeType, t.codecs]));
      assert.deepEqual(tracks, [
        ['en', 'caption', false, 'application/mp4', 'stpp.ttml.im1t'],
        ['es', 'subtitle', false, 'application/mp4', 'stpp.ttml.im1t'],
        ['en', 'forced-subtitle', true, 'application/mp4', 'stpp.ttml.im1t'],
      ]);
      const cue = await P.shakaCue(page, { at: 13.5, text: 'Third cue' });
      assert.ok(cue.start !== undefined, `no cue found: ${JSON.stringify(cue)}`);
      assert.ok(Math.abs(cue.start - 13.24) < 0.01 && Math.abs(cue.end - 15.76) < 0.01, JSON.stringify(cue));
      assert.equal(cue.text, 'Third cue & more');
      await P.assertNoPlayerErrors(page, 'Shaka with IMSC1 subtitles');
    } finally {
      await page.closeAll();
    }
  });

  test('TTML: dash.js lists the IMSC1 tracks and shows the cue at 13.24 s', { skip: browserSkip || false }, async () => {
    const browser = await sharedBrowser();
    const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
    try {
      await P.load(page, { player: 'dash.js', path: `${TTML}/manifest(format=mpd-time-cmaf).mpd` });
      const tracks = await page.evaluate(() => window.edgepack.state.player.getTracksFor('text').map((t) => [t.lang, (t.roles || []).join(','), t.codec]));
      assert.deepEqual(tracks.map(([l, r]) => [l, r]), [['en', 'caption'], ['es', 'subtitle'], ['en', 'forced-subtitle']]);
      const cue = await P.dashjsCue(page, { at: 13.5, text: 'Third cue' });
      assert.ok(cue.start !== undefined, `no cue found: ${JSON.stringify(cue)}`);
      assert.ok(Math.abs(cue.start - 13.24) < 0.01 && Math.abs(cue.end - 15.76) < 0.01, JSON.stringify(cue));
      await P.assertNoPlayerErrors(page, 'dash.js with IMSC1 subtitles');
    } finally {
      await page.closeAll();
    }
  });
});
