// Drives origin/player/index.html (window.edgepack) in a Playwright page: load
// a manifest with a player, then check playback, renditions, seeking and audio
// tracks the way a viewer would notice them. Used by players.test.js.
'use strict';

const assert = require('node:assert/strict');
const { primaryLanguage, summarize } = require('./manifest');

// What the player page calls each protocol, and how the edge names it.
const PROTOCOLS = {
  'hls-cmaf': { label: 'HLS fMP4', resource: 'manifest(format=m3u8-cmaf)', kind: 'hls', contentType: 'application/vnd.apple.mpegurl' },
  'dash-cmaf': { label: 'DASH CMAF', resource: 'manifest(format=mpd-time-cmaf)', kind: 'dash', contentType: 'application/dash+xml' },
  'dash-csf': { label: 'DASH CSF', resource: 'manifest(format=mpd-time-csf)', kind: 'dash', contentType: 'application/dash+xml' },
  'hls-ts': { label: 'HLS TS', resource: 'manifest(format=m3u8-aapl)', kind: 'hls', contentType: 'application/vnd.apple.mpegurl' },
  smooth: { label: 'Smooth', resource: 'manifest', kind: 'smooth', contentType: 'application/vnd.ms-sstr+xml' },
};

// Player warnings that describe the playback machinery catching up on a busy
// machine, or a player cancelling its own request (hls.js reports loads it
// aborts on a track switch), not a fault in what the edge served. They are
// logged as test diagnostics; anything else fails a test. hls.js (1.7)
// reports a first `bufferAppendNoProgress` when a quick audio switch back
// re-appends a fragment whose range the flush of the previous switch had not
// yet emptied (seen once in CI under load, playback went on); it retries
// itself and escalates the repeats, so only the first one, "(1)", is benign.
const BENIGN = [
  /bufferStalledError/,
  /bufferNudgeOnStall/,
  /bufferSeekOverHole/,
  /\[hls\.js\] networkError\/aborted:/,
  /\[hls\.js\] mediaError\/bufferAppendNoProgress: Fragment append did not increase buffered coverage \(1\)/,
];

/** GETs a manifest from the edge: { status, contentType, cors, text, summary }. */
async function fetchManifest(edgeUrl, manifestPath, kind) {
  const res = await fetch(edgeUrl + manifestPath, { headers: { Origin: 'http://player.example' } });
  const text = await res.text();
  const out = {
    status: res.status,
    contentType: (res.headers.get('content-type') || '').split(';')[0].trim().toLowerCase(),
    cors: res.headers.get('access-control-allow-origin'),
    text,
    summary: null,
  };
  if (res.status === 200) out.summary = summarize(text, kind);
  return out;
}

/** Opens the player page and waits for its test interface. */
async function openPlayerPage(browser, pageUrl) {
  const page = await browser.newPage();
  await page.goto(pageUrl, { waitUntil: 'load' });
  await page.waitForFunction(() => !!window.edgepack, null, { timeout: 10_000 });
  return page;
}

/** The page's stats and player errors, for failure messages. */
async function snapshot(page) {
  return page.evaluate(() => ({
    stats: window.edgepack.stats(),
    errors: window.edgepack.state.errors.map((e) => `${e.fatal ? 'FATAL' : 'warn'} [${e.source}] ${e.message}`),
    events: window.edgepack.state.events.slice(-15).map((e) => `${e.time.toFixed(2)} ${e.type}${e.detail ? `: ${e.detail}` : ''}`),
  }));
}

function describeSnapshot(s, page) {
  const st = s.stats;
  return [
    `  time ${st.currentTime.toFixed(2)}/${st.duration}, paused ${st.paused}, readyState ${st.readyState}, rate ${st.playbackRate}`,
    `  decoded ${st.videoWidth}x${st.videoHeight}, frames ${st.totalVideoFrames} (${st.droppedVideoFrames} dropped), buffered ${st.buffered}`,
    `  player says active: ${JSON.stringify(st.active)}${st.mediaError ? `, media error ${st.mediaError}` : ''}`,
    `  player errors: ${s.errors.length ? '\n    ' + s.errors.join('\n    ') : 'none'}`,
    `  recent events:\n    ${s.events.join('\n    ')}`,
    page.problems.length ? `  page: \n    ${page.problems.slice(-10).join('\n    ')}` : '',
  ].join('\n');
}

