//! HDR signalling end to end: a real encoder's `colr` box (or, without one,
//! its SPS VUI) through the index into the HLS master and the MPD. Needs
//! ffmpeg with libx264/libx265; skips with a message without it.

use crate::media_set::{MediaSet, SourceFile};
use crate::testutil::TempDir;
use crate::url::Format;
use std::path::Path;
use std::process::Command;

/// Encodes one second of `testsrc` tagged with `trc` (an ffmpeg
/// `-color_trc` name) and BT.2020 primaries/matrix, with `colr` written;
/// `None` (after saying why) when ffmpeg or libx264 is missing.
fn encode(dir: &Path, trc: &str) -> Option<bytes::Bytes> {
    let out = dir.join(format!("{trc}.mp4"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=320x240:rate=25")
        .args(["-t", "1", "-c:v", "libx264", "-color_trc", trc])
        .args(["-color_primaries", "bt2020", "-colorspace", "bt2020nc"])
        .args(["-movflags", "+write_colr"])
        .arg(&out)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "hdr_tests: ffmpeg with libx264 is not available: skipped"
        );
        return None;
    }
    // ffprobe agrees on what was tagged (when it is installed).
    if let Ok(o) = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=color_transfer", "-of", "default=nw=1:nk=1"])
        .arg(&out)
        .output()
    {
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), trc);
    }
    std::fs::read(&out).ok().map(bytes::Bytes::from)
}

/// The one-file set of `file`, after checking its index holds BT.2020
/// primaries and matrix and `transfer` (from `colr` or the VUI).
fn bt2020_set(file: &bytes::Bytes, trc: &str, transfer: u16) -> MediaSet {
    let idx = crate::index::index_whole_file(file, "").unwrap();
    let c = idx.tracks[0].info.colour.expect("a colour");
    assert_eq!((c.primaries, c.transfer, c.matrix), (9, transfer, 9));
    let path = format!("{trc}.mp4");
    MediaSet::all_tracks(vec![SourceFile { path, index: idx }], 2000).unwrap()
}

#[test]
fn ffmpeg_pq_and_hlg_titles_signal_their_range() {
    let dir = TempDir::new("hdr");
    for (trc, range, transfer) in [("smpte2084", "PQ", 16), ("arib-std-b67", "HLG", 18)] {
        let Some(file) = encode(&dir, trc) else {
            break;
        };
        let set = bt2020_set(&file, trc, transfer);
        for format in [Format::HlsCmaf, Format::HlsTs] {
            let m = super::hls::multivariant(&set, format).unwrap();
            let infs: Vec<&str> = m.lines().filter(|l| l.contains("STREAM-INF")).collect();
            assert!(!infs.is_empty(), "{m}");
            for l in infs {
                assert!(l.contains(&format!(",VIDEO-RANGE={range}")), "{m}");
            }
        }
        let mpd = super::dash::mpd(&set, Format::DashCmaf).unwrap();
        assert!(
            mpd.contains(&format!(
                "<SupplementalProperty schemeIdUri=\"urn:mpeg:mpegB:cicp:TransferCharacteristics\" value=\"{transfer}\"/>"
            )),
            "{mpd}"
        );
    }
}

/// libx265 told the colour only through its own parameters: ffmpeg writes
/// no `colr`, so the range comes from the SPS VUI (`codec::vui`).
#[test]
fn x265_vui_only_titles_signal_their_range() {
    let dir = TempDir::new("hdr-vui");
    for (trc, range, transfer) in [("smpte2084", "PQ", 16), ("arib-std-b67", "HLG", 18)] {
        let out = dir.join(format!("{trc}.mp4"));
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc=size=160x96:rate=25")
            .args(["-t", "0.4", "-pix_fmt", "yuv420p10le", "-c:v", "libx265"])
            .arg("-x265-params")
            .arg(format!(
                "log-level=none:colorprim=bt2020:transfer={trc}:colormatrix=bt2020nc"
            ))
            .args(["-tag:v", "hvc1"])
            .arg(&out)
            .status();
        if !status.is_ok_and(|s| s.success()) {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "hdr_tests: no ffmpeg with libx265: skipped"
            );
            break;
        }
        let file = bytes::Bytes::from(std::fs::read(&out).unwrap());
        assert!(
            !file.windows(4).any(|w| w == b"colr"),
            "ffmpeg wrote a colr"
        );
        let set = bt2020_set(&file, trc, transfer);
        let m = super::hls::multivariant(&set, Format::HlsCmaf).unwrap();
        assert!(m.contains(&format!(",VIDEO-RANGE={range}")), "{m}");
    }
}

