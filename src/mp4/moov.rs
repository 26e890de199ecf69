//! `moov` → movie timescale and tracks (ISO/IEC 14496-12 §8.2–8.7).

use super::elst::{parse_edts, EditList};
use super::error::{Mp4Error, Result};
use super::header::{BoxIter, Mp4Box};
use super::moof::{parse_mvex, Run, Trex};
use super::stbl::SampleTables;
use super::stsd::{parse_stsd, SampleEntry};
use crate::model::{FourCC, TrackKind};
use bytes::Bytes;

/// Most tracks we look at in one file.
const MAX_TRACKS: usize = 64;

/// A parsed `trak` we can package.
#[derive(Clone, Debug)]
pub struct Track {
    pub track_id: u32,
    pub kind: TrackKind,
    pub handler: FourCC,
    pub timescale: u32,
    pub language: String,
    /// Width/height from `tkhd` (display size), integer part of 16.16.
    pub display_size: (u32, u32),
    pub entry: SampleEntry,
    pub tables: SampleTables,
    /// See [`crate::model::TrackInfo::presentation_offset`].
    pub presentation_offset: i64,
    /// The whole edit list (`edts/elst`, §8.6.6); `index::edits` applies
    /// its cuts and trims.
    pub edits: EditList,
    /// Media duration from `mdhd` (0 when unknown, as fragmented files
    /// write it), in `timescale`: tells an edit that ends early from one
    /// that runs to the end.
    pub media_duration: u64,
    pub path: String,
    /// The runs of the track's movie fragments, in file order (empty for a
    /// progressive file); their samples follow those of `tables`.
    pub fragments: Vec<Run>,
    /// Added to every sample's composition offset (and to
    /// `presentation_offset`): see [`Movie::drop_empty_tracks`].
    pub cts_shift: i32,
    /// Several distinct sample descriptions (`entry` is then their
    /// in-band `avc3`/`hev1` form, [`super::descriptions`]) and where the
    /// samples switch between them: (first sample, 0-based, description).
    pub descriptions: Option<(super::descriptions::Descriptions, Vec<(u32, u32)>)>,
}

impl Track {
    /// Samples in the moov tables and in the fragments.
    pub fn sample_count(&self) -> u64 {
        u64::from(self.tables.sample_count)
            + self
                .fragments
                .iter()
                .map(|r| u64::from(r.count))
                .sum::<u64>()
    }

    /// Walks every sample in decode order: the moov's, then the fragments'.
    pub fn samples(&self) -> super::samples::TrackSamples<'_> {
        super::samples::TrackSamples::new(self)
    }
}

#[derive(Clone, Debug)]
pub struct Movie {
    pub timescale: u32,
    pub tracks: Vec<Track>,
    /// Handler types of tracks we skipped (hint, timecode, metadata…).
    pub skipped: Vec<FourCC>,
    /// The fragment defaults of `mvex` (ISO/IEC 14496-12 §8.8.1): `Some`
    /// when the movie is fragmented, even if no `trex` is given.
    pub trex: Option<Vec<Trex>>,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes([
        b[at],
        b[at + 1],
        b[at + 2],
        b[at + 3],
        b[at + 4],
        b[at + 5],
        b[at + 6],
        b[at + 7],
    ])
}

fn need(b: &Mp4Box, path: &str, len: usize) -> Result<()> {
    if b.payload.len() < len {
        return Err(Mp4Error::truncated(
            path,
            b.header.offset,
            format!("{} cut short", b.header.typ),
        ));
    }
    Ok(())
}

/// Whether a complete `moov` box announces movie fragments (`mvex`,
/// ISO/IEC 14496-12 §8.8.1): its tracks go on in `moof` boxes after it. A
/// moov that does not parse is left to [`parse_moov`] to report.
pub fn has_mvex(moov: &Bytes, offset: u64) -> bool {
    let Some(Ok(moov)) = BoxIter::new(moov.clone(), offset, "").next() else {
        return false;
    };
    matches!(moov.children("moov").find(b"mvex"), Ok(Some(_)))
}

