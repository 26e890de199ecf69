//! Stable-toolchain driver for the fuzz checks, for machines without
//! nightly (cargo-fuzz needs `-Z` flags).
//!
//! ```text
//! cargo run --release --bin drive -- [ITERATIONS] [SECONDS] [TARGET]
//! cargo run --release --bin drive -- replay FILE...   # *.bin: index blobs
//! ```
//!
//! Seeds are `../fixtures/small/*.mp4` plus `corpus/<target>/`; each
//! iteration mutates a seed (bit flips, interesting integers, splices,
//! truncation; mostly inside the `moov`, where the parser's decisions are)
//! and runs the same function as the libFuzzer target. A panic is caught,
//! its input written to `artifacts/drive/` and its message printed. Not
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

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    let (lo, hi) = moov_range(&d);
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
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

fn target_fn(name: &str) -> fn(&[u8]) {
    match name {
        "index_blob" => edgepack_fuzz::index_blob,
        _ => edgepack_fuzz::parse_index_segment,
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
    if args.first().map(String::as_str) == Some("replay") {
        let mut failed = 0;
        for p in &args[1..] {
            let input = std::fs::read(p).unwrap_or_default();
            // Index blobs: under corpus/ or artifacts/index_blob, or `*.bin`.
            let f = if p.contains("index_blob") || p.ends_with(".bin") {
                target_fn("index_blob")
            } else {
                target_fn("parse_index_segment")
            };
            match run_one(f, &input) {
                Some(msg) => {
                    failed += 1;
                    println!("PANIC {p}: {msg}");
                }
                None => println!("ok    {p}"),
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
    let seeds = load_seeds(&[
        PathBuf::from("../fixtures/small"),
        PathBuf::from(format!("corpus/{target}")),
    ]);
    if seeds.is_empty() {
        eprintln!("drive: no seeds (run from fuzz/)");
        std::process::exit(2);
    }
    // Quiet the default hook: crashes are reported below, once each.
    panic::set_hook(Box::new(|_| {}));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut done, mut crashes) = (0u64, 0u64);
    let mut seen: Vec<String> = Vec::new();
    while done < iterations && Instant::now() < deadline {
        let seed = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed, other);
        if let Some(msg) = run_one(f, &input) {
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
    println!(
        "drive: target {target}: {done} executions from {} seeds, {crashes} panics ({} distinct)",
        seeds.len(),
        seen.len()
    );
    std::process::exit(i32::from(crashes > 0));
}
