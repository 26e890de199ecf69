//! HDR signalling end to end: a real encoder's `colr` box through the
//! index into the HLS master and the MPD. Needs ffmpeg with libx264; skips
//! with a message without it.

use crate::media_set::{MediaSet, SourceFile};
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

#[test]
fn ffmpeg_pq_and_hlg_titles_signal_their_range() {
    let dir = std::env::temp_dir().join(format!("edgepack-hdr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (trc, range, transfer) in [("smpte2084", "PQ", 16), ("arib-std-b67", "HLG", 18)] {
        let Some(file) = encode(&dir, trc) else {
            break;
        };
        // The `colr` box itself, not the H.264 VUI, is what we read.
        let idx = crate::index::index_whole_file(&file, "").unwrap();
        let c = idx.tracks[0].info.colour.expect("colr written");
        assert_eq!((c.primaries, c.transfer, c.matrix), (9, transfer, 9));
        let set = MediaSet::all_tracks(
            vec![SourceFile {
                path: format!("{trc}.mp4"),
                index: idx,
            }],
            2000,
        )
        .unwrap();
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
    let _ = std::fs::remove_dir_all(&dir);
}
