// Just enough HLS / DASH / Smooth manifest reading for tests to compare what a
// player lists with what the edge advertised: the video renditions and the
// audio tracks (with languages). Not a validator.
//
//   const m = summarize(text, 'hls');   // or 'dash', 'smooth'
//   m.video  -> [{ width, height, bitrate }] (sorted by bitrate)
//   m.audio  -> [{ lang, name }]
'use strict';

/** "a=1,B=\"x,y\"" -> { A: '1', B: 'x,y' } (HLS attribute lists, RFC 8216 §4.2). */
function hlsAttributes(list) {
  const out = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/gi;
  let m;
  while ((m = re.exec(list))) out[m[1].toUpperCase()] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
  return out;
}

const AUDIO_CODEC = /^(mp4a|ac-3|ec-3|ac-4|opus|flac|dts[a-z])/i;

function summarizeHls(text) {
  const video = [];
  const audio = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.startsWith('#EXT-X-STREAM-INF:')) {
      const a = hlsAttributes(line.slice('#EXT-X-STREAM-INF:'.length));
      const [width, height] = (a.RESOLUTION || '0x0').split('x').map(Number);
      let uri = '';
      for (let j = i + 1; j < lines.length; j++) {
        const next = lines[j].trim();
        if (next && !next.startsWith('#')) {
          uri = next;
          break;
        }
      }
      const codecs = a.CODECS || '';
      const audioOnly = !a.RESOLUTION && codecs !== '' && codecs.split(',').every((c) => AUDIO_CODEC.test(c.trim()));
      if (audioOnly) {
        // A variant of audio alone (an audio-only asset): the audio track itself.
        audio.push({ lang: '', name: '', group: null, default: true, uri, bitrate: Number(a.BANDWIDTH), codecs });
      } else {
        video.push({ width, height, bitrate: Number(a.BANDWIDTH), codecs, audioGroup: a.AUDIO || null, uri });
      }
    } else if (line.startsWith('#EXT-X-MEDIA:')) {
      const a = hlsAttributes(line.slice('#EXT-X-MEDIA:'.length));
      if ((a.TYPE || '').toUpperCase() === 'AUDIO') {
        audio.push({ lang: a.LANGUAGE || '', name: a.NAME || '', group: a['GROUP-ID'], default: a.DEFAULT === 'YES', uri: a.URI || null });
      }
    }
  }
  return { video: sortByBitrate(video), audio };
}

/** Tags of an XML document as { name, attrs, children } (no text, no namespaces). */
function parseXml(text) {
  const root = { name: '#document', attrs: {}, children: [] };
  const stack = [root];
  const re = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
  let m;
  while ((m = re.exec(text))) {
    if (!m[2]) continue; // comment or processing instruction
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      while (stack.length > 1 && stack.pop().name !== name);
      continue;
    }
    const attrs = {};
    const ar = /([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
    let a;
    while ((a = ar.exec(attrText))) attrs[a[1]] = a[2] ?? a[3];
    const node = { name: name.replace(/^.*:/, ''), attrs, children: [] };
    stack[stack.length - 1].children.push(node);
    if (!selfClosing) stack.push(node);
  }
  return root;
}

function* walk(node) {
  yield node;
  for (const c of node.children) yield* walk(c);
}

function summarizeDash(text) {
  const doc = parseXml(text);
  const video = [];
  const audio = [];
  for (const set of walk(doc)) {
    if (set.name !== 'AdaptationSet') continue;
    for (const rep of set.children.filter((c) => c.name === 'Representation')) {
      const type = (set.attrs.contentType || (rep.attrs.mimeType || set.attrs.mimeType || '').split('/')[0]).toLowerCase();
      if (type === 'video') {
        video.push({
          width: Number(rep.attrs.width || set.attrs.width || 0),
          height: Number(rep.attrs.height || set.attrs.height || 0),
          bitrate: Number(rep.attrs.bandwidth),
          codecs: rep.attrs.codecs || set.attrs.codecs || '',
          id: rep.attrs.id,
        });
      } else if (type === 'audio') {
        audio.push({ lang: set.attrs.lang || '', name: rep.attrs.id || '', bitrate: Number(rep.attrs.bandwidth), codecs: rep.attrs.codecs || set.attrs.codecs || '' });
      }
    }
  }
  return { video: sortByBitrate(video), audio };
}

function summarizeSmooth(text) {
  const doc = parseXml(text);
  const video = [];
  const audio = [];
  for (const index of walk(doc)) {
    if (index.name !== 'StreamIndex') continue;
    const type = (index.attrs.Type || '').toLowerCase();
    for (const q of index.children.filter((c) => c.name === 'QualityLevel')) {
      if (type === 'video') {
        video.push({
          width: Number(q.attrs.MaxWidth || index.attrs.MaxWidth || 0),
          height: Number(q.attrs.MaxHeight || index.attrs.MaxHeight || 0),
          bitrate: Number(q.attrs.Bitrate),
          codecs: q.attrs.FourCC || '',
        });
      } else if (type === 'audio') {
        audio.push({ lang: index.attrs.Language || '', name: index.attrs.Name || '', bitrate: Number(q.attrs.Bitrate), codecs: q.attrs.FourCC || '' });
      }
    }
  }
  return { video: sortByBitrate(video), audio };
}

function sortByBitrate(list) {
  return list.sort((a, b) => a.bitrate - b.bitrate || a.height - b.height);
}

/** kind: 'hls' | 'dash' | 'smooth'. */
function summarize(text, kind) {
  switch (kind) {
    case 'hls':
      return summarizeHls(text);
    case 'dash':
      return summarizeDash(text);
    case 'smooth':
      return summarizeSmooth(text);
    default:
      throw new Error(`unknown manifest kind ${kind}`);
  }
}

/** A language tag reduced to its primary subtag, ISO 639-2 folded to 639-1 ('fra' -> 'fr'). */
function primaryLanguage(tag) {
  if (!tag || tag === 'und') return 'und';
  let canon;
  try {
    [canon] = Intl.getCanonicalLocales(tag);
  } catch {
    canon = tag;
  }
  return canon.split('-')[0].toLowerCase();
}

module.exports = { hlsAttributes, parseXml, primaryLanguage, summarize };
