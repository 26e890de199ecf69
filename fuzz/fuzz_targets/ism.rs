//! `.ism` bytes → `input::ism::parse` → `resolve` of every member: no
//! panic; a non-SMIL object's error quotes no digit (see `src/text.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::ism(data);
});
