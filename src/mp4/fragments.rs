//! Finding every `moof` of a fragmented file with few range reads (sans-IO).
//!
//! The fragments are found by following top-level box sizes from the end
//! of the moov (ISO/IEC 14496-12 §4.2): that chain is what says a moof
//! exists, so none is skipped. The `mfra` (§8.8.9–8.8.11, found from the
//! `mfro` in the file's last 16 bytes) only sizes the reads: knowing where
//! the next moofs are, one read covers several of them when the bytes in
//! between are few. Without it, reads are sized from the fragments seen so
//! far: a window of several small fragments at once, or one short read per
//! moof when the fragments are big. A round trip costs far more than bytes,
//! and the edge allows a fixed number of origin requests, so the reads of
//! one file are capped ([`MAX_FRAGMENT_READS`]); a file that needs more is
//! refused with the count, never indexed short — unless it carries a
//! fragment table (`sidx` before the first moof, or the `mfra`): then the
//! scan stops there and the file is indexed per fragment
//! ([`super::fragtable`], [`TablePolicy`]), reading only the moofs of its
//! first and (for `tfra`) last fragments.

mod table;
#[cfg(test)]
mod tests;

use super::error::{Mp4Error, Result};
use super::fragtable::{self, TrackKey, TrackTable};
use super::header::parse_header;
use super::mfra::{self, Tfra};
use super::sidx::{self, Sidx};
use bytes::Bytes;

/// Most origin reads one file's fragments may take (after the head and
/// moov reads). With [`WINDOW_LEN`] windows a file of small fragments up
/// to ~190 MB fits; a file of big fragments up to 24 of them.
pub const MAX_FRAGMENT_READS: usize = 24;
/// Widest read: a file of small fragments is read in windows this long.
pub const WINDOW_LEN: u64 = 8 << 20;
/// A read of one moof when fragments are big: enough for the moof of a few
/// seconds of video and the header of the mdat after it.
pub const MOOF_READ_LEN: u64 = 64 << 10;
/// Bytes between two moofs read through rather than paying a round trip.
pub const MAX_GAP: u64 = 4 << 20;
/// The tail read for `mfro` and, usually, the whole `mfra`.
pub const TAIL_READ_LEN: u64 = 64 << 10;
/// Largest `mfra` fetched when the tail read does not hold it.
pub const MAX_MFRA_LEN: u64 = 8 << 20;
/// Most moofs in one file (3.8 days of 2 s fragments).
pub const MAX_FRAGMENTS: usize = 100_000;
/// Largest moof.
pub const MAX_MOOF_LEN: u64 = 8 << 20;
/// Most moof bytes held for one file (copied out of the read windows).
pub const MAX_MOOF_BYTES: u64 = 32 << 20;

/// The next read the scan wants, or that it is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Read { offset: u64, len: u64 },
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mfra {
    /// The tail has not been looked at.
    Unknown,
    /// The mfra is at `offset .. offset + len`, beyond the tail read.
    Fetch { offset: u64, len: u64 },
    /// Looked at (hints set, or none found).
    Settled,
}

/// When a fragment table (`sidx`, `mfra`) replaces the moof walk (see
/// [`super::fragtable`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TablePolicy {
    /// When the walk would need more than [`MAX_FRAGMENT_READS`] reads:
    /// files that fit keep their sample-level index.
    #[default]
    OverBudget,
    /// Whenever the file has a usable table (setting `fragment_index`).
    Always,
}

/// What the scan learnt from the file's tables, once it decided.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Table {
    /// Not decided yet: the tail (mfra) or the first moof not seen.
    Undecided,
    /// The moofs are walked.
    Walk,
    /// The `sidx` boxes list every track's fragments.
    Sidx(Vec<TrackTable>),
    /// The `tfra`s do.
    Tfra(Vec<Tfra>),
}

/// A finished table scan: what to build a fragment-level index from, with
/// the moofs of each track's first fragment (its decode time and first
/// composition offset) and, for `tfra`, last fragment (its duration), in
/// [`FragmentScan::moofs`].
pub enum Tables<'a> {
    Sidx(&'a [TrackTable]),
    /// `tfra`s, and where the mfra starts (the end of the last fragment).
    Tfra {
        tfras: &'a [Tfra],
        data_end: u64,
    },
}

/// Most boxes stepped over before a fragment's moof (`styp`, `sidx`,
/// `prft`, `emsg`…).
const MAX_LEADING_BOXES: usize = 16;

