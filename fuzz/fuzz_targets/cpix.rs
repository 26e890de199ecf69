//! A CPIX document at the origin → `crypto::cpix::parse`: no panic;
//! bounded, and what is kept can only add tags and pssh boxes (see
//! `src/text.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::cpix(data);
});
