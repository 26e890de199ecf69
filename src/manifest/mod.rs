//! Manifests: HLS playlists, DASH MPDs and Smooth client manifests written
//! from the media set; the `.ism` server manifest read in.

pub mod dash;
pub mod hls;
pub mod ism;
pub mod lang;
pub mod smooth;
