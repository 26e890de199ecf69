//! Range / If-None-Match / ETag parsing and the origin-answer decision
//! (`source::response::check`, `read_body`, `finish`) (see `src/text.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::http(data);
});
