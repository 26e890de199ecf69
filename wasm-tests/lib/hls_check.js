// A strict HLS playlist checker for hls-strict.test.js: hls-parser in strict
// mode, plus RFC 8216 rules it does not check, done by hand on the raw text.
// Every function returns a list of problems (strings); empty means conforming,
// so the negative control can show each rule firing on a bad playlist.
//
//   strictParse(text)                   -> { playlist } | { error }
//   checkMultivariant(text, expect)     -> { problems, info }
//   checkMediaPlaylist(text, expect)    -> { problems, info }
//   peakAndAverage(segments, target)    -> { peak, average } (bits/s, RFC 8216 §4.3.4.2)
//   checkBandwidth(declared, measured)  -> problems
'use strict';

const HLS = require('hls-parser');
const { hlsAttributes } = require('./manifest');

HLS.setOptions({ strictMode: true, silent: true });

/** hls-parser with strictMode: the playlist, or the error it throws. */
function strictParse(text) {
  try {
    return { playlist: HLS.parse(text) };
  } catch (err) {
    return { error: err.message };
  }
}

const VIDEO_CODEC = /^(avc[13]|hvc1|hev1|dvh1|dvhe|av01|vp09)\./;
const AUDIO_CODEC = /^(mp4a|ac-3|ec-3|ac-4|opus|flac|fLaC|mp3|dts[a-z])(\.|$)/;

// ffprobe's H.264 profile names -> profile_idc (ITU-T H.264 Annex A).
const H264_PROFILES = {
  Baseline: 66,
  'Constrained Baseline': 66,
  Main: 77,
  Extended: 88,
  High: 100,
  'Constrained High': 100,
  'High 10': 110,
  'High 4:2:2': 122,
  'High 4:4:4 Predictive': 244,
};
// ffprobe's AAC profile names -> MPEG-4 audio object type (RFC 6381 mp4a.40.N).
const AAC_OBJECT_TYPES = { LC: 2, 'HE-AAC': 5, 'HE-AACv2': 29, Main: 1, LTP: 4 };

/** Problems with `codec` (a CODECS entry) as the codec string of the source track `src` (sourceInfo()). */
function codecMismatch(codec, src) {
  if (src.codec === 'h264') {
    const m = /^avc[13]\.([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})$/.exec(codec);
    if (!m) return `"${codec}" is not an avc1.PPCCLL codec string for the H.264 source ${src.source}`;
    const profile = H264_PROFILES[src.profile];
    const off = [];
    if (profile !== undefined && parseInt(m[1], 16) !== profile) {
      off.push(`"${codec}" names profile_idc ${parseInt(m[1], 16)}, the source ${src.source} is ${src.profile} (${profile})`);
    }
    if (Number.isFinite(src.level) && src.level > 0 && parseInt(m[3], 16) !== src.level) {
      off.push(`"${codec}" names level_idc ${parseInt(m[3], 16)}, the source ${src.source} is level ${src.level}`);
    }
    return off.length ? off.join('; ') : null;
  }
  if (src.codec === 'hevc') return /^(hvc1|hev1)\./.test(codec) ? null : `"${codec}" is not an HEVC codec string (${src.source})`;
  if (src.codec === 'aac') {
    const aot = AAC_OBJECT_TYPES[src.profile];
    const want = aot ? `mp4a.40.${aot}` : null;
    if (want && codec !== want) return `"${codec}" for the AAC ${src.profile} source ${src.source}: expected ${want}`;
    if (!want && !/^mp4a\.40\.\d+$/.test(codec)) return `"${codec}" is not an mp4a.40.N codec string (${src.source})`;
    return null;
  }
  return null;
}

/** Tag lines and URI lines of a playlist, in order: [{ tag, value, uri, line }]. */
function lines(text) {
  const out = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    if (line.startsWith('#EXT')) {
      const colon = line.indexOf(':');
      out.push({ tag: colon < 0 ? line : line.slice(0, colon), value: colon < 0 ? '' : line.slice(colon + 1), line: i + 1 });
    } else if (!line.startsWith('#')) {
      out.push({ uri: line, line: i + 1 });
    }
  });
  return out;
}

