//! Closed captions carried inside the video (CEA-608 in SEI / user data,
//! CEA-708 DTVCC services), as a title declares them.
//!
//! Why a declaration: captions in the video are not a track; finding them
//! means decoding video user data, which the packager never reads. Players
//! show them anyway (hls.js, Shaka and Safari parse CEA-608 in-band), but
//! Apple's HLS rules want each variant to say which channels exist
//! (RFC 8216 §4.3.4.1 `TYPE=CLOSED-CAPTIONS` with `INSTREAM-ID`, §4.3.4.2
//! `CLOSED-CAPTIONS`), and DASH players label them from `Accessibility`
//! descriptors (SCTE 214-1 / DASH-IF IOP §6.4.3: `urn:scte:dash:cc:cea-608:2015`
//! and `…cea-708:2015`). So a title says what it carries: per asset in its
//! `.ism` (`<meta name="closedCaptions" content="…"/>` in `<head>`), or for
//! the whole deployment in the setting `closed_captions`.
//!
//! Grammar (case-insensitive channel names): `none`, or up to
//! [`MAX_CHANNELS`] entries separated by `;`, each
//! `{CC1..CC4|SERVICE1..SERVICE63}[={language}[:{name}]]`, e.g.
//! `CC1=en:English;CC3=es:Español;SERVICE1=en`.

use std::fmt;

/// Most channels one declaration lists (608 has 4, real titles use 1–2).
pub const MAX_CHANNELS: usize = 8;
/// Longest display name.
const MAX_NAME: usize = 64;

/// A channel: a CEA-608 caption channel or a CEA-708 service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instream {
    /// CEA-608 `CC1`–`CC4`.
    Cc(u8),
    /// CEA-708 `SERVICE1`–`SERVICE63`.
    Service(u8),
}

impl fmt::Display for Instream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instream::Cc(n) => write!(f, "CC{n}"),
            Instream::Service(n) => write!(f, "SERVICE{n}"),
        }
    }
}

/// One declared channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedCaption {
    pub instream: Instream,
    /// BCP 47 (or ISO 639-2) language tag, as declared.
    pub language: Option<String>,
    /// Display name, as declared.
    pub name: Option<String>,
}

/// What a title declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Captions {
    /// No captions in the video (HLS `CLOSED-CAPTIONS=NONE`).
    None,
    /// These channels, in the order given.
    Channels(Vec<ClosedCaption>),
}

/// The canonical form of a declaration, in the module docs' grammar:
/// `none`, or `CC1=en:English;SERVICE1=fr`. Parsing it gives the same
/// declaration back, so it can name a declaration in cache keys.
impl fmt::Display for Captions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = match self {
            Captions::None => return f.write_str("none"),
            Captions::Channels(list) => list,
        };
        for (i, c) in list.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{}", c.instream)?;
            if c.language.is_some() || c.name.is_some() {
                write!(f, "={}", c.language.as_deref().unwrap_or(""))?;
            }
            if let Some(name) = &c.name {
                write!(f, ":{name}")?;
            }
        }
        Ok(())
    }
}

/// Why a declaration was refused: the part at fault, quoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptionsError(pub String);

impl fmt::Display for CaptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "closed captions: {}", self.0)
    }
}

impl std::error::Error for CaptionsError {}

