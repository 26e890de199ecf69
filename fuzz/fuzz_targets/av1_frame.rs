//! An `av1C` and AV1 samples at the origin → `codec::av1_frame`: no
//! panic; bounded, and every tile range inside its sample, in order (see
//! `src/codec.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::av1_frame(data);
});
