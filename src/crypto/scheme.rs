//! The Common Encryption schemes of the CMAF outputs, by Azure's
//! `encryption=` values.

/// A sample-encryption scheme (ISO/IEC 23001-7 §4.2): what the `schm`,
/// `tenc`, `senc` and the manifests say, and how samples are encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `encryption=cenc`: `cenc`, AES-128-CTR, 8-byte per-sample IVs
    /// (§10.1).
    Cenc,
    /// `encryption=cbcs-aapl`: `cbcs`, AES-128-CBC pattern encryption
    /// under a constant IV (§10.4).
    Cbcs,
}

impl Scheme {
    /// The scheme of an `encryption=` value, if it is a sample-encryption
    /// one built here.
    pub fn from_option(encryption: &str) -> Option<Scheme> {
        match encryption {
            "cenc" => Some(Scheme::Cenc),
            "cbcs-aapl" => Some(Scheme::Cbcs),
            _ => None,
        }
    }

    /// The `encryption=` value that asks for it.
    pub fn option(self) -> &'static str {
        match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs-aapl",
        }
    }

    /// The `scheme_type` four-character code (`schm`, and the DASH
    /// `mp4protection` value).
    pub fn fourcc(self) -> &'static str {
        match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs",
        }
    }
}