/**
 * Waits until `fn(arg)` is truthy in the page. Fails early when the player
 * reports a fatal error, and on timeout with what the page looked like.
 */
async function waitFor(page, what, fn, arg, timeoutMs = 30_000) {
  const wrapped = `(() => {
    const arg = ${JSON.stringify(arg ?? null)};
    if (window.edgepack.state.errors.some((e) => e.fatal)) return 'fatal';
    return (${fn.toString()})(arg) ? 'ok' : false;
  })()`;
  let outcome;
  try {
    const handle = await page.waitForFunction(wrapped, null, { timeout: timeoutMs, polling: 100 });
    outcome = await handle.jsonValue();
  } catch (err) {
    if (!/Timeout/i.test(err.message)) throw err;
    outcome = 'timeout';
  }
  if (outcome === 'ok') return;
  const s = await snapshot(page);
  const why = outcome === 'fatal' ? 'the player reported a fatal error' : `not within ${timeoutMs / 1000} s`;
  assert.fail(`${what}: ${why}\n${describeSnapshot(s, page)}`);
}

/** Fails on player errors other than BENIGN ones; returns the benign ones. */
async function assertNoPlayerErrors(page, what) {
  const s = await snapshot(page);
  const all = s.errors;
  const bad = all.filter((e) => e.startsWith('FATAL') || !BENIGN.some((re) => re.test(e)));
  if (bad.length) assert.fail(`${what}: player errors\n${describeSnapshot(s, page)}`);
  return all;
}

/** Loads cfg in the page (muted, not yet playing); fails after timeoutMs. */
async function load(page, cfg, { timeoutMs = 30_000 } = {}) {
  const result = await page.evaluate(async ({ c, ms }) => {
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`not loaded within ${ms / 1000} s`)), ms));
    try {
      await Promise.race([window.edgepack.load(c), timeout]);
      return null;
    } catch (err) {
      return String(err && err.message ? err.message : err);
    }
  }, { c: { muted: true, ...cfg }, ms: timeoutMs });
  if (result !== null) {
    const s = await snapshot(page);
    assert.fail(`loading ${cfg.path || `${cfg.asset} ${cfg.protocol}`} with ${cfg.player} failed: ${result}\n${describeSnapshot(s, page)}`);
  }
}

/** Starts playback at `rate` (muted, so autoplay rules allow it). */
async function play(page, rate = 2) {
  await page.evaluate(async (r) => {
    const v = window.edgepack.video;
    v.muted = true;
    v.playbackRate = r;
    await window.edgepack.play();
  }, rate);
}

/** Plays until `seconds` of media have played; checks frames decode when there is video. */
async function checkPlays(page, { seconds = 10, video = true, timeoutMs = 45_000 } = {}) {
  const start = await page.evaluate(() => window.edgepack.stats());
  await play(page);
  await waitFor(page, `play ${seconds} s of media`, (a) => {
    const s = window.edgepack.stats();
    return s.currentTime >= a.target;
  }, { target: start.currentTime + seconds }, timeoutMs);
  const end = await page.evaluate(() => window.edgepack.stats());
  if (video) {
    assert.ok(end.videoWidth > 0 && end.videoHeight > 0, `no video frame size after playing (${end.videoWidth}x${end.videoHeight})`);
    // At 24 fps, 10 s is 240 frames; allow for dropped frames on a loaded machine.
    const frames = end.totalVideoFrames - start.totalVideoFrames;
    assert.ok(frames >= seconds * 24 * 0.5, `only ${frames} frames decoded in ${seconds} s of media`);
  }
  return end;
}

/**
 * Forces each rendition the player lists, in bitrate order: the player must
 * report it active, the decoder must output its size, and frames must keep
 * coming. Rewinds when too close to the end to see that.
 */