/// Parses a declaration (the module docs' grammar).
pub fn parse(text: &str) -> Result<Captions, CaptionsError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(Captions::None);
    }
    let mut out: Vec<ClosedCaption> = Vec::new();
    for entry in text.split(';').map(str::trim) {
        if out.len() == MAX_CHANNELS {
            return Err(CaptionsError(format!("more than {MAX_CHANNELS} channels")));
        }
        let (channel, rest) = entry.split_once('=').unwrap_or((entry, ""));
        let instream = instream(channel.trim()).ok_or_else(|| {
            CaptionsError(format!(
                "{:?} is not CC1–CC4 or SERVICE1–SERVICE63",
                clip(channel)
            ))
        })?;
        if out.iter().any(|c| c.instream == instream) {
            return Err(CaptionsError(format!("{instream} listed twice")));
        }
        let (language, name) = rest.split_once(':').unwrap_or((rest, ""));
        let language = language.trim();
        let language = if language.is_empty() {
            None
        } else if is_language(language) {
            Some(language.to_string())
        } else {
            return Err(CaptionsError(format!(
                "{:?} is not a language tag",
                clip(language)
            )));
        };
        let name = name.trim();
        let name = if name.is_empty() {
            None
        } else if name.chars().count() <= MAX_NAME
            && !name
                .chars()
                .any(|c| c.is_control() || matches!(c, '"' | ',' | '<' | '>' | '&'))
        {
            Some(name.to_string())
        } else {
            return Err(CaptionsError(format!(
                "name {:?} is over {MAX_NAME} characters or holds \" , < > & or a control character",
                clip(name)
            )));
        };
        out.push(ClosedCaption {
            instream,
            language,
            name,
        });
    }
    Ok(Captions::Channels(out))
}

fn instream(s: &str) -> Option<Instream> {
    let upper = s.to_ascii_uppercase();
    let number = |digits: &str| -> Option<u8> {
        (!digits.is_empty()
            && digits.len() <= 2
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0'))
        .then(|| digits.parse().ok())
        .flatten()
    };
    if let Some(n) = upper.strip_prefix("CC").and_then(number) {
        return (1..=4).contains(&n).then_some(Instream::Cc(n));
    }
    if let Some(n) = upper.strip_prefix("SERVICE").and_then(number) {
        return (1..=63).contains(&n).then_some(Instream::Service(n));
    }
    None
}

/// RFC 5646 shape, loosely: a 2–3 letter primary tag, then subtags of 1–8
/// letters or digits.
fn is_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && s.len() <= 35
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// At most 40 characters of a refused part, for the message.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_channels_languages_and_names() {
        let c = parse(" cc1=en:English ; CC3=es-419:Español; service1=fr ;SERVICE63").unwrap();
        let Captions::Channels(list) = c else {
            panic!("channels")
        };
        assert_eq!(list.len(), 4);
        assert_eq!(list[0].instream, Instream::Cc(1));
        assert_eq!(list[0].language.as_deref(), Some("en"));
        assert_eq!(list[0].name.as_deref(), Some("English"));
        assert_eq!(list[1].language.as_deref(), Some("es-419"));
        assert_eq!(list[1].name.as_deref(), Some("Español"));
        assert_eq!(list[2].instream, Instream::Service(1));
        assert_eq!(list[2].name, None);
        assert_eq!(list[3].instream.to_string(), "SERVICE63");
        assert_eq!(list[3].language, None);
        assert_eq!(parse("NONE").unwrap(), Captions::None);
    }

    #[test]
    fn the_canonical_form_parses_back_to_the_same_declaration() {
        for text in [
            "none",
            "CC1",
            "CC1=en",
            "CC1=:Main",
            "CC1=en:English;CC3=es-419:Español: latino;SERVICE1=fr;SERVICE63",
        ] {
            let c = parse(text).unwrap();
            assert_eq!(c.to_string(), text);
            assert_eq!(parse(&c.to_string()).unwrap(), c);
        }
        assert!(parse(" cc1 = en ; NONE ").is_err());
        assert_eq!(parse(" cc1=en ").unwrap().to_string(), "CC1=en");
    }

    #[test]
    fn refuses_what_it_cannot_signal() {
        for bad in [
            "",
            "CC0",
            "CC5",
            "CC01",
            "SERVICE64",
            "SERVICE0",
            "CC",
            "608",
            "CC1=e",
            "CC1=english",
            "CC1=en:a\"b",
            "CC1=en:a,b",
            "CC1;CC1",
            "CC1=en;;CC2",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let many = (1..=9)
            .map(|n| format!("SERVICE{n}"))
            .collect::<Vec<_>>()
            .join(";");
        assert!(parse(&many).unwrap_err().0.contains("more than 8"));
        let long = format!("CC1=en:{}", "x".repeat(65));
        assert!(parse(&long).is_err());
        assert!(parse(&format!("CC1=en:{}", "x".repeat(64))).is_ok());
    }
}
