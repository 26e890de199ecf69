//! DASH MPD (ISO/IEC 23009-1), static, `SegmentTemplate` + `SegmentTimeline`
//! (§5.3.9.6) in the 10 MHz timescale Azure used, written with quick-xml.
//!
//! Each Representation carries its own timeline built from its real segment
//! times, so `$Time$` in a request is exactly a time the MPD announced.
//! Video renditions share boundaries (see `timeline`), so their timelines are
//! identical and `segmentAlignment` holds.

use crate::media_set::{MediaSet, SetTrack};
use crate::model::TrackKind;
use crate::timeline::hns::HnsRun;
use crate::timeline::sap::SapType;
use crate::timeline::{TimelineError, HNS};
use crate::url::{self, Format};
use quick_xml::events::{BytesDecl, Event};
use quick_xml::Writer;
use std::borrow::Cow;
use std::io;

/// The descriptor naming AdaptationSets a player may switch between
/// (ISO/IEC 23009-1 §5.3.3.5).
const SET_SWITCHING: &str = "urn:mpeg:dash:adaptation-set-switching:2016";

const PROFILE_LIVE: &str = "urn:mpeg:dash:profile:isoff-live:2011";
const PROFILE_CMAF: &str = "urn:mpeg:dash:profile:cmaf:2019";

/// Everything one Representation needs, computed before any XML is written.
struct Rep<'a> {
    track: &'a SetTrack,
    /// Its `SegmentTimeline` (from the set summary when there is one).
    timeline: Cow<'a, [HnsRun]>,
}

/// ISO 8601 duration for MPD attributes.
fn duration(secs: f64) -> String {
    format!("PT{:.3}S", secs.max(0.0))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The MPD for `format` (`mpd-time-cmaf` or `mpd-time-csf`).
pub fn mpd(set: &MediaSet, format: Format) -> Result<String, TimelineError> {
    mpd_with(set, format, None)
}

/// `urn:mpeg:dash:mp4protection:2011`: the Common Encryption scheme
/// descriptor (ISO/IEC 23009-1 §5.8.5.2, ISO/IEC 23001-7 §11.2).
const MP4_PROTECTION: &str = "urn:mpeg:dash:mp4protection:2011";
/// The W3C common PSSH system as a DASH scheme (DASH-IF IOP §7.7.1).
const COMMON_SYSTEM: &str = "urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b";
/// `urn:mpeg:cenc:2013`, the namespace of `cenc:default_KID` and
/// `cenc:pssh` (ISO/IEC 23001-7 §11.2).
const CENC_NS: &str = "urn:mpeg:cenc:2013";

/// The ClearKey system (W3C EME §9.1; DASH-IF IOP "ClearKey content
/// protection": `e2719d58-a985-b3c9-781a-b030af78d30e`).
const CLEARKEY_SYSTEM: &str = "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e";
/// The DASH-IF content protection namespace of `dashif:Laurl`.
const DASHIF_NS: &str = "https://dashif.org/CPS";

/// How an encrypted title is protected, for its MPD.
#[derive(Clone, Copy, Debug)]
pub struct Protection<'a> {
    /// The scheme (`cenc`, `cbcs`), which names the `encryption=` value
    /// of the segment URLs.
    pub scheme: crate::crypto::Scheme,
    pub key: &'a crate::crypto::ContentKey,
    /// The ClearKey licence server URL (`dashif:Laurl`).
    pub laurl: &'a str,
    /// Other DRM systems to signal (from a CPIX document): one
    /// `ContentProtection` each, after the ClearKey and common ones.
    pub drm: &'a [crate::crypto::cpix::DrmSystem],
    /// Each track's key and signalling when tracks have different keys
    /// (CPIX usage rules); `None`: `key` and `drm` are every track's.
    pub keys: Option<&'a crate::crypto::TrackKeys<'a>>,
}

