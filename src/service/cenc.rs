//! `encryption=cenc` and `encryption=cbcs-aapl` media segments (ISO/IEC
//! 23001-7 `cenc` and `cbcs`) for the CMAF formats (DASH
//! `mpd-time-cmaf`/`mpd-time-csf`, HLS `m3u8-cmaf`). The two schemes share
//! everything but the cipher, the IVs and where the slice's protected
//! range starts ([`Scheme`]). `encryption=piff` Smooth fragments are
//! `cenc` samples too: only the fragment (Smooth's, with `tfxd`) and the
//! box that lists the IVs (PIFF's `uuid` SampleEncryptionBox,
//! [`crate::mux::piff`]) differ ([`Container`]).
//!
//! A `senc`'s size depends on each video sample's NAL layout (one
//! subsample per slice NAL unit), so the `moof` cannot be sized before the
//! payload is read: unlike a clear segment, an encrypted one is read
//! through the job ([`crate::job`], like an MPEG-TS segment) and built
//! whole in memory, at most one segment
//! ([`crate::timeline::MAX_SEGMENT_BYTES`]; the reads are capped by
//! [`super::ts::MAX_TS_READ_BYTES`] before any is made), then answered as
//! bytes with an exact length. The payload is copied once, into the
//! buffer encrypted in place (the reads are shared and immutable).

use super::ServeError;
use crate::codec::avc_slice::{self, ParamSets};
use crate::crypto::cenc::{self, NalCodec};
use crate::crypto::{cbcs, ContentKey, Scheme};
use crate::media_set::{MediaSet, SetTrack};
use crate::model::Codec;
use crate::mux::cenc::{add_aux, SampleAux};
use crate::mux::cmaf::{self, ByteRun, FragmentOptions};
use crate::mux::fragment::TrackFragment;
use crate::mux::piff;
use crate::plan;
use crate::source::{OriginError, ReadRequest, ReadResponse, SourceError};
use crate::timeline::TrackSegment;
use bytes::Bytes;

/// How a track's samples are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// AVC/HEVC: subsamples over NAL units with this length-prefix size.
    Nal(NalCodec, u8),
    /// Audio: the whole sample (ISO/IEC 23001-7 §9.5.1).
    Whole,
}

/// Which fragment the encrypted samples go in, and which box lists their
/// IVs and subsamples.
#[derive(Clone, Copy, Debug)]
enum Container {
    /// A CMAF segment (`styp`, `tfdt`) with `senc`, `saiz`, `saio`.
    Cmaf(FragmentOptions),
    /// A Smooth fragment (`tfxd`) with PIFF 1.1's SampleEncryptionBox,
    /// `saiz`, `saio` (`encryption=piff`).
    Smooth,
}

/// A CMAF segment or Smooth fragment to encrypt once its samples are read.
#[derive(Clone, Debug)]
pub struct CencJob {
    path: String,
    etag: String,
    content_type: &'static str,
    frag: TrackFragment,
    container: Container,
    /// Where each sample is, in order.
    samples: Vec<ByteRun>,
    layout: Layout,
    key: ContentKey,
    scheme: Scheme,
    /// `cbcs` of AVC: the SPS/PPS its slice headers are measured with.
    avc: Option<ParamSets>,
    /// The track's place in the title and the segment number: the IVs.
    track_tag: u16,
    segment: u32,
}

impl CencJob {
    /// Segment `n` (`seg`) of `t`, to be encrypted with `key` under
    /// `scheme`. Video other than AVC/HEVC has no subsample rule here: 501.
    pub fn new(
        set: &MediaSet,
        t: &SetTrack,
        n: u32,
        seg: &TrackSegment,
        protection: (ContentKey, Scheme),
        content_type: &'static str,
    ) -> Result<CencJob, ServeError> {
        let (idx, seg) = super::segment_source(set, t, seg)?;
        let opts = FragmentOptions {
            sequence: n + 1,
            styp: true,
        };
        let frag = cmaf::fragment(idx, &seg, opts)?;
        Self::with(
            set,
            (t, idx),
            (n, &seg),
            (frag, Container::Cmaf(opts)),
            protection,
            content_type,
        )
    }

