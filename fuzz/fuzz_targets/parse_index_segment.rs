//! bytes → `index::index_whole_file` → timeline → every CMAF segment, TS
//! segments → HLS and DASH manifests: never a panic (see `src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgepack_fuzz::parse_index_segment(data);
});
