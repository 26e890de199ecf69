//! Sample tables (ISO/IEC 14496-12 §8.6–8.7) as zero-copy views, and the
//! iterator that joins them into per-sample records.
//!
//! The tables stay as slices of the moov; nothing is expanded per sample
//! until the iterator walks them once to build the compact index.

mod boxes;

use super::error::{Mp4Error, Result};
use super::header::Mp4Box;
use crate::model::Sample;
use boxes::{body_error, BodyError, BodyResult, Counted};
use bytes::Bytes;

/// A table of fixed-size entries after a full-box header and a count.
#[derive(Clone, Debug, Default)]
struct Table {
    data: Bytes,
    count: u32,
    width: usize,
}

impl Table {
    /// Wraps parsed entries as a view into the box payload (no copy).
    fn view(b: &Mp4Box, c: Counted<'_>, width: usize) -> Self {
        Table {
            data: b.payload.slice_ref(c.entries),
            count: c.count,
            width,
        }
    }

    /// Parses a full box of `count` fixed-width entries with `body`.
    fn parse<'a>(
        b: &'a Mp4Box,
        path: &str,
        width: usize,
        body: fn(&'a [u8]) -> BodyResult<'a, Counted<'a>>,
    ) -> Result<Self> {
        match body(&b.payload) {
            Ok((_, c)) => Ok(Table::view(b, c, width)),
            Err(e) => Err(lift(b, path, body_error(e), "table header cut short")),
        }
    }

    fn u32_at(&self, i: u32, field: usize) -> u32 {
        let at = i as usize * self.width + field * 4;
        let d = &self.data[at..at + 4];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }
    fn u64_at(&self, i: u32) -> u64 {
        let at = i as usize * 8;
        let d = &self.data[at..at + 8];
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }
}

/// Maps a body parser's failure to the box's error, with its path and
/// offset; `short` is the reason when the fixed fields are cut short.
fn lift(b: &Mp4Box, path: &str, e: BodyError, short: &str) -> Mp4Error {
    let at = b.header.offset;
    match e {
        BodyError::Short => Mp4Error::truncated(path, at, short),
        BodyError::Entries { count, need, have } => Mp4Error::truncated(
            path,
            at,
            format!("{count} entries need {need} bytes, the box has {have}"),
        ),
        BodyError::FieldSize(_) => {
            Mp4Error::invalid(path, at, "stz2 field size must be 4, 8 or 16")
        }
    }
}

#[derive(Clone, Debug)]
enum Sizes {
    Fixed(u32),
    Table(Table),
    /// `stz2` with 4, 8 or 16-bit fields.
    Compact {
        data: Bytes,
        bits: u8,
    },
}

/// The sample tables of one track.
#[derive(Clone, Debug)]
pub struct SampleTables {
    stts: Table,
    ctts: Option<Table>,
    stss: Option<Table>,
    sizes: Sizes,
    stsc: Table,
    chunks: Table,
    pub sample_count: u32,
}