/// AV1 (SVT-AV1) and VP9 (libvpx) titles whose `colr` box is gone (renamed
/// `free` in place, as muxers that never write one leave them): the range
/// comes from the AV1 sequence header in `av1C` or from `vpcC`
/// (`codec::av1`), read from a real encoder's bytes.
#[test]
fn av1_and_vp9_without_colr_signal_their_range() {
    let dir = TempDir::new("hdr-av1");
    for encoder in ["libsvtav1", "libvpx-vp9"] {
        for (trc, range, transfer) in [("smpte2084", "PQ", 16), ("arib-std-b67", "HLG", 18)] {
            let out = dir.join(format!("{encoder}-{trc}.mp4"));
            let status = Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg("testsrc=size=160x96:rate=25")
                .args(["-t", "0.2", "-pix_fmt", "yuv420p10le", "-c:v", encoder])
                .args(["-color_primaries", "bt2020", "-colorspace", "bt2020nc"])
                .args(["-color_trc", trc])
                .arg(&out)
                .stderr(std::process::Stdio::null())
                .status();
            if !status.is_ok_and(|s| s.success()) {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "hdr_tests: no ffmpeg with {encoder}: skipped"
                );
                break;
            }
            let mut file = std::fs::read(&out).unwrap();
            let at = file.windows(4).position(|w| w == b"colr").expect("a colr");
            file[at..at + 4].copy_from_slice(b"free");
            let file = bytes::Bytes::from(file);
            let set = bt2020_set(&file, trc, transfer);
            let m = super::hls::multivariant(&set, Format::HlsCmaf).unwrap();
            assert!(
                m.contains(&format!(",VIDEO-RANGE={range}")),
                "{encoder}: {m}"
            );
        }
    }
}

/// A 2 s title of one video track whose entry (type `fourcc`, an `avc1`
/// layout) carries `dvcC` payload `dvcc`, plus audio with `audio` entry.
fn dolby_set(fourcc: &[u8; 4], dvcc: &[u8], audio: Option<Vec<u8>>) -> MediaSet {
    use crate::testutil::{synth_set, video_entry, SynthTrack};
    let mut entry = video_entry(&[(b"dvcC", dvcc)]);
    entry[4..8].copy_from_slice(fourcc);
    let mut a = SynthTrack::audio(94);
    if let Some(e) = audio {
        a = a.with_entry(e);
    }
    synth_set(&[SynthTrack::video(50, 25, 25).with_entry(entry), a], 2000)
}

/// `dvcC`: profile `p`, level `l`, RPU + BL, compatibility id `c`.
fn dvcc(p: u8, l: u8, c: u8) -> [u8; 24] {
    let mut b = [0u8; 24];
    b[0] = 1;
    b[2] = (p << 1) | (l >> 5);
    b[3] = ((l & 0x1f) << 3) | 0x04 | 0x01;
    b[4] = c << 4;
    b
}

fn stream_inf(m: &str) -> Vec<&str> {
    m.lines()
        .filter(|l| {
            l.starts_with("#EXT-X-STREAM-INF") || l.starts_with("#EXT-X-I-FRAME-STREAM-INF")
        })
        .collect()
}

