//! The index blob's layout, and reading it back (it is built in
//! `build.rs`).
//!
//! Layout (big-endian), version [`INDEX_VERSION`]:
//! ```text
//! "EPIX" version:u32 file_size:u64 etag_len:u16 etag
//! moov_len:u32, then when not 0: moov_offset:u64 moov (a fragment-level index)
//! track_count:u16, then per track:
//!   track_id:u32 kind:u8 flags:u8 (1: composition offsets, 2: every sample
//!   is a sync sample, the sync table is empty, 4: a sample is a fragment) timescale:u32 duration:u64 language_len:u8 language
//!   handler:[u8;4] presentation_offset:i64 presented_end:i64 (i64::MIN: none)
//!   avg_bitrate:u64 max_bitrate:u64
//!   sample_count:u32 total_bytes:u64 entry_len:u32 entry (the raw sample entry box)
//!   when flags & 8 (several descriptions, the entry their `avc3`/`hev1` form):
//!     desc_count:u8, per description entry_len:u32 entry,
//!     switch_count:u32, per switch first_sample:u32 description:u32
//!   block_count:u32 blocks sync_count:u32 sync data_len:u32 data
//! trailer: count:u16, then per entry: track_id:u32 channels:u16
//! ```
//! Track details not listed (codec, size, channels, `colr`) are re-derived from the
//! stored sample entry, so there is one parser for them, not two. The
//! trailer holds what only the media says (channel counts of DTS tracks
//! without `ddts`, read from the first frame after the moov is indexed);
//! it is last so that it can be rewritten without touching the tracks.

use super::*;
use crate::mp4::stsd::parse_sample_entry;

pub(super) const MAGIC: &[u8; 4] = b"EPIX";
/// Track flag: some sample has a composition offset.
pub(super) const FLAG_CTS: u8 = 1;
/// Track flag: every sample is a sync sample (a video track without
/// `stss`); the sync table is empty rather than an entry per sample.
pub(super) const FLAG_ALL_SYNC: u8 = 2;
/// Track flag: a sample stands for a whole fragment (a fragment-level
/// index, `build_fragment_level`); its real samples are in the moofs.
pub(super) const FLAG_FRAGMENTS: u8 = 4;

/// Track flag: several sample descriptions, packaged with in-band
/// parameter sets ([`crate::mp4::descriptions`]): the entry is followed by
/// the descriptions and the switch table.
pub(super) const FLAG_DESCRIPTIONS: u8 = 8;

/// Appends the trailer: channel counts read from the stream, per track ID.
pub(super) fn put_trailer(out: &mut Vec<u8>, counts: &[(u32, u16)]) -> Result<()> {
    let n = u16::try_from(counts.len()).map_err(|_| IndexError::Corrupt("trailer too large"))?;
    out.extend_from_slice(&n.to_be_bytes());
    for (id, c) in counts {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&c.to_be_bytes());
    }
    Ok(())
}

/// Writes a table as its entry count followed by its bytes.
pub(super) fn put_table(out: &mut Vec<u8>, table: &[u8], unit: usize) -> Result<()> {
    let n =
        u32::try_from(table.len() / unit).map_err(|_| IndexError::Corrupt("index too large"))?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(table);
    Ok(())
}

/// Bounds-checked reader over the blob.
struct Reader {
    b: Bytes,
    pos: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<Bytes> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or(IndexError::Corrupt("blob cut short"))?;
        let s = self.b.slice(self.pos..end);
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(be_u32(&self.take(4)?, 0))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(be_u64(&self.take(8)?, 0))
    }
    /// A count-prefixed table of `unit`-byte entries.
    fn table(&mut self, unit: usize) -> Result<Bytes> {
        let n = self.u32()? as usize;
        self.take(
            n.checked_mul(unit)
                .ok_or(IndexError::Corrupt("table size"))?,
        )
    }
}

impl MediaIndex {
    /// Views a blob from [`build`] (or the cache) without decoding samples.
    pub fn from_blob(blob: Bytes) -> Result<MediaIndex> {
        Self::read(blob, false)
    }

    /// Views a blob from [`MediaIndex::header_blob`]: every track's
    /// header (what manifests name: codec, size, language, duration,
    /// sample and byte counts) and no sample table. Any sample lookup on
    /// it is an error ([`TrackIndex::is_header_only`]), never a panic.
    pub fn from_header_blob(blob: Bytes) -> Result<MediaIndex> {
        Self::read(blob, true)
    }

