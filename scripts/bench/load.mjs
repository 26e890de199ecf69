#!/usr/bin/env node
// Load test of the release wasm under Viceroy (issue 12, item 5): N
// concurrent keep-alive clients for a fixed time on a mix of manifests, init
// and media segments of several titles, every body checked against a
// reference, with Viceroy's and the origin's memory sampled every second.
// Prints a Markdown table (figures in BENCHMARKS.md, "Load (Viceroy)").
//
//   node scripts/bench/load.mjs                      the four standard runs
//   node scripts/bench/load.mjs --clients 16 --duration 60 --cache on [--faults 0.2]
//   options: --out DIR (JSON per run: config, counts, per-second samples),
//            --per-playlist K (segments taken from each playlist, default 6)
//   EDGEPACK_EDGE_URL=http://127.0.0.1:PORT  use an edge already running
//            (several runs on one Viceroy process); its own fastly.toml
//            decides the output cache then, and --cache only labels the row
//
// Standard runs, 60 s each: (a) 16 clients, output cache on; (b) 64 clients,
// cache on; (c) 64 clients, cache off (every request packages; indexes stay
// cached); (d) 16 clients, cache off, 20 % of requests through the origin's
// fault paths (/__fault/status/503, slow/200, short, etag-flip).
//
// Method. Each run starts the origin (origin/server.js over fixtures/media)
// and a fresh Viceroy (wasm-tests/lib/edge.js startEdge, output_cache set
// through the config store), crawls the titles' manifests through the edge,
// and fetches every URL once, sequentially, to record its status, length and
// SHA-256 (the reference; the first run's references are kept and later runs
// are compared with them). Then N clients (one Node http.Agent, keep-alive,
// maxSockets = N) each loop for the duration: pick a URL, GET it, read the
// whole body, check it. A 200 whose length or SHA-256 differs from the
// reference is a wrong body. For a fault URL the reference is the same path
// without the fault prefix, and the expectation is "never a 200 with a wrong
// body": a 4xx/5xx with a reason, a 200 that matches, or a connection cut
// mid-body (counted per class). Latency is request start to last body byte.
// VmRSS of Viceroy and the origin is read from /proc/PID/status every
// second, and once more after 5 s idle; the CPU seconds of Viceroy
// (/proc/PID/stat) and of this client process are reported next to the
// throughput, since both share the machine. After the run: /health must
// answer 200 from the same Viceroy pid (the listener's owner per `ss -ltnp`)
// and Viceroy must have printed no trap or panic.
//
// Bounded: every request has a 30 s limit, requests still in flight 35 s
// after the end are abandoned, and the whole script stops itself after
// 15 minutes. Origin and Viceroy listen on 127.0.0.1 only and are stopped
// on exit. It asserts nothing about time; it exits 1 on a wrong body, a
// Viceroy exit or a failed /health.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { startOrigin, MEDIA } = require(path.join(REPO, 'wasm-tests/lib/origin.js'));
const { startEdge } = require(path.join(REPO, 'wasm-tests/lib/edge.js'));
const { parseHls, parseMpd, parseXml } = require(path.join(REPO, 'wasm-tests/lib/edge-http.js'));

const REQUEST_TIMEOUT_MS = 30_000;
const DRAIN_MS = 35_000;
const SCRIPT_LIMIT_MS = 15 * 60_000;
const FAULTS = ['status/503', 'slow/200', 'short', 'etag-flip'];