    /// Smooth fragment `n` (`seg`) of `t` under `encryption=piff`: PIFF 1.1
    /// sample encryption, i.e. `cenc` samples with `key`.
    pub fn piff(
        set: &MediaSet,
        t: &SetTrack,
        n: u32,
        seg: &TrackSegment,
        key: ContentKey,
        content_type: &'static str,
    ) -> Result<CencJob, ServeError> {
        let (idx, seg) = super::segment_source(set, t, seg)?;
        let frag = crate::mux::smooth::track_fragment(idx, &seg)?;
        Self::with(
            set,
            (t, idx),
            (n, &seg),
            (frag, Container::Smooth),
            (key, Scheme::Cenc),
            content_type,
        )
    }

    /// `idx` is where the segment's samples are: the track's index, or
    /// for a fragment-level track the index of the moofs read for it
    /// ([`super::segment_source`]).
    fn with(
        set: &MediaSet,
        (t, idx): (&SetTrack, &crate::index::TrackIndex),
        (n, seg): (u32, &TrackSegment),
        (frag, container): (TrackFragment, Container),
        (key, scheme): (ContentKey, Scheme),
        content_type: &'static str,
    ) -> Result<CencJob, ServeError> {
        let layout = layout(&idx.info, scheme)?;
        let mut samples = Vec::with_capacity(frag.trun.samples.len());
        for s in idx.samples(seg.samples.clone())? {
            let s = s?;
            samples.push(ByteRun {
                offset: s.offset,
                len: u64::from(s.size),
            });
        }
        let start = samples.iter().map(|r| r.offset).min().unwrap_or(0);
        let end = samples.iter().map(ByteRun::end).max().unwrap_or(0);
        crate::error::LimitError::check(
            crate::error::Cap::SegmentReadBytes,
            end.saturating_sub(start),
            super::ts::MAX_TS_READ_BYTES,
        )?;
        let track_tag = set
            .tracks
            .iter()
            .position(|u| std::ptr::eq(u, t))
            .unwrap_or(0) as u16;
        let file = &set.files[t.file];
        Ok(CencJob {
            path: file.path.clone(),
            etag: file.index.etag.clone(),
            content_type,
            frag,
            container,
            samples,
            layout,
            key,
            scheme,
            avc: match (&idx.info.codec, scheme) {
                (Codec::Avc(c), Scheme::Cbcs) => Some(ParamSets::from_config(c)),
                _ => None,
            },
            track_tag,
            segment: n,
        })
    }

    /// The key id (names the key in the output's tag).
    pub fn key_id(&self) -> String {
        self.key.kid_hex()
    }

    /// The origin reads that fetch every sample, planned within `limits`.
    pub fn reads(&self, limits: plan::ReadLimits) -> Vec<ReadRequest> {
        let plan = plan::plan_reads(&self.samples, limits);
        crate::source::payload_reads(&self.path, &self.etag, &plan)
    }

    /// The encrypted segment from the responses to [`CencJob::reads`].
    pub fn build(
        self,
        reqs: &[ReadRequest],
        responses: Vec<ReadResponse>,
    ) -> Result<super::Output, ServeError> {
        let reads: Vec<(ByteRun, Bytes)> = reqs
            .iter()
            .zip(responses)
            .map(|(q, r)| {
                (
                    ByteRun {
                        offset: q.start,
                        len: q.end - q.start,
                    },
                    r.data,
                )
            })
            .collect();
        let data = plan::assemble(&self.samples, &reads).map_err(|e| {
            ServeError::Source(SourceError::Origin(OriginError::Bad(format!(
                "{}: {e}",
                self.path
            ))))
        })?;
        let body = encrypt_segment(
            self.frag,
            self.container,
            &data,
            self.layout,
            (&self.key, self.scheme, self.avc.as_ref()),
            (self.track_tag, self.segment),
        )?;
        Ok(super::Output::Bytes {
            content_type: self.content_type,
            body,
        })
    }
}