impl SampleTables {
    /// Reads the tables from an `stbl` box.
    pub fn parse(stbl: &Mp4Box, path: &str) -> Result<Self> {
        let (mut stts, mut ctts, mut stss, mut sizes, mut stsc, mut chunks) =
            (None, None, None, None, None, None);
        let mut sample_count = 0u32;
        for child in stbl.children(path) {
            let c = child?;
            let cpath = format!("{path}/{}", c.header.typ);
            match &c.header.typ.0 {
                b"stts" => stts = Some(Table::parse(&c, &cpath, 8, boxes::stts)?),
                b"ctts" => ctts = Some(Table::parse(&c, &cpath, 8, boxes::ctts)?),
                b"stss" => stss = Some(Table::parse(&c, &cpath, 4, boxes::stss)?),
                b"stsc" => stsc = Some(Table::parse(&c, &cpath, 12, boxes::stsc)?),
                b"stco" => chunks = Some(Table::parse(&c, &cpath, 4, boxes::stco)?),
                b"co64" => chunks = Some(Table::parse(&c, &cpath, 8, boxes::co64)?),
                b"stsz" => {
                    let (_, z) = boxes::stsz(&c.payload)
                        .map_err(|e| lift(&c, &cpath, body_error(e), "stsz cut short"))?;
                    sample_count = z.sample_count;
                    sizes = Some(if z.sample_size != 0 {
                        Sizes::Fixed(z.sample_size)
                    } else {
                        Sizes::Table(Table::view(
                            &c,
                            Counted {
                                count: z.sample_count,
                                entries: z.entries,
                            },
                            4,
                        ))
                    });
                }
                b"stz2" => {
                    let (_, z) = boxes::stz2(&c.payload).map_err(|e| match body_error(e) {
                        BodyError::Entries { .. } => {
                            Mp4Error::truncated(&cpath, c.header.offset, "stz2 entries cut short")
                        }
                        e => lift(&c, &cpath, e, "stz2 cut short"),
                    })?;
                    sample_count = z.sample_count;
                    sizes = Some(Sizes::Compact {
                        data: c.payload.slice_ref(z.entries),
                        bits: z.field_size,
                    });
                }
                _ => {}
            }
        }
        let missing =
            |what: &str| Mp4Error::invalid(path, stbl.header.offset, format!("missing {what}"));
        let tables = SampleTables {
            stts: stts.ok_or_else(|| missing("stts"))?,
            ctts,
            stss,
            sizes: sizes.ok_or_else(|| missing("stsz/stz2"))?,
            stsc: stsc.ok_or_else(|| missing("stsc"))?,
            chunks: chunks.ok_or_else(|| missing("stco/co64"))?,
            sample_count,
        };
        // The sample count is capped where the samples are walked
        // (`index::MAX_TRACK_SAMPLES`); parsing the tables costs only their
        // box sizes. A hostile fixed-size stsz could claim millions of samples with no
        // table behind them; the other tables must account for every one.
        let timed: u64 = (0..tables.stts.count)
            .map(|i| u64::from(tables.stts.u32_at(i, 0)))
            .sum();
        if timed < u64::from(sample_count) {
            return Err(Mp4Error::invalid(
                format!("{path}/stts"),
                stbl.header.offset,
                format!("stts covers {timed} samples, stsz declares {sample_count}"),
            ));
        }
        Ok(tables)
    }

    /// Entries of the sync sample table (`stss`, §8.6.2); `None` when the
    /// box is absent, which means every sample is a sync sample.
    pub fn sync_entries(&self) -> Option<u32> {
        self.stss.as_ref().map(|t| t.count)
    }

    /// True when some sample has a non-zero composition offset.
    pub fn has_composition_offsets(&self) -> bool {
        self.ctts
            .as_ref()
            .is_some_and(|t| (0..t.count).any(|i| t.u32_at(i, 1) != 0))
    }

    /// Where the samples switch sample description: (first sample, 0-based,
    /// description) from `stsc`'s `sample_description_index` per chunk run
    /// (§8.7.4), mapped through `map` (the `stsd` entry → distinct
    /// description, [`super::descriptions::Descriptions::map`]). The first
    /// element is always for sample 0. One pass over `stsc` (bounded by its
    /// box size); an index naming no entry is invalid.
    ///
    /// The runs are those [`SampleIter`] walks, so each sample is sent with
    /// the description its bytes were read under: an entry takes over at
    /// the first chunk at or after its `first_chunk` that the entry before
    /// it has reached (chunk 1 for the first entry, whatever its
    /// `first_chunk`), so an entry whose `first_chunk` is not past the one
    /// before it (equal, smaller, or a first entry's 0) covers no samples
    /// and switches nothing.
    pub fn description_switches(&self, map: &[u8], path: &str) -> Result<Vec<(u32, u32)>> {
        let t = &self.stsc;
        let mut out: Vec<(u32, u32)> = Vec::new();
        let mut sample = 0u64;
        // The chunk (1-based) the iterator reaches entry `i` at.
        let mut reached = 1u64;
        for i in 0..t.count {
            if sample >= u64::from(self.sample_count) {
                break;
            }
            let sdi = t.u32_at(i, 2);
            let desc = sdi
                .checked_sub(1)
                .and_then(|d| map.get(d as usize))
                .ok_or_else(|| {
                    Mp4Error::invalid(
                        format!("{path}/stsc"),
                        0,
                        format!("sample_description_index {sdi} names no stsd entry"),
                    )
                })?;
            let desc = u32::from(*desc);
            let per_chunk = u64::from(t.u32_at(i, 1));
            // The run's samples: up to the next entry's chunk, or the rest.
            let (run, next) = if i + 1 < t.count {
                let next = u64::from(t.u32_at(i + 1, 0)).max(reached);
                ((next - reached) * per_chunk, next)
            } else {
                (per_chunk, reached)
            };
            if run > 0 && out.last().is_none_or(|&(_, d)| d != desc) {
                out.push((sample as u32, desc));
            }
            sample = sample.saturating_add(if i + 1 < t.count { run } else { 0 });
            reached = next;
        }
        if out.is_empty() {
            out.push((0, 0));
        }
        Ok(out)
    }