// --- options ----------------------------------------------------------------
function parseArgs(argv) {
  const o = { clients: null, duration: 60, cache: 'on', faults: 0, out: null, perPlaylist: 6 };
  for (let i = 0; i < argv.length; i++) {
    const v = () => argv[++i];
    switch (argv[i]) {
      case '--clients': o.clients = Number(v()); break;
      case '--duration': o.duration = Number(v()); break;
      case '--cache': o.cache = v(); break;
      case '--faults': o.faults = Number(v()); break;
      case '--out': o.out = path.resolve(v()); break;
      case '--per-playlist': o.perPlaylist = Number(v()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!['on', 'off'].includes(o.cache)) throw new Error('--cache on|off');
  if (!(o.duration > 0 && o.duration <= 600)) throw new Error('--duration 1..600 s');
  if (!(o.faults >= 0 && o.faults < 1)) throw new Error('--faults is a share in [0, 1)');
  return o;
}

// --- HTTP -------------------------------------------------------------------
/**
 * GET `url` with `agent`; resolves { status, body, len, sha, ms, aborted,
 * error, cache } and never rejects. `aborted`: headers came but the body
 * ended before its Content-Length (or the connection reset mid-body).
 */
function fetchOne(url, agent) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let settled = false;
    const done = (r) => {
      if (settled) return;
      settled = true;
      resolve({ ms: performance.now() - t0, ...r });
    };
    const req = http.get(url, { agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const hash = createHash('sha256');
      const chunks = [];
      let len = 0;
      const keep = res.statusCode !== 200; // error bodies kept for the reason
      res.on('data', (c) => {
        len += c.length;
        hash.update(c);
        if (keep && len <= 4096) chunks.push(c);
      });
      const finish = (aborted, error) =>
        done({
          status: res.statusCode,
          len,
          sha: hash.digest('hex'),
          body: Buffer.concat(chunks),
          aborted,
          error,
          cache: res.headers['x-edgepack-cache'] ?? null,
          declared: res.headers['content-length'] === undefined ? null : Number(res.headers['content-length']),
        });
      res.on('end', () => finish(!res.complete, null));
      res.on('error', (e) => finish(true, e.code || e.message));
      res.on('aborted', () => {});
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done({ status: 0, len: 0, sha: null, aborted: false, error: e.code || e.message }));
  });
}

// --- crawl ------------------------------------------------------------------
/** `k` items spread over `list`: first, last and evenly in between. */
function spread(list, k) {
  if (list.length <= k) return list;
  const out = new Set();
  for (let i = 0; i < k; i++) out.add(list[Math.round((i * (list.length - 1)) / (k - 1))]);
  return [...out];
}

/** Segment URLs of a Smooth client manifest (StreamIndex Url template + c t/d/r). */
function parseSmooth(body, base) {
  const doc = parseXml(body);
  const media = doc.children.find((c) => c.name === 'SmoothStreamingMedia');
  const out = [];
  for (const si of media?.children.filter((c) => c.name === 'StreamIndex') ?? []) {
    const tpl = si.attrs.Url;
    const times = [];
    let t = 0;
    for (const c of si.children.filter((x) => x.name === 'c')) {
      if (c.attrs.t !== undefined) t = Number(c.attrs.t);
      const d = Number(c.attrs.d);
      // r: how many fragments of duration d start here (1 when absent).
      const n = c.attrs.r === undefined ? 1 : Math.max(1, Number(c.attrs.r));
      for (let r = 0; r < n && times.length < 100_000; r++) {
        times.push(t);
        t += d;
      }
    }
    for (const q of si.children.filter((x) => x.name === 'QualityLevel')) {
      out.push({
        type: si.attrs.Type,
        segments: times.map((time) =>
          new URL(tpl.replace('{bitrate}', q.attrs.Bitrate).replace('{Bitrate}', q.attrs.Bitrate).replace('{start time}', time).replace('{start_time}', time), base).href,
        ),
      });
    }
  }
  return out;
}

/** Entry points of the mix: [title, kind, path]. Titles missing from fixtures/media are skipped. */
function entryPoints() {
  const titles = [
    ['abr/abr.ism', ['manifest(format=m3u8-cmaf)', 'manifest(format=m3u8-aapl)', 'manifest(format=mpd-time-cmaf)', 'manifest']],
    ['multilang/multilang.ism', ['manifest(format=m3u8-cmaf)']],
    ['muxed_moov_end.mp4', ['master.m3u8', 'manifest.mpd']],
    ['audio_only.mp4', ['master.m3u8']],
    ['long_2h.mp4', ['master.m3u8', 'manifest.mpd']],
  ];
  const out = [];
  for (const [title, manifests] of titles) {
    if (!fs.existsSync(path.join(MEDIA, title))) continue;
    for (const m of manifests) out.push({ title, path: `/${title}/${m}` });
  }
  return out;
}

/**
 * Crawls the entry points through the edge: [{ url (path), kind, title }],
 * kinds manifest | playlist | init | segment. K segments per playlist.
 */