    /// The index without its sample tables (and without a fragment-level
    /// index's moov), in the blob layout with empty tables: the small
    /// part of an index a manifest written from a set summary
    /// ([`crate::summary`]) still needs. Kilobytes where the whole index
    /// of a 2 h title is megabytes.
    pub fn header_blob(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(256 + self.tracks.len() * 256);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&INDEX_VERSION.to_be_bytes());
        out.extend_from_slice(&self.file_size.to_be_bytes());
        let etag = self.etag.as_bytes();
        let n = u16::try_from(etag.len()).map_err(|_| IndexError::Corrupt("etag too long"))?;
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(etag);
        out.extend_from_slice(&0u32.to_be_bytes());
        let n =
            u16::try_from(self.tracks.len()).map_err(|_| IndexError::Corrupt("too many tracks"))?;
        out.extend_from_slice(&n.to_be_bytes());
        for t in &self.tracks {
            write_track_header(&mut out, t)?;
        }
        let counts: Vec<(u32, u16)> = self
            .tracks
            .iter()
            .filter_map(|t| Some((t.info.track_id, t.stream_channels?)))
            .collect();
        put_trailer(&mut out, &counts)?;
        Ok(out)
    }

    fn read(blob: Bytes, header_only: bool) -> Result<MediaIndex> {
        let mut r = Reader {
            b: blob.clone(),
            pos: 0,
        };
        if &r.take(4)?[..] != MAGIC {
            return Err(IndexError::Corrupt("bad magic"));
        }
        let version = r.u32()?;
        if version != INDEX_VERSION {
            return Err(IndexError::Version(version));
        }
        let file_size = r.u64()?;
        let n = usize::from(r.u16()?);
        let etag = String::from_utf8_lossy(&r.take(n)?).into_owned();
        let moov_len = r.u32()? as usize;
        let moov = if moov_len > 0 {
            let offset = r.u64()?;
            Some((offset, r.take(moov_len)?))
        } else {
            None
        };
        let track_count = r.u16()?;
        let mut tracks = Vec::with_capacity(usize::from(track_count).min(64));
        for _ in 0..track_count {
            tracks.push(read_track(&mut r, header_only)?);
        }
        let trailer_at = r.pos;
        for _ in 0..r.u16()? {
            let (id, channels) = (r.u32()?, r.u16()?);
            if let Some(t) = tracks.iter_mut().find(|t| t.info.track_id == id) {
                t.info.channels = channels;
                t.stream_channels = Some(channels);
            }
        }
        Ok(MediaIndex {
            file_size,
            etag,
            tracks,
            blob,
            trailer_at,
            moov,
        })
    }

    /// The track with this ID.
    pub fn track(&self, track_id: u32) -> Option<&TrackIndex> {
        self.tracks.iter().find(|t| t.info.track_id == track_id)
    }
}

/// One track of [`MediaIndex::header_blob`]: the layout `build` writes,
/// with its three sample tables empty.
fn write_track_header(out: &mut Vec<u8>, t: &TrackIndex) -> Result<()> {
    let i = &t.info;
    out.extend_from_slice(&i.track_id.to_be_bytes());
    out.push(match i.kind {
        TrackKind::Video => 0,
        TrackKind::Audio => 1,
        TrackKind::Subtitle => 2,
        TrackKind::Other => 3,
    });
    let mut flags = 0;
    if t.has_cts {
        flags |= FLAG_CTS;
    }
    if t.all_sync {
        flags |= FLAG_ALL_SYNC;
    }
    if t.fragment_level {
        flags |= FLAG_FRAGMENTS;
    }
    out.push(flags);
    out.extend_from_slice(&i.timescale.to_be_bytes());
    out.extend_from_slice(&i.duration.to_be_bytes());
    let lang = i.language.as_bytes();
    let n = u8::try_from(lang.len()).map_err(|_| IndexError::Corrupt("language too long"))?;
    out.push(n);
    out.extend_from_slice(lang);
    out.extend_from_slice(&i.handler.0);
    out.extend_from_slice(&i.presentation_offset.to_be_bytes());
    out.extend_from_slice(&i.presented_end.unwrap_or(i64::MIN).to_be_bytes());
    out.extend_from_slice(&i.avg_bitrate.to_be_bytes());
    out.extend_from_slice(&i.max_bitrate.to_be_bytes());
    out.extend_from_slice(&i.sample_count.to_be_bytes());
    out.extend_from_slice(&t.total_bytes.to_be_bytes());
    put_table(out, &i.sample_entry, 1)?;
    for _ in 0..3 {
        out.extend_from_slice(&0u32.to_be_bytes());
    }
    Ok(())
}

