//! Stable-toolchain driver for the fuzz checks, for machines without
//! nightly (cargo-fuzz needs `-Z` flags).
//!
//! ```text
//! cargo run --release --bin drive -- [ITERATIONS] [SECONDS] [TARGET]
//! cargo run --release --bin drive -- replay FILE...   # *.bin: index blobs
//! cargo run --release --bin drive -- seeds             # rewrites seeds/url/tk-*
//! cargo run --release --bin drive -- codec-seeds       # rewrites seeds/{av1_frame,hevc_slice}
//! DRIVE_SEED=7 cargo run --release --bin drive -- …    # another mutant sequence
//! ```
//!
//! TARGET is `parse_index_segment` (default), `index_blob`, `ism`, `url`,
//! `http`, `locator`, `webvtt`, `filter`, `licence`, `cpix`, `av1_frame` or
//! `hevc_slice`. Seeds are `../fixtures/small/*.mp4` (the MP4
//! targets) or the committed `seeds/<target>/` (the text and codec
//! targets; the codec ones are cut from `fixtures/small/{av1,hevc}.mp4`
//! by `drive codec-seeds`), plus
//! `corpus/<target>/`; each iteration mutates a seed (bit flips,
//! interesting integers, splices, truncation; mostly inside the `moov`,
//! where the parser's decisions are; for the text targets also insertions
//! of the target's grammar tokens) and runs the same function as the
//! libFuzzer target. A panic is caught,
//! its input written to `artifacts/drive/` and its message printed; the
//! slowest input of a run is kept there too (`slowest-<target>-input`,
//! replay prints each input's time). Not
//! coverage-guided: a smoke test and a regression harness, not a
//! replacement for `cargo fuzz run`.

use std::panic;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// xorshift64*: deterministic, seeded from the iteration count.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u32; 12] = [
    0,
    1,
    7,
    8,
    0x7F,
    0x80,
    0xFF,
    0xFFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFE,
    0xFFFF_FFFF,
];

/// Where the `moov` sits in `data` (0..len when there is none).
fn moov_range(data: &[u8]) -> (usize, usize) {
    match data.windows(4).position(|w| w == b"moov") {
        Some(at) if at >= 4 => (at - 4, data.len()),
        _ => (0, data.len()),
    }
}

