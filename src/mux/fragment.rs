//! The fMP4 fragment writer shared by CMAF segments ([`super::cmaf`]) and
//! Smooth fragments ([`super::smooth`]): a movie fragment with one track
//! fragment, `moof` (`mfhd`, `traf` with `tfhd`, `tfdt`, `trun` and any
//! extra boxes) followed by the `mdat` header (ISO/IEC 14496-12 §8.8).
//!
//! Callers fill a [`TrackFragment`]; the writer derives every flag word from
//! which fields are present, so a flag and its field cannot disagree. The
//! payload stays in the source: the output is header bytes plus
//! [`ByteRun`]s, and the `trun` data offset points at the first payload byte
//! after the `mdat` header.

use super::boxes::BoxWriter;
use super::{ByteRun, MediaSegment};
use crate::index::IndexError;
use bytes::Bytes;

/// `tfhd` flag: `base_data_offset` present (§8.8.7.1). Never written here:
/// our data offsets are relative to the `moof`.
pub const TFHD_BASE_DATA_OFFSET_PRESENT: u32 = 0x00_0001;
/// `tfhd` flag: `sample_description_index` present.
pub const TFHD_SAMPLE_DESCRIPTION_INDEX_PRESENT: u32 = 0x00_0002;
/// `tfhd` flag: `default_sample_duration` present.
pub const TFHD_DEFAULT_SAMPLE_DURATION_PRESENT: u32 = 0x00_0008;
/// `tfhd` flag: `default_sample_size` present.
pub const TFHD_DEFAULT_SAMPLE_SIZE_PRESENT: u32 = 0x00_0010;
/// `tfhd` flag: `default_sample_flags` present.
pub const TFHD_DEFAULT_SAMPLE_FLAGS_PRESENT: u32 = 0x00_0020;
/// `tfhd` flag: the fragment has no samples for this duration.
pub const TFHD_DURATION_IS_EMPTY: u32 = 0x01_0000;
/// `tfhd` flag: data offsets are relative to the enclosing `moof`.
pub const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;

/// `trun` flag: `data_offset` present (§8.8.8.1).
pub const TRUN_DATA_OFFSET_PRESENT: u32 = 0x00_0001;
/// `trun` flag: `first_sample_flags` present.
pub const TRUN_FIRST_SAMPLE_FLAGS_PRESENT: u32 = 0x00_0004;
/// `trun` flag: every sample has its own duration.
pub const TRUN_SAMPLE_DURATION_PRESENT: u32 = 0x00_0100;
/// `trun` flag: every sample has its own size.
pub const TRUN_SAMPLE_SIZE_PRESENT: u32 = 0x00_0200;
/// `trun` flag: every sample has its own flags.
pub const TRUN_SAMPLE_FLAGS_PRESENT: u32 = 0x00_0400;
/// `trun` flag: every sample has a composition time offset.
pub const TRUN_SAMPLE_COMPOSITION_TIME_OFFSETS_PRESENT: u32 = 0x00_0800;

/// Sample flags `sample_depends_on = 2` (an I-frame / audio frame),
/// §8.8.3.1.
pub const FLAGS_SYNC: u32 = 0x0200_0000;
/// Sample flags `sample_depends_on = 1`, `sample_is_non_sync_sample = 1`.
pub const FLAGS_NON_SYNC: u32 = 0x0101_0000;

/// The `tfhd` of a track fragment (§8.8.7): each `Some` field is written
/// and sets its flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tfhd {
    pub track_id: u32,
    pub sample_description_index: Option<u32>,
    pub default_sample_duration: Option<u32>,
    pub default_sample_size: Option<u32>,
    pub default_sample_flags: Option<u32>,
    pub duration_is_empty: bool,
    /// Data offsets relative to the `moof` (CMAF §7.5.16). Without it they
    /// are too, because the writer emits the `moof`'s only (first) `traf`
    /// (§8.8.7.1); legacy Smooth clients understand only the latter.
    pub default_base_is_moof: bool,
}

