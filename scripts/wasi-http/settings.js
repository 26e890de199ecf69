// The edge's settings for the wasi:http build, taken from fastly.toml so both
// runtimes run with the same ones: each key of
// [local_server.config_stores.edgepack.contents] becomes EDGEPACK_<KEY>
// (segment_ms → EDGEPACK_SEGMENT_MS), the environment variables the wasi:http
// component reads instead of a config store. EDGEPACK_ORIGIN (the backend URL)
// is the caller's to add.
//
//   require('./settings').settingsEnv()            // { EDGEPACK_SEGMENT_MS: '6000', … }
//   node scripts/wasi-http/settings.js [fastly.toml]  # KEY=VALUE lines, for scripts/run.sh
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const FASTLY_TOML = path.resolve(__dirname, '..', '..', 'fastly.toml');
const SECTION = 'local_server.config_stores.edgepack.contents';

/**
 * { EDGEPACK_<KEY>: value } from the config store section of `source` (the
 * text of fastly.toml). Only the flat `key = "value"` form Fastly's
 * inline-toml store uses is read; anything else in that section throws
 * rather than being silently dropped.
 */
function settingsEnv(source = fs.readFileSync(FASTLY_TOML, 'utf8')) {
  const env = {};
  let section = null;
  for (const raw of source.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[([^\]]+)\]\s*(#.*)?$/.exec(line);
    if (header) {
      section = header[1].trim();
      continue;
    }
    if (section !== SECTION) continue;
    const kv = /^([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s#]+)\s*(#.*)?$/.exec(line);
    if (!kv) throw new Error(`fastly.toml [${SECTION}]: cannot read line: ${line}`);
    const [, key, value] = kv;
    let text = value;
    if (value.startsWith('"')) text = JSON.parse(value);
    else if (value.startsWith("'")) text = value.slice(1, -1);
    env[`EDGEPACK_${key.toUpperCase().replace(/-/g, '_')}`] = text;
  }
  return env;
}

if (require.main === module) {
  const file = process.argv[2];
  const env = settingsEnv(file ? fs.readFileSync(file, 'utf8') : undefined);
  for (const [key, value] of Object.entries(env)) {
    if (/[\n\r]/.test(value)) throw new Error(`${key}: a value with a line break cannot be passed on as a line`);
    process.stdout.write(`${key}=${value}\n`);
  }
}

module.exports = { FASTLY_TOML, settingsEnv };
