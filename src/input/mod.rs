//! Inputs: what edgepack reads besides MP4 boxes. Today that is the server
//! manifest an asset URL may name (`ism`, the Azure / IIS SMIL `.ism`) and
//! the text sidecars it may list (`webvtt`, `ttml`); fragmented MP4 sources and
//! CPIX key documents are expected to join them.
//! Every input comes from the origin and is parsed as hostile.

pub mod captions;
pub mod ism;
pub mod ttml;
pub mod webvtt;