/// Tokens of each text target's grammar, inserted by the mutator (the
/// stable driver's stand-in for libFuzzer's comparison tracing).
/// Kept as written: a token a line would be five times longer.
#[rustfmt::skip]
fn dictionary(target: &str) -> &'static [&'static [u8]] {
    match target {
        "ism" => &[
            b"<", b">", b"/>", b"</", b"=\"", b"\"", b"'", b"<smil>", b"</smil>", b"<?xml ",
            b"?>", b"<!--", b"-->", b"<![CDATA[", b"]]>", b"<!DOCTYPE smil [", b"&amp;",
            b"&#x3c;", b"&#0;", b"<video ", b"<audio ", b"<textstream ", b"<param ",
            b"<switch>", b"<body>", b"<head>", b" src=\"", b" systemBitrate=\"",
            b" systemLanguage=\"", b" name=\"trackID\"", b" name=\"trackName\"",
            b" value=\"", b" xmlns=\"http://www.w3.org/2001/SMIL20/Language\"",
            b" xmlns:s=\"x\"", b"s:", b".mp4", b".ismv", b".isma", b".ismt", b"../",
            b"/", b"%2e", b":", b"\\", b"18446744073709551616", b"4294967296", b"-1",
        ],
        "url" => &[
            b"/", b"?", b"%", b"%2F", b"%2e%2e", b"%00", b"%C3%A9", b",", b"(", b")", b"=",
            b"&", b";", b".ism/", b".mp4/", b".urlset/", b".ismv", b"manifest",
            b"manifest(format=", b"QualityLevels(", b")/Manifest(", b")/Fragments(", b"=i",
            b"format=m3u8-aapl", b"format=m3u8-cmaf", b"format=mpd-time-cmaf",
            b"format=mpd-time-csf", b"format=fmp4-v20", b"m3u8-aapl-v3", b",type=keyframes",
            b"filter=", b"audioTrack=", b"tk.k1.", b"tk.", b".m3u8", b".mpd", b".m4s", b".ts",
            b"/health", b"/player/assets/", b"18446744073709551615", b"18446744073709551616",
            b"6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5b", b"asset-", b"abr/", b"..", b"\r", b"\n",
        ],
        "http" => &[
            b"\n", b"bytes=", b"bytes ", b"-", b",", b"*", b"/", b"\"", b"W/", b"W/\"",
            b"\"v\"", b"~size=", b";modified=", b"0", b"1", b"206", b"200", b"416", b"412",
            b"18446744073709551615", b"18446744073709551616", b"67108864", b"9223372036854775807",
        ],
        "locator" => &[
            b"{", b"}", b"\"", b":", b",", b"\n", b" ", b"\\", b"\\u0041",
            b"6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5b", b"{6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5b}",
            b"asset-", b"k1:", b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", b"==", b"tk.",
            b"tk.k1.1700003600.", b"/abr/a.ism/manifest",
        ],
        "webvtt" => &[
            b"WEBVTT", b"WEBVTT\n\n", b"\n\n", b"\r\n", b"\r", b" --> ", b"-->", b"00:00.000",
            b"00:00:01.000", b"99:59:59.999", b"1000000:00:00.000", b"NOTE", b"STYLE", b"REGION",
            b" align:start", b" line:0", b"<b>", b"</b>", b"&amp;", b"\xEF\xBB\xBF", b"\t", b".",
            b":", b"18446744073709551616",
        ],
        "filter" => &[
            b"{", b"}", b"[", b"]", b"\"", b":", b",", b"\"properties\"", b"\"presentationTimeRange\"",
            b"\"startTimestamp\"", b"\"endTimestamp\"", b"\"timescale\"", b"\"forceEndTimestamp\"",
            b"\"presentationWindowDuration\"", b"\"liveBackoffDuration\"", b"\"firstQuality\"",
            b"\"bitrate\"", b"\"tracks\"", b"\"trackSelections\"", b"\"property\"", b"\"operation\"",
            b"\"value\"", b"\"Type\"", b"\"Name\"", b"\"Language\"", b"\"FourCC\"", b"\"Bitrate\"",
            b"\"Equal\"", b"\"NotEqual\"", b"\"Video\"", b"\"Audio\"", b"\"Text\"", b"\"0-2427000\"",
            b"true", b"null", b"9223372036854775807", b"18446744073709551615", b"1e400", b"-1",
        ],
        "licence" => &[
            b"{", b"}", b"[", b"]", b"\"", b":", b",", b"\"kids\"", b"\"type\"", b"\"temporary\"",
            b"\"AAAAAAAAAAAAAAAAAAAAAA\"", b"\"AAAAAAAAAAAAAAAAAAAAAA==\"", b"-", b"_", b"=",
        ],
        "cpix" => &[
            b"<", b">", b"/>", b"</", b"\"", b"=", b"cpix:", b"pskc:", b"CPIX", b"ContentKey",
            b"ContentKeyList", b"DRMSystem", b"DRMSystemList", b"PlainValue", b"EncryptedValue",
            b"Data", b"Secret", b"PSSH", b"ContentProtectionData", b"HLSSignalingData",
            b"SmoothStreamingProtectionHeaderData", b" kid=\"5b1a2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d\"",
            b" systemId=\"edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\"", b" playlist=\"master\"",
            b"AAAAAAAAAAAAAAAAAAAAAA==", b"AAAAIHBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAAAA=",
            b"I0VYVC1YLUtFWTpNRVRIT0Q9U0FNUExFLUFFUw==", b"PGEvPg==", b"&amp;", b"&#0;", b"<![CDATA[",
            b"]]>", b"<!--", b"-->", b"ContentKeyUsageRuleList", b"ContentKeyUsageRule",
            b"VideoFilter", b"AudioFilter", b"BitrateFilter", b"KeyPeriodFilter",
            b" intendedTrackType=\"SD\"", b" minPixels=\"589825\"", b" maxPixels=\"589824\"",
            b" minFps=\"30\"", b" maxFps=\"60\"", b" hdr=\"true\"", b" wcg=\"0\"",
            b" minChannels=\"3\"", b" maxChannels=\"6\"", b" maxBitrate=\"2000000\"",
        ],
        _ => &[],
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8], dict: &[&[u8]]) -> Vec<u8> {
    let mut d = seed.to_vec();
    let (lo, hi) = moov_range(&d);
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        if !dict.is_empty() && rng.below(3) == 0 {
            // Text targets: insert a grammar token or a copy of a chunk.
            let pos = rng.below(d.len() + 1);
            if rng.below(4) == 0 && !d.is_empty() {
                let from = rng.below(d.len());
                let n = rng.below(32).min(d.len() - from);
                let chunk = d[from..from + n].to_vec();
                d.splice(pos..pos, chunk);
            } else {
                let word = dict[rng.below(dict.len())];
                d.splice(pos..pos, word.iter().copied());
            }
            continue;
        }
        if d.is_empty() {
            break;
        }
        // Truncations and deletions shrink the input as it is mutated.
        let hi = hi.min(d.len());
        let pos = if rng.below(10) < 9 && hi > lo {
            lo + rng.below(hi - lo)
        } else {
            rng.below(d.len())
        };
        match rng.below(7) {
            0 => d[pos] ^= 1 << rng.below(8),
            1 => d[pos] = rng.next() as u8,
            2 if pos + 4 <= d.len() => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                d[pos..pos + 4].copy_from_slice(&v.to_be_bytes());
            }
            3 if pos + 4 <= d.len() => {
                // Nudge a big-endian field (a size, a count, an offset).
                let v = u32::from_be_bytes([d[pos], d[pos + 1], d[pos + 2], d[pos + 3]]);
                let delta = rng.below(33) as i64 - 16;
                let v = (i64::from(v) + delta) as u32;
                d[pos..pos + 4].copy_from_slice(&v.to_be_bytes());
            }
            4 => d.truncate(pos),
            5 if !other.is_empty() => {
                // Splice a slice of another seed over this one.
                let from = rng.below(other.len());
                let n = rng.below(64).min(other.len() - from).min(d.len() - pos);
                d[pos..pos + n].copy_from_slice(&other[from..from + n]);
            }
            _ => {
                let n = rng.below(16).min(d.len() - pos);
                d.drain(pos..pos + n);
            }
        }
    }
    d
}

