use super::*;
use crate::index::{index_whole_file, IndexError, MediaIndex};
use crate::model::FourCC;
use crate::mp4::header::BoxIter;
use crate::mp4::stsd::parse_stsd;
use crate::mp4::Mp4ErrorKind;
use crate::mux::boxes::BoxWriter;
use crate::mux::cmaf::{self, FragmentOptions};
use crate::testutil::{audio_entry, avc_entry, synth_mp4, SynthTrack};
use crate::timeline::TrackSegment;

/// Baseline 3.0 and High 3.1 SPS (not decodable: only the first bytes
/// matter here), and a PPS.
const SPS_BASE: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xaa, 0xbb];
const SPS_HIGH: &[u8] = &[0x67, 0x64, 0x00, 0x1f, 0xcc];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

fn small() -> Vec<u8> {
    avc_entry(b"avc1", (320, 180), SPS_BASE, PPS)
}
fn large() -> Vec<u8> {
    avc_entry(b"avc1", (640, 360), SPS_HIGH, PPS)
}

fn entry(raw: Vec<u8>) -> SampleEntry {
    parse_sample_entry(Bytes::from(raw), "t").unwrap()
}

fn stsd(entries: &[Vec<u8>], count: u32) -> crate::mp4::header::Mp4Box {
    let mut w = BoxWriter::default();
    w.start_full(b"stsd", 0, 0).u32(count);
    for e in entries {
        w.bytes(e);
    }
    w.end();
    BoxIter::new(Bytes::from(w.buf), 0, "")
        .next()
        .unwrap()
        .unwrap()
}

#[test]
fn stsd_with_two_entries_parses_both() {
    let all = parse_stsd(&stsd(&[small(), large()], 2), "stsd").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].width, all[1].width), (320, 640));
    assert_eq!(all[1].codec_string, "avc1.64001f");
}

#[test]
fn sample_entry_count_is_capped() {
    let e = small();
    let many: Vec<Vec<u8>> = (0..17).map(|_| e.clone()).collect();
    let err = parse_stsd(&stsd(&many, 17), "stsd").unwrap_err();
    assert_eq!(err.kind, Mp4ErrorKind::Unsupported);
    assert!(err.to_string().contains("17 sample descriptions"), "{err}");
    assert_eq!(
        parse_stsd(&stsd(&many[..16], 16), "stsd").unwrap().len(),
        16
    );
}

#[test]
fn byte_identical_descriptions_merge() {
    let (e, d) = combine(vec![entry(small()), entry(small())], "stsd", 0).unwrap();
    assert!(d.is_none());
    assert_eq!(e.fourcc, FourCC(*b"avc1"));
    assert_eq!(e.raw, Bytes::from(small()));
}

#[test]
fn different_codecs_and_audio_are_refused_with_the_difference() {
    let err = combine(
        vec![entry(small()), entry(crate::testutil::video_entry(&[]))],
        "stsd",
        0,
    );
    // Two AVC configurations: fine.
    assert!(err.is_ok());
    let hev = {
        let mut raw = small();
        raw[4..8].copy_from_slice(b"hev1");
        raw
    };
    // `hev1` without `hvcC`: another family, 501.
    let err = combine(vec![entry(small()), entry(hev)], "stsd", 0).unwrap_err();
    assert_eq!(err.kind, Mp4ErrorKind::Unsupported);
    let esds = [
        0, 0, 0, 0, 0x03, 0x19, 0, 1, 0, 0x04, 0x11, 0x40, 0x15, 0, 0, 0, 0, 1, 0xf4, 0, 0, 1,
        0xf4, 0, 0x05, 0x02, 0x11, 0x90, 0x06, 0x01, 0x02,
    ];
    let a48 = audio_entry(b"mp4a", &[(b"esds", &esds)]);
    let mut a44 = a48.clone();
    // samplerate 44100 << 16 (AudioSampleEntry at 8 + 24).
    a44[32..36].copy_from_slice(&(44100u32 << 16).to_be_bytes());
    let err = combine(vec![entry(a44), entry(a48)], "stsd", 0).unwrap_err();
    assert_eq!(err.kind, Mp4ErrorKind::Unsupported);
    assert!(
        err.to_string().contains(
            "audio sample descriptions differ: mp4a.40.2 44100 Hz 2 ch vs mp4a.40.2 48000 Hz 2 ch"
        ),
        "{err}"
    );
    let err = combine(
        vec![
            entry(small()),
            entry(audio_entry(b"mp4a", &[(b"esds", &esds)])),
        ],
        "stsd",
        0,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("sample descriptions differ: avc1.42c01e 320x180 vs mp4a.40.2"),
        "{err}"
    );
}