impl Tfhd {
    /// The `tfhd` flag word.
    pub fn flags(&self) -> u32 {
        let mut f = 0;
        let present = [
            (
                self.sample_description_index,
                TFHD_SAMPLE_DESCRIPTION_INDEX_PRESENT,
            ),
            (
                self.default_sample_duration,
                TFHD_DEFAULT_SAMPLE_DURATION_PRESENT,
            ),
            (self.default_sample_size, TFHD_DEFAULT_SAMPLE_SIZE_PRESENT),
            (self.default_sample_flags, TFHD_DEFAULT_SAMPLE_FLAGS_PRESENT),
        ];
        for (field, flag) in present {
            if field.is_some() {
                f |= flag;
            }
        }
        if self.duration_is_empty {
            f |= TFHD_DURATION_IS_EMPTY;
        }
        if self.default_base_is_moof {
            f |= TFHD_DEFAULT_BASE_IS_MOOF;
        }
        f
    }

    /// Size of the box in bytes.
    pub fn size(&self) -> u64 {
        let optional = [
            self.sample_description_index,
            self.default_sample_duration,
            self.default_sample_size,
            self.default_sample_flags,
        ];
        16 + 4 * optional.iter().filter(|o| o.is_some()).count() as u64
    }

    fn write(&self, w: &mut BoxWriter) {
        w.start_full(b"tfhd", 0, self.flags()).u32(self.track_id);
        let fields = [
            self.sample_description_index,
            self.default_sample_duration,
            self.default_sample_size,
            self.default_sample_flags,
        ];
        for v in fields.into_iter().flatten() {
            w.u32(v);
        }
        w.end();
    }
}

/// Which per-sample fields a `trun` lists; the others come from the
/// `tfhd` defaults or the `trex`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleFields {
    pub duration: bool,
    pub size: bool,
    pub flags: bool,
    pub composition_offset: bool,
}

impl SampleFields {
    /// Every field (what CMAF segments write, offsets optional).
    pub const fn all(composition_offset: bool) -> Self {
        SampleFields {
            duration: true,
            size: true,
            flags: true,
            composition_offset,
        }
    }

    /// Bytes per `trun` entry.
    pub fn entry_len(&self) -> u64 {
        4 * [
            self.duration,
            self.size,
            self.flags,
            self.composition_offset,
        ]
        .iter()
        .filter(|&&b| b)
        .count() as u64
    }
}

/// One `trun` entry. Fields the `trun` does not list are not written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrunSample {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
    /// Presentation minus decode time; a negative one makes the writer
    /// pick `trun` version 1.
    pub composition_offset: i32,
}

/// The `trun` of a track fragment (§8.8.8). The data offset is always
/// written and patched to the first payload byte.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trun {
    pub fields: SampleFields,
    pub first_sample_flags: Option<u32>,
    pub samples: Vec<TrunSample>,
}

impl Trun {
    /// The `trun` flag word.
    pub fn flags(&self) -> u32 {
        let mut f = TRUN_DATA_OFFSET_PRESENT;
        let present = [
            (
                self.first_sample_flags.is_some(),
                TRUN_FIRST_SAMPLE_FLAGS_PRESENT,
            ),
            (self.fields.duration, TRUN_SAMPLE_DURATION_PRESENT),
            (self.fields.size, TRUN_SAMPLE_SIZE_PRESENT),
            (self.fields.flags, TRUN_SAMPLE_FLAGS_PRESENT),
            (
                self.fields.composition_offset,
                TRUN_SAMPLE_COMPOSITION_TIME_OFFSETS_PRESENT,
            ),
        ];
        for (on, flag) in present {
            if on {
                f |= flag;
            }
        }
        f
    }

    /// Version 1 (signed composition offsets) when any sample's offset is
    /// negative, else version 0. Callers that do not write offsets leave
    /// them 0 unless they want version 1 anyway (see [`super::smooth`]).
    pub fn version(&self) -> u8 {
        u8::from(self.samples.iter().any(|s| s.composition_offset < 0))
    }