/// Where the search for a file's moofs stands.
pub struct FragmentScan {
    file_size: u64,
    /// Offset of the next top-level box to look at.
    cursor: u64,
    /// Size of the box at `cursor` when the last window held its header
    /// but not all of it.
    partial: Option<u64>,
    /// Moof offsets from the mfra, sorted: where the next reads should
    /// reach.
    hints: Vec<u64>,
    mfra: Mfra,
    /// Distance between the last two moofs.
    span: u64,
    boxes: usize,
    moof_bytes: u64,
    /// The complete moofs found, with their offsets, in file order.
    pub moofs: Vec<(u64, Bytes)>,
    /// Reads fed so far.
    pub reads: usize,
    policy: TablePolicy,
    /// The moov's tracks, which a table must cover.
    keys: Vec<TrackKey>,
    table: Table,
    /// `sidx` boxes met before the first moof; `None` once one could not
    /// be used (a hierarchy whose children are not in the window).
    sidxs: Option<Vec<Sidx>>,
    tfras: Vec<Tfra>,
    /// Where the mfra starts (the file's end without one).
    mfra_at: u64,
    /// A top-level moof has been met.
    saw_moof: bool,
    /// In table mode: the fragments (start offsets) whose moofs are
    /// wanted, those held, and the read of the one being found.
    need: Vec<u64>,
    held: Vec<u64>,
    reading: Option<(u64, u64)>,
}

impl FragmentScan {
    /// A scan from the first byte after the moov (`cursor`).
    pub fn new(cursor: u64, file_size: u64) -> Self {
        FragmentScan::with_tables(cursor, file_size, TablePolicy::OverBudget, Vec::new())
    }

    /// [`FragmentScan::new`] that may list the fragments of the tracks
    /// `keys` from the file's `sidx` or `mfra` instead of walking the moofs
    /// ([`super::fragtable`]), as `policy` says.
    pub fn with_tables(
        cursor: u64,
        file_size: u64,
        policy: TablePolicy,
        keys: Vec<TrackKey>,
    ) -> Self {
        // A short rest is one window anyway: no mfra needed (unless a
        // table is wanted whatever the cost).
        let always = policy == TablePolicy::Always && !keys.is_empty();
        let mfra = if always || file_size.saturating_sub(cursor) > WINDOW_LEN {
            Mfra::Unknown
        } else {
            Mfra::Settled
        };
        FragmentScan {
            file_size,
            cursor,
            partial: None,
            hints: Vec::new(),
            mfra,
            span: 0,
            boxes: 0,
            moof_bytes: 0,
            moofs: Vec::new(),
            reads: 0,
            policy,
            table: if keys.is_empty() {
                Table::Walk
            } else {
                Table::Undecided
            },
            keys,
            sidxs: Some(Vec::new()),
            tfras: Vec::new(),
            mfra_at: file_size,
            saw_moof: false,
            need: Vec::new(),
            held: Vec::new(),
            reading: None,
        }
    }

