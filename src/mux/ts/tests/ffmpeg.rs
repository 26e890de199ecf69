use super::*;
use crate::mux::adts::{split_adts, AdtsHeader};
use crate::mux::annexb::split_annexb;
use crate::testutil::TempDir;
use std::path::Path;
use std::process::Command;

const FPS_TIMESCALE: u32 = 12_288;

fn available() -> bool {
    let ok = |name: &str, arg: &str| {
        Command::new(name)
            .arg(arg)
            .output()
            .map(|o| {
                (
                    o.status.success(),
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                )
            })
            .ok()
    };
    matches!(ok("ffprobe", "-version"), Some((true, _)))
        && matches!(ok("ffmpeg", "-encoders"), Some((true, e)) if e.contains("libx264"))
}

/// Runs a tool, asserting success and an empty stderr; returns stdout.
/// `cmd` is split on whitespace (no argument here has a space).
fn run(dir: &Path, cmd: &str) -> String {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let out = Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{args:?}: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `-of compact=p=0` lines as key → value maps.
fn compact(out: &str) -> Rows {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split('|')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn num(m: &HashMap<String, String>, k: &str) -> i64 {
    m[k].parse().unwrap_or_else(|_| panic!("{k}={}", m[k]))
}

/// ffprobe rows: `key=value` maps.
type Rows = Vec<HashMap<String, String>>;

struct Source {
    video: Vec<MuxSample>,
    avc: Codec,
    audio: Vec<MuxSample>,
    aac: Codec,
}

const ENCODE_VIDEO: &str = "ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=24 \
    -t 4 -c:v libx264 -bf 2 -g 24 -sc_threshold 0 -pix_fmt yuv420p v.mp4";
const TO_ANNEXB: &str = "ffmpeg -v error -y -i v.mp4 -c:v copy \
    -bsf:v h264_mp4toannexb,h264_metadata=aud=insert -f h264 v.h264";
const ENCODE_AUDIO: &str = "ffmpeg -v error -y -f lavfi -i sine=f=440:sample_rate=48000 \
    -t 4 -c:a aac -f adts a.aac";
const PROBE_VIDEO: &str = "ffprobe -v error -select_streams v:0 -of compact=p=0 -show_entries";

fn encode(dir: &Path) -> Source {
    run(dir, ENCODE_VIDEO);
    run(dir, TO_ANNEXB);
    run(dir, ENCODE_AUDIO);
    let tb = run(dir, &format!("{PROBE_VIDEO} stream=time_base v.mp4"));
    assert_eq!(tb.trim(), format!("time_base=1/{FPS_TIMESCALE}"));
    // MP4 packet times (decode order): pts starts at 0, dts < 0.
    let timing = compact(&run(
        dir,
        &format!("{PROBE_VIDEO} packet=pts,dts,duration,flags v.mp4"),
    ));

    let h264 = std::fs::read(dir.join("v.h264")).unwrap();
    let (mut sps, mut pps, mut units) = (None, None, Vec::<Vec<&[u8]>>::new());
    for nal in split_annexb(&h264) {
        match nal[0] & 0x1F {
            9 => units.push(Vec::new()),
            7 => sps = sps.or(Some(nal)),
            8 => pps = pps.or(Some(nal)),
            _ => units.last_mut().expect("AU starts with an AUD").push(nal),
        }
    }
    assert_eq!(units.len(), timing.len());
    let video = units
        .iter()
        .zip(&timing)
        .map(|(nals, t)| MuxSample {
            dts: num(t, "dts"),
            pts: num(t, "pts"),
            duration: num(t, "duration") as u32,
            sync: t["flags"].starts_with('K'),
            data: sample_of(nals),
        })
        .collect();

    let adts = std::fs::read(dir.join("a.aac")).unwrap();
    let (h, _) = AdtsHeader::parse(&adts).unwrap();
    let audio = split_adts(&adts)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, f)| audio_sample(i as i64 * 1024, 1024, Bytes::copy_from_slice(f)))
        .collect();
    Source {
        video,
        avc: avc(sps.unwrap(), pps.unwrap()),
        audio,
        aac: aac(
            h.profile + 1,
            h.sampling_frequency_index,
            48_000,
            h.channel_config,
        ),
    }
}

/// Writes a segment the way the edge streams it, chunk by chunk.
fn write(dir: &Path, name: &str, mut s: TsSegment) -> u64 {
    let len = s.len();
    let mut file = Vec::new();
    for chunk in s.by_ref() {
        file.extend_from_slice(&chunk);
    }
    assert_eq!(file.len() as u64, len, "{name}: Content-Length");
    std::fs::write(dir.join(name), &file).unwrap();
    len
}

/// (codec, frames decoded, packets) per stream, and packets.
fn probe(dir: &Path, name: &str) -> (Vec<(String, i64, i64)>, Rows) {
    let out = run(dir, &format!("ffmpeg -v error -i {name} -f null -"));
    assert!(out.trim().is_empty());
    let mut seen = std::collections::HashSet::new();
    let streams = compact(&run(
        dir,
        &format!(
            "ffprobe -v error -count_frames -count_packets -of compact=p=0 -show_entries \
             stream=index,codec_name,nb_read_frames,nb_read_packets {name}"
        ),
    ))
    .iter()
    // TS streams are listed under their program too.
    .filter(|m| seen.insert(m["index"].clone()))
    .map(|m| {
        let n = |k| num(m, k);
        (
            m["codec_name"].clone(),
            n("nb_read_frames"),
            n("nb_read_packets"),
        )
    })
    .collect();
    let packets = compact(&run(
        dir,
        &format!(
            "ffprobe -v error -of compact=p=0 -show_entries \
             packet=codec_type,pts,dts,flags {name}"
        ),
    ));
    println!("{name}: {streams:?}");
    (streams, packets)
}

