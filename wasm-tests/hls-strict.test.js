// Every HLS playlist the edge writes, checked strictly: hls-parser
// (strictMode: true) must parse each one, and the RFC 8216 rules it does not
// check are checked by hand (lib/hls_check.js):
//   - EXT-X-TARGETDURATION ≥ every EXTINF rounded to the nearest integer;
//   - every audio GROUP-ID has exactly one DEFAULT=YES, distinct NAMEs;
//   - each variant's CODECS lists its video codec and its audio's (the group's
//     or, for m3u8-aapl-v3, the muxed track's), matching the source tracks
//     (avc1 profile/level and mp4a object type from ffprobe);
//   - EXT-X-VERSION ≥ 3 / 4 / 5 / 6 for what the playlist uses (decimal EXTINF,
//     BYTERANGE / I-FRAMES-ONLY, EXT-X-MAP);
//   - I-frame playlists carry EXT-X-I-FRAMES-ONLY and an EXT-X-BYTERANGE per
//     entry, and each range is whole TS packets that the edge serves;
//   - VOD: EXT-X-ENDLIST, segments adding up to the source track's duration,
//     audio and video segment boundaries aligned;
//   - BANDWIDTH ≥ the peak segment bit rate measured from the real segments
//     (§4.3.4.2), AVERAGE-BANDWIDTH within 10 % of the measured average.
// For m3u8-cmaf, m3u8-aapl and m3u8-aapl-v3 on every asset, with a negative
// control: hand-made bad playlists must fail each check.
//
//   node --test wasm-tests/hls-strict.test.js
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { startEdge } = require('./lib/edge');
const { primaryLanguage } = require('./lib/manifest');
const { ASSETS, limiter, printTable, skipReason, sourceInfo } = require('./lib/decoders');
const { checkBandwidth, checkMediaPlaylist, checkMultivariant, peakAndAverage, strictParse } = require('./lib/hls_check');

const HLS_FORMATS = {
  'm3u8-cmaf': { label: 'HLS fMP4 (m3u8-cmaf)', muxedAudio: false },
  'm3u8-aapl': { label: 'HLS TS (m3u8-aapl)', muxedAudio: false },
  'm3u8-aapl-v3': { label: 'HLS TS v3 (m3u8-aapl-v3)', muxedAudio: true },
};
// Sum of EXTINF vs the source track's duration.
const DURATION_TOLERANCE_S = 0.1;
// Audio segments end at the AAC frame nearest each video boundary: ≤ half a
// frame (10.7 ms at 48 kHz) off; allow a whole frame.
const ALIGN_TOLERANCE_S = 0.025;

const CONCURRENCY = 2;
const fetches = limiter(4);
const skip = skipReason(null, null);

async function get(url, headers = {}) {
  return fetches(async () => {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body };
  });
}

