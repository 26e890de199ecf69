//! The PlayReady Header Object ("PlayReady Header Specification", PRO):
//! what a Smooth `ProtectionHeader` carries (MS-SSTR §2.2.2.2), and what
//! a DASH `mspr:pro` or a PlayReady `pssh` would carry.
//!
//! Layout (all little-endian): `Length` u32 (the whole object), `Record
//! Count` u16, then records of `Record Type` u16, `Record Length` u16 and
//! the value. One record here, type 1 (Rights Management Header): the
//! `WRMHEADER` XML, version 4.0.0.0, in UTF-16LE without a byte-order
//! mark. It names the key (`KID`, base64 of the key id in GUID byte
//! order), the cipher (`ALGID` `AESCTR`, `KEYLEN` 16: PIFF / `cenc`) and,
//! when the deployment has one, the licence server (`LA_URL`). Without a
//! `LA_URL` the player must be given its licence server. No `CHECKSUM`
//! (optional in v4.0.0.0): it would need the content key, which this
//! builder never sees.
//!
//! Pure and platform-free: key id and URL in, bytes out.

use quick_xml::Writer;

/// The PlayReady system id, as Smooth's `ProtectionHeader SystemID`
/// writes it (MS-SSTR §2.2.2.2) and a `pssh` carries it
/// (`9a04f079-9840-4286-ab92-e65be0885f95`).
pub const SYSTEM_ID: [u8; 16] = [
    0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86, 0xab, 0x92, 0xe6, 0x5b, 0xe0, 0x88, 0x5f, 0x95,
];

/// [`SYSTEM_ID`] in the upper-case GUID text form of MS-SSTR.
pub const SYSTEM_ID_GUID: &str = "9A04F079-9840-4286-AB92-E65BE0885F95";

/// Record type of the Rights Management Header (the `WRMHEADER` XML).
pub const RECORD_RIGHTS_MANAGEMENT: u16 = 1;

/// Longest `LA_URL` written: the record length is a u16 of UTF-16 bytes,
/// and the whole header must stay well under it.
pub const MAX_LA_URL_LEN: usize = 2048;

/// The `WRMHEADER` namespace (PlayReady Header Specification v4.0.0.0).
const NAMESPACE: &str = "http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader";

/// `kid` in GUID byte order: PlayReady reads a key id as a Windows GUID,
/// whose first three fields (4, 2 and 2 bytes) are little-endian, where
/// `tenc`/`senc`/CENC write the 16 bytes big-endian (ISO/IEC 23001-7).
pub fn guid_bytes(kid: &[u8; 16]) -> [u8; 16] {
    let mut g = *kid;
    g[0..4].reverse();
    g[4..6].reverse();
    g[6..8].reverse();
    g
}

/// The `WRMHEADER` XML (v4.0.0.0) for `kid`, with `la_url` when given
/// (an over-long one, past [`MAX_LA_URL_LEN`], is left out; settings cap
/// it before this).
pub fn wrm_header(kid: &[u8; 16], la_url: Option<&str>) -> String {
    use base64::Engine;
    let kid_b64 = base64::engine::general_purpose::STANDARD.encode(guid_bytes(kid));
    let la_url = la_url.filter(|u| !u.is_empty() && u.len() <= MAX_LA_URL_LEN);
    let mut w = Writer::new(Vec::new());
    let written = w
        .create_element("WRMHEADER")
        .with_attributes([("xmlns", NAMESPACE), ("version", "4.0.0.0")])
        .write_inner_content(|w| {
            w.create_element("DATA").write_inner_content(|w| {
                w.create_element("PROTECTINFO").write_inner_content(|w| {
                    text_element(w, "KEYLEN", "16")?;
                    text_element(w, "ALGID", "AESCTR")
                })?;
                text_element(w, "KID", &kid_b64)?;
                if let Some(u) = la_url {
                    text_element(w, "LA_URL", u)?;
                }
                Ok(())
            })?;
            Ok(())
        });
    // Writing to a Vec cannot fail.
    debug_assert!(written.is_ok());
    String::from_utf8_lossy(&w.into_inner()).into_owned()
}

fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_text_content(quick_xml::events::BytesText::new(text))?;
    Ok(())
}

/// The PlayReady Header Object of `kid`: one Rights Management Header
/// record holding [`wrm_header`] in UTF-16LE.
pub fn header_object(kid: &[u8; 16], la_url: Option<&str>) -> Vec<u8> {
    let xml: Vec<u8> = wrm_header(kid, la_url)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    // The XML is under 400 characters plus the capped LA_URL (escaped at
    // most 6×): well within a u16 of bytes.
    let record_len = u16::try_from(xml.len()).unwrap_or(u16::MAX);
    let total = 4 + 2 + 4 + xml.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&RECORD_RIGHTS_MANAGEMENT.to_le_bytes());
    out.extend_from_slice(&record_len.to_le_bytes());
    out.extend_from_slice(&xml);
    out
}

/// [`header_object`] in base64: the text of a Smooth `ProtectionHeader`
/// (MS-SSTR §2.2.2.2) and of a DASH `mspr:pro`.
pub fn header_object_base64(kid: &[u8; 16], la_url: Option<&str>) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(header_object(kid, la_url))
}

#[cfg(test)]
mod tests;
