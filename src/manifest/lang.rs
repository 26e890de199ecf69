//! Language codes: MP4 stores ISO 639-2/T, HLS and DASH want BCP 47
//! (RFC 5646 prefers the ISO 639-1 two-letter code when one exists).

/// (ISO 639-2/T, ISO 639-2/B, ISO 639-1, English name).
const LANGUAGES: &[(&str, &str, &str, &str)] = &[
    ("ara", "ara", "ar", "Arabic"),
    ("ces", "cze", "cs", "Czech"),
    ("dan", "dan", "da", "Danish"),
    ("deu", "ger", "de", "German"),
    ("ell", "gre", "el", "Greek"),
    ("eng", "eng", "en", "English"),
    ("spa", "spa", "es", "Spanish"),
    ("fin", "fin", "fi", "Finnish"),
    ("fra", "fre", "fr", "French"),
    ("heb", "heb", "he", "Hebrew"),
    ("hin", "hin", "hi", "Hindi"),
    ("hun", "hun", "hu", "Hungarian"),
    ("ind", "ind", "id", "Indonesian"),
    ("ita", "ita", "it", "Italian"),
    ("jpn", "jpn", "ja", "Japanese"),
    ("kor", "kor", "ko", "Korean"),
    ("nld", "dut", "nl", "Dutch"),
    ("nor", "nor", "no", "Norwegian"),
    ("pol", "pol", "pl", "Polish"),
    ("por", "por", "pt", "Portuguese"),
    ("ron", "rum", "ro", "Romanian"),
    ("rus", "rus", "ru", "Russian"),
    ("swe", "swe", "sv", "Swedish"),
    ("tha", "tha", "th", "Thai"),
    ("tur", "tur", "tr", "Turkish"),
    ("ukr", "ukr", "uk", "Ukrainian"),
    ("vie", "vie", "vi", "Vietnamese"),
    ("zho", "chi", "zh", "Chinese"),
];

fn lookup(code: &str) -> Option<&'static (&'static str, &'static str, &'static str, &'static str)> {
    let lower = code.trim().to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|l| l.0 == lower || l.1 == lower || l.2 == lower)
}

/// The BCP 47 tag for a stored language code; `None` for "und"/empty.
/// Unknown codes pass through (three-letter codes are valid primary tags).
pub fn bcp47(code: &str) -> Option<String> {
    let c = code.trim();
    if c.is_empty() || c.eq_ignore_ascii_case("und") {
        return None;
    }
    Some(lookup(c).map_or_else(|| c.to_string(), |l| l.2.to_string()))
}

/// The ISO 639-2/T code of a language tag's primary subtag where known
/// (`en`, `en-US`, `eng`, `ger` → `eng`, `deu`), else the primary subtag
/// as given: what SCTE 214-1 caption descriptors name.
pub fn iso639_2(code: &str) -> String {
    let primary = code.trim().split('-').next().unwrap_or("");
    lookup(primary).map_or_else(|| primary.to_ascii_lowercase(), |l| l.0.to_string())
}

/// A human name for the language, for HLS `NAME`.
pub fn display_name(code: &str) -> String {
    match lookup(code) {
        Some(l) => l.3.to_string(),
        None if bcp47(code).is_none() => "Audio".to_string(),
        None => code.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_common_codes() {
        assert_eq!(bcp47("eng").as_deref(), Some("en"));
        assert_eq!(bcp47("fre").as_deref(), Some("fr"));
        assert_eq!(bcp47("und"), None);
        assert_eq!(bcp47("qaa").as_deref(), Some("qaa"));
        assert_eq!(display_name("fra"), "French");
        assert_eq!(display_name("und"), "Audio");
    }
}