    /// Size of the box in bytes.
    pub fn size(&self) -> u64 {
        let fixed = 20 + 4 * u64::from(self.first_sample_flags.is_some());
        fixed + self.samples.len() as u64 * self.fields.entry_len()
    }

    /// Writes the box; returns where the data offset is, to patch it.
    fn write(&self, w: &mut BoxWriter) -> Result<usize, IndexError> {
        let count = u32::try_from(self.samples.len()).map_err(|_| {
            IndexError::OutOfRange(format!("{} samples in one fragment", self.samples.len()))
        })?;
        w.start_full(b"trun", self.version(), self.flags())
            .u32(count);
        let data_offset_at = w.len();
        w.i32(0);
        if let Some(f) = self.first_sample_flags {
            w.u32(f);
        }
        let fields = self.fields;
        for s in &self.samples {
            if fields.duration {
                w.u32(s.duration);
            }
            if fields.size {
                w.u32(s.size);
            }
            if fields.flags {
                w.u32(s.flags);
            }
            if fields.composition_offset {
                w.i32(s.composition_offset);
            }
        }
        w.end();
        Ok(data_offset_at)
    }
}

/// A movie fragment holding one track fragment, and the source bytes of its
/// samples.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackFragment {
    /// `mfhd` sequence number (1-based).
    pub sequence: u32,
    pub tfhd: Tfhd,
    /// `tfdt` (version 1, 64-bit) when `Some`.
    pub base_media_decode_time: Option<u64>,
    pub trun: Trun,
    /// Complete boxes written inside the `traf` after the `trun`, such as
    /// Smooth's `tfxd` (MS-SSTR §2.2.4.4).
    pub traf_boxes: Vec<Vec<u8>>,
    /// The payload, in output order.
    pub runs: Vec<ByteRun>,
    /// Generated bytes that lead a sample's source bytes, as (`trun`
    /// entry, bytes), in order: the in-band parameter sets of a track with
    /// several sample descriptions ([`crate::mp4::descriptions`]). The
    /// entry's size counts them. Written zero-copy when only the first
    /// sample has some ([`TrackFragment::write`] puts them after the
    /// `mdat` header); otherwise the segment is built from its read
    /// samples ([`TrackFragment::sample_leads`]).
    pub inserts: Vec<(usize, Bytes)>,
}

impl TrackFragment {
    /// Appends a sample: its `trun` entry and its `size` bytes at `offset`
    /// in the source.
    pub fn push_sample(&mut self, sample: TrunSample, offset: u64) {
        self.push_payload(offset, sample.size);
        self.trun.samples.push(sample);
    }

    /// Appends `size` source bytes at `offset` to the payload, extending the
    /// last run when contiguous.
    pub fn push_payload(&mut self, offset: u64, size: u32) {
        match self.runs.last_mut() {
            Some(r) if r.end() == offset => r.len += u64::from(size),
            _ => self.runs.push(ByteRun {
                offset,
                len: u64::from(size),
            }),
        }
    }

    /// Appends sample `sample` (whose `size` counts `lead`) as `lead` then
    /// its source bytes at `offset`.
    pub fn push_sample_with_lead(&mut self, sample: TrunSample, offset: u64, lead: Option<Bytes>) {
        let lead_len = lead.as_ref().map_or(0, |l| l.len() as u32);
        if let Some(l) = lead {
            self.inserts.push((self.trun.samples.len(), l));
        }
        self.push_payload(offset, sample.size.saturating_sub(lead_len));
        self.trun.samples.push(sample);
    }

    /// Payload bytes (source runs and generated leads).
    pub fn payload_len(&self) -> u64 {
        self.runs.iter().map(|r| r.len).sum::<u64>()
            + self
                .inserts
                .iter()
                .map(|(_, b)| b.len() as u64)
                .sum::<u64>()
    }

    /// Whether [`TrackFragment::write`] can send the payload as source
    /// runs: no generated bytes, or only before the first sample (they then
    /// end the header).
    pub fn zero_copy(&self) -> bool {
        self.inserts.iter().all(|(i, _)| *i == 0)
    }

