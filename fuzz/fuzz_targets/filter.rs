//! Filter JSON → `filter::azure::parse`: no panic; errors are 502 and an
//! accepted filter keeps its caps (see `src/text.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::filter(data);
});