/// Parses a complete `moov` box (header included) that sits at `offset`.
pub fn parse_moov(moov_box: Bytes, offset: u64) -> Result<Movie> {
    let mut it = BoxIter::new(moov_box, offset, "");
    let moov = it
        .next()
        .ok_or_else(|| Mp4Error::truncated("moov", offset, "moov cut short"))??;
    if &moov.header.typ.0 != b"moov" {
        return Err(Mp4Error::invalid(
            "moov",
            offset,
            format!("expected moov, found {}", moov.header.typ),
        ));
    }
    let mut timescale = 0;
    let mut traks = Vec::new();
    let mut mvex = None;
    for child in moov.children("moov") {
        let c = child?;
        match &c.header.typ.0 {
            b"mvhd" => {
                need(&c, "moov/mvhd", 24)?;
                timescale = if c.payload[0] == 1 {
                    be32(&c.payload, 20)
                } else {
                    be32(&c.payload, 12)
                };
            }
            b"trak" => {
                if traks.len() >= MAX_TRACKS {
                    return Err(Mp4Error::unsupported(
                        "moov/trak",
                        c.header.offset,
                        "too many tracks",
                    ));
                }
                traks.push(c);
            }
            b"mvex" => mvex = Some(parse_mvex(&c, "moov/mvex")?),
            _ => {}
        }
    }
    // `mvex` announces movie fragments (ISO/IEC 14496-12 §8.8.1): the
    // samples in the moov, if any, are only the first part of the track, so
    // a track with an empty `stbl` (`empty_moov`) is kept for its fragments.
    if timescale == 0 {
        return Err(Mp4Error::invalid(
            "moov/mvhd",
            offset,
            "missing mvhd or zero timescale",
        ));
    }
    let mut tracks = Vec::new();
    let mut skipped = Vec::new();
    for (i, trak) in traks.iter().enumerate() {
        let path = format!("moov/trak[{}]", i + 1);
        match parse_trak(trak, &path, timescale, mvex.is_some())? {
            TrakOutcome::Track(t) => tracks.push(*t),
            TrakOutcome::Skipped(h) => skipped.push(h),
        }
    }
    let movie = Movie {
        timescale,
        tracks,
        skipped,
        trex: mvex,
    };
    if movie.trex.is_none() {
        movie.check_has_samples(offset)?;
    }
    Ok(movie)
}

impl Movie {
    /// Refuses a movie left with no track to package.
    pub fn check_has_samples(&self, offset: u64) -> Result<()> {
        let av = |t: &&Track| matches!(t.kind, TrackKind::Video | TrackKind::Audio);
        if self.tracks.iter().filter(av).all(|t| t.sample_count() == 0) {
            return Err(Mp4Error::unsupported(
                "moov",
                offset,
                "no audio or video track with samples",
            ));
        }
        Ok(())
    }

    /// Appends the runs of one `moof` (in file order) to their tracks; runs
    /// of tracks not packaged (hint, timecode, undecoded text…) are
    /// dropped.
    pub fn append_runs(&mut self, runs: Vec<Run>) {
        for r in runs {
            if let Some(t) = self.tracks.iter_mut().find(|t| t.track_id == r.track_id) {
                t.fragments.push(r);
            }
        }
    }

    /// Drops the tracks of a fragmented movie that ended up with no
    /// samples, and shifts negative composition offsets of the others.
    ///
    /// Fragmented writers without edit lists (ffmpeg's ISMV, CMAF
    /// `trun` version 1, §8.8.8.3) start presentation at decode time 0 with
    /// negative offsets; MPEG-TS cannot carry a PTS before its DTS. Adding
    /// the most negative offset back to every offset and to the
    /// presentation offset keeps every presentation time and makes the
    /// offsets non-negative, the shape of an edit list over `ctts` v0.
    pub fn drop_empty_tracks(&mut self) -> Result<()> {
        let (keep, empty): (Vec<Track>, Vec<Track>) = std::mem::take(&mut self.tracks)
            .into_iter()
            .partition(|t| t.sample_count() > 0);
        self.skipped.extend(empty.into_iter().map(|t| t.handler));
        self.tracks = keep;
        for t in &mut self.tracks {
            if t.fragments.is_empty() {
                continue;
            }
            let mut min = 0i32;
            for s in t.samples() {
                min = min.min(s?.cts_offset);
            }
            // i32::MIN cannot be negated: refused below as out of range.
            t.cts_shift = min.checked_neg().ok_or_else(|| {
                Mp4Error::unsupported(&t.path, 0, "composition offset out of range")
            })?;
            t.presentation_offset += i64::from(t.cts_shift);
        }
        Ok(())
    }
}