fn expect_times(
    packets: &[HashMap<String, String>],
    kind: &str,
    samples: &[MuxSample],
    timescale: u32,
) {
    let got: Vec<(i64, i64, bool)> = packets
        .iter()
        .filter(|p| p["codec_type"] == kind)
        .map(|p| (num(p, "pts"), num(p, "dts"), p["flags"].starts_with('K')))
        .collect();
    let want: Vec<(i64, i64, bool)> = samples
        .iter()
        .map(|s| {
            let t = |v| ts_time_90k(v, timescale).unwrap() as i64;
            (t(s.pts), t(s.dts), s.sync)
        })
        .collect();
    assert_eq!(got, want, "{kind} packet times");
}

#[test]
fn ffmpeg_decodes_segments() {
    if !available() {
        println!("NOTICE: ffmpeg/ffprobe with libx264 not found; skipping the ffmpeg TS test");
        return;
    }
    let dir = TempDir::new("ts");
    let src = encode(&dir);
    assert_eq!(src.video.len(), 96);
    assert!(
        src.video[1].dts < 0 && src.video[1].pts > src.video[2].pts,
        "B-frames"
    );

    let vinfo = track(1, src.avc.clone(), FPS_TIMESCALE);
    let ainfo = track(2, src.aac.clone(), 48_000);
    let boundary = |k: i64| {
        let v = src
            .video
            .iter()
            .position(|s| s.sync && s.pts >= k * 2 * i64::from(FPS_TIMESCALE));
        let a = src.audio.iter().position(|s| s.pts >= k * 96_000);
        (v.unwrap_or(src.video.len()), a.unwrap_or(src.audio.len()))
    };
    let mut playlist = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n",
    );
    for k in 0..2 {
        let ((v0, a0), (v1, a1)) = (boundary(k), boundary(k + 1));
        let (vs, aus) = (&src.video[v0..v1], &src.audio[a0..a1]);
        let name = format!("seg{k}.ts");
        let s = TsSegment::new(
            &[
                TsTrack {
                    info: &vinfo,
                    samples: vs,
                    pid: VIDEO_PID,
                },
                TsTrack {
                    info: &ainfo,
                    samples: aus,
                    pid: FIRST_AUDIO_PID,
                },
            ],
            0,
        )
        .unwrap();
        let ranges = s.keyframe_ranges().to_vec();
        write(&dir, &name, s);
        playlist += &format!("#EXTINF:2.000,\n{name}\n");
        let (streams, packets) = probe(&dir, &name);
        assert_eq!(
            streams,
            vec![
                ("h264".into(), 48, 48),
                ("aac".into(), aus.len() as i64, aus.len() as i64)
            ]
        );
        expect_times(&packets, "video", vs, FPS_TIMESCALE);
        expect_times(&packets, "audio", aus, 48_000);
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0].start, PSI_LEN);

        if k == 0 {
            // m3u8-aapl (v4): video and audio in separate TS files.
            let v = TsSegment::new(
                &[TsTrack {
                    info: &vinfo,
                    samples: vs,
                    pid: VIDEO_PID,
                }],
                0,
            )
            .unwrap();
            write(&dir, "v0.ts", v);
            let (streams, packets) = probe(&dir, "v0.ts");
            assert_eq!(streams, vec![("h264".into(), 48, 48)]);
            expect_times(&packets, "video", vs, FPS_TIMESCALE);
            let a = TsSegment::new(
                &[TsTrack {
                    info: &ainfo,
                    samples: aus,
                    pid: FIRST_AUDIO_PID,
                }],
                0,
            )
            .unwrap();
            write(&dir, "a0.ts", a);
            let (streams, packets) = probe(&dir, "a0.ts");
            assert_eq!(
                streams,
                vec![("aac".into(), aus.len() as i64, aus.len() as i64)]
            );
            expect_times(&packets, "audio", aus, 48_000);
        }
    }
    playlist += "#EXT-X-ENDLIST\n";
    std::fs::write(dir.join("index.m3u8"), playlist).unwrap();
    // Both segments through ffmpeg's HLS demuxer: every frame, on one
    // continuous 24 fps grid from 10 s.
    let (streams, packets) = probe(&dir, "index.m3u8");
    assert_eq!(streams[0], ("h264".into(), 96, 96));
    // Audio frames starting before 4 s (the encoder's last one is past it).
    assert_eq!(streams[1].1, boundary(2).1 as i64);
    let mut pts: Vec<i64> = packets
        .iter()
        .filter(|p| p["codec_type"] == "video")
        .map(|p| num(p, "pts"))
        .collect();
    pts.sort_unstable();
    let grid: Vec<i64> = (0..96)
        .map(|i| TS_TIME_OFFSET_90K as i64 + i * 3750)
        .collect();
    assert_eq!(pts, grid);
}
