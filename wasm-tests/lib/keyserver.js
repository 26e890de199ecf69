// A test key provider (SPEKE v2.0 / DASH-IF CPIX 2.3), in the test's own
// process, plain `http`: it takes a POST of a CPIX request document, checks
// it is one (CPIX root in the CPIX namespace, version 2.3, a contentId,
// ContentKeys without values), and answers the same document with each
// ContentKey's value filled in. The key of a key id is derived from it
// (keyOf), so the test knows every key; every request is logged.
//
//   const ks = await startKeyServer({ authorization: 'Bearer …' });
//   ks.url            // http://127.0.0.1:PORT/speke/v2.0
//   ks.requests       // [{ contentId, kids, body }], the valid ones
//   ks.rejected       // [reason], requests answered 400
//   ks.mode = 503     // answer every request with this status instead
//   await ks.stop();
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');

const PATH = '/speke/v2.0';
const CPIX_NS = 'urn:dashif:org:cpix';
const MAX_BODY = 64 << 10;

/** The 16-byte key (hex) the server gives key id `kid` (a UUID). */
function keyOf(kid) {
  return crypto.createHash('sha256').update(`edgepack-test-key/${kid.toLowerCase()}`).digest().subarray(0, 16).toString('hex');
}

/** Why `body` is not a CPIX request, or null; fills `out` with what it asks. */
function checkRequest(body, out) {
  const root = /<([A-Za-z_][\w.-]*:)?CPIX\b([^>]*)>/.exec(body);
  if (!root) return 'no CPIX root element';
  const prefix = (root[1] || '').replace(/:$/, '');
  const nsAttr = prefix ? `xmlns:${prefix}` : 'xmlns';
  const ns = new RegExp(`${nsAttr}="([^"]*)"`).exec(root[2]);
  if (!ns || ns[1] !== CPIX_NS) return `CPIX is not in the ${CPIX_NS} namespace`;
  if (!/\bversion="2\.3"/.test(root[2])) return 'not version 2.3';
  const contentId = /\bcontentId="([^"]*)"/.exec(root[2]);
  if (!contentId) return 'no contentId';
  out.contentId = contentId[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  const p = prefix ? `${prefix}:` : '';
  const keys = [...body.matchAll(new RegExp(`<${p}ContentKey\\b([^>]*?)(/?)>`, 'g'))];
  if (!keys.length) return 'no ContentKey';
  out.kids = [];
  for (const k of keys) {
    if (!k[2]) return 'a ContentKey with content (a value?)';
    const kid = /\bkid="([0-9a-fA-F-]{36})"/.exec(k[1]);
    if (!kid) return 'a ContentKey without a UUID kid';
    out.kids.push(kid[1].toLowerCase());
  }
  return null;
}

/** The answer: the request with every ContentKey's PlainValue. */
function answer(body, prefix) {
  const p = prefix ? `${prefix}:` : '';
  return body.replace(new RegExp(`<${p}ContentKey\\b([^>]*?)/>`, 'g'), (all, attrs) => {
    const kid = /\bkid="([^"]+)"/.exec(attrs)[1];
    const value = Buffer.from(keyOf(kid), 'hex').toString('base64');
    return `<${p}ContentKey${attrs}><${p}Data><pskc:Secret><pskc:PlainValue>${value}</pskc:PlainValue></pskc:Secret></${p}Data></${p}ContentKey>`;
  });
}

/** Options: authorization, the `Authorization` value every request must carry (else 401). */
async function startKeyServer({ authorization } = {}) {
  const state = { requests: [], rejected: [], mode: null };
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const reject = (why) => {
        state.rejected.push(why);
        res.writeHead(400, { 'content-type': 'text/plain' }).end(why);
      };
      // Viceroy probes its backends with `GET /` at start: not a key request.
      if (req.method === 'GET' && req.url === '/') return res.writeHead(200).end('key server');
      if (req.method !== 'POST') return reject(`method ${req.method} ${req.url}`);
      if (new URL(req.url, 'http://x').pathname !== PATH) return reject(`path ${req.url}`);
      if (!/^(application|text)\/xml\b/.test(req.headers['content-type'] || '')) return reject(`content-type ${req.headers['content-type']}`);
      if (size > MAX_BODY) return reject('body too large');
      if (authorization && req.headers.authorization !== authorization) {
        state.rejected.push('no or wrong Authorization');
        return res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized');
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const asked = {};
      const why = checkRequest(body, asked);
      if (why) return reject(why);
      state.requests.push({ ...asked, body });
      if (state.mode) return res.writeHead(state.mode, { 'content-type': 'text/plain' }).end('key server failure (test)');
      const prefix = /<([A-Za-z_][\w.-]*):CPIX\b/.exec(body)?.[1] || '';
      res.writeHead(200, { 'content-type': 'application/xml' }).end(answer(body, prefix));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}${PATH}`,
    port,
    get requests() {
      return state.requests;
    },
    get rejected() {
      return state.rejected;
    },
    set mode(status) {
      state.mode = status;
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

module.exports = { keyOf, startKeyServer };
