use super::*;
use crate::input::ism::SidecarFormat;
use crate::testutil::{synth_set, SynthTrack};

/// The subtitle playlist as it was written before [`playlist`] lost the
/// formatting machinery: `{:.6}` of the `f64` quotient and a URL built
/// per segment. Kept here as the reference the new writer must match
/// byte for byte.
fn formatted_playlist(set: &MediaSet, t: &TextTrack, format: Format) -> String {
    let reference = set.tracks.first().unwrap();
    let info = &set.track_index(reference).info;
    let segs = set.segments(reference).unwrap();
    let ts = f64::from(info.timescale);
    let target = super::super::target_duration(&segs, info.timescale);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n",
        version(format)
    );
    let tr = track_ref(t);
    for s in segs.iter() {
        let time = rescale(s.start, info.timescale, HNS).max(0) as u64;
        let uri = url::text_fragment_url(&tr, time, format);
        let _ = write!(
            out,
            "#EXTINF:{:.6},\n{}\n",
            s.duration as f64 / ts,
            strip_quality_levels(&uri)
        );
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

fn text_track() -> TextTrack {
    TextTrack {
        path: "d/long.vtt".into(),
        name: "textstream_eng".into(),
        bitrate: 1000,
        language: "eng".into(),
        role: TextRole::Subtitle,
        sdh: false,
        format: SidecarFormat::WebVtt,
        embedded: None,
        default: false,
    }
}

/// A video track at `timescale` whose samples, one byte each, are all
/// keyframes of these durations (so each is its own segment).
fn keyframes(timescale: u32, durations: &[u32]) -> SynthTrack {
    SynthTrack {
        video: true,
        timescale,
        samples: durations.iter().map(|&d| (d, 1, true, 0)).collect(),
        edit: None,
        entry: None,
        elst: Vec::new(),
        handler: None,
        payloads: Vec::new(),
        language: 0x15c7,
        more_entries: Vec::new(),
    }
}

/// A video track at `timescale` of `count` keyframes, each its own
/// segment, whose durations (2 to 5 s, pseudo-random: xorshift from
/// `seed`) are whatever the timescale makes of them.
fn long_title(timescale: u32, count: u32, seed: u64) -> (MediaSet, Vec<u64>) {
    let mut x = seed;
    let durations: Vec<u32> = (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let span = u64::from(timescale) * 3;
            (u64::from(timescale) * 2 + x % span.max(1)) as u32
        })
        .collect();
    let set = synth_set(&[keyframes(timescale, &durations)], 1000);
    let durations = set
        .segments(&set.tracks[0])
        .unwrap()
        .iter()
        .map(|s| s.duration)
        .collect();
    (set, durations)
}

#[test]
fn subtitle_playlist_is_byte_identical_to_the_formatted_one() {
    let t = text_track();
    // Odd timescales: 1/90 000 and 1/30 000 have no finite decimal form
    // (about half the durations round up at the sixth decimal); at
    // 10 MHz one duration in ten lies exactly on a half microsecond (the
    // f64 path); 7 and a prime near 2²⁴ for good measure.
    for (timescale, seed) in [
        (90_000, 1),
        (30_000, 2),
        (10_000_000, 3),
        (48_000, 4),
        (7, 5),
        (16_777_213, 6),
        (1000, 7),
    ] {
        // About 2 h at 3.5 s a segment.
        let (set, durations) = long_title(timescale, 2000, 0x9e37_79b9_7f4a_7c15 ^ seed);
        assert!(
            durations.len() > 1500,
            "{timescale}: {} segments",
            durations.len()
        );
        let ts = u128::from(timescale);
        let rounded_up = durations
            .iter()
            .filter(|&&d| 2 * (u128::from(d) * 1_000_000 % ts) > ts)
            .count();
        if 1_000_000 % timescale != 0 {
            // Truncating instead of rounding would change these lines:
            // the comparison below sees the rounding.
            assert!(rounded_up > 100, "{timescale}: {rounded_up} round up");
        }
        for format in [Format::HlsCmaf, Format::HlsTs, Format::HlsTsV3] {
            let new = playlist(&set, &t, format).unwrap();
            let old = formatted_playlist(&set, &t, format);
            assert_eq!(new.lines().count(), old.lines().count());
            for (n, o) in new.lines().zip(old.lines()) {
                assert_eq!(n, o, "timescale {timescale}, {format:?}");
            }
            assert_eq!(new, old, "timescale {timescale}, {format:?}");
        }
    }
}

#[test]
fn subtitle_playlist_lines_are_pinned() {
    // 90 kHz, 6.006 s and 2 s + 5 ticks: `EXTINF` rounds to the nearest
    // microsecond (2.000056 s, not 2.0000555… cut to 2.000055), URLs in
    // 100 ns units.
    let set = synth_set(&[keyframes(90_000, &[540_540, 180_005])], 1000);
    let p = playlist(&set, &text_track(), Format::HlsCmaf).unwrap();
    assert_eq!(
        p,
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXTINF:6.006000,\nFragments(textstream_eng=0,format=m3u8-cmaf).vtt\n\
         #EXTINF:2.000056,\nFragments(textstream_eng=60060000,format=m3u8-cmaf).vtt\n\
         #EXT-X-ENDLIST\n"
    );
}
