use super::*;
use std::collections::HashMap;

const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const LOC: &str = "6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
const NOW: u64 = 1_700_000_000;
const EXP: u64 = NOW + 3600;

fn key() -> Vec<u8> {
    (0u8..32).collect()
}

fn access(config: &[(&str, &str)]) -> Access {
    let config: HashMap<&str, &str> = config.iter().copied().collect();
    let secrets: HashMap<&str, String> = [("token_keys", format!("k1:{KEY_B64}"))].into();
    let a = Access::from_lookups(
        |k| config.get(k).map(|v| v.to_string()),
        |k| secrets.get(k).cloned(),
    );
    assert!(a.problems.is_empty(), "{:?}", a.problems);
    a
}

fn denied(status: u16, reason: &str) -> Denied {
    Denied {
        status,
        reason: reason.to_string(),
    }
}

#[test]
fn defaults_let_everything_through() {
    let a = Access::default();
    assert!(!a.token_required && a.locators.is_none() && a.allowed_prefixes.is_empty());
    let ok = a.admit("/x/y.mp4/manifest", NOW).unwrap();
    assert_eq!((ok.path.as_ref(), ok.signed), ("/x/y.mp4/manifest", false));
    // A GUID folder is an ordinary folder without a map.
    let p = format!("/{LOC}/x.ism/manifest");
    assert_eq!(a.admit(&p, NOW).unwrap().path, p);
    assert_eq!(Access::from_config(|_| None), a);
}

#[test]
fn settings_are_read_and_bad_ones_fail_closed() {
    let a = access(&[
        ("token_required", "on"),
        ("allowed_prefixes", " /vod/, asset-,, "),
        ("locators", &format!(r#"{{"{LOC}":"abr"}}"#)),
    ]);
    assert!(a.token_required);
    assert_eq!(a.allowed_prefixes, ["vod/", "asset-"]);
    assert_eq!(a.locators.as_ref().map(Locators::len), Some(1));
    assert!(a.keys.get("k1").is_some());
    // Keys never show in Debug (Settings are Debug-printed).
    assert!(!format!("{a:?}").contains("AAEC"));

    let a = Access::from_lookups(
        |k| match k {
            "token_required" => Some("maybe".into()),
            "locators" => Some("{broken".into()),
            _ => None,
        },
        |_| Some("k1:short".into()),
    );
    assert!(a.token_required, "an unreadable switch is on");
    assert_eq!(a.locators, Some(Locators::default()), "no locator resolves");
    assert!(a.keys.is_empty());
    assert_eq!(a.problems.len(), 3, "{:?}", a.problems);
    let p = format!("/{LOC}/x.ism/manifest");
    let signed = crate::token::mint("k1", &key(), EXP, &p).unwrap();
    assert_eq!(a.admit(&signed, NOW), Err(denied(403, "unknown token key")));
}

#[test]
fn token_reasons() {
    let a = access(&[("token_required", "on")]);
    let good = crate::token::mint("k1", &key(), EXP, "/abr/abr.ism/manifest").unwrap();
    let ok = a.admit(&good, NOW).unwrap();
    assert_eq!(
        (ok.path.as_ref(), ok.signed),
        ("/abr/abr.ism/manifest", true)
    );
    assert_eq!(
        a.admit("/abr/abr.ism/manifest", NOW),
        Err(denied(403, "token required"))
    );
    assert_eq!(a.admit(&good, EXP), Err(denied(403, "token expired")));
    let other = good.replace("/abr/abr.ism/", "/abr/other.ism/");
    assert_eq!(a.admit(&other, NOW), Err(denied(403, "token not valid")));
    let tampered = good.replace(&EXP.to_string(), &(EXP + 1).to_string());
    assert_eq!(a.admit(&tampered, NOW), Err(denied(403, "token not valid")));
    let unknown = good.replacen("tk.k1.", "tk.k9.", 1);
    assert_eq!(
        a.admit(&unknown, NOW),
        Err(denied(403, "unknown token key"))
    );
    assert_eq!(
        a.admit("/tk.k1/abr/abr.ism/manifest", NOW),
        Err(denied(403, "malformed token"))
    );
    // A present token is checked even when none is required.
    let optional = access(&[]);
    assert_eq!(
        optional.admit(&other, NOW),
        Err(denied(403, "token not valid"))
    );
    assert!(optional.admit(&good, NOW).is_ok());
    assert!(optional.admit("/abr/abr.ism/manifest", NOW).is_ok());
    // A genuine token on a path that names no asset.
    let t = crate::token::split(&good).0.unwrap_or_default();
    assert_eq!(
        a.admit(&format!("/{t}/health"), NOW),
        Err(denied(404, "not found"))
    );
    assert_eq!(
        a.admit(&format!("/{t}"), NOW),
        Err(denied(404, "not found"))
    );
    // No refusal quotes the token.
    for p in [&good, &other, &tampered, &unknown] {
        for now in [NOW, EXP] {
            if let Err(d) = a.admit(p, now) {
                assert!(!d.reason.contains("tk."), "{}", d.reason);
            }
        }
    }
}

#[test]
fn locators_after_the_token_and_signed_as_written() {
    let a = access(&[(
        "locators",
        &format!(r#"{{"{LOC}":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"}}"#),
    )]);
    let url = format!("/{LOC}/Movie.ism/manifest(format=m3u8-cmaf)");
    let container = "/asset-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
    let ok = a.admit(&url, NOW).unwrap();
    assert_eq!(
        ok.path,
        format!("{container}/Movie.ism/manifest(format=m3u8-cmaf)")
    );
    // The token's scope is the locator form.
    let signed = crate::token::mint("k1", &key(), EXP, &url).unwrap();
    let ok = a.admit(&signed, NOW).unwrap();
    assert_eq!(
        ok.path,
        format!("{container}/Movie.ism/manifest(format=m3u8-cmaf)")
    );
    assert!(ok.signed);
    let miss = "/11111111-2222-3333-4444-555555555555/Movie.ism/manifest";
    assert_eq!(a.admit(miss, NOW), Err(denied(404, "unknown locator")));
    let signed_miss = crate::token::mint("k1", &key(), EXP, miss).unwrap();
    assert_eq!(
        a.admit(&signed_miss, NOW),
        Err(denied(404, "unknown locator"))
    );
    // Malformed GUIDs are folder names.
    let odd = "/6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5bX/Movie.ism/manifest";
    assert_eq!(a.admit(odd, NOW).unwrap().path, odd);
}

#[test]
fn prefixes_refuse_like_a_missing_object() {
    let a = access(&[("allowed_prefixes", "vod/, asset-")]);
    let ism = |p: &str| Asset::Ism { path: p.into() };
    assert_eq!(a.allows(&ism("vod/x.ism")), Ok(()));
    assert_eq!(a.allows(&ism("asset-1/x.ism")), Ok(()));
    assert_eq!(
        a.allows(&ism("vodka/x.ism")),
        Err(denied(404, "vodka/x.ism not found at origin"))
    );
    assert_eq!(
        a.allows(&Asset::Mp4 {
            path: "private/k.mp4".into()
        }),
        Err(denied(404, "private/k.mp4 not found at origin"))
    );
    let set = |p: &[&str]| Asset::UrlSet {
        paths: p.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(a.allows(&set(&["vod/a.mp4", "vod/b.mp4"])), Ok(()));
    assert_eq!(
        a.allows(&set(&["vod/a.mp4", "x/b.mp4"])),
        Err(denied(404, "x/b.mp4 not found at origin"))
    );
    assert_eq!(access(&[]).allows(&ism("anything/x.ism")), Ok(()));
}
