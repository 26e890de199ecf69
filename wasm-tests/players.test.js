// Real players play what the edge serves: hls.js, dash.js and Shaka Player in
// headless Chromium, each on every output format it understands.
//
// The origin (origin/server.js) serves the media and the player page; the
// edge (the release wasm under Viceroy) packages. The page is loaded from the
// origin, a different origin than the edge, so every request the players make
// is a cross-origin one and CORS is exercised as on a real site.
//
// Per player x format on the ABR ladder: playback runs >= 10 s of media with no
// player error; each rendition is forced in turn and decodes at its size; a
// seek to the middle resumes within a segment of the target; the audio tracks
// the player lists are the manifest's. The muxed moov-at-end file, the two
// language sets and the audio-only file are checked more briefly.
//
// Formats the edge does not serve yet (it answers 501) are skipped with the
// reason logged, so they are tested as soon as they land.
//
//   node --test wasm-tests/players.test.js
//   EDGEPACK_PLAYER_CONCURRENCY=1 ...     one page at a time (default 3)
//   EDGEPACK_EDGE_URL=http://127.0.0.1:7676 ...   use a running edge (scripts/run.sh)
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { REPO_ROOT } = require('./lib/process');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { browserSkipReason, launchBrowser } = require('./lib/browser');
const { primaryLanguage } = require('./lib/manifest');
const P = require('./lib/players');

const CONCURRENCY = Number(process.env.EDGEPACK_PLAYER_CONCURRENCY) || 3;
const SCREENSHOT = path.join(REPO_ROOT, 'out', 'player.png');

// The formats each player understands (Smooth in dash.js via dash.mss).
const PLAYER_FORMATS = {
  'hls.js': ['hls-cmaf', 'hls-ts'],
  'dash.js': ['dash-cmaf', 'dash-csf', 'smooth'],
  shaka: ['hls-cmaf', 'dash-cmaf', 'dash-csf', 'hls-ts', 'smooth'],
};
const PAIRS = Object.entries(PLAYER_FORMATS).flatMap(([player, formats]) => formats.map((format) => ({ player, format })));

// What the fixtures hold (fixtures/generate.sh), independent of any manifest.
const ABR_HEIGHTS = [240, 360, 720];
const MULTILANG = ['en', 'fr'];

/** Azure-style path, or the nginx-vod alias where the contract names one. */
function manifestPath(base, format, { aliases = false } = {}) {
  if (aliases && format === 'hls-cmaf') return `${base}/master.m3u8`;
  if (aliases && format === 'dash-cmaf') return `${base}/manifest.mpd`;
  return `${base}/${P.PROTOCOLS[format].resource}`;
}

function skipReason() {
  const reason = edgeSkipReason() || browserSkipReason();
  if (reason && process.env.CI === 'true') throw new Error(`CI=true: ${reason}`);
  return reason;
}

const SKIP = skipReason();
if (SKIP) process.stderr.write(`players.test.js: skipped: ${SKIP}\n`);