    /// Walks every sample in decode order.
    pub fn samples(&self, path: &str) -> SampleIter<'_> {
        SampleIter {
            t: self,
            path: path.to_string(),
            index: 0,
            dts: 0,
            stts_i: 0,
            stts_left: 0,
            stts_delta: 0,
            ctts_i: 0,
            ctts_left: 0,
            ctts_off: 0,
            stss_i: 0,
            stsc_i: 0,
            chunk: 0,
            chunk_left: 0,
            next_offset: 0,
            failed: false,
        }
    }
}

/// Joins the tables into [`Sample`]s; fails (once) on inconsistent tables.
pub struct SampleIter<'a> {
    t: &'a SampleTables,
    path: String,
    index: u32,
    dts: u64,
    stts_i: u32,
    stts_left: u32,
    stts_delta: u32,
    ctts_i: u32,
    ctts_left: u32,
    ctts_off: i32,
    stss_i: u32,
    stsc_i: u32,
    /// 1-based chunk number of the current chunk (0 before the first).
    chunk: u32,
    chunk_left: u32,
    next_offset: u64,
    failed: bool,
}

impl SampleIter<'_> {
    fn err(&mut self, table: &str, reason: String) -> Mp4Error {
        self.failed = true;
        Mp4Error::invalid(format!("{}/{table}", self.path), 0, reason)
    }

    fn size(&self, i: u32) -> u32 {
        match &self.t.sizes {
            Sizes::Fixed(s) => *s,
            Sizes::Table(t) => t.u32_at(i, 0),
            Sizes::Compact { data, bits: 16 } => u32::from(u16::from_be_bytes([
                data[i as usize * 2],
                data[i as usize * 2 + 1],
            ])),
            Sizes::Compact { data, bits: 8 } => u32::from(data[i as usize]),
            Sizes::Compact { data, .. } => {
                let b = data[i as usize / 2];
                u32::from(if i.is_multiple_of(2) {
                    b >> 4
                } else {
                    b & 0x0f
                })
            }
        }
    }

    fn advance_chunk(&mut self) -> Result<()> {
        let t = self.t;
        loop {
            self.chunk += 1;
            if self.chunk > t.chunks.count {
                return Err(self.err(
                    "stsc",
                    format!("chunks run out at sample {}", self.index + 1),
                ));
            }
            while self.stsc_i + 1 < t.stsc.count && t.stsc.u32_at(self.stsc_i + 1, 0) <= self.chunk
            {
                self.stsc_i += 1;
            }
            if t.stsc.count == 0 || t.stsc.u32_at(self.stsc_i, 0) > self.chunk {
                return Err(self.err("stsc", format!("no stsc entry covers chunk {}", self.chunk)));
            }
            self.chunk_left = t.stsc.u32_at(self.stsc_i, 1);
            self.next_offset = match t.chunks.width {
                8 => t.chunks.u64_at(self.chunk - 1),
                _ => u64::from(t.chunks.u32_at(self.chunk - 1, 0)),
            };
            if self.chunk_left > 0 {
                return Ok(());
            }
        }
    }
}