/// How `info`'s samples are protected, or 501.
fn layout(info: &crate::model::TrackInfo, scheme: Scheme) -> Result<Layout, ServeError> {
    match &info.codec {
        Codec::Avc(c) => Ok(Layout::Nal(NalCodec::Avc, c.nal_length_size)),
        Codec::Hevc(c) => Ok(Layout::Nal(NalCodec::Hevc, c.nal_length_size)),
        _ if info.kind == crate::model::TrackKind::Audio => Ok(Layout::Whole),
        _ => Err(ServeError::NotImplemented(format!(
            "encryption={} of {} video is not supported",
            scheme.option(),
            info.fourcc
        ))),
    }
}

/// The encrypted segment: `frag`'s boxes with `saiz`/`saio`/`senc`, then
/// the samples `data` (in order) encrypted.
fn encrypt_segment(
    mut frag: TrackFragment,
    container: Container,
    data: &[Bytes],
    layout: Layout,
    (key, scheme, avc): (&ContentKey, Scheme, Option<&ParamSets>),
    (track_tag, segment): (u16, u32),
) -> Result<Bytes, ServeError> {
    let media = |e: cenc::CencError| ServeError::Media(e.to_string());
    let total: usize = data.iter().map(Bytes::len).sum();
    let mut payload = Vec::with_capacity(total);
    let mut aux = Vec::with_capacity(data.len());
    // `cbcs`: one IV for every sample (§10.4.2), and the slice header
    // clear (§10.4.2): measured for AVC, a fixed lead for HEVC and for
    // what the AVC reader cannot follow; `cenc`: an IV per sample (§9.1),
    // only the NAL header clear.
    let cbcs_lead = |nal: &[u8]| match avc {
        Some(ps) => avc_slice::slice_header_len(nal, ps).unwrap_or(cbcs::SLICE_CLEAR_LEAD),
        None => cbcs::SLICE_CLEAR_LEAD,
    };
    let cenc_lead = |_: &[u8]| 0;
    let lead: &dyn Fn(&[u8]) -> usize = match scheme {
        Scheme::Cenc => &cenc_lead,
        Scheme::Cbcs => &cbcs_lead,
    };
    let constant_iv = (scheme == Scheme::Cbcs).then(|| cbcs::constant_iv(&key.key));
    for (i, sample) in data.iter().enumerate() {
        let subsamples = match layout {
            Layout::Nal(codec, l) => {
                cenc::nal_subsamples_with_lead(sample, l, codec, lead).map_err(media)?
            }
            Layout::Whole => Vec::new(),
        };
        let at = payload.len();
        payload.extend_from_slice(sample);
        let out = &mut payload[at..];
        let iv = match constant_iv {
            Some(iv) => {
                let pattern = crate::mux::cenc::cbcs_pattern(layout == Layout::Whole);
                cbcs::pattern_encrypt(&key.key, &iv, pattern, out, &subsamples).map_err(media)?;
                None
            }
            None => {
                let iv = cenc::sample_iv(track_tag, segment, i).map_err(media)?;
                cenc::ctr_apply(&key.key, &iv, out, &subsamples).map_err(media)?;
                Some(iv)
            }
        };
        aux.push(SampleAux { iv, subsamples });
    }
    let with_subsamples = matches!(layout, Layout::Nal(..));
    match container {
        Container::Cmaf(_) => add_aux(&mut frag, &aux, with_subsamples),
        Container::Smooth => piff::add_sample_encryption(&mut frag, &aux, with_subsamples),
    }
    .map_err(|n| {
        ServeError::Media(format!(
            "a sample's encryption entry of {n} bytes: saiz sizes at most 255 (41 subsamples)"
        ))
    })?;
    let seg = match container {
        Container::Cmaf(opts) => cmaf::write_segment(frag, opts)?,
        Container::Smooth => {
            let w = crate::mux::boxes::BoxWriter::with_capacity(frag.header_len() as usize);
            frag.write(w)?
        }
    };
    let mut out = Vec::with_capacity(seg.header.len() + payload.len());
    out.extend_from_slice(&seg.header);
    out.extend_from_slice(&payload);
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests;
