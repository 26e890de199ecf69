// A tiny HTTP proxy in front of the edge that breaks one thing, for the
// negative controls of the decoder tests (gstreamer.test.js, vlc.test.js):
// a check that cannot fail proves nothing.
//
//   const proxy = await startFaultProxy(edge.url, { mode: 'drop-segment', index: 2 });
//   // proxy.url + '/muxed_moov_end.mp4/master.m3u8' …
//   await proxy.stop();
//
// Modes (segment `index` counts from 0 within each HLS media playlist):
//   drop-segment  HLS media playlists lose that segment's EXTINF + URI, so the
//                 stream has a hole the player is not told about;
//   404-segment   that segment's URL answers 404 (in every media playlist);
//   none          a plain proxy.
'use strict';

const http = require('node:http');

function isMediaPlaylist(body) {
  return body.startsWith('#EXTM3U') && body.includes('#EXTINF');
}

/** The URI lines of segment `index` in a media playlist (with their EXTINF), or null. */
function segmentAt(lines, index) {
  let n = -1;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('#EXTINF')) {
      n++;
      if (n === index) {
        let j = i + 1;
        while (j < lines.length && (lines[j].startsWith('#') || !lines[j].trim())) j++;
        return { from: i, to: j };
      }
    }
  }
  return null;
}

async function startFaultProxy(target, { mode = 'none', index = 2 } = {}) {
  const broken = new Set(); // absolute URLs (proxy side) that answer 404
  const seen = { playlists: 0, dropped: [], refused: [] };
  const server = http.createServer(async (req, res) => {
    try {
      const here = new URL(req.url, 'http://proxy');
      if (broken.has(decodeURIComponent(here.pathname))) {
        seen.refused.push(req.url);
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('fault proxy: segment removed\n');
        return;
      }
      const upstream = await fetch(target + req.url, {
        method: req.method,
        headers: req.headers.range ? { range: req.headers.range } : {},
        signal: AbortSignal.timeout(60_000),
      });
      let body = Buffer.from(await upstream.arrayBuffer());
      const type = upstream.headers.get('content-type') || 'application/octet-stream';
      if (upstream.status === 200 && type.includes('mpegurl') && isMediaPlaylist(body.toString('utf8'))) {
        seen.playlists++;
        const lines = body.toString('utf8').split('\n');
        const seg = segmentAt(lines, index);
        if (seg && mode === 'drop-segment') {
          seen.dropped.push(lines[seg.to]);
          lines.splice(seg.from, seg.to - seg.from + 1);
          body = Buffer.from(lines.join('\n'));
        } else if (seg && mode === '404-segment') {
          broken.add(decodeURIComponent(new URL(lines[seg.to].trim(), here).pathname));
        }
      }
      const headers = { 'content-type': type, 'content-length': body.length };
      for (const h of ['content-range', 'accept-ranges', 'etag']) {
        if (upstream.headers.get(h)) headers[h] = upstream.headers.get(h);
      }
      res.writeHead(upstream.status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: ${err.message}\n`);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

module.exports = { startFaultProxy };