describe('HLS playlists are strictly conforming', { skip, concurrency: CONCURRENCY }, () => {
  let origin;
  let edge;
  const rows = [];
  before(async () => {
    origin = await startOrigin();
    edge = await startEdge({ originUrl: origin.url });
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
    printTable('HLS playlists checked (bw: declared BANDWIDTH / measured peak, worst variant; avg: AVERAGE-BANDWIDTH / measured):', rows);
  });

  for (const asset of ASSETS) {
    for (const [format, f] of Object.entries(HLS_FORMATS)) {
      test(`hls-strict · ${f.label} · ${asset.name}`, async (t) => {
        const mpath = `${asset.base}/manifest(format=${format})`;
        const murl = edge.url + mpath;
        const res = await get(murl);
        if (res.status === 501) return t.skip(`the edge answers 501 for ${mpath}`);
        assert.equal(res.status, 200, `GET ${mpath}: ${res.status} ${res.body.toString().slice(0, 200)}`);
        const text = res.body.toString('utf8');
        const source = sourceInfo(asset);
        const row = { asset: asset.name, format, playlists: 1, versions: '', segments: 0, target: '', bw: '', avg: '', problems: 0 };
        rows.push(row);

        await t.test('hls-parser strictMode parses the multivariant playlist', () => {
          const { playlist, error } = strictParse(text);
          assert.equal(error, undefined, `hls-parser (strict) rejects ${mpath}: ${error}\n${text}`);
          assert.ok(playlist.isMasterPlaylist, `${mpath} parsed as a media playlist`);
        });

        const mv = checkMultivariant(text, { source, muxedAudio: f.muxedAudio });
        row.problems += mv.problems.length;
        await t.test('multivariant: RFC 8216 rules (DEFAULT, CODECS, groups)', () => {
          assert.deepEqual(mv.problems, [], `${mpath}:\n${text}`);
        });

        // Every playlist the multivariant references, with what it should hold.
        const playlists = [];
        for (const v of mv.info.variants) {
          const [w, h] = (v.attrs.RESOLUTION || '').split('x').map(Number);
          const video = source.video.find((s) => s.width === w && s.height === h);
          const audio = source.audio[0];
          const duration = video ? video.frames / video.fps : audio ? audio.duration : null;
          playlists.push({ role: video ? `video ${v.attrs.RESOLUTION}` : 'audio variant', uri: v.uri, duration, variant: v, kind: video ? 'video' : 'audio' });
        }
        for (const m of mv.info.media.filter((x) => x.URI)) {
          const src = source.audio.find((s) => primaryLanguage(s.lang) === primaryLanguage(m.LANGUAGE || 'und')) || source.audio[0];
          playlists.push({ role: `audio ${m.LANGUAGE || ''} ${m.NAME}`, uri: m.URI, duration: src?.duration ?? null, media: m, kind: 'audio' });
        }
        for (const fr of mv.info.iframes) {
          playlists.push({ role: `I-frames ${fr.RESOLUTION}`, uri: fr.URI, duration: null, iframe: fr, kind: 'iframe' });
        }
        const unique = new Map();
        for (const p of playlists) {
          p.url = new URL(p.uri, murl).href;
          if (!unique.has(p.url)) unique.set(p.url, p);
        }
        row.playlists += unique.size;

        const loaded = new Map();
        await Promise.all(
          [...unique.values()].map(async (p) => {
            const r = await get(p.url);
            const body = r.body.toString('utf8');
            const checked = r.status === 200 ? checkMediaPlaylist(body, { iframe: p.kind === 'iframe', duration: p.duration, durationTolerance: DURATION_TOLERANCE_S }) : null;
            loaded.set(p.url, { ...p, status: r.status, body, checked, strict: r.status === 200 ? strictParse(body) : null });
          }),
        );
        const versions = new Set([mv.info.version]);
        for (const p of loaded.values()) if (p.checked) versions.add(p.checked.info.version);
        row.versions = [...versions].join('/');
        row.segments = Math.max(...[...loaded.values()].map((p) => p.checked?.info.segments.length ?? 0));
        row.target = [...new Set([...loaded.values()].map((p) => p.checked?.info.target))].join('/');

        for (const p of loaded.values()) {
          await t.test(`${p.role}: hls-parser strictMode + RFC 8216 rules`, () => {
            assert.equal(p.status, 200, `GET ${p.url}: ${p.status} ${p.body.slice(0, 200)}`);
            const problems = [...(p.strict.error ? [`hls-parser (strict): ${p.strict.error}`] : []), ...p.checked.problems];
            if (!p.strict.error && p.strict.playlist.isMasterPlaylist) problems.push('parsed as a multivariant playlist');
            if (!p.strict.error && p.kind === 'iframe' && !p.strict.playlist.isIFrame) problems.push('hls-parser does not see an I-frame playlist');
            row.problems += problems.length;
            assert.deepEqual(problems, [], `${p.url}:\n${p.body}`);
          });
        }

        // fMP4: the version the format promises (7, as Azure) on every playlist.
        if (format === 'm3u8-cmaf') {
          await t.test('fMP4 playlists say EXT-X-VERSION:7', () => {
            const off = [[mpath, mv.info.version], ...[...loaded.values()].map((p) => [p.role, p.checked?.info.version])].filter(([, v]) => v !== 7);
            assert.deepEqual(off, [], 'EXT-X-VERSION other than 7');
          });
        }

        const media = [...loaded.values()].filter((p) => p.checked && p.kind !== 'iframe');
        if (media.length > 1) {
          await t.test('audio and video segment boundaries align', () => {
            const problems = [];
            const [ref, ...others] = media;
            for (const o of others) {
              const a = ref.checked.info.segments;
              const b = o.checked.info.segments;
              if (a.length !== b.length) {
                problems.push(`${ref.role}: ${a.length} segments, ${o.role}: ${b.length}`);
                continue;
              }
              let ta = 0;
              let tb = 0;
              for (let i = 0; i < a.length - 1; i++) {
                ta += a[i].duration;
                tb += b[i].duration;
                if (Math.abs(ta - tb) > ALIGN_TOLERANCE_S) {
                  problems.push(`boundary after segment ${i}: ${ref.role} at ${ta.toFixed(4)} s, ${o.role} at ${tb.toFixed(4)} s`);
                  break;
                }
              }
            }
            assert.deepEqual(problems, []);
          });
        }

        // BANDWIDTH / AVERAGE-BANDWIDTH against the bytes of every segment.
        const rates = new Map();
        await t.test('BANDWIDTH and AVERAGE-BANDWIDTH match the segments (RFC 8216 §4.3.4.2)', async () => {
          await Promise.all(
            media.map(async (p) => {
              const segs = await Promise.all(
                p.checked.info.segments.map(async (s) => {
                  const url = new URL(s.uri, p.url).href;
                  const r = await get(url);
                  assert.equal(r.status, 200, `GET ${url}: ${r.status} ${r.body.toString().slice(0, 200)}`);
                  return { duration: s.duration, bytes: r.body.length };
                }),
              );
              rates.set(p.url, peakAndAverage(segs, p.checked.info.target));
            }),
          );
          const problems = [];
          let worstBw = Infinity;
          let worstAvg = null;
          for (const p of media.filter((x) => x.variant)) {
            const v = p.variant.attrs;
            const own = rates.get(p.url);
            // The variant plays with any member of its audio group: the
            // largest sum over the members.
            const group = v.AUDIO ? media.filter((x) => x.media?.['GROUP-ID'] === v.AUDIO).map((x) => rates.get(x.url)) : [];
            const audioPeak = Math.max(0, ...group.map((r) => r.peak));
            const audioAvg = Math.max(0, ...group.map((r) => r.average));
            const measured = { peak: own.peak + audioPeak, average: own.average + audioAvg };
            const declared = { bandwidth: Number(v.BANDWIDTH), average: v['AVERAGE-BANDWIDTH'] ? Number(v['AVERAGE-BANDWIDTH']) : null };
            problems.push(...checkBandwidth(`${p.role}`, declared, measured));
            worstBw = Math.min(worstBw, declared.bandwidth / measured.peak);
            if (declared.average) {
              const r = declared.average / measured.average;
              if (worstAvg === null || Math.abs(r - 1) > Math.abs(worstAvg - 1)) worstAvg = r;
            }
          }
          row.bw = Number.isFinite(worstBw) ? worstBw.toFixed(3) : '';
          row.avg = worstAvg === null ? '' : worstAvg.toFixed(3);
          row.problems += problems.length;
          assert.deepEqual(problems, []);
        });

        const iframes = [...loaded.values()].filter((p) => p.kind === 'iframe' && p.checked);
        if (iframes.length) {
          await t.test('I-frame byte ranges are whole TS packets the edge serves, within BANDWIDTH', async () => {
            const problems = [];
            for (const p of iframes) {
              const entries = [];
              for (const s of p.checked.info.segments) {
                if (!s.byterange) continue;
                const url = new URL(s.uri, p.url).href;
                const { length, offset } = s.byterange;
                const start = offset ?? 0;
                const r = await get(url, { Range: `bytes=${start}-${start + length - 1}` });
                entries.push({ duration: s.duration, bytes: length });
                if (r.status !== 206 && !(r.status === 200 && start === 0 && r.body.length === length)) {
                  problems.push(`${p.role}: Range ${start}+${length} of ${s.uri}: status ${r.status}`);
                  continue;
                }
                const body = r.body.subarray(0, length);
                if (body.length !== length) problems.push(`${p.role}: Range ${start}+${length} of ${s.uri}: ${body.length} bytes`);
                if (length % 188) problems.push(`${p.role}: ${s.uri}: range length ${length} is not whole 188-byte TS packets`);
                for (let i = 0; i < body.length; i += 188) {
                  if (body[i] !== 0x47) {
                    problems.push(`${p.role}: ${s.uri}: no TS sync byte at ${i} of the range`);
                    break;
                  }
                }
              }
              const { peak } = peakAndAverage(entries, p.checked.info.target);
              const declared = Number(p.iframe.BANDWIDTH);
              if (declared < Math.floor(peak)) problems.push(`${p.role}: BANDWIDTH=${declared} below the I-frames' peak ${Math.round(peak)}`);
            }
            row.problems += problems.length;
            assert.deepEqual(problems, []);
          });
        }
      });
    }
  }
});

