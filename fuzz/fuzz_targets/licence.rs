//! A ClearKey licence request body → `crypto::clearkey::requested_kids`:
//! no panic; bounded, and the licence names every id (see `src/text.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::licence(data);
});
