use super::*;

/// 32 bytes 0..=31, as `token_keys` would hold them.
const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const EXP: u64 = 1_767_225_600;

fn key() -> Vec<u8> {
    (0u8..32).collect()
}

fn keys(spec: &str) -> Keys {
    let (k, problems) = Keys::parse(spec);
    assert!(problems.is_empty(), "{problems:?}");
    k
}

fn sign(path: &str) -> String {
    mint("k2025", &key(), EXP, path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Tokens minted by the WebCrypto snippet of TOKEN_DOC.md (run once with
/// Node 20; fixed here) verify: both sides sign the same message.
#[test]
fn javascript_vectors_verify() {
    let ks = keys(&format!("k2025:{KEY_B64}"));
    for (signed, scope) in [
        (
            "/tk.k2025.1767225600.N0sz37mCrLjuDBMOJVI7h3jGhf56Hy2ztL7-8bYnmU0/abr/abr.ism/manifest(format=m3u8-cmaf)",
            "abr/abr.ism",
        ),
        (
            "/tk.k2025.1767225600.elvSUyn3SMh-MXIPCAgMvfN3EBcPh-XlM7Uc7ca_NPg/my%20films/%C3%A9t%C3%A9.mp4/QualityLevels(128000)/Manifest(audio,format=m3u8-cmaf).m3u8?x=1",
            "my films/été.mp4",
        ),
    ] {
        let (path, query) = signed.split_once('?').unwrap_or((signed, ""));
        let (Some(t), rest) = split(path) else {
            panic!("{signed}")
        };
        assert_eq!(crate::url::asset_scope(rest).unwrap(), scope);
        assert_eq!(verify(t, scope, &ks, EXP - 1), Ok(()));
        // Rust mints the very same string.
        let unsigned = match query {
            "" => rest.to_string(),
            q => format!("{rest}?{q}"),
        };
        assert_eq!(sign(&unsigned), signed);
    }
}

#[test]
fn split_takes_the_first_segment_only() {
    assert_eq!(
        split("/tk.a.1.s/x.mp4/manifest"),
        (Some("tk.a.1.s"), "/x.mp4/manifest")
    );
    assert_eq!(split("/tk.a.1.s"), (Some("tk.a.1.s"), "/"));
    assert_eq!(
        split("/x/tk.a.1.s/manifest"),
        (None, "/x/tk.a.1.s/manifest")
    );
    assert_eq!(split("/tkx/manifest"), (None, "/tkx/manifest"));
    assert_eq!(split("/TK.a.1.s/m"), (None, "/TK.a.1.s/m"));
    assert_eq!(split("tk.a.1.s/m"), (None, "tk.a.1.s/m"));
}

#[test]
fn malformed_tokens() {
    let good = sign("/abr/abr.ism/manifest");
    let (Some(t), _) = split(&good) else {
        panic!("{good}")
    };
    assert!(parse(t).is_ok());
    let sig = t.rsplit('.').next().unwrap_or_default();
    let long_kid = "k".repeat(33);
    for bad in [
        "tk.".to_string(),
        "tk.k2025".to_string(),
        format!("tk.k2025.{EXP}"),
        format!("tk.k2025.{EXP}.{sig}.x"),
        format!("tk..{EXP}.{sig}"),
        format!("tk.{long_kid}.{EXP}.{sig}"),
        format!("tk.k%32.{EXP}.{sig}"),
        format!("tk.k2025.+1767225600.{sig}"),
        format!("tk.k2025.17672256000.{sig}"),
        format!("tk.k2025..{sig}"),
        format!("tk.k2025.-1.{sig}"),
        format!("tk.k2025.{EXP}.{}", &sig[1..]),
        format!("tk.k2025.{EXP}.{sig}A"),
        format!("tk.k2025.{EXP}.{}=", &sig[1..]),
        format!("tk.k2025.{EXP}.{}", sig.replace(['-', '_'], "+")),
        format!("tk.k2025.{EXP}.{}", trailing_bits_set(sig)),
    ] {
        assert_eq!(parse(&bad), Err(TokenError::Malformed), "{bad}");
    }
    assert_eq!(TokenError::Malformed.to_string(), "malformed token");
}

/// `sig` with its two unused trailing bits set: the same bytes, spelled
/// differently, which must not be accepted.
fn trailing_bits_set(sig: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = sig.as_bytes()[42];
    let v = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(v & 3, 0, "canonical signatures end in zero bits");
    format!("{}{}", &sig[..42], ALPHABET[v | 3] as char)
}

#[test]
fn every_refusal_has_its_reason() {
    let ks = keys(&format!("k2025:{KEY_B64}"));
    let signed = sign("/abr/abr.ism/manifest");
    let (Some(t), _) = split(&signed) else {
        panic!("{signed}")
    };
    assert_eq!(verify(t, "abr/abr.ism", &ks, 0), Ok(()));
    assert_eq!(verify(t, "abr/abr.ism", &ks, EXP - 1), Ok(()));
    assert_eq!(verify(t, "abr/abr.ism", &ks, EXP), Err(TokenError::Expired));
    // Another asset, or a tampered field: not valid (checked before the
    // expiry, so an old forged token is never called "expired").
    assert_eq!(
        verify(t, "abr/other.ism", &ks, 0),
        Err(TokenError::NotValid)
    );
    assert_eq!(
        verify(t, "abr/abr.ism", &ks, u64::MAX),
        Err(TokenError::Expired)
    );
    let later = t.replace(&EXP.to_string(), &(EXP + 1).to_string());
    assert_eq!(
        verify(&later, "abr/abr.ism", &ks, 0),
        Err(TokenError::NotValid)
    );
    assert_eq!(
        verify(&later, "abr/abr.ism", &ks, u64::MAX),
        Err(TokenError::NotValid)
    );
    let other_key = keys("k2025://////////////////////////////////////////8=");
    assert_eq!(
        verify(t, "abr/abr.ism", &other_key, 0),
        Err(TokenError::NotValid)
    );
    assert_eq!(
        verify(t, "abr/abr.ism", &Keys::default(), 0),
        Err(TokenError::UnknownKey)
    );
    let renamed = t.replacen("k2025", "k2026", 1);
    let both = keys(&format!("k2025:{KEY_B64},k2026:{KEY_B64}"));
    assert_eq!(
        verify(&renamed, "abr/abr.ism", &both, 0),
        Err(TokenError::NotValid)
    );
    let reasons: Vec<&str> = [
        TokenError::Required,
        TokenError::Expired,
        TokenError::NotValid,
        TokenError::UnknownKey,
        TokenError::Malformed,
    ]
    .iter()
    .map(|e| e.reason())
    .collect();
    assert_eq!(
        reasons,
        [
            "token required",
            "token expired",
            "token not valid",
            "unknown token key",
            "malformed token"
        ]
    );
}

/// Several keys are valid at once: tokens of the old and the new key both
/// verify while both are listed; once the old one is removed its tokens
/// are "unknown token key".
#[test]
fn key_rotation() {
    let new_key = [7u8; 32];
    let new_b64 = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    let old = sign("/v/x.mp4/manifest");
    let new = mint("k2026", &new_key, EXP, "/v/x.mp4/manifest").unwrap();
    let tok = |p: &str| split(p).0.unwrap_or_default().to_string();
    let (old, new) = (tok(&old), tok(&new));
    let during = keys(&format!("k2025:{KEY_B64}, k2026:{new_b64}"));
    let after = keys(&format!("k2026:{new_b64}"));
    assert_eq!(verify(&old, "v/x.mp4", &during, 0), Ok(()));
    assert_eq!(verify(&new, "v/x.mp4", &during, 0), Ok(()));
    assert_eq!(
        verify(&old, "v/x.mp4", &after, 0),
        Err(TokenError::UnknownKey)
    );
    assert_eq!(verify(&new, "v/x.mp4", &after, 0), Ok(()));
}

#[test]
fn key_lists() {
    // Padding optional, URL-safe alphabet accepted, spaces ignored.
    let ks =
        keys(" a:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 , b_-1:_____________________w== ");
    assert_eq!(ks.get("a"), Some(key().as_slice()));
    assert_eq!(ks.get("b_-1").map(<[u8]>::len), Some(16));
    assert_eq!(ks.get("c"), None);
    let (ks, problems) = Keys::parse(&format!(
        "good:{KEY_B64},short:AAEC,bad.kid:{KEY_B64},nocolon,good:{KEY_B64},x:!!!"
    ));
    assert_eq!(ks.get("good"), Some(key().as_slice()));
    assert_eq!(format!("{ks:?}"), "[\"good\"]");
    assert_eq!(problems.len(), 5, "{problems:?}");
    // Problems and Debug never show key material.
    for p in &problems {
        assert!(!p.contains(KEY_B64) && !p.contains("AAEC"), "{p}");
    }
    let many: Vec<String> = (0..20).map(|i| format!("k{i}:{KEY_B64}")).collect();
    let (ks, problems) = Keys::parse(&many.join(","));
    assert!(ks.get("k15").is_some() && ks.get("k16").is_none());
    assert_eq!(problems.len(), 1);
    assert!(Keys::parse("").0.is_empty());
}

#[test]
fn mint_checks_its_inputs() {
    let k = key();
    assert_eq!(
        mint("bad.kid", &k, EXP, "/x.mp4/manifest"),
        Err(MintError::Kid)
    );
    assert!(matches!(
        mint("k", &k[..8], EXP, "/x.mp4/manifest"),
        Err(MintError::Key(_))
    ));
    assert_eq!(
        mint("k", &k, 10_000_000_000, "/x.mp4/manifest"),
        Err(MintError::Expiry)
    );
    assert!(mint("k", &k, 9_999_999_999, "/x.mp4/manifest").is_ok());
    let signed = sign("/x.mp4/manifest");
    assert_eq!(mint("k", &k, EXP, &signed), Err(MintError::AlreadySigned));
    for p in ["/health", "/x.txt/manifest", "x.mp4/manifest", "/x.mp4"] {
        assert!(
            matches!(mint("k", &k, EXP, p), Err(MintError::NotAStream(_))),
            "{p}"
        );
    }
    // The query is kept, outside the scope.
    let q = sign("/x.mp4/manifest.mpd?filter=a");
    assert!(q.ends_with("/x.mp4/manifest.mpd?filter=a"), "{q}");
    assert_eq!(
        split(&q).0,
        split(&sign("/x.mp4/manifest.mpd")).0,
        "same asset, same token"
    );
}

/// One token covers the manifest and every child URL of its asset, in
/// any format, and nothing else.
#[test]
fn scope_is_the_asset() {
    let ks = keys(&format!("k2025:{KEY_B64}"));
    let signed = sign("/vod/abr.ism/manifest(format=m3u8-cmaf)");
    let (Some(t), _) = split(&signed) else {
        panic!("{signed}")
    };
    for child in [
        "/vod/abr.ism/manifest",
        "/vod/abr.ism/manifest.mpd",
        "/vod/abr.ism/QualityLevels(1)/Manifest(v,format=m3u8-cmaf).m3u8",
        "/vod/abr.ism/QualityLevels(1)/Fragments(v=0,format=m3u8-cmaf).m4s",
        "/vod/ab%72.ism/QualityLevels(1)/Fragments(v=i,format=mpd-time-cmaf).mp4",
    ] {
        let scope = crate::url::asset_scope(child).unwrap();
        assert_eq!(verify(t, &scope, &ks, 0), Ok(()), "{child}");
    }
    for other in [
        "/vod/other.ism/manifest",
        "/vod/abr.ism/x/manifest",
        "/abr.ism/manifest",
        "/x/vod/abr.ism/manifest",
        "/vod/abr.ISM/manifest",
    ] {
        let scope = crate::url::asset_scope(other).unwrap();
        assert_eq!(
            verify(t, &scope, &ks, 0),
            Err(TokenError::NotValid),
            "{other}"
        );
    }
}