async function crawl(E, agent, k) {
  const items = new Map();
  const add = (url, kind, title) => {
    const p = url.startsWith('http') ? new URL(url).pathname + new URL(url).search : url;
    if (!items.has(p)) items.set(p, { path: p, kind, title });
  };
  const text = async (p) => {
    const r = await new Promise((resolve) => {
      http.get(E + p, { agent }, (res) => {
        const c = [];
        res.on('data', (d) => c.push(d));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(c).toString('utf8') }));
      }).on('error', (e) => resolve({ status: 0, body: String(e) }));
    });
    if (r.status !== 200) process.stderr.write(`load: crawl ${p} -> ${r.status}: ${r.body.slice(0, 160)}\n`);
    return r.status === 200 ? r.body : null;
  };
  for (const { title, path: p } of entryPoints()) {
    const body = await text(p);
    if (body === null) continue;
    add(p, 'manifest', title);
    const url = E + p;
    if (body.startsWith('#EXTM3U')) {
      const m = parseHls(body, url);
      for (const pl of [...m.variants, ...m.media, ...m.iframes]) {
        const plBody = await text(new URL(pl.url).pathname);
        if (plBody === null) continue;
        add(pl.url, 'playlist', title);
        if (m.iframes.includes(pl)) continue; // its URIs are byte ranges of media segments
        const mp = parseHls(plBody, pl.url);
        if (mp.map) add(mp.map, 'init', title);
        for (const s of spread(mp.segments, k)) add(s.url, 'segment', title);
      }
    } else if (body.includes('<MPD')) {
      for (const rep of parseMpd(body, url).reps) {
        if (rep.init) add(rep.init, 'init', title);
        for (const s of spread(rep.segments, k)) add(s.url, 'segment', title);
      }
    } else if (body.includes('<SmoothStreamingMedia')) {
      for (const q of parseSmooth(body, url)) for (const s of spread(q.segments, k)) add(s, 'segment', title);
    }
  }
  return [...items.values()];
}

// --- stats ------------------------------------------------------------------
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);
function latencySummary(ms) {
  const s = Float64Array.from(ms).sort();
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.length ? s[s.length - 1] : NaN };
}

