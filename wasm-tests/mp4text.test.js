// MP4 text tracks (issue 15 item 4): subtitles carried inside the MP4 as
// 3GPP timed text (ffmpeg's mov_text, `tx3g`), offered like sidecar text
// tracks in HLS (WebVTT segments), DASH (WebVTT in fMP4) and Smooth (TTML),
// for a bare `.mp4` and for an `.ism` whose media file carries them.
//
// fixtures/media/mp4text (fixtures/generate.sh, gen_mp4text): the abr 360p
// video + English audio with an English and a French mov_text track;
// boundaries at 0, 6, 12, 18, 24 s.
//
// - the multivariant playlist lists both SUBTITLES renditions with their
//   LANGUAGE, for the .mp4 and the .ism; `default_subtitles_lang` makes
//   one DEFAULT=YES (and DASH Role main), an absent language is 400;
// - ffmpeg extracts the WebVTT of each HLS subtitle playlist with the cue
//   times ffmpeg reads from the source mov_text track (1 ms);
// - DASH lists a `wvtt` AdaptationSet per track and every segment parses;
//   Smooth lists text StreamIndexes whose fragments are moofs;
// - hls.js in headless Chromium lists the text tracks and shows the cue
//   at 5 s; Shaka lists the DASH text tracks and shows the cue at 13.25 s
//   (when a browser is installed).
//
//   node --test wasm-tests/mp4text.test.js
//   EDGEPACK_RUNTIME=wasi-http node --test wasm-tests/mp4text.test.js
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
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

const MP4 = '/mp4text/movtext.mp4';
const ISM = '/mp4text/mp4text.ism';
const SOURCE = path.join(__dirname, '..', 'fixtures', 'media', 'mp4text', 'movtext.mp4');
const master = (asset, format, q = '') => `${asset}/manifest(format=${format}).m3u8${q}`;

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

/** Cues with repeats (a cue spanning a boundary is in both segments) dropped. */
const unique = (cues) => [...new Map(cues.map((c) => [c.join('|'), c])).values()];