    /// The generated bytes that lead each sample (empty for most), for a
    /// segment built from its read samples.
    pub fn sample_leads(&self) -> Vec<Bytes> {
        let mut out = vec![Bytes::new(); self.trun.samples.len()];
        for (i, b) in &self.inserts {
            if let Some(o) = out.get_mut(*i) {
                *o = b.clone();
            }
        }
        out
    }

    /// The `moof` size in bytes.
    pub fn moof_len(&self) -> u64 {
        let tfdt = 20 * u64::from(self.base_media_decode_time.is_some());
        let extra: u64 = self.traf_boxes.iter().map(|b| b.len() as u64).sum();
        // moof + mfhd (16) + traf header (8)
        8 + 16 + 8 + self.tfhd.size() + tfdt + self.trun.size() + extra
    }

    /// Size of the `mdat` header: 16 (largesize) past 4 GB, else 8.
    pub fn mdat_header_len(&self) -> u64 {
        if self.payload_len() + 8 > u64::from(u32::MAX) {
            16
        } else {
            8
        }
    }

    /// Bytes [`TrackFragment::write`] appends before the payload.
    pub fn header_len(&self) -> u64 {
        self.moof_len() + self.mdat_header_len()
    }

    /// Appends the `moof`, the `mdat` header and, when
    /// [`TrackFragment::zero_copy`], the first sample's generated lead to
    /// `w` (which may already hold boxes that precede the fragment, such as
    /// a `styp`) and returns the segment: `w`'s bytes plus the source runs.
    /// A fragment with other leads is refused: build it with
    /// [`TrackFragment::write_headers`] and the read samples.
    pub fn write(self, w: BoxWriter) -> Result<MediaSegment, IndexError> {
        if !self.zero_copy() {
            return Err(IndexError::Corrupt(
                "a fragment with generated bytes between samples written as runs",
            ));
        }
        let lead: Vec<Bytes> = self.inserts.iter().map(|(_, b)| b.clone()).collect();
        let mut seg = self.write_headers(w)?;
        if !lead.is_empty() {
            // Parameter sets, ~30 to 100 bytes: copied into the header.
            let mut h = seg.header.to_vec();
            for b in lead {
                h.extend_from_slice(&b);
            }
            seg.header = Bytes::from(h);
        }
        Ok(seg)
    }

    /// Appends the `moof` and the `mdat` header to `w`; the payload (leads
    /// included) is the caller's to send. The segment's runs are the
    /// source runs, without the leads.
    pub fn write_headers(self, mut w: BoxWriter) -> Result<MediaSegment, IndexError> {
        let moof_at = w.len();
        w.start(b"moof");
        w.start_full(b"mfhd", 0, 0).u32(self.sequence).end();
        w.start(b"traf");
        self.tfhd.write(&mut w);
        if let Some(t) = self.base_media_decode_time {
            w.start_full(b"tfdt", 1, 0).u64(t).end();
        }
        let data_offset_at = self.trun.write(&mut w)?;
        for b in &self.traf_boxes {
            w.bytes(b);
        }
        w.end().end(); // traf, moof
        let payload = self.payload_len();
        let mdat_header = self.mdat_header_len();
        // Relative to the moof: default-base-is-moof, or the moof's first
        // traf without a base data offset (§8.8.7.1).
        let data_offset = u32::try_from((w.len() - moof_at) as u64 + mdat_header)
            .map_err(|_| IndexError::Corrupt("moof too large"))?;
        w.patch_u32(data_offset_at, data_offset);
        if mdat_header == 16 {
            w.u32(1).bytes(b"mdat").u64(payload + 16);
        } else {
            w.u32((payload + 8) as u32).bytes(b"mdat");
        }
        Ok(MediaSegment {
            header: Bytes::from(w.buf),
            runs: self.runs,
        })
    }
}

#[cfg(test)]
mod tests;
