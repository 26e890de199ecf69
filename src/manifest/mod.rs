//! Manifests: HLS playlists, DASH MPDs and Smooth client manifests written
//! from the media set. The `.ism` server manifest, which is read rather than
//! written, lives in [`crate::input::ism`].

pub mod dash;
pub mod hls;
pub mod lang;
mod number;
mod runs;
pub mod smooth;

#[cfg(test)]
mod hdr_tests;