function procKB(pid, key) {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
function procTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  } catch {
    return null;
  }
}
/** Pid owning the TCP listener on 127.0.0.1:port, from `ss -ltnp` (null when ss cannot tell). */
function listenerPid(port) {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// --- one run ----------------------------------------------------------------
async function runOnce({ name, clients, duration, cache, faults, perPlaylist }, shared) {
  const origin = await startOrigin();
  const edge = await startEdge({ originUrl: origin.url, settings: { output_cache: cache } });
  const E = edge.url;
  // EDGEPACK_EDGE_URL (an edge already running, e.g. for repeated runs on
  // one process): its pid is the port's listener.
  const vpid = edge.service ? edge.service.child.pid : listenerPid(edge.port);
  if (!vpid) throw new Error(`no pid for the edge on port ${edge.port}`);
  const opid = origin.service.child.pid;
  // Guest traps and panics Viceroy prints while the run goes on.
  let traps = 0;
  const trapLines = [];
  const watch = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (/panicked|wasm trap|trap:|wasm backtrace|unreachable/i.test(line)) {
        traps++;
        if (trapLines.length < 10) trapLines.push(line.slice(0, 300));
      }
    }
  };
  edge.service?.child.stdout.on('data', watch);
  edge.service?.child.stderr.on('data', watch);
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  try {
    // Mix and references (sequential).
    const crawled = shared.crawled ?? (await crawl(E, agent, perPlaylist));
    shared.crawled = crawled;
    const ref = new Map();
    const refDiffers = [];
    const excluded = [];
    for (const it of crawled) {
      const r = await fetchOne(E + it.path, agent);
      if (r.status !== 200 || r.aborted) {
        excluded.push(`${it.path} -> ${r.status}${r.error ? ` ${r.error}` : ''}`);
        continue;
      }
      const prev = shared.ref?.get(it.path);
      if (prev && (prev.len !== r.len || prev.sha !== r.sha)) refDiffers.push({ path: it.path, prev, now: { len: r.len, sha: r.sha } });
      ref.set(it.path, { len: r.len, sha: r.sha, kind: it.kind });
    }
    shared.ref ??= ref;
    const clean = crawled.filter((it) => ref.has(it.path));
    // Fault URLs: the fault prefix before paths of two titles (a master, one
    // media playlist, its init and two segments each), referenced to the
    // same path without the prefix.
    const faultMix = [];
    const faultProbe = {};
    if (faults > 0) {
      const pick = [];
      for (const title of ['abr/abr.ism', 'muxed_moov_end.mp4']) {
        const of = clean.filter((it) => it.title === title);
        const m = of.find((it) => it.kind === 'manifest' && /m3u8/.test(it.path));
        const pl = of.find((it) => it.kind === 'playlist');
        const init = of.find((it) => it.kind === 'init' && it.path.startsWith(pl.path.slice(0, pl.path.lastIndexOf('/') + 1)));
        const dir = pl.path.slice(0, pl.path.lastIndexOf('/') + 1);
        const segs = of.filter((it) => it.kind === 'segment' && it.path.startsWith(dir) && !/aapl/.test(it.path)).slice(0, 2);
        pick.push(...[m, pl, init, ...segs].filter(Boolean));
      }
      for (const f of FAULTS) {
        for (const it of pick) faultMix.push({ path: `/__fault/${f}${it.path}`, refPath: it.path, kind: it.kind, fault: f });
      }
      // One sequential pass: what each fault does when nothing else runs.
      for (const it of faultMix) {
        const r = await fetchOne(E + it.path, agent);
        const cls = classify(r, ref.get(it.refPath));
        faultProbe[`${it.fault} ${it.kind}`] ??= {};
        faultProbe[`${it.fault} ${it.kind}`][cls] = (faultProbe[`${it.fault} ${it.kind}`][cls] || 0) + 1;
      }
    }

    // Load.
    const lat = [];
    const latByKind = {};
    const status = {};
    const byFault = {};
    let wrong = 0;
    const wrongDetails = [];
    let clientErrors = 0;
    const clientErrorKinds = {};
    let unexpected = 0; // clean URL: not a whole, matching 200
    const unexpectedDetails = [];
    const reasons = {}; // fault -> a few distinct "status body" answers
    let done = 0;
    let bytes = 0;
    const samples = [];
    const t0 = performance.now();
    const ticks0 = procTicks(vpid);
    const cpu0 = process.cpuUsage();
    const cacheHeader = {};
    const sample = () =>
      samples.push({
        t: Math.round((performance.now() - t0) / 100) / 10,
        viceroyRssKB: procKB(vpid, 'VmRSS'),
        originRssKB: procKB(opid, 'VmRSS'),
        viceroyCpuTicks: procTicks(vpid),
        done,
      });
    sample();
    const timer = setInterval(sample, 1000);
    const deadline = t0 + duration * 1000;
    let seed = 0x2545f491 ^ clients;
    const rand = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const worker = async () => {
      while (performance.now() < deadline) {
        const fault = faultMix.length && rand() < faults;
        const it = fault ? faultMix[Math.floor(rand() * faultMix.length)] : clean[Math.floor(rand() * clean.length)];
        const r = await fetchOne(E + it.path, agent);
        done++;
        bytes += r.len;
        lat.push(r.ms);
        const kind = fault ? 'fault' : it.kind;
        (latByKind[kind] ??= []).push(r.ms);
        status[r.status || 'none'] = (status[r.status || 'none'] || 0) + 1;
        cacheHeader[r.cache ?? 'none'] = (cacheHeader[r.cache ?? 'none'] || 0) + 1;
        const expect = ref.get(it.refPath ?? it.path);
        const cls = classify(r, expect);
        if (cls === 'client-error') {
          clientErrors++;
          clientErrorKinds[r.error] = (clientErrorKinds[r.error] || 0) + 1;
        }
        if (cls === 'wrong-body') {
          wrong++;
          if (wrongDetails.length < 20)
            wrongDetails.push({ url: it.path, status: r.status, len: r.len, refLen: expect.len, sha: r.sha, refSha: expect.sha, cache: r.cache, declared: r.declared });
        }
        if (fault) {
          const key = `${it.fault} ${it.kind}`;
          byFault[key] ??= {};
          byFault[key][cls] = (byFault[key][cls] || 0) + 1;
          if (r.status && r.status !== 200) {
            const reason = `${r.status} ${r.body?.toString('utf8', 0, 120).trim()}`;
            (reasons[it.fault] ??= new Set()).size < 4 && reasons[it.fault].add(reason);
          }
          if (cls === 'aborted' && it.kind !== 'segment') {
            unexpected++;
            if (unexpectedDetails.length < 20) unexpectedDetails.push({ url: it.path, cls, status: r.status, error: r.error });
          }
        } else if (cls !== 'ok') {
          if (cls !== 'client-error' && cls !== 'wrong-body') unexpected++;
          if (unexpectedDetails.length < 20) unexpectedDetails.push({ url: it.path, cls, status: r.status, error: r.error, len: r.len, body: r.body?.toString('utf8', 0, 200) });
        }
      }
    };
    const workers = Array.from({ length: clients }, worker);
    const drained = await Promise.race([
      Promise.all(workers).then(() => true),
      new Promise((res) => setTimeout(() => res(false), duration * 1000 + DRAIN_MS)),
    ]);
    const wall = (performance.now() - t0) / 1000;
    clearInterval(timer);
    sample();
    const ticks1 = procTicks(vpid);
    const cpu = process.cpuUsage(cpu0);
    agent.destroy();
    // What Viceroy keeps once the load is gone: RSS after 5 s idle.
    await new Promise((res) => setTimeout(res, 5_000));
    const idleKB = procKB(vpid, 'VmRSS');

    // Still alive, same process?
    const health = await fetchOne(`${E}/health`, false);
    const alive = edge.service ? edge.service.child.exitCode === null && edge.service.child.signalCode === null : fs.existsSync(`/proc/${vpid}`);
    const owner = listenerPid(edge.port);
    const rss = samples.map((s) => s.viceroyRssKB).filter((x) => x !== null);
    const orss = samples.map((s) => s.originRssKB).filter((x) => x !== null);
    const at10 = samples.find((s) => s.t >= 10)?.viceroyRssKB ?? null;
    // Growth over time, not concurrency: the highest RSS in each half of the run.
    const half = (lo, hi) => Math.max(...samples.filter((s) => s.t >= lo && s.t < hi && s.viceroyRssKB !== null).map((s) => s.viceroyRssKB));
    const summary = {
      name,
      clients,
      cache,
      faults,
      duration,
      wall: Math.round(wall * 10) / 10,
      drained,
      urls: clean.length,
      faultUrls: faultMix.length,
      mixKinds: countBy(clean, (it) => it.kind),
      excluded,
      refDiffers,
      requests: done,
      rps: done / wall,
      mbps: (bytes * 8) / wall / 1e6,
      latency: latencySummary(lat),
      latencyByKind: Object.fromEntries(Object.entries(latByKind).map(([k, v]) => [k, latencySummary(v)])),
      status,
      wrong,
      wrongDetails,
      clientErrors,
      clientErrorKinds,
      unexpected,
      unexpectedDetails,
      byFault,
      reasons: Object.fromEntries(Object.entries(reasons).map(([k, v]) => [k, [...v]])),
      faultProbe,
      traps,
      trapLines,
      viceroyCpuS: ticks0 !== null && ticks1 !== null ? (ticks1 - ticks0) / 100 : null,
      clientCpuS: Math.round((cpu.user + cpu.system) / 1e4) / 100,
      cacheHeader,
      viceroyRssMB: mb({
        start: rss[0],
        at10,
        min: Math.min(...rss),
        max: Math.max(...rss),
        firstHalfMax: half(1, duration / 2),
        secondHalfMax: half(duration / 2, duration + 1),
        end: rss[rss.length - 1],
        idle5s: idleKB,
      }),
      originRssMB: mb({ start: orss[0], min: Math.min(...orss), max: Math.max(...orss), end: orss[orss.length - 1] }),
      health: health.status,
      viceroyPid: vpid,
      samePid: alive && (owner === null || owner === vpid),
      listenerPid: owner,
      samples,
    };
    return summary;
  } finally {
    agent.destroy();
    await edge.stop();
    await origin.stop();
  }
}

