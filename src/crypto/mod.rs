//! Content keys and the ciphers that use them, free of any platform.
//!
//! * `key`: where content keys come from ([`KeySource`]: a secret seed,
//!   `encryption_key_seed`, or the asset's CPIX document) and the
//!   per-asset key a source gives ([`ContentKey`]);
//! * `aes_cbc`: AES-128-CBC with PKCS#7 padding over a stream of chunks
//!   ([`CbcStream`]), the whole-segment encryption of HLS `METHOD=AES-128`
//!   (RFC 8216 §4.3.2.4, §5.2), with its exact output length
//!   ([`padded_len`]) and IV rule ([`sequence_iv`]);
//! * `cenc`: Common Encryption of samples, `cenc` scheme (ISO/IEC
//!   23001-7): AES-128-CTR under a subsample map, for CMAF outputs;
//! * `cbcs`: Common Encryption of samples, `cbcs` scheme (ISO/IEC
//!   23001-7 §10.4): AES-128-CBC with a 1:9 pattern (video) or whole
//!   blocks (audio) under a constant IV, for `encryption=cbcs-aapl`;
//! * `scheme`: which of the two a request asks for ([`Scheme`]);
//! * `playready`: the PlayReady Header Object of a key id (Smooth
//!   `ProtectionHeader`, `encryption=piff`);
//!   PIFF 1.1 sample encryption itself is `cenc`'s cipher, its boxes in
//!   [`crate::mux::piff`];
//! * `clearkey`: the W3C ClearKey licence request and answer (EME §9.1.4);
//! * `cpix`: a CPIX document (DASH-IF CPIX 2.3) parsed: the asset's key
//!   and the DRM systems' signalling ([`cpix::Cpix`]), the request
//!   document a key provider is asked with ([`cpix::request`]) and the
//!   compact form parsed documents are cached in ([`cpix::encoding`]);
//! * `provider`: a key provider asked over HTTP (`key_source = provider`,
//!   [`provider::KeyProvider`]).
//!
//! AES itself is RustCrypto's `aes` (constant-time, builds for every
//! target of this crate); nothing here implements a block cipher.

mod aes_cbc;
pub mod cbcs;
pub mod cenc;
pub mod clearkey;
pub mod cpix;
mod key;
pub mod playready;
pub mod provider;
mod scheme;
pub mod track_keys;

pub use aes_cbc::{padded_len, sequence_iv, CbcStream, BLOCK};
pub use key::{
    asset_id, cpix_path, ContentKey, KeySetting, KeySetupError, KeySource, KEY_SOURCE_SETTING,
    SEED_KEY,
};
pub use scheme::Scheme;
pub use track_keys::TrackKeys;

#[cfg(test)]
mod tests;