impl<'a> Protection<'a> {
    /// The protection of `t`: its own key and systems when tracks have
    /// different keys.
    fn of(self, t: &SetTrack) -> Protection<'a> {
        match self.keys.and_then(|k| k.of(t.file, t.track)) {
            Some((key, drm)) => Protection { key, drm, ..self },
            None => self,
        }
    }
}

/// [`mpd`] for a title encrypted with `encryption={scheme}` under `key`:
/// segment URLs keep the option, and each Representation carries the
/// scheme's `ContentProtection` with `cenc:default_KID` (UUID form) and
/// one for the W3C common system with its `pssh` (`cenc:pssh`, base64),
/// from which an EME player learns the key id before the init segment,
/// and one for the ClearKey system whose `dashif:Laurl` is the licence
/// URL (DASH-IF IOP v5 Part 6 §6.3; Shaka Player and dash.js read it).
pub fn mpd_with(
    set: &MediaSet,
    format: Format,
    protection: Option<Protection<'_>>,
) -> Result<String, TimelineError> {
    // Adaptation sets: video by sample entry, audio by language and codec.
    // One AdaptationSet carries one codec (ISO/IEC 23009-1 §5.3.3.1; a CMAF
    // switching set, ISO/IEC 23000-19 §7.3.4): audio is keyed by the whole
    // RFC 6381 string, because one `mp4a` entry covers AAC-LC, HE-AAC and
    // DTS (`mp4a.40.2`, `mp4a.40.5`, `mp4a.A9`) and a player cannot switch
    // decoders inside a set.
    // (kind, family, key id or "", language, renditions).
    let mut sets: Vec<(TrackKind, String, String, String, Vec<Rep<'_>>)> = Vec::new();
    // Renditions with different keys are not one AdaptationSet: its
    // ContentProtection (and `cenc:default_KID`) is shared by every
    // Representation (DASH-IF IOP v4.3 §7.7.2: one default_KID per
    // Adaptation Set), and dash.js reads it only there. So the key id
    // joins the grouping; with one key nothing changes.
    let key_of = |t: &SetTrack| match protection {
        Some(p) if p.keys.is_some_and(|k| k.multi) => p.of(t).key.kid_hex(),
        _ => String::new(),
    };
    for t in &set.tracks {
        let info = &set.track_index(t).info;
        let family = if info.kind == TrackKind::Audio {
            info.codec_string.clone()
        } else if !set.is_aligned(t) {
            // Cut at its own keyframes: segments do not align with the
            // other renditions', so it cannot share their AdaptationSet
            // (segmentAlignment, §5.3.3.2); it gets one of its own.
            format!("{}/{}/{}", info.fourcc, t.name, t.bitrate)
        } else {
            // PQ, HLG and SDR renditions are not one switching set (a
            // player cannot switch transfer functions seamlessly, and the
            // CICP descriptors below describe each rendition).
            format!("{}/{}", info.fourcc, info.video_range().as_str())
        };
        let lang = if info.kind == TrackKind::Audio {
            t.language.clone()
        } else {
            String::new()
        };
        let key = key_of(t);
        let rep = Rep {
            track: t,
            timeline: set.hns_runs(t)?,
        };
        match sets
            .iter_mut()
            .find(|s| s.0 == info.kind && s.1 == family && s.2 == key && s.3 == lang)
        {
            Some(s) => s.4.push(rep),
            None => sets.push((info.kind, family, key, lang, vec![rep])),
        }
    }
    // Renditions split only because their keys differ (SD and HD keys) are
    // still one switching choice for the player: each set lists the others
    // (ISO/IEC 23009-1 §5.3.3.5 adaptation-set-switching; DASH-IF IOP
    // v4.3 §3.8), by the ids `adaptation_set` writes (their index).
    let switching: Vec<Option<String>> = (0..sets.len())
        .map(|i| {
            let others: Vec<String> = (0..sets.len())
                .filter(|&j| {
                    j != i
                        && sets[j].0 == sets[i].0
                        && sets[j].1 == sets[i].1
                        && sets[j].3 == sets[i].3
                })
                .map(|j| j.to_string())
                .collect();
            (!others.is_empty()).then(|| others.join(","))
        })
        .collect();
    // Text tracks follow the shared timeline: the reference track's
    // segments (the first video rendition's).
    let text_timeline = match set.tracks.first() {
        Some(t) if !set.texts.is_empty() => set.hns_runs(t)?,
        _ => Cow::Borrowed(&[][..]),
    };
    let profiles = if format == Format::DashCmaf {
        format!("{PROFILE_LIVE},{PROFILE_CMAF}")
    } else {
        PROFILE_LIVE.to_string()
    };
    // The SCTE 214 namespace only when a Representation uses it, so MPDs
    // without Dolby Vision stay as they were.
    let scte214 = set
        .tracks
        .iter()
        .any(|t| supplemental_codec(set, t).is_some());
    // Sized for its timelines (one `S` line, ~40 bytes, an entry) so a
    // long title's MPD is written without growing (copying) its buffer;
    // at most 4 MB up front, whatever the counts.
    let entries: usize = sets
        .iter()
        .flat_map(|s| &s.4)
        .map(|r| r.timeline.len())
        .sum::<usize>()
        + text_timeline.len() * set.texts.len();
    let mut w = Writer::new_with_indent(
        Vec::with_capacity((4096 + entries.saturating_mul(48)).min(4 << 20)),
        b' ',
        1,
    );
    let write = |w: &mut Writer<Vec<u8>>| -> io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        let mut mpd = w.create_element("MPD");
        if protection.is_some() {
            mpd = mpd.with_attributes([("xmlns:cenc", CENC_NS), ("xmlns:dashif", DASHIF_NS)]);
        }
        if scte214 {
            mpd = mpd.with_attribute((
                "xmlns:scte214",
                crate::codec::dolby_vision::SCTE214_NAMESPACE,
            ));
        }
        mpd.with_attributes([
            ("xmlns", "urn:mpeg:dash:schema:mpd:2011"),
            ("profiles", profiles.as_str()),
            ("type", "static"),
            (
                "mediaPresentationDuration",
                duration(set.duration_secs()).as_str(),
            ),
            ("minBufferTime", "PT2S"),
        ])
        .write_inner_content(|w| {
            w.create_element("Period")
                .with_attributes([("id", "0"), ("start", "PT0S")])
                .write_inner_content(|w| {
                    let mut first_audio = true;
                    for (i, (kind, _, _, lang, reps)) in sets.iter().enumerate() {
                        let main = *kind == TrackKind::Audio && std::mem::take(&mut first_audio);
                        let switch = switching.get(i).and_then(Option::as_deref);
                        adaptation_set(
                            w, set, format, i, *kind, lang, reps, main, protection, switch,
                        )?;
                    }
                    text::adaptation_sets(w, set, format, sets.len(), &text_timeline)?;
                    Ok(())
                })?;
            Ok(())
        })?;
        Ok(())
    };
    write(&mut w).map_err(|_| TimelineError::NoTracks)?;
    // Valid UTF-8 (written from `&str`s): taken as is, without the copy
    // and the per-chunk scan of a lossy conversion.
    Ok(String::from_utf8(w.into_inner())
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

#[allow(clippy::too_many_arguments)]
fn adaptation_set(
    w: &mut Writer<Vec<u8>>,
    set: &MediaSet,
    format: Format,
    id: usize,
    kind: TrackKind,
    lang: &str,
    reps: &[Rep<'_>],
    main: bool,
    protection: Option<Protection<'_>>,
    switching: Option<&str>,
) -> io::Result<()> {
    let id = id.to_string();
    let (content, mime) = match kind {
        TrackKind::Video => ("video", "video/mp4"),
        _ => ("audio", "audio/mp4"),
    };
    // Open GOPs start segments with SAP type 3 (ISO/IEC 23009-1 §5.3.3.2,
    // ISO/IEC 14496-12 Annex I): saying 1 would promise that each segment
    // decodes alone.
    let sap = reps
        .iter()
        .map(|r| set.track_sap(r.track).unwrap_or(SapType::Open) as u8)
        .max()
        .unwrap_or(1)
        .to_string();
    let mut el = w.create_element("AdaptationSet").with_attributes([
        ("id", id.as_str()),
        ("contentType", content),
        ("mimeType", mime),
        ("segmentAlignment", "true"),
        ("startWithSAP", sap.as_str()),
    ]);
    let bcp = super::lang::bcp47(lang);
    if let Some(l) = &bcp {
        el = el.with_attribute(("lang", l.as_str()));
    }
    let (mw, mh) = reps.iter().fold((0, 0), |(a, b), r| {
        let i = &set.track_index(r.track).info;
        (a.max(i.width), b.max(i.height))
    });
    let (mw, mh) = (mw.to_string(), mh.to_string());
    if kind == TrackKind::Video {
        el = el.with_attributes([("maxWidth", mw.as_str()), ("maxHeight", mh.as_str())]);
    }
    el.write_inner_content(|w| {
        // On the AdaptationSet (DASH-IF IOP §7.7.2: every Representation of
        // a set shares its key; an asset has one), ahead of Role per the
        // XSD (RepresentationBaseType elements first). dash.js 4 reads
        // ContentProtection only here, never on a Representation.
        if let Some(p) = protection {
            // Every Representation of the set has one key (see mpd_with).
            let p = reps.first().map_or(p, |r| p.of(r.track));
            content_protection(w, p)?;
        }
        // After ContentProtection, before Accessibility and Role (the
        // XSD's order).
        if let Some(ids) = switching {
            w.create_element("SupplementalProperty")
                .with_attributes([("schemeIdUri", SET_SWITCHING), ("value", ids)])
                .write_empty()?;
        }
        if kind == TrackKind::Video {
            for (scheme, value) in caption_descriptors(set) {
                w.create_element("Accessibility")
                    .with_attributes([("schemeIdUri", scheme), ("value", value.as_str())])
                    .write_empty()?;
            }
        }
        if kind == TrackKind::Audio {
            let role = if main { "main" } else { "alternate" };
            w.create_element("Role")
                .with_attributes([("schemeIdUri", "urn:mpeg:dash:role:2011"), ("value", role)])
                .write_empty()?;
        }
        for r in reps {
            representation(w, set, format, r, protection)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// `Accessibility` descriptors of the captions a title's video carries
/// (SCTE 214-1, DASH-IF IOP §6.4.3): CEA-608 as
/// `urn:scte:dash:cc:cea-608:2015` with `CC1=eng;CC3=spa`, CEA-708 as
/// `urn:scte:dash:cc:cea-708:2015` with `1=lang:eng;2=lang:spa`
/// (three-letter ISO 639-2 codes where known; a channel without a
/// language is listed bare).
fn caption_descriptors(set: &MediaSet) -> Vec<(&'static str, String)> {
    use crate::input::captions::{Captions, Instream};
    let Some(Captions::Channels(list)) = &set.captions else {
        return Vec::new();
    };
    let code = |l: &Option<String>| l.as_deref().map(super::lang::iso639_2);
    let cc: Vec<String> = list
        .iter()
        .filter_map(|c| match (c.instream, code(&c.language)) {
            (Instream::Cc(n), Some(l)) => Some(format!("CC{n}={l}")),
            (Instream::Cc(n), None) => Some(format!("CC{n}")),
            _ => None,
        })
        .collect();
    let services: Vec<String> = list
        .iter()
        .filter_map(|c| match (c.instream, code(&c.language)) {
            (Instream::Service(n), Some(l)) => Some(format!("{n}=lang:{l}")),
            (Instream::Service(n), None) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    if !cc.is_empty() {
        out.push(("urn:scte:dash:cc:cea-608:2015", cc.join(";")));
    }
    if !services.is_empty() {
        out.push(("urn:scte:dash:cc:cea-708:2015", services.join(";")));
    }
    out
}

/// CICP descriptors of an HDR video rendition: the
/// `urn:mpeg:mpegB:cicp:*` schemes (ISO/IEC 23001-8, now 23091-2, code
/// points), as DASH-IF IOP signals HDR10 and HLG10 renditions, from the
/// `colr` box: colour primaries, transfer characteristics and matrix
/// coefficients, written only when the transfer is PQ (16) or HLG (18).
/// SDR renditions and those without `colr` get none (SDR is what a player
/// assumes), so their MPDs are unchanged. `SupplementalProperty`: a player
/// ignoring the scheme may still pick the rendition, which for HLG is its
/// intended SDR-display fallback; whether PQ should rather use
/// `EssentialProperty` is left open (issue 16).
fn cicp_properties(info: &crate::model::TrackInfo) -> Vec<(&'static str, String)> {
    let Some(c) = info.colour else {
        return Vec::new();
    };
    if info.kind != TrackKind::Video || c.video_range() == crate::model::VideoRange::Sdr {
        return Vec::new();
    }
    vec![
        (
            "urn:mpeg:mpegB:cicp:ColourPrimaries",
            c.primaries.to_string(),
        ),
        (
            "urn:mpeg:mpegB:cicp:TransferCharacteristics",
            c.transfer.to_string(),
        ),
        (
            "urn:mpeg:mpegB:cicp:MatrixCoefficients",
            c.matrix.to_string(),
        ),
    ]
}

/// The Dolby Vision supplemental codec and brand of a video track, if any.
fn supplemental_codec(set: &MediaSet, t: &SetTrack) -> Option<(String, &'static str)> {
    let info = &set.track_index(t).info;
    let dv = info.dolby_vision.as_ref()?;
    crate::codec::dolby_vision::supplemental(info.fourcc, dv)
}

/// The `ContentProtection` descriptors of an encrypted AdaptationSet.
fn content_protection(w: &mut Writer<Vec<u8>>, p: Protection<'_>) -> io::Result<()> {
    let (scheme, key) = (p.scheme.fourcc(), p.key);
    let kid = uuid(&key.kid);
    w.create_element("ContentProtection")
        .with_attributes([
            ("schemeIdUri", MP4_PROTECTION),
            ("value", scheme),
            ("cenc:default_KID", kid.as_str()),
        ])
        .write_empty()?;
    let pssh = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        crate::mux::cenc::pssh_common(&key.kid),
    );
    // ClearKey (with the licence URL) before the common system: players
    // map both to `org.w3.clearkey`, and Shaka Player takes the licence
    // URL of the first.
    w.create_element("ContentProtection")
        .with_attributes([("schemeIdUri", CLEARKEY_SYSTEM), ("value", "ClearKey1.0")])
        .write_inner_content(|w| {
            // No `cenc:pssh` here: for `org.w3.clearkey` dash.js hands the
            // element's init data to EME as `keyids`, which a pssh box is
            // not (generateRequest throws a TypeError); without one it
            // builds the `{"kids": [...]}` JSON (EME §9.1.3) from
            // `cenc:default_KID`. The common system below carries the pssh.
            w.create_element("dashif:Laurl")
                .with_attribute(("licenseType", "EME-1.0"))
                .write_text_content(quick_xml::events::BytesText::new(p.laurl))?;
            Ok(())
        })?;
    w.create_element("ContentProtection")
        .with_attribute(("schemeIdUri", COMMON_SYSTEM))
        .write_inner_content(|w| {
            w.create_element("cenc:pssh")
                .write_text_content(quick_xml::events::BytesText::new(&pssh))?;
            Ok(())
        })?;
    for sys in p.drm {
        drm_system(w, sys, &kid)?;
    }
    Ok(())
}

/// A DRM system's `ContentProtection` (DASH-IF IOP §7.7.2: scheme
/// `urn:uuid:{SystemID}`): the CPIX `ContentProtectionData` as given (CPIX
/// 2.3 §5.3.6: inside the system's element, or the whole element when it
/// is one), else a `cenc:pssh` with the system's `pssh` boxes (ISO/IEC
/// 23001-7 §11.2.1). A system with neither (FairPlay: HLS only) is left
/// out.
fn drm_system(
    w: &mut Writer<Vec<u8>>,
    sys: &crate::crypto::cpix::DrmSystem,
    kid: &str,
) -> io::Result<()> {
    use quick_xml::events::{BytesStart, BytesText};
    let scheme = format!("urn:uuid:{}", uuid(&sys.system_id));
    let element = || {
        BytesStart::new("ContentProtection")
            .with_attributes([("schemeIdUri", scheme.as_str()), ("cenc:default_KID", kid)])
    };
    if let Some(xml) = &sys.content_protection {
        // Checked well-formed when the CPIX document was parsed.
        let raw = Event::Text(BytesText::from_escaped(xml.as_str()));
        if crate::crypto::cpix::is_whole_element(xml) {
            return w.write_event(raw);
        }
        let start = element();
        let end = start.to_end().into_owned();
        w.write_event(Event::Start(start))?;
        w.write_event(raw)?;
        return w.write_event(Event::End(end));
    }
    if let Some(pssh) = &sys.pssh {
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pssh);
        w.create_element("ContentProtection")
            .with_attributes([("schemeIdUri", scheme.as_str()), ("cenc:default_KID", kid)])
            .write_inner_content(|w| {
                w.create_element("cenc:pssh")
                    .write_text_content(BytesText::new(&b64))?;
                Ok(())
            })?;
    }
    Ok(())
}

/// A 16-byte id in UUID form (RFC 4122 §3: 8-4-4-4-12 hex digits).
pub fn uuid(id: &[u8; 16]) -> String {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn representation(
    w: &mut Writer<Vec<u8>>,
    set: &MediaSet,
    format: Format,
    r: &Rep<'_>,
    protection: Option<Protection<'_>>,
) -> io::Result<()> {
    let info = &set.track_index(r.track).info;
    let id = format!("{}_{}", r.track.name, r.track.bitrate);
    let bandwidth = r.track.bitrate.to_string();
    let mut el = w.create_element("Representation").with_attributes([
        ("id", id.as_str()),
        ("bandwidth", bandwidth.as_str()),
        ("codecs", info.codec_string.as_str()),
    ]);
    // A backward-compatible Dolby Vision layer (profile 8.x/10.x): offered
    // beside the base layer's codec (SCTE 214-1 §6.2; see
    // `codec::dolby_vision`), so players without DV still play the base.
    let supplemental = supplemental_codec(set, r.track);
    if let Some((codec, brand)) = &supplemental {
        el = el.with_attributes([
            ("scte214:supplementalCodecs", codec.as_str()),
            ("scte214:supplementalProfiles", *brand),
        ]);
    }
    let (width, height, rate, sar) = (
        info.width.to_string(),
        info.height.to_string(),
        info.sample_rate.to_string(),
        format!("{}:{}", info.par.0, info.par.1),
    );
    let frame_rate = set.track_index(r.track).frame_rate().map(|(n, d)| {
        let g = gcd(n, d).max(1);
        if d / g == 1 {
            (n / g).to_string()
        } else {
            format!("{}/{}", n / g, d / g)
        }
    });
    if info.kind == TrackKind::Video {
        el = el.with_attributes([
            ("width", width.as_str()),
            ("height", height.as_str()),
            ("sar", sar.as_str()),
        ]);
        if let Some(f) = &frame_rate {
            el = el.with_attribute(("frameRate", f.as_str()));
        }
    } else {
        el = el.with_attribute(("audioSamplingRate", rate.as_str()));
    }
    el.write_inner_content(|w| {
        if info.kind == TrackKind::Audio {
            for (scheme, value) in crate::codec::dash_channel_elements(info) {
                w.create_element("AudioChannelConfiguration")
                    .with_attributes([("schemeIdUri", scheme), ("value", value.as_str())])
                    .write_empty()?;
            }
        }
        // RepresentationBaseType order (ISO/IEC 23009-1 §5.3.7, the XSD):
        // AudioChannelConfiguration, (ContentProtection: on the set),
        // EssentialProperty, SupplementalProperty, then SegmentTemplate.
        let audio = if info.kind == TrackKind::Audio {
            crate::codec::dash_audio_properties(info)
        } else {
            Vec::new()
        };
        for (scheme, value) in cicp_properties(info).into_iter().chain(audio) {
            w.create_element("SupplementalProperty")
                .with_attributes([("schemeIdUri", scheme), ("value", value.as_str())])
                .write_empty()?;
        }
        let encryption = protection.map(|p| p.scheme.option());
        segment_template(w, set, &r.track.name, format, encryption, &r.timeline)
    })?;
    Ok(())
}

/// The `SegmentTemplate` of a track (by name) with its `SegmentTimeline`
/// in HNS.
fn segment_template(
    w: &mut Writer<Vec<u8>>,
    set: &MediaSet,
    name: &str,
    format: Format,
    encryption: Option<&str>,
    timeline: &[HnsRun],
) -> io::Result<()> {
    let init = url::init_url_template_with(name, format, encryption);
    let media = url::fragment_url_template_with(name, format, encryption);
    let hns = HNS.to_string();
    // A clipped view (a filter's time range) starts the Period at the
    // clip's first segment (ISO/IEC 23009-1 §5.3.9.2,
    // @presentationTimeOffset), so it plays from 0 for the clip's
    // duration while `$Time$` keeps the unclipped segment times.
    let pto = set
        .clip
        .filter(|c| c.start_hns > 0)
        .map(|c| c.start_hns.to_string());
    let mut attrs = vec![
        ("timescale", hns.as_str()),
        ("initialization", init.as_str()),
        ("media", media.as_str()),
    ];
    if let Some(p) = &pto {
        attrs.push(("presentationTimeOffset", p.as_str()));
    }
    w.create_element("SegmentTemplate")
        .with_attributes(attrs)
        .write_inner_content(|w| {
            w.create_element("SegmentTimeline")
                .write_inner_content(|w| {
                    super::runs::write(
                        w,
                        "S",
                        timeline
                            .iter()
                            .map(|s| (s.t, s.d, (s.r > 0).then_some(s.r))),
                    )
                })?;
            Ok(())
        })?;
    Ok(())
}

mod text;

#[cfg(test)]
mod tests {
    use super::*;

    fn adaptation_sets(mpd: &str) -> Vec<&str> {
        mpd.split("<AdaptationSet").skip(1).collect()
    }

    /// One AdaptationSet per audio codec: AAC, AC-3 and E-AC-3 of one
    /// language are three sets, not one `mp4a`-keyed set.
    #[test]
    fn one_adaptation_set_per_audio_codec() {
        let set = crate::testutil::fixture_set("mixed_audio.mp4", 2000);
        let m = mpd(&set, Format::DashCmaf).unwrap();
        let sets = adaptation_sets(&m);
        assert_eq!(sets.len(), 4, "{m}");
        for codec in ["mp4a.40.2", "ac-3", "ec-3"] {
            let with: Vec<_> = sets
                .iter()
                .filter(|s| s.contains(&format!("codecs=\"{codec}\"")))
                .collect();
            assert_eq!(with.len(), 1, "{codec}");
            assert_eq!(with[0].matches("<Representation").count(), 1);
        }
    }

    /// startWithSAP says what a segment start really is.
    #[test]
    fn open_gops_start_with_sap_3() {
        for (name, sap) in [("open_gop.mp4", "3"), ("avc_bframes.mp4", "1")] {
            let set = crate::testutil::fixture_set(name, 1000);
            let m = mpd(&set, Format::DashCsf).unwrap();
            assert!(
                m.contains(&format!("startWithSAP=\"{sap}\"")),
                "{name}: {m}"
            );
        }
    }

    /// An unaligned rendition gets an AdaptationSet of its own.
    #[test]
    fn unaligned_rendition_has_its_own_adaptation_set() {
        let set = crate::testutil::fixture_files_set(&["avc_bframes.mp4", "avc_gop40.mp4"], 2000);
        let m = mpd(&set, Format::DashCmaf).unwrap();
        let sets = adaptation_sets(&m);
        assert_eq!(sets.len(), 2, "{m}");
        assert!(sets
            .iter()
            .all(|s| s.matches("<Representation").count() == 1));
    }

    /// DTS is announced with the DTS channel scheme and its channel count
    /// (DASH-IF IOP, "DTS"), Dolby with its channel mask, AAC with the
    /// MPEG scheme.
    #[test]
    fn audio_channel_schemes_per_codec() {
        let set = crate::testutil::fixture_set("dts51.mp4", 2000);
        let m = mpd(&set, Format::DashCmaf).unwrap();
        assert!(
            m.contains(
                "<AudioChannelConfiguration schemeIdUri=\"tag:dts.com,2014:dash:\
                 audio_channel_configuration:2012\" value=\"6\"/>"
            ),
            "{m}"
        );
        let set = crate::testutil::fixture_set("mixed_audio.mp4", 2000);
        let m = mpd(&set, Format::DashCmaf).unwrap();
        assert!(
            m.contains("schemeIdUri=\"tag:dolby.com,2014:dash:audio_channel_configuration:2011\"")
        );
        assert!(
            m.contains("schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\"")
        );
        assert!(!m.contains("tag:dts.com"));
    }

    fn colour_mpd(colr: &[u8], format: Format) -> String {
        use crate::testutil::{synth_set, video_entry, SynthTrack};
        let entry = video_entry(&[(b"colr", colr)]);
        let set = synth_set(
            &[
                SynthTrack::video(50, 25, 25).with_entry(entry),
                SynthTrack::audio(94),
            ],
            2000,
        );
        mpd(&set, format).unwrap()
    }

    /// HDR renditions carry the CICP descriptors from `colr`, after the
    /// Representation's attributes and before its SegmentTemplate
    /// (RepresentationBaseType order); SDR ones carry none.
    #[test]
    fn hdr_renditions_carry_cicp_descriptors() {
        for format in [Format::DashCmaf, Format::DashCsf] {
            for (colr, transfer) in [
                (&b"nclx\0\x09\0\x10\0\x09\0"[..], "16"),
                (&b"nclc\0\x09\0\x12\0\x09"[..], "18"),
            ] {
                let m = colour_mpd(colr, format);
                let rep = m.split("<Representation").nth(1).unwrap();
                let want = [
                    "<SupplementalProperty schemeIdUri=\"urn:mpeg:mpegB:cicp:ColourPrimaries\" value=\"9\"/>".to_string(),
                    format!("<SupplementalProperty schemeIdUri=\"urn:mpeg:mpegB:cicp:TransferCharacteristics\" value=\"{transfer}\"/>"),
                    "<SupplementalProperty schemeIdUri=\"urn:mpeg:mpegB:cicp:MatrixCoefficients\" value=\"9\"/>".to_string(),
                ];
                let mut at = 0;
                for w in &want {
                    let p = rep.find(w.as_str()).unwrap_or_else(|| panic!("{w}: {m}"));
                    assert!(p >= at, "order: {m}");
                    at = p;
                }
                assert!(at < rep.find("<SegmentTemplate").unwrap(), "{m}");
                // Only the video Representation has them.
                assert_eq!(m.matches("<SupplementalProperty").count(), 3, "{m}");
            }
            let m = colour_mpd(b"nclx\0\x01\0\x01\0\x01\0", format);
            assert!(!m.contains("SupplementalProperty"), "{m}");
        }
    }
}
