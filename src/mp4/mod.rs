//! ISO base media file format (ISO/IEC 14496-12) parsing.
//!
//! Everything here parses over [`bytes::Bytes`]: box payloads handed out are
//! slices of the caller's buffer, never copies. Every size and count read
//! from a file is checked against the bytes that remain before it drives a
//! loop or an allocation, so a hostile file costs at most its own length.

pub mod codec;
pub mod colr;
pub mod descriptions;
pub mod dts;
pub mod elst;
pub mod error;
pub mod fragments;
pub mod fragtable;
pub mod header;
pub mod mfra;
pub mod moof;
pub mod moov;
pub mod samples;
pub mod sidx;
pub mod stbl;
pub mod stsd;
pub mod text;
pub mod walk;

pub use error::{Mp4Error, Mp4ErrorKind};
pub use header::{BoxHeader, BoxIter, Mp4Box};
