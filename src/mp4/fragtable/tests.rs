use super::*;
use crate::mp4::mfra::TfraEntry;
use crate::mp4::sidx::Subsegment;

fn keys() -> Vec<TrackKey> {
    vec![
        TrackKey {
            track_id: 1,
            timescale: 12288,
        },
        TrackKey {
            track_id: 2,
            timescale: 48000,
        },
    ]
}

fn sub(time: u64, duration: u64, offset: u64, size: u64) -> Subsegment {
    Subsegment {
        time,
        duration,
        offset,
        size,
        sap: true,
        rap: None,
    }
}

#[test]
fn sidx_tables_cover_every_track_or_none() {
    let s1 = Sidx {
        reference_id: 1,
        timescale: 12288,
        subsegments: vec![sub(0, 24576, 100, 50), sub(24576, 24576, 150, 60)],
    };
    let s2 = Sidx {
        reference_id: 2,
        timescale: 48000,
        subsegments: vec![sub(0, 96000, 100, 50), sub(96000, 96000, 150, 60)],
    };
    let t = from_sidx(&[s1.clone(), s2.clone()], &keys()).unwrap();
    assert_eq!(
        t[0].fragments[1],
        Fragment {
            time: 24576,
            duration: 24576,
            offset: 150,
            size: 60,
            sync: true
        }
    );
    assert_eq!(t[1].track_id, 2);
    // One sidx for a muxed file, or another timescale: walk instead.
    assert_eq!(from_sidx(std::slice::from_ref(&s1), &keys()), None);
    let mut other = s2;
    other.timescale = 44100;
    assert_eq!(from_sidx(&[s1, other], &keys()), None);
}

fn entry(time: u64, moof_offset: u64) -> TfraEntry {
    TfraEntry {
        time,
        moof_offset,
        traf: 1,
        trun: 1,
        sample: 1,
    }
}

#[test]
fn tfra_tables_run_to_the_next_moof_and_take_the_last_duration_from_its_moof() {
    let tfras = vec![
        Tfra {
            track_id: 1,
            entries: vec![entry(0, 1000), entry(24576, 5000), entry(49152, 9000)],
        },
        Tfra {
            track_id: 2,
            entries: vec![entry(0, 1000), entry(96000, 5000), entry(192000, 9000)],
        },
    ];
    let last_video = Run::fragment(1, 49152, 20000, 9100, 10, true);
    let last_audio = Run::fragment(2, 192000, 80000, 9200, 10, true);
    let moofs = vec![(9000, vec![last_video, last_audio])];
    let t = from_tfra(&tfras, &keys(), &moofs, 12000).unwrap().unwrap();
    let v = &t[0].fragments;
    assert_eq!(v.len(), 3);
    assert_eq!(
        v[0],
        Fragment {
            time: 0,
            duration: 24576,
            offset: 1000,
            size: 4000,
            sync: true
        }
    );
    assert_eq!(
        v[2],
        Fragment {
            time: 49152,
            duration: 20000,
            offset: 9000,
            size: 3000,
            sync: true
        }
    );
    assert_eq!(t[1].fragments[2].duration, 80000);
    assert_eq!(last_moofs(&tfras), vec![9000]);
    // An entry inside a moof (not its first sample), or a track without a
    // tfra: no table.
    let mut inside = tfras.clone();
    inside[0].entries[1].sample = 3;
    assert_eq!(from_tfra(&inside, &keys(), &moofs, 12000).unwrap(), None);
    assert_eq!(
        from_tfra(&tfras[..1], &keys(), &moofs, 12000).unwrap(),
        None
    );
    // Without the last moof the last duration is unknown: no table.
    assert_eq!(from_tfra(&tfras, &keys(), &[], 12000).unwrap(), None);
    // Entries going back: invalid.
    let mut back = tfras;
    back[0].entries.swap(0, 1);
    assert!(from_tfra(&back, &keys(), &moofs, 12000).is_err());
}

/// The walk's read count, as `FragmentScan` plans it with an mfra: small
/// fragments share 8 MB windows, big ones cost a read each.
#[test]
fn walk_reads_estimate() {
    let small: Vec<u64> = (0..3600).map(|i| i * 20_000).collect();
    // 72 MB of 20 kB fragments: nine 8 MB windows.
    assert_eq!(walk_reads(&small), 72_000_000u64.div_ceil(8 << 20) as usize);
    let big: Vec<u64> = (0..30).map(|i| i * (5 << 20)).collect();
    assert_eq!(walk_reads(&big), 30);
    assert_eq!(walk_reads(&[]), 0);
}

/// A subsegment with a SAP inside is two fragments at its offset: the part
/// before the SAP (not sync) and the part from it (sync), its bytes shared
/// by duration; a delta of 0 is a SAP at the start.
#[test]
fn a_sap_inside_a_subsegment_splits_it() {
    let mut inside = sub(9000, 9000, 500, 900);
    inside.sap = false;
    inside.rap = Some(3000);
    let mut at_start = sub(18000, 9000, 1400, 90);
    at_start.sap = false;
    at_start.rap = Some(0);
    let mut none = sub(27000, 9000, 1490, 90);
    none.sap = false;
    let s = Sidx {
        reference_id: 1,
        timescale: 12288,
        subsegments: vec![sub(0, 9000, 100, 400), inside, at_start, none],
    };
    let keys = [TrackKey {
        track_id: 1,
        timescale: 12288,
    }];
    let t = from_sidx(&[s], &keys).unwrap();
    let f: Vec<(u64, u64, u64, u64, bool)> = t[0]
        .fragments
        .iter()
        .map(|f| (f.time, f.duration, f.offset, f.size, f.sync))
        .collect();
    assert_eq!(
        f,
        [
            (0, 9000, 100, 400, true),
            (9000, 3000, 500, 300, false),
            (12000, 6000, 500, 600, true),
            (18000, 9000, 1400, 90, true),
            (27000, 9000, 1490, 90, false),
        ]
    );
}