describe('mp4text: mov_text tracks inside the MP4 in HLS, DASH and Smooth', { skip }, () => {
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

  test('the multivariant playlist lists the MP4 text tracks (.mp4 and .ism)', async () => {
    for (const asset of [MP4, ISM]) {
      for (const format of ['m3u8-cmaf', 'm3u8-aapl']) {
        const res = await get(E + master(asset, format));
        assertOk(res, CT.hls);
        const pl = parseHls(res.body.toString('utf8'), res.url);
        const subs = pl.media.filter((m) => m.TYPE === 'SUBTITLES');
        assert.deepEqual(subs.map((m) => [m.NAME, m.LANGUAGE, m.DEFAULT, m.AUTOSELECT, /Manifest\(([^,]+),/.exec(m.URI)[1]]), [
          ['English', 'en', 'NO', 'YES', 'text_eng'],
          ['French', 'fr', 'NO', 'YES', 'text_fra'],
        ], `${asset} ${format}`);
        assert.equal(pl.variants.length, 1);
        assert.equal(pl.variants[0].SUBTITLES, 'subs');
      }
    }
  });

  test('default_subtitles_lang picks the default text track', async () => {
    const res = await get(E + master(MP4, 'm3u8-cmaf', '?default_subtitles_lang=fr'));
    assertOk(res, CT.hls);
    const subs = parseHls(res.body.toString('utf8'), res.url).media.filter((m) => m.TYPE === 'SUBTITLES');
    assert.deepEqual(subs.map((m) => [m.LANGUAGE, m.DEFAULT, m.AUTOSELECT]), [['fr', 'YES', 'YES'], ['en', 'NO', 'YES']]);
    const mpd = await get(`${E}${MP4}/manifest(format=mpd-time-cmaf).mpd?default_subtitles_lang=en`);
    assertOk(mpd, CT.dash);
    const texts = mpd.body.toString('utf8').split('<AdaptationSet').filter((a) => a.includes('contentType="text"'));
    assert.deepEqual(texts.map((a) => [/lang="([^"]*)"/.exec(a)[1], [...a.matchAll(/<Role [^>]*value="([^"]*)"/g)].map((m) => m[1]).join(',')]),
      [['en', 'main,subtitle'], ['fr', 'subtitle']]);
    assertError(await get(E + master(MP4, 'm3u8-cmaf', '?default_subtitles_lang=it')), 400);
  });

  test('ffmpeg extracts the HLS WebVTT with the source mov_text cue times', async () => {
    for (const [i, name] of ['text_eng', 'text_fra'].entries()) {
      const src = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', SOURCE, '-map', `0:s:${i}`, '-f', 'webvtt', '-']);
      assert.equal(src.code, 0, src.stderr);
      const want = vttCues(src.stdout);
      assert.ok(want.length >= 3, src.stdout);
      for (const format of ['m3u8-cmaf', 'm3u8-aapl']) {
        const url = `${E}${MP4}/QualityLevels(1000)/Manifest(${name},format=${format}).m3u8`;
        const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', url, '-map', '0:s', '-f', 'webvtt', '-']);
        assert.equal(r.code, 0, `${format}: ${r.stderr}`);
        const got = unique(vttCues(r.stdout));
        assert.equal(got.length, want.length, `${name} ${format}:\n${r.stdout}\nvs\n${src.stdout}`);
        for (const [k, [a, b, t]] of want.entries()) {
          assert.ok(Math.abs(got[k][0] - a) <= 1 && Math.abs(got[k][1] - b) <= 1, `${name} ${format} cue ${k}: ${got[k]} vs ${a}-${b}`);
          // Styles (tx3g `styl`) are not carried: compare the plain text.
          assert.equal(got[k][2], t.replace(/<[^>]+>/g, ''));
        }
      }
    }
  });

  test('HLS segments: the cue spanning 6 s is in both, gaps are no cues', async () => {
    const pl = await get(`${E}${MP4}/QualityLevels(1000)/Manifest(text_eng,format=m3u8-cmaf).m3u8`);
    assertOk(pl, CT.hls);
    const segs = parseHls(pl.body.toString('utf8'), pl.url).segments;
    assert.equal(segs.length, 5);
    const bodies = [];
    for (const s of segs) {
      const r = await get(s.url);
      assertOk(r, 'text/vtt', { immutable: true });
      bodies.push(r.body.toString('utf8'));
    }
    assert.ok(bodies[0].startsWith('WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n'));
    assert.deepEqual(vttCues(bodies[0]).map((c) => c.slice(0, 2)), [[1000, 3000], [5000, 7500]]);
    assert.deepEqual(vttCues(bodies[1]).map((c) => c.slice(0, 2)), [[5000, 7500]]);
    assert.deepEqual(vttCues(bodies[3]), []);
    assert.match(bodies[0], /Hello there\.\nSecond line &amp; more\n/);
  });

  test('DASH: a wvtt AdaptationSet per MP4 text track, segments parse; Smooth text', async () => {
    const mpdUrl = `${E}${ISM}/manifest(format=mpd-time-cmaf).mpd`;
    const res = await get(mpdUrl);
    assertOk(res, CT.dash);
    const mpd = res.body.toString('utf8');
    const texts = mpd.split('<AdaptationSet').slice(1).filter((a) => a.includes('contentType="text"'));
    assert.deepEqual(texts.map((a) => [/lang="([^"]*)"/.exec(a)[1], /codecs="([^"]*)"/.exec(a)[1]]), [['en', 'wvtt'], ['fr', 'wvtt']]);
    const a = texts[0];
    const rep = /<Representation id="([^"]*)" bandwidth="(\d+)"/.exec(a);
    const tpl = /initialization="([^"]*)" media="([^"]*)"/.exec(a);
    const base = new URL('.', mpdUrl).href;
    const init = await get(new URL(tpl[1].replace('$Bandwidth$', rep[2]), mpdUrl).href);
    assertOk(init, 'application/mp4', { immutable: true });
    assert.ok(init.body.includes('wvtt') && init.body.includes('vttC'));
    let t = 0;
    let payload = '';
    const timeline = /<SegmentTimeline>[\s\S]*?<\/SegmentTimeline>/.exec(a)[0];
    for (const m of timeline.matchAll(/<S (?:t="(\d+)" )?d="(\d+)"(?: r="(\d+)")?\/>/g)) {
      if (m[1]) t = Number(m[1]);
      for (let i = 0; i <= Number(m[3] || 0); i++) {
        const seg = await get(new URL(tpl[2].replace('$Bandwidth$', rep[2]).replace('$Time$', t), base).href);
        assertOk(seg, 'application/mp4', { immutable: true });
        assert.equal(seg.body.toString('latin1', 4, 8), 'styp');
        payload += seg.body.toString('latin1');
        t += Number(m[2]);
      }
    }
    assert.ok(payload.includes('payl') && payload.includes('[music ends]'));
    const smooth = await get(`${E}${ISM}/manifest`);
    assertOk(smooth, CT.smooth);
    assert.deepEqual([...smooth.body.toString('utf8').matchAll(/<StreamIndex Type="text" Subtype="(\w+)" Name="([^"]+)"/g)].map((m) => m[2]),
      ['text_eng', 'text_fra']);
    const frag = await get(`${E}${ISM}/QualityLevels(1000)/Fragments(text_eng=0)`);
    assertOk(frag, 'application/mp4', { immutable: true });
    assert.equal(frag.body.toString('latin1', 4, 8), 'moof');
    assert.ok(frag.body.includes('Hello there.'));
  });

  const browserSkip = browserSkipReason();
  test('hls.js lists the MP4 text tracks and shows the cue at 5 s', { skip: browserSkip || false }, async () => {
    const browser = await sharedBrowser();
    {
      const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
      try {
        await P.load(page, { player: 'hls.js', path: master(MP4, 'm3u8-cmaf') });
        const tracks = await page.evaluate(() => window.edgepack.state.player.subtitleTracks.map((t) => [t.name, t.lang]));
        assert.deepEqual(tracks, [['English', 'en'], ['French', 'fr']]);
        const cue = await page.evaluate(async () => {
          const hls = window.edgepack.state.player;
          const v = window.edgepack.video;
          hls.subtitleDisplay = true;
          hls.subtitleTrack = 0;
          v.currentTime = 5.5;
          const deadline = Date.now() + 20_000;
          while (Date.now() < deadline) {
            for (const tt of v.textTracks) {
              const c = [...(tt.cues || [])].find((x) => x.text.includes('spans the 6 s'));
              if (c) return { label: tt.label, start: c.startTime, end: c.endTime };
            }
            await new Promise((r) => setTimeout(r, 200));
          }
          return { tracks: [...v.textTracks].map((t) => `${t.label}:${t.mode}:${t.cues?.length}`) };
        });
        assert.ok(cue.start !== undefined, `no cue found: ${JSON.stringify(cue)}`);
        assert.equal(cue.label, 'English');
        assert.ok(Math.abs(cue.start - 5) < 0.01 && Math.abs(cue.end - 7.5) < 0.01, JSON.stringify(cue));
        await P.assertNoPlayerErrors(page, 'hls.js with MP4 text tracks');
      } finally {
        await page.closeAll();
      }
    }
  });

  test('Shaka lists the DASH text tracks of the MP4 and shows the cue at 13.25 s', { skip: browserSkip || false }, async () => {
    const browser = await sharedBrowser();
    const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
    try {
      await P.load(page, { player: 'shaka', path: `${MP4}/manifest(format=mpd-time-cmaf).mpd` });
      const tracks = await page.evaluate(() => window.edgepack.state.player.getTextTracks().map((t) => [t.language, t.roles.join(',')]));
      assert.deepEqual(tracks, [['en', 'subtitle'], ['fr', 'subtitle']]);
      const cue = await P.shakaCue(page, { at: 13.5, text: 'Third cue' });
      assert.ok(cue.start !== undefined, `no cue found: ${JSON.stringify(cue)}`);
      assert.ok(Math.abs(cue.start - 13.25) < 0.01 && Math.abs(cue.end - 15.75) < 0.01, JSON.stringify(cue));
      await P.assertNoPlayerErrors(page, 'Shaka with MP4 text tracks');
    } finally {
      await page.closeAll();
    }
  });

  test('dash.js lists the DASH text tracks of the MP4 and shows the cue at 13.25 s', { skip: browserSkip || false }, async () => {
    const browser = await sharedBrowser();
    const page = await P.openPlayerPage(browser, `${origin.url}/_player/index.html?edge=${encodeURIComponent(E)}`);
    try {
      await P.load(page, { player: 'dash.js', path: `${MP4}/manifest(format=mpd-time-cmaf).mpd` });
      const tracks = await page.evaluate(() => window.edgepack.state.player.getTracksFor('text').map((t) => [t.lang, (t.roles || []).join(',')]));
      assert.deepEqual(tracks, [['en', 'subtitle'], ['fr', 'subtitle']]);
      const cue = await P.dashjsCue(page, { at: 13.5, text: 'Third cue' });
      assert.ok(cue.start !== undefined, `no cue found: ${JSON.stringify(cue)}`);
      assert.ok(Math.abs(cue.start - 13.25) < 0.01 && Math.abs(cue.end - 15.75) < 0.01, JSON.stringify(cue));
      await P.assertNoPlayerErrors(page, 'dash.js with MP4 text tracks');
    } finally {
      await page.closeAll();
    }
  });
});