async function checkRendition(page, rendition, { timeoutMs = 30_000 } = {}) {
  await page.evaluate(() => {
    const v = window.edgepack.video;
    if (Number.isFinite(v.duration) && v.currentTime > v.duration - 10) v.currentTime = 1;
  });
  await page.evaluate((id) => window.edgepack.select(id), rendition.id);
  const what = `switch to ${rendition.width}x${rendition.height} (id ${rendition.id})`;
  const switched = (r) => {
    const s = window.edgepack.stats();
    return s.active && s.active.height === r.height && s.videoHeight === r.height && !s.paused;
  };
  // At a fast rate a 30 s title can end while the old rendition is still
  // buffered ahead (Shaka keeps what it has past the playhead), so the
  // switch is never displayed: that is the title ending, not a failed
  // switch. Then play it again from the start, once, with the rendition
  // still forced; a switch that does not happen fails the second wait.
  try {
    await waitFor(page, what, switched, rendition, timeoutMs);
  } catch (err) {
    const atEnd = await page.evaluate(() => {
      const v = window.edgepack.video;
      return v.ended || (Number.isFinite(v.duration) && v.currentTime > v.duration - 1);
    });
    if (!atEnd) throw err;
    await page.evaluate(async () => {
      const v = window.edgepack.video;
      v.currentTime = 1;
      await window.edgepack.play();
    });
    await waitFor(page, `${what}, replayed from the start after the title ended`, switched, rendition, timeoutMs);
  }
  const at = await page.evaluate(() => window.edgepack.stats());
  await waitFor(page, `decode ${rendition.height}p frames after the switch`, (a) => {
    const s = window.edgepack.stats();
    return s.totalVideoFrames >= a.frames + 24 && s.currentTime >= a.time + 0.5 && s.videoHeight === a.height;
  }, { frames: at.totalVideoFrames, time: at.currentTime, height: rendition.height }, timeoutMs);
}

/**
 * Seeks to `target` and checks playback resumes within `tolerance` seconds of
 * it (one segment) and moves on from there.
 */
async function checkSeek(page, target, { tolerance = 6, timeoutMs = 30_000 } = {}) {
  await page.evaluate((t) => {
    const ep = window.edgepack;
    ep.select(null); // back to ABR
    ep.seekResult = null;
    ep.video.addEventListener('seeked', () => {
      ep.seekResult = { time: ep.video.currentTime, frames: ep.stats().totalVideoFrames };
    }, { once: true });
    ep.video.currentTime = t;
    if (ep.video.paused) ep.play().catch(() => {});
  }, target);
  await waitFor(page, `seek to ${target.toFixed(1)} s completes`, () => !!window.edgepack.seekResult && !window.edgepack.video.seeking, null, timeoutMs);
  const landed = await page.evaluate(() => window.edgepack.seekResult);
  assert.ok(Math.abs(landed.time - target) <= tolerance, `seek to ${target.toFixed(2)} s landed at ${landed.time.toFixed(2)} s (more than ${tolerance} s away)`);
  await waitFor(page, `play on from ${landed.time.toFixed(1)} s after the seek`, (a) => {
    const s = window.edgepack.stats();
    return !s.paused && s.currentTime >= a.time + 1;
  }, landed, timeoutMs);
  const after = await page.evaluate(() => window.edgepack.stats());
  assert.ok(Math.abs(after.currentTime - target) <= tolerance + 4, `after the seek playback is at ${after.currentTime.toFixed(2)} s, target ${target.toFixed(2)} s`);
  return landed;
}

/** The audio tracks the player lists: [{ id, lang, label, active }]. */
async function audioTracks(page) {
  return page.evaluate(() => window.edgepack.audioTracks());
}

/** Sorted primary languages of a track list ('eng', 'en-GB' -> 'en'). */
function languages(tracks) {
  return tracks.map((t) => primaryLanguage(t.lang)).sort();
}

/**
 * Selects the audio track with language `lang` and checks the player reports
 * it active and playback goes on for `seconds` without errors.
 */
