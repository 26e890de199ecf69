use super::*;
use crate::index::index_whole_file;
use crate::index::tests::fixture;
use crate::model::FourCC;

fn info(name: &str, track: usize) -> TrackInfo {
    let idx = index_whole_file(&fixture(name), "").unwrap();
    idx.tracks[track].info.clone()
}

/// A pass-through track with sample entry `fourcc` (and codec string).
fn other(fourcc: &[u8; 4], codec_string: &str) -> TrackInfo {
    let mut i = info("aac.mp4", 0);
    i.codec = Codec::Other;
    i.fourcc = FourCC::new(fourcc);
    i.codec_string = codec_string.into();
    i
}

#[test]
fn families_of_fixtures_and_sample_entries() {
    assert_eq!(family(&info("avc_bframes.mp4", 0)), Family::Avc);
    assert_eq!(family(&info("hevc.mp4", 0)), Family::Hevc);
    assert_eq!(family(&info("aac.mp4", 0)), Family::Aac);
    assert_eq!(family(&info("dts51.mp4", 0)), Family::Dts);
    for (fourcc, f) in [
        (b"av01", Family::Av1),
        (b"vp09", Family::Vp9),
        (b"Opus", Family::Opus),
        (b"fLaC", Family::Flac),
        (b"dtse", Family::Dts),
        (b"ac-4", Family::Other),
    ] {
        assert_eq!(family(&other(fourcc, "")), f, "{fourcc:?}");
    }
    assert_eq!(family(&other(b"mp4a", "mp4a.AC")), Family::Dts);
    assert_eq!(family(&other(b"mp4a", "mp4a.6B")), Family::Other);
}

#[test]
fn labels_name_codec_and_entry() {
    assert_eq!(label(&info("hevc.mp4", 0)), "HEVC (hvc1)");
    assert_eq!(label(&info("dts51.mp4", 0)), "DTS (mp4a.A9)");
    assert_eq!(label(&info("aac.mp4", 0)), "AAC (mp4a.40.2)");
    assert_eq!(label(&other(b"fLaC", "fLaC")), "FLAC (fLaC)");
    assert_eq!(label(&other(b"dtsl", "dtsl")), "DTS (dtsl)");
    assert_eq!(label(&other(b"mp4a", "mp4a.6B")), "MP3 (mp4a.6B)");
    assert_eq!(
        label(&other(b"mp4a", "mp4a.40.99")),
        "MPEG-4 audio (mp4a.40.99)"
    );
    assert_eq!(label(&other(b"enca", "enca")), "encrypted media (enca)");
    assert_eq!(label(&other(b"xyz1", "xyz1")), "codec xyz1");
}

#[test]
fn ts_stream_types_and_descriptors() {
    // ISO/IEC 13818-1 Table 2-34, ATSC A/52 Annex A and G.
    let cases = [
        (Family::Avc, Some(0x1B), None),
        (Family::Hevc, Some(0x24), Some(b"HEVC")),
        (Family::Aac, Some(0x0F), None),
        (Family::Ac3, Some(0x81), Some(b"AC-3")),
        (Family::Ec3, Some(0x87), Some(b"EAC3")),
        (Family::Dts, None, None),
        (Family::Opus, None, None),
        (Family::Other, None, None),
    ];
    for (f, st, reg) in cases {
        assert_eq!(f.ts_stream_type(), st, "{f:?}");
        assert_eq!(f.ts_registration(), reg, "{f:?}");
    }
    assert_eq!(ts_stream_type(&info("dts51.mp4", 0)), None);
}

#[test]
fn which_formats_carry_what() {
    let avc = info("avc_bframes.mp4", 0);
    let hevc = info("hevc.mp4", 0);
    let aac = info("aac.mp4", 0);
    let dts = info("dts51.mp4", 0);
    assert!(hls_ts_capable(&avc) && hls_ts_capable(&aac));
    assert!(!hls_ts_capable(&hevc) && !hls_ts_capable(&dts));
    assert_eq!(smooth_fourcc(&avc), Some("H264"));
    assert_eq!(smooth_fourcc(&aac), Some("AACL"));
    assert_eq!(smooth_fourcc(&hevc), None);
    assert_eq!(smooth_fourcc(&dts), None);
    for i in [&avc, &hevc, &aac, &dts] {
        assert_eq!(smooth(i).map(|s| s.fourcc), smooth_fourcc(i));
    }
}

