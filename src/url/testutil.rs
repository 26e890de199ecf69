//! Helpers shared by the `url` tests.

use super::{parse, Asset, Route, StreamRequest, TrackRef, UrlError};

pub(super) fn stream(path: &str) -> StreamRequest {
    stream_q(path, None)
}

pub(super) fn stream_q(path: &str, query: Option<&str>) -> StreamRequest {
    match parse(path, query) {
        Ok(Route::Stream(s)) => s,
        other => panic!("{path}: expected a stream, got {other:?}"),
    }
}

pub(super) fn err(path: &str) -> UrlError {
    err_q(path, None)
}

pub(super) fn err_q(path: &str, query: Option<&str>) -> UrlError {
    match parse(path, query) {
        Err(e) => e,
        Ok(r) => panic!("{path}: expected an error, got {r:?}"),
    }
}

pub(super) fn track(bitrate: u64, name: &str) -> TrackRef {
    TrackRef {
        bitrate,
        name: name.to_string(),
    }
}

pub(super) fn ism(path: &str) -> Asset {
    Asset::Ism {
        path: path.to_string(),
    }
}
