// Headless Chromium (Debian's /usr/bin/chromium) through playwright-core; never
// a downloaded browser.
//
//   const browser = await launchBrowser();
//   const page = await browser.newPage();    // own context: no shared cache
//   ...
//   await browser.close();
//
// Playwright's launch() always runs Chromium with a fresh temporary
// --user-data-dir of its own (and refuses one in args), which is the
// isolation wanted here.
'use strict';

const fs = require('node:fs');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
  // Muted autoplay is allowed anyway; this also lets audio-only assets start.
  '--autoplay-policy=no-user-gesture-required',
  // Several pages play at once: none of them may be throttled as "hidden".
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Why the browser cannot run here, or null. */
function browserSkipReason() {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} does not exist (apt-get install chromium)`;
  try {
    require.resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm ci)';
  }
  return null;
}

async function launchBrowser() {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  return {
    browser,
    version: browser.version(),
    /**
     * A page in its own context. Console errors and page errors are
     * collected in page.problems (strings), for test diagnostics.
     */
    async newPage({ viewport = { width: 1280, height: 800 } } = {}) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      page.problems = [];
      page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        // "Failed to load resource" has no URL; the response handler below says which.
        if (msg.type() === 'error' && !/^Failed to load resource/.test(msg.text())) page.problems.push(`console: ${msg.text()}`);
      });
      page.on('response', (res) => {
        if (res.status() >= 400 && !res.url().endsWith('/favicon.ico')) page.problems.push(`HTTP ${res.status()} ${res.url()}`);
      });
      page.on('requestfailed', (req) => {
        // Players abort requests on purpose (seek, switch); report the rest.
        const failure = req.failure()?.errorText ?? '';
        if (!/ERR_ABORTED/.test(failure)) page.problems.push(`request failed: ${req.url()} ${failure}`);
      });
      page.closeAll = () => context.close();
      return page;
    },
    close: () => browser.close(),
  };
}

module.exports = { CHROMIUM, browserSkipReason, launchBrowser };