fn load_seeds(dirs: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| Some(e.ok()?.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_file() {
                if let Ok(b) = std::fs::read(&p) {
                    if b.len() <= 1 << 20 {
                        seeds.push(b);
                    }
                }
            }
        }
    }
    seeds
}

/// The targets with text input, seeded from `seeds/<target>/`.
const TEXT_TARGETS: [&str; 8] = [
    "ism", "url", "http", "locator", "webvtt", "filter", "licence", "cpix",
];
/// The codec bitstream targets (binary, framed as `src/codec.rs` says),
/// also seeded from `seeds/<target>/`.
const CODEC_TARGETS: [&str; 2] = ["av1_frame", "hevc_slice"];

/// Whether `target` is seeded from `seeds/<target>/`.
fn has_seed_dir(target: &str) -> bool {
    TEXT_TARGETS.contains(&target) || CODEC_TARGETS.contains(&target)
}

fn target_fn(name: &str) -> fn(&[u8]) {
    match name {
        "index_blob" => edgepack_fuzz::index_blob,
        "ism" => edgepack_fuzz::ism,
        "url" => edgepack_fuzz::url,
        "http" => edgepack_fuzz::http,
        "locator" => edgepack_fuzz::locator,
        "webvtt" => edgepack_fuzz::webvtt,
        "filter" => edgepack_fuzz::filter,
        "licence" => edgepack_fuzz::licence,
        "cpix" => edgepack_fuzz::cpix,
        "av1_frame" => edgepack_fuzz::av1_frame,
        "hevc_slice" => edgepack_fuzz::hevc_slice,
        _ => edgepack_fuzz::parse_index_segment,
    }
}

/// The target a replayed file is for: a text target named in its path
/// (`seeds/url/…`, `regressions/f5-http-…`), an index blob (`*.bin` or
/// `index_blob` in the path), else an MP4.
fn replay_target(path: &str) -> &'static str {
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = Path::new(path)
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for t in TEXT_TARGETS.into_iter().chain(CODEC_TARGETS) {
        if parent == t || name.contains(&format!("-{t}-")) {
            return t;
        }
    }
    if path.contains("index_blob") || path.ends_with(".bin") {
        "index_blob"
    } else {
        "parse_index_segment"
    }
}

