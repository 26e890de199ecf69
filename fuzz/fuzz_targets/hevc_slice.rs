//! An `hvcC` and an H.265 sample at the origin →
//! `codec::hevc_slice::slice_header_len`: no panic; a measured header ends
//! inside its NAL unit (see `src/codec.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::hevc_slice(data);
});