#[test]
fn in_band_entry_is_avc3_with_the_largest_size_and_highest_profile() {
    let (e, d) = combine(vec![entry(small()), entry(large())], "stsd", 0).unwrap();
    let d = d.unwrap();
    assert_eq!(d.map, vec![0, 1]);
    assert_eq!(e.fourcc, FourCC(*b"avc3"));
    assert_eq!((e.width, e.height), (640, 360));
    assert_eq!(e.codec_string, "avc3.64001f");
    // The configuration record is the first description's.
    match &e.codec {
        Codec::Avc(c) => assert_eq!(&c.sps[0][..], SPS_BASE),
        _ => panic!("not AVC"),
    }
}

/// `raw` (a box with a compact header) rewritten with a 64-bit
/// `largesize` header (§4.2: `size` 1), 8 bytes longer.
fn with_largesize(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 1];
    out.extend_from_slice(&raw[4..8]);
    out.extend_from_slice(&(raw.len() as u64 + 8).to_be_bytes());
    out.extend_from_slice(&raw[8..]);
    out
}

#[test]
fn in_band_entry_of_a_largesize_entry_patches_its_own_fields() {
    // The first description with a 16-byte box header: its width, height
    // and avcC sit 8 bytes later than in a compact one.
    let first = entry(with_largesize(&small()));
    assert_eq!(first.width, 320);
    let (e, _) = combine(vec![first, entry(large())], "stsd", 0).unwrap();
    assert_eq!(e.fourcc, FourCC(*b"avc3"));
    assert_eq!((e.width, e.height), (640, 360));
    assert_eq!(e.codec_string, "avc3.64001f");
}

#[test]
fn config_record_walk_ends_on_a_size_past_the_entry() {
    // A child size that would wrap a 32-bit `usize` back into the entry
    // (wasm32) must end the walk, not loop.
    let mut raw = small();
    raw.truncate(8 + 78);
    raw.extend_from_slice(&0xffff_fff0u32.to_be_bytes());
    raw.extend_from_slice(b"free");
    raw.extend_from_slice(&[0; 8]);
    assert_eq!(config_record(&raw, 8), None);
}

#[test]
fn parameter_sets_are_length_prefixed() {
    let p = parameter_set_prefix(&entry(large())).unwrap();
    let mut want = vec![0, 0, 0, SPS_HIGH.len() as u8];
    want.extend_from_slice(SPS_HIGH);
    want.extend_from_slice(&[0, 0, 0, PPS.len() as u8]);
    want.extend_from_slice(PPS);
    assert_eq!(&p[..], &want[..]);
}

/// 48 frames at 24 fps, a keyframe every 12, switching to the large
/// description at frame `at`.
fn joined(at: u32) -> SynthTrack {
    let mut t = SynthTrack::video(48, 24, 12).with_entry(small());
    t.more_entries = vec![(at, large())];
    t
}

fn index(t: SynthTrack) -> std::result::Result<MediaIndex, IndexError> {
    index_whole_file(&synth_mp4(&[t]), "e")
}