/// Seeds for `url` with valid tokens (signed with the target's key, valid
/// at its clock), which the mutator could never forge.
fn write_url_seeds() {
    use edgepack_fuzz::text::{KEY_B64, LOCATOR, NOW};
    let out = Path::new("seeds/url");
    let _ = std::fs::create_dir_all(out);
    let key: Vec<u8> = (0u8..32).collect();
    assert_eq!(edgepack::token::decode_key(KEY_B64).ok(), Some(key.clone()));
    let paths = [
        "/abr/abr.ism/manifest(format=m3u8-cmaf)".to_string(),
        "/vod/a.mp4/QualityLevels(128000)/Fragments(audio=0,format=mpd-time-cmaf).m4s".into(),
        format!("/{LOCATOR}/abr.ism/QualityLevels(1000)/Manifest(video,format=m3u8-aapl).m3u8"),
        "/d/x,1,2,.mp4.urlset/manifest(format=mpd-time-csf).mpd".into(),
    ];
    for (i, p) in paths.iter().enumerate() {
        match edgepack::token::mint("k1", &key, NOW + 3600, p) {
            Ok(u) => {
                let _ = std::fs::write(out.join(format!("tk-{i}.txt")), u);
            }
            Err(e) => eprintln!("{p}: {e:?}"),
        }
    }
}

/// The samples of the first track of `file`, from sample `from`, at most
/// `n` of them.
fn track_samples(file: &bytes::Bytes, from: u32, n: u32) -> Vec<bytes::Bytes> {
    let Ok(idx) = edgepack::index::index_whole_file(file, "\"seed\"") else {
        return Vec::new();
    };
    let Some(t) = idx.tracks.first() else {
        return Vec::new();
    };
    let end = from.saturating_add(n).min(t.sample_count());
    let Ok(cursor) = t.samples(from.min(end)..end) else {
        return Vec::new();
    };
    cursor
        .flatten()
        .filter_map(|s| {
            let start = usize::try_from(s.offset).ok()?;
            file.get(start..start + s.size as usize)
                .map(|_| file.slice(start..start + s.size as usize))
        })
        .collect()
}

/// Seeds for `av1_frame` and `hevc_slice`: the `av1C`/`hvcC` of
/// `fixtures/small/{av1,hevc}.mp4` with their first samples (a key frame
/// alone, then runs of inter frames, whose headers read the reference
/// slots the key frame filled), framed as `src/codec.rs` says.
fn write_codec_seeds() {
    use edgepack::model::Codec;
    let read = |p: &str| std::fs::read(p).map(bytes::Bytes::from).unwrap_or_default();
    let av1 = read("../fixtures/small/av1.mp4");
    if let Ok(idx) = edgepack::index::index_whole_file(&av1, "\"seed\"") {
        if let Some(av1c) = idx
            .tracks
            .first()
            .and_then(|t| edgepack::codec::av1_frame::av1c_of_sample_entry(&t.info.sample_entry))
        {
            let out = Path::new("seeds/av1_frame");
            let _ = std::fs::create_dir_all(out);
            for (i, (from, n)) in [(0, 1), (0, 4), (0, 12), (1, 3), (20, 6)]
                .iter()
                .enumerate()
            {
                let samples = track_samples(&av1, *from, *n);
                let refs: Vec<&[u8]> = samples.iter().map(|s| &s[..]).collect();
                let seed = edgepack_fuzz::codec::frame(av1c, &refs);
                let _ = std::fs::write(out.join(format!("s{i}-{from}+{n}.av1")), seed);
            }
        }
    }
    let hevc = read("../fixtures/small/hevc.mp4");
    if let Ok(idx) = edgepack::index::index_whole_file(&hevc, "\"seed\"") {
        if let Some(Codec::Hevc(c)) = idx.tracks.first().map(|t| &t.info.codec) {
            let out = Path::new("seeds/hevc_slice");
            let _ = std::fs::create_dir_all(out);
            for (i, s) in track_samples(&hevc, 0, 6).iter().enumerate() {
                // The sample as stored: its NAL units with 4-byte lengths.
                let mut seed = edgepack_fuzz::codec::frame(&c.record, &[]);
                seed.extend_from_slice(s);
                let _ = std::fs::write(out.join(format!("s{i}.hevc")), seed);
            }
        }
    }
}