fn read_track(r: &mut Reader, header_only: bool) -> Result<TrackIndex> {
    let track_id = r.u32()?;
    let kind = match r.u8()? {
        0 => TrackKind::Video,
        1 => TrackKind::Audio,
        2 => TrackKind::Subtitle,
        _ => TrackKind::Other,
    };
    let flags = r.u8()?;
    let timescale = r.u32()?;
    let duration = r.u64()?;
    let n = usize::from(r.u8()?);
    let language = String::from_utf8_lossy(&r.take(n)?).into_owned();
    let h = r.take(4)?;
    let handler = crate::model::FourCC([h[0], h[1], h[2], h[3]]);
    let presentation_offset = r.u64()? as i64;
    let presented_end = Some(r.u64()? as i64).filter(|&e| e != i64::MIN);
    let avg_bitrate = r.u64()?;
    let max_bitrate = r.u64()?;
    let sample_count = r.u32()?;
    let total_bytes = r.u64()?;
    let raw_entry = r.table(1)?;
    let in_band = if flags & FLAG_DESCRIPTIONS != 0 {
        Some(read_descriptions(r, sample_count)?)
    } else {
        None
    };
    let blocks = r.table(BLOCK_ENTRY)?;
    let sync = r.table(SYNC_ENTRY)?;
    let data = r.table(1)?;
    if header_only {
        // No tables at all: sample lookups answer `is_header_only`'s error.
        if timescale == 0 || !blocks.is_empty() || !sync.is_empty() || !data.is_empty() {
            return Err(IndexError::Corrupt("tables in a header-only index"));
        }
    } else if timescale == 0
        || blocks.len() / BLOCK_ENTRY != sample_count.div_ceil(BLOCK_LEN) as usize
    {
        return Err(IndexError::Corrupt(
            "block directory does not match sample count",
        ));
    }
    for e in blocks.chunks_exact(BLOCK_ENTRY) {
        if be_u32(e, 16) as usize >= data.len() {
            return Err(IndexError::Corrupt("block position past data"));
        }
    }
    if sync
        .chunks_exact(SYNC_ENTRY)
        .any(|e| be_u32(e, 0) >= sample_count)
    {
        return Err(IndexError::Corrupt("sync sample past track end"));
    }
    let all_sync = flags & FLAG_ALL_SYNC != 0;
    if all_sync && (!sync.is_empty() || kind != TrackKind::Video) {
        return Err(IndexError::Corrupt("sync table of an all-sync track"));
    }
    let entry = parse_sample_entry(raw_entry, "index")?;
    let channels_in_stream = entry.channels_in_stream;
    // Audio entries have no `colr`; a stray one would not make audio HDR.
    let colour = entry.colour.filter(|_| kind == TrackKind::Video);
    let info = TrackInfo {
        track_id,
        kind,
        timescale,
        duration,
        language,
        handler,
        fourcc: entry.fourcc,
        sample_entry: entry.raw,
        codec: entry.codec,
        codec_string: entry.codec_string,
        width: entry.width,
        height: entry.height,
        par: entry.par,
        sample_rate: entry.sample_rate,
        channels: entry.channels,
        bits_per_sample: entry.bits_per_sample,
        presentation_offset,
        presented_end,
        avg_bitrate,
        max_bitrate,
        sample_count,
        colour,
        dts_uhd_mask: entry.dts_uhd_mask,
        dolby_vision: entry.dolby_vision,
    };
    Ok(TrackIndex {
        info,
        has_cts: flags & FLAG_CTS != 0,
        fragment_level: flags & FLAG_FRAGMENTS != 0,
        all_sync,
        total_bytes,
        channels_in_stream,
        stream_channels: None,
        in_band,
        blocks,
        sync,
        data,
    })
}

/// The descriptions and switch table of a track with several sample
/// descriptions (flag [`FLAG_DESCRIPTIONS`]).
fn read_descriptions(r: &mut Reader, sample_count: u32) -> Result<InBand> {
    let n = r.u8()?;
    if n < 2 || u32::from(n) > crate::mp4::stsd::MAX_SAMPLE_ENTRIES {
        return Err(IndexError::Corrupt("description count"));
    }
    let mut prefixes = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let e = parse_sample_entry(r.table(1)?, "index/descriptions")?;
        prefixes.push(
            crate::mp4::descriptions::parameter_set_prefix(&e)
                .ok_or(IndexError::Corrupt("description without parameter sets"))?,
        );
    }
    let switches = r.table(SWITCH_ENTRY)?;
    let mut prev = None;
    for e in switches.chunks_exact(SWITCH_ENTRY) {
        let (at, desc) = (be_u32(e, 0), be_u32(e, 4));
        let ordered = match prev {
            None => at == 0,
            Some(p) => at > p && at < sample_count,
        };
        if !ordered || desc >= u32::from(n) {
            return Err(IndexError::Corrupt("description switch table"));
        }
        prev = Some(at);
    }
    if switches.is_empty() {
        return Err(IndexError::Corrupt("description switch table"));
    }
    Ok(InBand { prefixes, switches })
}
