//! edgepack core.
pub mod error;
pub mod model;
pub mod mux;