    /// The fragment table the scan settled on, once [`Self::next`] is
    /// done; `None` when the moofs were walked ([`Self::moofs`]).
    pub fn tables(&self) -> Option<Tables<'_>> {
        match &self.table {
            Table::Sidx(t) => Some(Tables::Sidx(t)),
            Table::Tfra(tfras) => Some(Tables::Tfra {
                tfras,
                data_end: self.mfra_at,
            }),
            Table::Undecided | Table::Walk => None,
        }
    }

    /// Bytes the scan wants next.
    pub fn next(&self) -> Next {
        if matches!(self.table, Table::Sidx(_) | Table::Tfra(_)) {
            return self.next_table_read();
        }
        if self.cursor >= self.file_size {
            return Next::Done;
        }
        match self.mfra {
            Mfra::Unknown => {
                let len = TAIL_READ_LEN.min(self.file_size - self.cursor);
                return Next::Read {
                    offset: self.file_size - len,
                    len,
                };
            }
            Mfra::Fetch { offset, len } => return Next::Read { offset, len },
            Mfra::Settled => {}
        }
        let start = self.cursor;
        let mut end = match self.partial {
            Some(size) => start.saturating_add(size).saturating_add(MOOF_READ_LEN),
            None => start + MOOF_READ_LEN,
        };
        if !self.hints.is_empty() {
            let from = self.hints.partition_point(|&h| h <= start);
            for &h in &self.hints[from..] {
                let reach = h.saturating_add(MOOF_READ_LEN);
                if h.saturating_sub(end) > MAX_GAP || reach - start > WINDOW_LEN {
                    break;
                }
                end = end.max(reach);
            }
        } else if self.partial.is_none() && self.span <= WINDOW_LEN / 4 {
            // Small fragments (or none seen yet): a window holds several.
            end = start + WINDOW_LEN;
        }
        let end = end.min(self.file_size);
        Next::Read {
            offset: start,
            len: end - start,
        }
    }

    /// Takes the bytes `data` at file offset `at`: the read [`Self::next`]
    /// asked for, or any window of the file (the one that held the moov).
    pub fn feed(&mut self, at: u64, data: &[u8]) -> Result<()> {
        if matches!(self.table, Table::Sidx(_) | Table::Tfra(_)) {
            self.feed_table_read(at, data)?;
            return self.check_budget();
        }
        match self.mfra {
            Mfra::Unknown | Mfra::Fetch { .. }
                if at.saturating_add(data.len() as u64) == self.file_size && at > self.cursor =>
            {
                self.reads += 1;
                self.read_mfra(at, data)?;
                self.decide();
                return self.check_budget();
            }
            _ => {}
        }
        if at == self.cursor {
            self.reads += 1;
        }
        self.walk(at, data)?;
        self.decide();
        self.check_budget()
    }

    fn check_budget(&self) -> Result<()> {
        if self.next() == Next::Done || self.reads < MAX_FRAGMENT_READS {
            return Ok(());
        }
        let known = if self.hints.is_empty() {
            String::new()
        } else {
            format!(" of {}", self.hints.len())
        };
        Err(Mp4Error::unsupported(
            "moof",
            self.cursor,
            format!(
                "fragmented MP4 needs more than {MAX_FRAGMENT_READS} origin reads to index: {} fragments{known} found so far",
                self.moofs.len()
            ),
        ))
    }

    /// The tail: `mfro`, and the mfra if the tail holds it.
    fn read_mfra(&mut self, at: u64, data: &[u8]) -> Result<()> {
        self.mfra = Mfra::Settled;
        let Some(size) = data
            .len()
            .checked_sub(mfra::MFRO_LEN as usize)
            .and_then(|from| mfra::mfra_size(&data[from..]))
        else {
            return Ok(());
        };
        let limit = self.file_size - self.cursor;
        if size < mfra::MFRO_LEN + 8 || size > limit || size > MAX_MFRA_LEN {
            return Err(Mp4Error::invalid(
                "mfra/mfro",
                self.file_size - mfra::MFRO_LEN,
                format!("mfro gives an mfra of {size} bytes, which does not fit the file"),
            ));
        }
        let offset = self.file_size - size;
        self.mfra_at = offset;
        match offset.checked_sub(at) {
            Some(rel) => {
                let rel = rel as usize;
                let mfra = Bytes::copy_from_slice(&data[rel..]);
                if self.table == Table::Undecided {
                    self.tfras = mfra::tfra_tables(mfra.clone(), offset)?;
                }
                self.hints = mfra::moof_offsets(mfra, offset)?;
            }
            None => {
                self.mfra = Mfra::Fetch { offset, len: size };
            }
        }
        Ok(())
    }

    /// Follows top-level boxes from the cursor through the window.
    fn walk(&mut self, at: u64, data: &[u8]) -> Result<()> {
        let end = at.saturating_add(data.len() as u64);
        while self.cursor < self.file_size && self.cursor >= at && self.cursor < end {
            let rel = (self.cursor - at) as usize;
            let Some(h) = parse_header(&data[rel..], self.cursor, "")? else {
                break;
            };
            let size = h.size.unwrap_or(self.file_size - self.cursor);
            if self.cursor.saturating_add(size) > self.file_size {
                return Err(Mp4Error::truncated(
                    h.typ.to_string(),
                    self.cursor,
                    format!(
                        "top-level box of {size} bytes runs past the end of a {}-byte file",
                        self.file_size
                    ),
                ));
            }
            self.boxes += 1;
            if self.boxes > 4 * MAX_FRAGMENTS {
                return Err(Mp4Error::unsupported(
                    "",
                    self.cursor,
                    "too many top-level boxes after the moov",
                ));
            }
            if &h.typ.0 == b"moov" {
                return Err(Mp4Error::invalid("moov", self.cursor, "a second moov"));
            }
            if &h.typ.0 == b"sidx" && !self.saw_moof && self.table == Table::Undecided {
                let parsed = match &self.sidxs {
                    Some(_) => sidx::parse(data, at, self.cursor)?,
                    None => None,
                };
                match (parsed, &mut self.sidxs) {
                    (Some(s), Some(list)) => list.push(s),
                    _ => self.sidxs = None,
                }
            }
            self.saw_moof |= &h.typ.0 == b"moof";
            // Any other box (mdat, sidx, styp, free, uuid, mfra…) is
            // stepped over by its size.
            if &h.typ.0 == b"moof" && !self.take_moof(size, rel, data)? {
                self.partial = Some(size);
                return Ok(());
            }
            self.partial = None;
            self.cursor += size;
        }
        Ok(())
    }

    /// Copies the moof at the cursor out of the window if the window holds
    /// all of it; false when it does not.
    fn take_moof(&mut self, size: u64, rel: usize, data: &[u8]) -> Result<bool> {
        if size > MAX_MOOF_LEN {
            return Err(Mp4Error::unsupported(
                "moof",
                self.cursor,
                format!("moof of {size} bytes exceeds the {MAX_MOOF_LEN}-byte limit"),
            ));
        }
        let Some(moof) = data.get(rel..rel + size as usize) else {
            return Ok(false);
        };
        if self.moofs.len() >= MAX_FRAGMENTS {
            return Err(Mp4Error::unsupported(
                "moof",
                self.cursor,
                format!("more than {MAX_FRAGMENTS} fragments"),
            ));
        }
        self.moof_bytes += size;
        if self.moof_bytes > MAX_MOOF_BYTES {
            return Err(Mp4Error::unsupported(
                "moof",
                self.cursor,
                format!("more than {MAX_MOOF_BYTES} bytes of moof boxes"),
            ));
        }
        if let Some((prev, _)) = self.moofs.last() {
            self.span = self.cursor - prev;
        }
        // A copy of the moof (not of media payload), so the read window,
        // up to WINDOW_LEN of mostly mdat, is freed after the walk.
        self.moofs.push((self.cursor, Bytes::copy_from_slice(moof)));
        Ok(true)
    }
}
