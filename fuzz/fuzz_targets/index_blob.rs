//! A corrupted cached index blob: `MediaIndex::from_blob` and everything
//! that reads samples from it must fail cleanly (see `src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::index_blob(data);
});