#[test]
fn smooth_private_data() {
    let aac = info("aac.mp4", 0);
    let Codec::Aac(c) = &aac.codec else { panic!() };
    let s = smooth(&aac).unwrap();
    assert_eq!(s.private_data, c.asc.to_vec());
    assert_eq!(
        (s.audio_tag, s.packet_size),
        (0xFF, 2 * u32::from(aac.channels))
    );
    let avc = info("avc_bframes.mp4", 0);
    let Codec::Avc(c) = &avc.codec else { panic!() };
    let s = smooth(&avc).unwrap();
    assert_eq!(&s.private_data[..4], &[0, 0, 0, 1]);
    assert_eq!(&s.private_data[4..4 + c.sps[0].len()], &c.sps[0][..]);
    assert_eq!((s.audio_tag, s.packet_size), (0, 0));
}

#[test]
fn channel_signalling() {
    let dts = info("dts51.mp4", 0);
    assert_eq!(dash_channels(&dts), (dts::DASH_SCHEME, "6".to_string()));
    assert_eq!(
        dash_channel_elements(&dts),
        vec![
            (dts::DASH_SCHEME, "6".to_string()),
            (dts::DASH_SCHEME_LEGACY, "6".to_string())
        ]
    );
    assert_eq!(hls_channels(&dts), "6");
    let aac = info("aac.mp4", 0);
    assert_eq!(
        dash_channels(&aac),
        (DASH_SCHEME_CHANNELS, aac.channels.max(1).to_string())
    );
    let mut ac3 = aac.clone();
    ac3.codec = Codec::Ac3(crate::model::Ac3Config {
        dac3: bytes::Bytes::new(),
        fscod: 0,
        bsid: 8,
        bsmod: 0,
        acmod: 7,
        lfeon: true,
        bit_rate_code: 0,
    });
    assert_eq!(
        dash_channels(&ac3),
        (dolby::DASH_SCHEME, "F801".to_string())
    );
    let mut silent = other(b"Opus", "opus");
    silent.channels = 0;
    assert_eq!(hls_channels(&silent), "1");
    assert_eq!(dash_channels(&silent).1, "1");
}

#[test]
fn dolby_masks() {
    // ETSI TS 102 366 Table I.1.1 (DASH) and WAVEFORMATEXTENSIBLE (Smooth).
    assert_eq!(dolby::dolby_channel_mask(7, true), 0xF801);
    assert_eq!(dolby::dolby_channel_mask(2, false), 0xA000);
    assert_eq!(dolby::wave_channel_mask(7, true), 0x3F);
    assert_eq!(dolby::wave_channel_mask(2, false), 0x3);
}

#[test]
fn ec3_smooth_layout() {
    let dec3 = bytes::Bytes::from_static(&[0x06, 0x00, 0x20, 0x0F, 0x00]);
    let c = crate::mp4::codec::parse_dec3(&dec3, 0).unwrap();
    let s = dolby::ec3_smooth(&c);
    assert_eq!(s.fourcc, "EC-3");
    assert_eq!(s.private_data.len(), 22 + dec3.len());
    assert_eq!(&s.private_data[..2], &1536u16.to_le_bytes());
    assert_eq!(&s.private_data[22..], &dec3[..]);
    assert_eq!((s.audio_tag, s.packet_size), (0xFFFE, 768));
}

/// DTS-UHD (`dtsx`) is DTS, signalled in DASH by its speaker mask under the
/// UHD scheme (without the legacy count element); without a mask, by count.
#[test]
fn dts_uhd_dash_channels() {
    let mut i = other(b"dtsx", "dtsx");
    i.channels = 6;
    i.dts_uhd_mask = Some(0x3f);
    assert_eq!(family(&i), Family::Dts);
    assert_eq!(
        dash_channel_elements(&i),
        vec![(dts::DASH_SCHEME_UHD, "0000003F".to_string())]
    );
    assert_eq!(hls_channels(&i), "6");
    i.dts_uhd_mask = None;
    assert_eq!(
        dash_channel_elements(&i),
        vec![(dts::DASH_SCHEME, "6".to_string())]
    );
}