/// Runs `f` on `input`; on a panic returns its message.
fn run_one(f: fn(&[u8]), input: &[u8]) -> Option<String> {
    let r = panic::catch_unwind(|| f(input));
    r.err().map(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into())
    })
}

fn save(input: &[u8], n: u64) -> PathBuf {
    let dir = Path::new("artifacts/drive");
    let _ = std::fs::create_dir_all(dir);
    let p = dir.join(format!("crash-{n:08}"));
    let _ = std::fs::write(&p, input);
    p
}

/// Seeds for `index_blob`: the index of every `parse_index_segment` seed.
fn write_blobs() {
    let out = Path::new("corpus/index_blob");
    let _ = std::fs::create_dir_all(out);
    let Ok(rd) = std::fs::read_dir("corpus/parse_index_segment") else {
        return;
    };
    for e in rd.flatten() {
        let Ok(b) = std::fs::read(e.path()) else {
            continue;
        };
        if let Ok(idx) = edgepack::index::index_whole_file(&bytes::Bytes::from(b), "\"seed\"") {
            let _ = std::fs::write(out.join(e.file_name()), &idx.blob);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("blobs") {
        write_blobs();
        return;
    }
    if args.first().map(String::as_str) == Some("seeds") {
        write_url_seeds();
        return;
    }
    if args.first().map(String::as_str) == Some("codec-seeds") {
        write_codec_seeds();
        return;
    }
    if args.first().map(String::as_str) == Some("replay") {
        let mut failed = 0;
        for p in &args[1..] {
            let input = std::fs::read(p).unwrap_or_default();
            let f = target_fn(replay_target(p));
            let t0 = Instant::now();
            let outcome = run_one(f, &input);
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            match outcome {
                Some(msg) => {
                    failed += 1;
                    println!("PANIC {p}: {msg}");
                }
                None => println!("ok    {p} ({ms:.2} ms)"),
            }
        }
        std::process::exit(i32::from(failed > 0));
    }
    let iterations: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(600);
    let target = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "parse_index_segment".into());
    let f = target_fn(&target);
    let first = if has_seed_dir(&target) {
        PathBuf::from(format!("seeds/{target}"))
    } else {
        PathBuf::from("../fixtures/small")
    };
    let seeds = load_seeds(&[first, PathBuf::from(format!("corpus/{target}"))]);
    let dict = dictionary(&target);
    if seeds.is_empty() {
        eprintln!("drive: no seeds (run from fuzz/)");
        std::process::exit(2);
    }
    // Quiet the default hook: crashes are reported below, once each.
    panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    // The same mutants each run unless DRIVE_SEED picks another sequence.
    let salt: u64 = std::env::var("DRIVE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93) | 1);
    let (mut done, mut crashes) = (0u64, 0u64);
    let mut seen: Vec<String> = Vec::new();
    // The slowest execution: bounded work shows as a small maximum.
    let mut slowest = Duration::ZERO;
    while done < iterations && Instant::now() < deadline {
        let seed = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed, other, dict);
        let t0 = Instant::now();
        let outcome = run_one(f, &input);
        let took = t0.elapsed();
        if took > slowest {
            // Kept to replay: a slow input is a finding too (F1).
            slowest = took;
            let dir = Path::new("artifacts/drive");
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(dir.join(format!("slowest-{target}-input")), &input);
        }
        if let Some(msg) = outcome {
            crashes += 1;
            // One report per distinct message.
            let key: String = msg.chars().take(120).collect();
            if !seen.contains(&key) {
                let p = save(&input, done);
                println!("PANIC at iteration {done}: {msg}\n  input: {}", p.display());
                seen.push(key);
            }
        }
        done += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "drive: target {target}: {done} executions in {secs:.1} s ({:.0}/s) from {} seeds, \
         {crashes} panics ({} distinct), slowest execution {:.2} ms",
        done as f64 / secs.max(1e-9),
        seeds.len(),
        seen.len(),
        slowest.as_secs_f64() * 1e3
    );
    std::process::exit(i32::from(crashes > 0));
}
