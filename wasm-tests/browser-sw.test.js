// browser/sw.js in headless Chromium: the service worker packages from the
// bucket with the web build (target/browser-web), and hls.js on the page
// plays the ABR ladder through it with no packaging server at all.
//
// The origin serves a temporary root: app/ holds sw.js, edgepack-browser.js,
// pkg/ (the web glue) and a blank page; media/ is fixtures/media, the bucket.
// Build first (scripts/test.sh does): see browser.test.js, plus
//   wasm-bindgen --target web --out-dir target/browser-web target/wasm32-unknown-unknown/release/edgepack.wasm
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { REPO_ROOT } = require('./lib/process');
const { MEDIA, startOrigin } = require('./lib/origin');

const WEB_GLUE = path.join(REPO_ROOT, 'target', 'browser-web');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function skipReason() {
  let reason = null;
  if (!fs.existsSync(path.join(WEB_GLUE, 'edgepack.js'))) reason = `${path.relative(REPO_ROOT, WEB_GLUE)} is not built`;
  else if (!fs.existsSync(CHROMIUM)) reason = `${CHROMIUM} does not exist`;
  if (reason && process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  return reason || false;
}

/** A root for the origin: app/ (the worker and its modules) and media/ (the bucket). */
function makeRoot() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-sw-'));
  const app = path.join(root, 'app');
  fs.mkdirSync(app);
  fs.symlinkSync(MEDIA, path.join(root, 'media'));
  fs.symlinkSync(path.join(REPO_ROOT, 'browser', 'sw.js'), path.join(app, 'sw.js'));
  fs.symlinkSync(path.join(REPO_ROOT, 'browser', 'edgepack-browser.js'), path.join(app, 'edgepack-browser.js'));
  fs.symlinkSync(WEB_GLUE, path.join(app, 'pkg'));
  fs.writeFileSync(path.join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><title>edgepack sw</title>\n');
  return root;
}

describe('service worker (browser/sw.js) in Chromium', { skip: skipReason() }, () => {
  let root;
  let origin;
  let browser;
  let page;

  before(async () => {
    root = makeRoot();
    origin = await startOrigin({ root });
    const { chromium } = require('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'],
    });
    page = await (await browser.newContext()).newPage();
    await page.goto(`${origin.url}/app/index.html`);
    await page.evaluate(async (bucket) => {
      await navigator.serviceWorker.register(`sw.js?bucket=${encodeURIComponent(bucket)}`, { type: 'module', scope: './' });
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) {
        await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
      }
    }, `${origin.url}/media`);
  });
  after(async () => {
    await browser?.close();
    await origin?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  test('packaged answers: manifest, segment, 404, and pass-through of other URLs', async () => {
    const out = await page.evaluate(async () => {
      const results = [];
      for (const p of [
        'abr/abr.ism/manifest(format=m3u8-cmaf)',
        'abr/abr.ism/QualityLevels(1000000)/Fragments(video=0,format=m3u8-cmaf).m4s',
        'abr/abr.ism/manifest(format=mpd-time-cmaf)',
        'nope/x.mp4/master.m3u8',
        'index.html',
      ]) {
        const r = await fetch(p);
        const body = new Uint8Array(await r.arrayBuffer());
        results.push({
          status: r.status,
          type: r.headers.get('content-type'),
          cache: r.headers.get('cache-control'),
          head: new TextDecoder().decode(body.slice(0, 12)),
          boxes: body.length > 16 ? new TextDecoder().decode(body.slice(4, 8)) : '',
        });
      }
      return results;
    });
    const [hls, seg, mpd, missing, plain] = out;
    assert.deepEqual([hls.status, hls.type, hls.head.slice(0, 7)], [200, 'application/vnd.apple.mpegurl', '#EXTM3U']);
    assert.deepEqual([seg.status, seg.type, seg.boxes], [200, 'video/mp4', 'styp']);
    assert.match(seg.cache, /immutable/);
    assert.deepEqual([mpd.status, mpd.type], [200, 'application/dash+xml']);
    assert.deepEqual([missing.status, missing.cache], [404, 'no-store']);
    assert.equal(plain.status, 200);
    const reads = (await origin.requests()).filter((r) => r.path.startsWith('/media/'));
    assert.ok(reads.length > 0 && reads.every((r) => r.status === 404 || r.status === 206), JSON.stringify(reads));
  });

  test('hls.js plays the ABR ladder through the worker', async () => {
    await page.addScriptTag({ url: `${origin.url}/_assets/hls.min.js` });
    const res = await page.evaluate(async () => {
      const v = document.createElement('video');
      v.muted = true;
      document.body.appendChild(v);
      const hls = new Hls();
      const errors = [];
      hls.on(Hls.Events.ERROR, (_, d) => errors.push(`${d.type}/${d.details}`));
      hls.loadSource('abr/abr.ism/manifest(format=m3u8-cmaf)');
      hls.attachMedia(v);
      await v.play().catch((e) => errors.push(String(e)));
      const t0 = performance.now();
      while (v.currentTime < 4 && performance.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 200));
      const out = { currentTime: v.currentTime, levels: hls.levels.length, width: v.videoWidth, errors };
      hls.destroy();
      return out;
    });
    assert.ok(res.currentTime >= 4, JSON.stringify(res));
    assert.equal(res.levels, 3, JSON.stringify(res));
    assert.deepEqual(res.errors.filter((e) => !e.startsWith('mediaError/bufferStalledError')), []);
  });
});