#[test]
fn index_round_trip_keeps_the_descriptions() {
    let idx = index(joined(24)).unwrap();
    let again = MediaIndex::from_blob(idx.blob.clone()).unwrap();
    for idx in [&idx, &again] {
        let t = &idx.tracks[0];
        assert!(t.has_in_band_parameter_sets());
        assert_eq!(t.info.fourcc, FourCC(*b"avc3"));
        assert_eq!((t.info.width, t.info.height), (640, 360));
        assert_eq!((t.description_of(23), t.description_of(24)), (0, 1));
        assert_eq!(t.description_of(47), 1);
        let p = t.param_prefix(24, true).unwrap();
        assert_eq!(&p[4..4 + SPS_HIGH.len()], SPS_HIGH);
        assert_eq!(&t.param_prefix(0, true).unwrap()[4..10], SPS_BASE);
        assert_eq!(t.param_prefix(25, false), None);
        // Sync samples 0, 12 (small) and 24, 36 (large).
        let small_len = 8 + SPS_BASE.len() + PPS.len();
        let large_len = 8 + SPS_HIGH.len() + PPS.len();
        assert_eq!(t.lead_bytes(0..48), 2 * (small_len + large_len) as u64);
        assert_eq!(t.lead_bytes(13..36), large_len as u64);
    }
    // One description: no flag, the same blob as before.
    let plain = index(SynthTrack::video(48, 24, 12).with_entry(small())).unwrap();
    assert!(!plain.tracks[0].has_in_band_parameter_sets());
    assert_eq!(plain.tracks[0].param_prefix(0, true), None);
    assert_eq!(plain.tracks[0].info.fourcc, FourCC(*b"avc1"));
    // Duplicates: indexed as one description.
    let mut dup = SynthTrack::video(48, 24, 12).with_entry(small());
    dup.more_entries = vec![(24, small())];
    let dup = index(dup).unwrap();
    assert!(!dup.tracks[0].has_in_band_parameter_sets());
    assert_eq!(dup.tracks[0].info.fourcc, FourCC(*b"avc1"));
}

#[test]
fn a_switch_at_a_non_sync_sample_is_invalid() {
    let err = index(joined(25)).unwrap_err();
    match err {
        IndexError::Mp4(e) => {
            assert_eq!(e.kind, Mp4ErrorKind::Invalid);
            assert!(
                e.to_string()
                    .contains("sample 26, which is not a sync sample"),
                "{e}"
            );
        }
        e => panic!("{e}"),
    }
}

#[test]
fn an_edit_that_drops_leading_samples_keeps_each_samples_description() {
    // The edit starts at frame 14's time: the index keeps the samples from
    // keyframe 12 on, so file sample 24 (the switch) is index sample 12.
    let mut t = joined(24);
    t.edit = Some(14 * 512);
    let idx = index(t).unwrap();
    let again = MediaIndex::from_blob(idx.blob.clone()).unwrap();
    for idx in [&idx, &again] {
        let t = &idx.tracks[0];
        assert_eq!(t.sample_count(), 36);
        assert_eq!((t.description_of(11), t.description_of(12)), (0, 1));
        assert_eq!(
            &t.param_prefix(12, true).unwrap()[4..4 + SPS_HIGH.len()],
            SPS_HIGH
        );
        assert_eq!(&t.param_prefix(0, true).unwrap()[4..10], SPS_BASE);
    }
}

fn segment(idx: &MediaIndex, samples: std::ops::Range<u32>) -> TrackSegment {
    let t = &idx.tracks[0];
    let start = t.position(samples.start).unwrap();
    let end = t.position(samples.end).unwrap();
    TrackSegment {
        number: 0,
        samples,
        start: start.dts as i64,
        duration: end.dts - start.dts,
        payload: end.bytes - start.bytes,
    }
}