function versionOf(ls, problems) {
  const v = ls.filter((l) => l.tag === '#EXT-X-VERSION');
  if (v.length !== 1) {
    problems.push(`${v.length} EXT-X-VERSION tags (RFC 8216 §4.3.1.2: at most one; this checker wants it explicit)`);
    return v.length ? Number(v[0].value) : 1;
  }
  return Number(v[0].value);
}

/**
 * The multivariant playlist. expect: { source (sourceInfo()), muxedAudio
 * (variants carry audio in their own segments: m3u8-aapl-v3) }.
 * info: { version, variants: [{ attrs, uri }], media: [attrs], iframes: [attrs] }.
 */
function checkMultivariant(text, { source, muxedAudio = false } = {}) {
  const problems = [];
  const ls = lines(text);
  if (!text.startsWith('#EXTM3U')) problems.push('does not start with #EXTM3U');
  const version = versionOf(ls, problems);
  const variants = [];
  const media = [];
  const iframes = [];
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i];
    if (l.tag === '#EXT-X-STREAM-INF') {
      const next = ls[i + 1];
      variants.push({ attrs: hlsAttributes(l.value), uri: next?.uri ?? null, line: l.line });
    } else if (l.tag === '#EXT-X-MEDIA') media.push({ ...hlsAttributes(l.value), line: l.line });
    else if (l.tag === '#EXT-X-I-FRAME-STREAM-INF') iframes.push({ ...hlsAttributes(l.value), line: l.line });
    else if (l.tag === '#EXTINF' || l.tag === '#EXT-X-TARGETDURATION') problems.push(`line ${l.line}: media playlist tag ${l.tag} in a multivariant playlist`);
  }
  if (!variants.length) problems.push('no EXT-X-STREAM-INF');

  // Rendition groups: exactly one DEFAULT=YES each (RFC 8216 §4.3.4.1.1
  // allows at most one; players need one to know what to start with), unique
  // NAMEs, AUTOSELECT=YES wherever DEFAULT=YES, a valid LANGUAGE.
  const groups = new Map();
  for (const m of media) {
    const key = `${m.TYPE}/${m['GROUP-ID']}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(m);
    if (!m.TYPE || !m['GROUP-ID'] || !m.NAME) problems.push(`line ${m.line}: EXT-X-MEDIA without TYPE, GROUP-ID or NAME`);
    if (m.DEFAULT === 'YES' && m.AUTOSELECT && m.AUTOSELECT !== 'YES') problems.push(`line ${m.line}: DEFAULT=YES with AUTOSELECT=${m.AUTOSELECT} (§4.3.4.1: MUST be YES)`);
    if (m.LANGUAGE) {
      try {
        Intl.getCanonicalLocales(m.LANGUAGE);
      } catch {
        problems.push(`line ${m.line}: LANGUAGE="${m.LANGUAGE}" is not a BCP 47 tag`);
      }
    }
    if (m.TYPE === 'AUDIO' && !m.CHANNELS) problems.push(`line ${m.line}: audio rendition without CHANNELS`);
  }
  for (const [key, members] of groups) {
    const defaults = members.filter((m) => m.DEFAULT === 'YES').length;
    if (key.startsWith('AUDIO/') && defaults !== 1) problems.push(`audio group ${key.slice(6)}: ${defaults} renditions with DEFAULT=YES (want exactly one)`);
    const names = members.map((m) => m.NAME);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) problems.push(`group ${key}: NAME "${dup}" appears twice (§4.3.4.1.1: MUST differ)`);
  }

  // CODECS of each variant: the video codec of its rendition and the codec of
  // its audio (its group's, or muxed), each matching the source track.
  const srcAudio = source?.audio ?? [];
  const srcVideo = source?.video ?? [];
  for (const v of variants) {
    const a = v.attrs;
    const where = `variant at line ${v.line} (${v.uri})`;
    if (!v.uri) problems.push(`${where}: EXT-X-STREAM-INF not followed by a URI`);
    if (!a.BANDWIDTH || !/^\d+$/.test(a.BANDWIDTH)) problems.push(`${where}: BANDWIDTH missing or not an integer`);
    if (a['AVERAGE-BANDWIDTH'] && Number(a['AVERAGE-BANDWIDTH']) > Number(a.BANDWIDTH)) {
      problems.push(`${where}: AVERAGE-BANDWIDTH ${a['AVERAGE-BANDWIDTH']} > BANDWIDTH ${a.BANDWIDTH}`);
    }
    if (!a.CODECS) {
      problems.push(`${where}: no CODECS`);
      continue;
    }
    const codecs = a.CODECS.split(',').map((c) => c.trim());
    const video = codecs.filter((c) => VIDEO_CODEC.test(c));
    const audio = codecs.filter((c) => AUDIO_CODEC.test(c));
    const unknown = codecs.filter((c) => !VIDEO_CODEC.test(c) && !AUDIO_CODEC.test(c));
    if (unknown.length) problems.push(`${where}: CODECS entries of no known kind: ${unknown.join(', ')}`);
    if (a.RESOLUTION) {
      if (video.length !== 1) problems.push(`${where}: CODECS="${a.CODECS}" lists ${video.length} video codecs, want 1`);
      const [w, h] = a.RESOLUTION.split('x').map(Number);
      const src = srcVideo.find((s) => s.width === w && s.height === h);
      if (srcVideo.length && !src) problems.push(`${where}: RESOLUTION=${a.RESOLUTION} is no source rendition (${srcVideo.map((s) => `${s.width}x${s.height}`).join(', ')})`);
      if (src && video[0]) {
        const bad = codecMismatch(video[0], src);
        if (bad) problems.push(`${where}: ${bad}`);
      }
      if (a['FRAME-RATE'] && src?.fps && Math.abs(Number(a['FRAME-RATE']) - src.fps) > 0.01) {
        problems.push(`${where}: FRAME-RATE=${a['FRAME-RATE']}, the source is ${src.fps.toFixed(3)} fps`);
      }
    } else if (video.length) {
      problems.push(`${where}: CODECS lists video (${video}) but there is no RESOLUTION`);
    }
    const wantAudio = a.AUDIO || muxedAudio || !a.RESOLUTION ? srcAudio : [];
    if (a.AUDIO) {
      const members = media.filter((m) => m.TYPE === 'AUDIO' && m['GROUP-ID'] === a.AUDIO);
      if (!members.length) problems.push(`${where}: AUDIO="${a.AUDIO}" names no EXT-X-MEDIA group`);
    }
    if (wantAudio.length) {
      if (!audio.length) problems.push(`${where}: CODECS="${a.CODECS}" lists no audio codec, but the variant plays with audio (${a.AUDIO ? `group ${a.AUDIO}` : 'muxed'})`);
      // Every audio track the variant can be played with must be decodable
      // with what CODECS lists.
      for (const src of wantAudio) {
        if (audio.length && audio.every((c) => codecMismatch(c, src))) {
          problems.push(`${where}: no CODECS entry fits the audio of ${src.source} (${src.lang}): ${audio.map((c) => codecMismatch(c, src)).join('; ')}`);
        }
      }
    } else if (audio.length && !a.AUDIO) {
      problems.push(`${where}: CODECS lists audio (${audio}) but the variant has no audio`);
    }
  }
  for (const f of iframes) {
    const where = `I-frame variant at line ${f.line}`;
    if (!f.URI) problems.push(`${where}: no URI`);
    if (!f.BANDWIDTH) problems.push(`${where}: no BANDWIDTH`);
    const codecs = (f.CODECS || '').split(',').filter(Boolean);
    if (!codecs.length || codecs.some((c) => !VIDEO_CODEC.test(c))) problems.push(`${where}: CODECS="${f.CODECS}" should list the video codec only`);
  }
  return { problems, info: { version, variants, media, iframes } };
}

/**
 * A media or I-frame playlist. expect: { iframe (it is listed by an
 * EXT-X-I-FRAME-STREAM-INF), duration (seconds the segments should add up
 * to, or null), durationTolerance }.
 * info: { version, target, map, iframesOnly, segments: [{ duration, uri, byterange: { length, offset } }], total }.
 */
function checkMediaPlaylist(text, { iframe = false, duration = null, durationTolerance = 0.1 } = {}) {
  const problems = [];
  const ls = lines(text);
  if (!text.startsWith('#EXTM3U')) problems.push('does not start with #EXTM3U');
  const version = versionOf(ls, problems);
  const targets = ls.filter((l) => l.tag === '#EXT-X-TARGETDURATION');
  const target = targets.length ? Number(targets[0].value) : null;
  if (targets.length !== 1 || !/^\d+$/.test(targets[0]?.value ?? '')) problems.push('EXT-X-TARGETDURATION missing, repeated or not a decimal integer (§4.3.3.1)');
  const map = ls.find((l) => l.tag === '#EXT-X-MAP');
  const iframesOnly = ls.some((l) => l.tag === '#EXT-X-I-FRAMES-ONLY');
  const segments = [];
  let pending = null;
  let byterange = null;
  let floatDurations = false;
  for (const l of ls) {
    if (l.tag === '#EXTINF') {
      if (pending) problems.push(`line ${l.line}: EXTINF follows another EXTINF with no URI between`);
      const d = l.value.split(',')[0];
      if (!/^\d+(\.\d+)?$/.test(d)) problems.push(`line ${l.line}: EXTINF duration "${d}" is not a decimal`);
      if (d.includes('.')) floatDurations = true;
      pending = { duration: Number(d), line: l.line };
    } else if (l.tag === '#EXT-X-BYTERANGE') {
      const m = /^(\d+)(?:@(\d+))?$/.exec(l.value);
      if (!m) problems.push(`line ${l.line}: EXT-X-BYTERANGE "${l.value}" malformed`);
      else byterange = { length: Number(m[1]), offset: m[2] === undefined ? null : Number(m[2]) };
    } else if (l.tag === '#EXT-X-STREAM-INF' || l.tag === '#EXT-X-MEDIA') {
      problems.push(`line ${l.line}: multivariant tag ${l.tag} in a media playlist`);
    } else if (l.uri) {
      if (!pending) problems.push(`line ${l.line}: URI ${l.uri} without EXTINF`);
      segments.push({ duration: pending?.duration ?? NaN, uri: l.uri, byterange, line: l.line });
      pending = null;
      byterange = null;
    }
  }
  if (!segments.length) problems.push('no segments');
  if (target !== null) {
    for (const s of segments) {
      if (Math.round(s.duration) > target) problems.push(`line ${s.line}: EXTINF ${s.duration} rounds to ${Math.round(s.duration)} > EXT-X-TARGETDURATION ${target} (§4.3.3.1)`);
    }
  }
  // EXT-X-VERSION compatibility (RFC 8216 §7).
  if (floatDurations && version < 3) problems.push(`decimal EXTINF durations need EXT-X-VERSION ≥ 3 (has ${version})`);
  if ((iframesOnly || segments.some((s) => s.byterange)) && version < 4) problems.push(`EXT-X-BYTERANGE / EXT-X-I-FRAMES-ONLY need EXT-X-VERSION ≥ 4 (has ${version})`);
  if (map && iframesOnly && version < 5) problems.push(`EXT-X-MAP in an I-frames-only playlist needs EXT-X-VERSION ≥ 5 (has ${version})`);
  if (map && !iframesOnly && version < 6) problems.push(`EXT-X-MAP without EXT-X-I-FRAMES-ONLY needs EXT-X-VERSION ≥ 6 (has ${version})`);
  if (map && !/URI="[^"]+"/.test(map.value)) problems.push(`EXT-X-MAP without a URI`);
  // VOD.
  if (!ls.some((l) => l.tag === '#EXT-X-ENDLIST')) problems.push('no EXT-X-ENDLIST (a VOD playlist must end)');
  const type = ls.find((l) => l.tag === '#EXT-X-PLAYLIST-TYPE');
  if (type && type.value !== 'VOD') problems.push(`EXT-X-PLAYLIST-TYPE:${type.value} for a VOD title`);
  // I-frame playlists (§4.3.3.6): the tag, and a byte range per I-frame.
  if (iframe && !iframesOnly) problems.push('I-frame playlist without EXT-X-I-FRAMES-ONLY');
  if (iframesOnly) {
    const without = segments.filter((s) => !s.byterange);
    if (without.length) problems.push(`I-frame playlist: ${without.length} of ${segments.length} entries without EXT-X-BYTERANGE (first at line ${without[0].line})`);
    const open = segments.filter((s) => s.byterange && s.byterange.offset === null);
    for (const s of open) {
      const prev = segments[segments.indexOf(s) - 1];
      if (!prev || prev.uri !== s.uri) problems.push(`line ${s.line}: EXT-X-BYTERANGE without offset, and the previous entry is another resource`);
    }
  }
  const total = segments.reduce((a, s) => a + s.duration, 0);
  if (duration !== null && Math.abs(total - duration) > durationTolerance) {
    problems.push(`segments add up to ${total.toFixed(3)} s, the source track lasts ${duration.toFixed(3)} s (tolerance ${durationTolerance} s)`);
  }
  return { problems, info: { version, target, map: map?.value ?? null, iframesOnly, segments, total } };
}

/**
 * RFC 8216 §4.3.4.2: the peak segment bit rate is the largest bit rate of any
 * contiguous set of segments whose total duration is between 0.5 and 1.5
 * times the target duration; the average is total bits over total duration.
 * segments: [{ duration (s), bytes }].
 */
function peakAndAverage(segments, target) {
  let peak = 0;
  let bytes = 0;
  let seconds = 0;
  for (let i = 0; i < segments.length; i++) {
    let b = 0;
    let d = 0;
    for (let j = i; j < segments.length; j++) {
      b += segments[j].bytes;
      d += segments[j].duration;
      if (d > 1.5 * target) break;
      if (d >= 0.5 * target && d > 0) peak = Math.max(peak, (b * 8) / d);
    }
    bytes += segments[i].bytes;
    seconds += segments[i].duration;
  }
  // A playlist shorter than half a target duration has no window: use it whole.
  if (!peak && seconds > 0) peak = (bytes * 8) / seconds;
  return { peak, average: seconds > 0 ? (bytes * 8) / seconds : 0 };
}

/**
 * BANDWIDTH must be at least the measured peak (§4.3.4.2: it MUST be the
 * largest sum of peak segment bit rates of any playable combination of
 * renditions); AVERAGE-BANDWIDTH within 10 % of the measured average (the
 * tolerance of Apple's mediastreamvalidator).
 * declared: { bandwidth, average }; measured: { peak, average }.
 */
function checkBandwidth(where, declared, measured) {
  const problems = [];
  if (declared.bandwidth < Math.floor(measured.peak)) {
    problems.push(`${where}: BANDWIDTH=${declared.bandwidth} is below the measured peak segment bit rate ${Math.round(measured.peak)} (${((100 * (measured.peak - declared.bandwidth)) / declared.bandwidth).toFixed(1)} % over)`);
  }
  if (declared.average !== null && declared.average !== undefined) {
    const off = Math.abs(declared.average - measured.average) / measured.average;
    if (off > 0.1) {
      problems.push(`${where}: AVERAGE-BANDWIDTH=${declared.average}, measured ${Math.round(measured.average)} (${(100 * off).toFixed(1)} % off, > 10 %)`);
    }
  }
  return problems;
}

module.exports = { checkBandwidth, checkMediaPlaylist, checkMultivariant, codecMismatch, peakAndAverage, strictParse };
