//! The fragment-table side of [`FragmentScan`]: deciding between a table
//! (`sidx`, `mfra`) and the moof walk, and reading the few moofs a table
//! still needs (its first and, for `tfra`, last fragments).

use super::*;

impl FragmentScan {
    /// Decides between a table and the walk once the tables are known:
    /// the `sidx` boxes (met before the first moof) or the `mfra` (the
    /// tail). A table is used when the walk would exceed the read budget
    /// (or always, per the policy) and it covers every track.
    pub(super) fn decide(&mut self) {
        if self.table != Table::Undecided {
            return;
        }
        let sidx_seen = self.saw_moof || self.cursor >= self.file_size;
        let sidx = match &self.sidxs {
            Some(s) if sidx_seen && !s.is_empty() => fragtable::from_sidx(s, &self.keys),
            _ => None,
        };
        let settled = self.mfra == Mfra::Settled;
        let use_table = |offsets: &[u64], reads: usize| {
            self.policy == TablePolicy::Always
                || reads + fragtable::walk_reads(offsets) > MAX_FRAGMENT_READS
        };
        if let Some(tables) = sidx {
            let mut offsets: Vec<u64> = tables
                .iter()
                .flat_map(|t| t.fragments.iter().map(|f| f.offset))
                .collect();
            offsets.sort_unstable();
            offsets.dedup();
            if use_table(&offsets, self.reads) {
                let need = tables
                    .iter()
                    .filter_map(|t| t.fragments.first().map(|f| f.offset))
                    .collect();
                self.table = Table::Sidx(tables);
                self.mfra = Mfra::Settled;
                self.hold(need);
                return;
            }
        }
        if !settled || !sidx_seen {
            return;
        }
        let covered = self.keys.iter().all(|k| {
            self.tfras
                .iter()
                .find(|t| t.track_id == k.track_id)
                .is_some_and(|t| {
                    !t.entries.is_empty() && t.entries.iter().all(|e| e.trun == 1 && e.sample == 1)
                })
        });
        if covered && !self.hints.is_empty() && use_table(&self.hints, self.reads) {
            let tfras = std::mem::take(&mut self.tfras);
            let mut need = fragtable::last_moofs(&tfras);
            need.extend(
                tfras
                    .iter()
                    .filter_map(|t| t.entries.first().map(|e| e.moof_offset)),
            );
            self.table = Table::Tfra(tfras);
            self.hold(need);
            return;
        }
        self.table = Table::Walk;
    }

    /// Ends the walk: the moofs of the fragments starting at `need` are
    /// what the table still wants (those the walk holds already are kept).
    pub(super) fn hold(&mut self, mut need: Vec<u64>) {
        need.sort_unstable();
        need.dedup();
        self.moofs.retain(|(at, _)| need.contains(at));
        self.held = self.moofs.iter().map(|(at, _)| *at).collect();
        self.need = need;
        self.cursor = self.file_size;
        self.partial = None;
        self.reading = None;
    }

    /// The fragment whose moof is wanted next, in table mode.
    pub(super) fn wanted(&self) -> Option<u64> {
        self.need.iter().copied().find(|f| !self.held.contains(f))
    }

    /// The read of the next moof a table wants.
    pub(super) fn next_table_read(&self) -> Next {
        let Some(f) = self.wanted() else {
            return Next::Done;
        };
        let (at, len) = self.reading.unwrap_or((f, MOOF_READ_LEN));
        Next::Read {
            offset: at,
            len: len.min(self.file_size.saturating_sub(at)),
        }
    }

    /// A read for a table (see [`Self::next_table_read`]): steps over the
    /// boxes before the fragment's moof, and holds the moof when whole.
    pub(super) fn feed_table_read(&mut self, at: u64, data: &[u8]) -> Result<()> {
        self.reads += 1;
        let Some(f) = self.wanted() else {
            return Ok(());
        };
        let end = at.saturating_add(data.len() as u64);
        let mut pos = at;
        let mut skipped = 0;
        loop {
            let rel = (pos - at) as usize;
            let Some(h) = parse_header(data.get(rel..).unwrap_or(&[]), pos, "")? else {
                if pos >= self.file_size {
                    return Err(Mp4Error::invalid(
                        "moof",
                        f,
                        "no moof where the fragment table says",
                    ));
                }
                self.reading = Some((pos, MOOF_READ_LEN));
                return Ok(());
            };
            let size = h.size.unwrap_or(self.file_size - pos);
            if &h.typ.0 == b"moof" {
                if size > MAX_MOOF_LEN {
                    return Err(Mp4Error::unsupported(
                        "moof",
                        pos,
                        format!("moof of {size} bytes exceeds the {MAX_MOOF_LEN}-byte limit"),
                    ));
                }
                match data.get(rel..rel + size as usize) {
                    Some(moof) => {
                        // A copy of the moof (not of media payload).
                        self.moofs.push((pos, Bytes::copy_from_slice(moof)));
                        self.held.push(f);
                        self.reading = None;
                    }
                    None if pos.saturating_add(size) <= end
                        || self.reading == Some((pos, size)) =>
                    {
                        return Err(Mp4Error::truncated("moof", pos, "moof cut short"))
                    }
                    None => self.reading = Some((pos, size)),
                }
                return Ok(());
            }
            skipped += 1;
            if matches!(&h.typ.0, b"mdat" | b"moov" | b"mfra") || skipped > MAX_LEADING_BOXES {
                return Err(Mp4Error::invalid(
                    "moof",
                    f,
                    format!("no moof where the fragment table says (a {} box)", h.typ),
                ));
            }
            pos = pos.saturating_add(size);
            if pos >= end {
                self.reading = Some((pos, MOOF_READ_LEN));
                return Ok(());
            }
        }
    }
}