describe('players', { skip: SKIP || false, concurrency: CONCURRENCY }, () => {
  let origin;
  let edge;
  let browser;
  let pageUrl;

  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url });
    browser = await launchBrowser();
    // Loaded from the origin: the edge is another origin (another port).
    pageUrl = `${origin.url}/_player/index.html?edge=${encodeURIComponent(edge.url)}`;
  });
  after(async () => {
    await browser?.close();
    await edge?.stop();
    await origin?.stop();
  });

  /**
   * Fetches the manifest for a case; returns it, or skips the test when the
   * edge does not implement the format yet (501). Anything but 200 fails.
   */
  async function manifestOrSkip(t, manifestPathname, format) {
    const m = await P.fetchManifest(edge.url, manifestPathname, P.PROTOCOLS[format].kind);
    if (m.status === 501) {
      t.skip(`the edge answers 501 for ${manifestPathname}: ${P.PROTOCOLS[format].label} not implemented yet`);
      return null;
    }
    assert.equal(m.status, 200, `GET ${manifestPathname}: ${m.status} ${m.text.slice(0, 200)}`);
    assert.ok(m.cors, `GET ${manifestPathname}: no Access-Control-Allow-Origin`);
    assert.equal(m.contentType, P.PROTOCOLS[format].contentType, `GET ${manifestPathname}: Content-Type`);
    return m;
  }

  /**
   * Runs `steps` (name -> async fn(page)) as subtests on one page; after the
   * first failure the rest are skipped, since they would only repeat it.
   */
  async function runSteps(t, cfg, steps) {
    const page = await P.openPlayerPage(browser, pageUrl);
    let failed = null;
    try {
      for (const [name, fn] of steps) {
        await t.test(name, async (st) => {
          if (failed) return st.skip(`after "${failed}" failed`);
          try {
            await fn(page);
            const benign = await P.assertNoPlayerErrors(page, name);
            if (benign.length) st.diagnostic(`player warnings: ${benign.join('; ')}`);
          } catch (err) {
            failed = name;
            throw err;
          }
        });
      }
    } finally {
      if (page.problems.length) t.diagnostic(`page: ${page.problems.slice(0, 8).join(' | ')}`);
      await page.closeAll();
    }
    if (failed) assert.fail(`${cfg.player} on ${cfg.path}: "${failed}" failed`);
  }

  // --- the ABR ladder: everything, per player x format ------------------------
  for (const { player, format } of PAIRS) {
    const label = P.PROTOCOLS[format].label;
    test(`${player} · ${label} · abr.ism: plays, every rendition, seek, audio`, async (t) => {
      const mpath = manifestPath('/abr/abr.ism', format);
      const m = await manifestOrSkip(t, mpath, format);
      if (!m) return;
      const cfg = { player, path: mpath };
      const heights = m.summary.video.map((v) => v.height).sort((a, b) => a - b);
      const langs = m.summary.audio.map((a) => primaryLanguage(a.lang)).sort();
      let renditions = [];
      let duration = 30;
      await runSteps(t, cfg, [
        [`loads ${mpath}`, (page) => P.load(page, cfg)],
        ['plays ≥ 10 s of media', async (page) => {
          const end = await P.checkPlays(page, { seconds: 10 });
          duration = end.duration;
        }],
        [`lists the ${ABR_HEIGHTS.length} renditions of the manifest (${ABR_HEIGHTS.join('/')}p)`, async (page) => {
          assert.deepEqual(heights, ABR_HEIGHTS, `manifest video heights (${mpath})`);
          renditions = await page.evaluate(() => window.edgepack.renditions());
          assert.deepEqual(renditions.map((r) => r.height).sort((a, b) => a - b), heights, `${player} renditions: ${JSON.stringify(renditions)}`);
        }],
        ...ABR_HEIGHTS.map((h) => [`forced ${h}p rendition is active and decodes`, async (page) => {
          const r = renditions.find((x) => x.height === h);
          assert.ok(r, `${player} lists no ${h}p rendition`);
          await P.checkRendition(page, r);
        }]),
        ['seek to the middle resumes within 6 s of it', (page) => P.checkSeek(page, duration / 2)],
        [`audio tracks are the manifest's (${langs.join(', ') || 'none'})`, async (page) => {
          assert.deepEqual(langs, ['en'], `manifest audio languages (${mpath})`);
          assert.deepEqual(P.languages(await P.audioTracks(page)), langs);
        }],
      ]);
    });
  }

  // --- one muxed file, moov after mdat -----------------------------------------
  for (const { player, format } of PAIRS) {
    const label = P.PROTOCOLS[format].label;
    test(`${player} · ${label} · muxed_moov_end.mp4: plays and seeks`, async (t) => {
      const mpath = manifestPath('/muxed_moov_end.mp4', format, { aliases: true });
      const m = await manifestOrSkip(t, mpath, format);
      if (!m) return;
      const cfg = { player, path: mpath };
      const langs = m.summary.audio.map((a) => primaryLanguage(a.lang)).sort();
      let duration = 30;
      await runSteps(t, cfg, [
        [`loads ${mpath}`, (page) => P.load(page, cfg)],
        ['plays ≥ 10 s of media', async (page) => {
          duration = (await P.checkPlays(page, { seconds: 10 })).duration;
        }],
        ['seek to the middle resumes within 6 s of it', (page) => P.checkSeek(page, duration / 2)],
        [`audio tracks are the manifest's (${langs.join(', ') || 'none'})`, async (page) => {
          assert.equal(langs.length, 1, `manifest lists ${langs.length} audio tracks`);
          assert.deepEqual(P.languages(await P.audioTracks(page)), langs);
        }],
      ]);
    });
  }

  // --- two audio languages: in one .mp4, and as separate files in an .ism -----
  for (const [asset, base] of [['multilang.mp4', '/multilang.mp4'], ['multilang.ism', '/multilang/multilang.ism']]) {
    for (const { player, format } of PAIRS) {
      const label = P.PROTOCOLS[format].label;
      test(`${player} · ${label} · ${asset}: lists eng + fra, switches to fra`, async (t) => {
        const mpath = manifestPath(base, format);
        const m = await manifestOrSkip(t, mpath, format);
        if (!m) return;
        const cfg = { player, path: mpath };
        await runSteps(t, cfg, [
          [`loads ${mpath}`, (page) => P.load(page, cfg)],
          ['plays ≥ 3 s of media', (page) => P.checkPlays(page, { seconds: 3 })],
          ['audio tracks are the manifest\'s: en, fr', async (page) => {
            assert.deepEqual(m.summary.audio.map((a) => primaryLanguage(a.lang)).sort(), MULTILANG, `manifest audio languages (${mpath})`);
            assert.deepEqual(P.languages(await P.audioTracks(page)), MULTILANG);
          }],
          ['switching to fra keeps playing', (page) => P.checkAudioSwitch(page, 'fra', { seconds: 2 })],
          ['switching back to eng keeps playing', (page) => P.checkAudioSwitch(page, 'eng', { seconds: 2 })],
        ]);
      });
    }
  }

  // --- audio only ----------------------------------------------------------------
  for (const [player, format] of [['hls.js', 'hls-cmaf'], ['dash.js', 'dash-cmaf'], ['shaka', 'hls-cmaf'], ['shaka', 'dash-cmaf']]) {
    const label = P.PROTOCOLS[format].label;
    test(`${player} · ${label} · audio_only.mp4: plays`, async (t) => {
      const mpath = manifestPath('/audio_only.mp4', format, { aliases: true });
      const m = await manifestOrSkip(t, mpath, format);
      if (!m) return;
      const cfg = { player, path: mpath };
      await runSteps(t, cfg, [
        [`loads ${mpath}`, (page) => P.load(page, cfg)],
        ['plays ≥ 5 s of audio', (page) => P.checkPlays(page, { seconds: 5, video: false })],
      ]);
    });
  }

  // --- the player page as people open it: /player on the edge ------------------
  test('edge /player page plays the ABR ladder (screenshot: out/player.png)', async () => {
    const page = await browser.newPage();
    try {
      const scripts = [];
      page.on('request', (req) => {
        // blob: scripts are workers the players build themselves.
        if (req.resourceType() === 'script' && !req.url().startsWith('blob:')) scripts.push(req.url());
      });
      // No ?edge=: the page defaults to its own origin, the edge.
      const url = `${edge.url}/player?asset=abr&protocol=hls-cmaf&player=hls.js&autoplay=1&muted=1`;
      const res = await page.goto(url, { waitUntil: 'load' });
      assert.equal(res.status(), 200, `GET /player: ${res.status()}`);
      assert.match(res.headers()['content-type'] || '', /^text\/html/, 'GET /player: Content-Type');
      await page.waitForFunction(() => !!window.edgepack, null, { timeout: 10_000 });
      await page.evaluate(() => {
        window.edgepack.video.playbackRate = 2;
      });
      await P.waitFor(page, 'the page plays past 2 s with a decoded frame', () => {
        const s = window.edgepack.stats();
        return s.currentTime > 2 && s.videoWidth > 0 && s.totalVideoFrames > 24;
      }, null, 30_000);
      assert.deepEqual(scripts.filter((s) => !s.startsWith(`${edge.url}/player/assets/`)), [], 'scripts not from /player/assets/');
      assert.ok(scripts.some((s) => s.endsWith('/player/assets/hls.min.js')), `hls.js loaded via the edge: ${scripts}`);
      // The frame the video shows is a picture, not a flat colour.
      const spread = await page.evaluate(() => {
        const v = window.edgepack.video;
        const c = document.createElement('canvas');
        c.width = 64;
        c.height = 36;
        const g = c.getContext('2d');
        g.drawImage(v, 0, 0, c.width, c.height);
        const px = g.getImageData(0, 0, c.width, c.height).data;
        let sum = 0;
        let sq = 0;
        const n = px.length / 4;
        for (let i = 0; i < px.length; i += 4) {
          const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
          sum += y;
          sq += y * y;
        }
        return Math.sqrt(sq / n - (sum / n) ** 2);
      });
      assert.ok(spread > 10, `video frame looks blank (luma standard deviation ${spread.toFixed(1)})`);
      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      const png = await page.screenshot({ path: SCREENSHOT });
      assert.ok(png.length > 20_000, `screenshot is only ${png.length} bytes`);
      await P.assertNoPlayerErrors(page, '/player');
    } finally {
      await page.closeAll();
    }
  });
});