enum TrakOutcome {
    Track(Box<Track>),
    Skipped(FourCC),
}

fn parse_trak(
    trak: &Mp4Box,
    path: &str,
    movie_timescale: u32,
    fragmented: bool,
) -> Result<TrakOutcome> {
    let (mut tkhd, mut mdia, mut edts) = (None, None, None);
    for child in trak.children(path) {
        let c = child?;
        match &c.header.typ.0 {
            b"tkhd" => tkhd = Some(c),
            b"mdia" => mdia = Some(c),
            b"edts" => edts = Some(c),
            _ => {}
        }
    }
    let tkhd = tkhd.ok_or_else(|| Mp4Error::invalid(path, trak.header.offset, "missing tkhd"))?;
    let mdia = mdia.ok_or_else(|| Mp4Error::invalid(path, trak.header.offset, "missing mdia"))?;
    let tkhd_path = format!("{path}/tkhd");
    let v1 = tkhd.payload.first() == Some(&1);
    need(&tkhd, &tkhd_path, if v1 { 92 } else { 80 })?;
    let track_id = be32(&tkhd.payload, if v1 { 20 } else { 12 });
    let tp = &tkhd.payload;
    let display_size = (be32(tp, tp.len() - 8) >> 16, be32(tp, tp.len() - 4) >> 16);

    let mdia_path = format!("{path}/mdia");
    let (mut mdhd, mut hdlr, mut minf, mut elng) = (None, None, None, None);
    for child in mdia.children(&mdia_path) {
        let c = child?;
        match &c.header.typ.0 {
            b"elng" => elng = extended_language(&c.payload),
            b"mdhd" => mdhd = Some(c),
            b"hdlr" => hdlr = Some(c),
            b"minf" => minf = Some(c),
            _ => {}
        }
    }
    let missing =
        |w: &str| Mp4Error::invalid(&mdia_path, mdia.header.offset, format!("missing {w}"));
    let hdlr = hdlr.ok_or_else(|| missing("hdlr"))?;
    need(&hdlr, &format!("{mdia_path}/hdlr"), 12)?;
    let handler = FourCC([
        hdlr.payload[8],
        hdlr.payload[9],
        hdlr.payload[10],
        hdlr.payload[11],
    ]);
    let kind = match &handler.0 {
        b"vide" => TrackKind::Video,
        b"soun" => TrackKind::Audio,
        // Timed text (14496-12 §12.5 `text`, §12.6 `subt`; 3GPP TS 26.245
        // and QuickTime `sbtl`): kept only when the sample entry is one
        // [`super::text`] decodes (checked below, after `stsd`).
        b"text" | b"sbtl" | b"subt" => TrackKind::Subtitle,
        _ => return Ok(TrakOutcome::Skipped(handler)),
    };
    let mdhd = mdhd.ok_or_else(|| missing("mdhd"))?;
    let mdhd_path = format!("{mdia_path}/mdhd");
    let v1 = mdhd.payload.first() == Some(&1);
    need(&mdhd, &mdhd_path, if v1 { 34 } else { 22 })?;
    let (timescale, lang_at, media_duration) = if v1 {
        (be32(&mdhd.payload, 20), 32, be64(&mdhd.payload, 24))
    } else {
        (
            be32(&mdhd.payload, 12),
            20,
            u64::from(be32(&mdhd.payload, 16)),
        )
    };
    // All ones: duration unknown (§8.4.2.3).
    let media_duration = match media_duration {
        u64::MAX | 0xFFFF_FFFF => 0,
        d => d,
    };
    if timescale == 0 {
        return Err(Mp4Error::invalid(
            &mdhd_path,
            mdhd.header.offset,
            "zero timescale",
        ));
    }
    let language = decode_language(u16::from_be_bytes([
        mdhd.payload[lang_at],
        mdhd.payload[lang_at + 1],
    ]));
    // A text track's `elng` (BCP 47, §8.4.6) overrides the packed code:
    // only text tracks, so audio and video keep their ISO 639-2 codes.
    let language = match elng {
        Some(tag) if kind == TrackKind::Subtitle => tag,
        _ => language,
    };

    let minf = minf.ok_or_else(|| missing("minf"))?;
    let minf_path = format!("{mdia_path}/minf");
    let stbl = minf
        .children(&minf_path)
        .find(b"stbl")?
        .ok_or_else(|| Mp4Error::invalid(&minf_path, minf.header.offset, "missing stbl"))?;
    let stbl_path = format!("{minf_path}/stbl");
    let stsd = stbl
        .children(&stbl_path)
        .find(b"stsd")?
        .ok_or_else(|| Mp4Error::invalid(&stbl_path, stbl.header.offset, "missing stsd"))?;
    let stsd_path = format!("{stbl_path}/stsd");
    let entries = parse_stsd(&stsd, &stsd_path)?;
    let (entry, descriptions) =
        super::descriptions::combine(entries, &stsd_path, stsd.header.offset)?;
    if descriptions.is_some() && fragmented {
        // `tfhd`/`trex` sample_description_index would pick the entry per
        // fragment (§8.8.7); not walked yet.
        return Err(Mp4Error::unsupported(
            &stsd_path,
            stsd.header.offset,
            "fragmented tracks with several sample descriptions are not supported",
        ));
    }
    if kind == TrackKind::Subtitle
        && super::text::TextFormat::of_entry(entry.fourcc, &entry.raw).is_none()
    {
        // QuickTime `text`, `c608` and the like: not decoded, skipped as
        // before rather than refused.
        return Ok(TrakOutcome::Skipped(handler));
    }
    let tables = SampleTables::parse(&stbl, &stbl_path)?;
    let descriptions = match descriptions {
        Some(d) => {
            let switches = tables.description_switches(&d.map, &stbl_path)?;
            Some((d, switches))
        }
        None => None,
    };
    if tables.sample_count == 0 && !fragmented {
        return Ok(TrakOutcome::Skipped(handler));
    }
    let edits = match edts {
        Some(e) => parse_edts(&e, &format!("{path}/edts"), movie_timescale, timescale)?,
        None => EditList::default(),
    };
    let presentation_offset = edits.presentation_offset();
    Ok(TrakOutcome::Track(Box::new(Track {
        track_id,
        kind,
        handler,
        timescale,
        language,
        display_size,
        entry,
        tables,
        presentation_offset,
        edits,
        media_duration,
        path: path.to_string(),
        fragments: Vec::new(),
        cts_shift: 0,
        descriptions,
    })))
}