// The checker must be able to fail: hand-made playlists breaking each rule.
describe('hls-strict negative control', () => {
  const source = {
    video: [{ source: 'v.mp4', codec: 'h264', profile: 'High', level: 31, width: 1280, height: 720, fps: 24, frames: 720 }],
    audio: [{ source: 'a.mp4', codec: 'aac', profile: 'LC', lang: 'eng', duration: 30 }],
  };
  const has = (problems, re) => assert.ok(problems.some((p) => re.test(p)), `no problem matching ${re} in:\n${problems.join('\n')}`);

  test('a bad multivariant playlist fails', () => {
    const bad = [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="en.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=NO,CHANNELS="2",URI="en2.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="b",NAME="French",LANGUAGE="fr",DEFAULT=NO,CHANNELS="2",URI="fr.m3u8"',
      '#EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=900000,CODECS="avc1.4d401e",RESOLUTION=1280x720,AUDIO="a"',
      'v.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS="avc1.64001f,mp4a.40.5",RESOLUTION=1280x720,AUDIO="b"',
      'v.m3u8',
      '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1000,CODECS="avc1.64001f,mp4a.40.2",URI="i.m3u8"',
      '',
    ].join('\n');
    const { problems } = checkMultivariant(bad, { source });
    has(problems, /audio group a: 2 renditions with DEFAULT=YES/);
    has(problems, /audio group b: 0 renditions with DEFAULT=YES/);
    has(problems, /NAME "English" appears twice/);
    has(problems, /DEFAULT=YES with AUTOSELECT=NO/);
    has(problems, /lists no audio codec/);
    has(problems, /profile_idc 77, the source v\.mp4 is High/);
    has(problems, /level_idc 30, the source v\.mp4 is level 31/);
    has(problems, /expected mp4a\.40\.2/);
    has(problems, /I-frame variant .* video codec only/);
    // hls-parser itself: a variant without BANDWIDTH.
    assert.ok(strictParse('#EXTM3U\n#EXT-X-STREAM-INF:CODECS="avc1.64001f"\nv.m3u8\n').error, 'hls-parser (strict) accepted a variant without BANDWIDTH');
  });

  test('a bad media playlist fails', () => {
    const bad = '#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:5\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:6.000,\ns0.m4s\n#EXTINF:4.000,\ns1.m4s\n';
    const { problems } = checkMediaPlaylist(bad, { duration: 30 });
    has(problems, /EXTINF 6 rounds to 6 > EXT-X-TARGETDURATION 5/);
    has(problems, /EXT-X-MAP without EXT-X-I-FRAMES-ONLY needs EXT-X-VERSION ≥ 6 \(has 5\)/);
    has(problems, /no EXT-X-ENDLIST/);
    has(problems, /segments add up to 10\.000 s, the source track lasts 30\.000 s/);
    assert.ok(strictParse(bad).error, 'hls-parser (strict) accepted EXTINF > TARGETDURATION');
  });

  test('a bad I-frame playlist fails', () => {
    const bad = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\n#EXT-X-BYTERANGE:1316@0\ns0.ts\n#EXTINF:6.000,\ns1.ts\n#EXT-X-ENDLIST\n';
    const { problems } = checkMediaPlaylist(bad, { iframe: true });
    has(problems, /I-frame playlist without EXT-X-I-FRAMES-ONLY/);
    has(problems, /need EXT-X-VERSION ≥ 4 \(has 3\)/);
    const { problems: p2 } = checkMediaPlaylist(bad.replace('#EXT-X-VERSION:3', '#EXT-X-VERSION:4\n#EXT-X-I-FRAMES-ONLY'), { iframe: true });
    has(p2, /1 of 2 entries without EXT-X-BYTERANGE/);
  });

  test('an understated BANDWIDTH fails', () => {
    const segs = [{ duration: 6, bytes: 750_000 }, { duration: 6, bytes: 375_000 }, { duration: 2, bytes: 100_000 }];
    const m = peakAndAverage(segs, 6);
    assert.equal(Math.round(m.peak), 1_000_000);
    has(checkBandwidth('v', { bandwidth: 900_000, average: 700_000 }, m), /below the measured peak/);
    has(checkBandwidth('v', { bandwidth: 1_000_000, average: 500_000 }, m), /AVERAGE-BANDWIDTH=500000, measured 700000/);
    assert.deepEqual(checkBandwidth('v', { bandwidth: 1_000_000, average: 700_000 }, m), []);
  });
});