impl Iterator for SampleIter<'_> {
    type Item = Result<Sample>;

    // Inlined into the index build's walk: returned through memory, the
    // sample costs a store-forwarding stall per call (measured: a third of
    // the walk).
    #[inline(always)]
    fn next(&mut self) -> Option<Result<Sample>> {
        if self.failed || self.index >= self.t.sample_count {
            return None;
        }
        let t = self.t;
        while self.stts_left == 0 {
            if self.stts_i >= t.stts.count {
                return Some(Err(self.err("stts", "fewer durations than samples".into())));
            }
            self.stts_left = t.stts.u32_at(self.stts_i, 0);
            self.stts_delta = t.stts.u32_at(self.stts_i, 1);
            self.stts_i += 1;
        }
        self.stts_left -= 1;
        if let Some(ctts) = &t.ctts {
            while self.ctts_left == 0 && self.ctts_i < ctts.count {
                self.ctts_left = ctts.u32_at(self.ctts_i, 0);
                // Version 0 declares the field unsigned, but encoders write
                // negative offsets there too; reading it signed is what every
                // player does.
                self.ctts_off = ctts.u32_at(self.ctts_i, 1) as i32;
                self.ctts_i += 1;
            }
            if self.ctts_left == 0 {
                self.ctts_off = 0;
            } else {
                self.ctts_left -= 1;
            }
        }
        if self.chunk_left == 0 {
            if let Err(e) = self.advance_chunk() {
                return Some(Err(e));
            }
        }
        self.chunk_left -= 1;
        let sync = match &t.stss {
            None => true,
            Some(stss) => {
                while self.stss_i < stss.count && stss.u32_at(self.stss_i, 0) < self.index + 1 {
                    self.stss_i += 1;
                }
                self.stss_i < stss.count && stss.u32_at(self.stss_i, 0) == self.index + 1
            }
        };
        let size = self.size(self.index);
        let sample = Sample {
            offset: self.next_offset,
            size,
            dts: self.dts,
            duration: self.stts_delta,
            cts_offset: self.ctts_off,
            sync,
        };
        self.next_offset = self.next_offset.saturating_add(u64::from(size));
        self.dts = self.dts.saturating_add(u64::from(self.stts_delta));
        self.index += 1;
        Some(Ok(sample))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::BoxIter;
    use crate::mux::boxes::BoxWriter;

    /// An `stbl` with 5 samples in chunks of 2, 2, 1.
    fn stbl(sizes: &dyn Fn(&mut BoxWriter), co64: bool, ctts: Option<(u8, &[i32])>) -> Mp4Box {
        let mut w = BoxWriter::default();
        w.start(b"stbl");
        w.start_full(b"stts", 0, 0)
            .u32(2)
            .u32(3)
            .u32(10)
            .u32(2)
            .u32(20)
            .end();
        if let Some((v, offs)) = ctts {
            w.start_full(b"ctts", v, 0).u32(offs.len() as u32);
            for &o in offs {
                w.u32(1).i32(o);
            }
            w.end();
        }
        w.start_full(b"stss", 0, 0).u32(2).u32(1).u32(4).end();
        sizes(&mut w);
        w.start_full(b"stsc", 0, 0)
            .u32(2)
            .u32(1)
            .u32(2)
            .u32(1)
            .u32(3)
            .u32(1)
            .u32(1)
            .end();
        if co64 {
            w.start_full(b"co64", 0, 0)
                .u32(3)
                .u64(1 << 33)
                .u64(5000)
                .u64(9000)
                .end();
        } else {
            w.start_full(b"stco", 0, 0)
                .u32(3)
                .u32(1000)
                .u32(5000)
                .u32(9000)
                .end();
        }
        w.end();
        BoxIter::new(Bytes::from(w.buf), 0, "")
            .next()
            .unwrap()
            .unwrap()
    }

    fn samples(b: &Mp4Box) -> Vec<Sample> {
        let t = SampleTables::parse(b, "stbl").unwrap();
        t.samples("stbl").map(|s| s.unwrap()).collect()
    }

    #[test]
    fn stsz_stco_stsc_stts_stss_join() {
        let b = stbl(
            &|w| {
                w.start_full(b"stsz", 0, 0)
                    .u32(0)
                    .u32(5)
                    .u32(100)
                    .u32(200)
                    .u32(300)
                    .u32(400)
                    .u32(500)
                    .end();
            },
            false,
            None,
        );
        let s = samples(&b);
        let got: Vec<(u64, u32, u64, u32, bool)> = s
            .iter()
            .map(|s| (s.offset, s.size, s.dts, s.duration, s.sync))
            .collect();
        assert_eq!(
            got,
            vec![
                (1000, 100, 0, 10, true),
                (1100, 200, 10, 10, false),
                (5000, 300, 20, 10, false),
                (5300, 400, 30, 20, true),
                (9000, 500, 50, 20, false),
            ]
        );
    }

    #[test]
    fn fixed_size_co64_and_signed_ctts() {
        let b = stbl(
            &|w| {
                w.start_full(b"stsz", 0, 0).u32(77).u32(5).end();
            },
            true,
            Some((1, &[2, -1, 3, 0, -2])),
        );
        let s = samples(&b);
        assert_eq!(s[0].offset, 1 << 33);
        assert_eq!(s[1].offset, (1 << 33) + 77);
        assert!(s.iter().all(|s| s.size == 77));
        assert_eq!(
            s.iter().map(|s| s.cts_offset).collect::<Vec<_>>(),
            vec![2, -1, 3, 0, -2]
        );
        // Version 0 with "negative" values is read signed too.
        let b = stbl(
            &|w| {
                w.start_full(b"stsz", 0, 0).u32(1).u32(5).end();
            },
            false,
            Some((0, &[-1, -1, -1, -1, -1])),
        );
        assert!(samples(&b).iter().all(|s| s.cts_offset == -1));
    }

    #[test]
    fn stz2_field_sizes() {
        for (bits, data, want) in [
            (4u8, vec![0x12u8, 0x34, 0x50], vec![1u32, 2, 3, 4, 5]),
            (8, vec![1, 2, 3, 4, 255], vec![1, 2, 3, 4, 255]),
            (
                16,
                vec![0, 1, 0, 2, 0, 3, 1, 0, 0xff, 0xff],
                vec![1, 2, 3, 256, 65535],
            ),
        ] {
            let b = stbl(
                &|w| {
                    w.start_full(b"stz2", 0, 0)
                        .u8(0)
                        .u8(0)
                        .u8(0)
                        .u8(bits)
                        .u32(5)
                        .bytes(&data)
                        .end();
                },
                false,
                None,
            );
            assert_eq!(
                samples(&b).iter().map(|s| s.size).collect::<Vec<_>>(),
                want,
                "{bits}-bit"
            );
        }
    }

    #[test]
    fn hostile_tables_are_errors() {
        // stsz claims a million samples with no table behind them.
        let b = stbl(
            &|w| {
                w.start_full(b"stsz", 0, 0)
                    .u32(0)
                    .u32(1_000_000)
                    .u32(1)
                    .end();
            },
            false,
            None,
        );
        assert!(SampleTables::parse(&b, "stbl").is_err());
        // Fixed size with more samples than stts times.
        let b = stbl(
            &|w| {
                w.start_full(b"stsz", 0, 0).u32(9).u32(4_000_000).end();
            },
            false,
            None,
        );
        assert!(SampleTables::parse(&b, "stbl").is_err());
        // More samples than the chunks hold: the iterator fails once.
        let mut w = BoxWriter::default();
        w.start(b"stbl");
        w.start_full(b"stts", 0, 0).u32(1).u32(5).u32(10).end();
        w.start_full(b"stsz", 0, 0).u32(1).u32(5).end();
        w.start_full(b"stsc", 0, 0)
            .u32(1)
            .u32(1)
            .u32(1)
            .u32(1)
            .end();
        w.start_full(b"stco", 0, 0).u32(2).u32(0).u32(10).end();
        w.end();
        let b = BoxIter::new(Bytes::from(w.buf), 0, "")
            .next()
            .unwrap()
            .unwrap();
        let t = SampleTables::parse(&b, "stbl").unwrap();
        let r: Vec<_> = t.samples("stbl").collect();
        assert_eq!(r.len(), 3);
        assert!(r[2].is_err());
    }

    /// An `stbl` of `samples` 1-byte samples in `chunks` chunks laid out by
    /// the `stsc` entries
    /// (first_chunk, samples_per_chunk, sample_description_index).
    fn stbl_with_stsc(stsc: &[(u32, u32, u32)], chunks: u32, samples: u32) -> SampleTables {
        let mut w = BoxWriter::default();
        w.start(b"stbl");
        w.start_full(b"stts", 0, 0)
            .u32(1)
            .u32(samples)
            .u32(10)
            .end();
        w.start_full(b"stsz", 0, 0).u32(1).u32(samples).end();
        w.start_full(b"stsc", 0, 0).u32(stsc.len() as u32);
        for &(f, n, d) in stsc {
            w.u32(f).u32(n).u32(d);
        }
        w.end();
        w.start_full(b"stco", 0, 0).u32(chunks);
        for c in 0..chunks {
            w.u32(c * 100);
        }
        w.end();
        w.end();
        let b = BoxIter::new(Bytes::from(w.buf), 0, "")
            .next()
            .unwrap()
            .unwrap();
        SampleTables::parse(&b, "stbl").unwrap()
    }

    /// The description of every sample as the iterator reads its chunks:
    /// the last `stsc` entry reached whose first_chunk is at or before the
    /// sample's chunk, scanning forward (`SampleIter::advance_chunk`).
    fn walked(stsc: &[(u32, u32, u32)], t: &SampleTables) -> Vec<u32> {
        let mut out = Vec::new();
        let mut e = 0;
        for (chunk, _) in (1u32..).zip(0..t.chunks.count) {
            while e + 1 < stsc.len() && stsc[e + 1].0 <= chunk {
                e += 1;
            }
            for _ in 0..stsc[e].1 {
                out.push(stsc[e].2 - 1);
            }
        }
        out.truncate(t.sample_count as usize);
        out
    }

    fn per_sample(switches: &[(u32, u32)], n: u32) -> Vec<u32> {
        (0..n)
            .map(|i| switches.iter().rev().find(|s| s.0 <= i).unwrap().1)
            .collect()
    }

    #[test]
    fn description_switches_follow_the_chunks_the_iterator_reads() {
        // (stsc entries, chunks, samples).
        type Case = (&'static [(u32, u32, u32)], u32, u32);
        let cases: &[Case] = &[
            // Runs in order: 2 chunks of 2 with entry 1, then entry 2.
            (&[(1, 2, 1), (3, 1, 2)], 4, 6),
            // A first entry at chunk 0 (1-based: invalid) still covers
            // only chunk 1 as read, not chunks 0 and 1.
            (&[(0, 1, 1), (2, 1, 2)], 3, 3),
            // Two entries at chunk 1: the second covers it.
            (&[(1, 1, 1), (1, 1, 2)], 2, 2),
            // First chunks out of order: the third takes over at chunk 3.
            (&[(1, 1, 1), (3, 1, 2), (2, 1, 1)], 4, 4),
            // An empty run between two of one description.
            (&[(1, 1, 1), (2, 0, 2), (3, 1, 1)], 4, 3),
        ];
        for &(stsc, chunks, samples) in cases {
            let t = stbl_with_stsc(stsc, chunks, samples);
            let read: Vec<u32> = t.samples("stbl").map(|s| s.unwrap().size).collect();
            assert_eq!(read.len(), samples as usize, "{stsc:?}");
            let sw = t.description_switches(&[0, 1], "stbl").unwrap();
            assert!(sw.windows(2).all(|w| w[0].0 < w[1].0), "{stsc:?}: {sw:?}");
            assert_eq!(sw[0].0, 0, "{stsc:?}");
            assert_eq!(
                per_sample(&sw, samples),
                walked(stsc, &t),
                "{stsc:?}: {sw:?}"
            );
        }
    }
}