#[test]
fn init_segment_says_avc3() {
    let idx = index(joined(24)).unwrap();
    let init = cmaf::init_segment(&idx.tracks[0].info);
    assert!(init.windows(4).any(|w| w == b"avc3"));
    assert!(!init.windows(4).any(|w| w == b"avc1"));
}

/// (sizes in the `trun`, payload bytes of the `mdat`) of a fragment.
fn trun_and_mdat(seg: &[u8]) -> (Vec<u32>, usize) {
    let all = Bytes::copy_from_slice(seg);
    let (mut sizes, mut mdat) = (Vec::new(), 0);
    for b in BoxIter::new(all, 0, "") {
        let b = b.unwrap();
        match &b.header.typ.0 {
            b"moof" => {
                let traf = b.children("moof").find(b"traf").unwrap().unwrap();
                let trun = traf.children("traf").find(b"trun").unwrap().unwrap();
                let p = &trun.payload;
                let n = u32::from_be_bytes(p[4..8].try_into().unwrap()) as usize;
                // flags: data offset, duration, size, flags, cts: 16 a sample.
                for i in 0..n {
                    let at = 12 + i * 16 + 4;
                    sizes.push(u32::from_be_bytes(p[at..at + 4].try_into().unwrap()));
                }
            }
            b"mdat" => mdat = b.payload.len(),
            _ => {}
        }
    }
    (sizes, mdat)
}

#[test]
fn a_segment_starting_at_the_join_is_zero_copy_with_the_new_parameter_sets() {
    let file = synth_mp4(&[joined(24)]);
    let idx = index_whole_file(&file, "e").unwrap();
    let t = &idx.tracks[0];
    let opts = FragmentOptions {
        sequence: 1,
        styp: true,
    };
    let frag = cmaf::fragment(t, &segment(&idx, 24..36), opts).unwrap();
    assert!(frag.zero_copy());
    let ms = cmaf::write_segment(frag, opts).unwrap();
    let bytes = crate::testutil::materialize(&ms, &file);
    assert_eq!(bytes.len() as u64, ms.len());
    let (sizes, mdat) = trun_and_mdat(&bytes);
    assert_eq!(sizes.iter().map(|&s| s as usize).sum::<usize>(), mdat);
    let lead = t.param_prefix(24, true).unwrap();
    let first = t.sample(24).unwrap();
    assert_eq!(sizes[0], first.size + lead.len() as u32);
    // The mdat payload starts with the large SPS, then the source sample.
    let payload_at = bytes.len() - mdat;
    assert_eq!(&bytes[payload_at..payload_at + lead.len()], &lead[..]);
    assert_eq!(
        &bytes[payload_at + 4..payload_at + 4 + SPS_HIGH.len()],
        SPS_HIGH
    );
    let src = &file[first.offset as usize..(first.offset + u64::from(first.size)) as usize];
    assert_eq!(&bytes[payload_at + lead.len()..][..src.len()], src);
}

#[test]
fn a_segment_across_the_join_needs_building_and_counts_every_lead() {
    let idx = index(joined(24)).unwrap();
    let t = &idx.tracks[0];
    let opts = FragmentOptions {
        sequence: 1,
        styp: true,
    };
    let frag = cmaf::fragment(t, &segment(&idx, 0..48), opts).unwrap();
    assert!(!frag.zero_copy());
    let leads = frag.sample_leads();
    for i in [0usize, 12, 24, 36] {
        let want = t.param_prefix(i as u32, true).unwrap();
        assert_eq!(leads[i], want);
        let s = t.sample(i as u32).unwrap();
        assert_eq!(frag.trun.samples[i].size, s.size + want.len() as u32);
    }
    assert!(leads[1].is_empty() && leads[25].is_empty());
    assert_eq!(&leads[24][4..4 + SPS_HIGH.len()], SPS_HIGH);
    let total: u64 = frag.trun.samples.iter().map(|s| u64::from(s.size)).sum();
    assert_eq!(frag.payload_len(), total);
    // Written as runs, it would lose the leads between samples.
    assert!(frag.clone().write(BoxWriter::default()).is_err());
}

