//! `path?query` → `url::parse` and `entry::entry` (open and guarded
//! access), links parsed back (see `src/text.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::url(data);
});
