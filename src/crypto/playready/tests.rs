use super::*;
use base64::Engine;

const KID: [u8; 16] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
];

/// The UTF-16LE XML of the one record, checking the object's framing.
fn record_xml(pro: &[u8]) -> String {
    let total = u32::from_le_bytes(pro[0..4].try_into().unwrap()) as usize;
    assert_eq!(total, pro.len(), "Length is the whole object");
    assert_eq!(u16::from_le_bytes([pro[4], pro[5]]), 1, "one record");
    assert_eq!(u16::from_le_bytes([pro[6], pro[7]]), 1, "type 1: WRMHEADER");
    let len = u16::from_le_bytes([pro[8], pro[9]]) as usize;
    assert_eq!(len, pro.len() - 10);
    let units: Vec<u16> = pro[10..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

#[test]
fn guid_order_swaps_the_first_three_fields() {
    assert_eq!(
        guid_bytes(&KID),
        [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
    );
    // An involution: applying it twice gives the key id back.
    assert_eq!(guid_bytes(&guid_bytes(&KID)), KID);
}

#[test]
fn header_object_layout_and_kid() {
    let pro = header_object(&KID, None);
    let xml = record_xml(&pro);
    assert!(xml.starts_with(
        "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.0.0.0\"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>"
    ), "{xml}");
    assert!(!xml.contains("LA_URL"));
    let kid = xml
        .split("<KID>")
        .nth(1)
        .unwrap()
        .split("</KID>")
        .next()
        .unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(kid)
        .unwrap();
    assert_eq!(raw, guid_bytes(&KID));
    assert_eq!(kid, "AwIBAAUEBwYICQoLDA0ODw==");
    assert!(xml.ends_with("</KID></DATA></WRMHEADER>"));
    // No byte-order mark: the record starts with '<' in UTF-16LE.
    assert_eq!(&pro[10..12], &[b'<', 0]);
}

#[test]
fn la_url_is_escaped_and_capped() {
    let xml = record_xml(&header_object(
        &KID,
        Some("https://pr.example/rightsmanager.asmx?a=1&b=<2>"),
    ));
    assert!(
        xml.contains(
            "<LA_URL>https://pr.example/rightsmanager.asmx?a=1&amp;b=&lt;2&gt;</LA_URL></DATA>"
        ),
        "{xml}"
    );
    let long = format!("https://x/{}", "a".repeat(MAX_LA_URL_LEN));
    assert!(!record_xml(&header_object(&KID, Some(&long))).contains("LA_URL"));
    assert!(!record_xml(&header_object(&KID, Some(""))).contains("LA_URL"));
    // The largest allowed URL, all escapes, still fits the u16 record length.
    let worst = "&".repeat(MAX_LA_URL_LEN);
    let pro = header_object(&KID, Some(&worst));
    record_xml(&pro);
}

#[test]
fn base64_is_the_object() {
    let b = header_object_base64(&KID, Some("https://l/"));
    let raw = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
    assert_eq!(raw, header_object(&KID, Some("https://l/")));
    assert_eq!(
        guid_bytes(&SYSTEM_ID),
        [
            0x79, 0xf0, 0x04, 0x9a, 0x40, 0x98, 0x86, 0x42, 0xab, 0x92, 0xe6, 0x5b, 0xe0, 0x88,
            0x5f, 0x95
        ]
    );
    assert_eq!(
        SYSTEM_ID_GUID.replace('-', "").to_lowercase(),
        SYSTEM_ID
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
}