/// Sample payloads that are one NAL unit each (IDR on sync samples):
/// what the TS muxer can split.
fn with_nal_payloads(mut t: SynthTrack) -> SynthTrack {
    t.payloads = t
        .samples
        .iter()
        .map(|&(_, size, sync, _)| {
            let mut p = vec![0u8; size as usize];
            p[..4].copy_from_slice(&(size - 4).to_be_bytes());
            p[4] = if sync { 0x65 } else { 0x41 };
            p
        })
        .collect();
    t
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn ts_sends_each_keyframe_with_its_own_descriptions_parameter_sets() {
    use crate::plan::ReadLimits;
    use crate::source::ReadResponse;
    let track = with_nal_payloads(joined(24));
    let file = synth_mp4(std::slice::from_ref(&track));
    let set = crate::testutil::synth_set(&[track], 10_000);
    let t = &set.tracks[0];
    let job = crate::service::ts::TsJob::new(&set, &[t], 0)
        .unwrap()
        .unwrap();
    let reqs = job.reads(ReadLimits {
        max_reads: 8,
        cost: Default::default(),
    });
    let responses = reqs
        .iter()
        .map(|q| ReadResponse {
            data: file.slice(q.start as usize..q.end as usize),
            total_size: file.len() as u64,
            etag: "e".into(),
        })
        .collect();
    let ts = job.build(&reqs, responses).unwrap().to_vec();
    // Keyframes 0 and 12 with the Baseline SPS, 24 and 36 with the High
    // one; the configuration's (the first description's) is not added on
    // top of a keyframe's own.
    assert_eq!(count(&ts, SPS_BASE), 2);
    assert_eq!(count(&ts, SPS_HIGH), 2);
}

#[test]
fn smooth_fragments_count_the_leads() {
    let idx = index(joined(24)).unwrap();
    let t = &idx.tracks[0];
    let frag = crate::mux::smooth::track_fragment(t, &segment(&idx, 24..36)).unwrap();
    assert!(frag.zero_copy());
    let lead = t.param_prefix(24, true).unwrap();
    assert_eq!(frag.inserts, vec![(0, lead.clone())]);
    assert_eq!(
        frag.trun.samples[0].size,
        t.sample(24).unwrap().size + lead.len() as u32
    );
    let frag = crate::mux::smooth::track_fragment(t, &segment(&idx, 0..48)).unwrap();
    assert!(!frag.zero_copy());
    assert_eq!(frag.inserts.len(), 4);
}

/// An `hvc1` entry whose `hvcC` (ISO/IEC 14496-15 §8.3.3.1.2) has
/// `profile`, `level`, NAL length size 4 and one VPS, SPS and PPS.
fn hevc_entry(size: (u16, u16), profile: u8, level: u8, sps: &[u8]) -> Vec<u8> {
    let mut raw = avc_entry(b"hvc1", size, SPS_BASE, PPS);
    // Replace the avcC with an hvcC.
    let at = raw.windows(4).position(|w| w == b"avcC").unwrap() - 4;
    raw.truncate(at);
    let mut c = vec![1, profile, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, level];
    c.extend_from_slice(&[0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 3]);
    for (typ, nal) in [
        (32u8, &[0x40u8, 1, 0xaa][..]),
        (33, sps),
        (34, &[0x44, 1, 0xc0][..]),
    ] {
        c.push(typ);
        c.extend_from_slice(&1u16.to_be_bytes());
        c.extend_from_slice(&(nal.len() as u16).to_be_bytes());
        c.extend_from_slice(nal);
    }
    raw.extend_from_slice(&(8 + c.len() as u32).to_be_bytes());
    raw.extend_from_slice(b"hvcC");
    raw.extend_from_slice(&c);
    let len = raw.len() as u32;
    raw[..4].copy_from_slice(&len.to_be_bytes());
    raw
}

#[test]
fn hevc_descriptions_become_hev1_with_vps_sps_pps_in_band() {
    let a = entry(hevc_entry((320, 180), 1, 60, &[0x42, 1, 1, 0x11]));
    let b = entry(hevc_entry((1280, 720), 2, 93, &[0x42, 1, 1, 0x22, 0x33]));
    assert!(matches!(a.codec, Codec::Hevc(_)), "{:?}", a.codec);
    let (e, d) = combine(vec![a, b.clone()], "stsd", 0).unwrap();
    assert_eq!(d.unwrap().entries.len(), 2);
    assert_eq!(e.fourcc, FourCC(*b"hev1"));
    assert_eq!((e.width, e.height), (1280, 720));
    match &e.codec {
        // Main 10 (2) from the second, level 3.1 (93) the highest; the
        // parameter sets stay the first's.
        Codec::Hevc(c) => {
            assert_eq!((c.general_profile_idc, c.general_level_idc), (2, 93));
            assert_eq!(&c.sps[0][..], &[0x42, 1, 1, 0x11]);
        }
        c => panic!("{c:?}"),
    }
    assert!(e.codec_string.starts_with("hev1.2."), "{}", e.codec_string);
    let p = parameter_set_prefix(&b).unwrap();
    assert_eq!(
        &p[..],
        &[
            0, 0, 0, 3, 0x40, 1, 0xaa, 0, 0, 0, 5, 0x42, 1, 1, 0x22, 0x33, 0, 0, 0, 3, 0x44, 1,
            0xc0
        ]
    );
    // HEVC and AVC descriptions of one track: 501.
    let err = combine(vec![entry(small()), b], "stsd", 0).unwrap_err();
    assert_eq!(err.kind, Mp4ErrorKind::Unsupported);
}

/// The `array_completeness` bits of the arrays of the `hvcC` in `raw`.
fn completeness(raw: &[u8]) -> Vec<bool> {
    let rec = &raw[raw.windows(4).position(|w| w == b"hvcC").unwrap() + 4..];
    let mut at = 23;
    let mut out = Vec::new();
    for _ in 0..rec[22] {
        out.push(rec[at] & 0x80 != 0);
        let n = u16::from_be_bytes([rec[at + 1], rec[at + 2]]);
        at += 3;
        for _ in 0..n {
            at += 2 + usize::from(u16::from_be_bytes([rec[at], rec[at + 1]]));
        }
    }
    out
}

#[test]
fn hev1_entry_says_parameter_sets_may_be_in_the_stream() {
    // `hvc1` entries mark their arrays complete (§8.4.1.1.2); the `hev1`
    // entry whose sync samples carry parameter sets must not.
    let complete = |mut raw: Vec<u8>| {
        let rec = raw.windows(4).position(|w| w == b"hvcC").unwrap() + 4;
        let mut at = rec + 23;
        for _ in 0..3 {
            raw[at] |= 0x80;
            let len = usize::from(u16::from_be_bytes([raw[at + 3], raw[at + 4]]));
            at += 5 + len;
        }
        raw
    };
    let a = complete(hevc_entry((320, 180), 1, 60, &[0x42, 1, 1, 0x11]));
    assert_eq!(completeness(&a), [true; 3]);
    let b = complete(hevc_entry((1280, 720), 2, 93, &[0x42, 1, 1, 0x22]));
    let (e, _) = combine(vec![entry(a), entry(b)], "stsd", 0).unwrap();
    assert_eq!(e.fourcc, FourCC(*b"hev1"));
    assert_eq!(completeness(&e.raw), [false; 3]);
    match &e.codec {
        Codec::Hevc(c) => assert_eq!(c.vps.len() + c.sps.len() + c.pps.len(), 3),
        c => panic!("{c:?}"),
    }
}
