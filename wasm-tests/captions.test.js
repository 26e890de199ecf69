// CEA-608/708 captions carried in the video, as a deployment declares
// them (setting `closed_captions`) or an `.ism` does (`<meta
// name="closedCaptions">`): HLS CLOSED-CAPTIONS renditions named by every
// video variant (RFC 8216 §4.3.4.1–2), DASH SCTE 214-1 Accessibility on
// the video AdaptationSets. The strict HLS checker reads the result.
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const { startOrigin } = require('./lib/origin');
const { edgeSkipReason, startEdge } = require('./lib/edge');
const { CT, assertOk, get, text } = require('./lib/edge-http');
const { checkMultivariant } = require('./lib/hls_check');

const skip = process.env.EDGEPACK_EDGE_URL ? 'needs its own settings: unset EDGEPACK_EDGE_URL' : edgeSkipReason() || false;

describe('closed captions signalling', { skip }, () => {
  let origin;
  let edge;
  let E;

  before(async () => {
    origin = await startOrigin({});
    edge = await startEdge({ originUrl: origin.url, settings: { closed_captions: 'CC1=en:English;CC3=es;SERVICE1=fr' } });
    E = edge.url;
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  test('HLS: a CLOSED-CAPTIONS group every video variant names, strictly conforming', async () => {
    for (const format of ['m3u8-cmaf', 'm3u8-aapl']) {
      const res = await get(`${E}/abr/abr.ism/manifest(format=${format})`);
      assertOk(res, CT.hls, { immutable: false });
      const m = text(res);
      const cc = m.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS'));
      // Version 4 MPEG-TS playlists cannot list SERVICEn (RFC 8216 §7).
      assert.equal(cc.length, format === 'm3u8-cmaf' ? 3 : 2, m);
      assert.match(cc[0], /NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID="CC1"$/);
      assert.ok(cc.every((l) => !l.includes('URI=')), m);
      const variants = m.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF'));
      assert.ok(variants.length >= 3 && variants.every((l) => l.includes(',CLOSED-CAPTIONS="cc"')), m);
      const { problems } = checkMultivariant(m);
      assert.deepEqual(problems, [], m);
    }
  });

  test('DASH: SCTE 214-1 Accessibility on the video AdaptationSet', async () => {
    const res = await get(`${E}/abr/abr.ism/manifest(format=mpd-time-cmaf)`);
    assertOk(res, CT.dash, { immutable: false });
    const mpd = text(res);
    assert.ok(mpd.includes('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=eng;CC3=spa"/>'), mpd);
    assert.ok(mpd.includes('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-708:2015" value="1=lang:fra"/>'), mpd);
    const audio = mpd.split('<AdaptationSet').filter((a) => a.includes('contentType="audio"'));
    assert.ok(audio.length > 0 && audio.every((a) => !a.includes('Accessibility')), 'audio sets carry none');
  });
});