/** ok | wrong-body | aborted | error-with-reason | error-no-reason | client-error. */
function classify(r, expect) {
  if (r.status === 0) return 'client-error';
  if (r.aborted) return 'aborted';
  if (r.status === 200) return expect && r.len === expect.len && r.sha === expect.sha ? 'ok' : 'wrong-body';
  return r.len > 0 ? 'error-with-reason' : 'error-no-reason';
}
const countBy = (list, f) => list.reduce((m, x) => ((m[f(x)] = (m[f(x)] || 0) + 1), m), {});
const mb = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === null || v === undefined ? null : Math.round(v / 102.4) / 10]));

// --- report -----------------------------------------------------------------
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
function row(s) {
  const st = Object.entries(s.status).sort().map(([k, v]) => `${k}: ${v}`).join(', ');
  const v = s.viceroyRssMB;
  return `| ${s.name} | ${s.clients} | ${s.cache}${s.faults ? `, ${Math.round(s.faults * 100)} % faults` : ''} | ${s.wall} s | ${s.requests} | ${s.rps.toFixed(0)} | ${f1(s.latency.p50)} / ${f1(s.latency.p90)} / ${f1(s.latency.p99)} / ${f1(s.latency.max)} | ${st} | ${s.wrong} | ${s.clientErrors} | ${v.start} / ${v.firstHalfMax} / ${v.secondHalfMax} / ${v.end} / ${v.idle5s} | ${s.viceroyCpuS} / ${s.clientCpuS} | ${s.health === 200 && s.samePid && !s.traps ? 'yes' : '**no**'} |`;
}
const HEADER = [
  '| run | clients | output cache | duration | requests | req/s | p50 / p90 / p99 / max ms | statuses | wrong bodies | client errors | Viceroy RSS MB: start / max 1st half / max 2nd half / end / 5 s idle | CPU s: Viceroy / client | /health 200, same pid, no trap |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const limit = setTimeout(() => {
    process.stderr.write('load: 15 minute limit reached\n');
    process.exit(2);
  }, SCRIPT_LIMIT_MS);
  limit.unref();
  const out = opts.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'edgepack-load-'));
  fs.mkdirSync(out, { recursive: true });
  const base = { duration: opts.duration, perPlaylist: opts.perPlaylist };
  const runs = opts.clients
    ? [{ name: 'run', clients: opts.clients, cache: opts.cache, faults: opts.faults, ...base }]
    : [
        { name: 'a', clients: 16, cache: 'on', faults: 0, ...base },
        { name: 'b', clients: 64, cache: 'on', faults: 0, ...base },
        { name: 'c', clients: 64, cache: 'off', faults: 0, ...base },
        { name: 'd', clients: 16, cache: 'off', faults: 0.2, ...base },
      ];
  const shared = {};
  const results = [];
  let bad = false;
  for (const run of runs) {
    process.stderr.write(`load: run ${run.name}: ${run.clients} clients, cache ${run.cache}, faults ${run.faults}, ${run.duration} s\n`);
    const s = await runOnce(run, shared);
    results.push(s);
    fs.writeFileSync(path.join(out, `load-${s.name}.json`), JSON.stringify(s, null, 1));
    const { samples, ...brief } = s;
    process.stderr.write(`${JSON.stringify(brief, null, 1)}\n`);
    if (s.wrong || s.traps || s.health !== 200 || !s.samePid || s.refDiffers.length) bad = true;
  }
  const mix = results[0];
  console.log(`\nMix: ${mix.urls} URLs (${Object.entries(mix.mixKinds).map(([k, v]) => `${v} ${k}`).join(', ')}); JSON per run in ${out}\n`);
  console.log([...HEADER, ...results.map(row)].join('\n'));
  console.log('\nLatency by kind, p50 / p99 ms:\n');
  for (const s of results) {
    console.log(`- ${s.name}: ${Object.entries(s.latencyByKind).map(([k, l]) => `${k} ${f1(l.p50)} / ${f1(l.p99)} (n ${l.n})`).join('; ')}`);
  }
  for (const s of results.filter((r) => r.faults)) {
    console.log(`\nFaults in run ${s.name} (class counts per fault and kind):\n`);
    for (const [k, v] of Object.entries(s.byFault).sort()) console.log(`- ${k}: ${JSON.stringify(v)}`);
    for (const [k, v] of Object.entries(s.reasons)) console.log(`- ${k} answers: ${v.map((x) => JSON.stringify(x)).join('; ')}`);
  }
  process.exitCode = bad ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`load: ${err.stack || err}\n`);
  process.exit(1);
});