/// The BCP 47 tag of an `elng` box (§8.4.6: full box header, then a
/// null-terminated string), when it is a plausible tag: ASCII letters,
/// digits and `-`, at most 35 characters (RFC 5646 §4.4.1's practical
/// limit). Anything else is ignored (`mdhd`'s code stays).
fn extended_language(payload: &[u8]) -> Option<String> {
    let s = payload.get(4..)?;
    let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
    let ok =
        !s.is_empty() && s.len() <= 35 && s.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    ok.then(|| String::from_utf8_lossy(s).into_owned())
}

/// ISO-639-2/T packed as three 5-bit letters (§8.4.2.3).
fn decode_language(v: u16) -> String {
    let chars: String = [(v >> 10) & 0x1f, (v >> 5) & 0x1f, v & 0x1f]
        .iter()
        .map(|&c| (c as u8 + 0x60) as char)
        .collect();
    if chars.chars().all(|c| c.is_ascii_lowercase()) {
        chars
    } else {
        "und".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes() {
        // 'eng' = 0x15C7 per §8.4.2.3 packing.
        assert_eq!(decode_language(0x15c7), "eng");
        assert_eq!(decode_language(0), "und");
    }

    #[test]
    fn elng_tags() {
        assert_eq!(
            extended_language(b"\0\0\0\0pt-BR\0").as_deref(),
            Some("pt-BR")
        );
        assert_eq!(extended_language(b"\0\0\0\0\0"), None);
        assert_eq!(extended_language(b"\0\0"), None);
        assert_eq!(extended_language(b"\0\0\0\0en\"x"), None);
    }
}
