//! Access settings: `Locators::parse`, `Keys::parse`, `token::parse` and
//! `token::split` (see `src/text.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::locator(data);
});