/// Dolby Vision with a compatible base layer (profiles 8.x/9.x/10.x): the
/// base codec stays in CODECS / `@codecs`, the DV layer is offered as HLS
/// SUPPLEMENTAL-CODECS with the brand of the base layer (RFC 8216bis
/// §4.4.6.2) and as SCTE 214 supplemental codecs in the MPD; VIDEO-RANGE
/// follows the base layer when there is no `colr`.
#[test]
fn dolby_vision_backward_compatible_layers() {
    // An SDR base layer alone in its title needs no VIDEO-RANGE (its
    // absence means SDR).
    for (compat, brand, range) in [
        (1, "db1p", ",VIDEO-RANGE=PQ"),
        (2, "db2g", ""),
        (4, "db4h", ",VIDEO-RANGE=HLG"),
    ] {
        let set = dolby_set(b"avc1", &dvcc(9, 5, compat), None);
        for format in [Format::HlsCmaf, Format::HlsTs] {
            let m = super::hls::multivariant(&set, format).unwrap();
            let infs = stream_inf(&m);
            assert!(!infs.is_empty(), "{m}");
            for l in infs {
                assert!(l.contains("CODECS=\"avc1.64001f"), "{l}");
                assert!(
                    l.contains(&format!(",SUPPLEMENTAL-CODECS=\"dva1.09.05/{brand}\"")),
                    "{l}"
                );
                assert!(l.contains(range), "{l}");
                assert_eq!(
                    l.matches("VIDEO-RANGE").count(),
                    usize::from(!range.is_empty())
                );
            }
        }
        let mpd = super::dash::mpd(&set, Format::DashCmaf).unwrap();
        assert!(
            mpd.contains("xmlns:scte214=\"urn:scte:dash:scte214-extensions\""),
            "{mpd}"
        );
        assert!(
            mpd.contains(&format!(
                "codecs=\"avc1.64001f\" scte214:supplementalCodecs=\"dva1.09.05\" scte214:supplementalProfiles=\"{brand}\""
            )),
            "{mpd}"
        );
    }
    // No base-layer brand (compatibility 0): nothing supplemental to offer.
    let set = dolby_set(b"avc1", &dvcc(9, 5, 0), None);
    let m = super::hls::multivariant(&set, Format::HlsCmaf).unwrap();
    assert!(
        !m.contains("SUPPLEMENTAL-CODECS") && !m.contains("VIDEO-RANGE"),
        "{m}"
    );
    let mpd = super::dash::mpd(&set, Format::DashCmaf).unwrap();
    assert!(!mpd.contains("scte214"), "{mpd}");
}

/// A Dolby-Vision-only entry is named by its DV codec string; profile 5
/// is PQ.
#[test]
fn dolby_vision_only_entries_use_the_dv_codec() {
    let set = dolby_set(b"dva1", &dvcc(5, 6, 0), None);
    let m = super::hls::multivariant(&set, Format::HlsCmaf).unwrap();
    for l in stream_inf(&m) {
        assert!(l.contains("CODECS=\"dva1.05.06"), "{l}");
        assert!(!l.contains("SUPPLEMENTAL-CODECS"), "{l}");
        assert!(l.contains(",VIDEO-RANGE=PQ"), "{l}");
    }
    let mpd = super::dash::mpd(&set, Format::DashCmaf).unwrap();
    assert!(mpd.contains("codecs=\"dva1.05.06\""), "{mpd}");
    assert!(!mpd.contains("scte214"), "{mpd}");
}

/// E-AC-3 with JOC (Dolby Atmos): HLS `CHANNELS="16/JOC"` (Apple HLS
/// authoring specification), DASH extension type and complexity index
/// descriptors (ETSI TS 103 420 Annex D.2); plain E-AC-3 keeps its channel
/// count and gets neither.
#[test]
fn atmos_signalling_from_dec3() {
    use crate::testutil::audio_entry;
    // 640 kbit/s, one independent substream 3/2 + LFE; then the JOC
    // extension with complexity index 16 (or none).
    let joc: &[u8] = &[0x14, 0x00, 0x20, 0x0f, 0x00, 0x01, 0x10];
    for (dec3, channels, atmos) in [(joc, "16/JOC", true), (&joc[..5], "6", false)] {
        let set = dolby_set(
            b"avc1",
            &dvcc(9, 5, 0),
            Some(audio_entry(b"ec-3", &[(b"dec3", dec3)])),
        );
        let m = super::hls::multivariant(&set, Format::HlsCmaf).unwrap();
        let media = m
            .lines()
            .find(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
            .unwrap();
        assert!(
            media.contains(&format!(",CHANNELS=\"{channels}\"")),
            "{media}"
        );
        let mpd = super::dash::mpd(&set, Format::DashCmaf).unwrap();
        let joc_props = [
            "<SupplementalProperty schemeIdUri=\"tag:dolby.com,2018:dash:EC3_ExtensionType:2018\" value=\"JOC\"/>",
            "<SupplementalProperty schemeIdUri=\"tag:dolby.com,2018:dash:EC3_ExtensionComplexityIndex:2018\" value=\"16\"/>",
        ];
        for p in joc_props {
            assert_eq!(mpd.contains(p), atmos, "{mpd}");
        }
        if atmos {
            // After AudioChannelConfiguration, as RepresentationBaseType orders them.
            let acc = mpd.find("<AudioChannelConfiguration").unwrap();
            assert!(mpd.find(joc_props[0]).unwrap() > acc, "{mpd}");
        }
    }
}