async function checkAudioSwitch(page, lang, { seconds = 2, timeoutMs = 30_000 } = {}) {
  const tracks = await audioTracks(page);
  const track = tracks.find((t) => primaryLanguage(t.lang) === primaryLanguage(lang));
  assert.ok(track, `no ${lang} track among ${JSON.stringify(tracks)}`);
  const before = await page.evaluate(() => window.edgepack.stats());
  await page.evaluate((id) => window.edgepack.selectAudio(id), track.id);
  await waitFor(page, `audio track ${lang} becomes active`, (id) => {
    const t = window.edgepack.audioTracks().find((x) => String(x.id) === String(id));
    return t && t.active;
  }, track.id, timeoutMs);
  await waitFor(page, `play ${seconds} s after switching audio to ${lang}`, (a) => {
    const s = window.edgepack.stats();
    return !s.paused && s.currentTime >= a.time + a.seconds;
  }, { time: before.currentTime, seconds }, timeoutMs);
}

/**
 * Shaka: seeks to `at`, lets the player settle, then shows its first text
 * track and waits (up to 25 s) for a cue whose text includes `text`.
 * Returns `{ start, end, text }` of that cue, or `{ tracks }` describing
 * what the video element holds when none came.
 *
 * Seek first, then pick the track: Shaka 4.16 whose text stream is switched
 * on and then seeked at once may stop streaming text after one segment
 * (seen in about half the runs); a viewer picks subtitles on a settled
 * player.
 */
async function shakaCue(page, { at, text }) {
  return page.evaluate(async ({ at, text }) => {
    const player = window.edgepack.state.player;
    const v = window.edgepack.video;
    v.currentTime = at;
    await new Promise((r) => setTimeout(r, 1500));
    player.selectTextTrack(player.getTextTracks()[0]);
    player.setTextTrackVisibility(true);
    v.muted = true;
    v.play().catch(() => {});
    const deadline = Date.now() + 25_000;
    while (Date.now() < deadline) {
      for (const tt of v.textTracks) {
        const c = [...(tt.cues || [])].find((x) => x.text.includes(text));
        if (c) return { start: c.startTime, end: c.endTime, text: c.text };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return { tracks: [...v.textTracks].map((t) => `${t.label}:${t.mode}:${t.cues?.length}`) };
  }, { at, text });
}

/**
 * dash.js 4: shows text track `track` (in `getTracksFor('text')` order),
 * seeks to `at` and waits (up to 25 s) for a cue whose text includes
 * `text` in the video element's text tracks, where dash.js puts the cues
 * it parses (WebVTT in fMP4 and IMSC1 in fMP4 alike; IMSC1 needs the page's
 * TTML rendering div). Same answer shape as `shakaCue`.
 */
async function dashjsCue(page, { at, text, track = 0 }) {
  return page.evaluate(async ({ at, text, track }) => {
    const player = window.edgepack.state.player;
    const v = window.edgepack.video;
    player.enableText(true);
    player.setTextTrack(track);
    v.currentTime = at;
    v.muted = true;
    v.play().catch(() => {});
    const deadline = Date.now() + 25_000;
    while (Date.now() < deadline) {
      for (const tt of v.textTracks) {
        // IMSC1 cues carry no text: their words are in the intermediate
        // synchronic document (`isd`) dash.js renders into its TTML div.
        const c = [...(tt.cues || [])].find((x) => x.text.includes(text) || (x.isd && JSON.stringify(x.isd).includes(text)));
        if (c) return { start: c.startTime, end: c.endTime, text: c.text };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return { tracks: [...v.textTracks].map((t) => `${t.label}:${t.mode}:${t.cues?.length}`) };
  }, { at, text, track });
}

module.exports = {
  PROTOCOLS,
  assertNoPlayerErrors,
  audioTracks,
  checkAudioSwitch,
  checkPlays,
  checkRendition,
  checkSeek,
  dashjsCue,
  fetchManifest,
  languages,
  load,
  openPlayerPage,
  play,
  shakaCue,
  snapshot,
  waitFor,
};
