//! WebVTT sidecar bytes → `input::webvtt::parse`: no panic; caps, cue text
//! shape and the cache record (see `src/text.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::webvtt(data);
});
