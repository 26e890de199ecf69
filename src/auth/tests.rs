use super::*;
use std::collections::HashMap;

const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// `from_lookup` over two maps: configuration and secrets.
fn auth(config: &[(&str, &str)], secrets: &[(&str, &str)]) -> Result<OriginAuth, AuthConfigError> {
    let c: HashMap<String, String> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let s: HashMap<String, String> = secrets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    OriginAuth::from_lookup(|k| c.get(k).cloned(), |k| s.get(k).cloned())
}

fn err(key: &'static str, problem: &'static str) -> Result<OriginAuth, AuthConfigError> {
    Err(AuthConfigError { key, problem })
}

#[test]
fn no_setting_is_no_auth() {
    assert_eq!(auth(&[], &[]), Ok(OriginAuth::None));
    assert_eq!(
        auth(&[("origin_auth", " None ")], &[]),
        Ok(OriginAuth::None)
    );
    assert_eq!(auth(&[("origin_auth", "")], &[]), Ok(OriginAuth::None));
    assert_eq!(
        auth(&[("origin_auth", "basic")], &[]),
        err("origin_auth", "unknown scheme")
    );
}

#[test]
fn azure_shared_key_needs_an_account_and_a_base64_key_from_the_secrets() {
    let cfg = [
        ("origin_auth", "azure-shared-key"),
        ("azure_account", "devstoreaccount1"),
    ];
    let Ok(OriginAuth::AzureSharedKey { account, key }) = auth(&cfg, &[("azure_key", DEV_KEY)])
    else {
        panic!("not parsed");
    };
    assert_eq!(account, "devstoreaccount1");
    assert_eq!(key.len(), 64);
    // A secret in the configuration does not count.
    let both = [cfg[0], cfg[1], ("azure_key", DEV_KEY)];
    assert_eq!(auth(&both, &[]), err("azure_key", "missing"));
    assert_eq!(
        auth(&cfg, &[("azure_key", "not base64!")]),
        err("azure_key", "not base64")
    );
    assert_eq!(
        auth(&[cfg[0]], &[("azure_key", DEV_KEY)]),
        err("azure_account", "missing")
    );
    assert_eq!(
        auth(
            &[cfg[0], ("azure_account", "a/b")],
            &[("azure_key", DEV_KEY)]
        ),
        err("azure_account", "not a storage account name")
    );
}

#[test]
fn an_azure_sas_loses_its_question_mark_and_is_appended() {
    let cfg = [("origin_auth", "azure-sas")];
    let sas = "?sv=2021-08-06&sp=r&sig=abc%2Bdef%3D";
    let a = auth(&cfg, &[("azure_sas", sas)]).unwrap();
    assert_eq!(
        a,
        OriginAuth::AzureSas {
            query: sas[1..].to_string()
        }
    );
    let mut r = OutgoingRead::whole("", "c/a.mp4");
    a.sign(&mut r, "acct.blob.core.windows.net", 0);
    assert_eq!(r.path_and_query(), format!("/c/a.mp4{sas}"));
    assert!(r.headers.is_empty());
    assert_eq!(auth(&cfg, &[]), err("azure_sas", "missing"));
    assert_eq!(
        auth(&cfg, &[("azure_sas", "?")]),
        err("azure_sas", "not a URL query string")
    );
    assert_eq!(
        auth(&cfg, &[("azure_sas", "a=b c")]),
        err("azure_sas", "not a URL query string")
    );
}

#[test]
fn s3_takes_its_region_default_and_an_optional_token() {
    let cfg = [
        ("origin_auth", "S3"),
        ("s3_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
    ];
    let secret = (
        "s3_secret_access_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    assert_eq!(
        auth(&cfg, &[secret]),
        Ok(OriginAuth::S3 {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret: secret.1.into(),
            region: "us-east-1".into(),
            session_token: None,
        })
    );
    let Ok(OriginAuth::S3 {
        region,
        session_token,
        ..
    }) = auth(
        &[cfg[0], cfg[1], ("s3_region", "auto")],
        &[secret, ("s3_session_token", "tok")],
    )
    else {
        panic!("not parsed");
    };
    assert_eq!(
        (region.as_str(), session_token.as_deref()),
        ("auto", Some("tok"))
    );
    assert_eq!(auth(&cfg, &[]), err("s3_secret_access_key", "missing"));
    assert_eq!(
        auth(&[cfg[0]], &[secret]),
        err("s3_access_key_id", "missing")
    );
    assert_eq!(
        auth(&[cfg[0], cfg[1], ("s3_region", "us/east")], &[secret]),
        err("s3_region", "not a region name")
    );
    assert_eq!(
        auth(&[cfg[0], ("s3_access_key_id", "a/b")], &[secret]),
        err("s3_access_key_id", "not an access key id")
    );
}

#[test]
fn a_header_defaults_to_authorization() {
    let cfg = [("origin_auth", "header")];
    let a = auth(&cfg, &[("origin_header_value", "Bearer t0k")]).unwrap();
    let mut r = OutgoingRead::whole("", "a.mp4");
    a.sign(&mut r, "origin", 0);
    assert_eq!(r.header("authorization"), Some("Bearer t0k"));
    let named = auth(
        &[cfg[0], ("origin_header_name", "X-Origin-Token")],
        &[("origin_header_value", "t")],
    );
    assert_eq!(
        named,
        Ok(OriginAuth::Header {
            name: "x-origin-token".into(),
            value: "t".into()
        })
    );
    for bad_name in ["host", "a b", "a:b"] {
        assert_eq!(
            auth(
                &[cfg[0], ("origin_header_name", bad_name)],
                &[("origin_header_value", "t")]
            ),
            err("origin_header_name", "not a header name"),
            "{bad_name}"
        );
    }
    assert_eq!(
        auth(&cfg, &[("origin_header_value", "a\r\nb")]),
        err("origin_header_value", "not a header value")
    );
    assert_eq!(auth(&cfg, &[]), err("origin_header_value", "missing"));
}

/// Every variant's Debug shows its scheme and hides its secret; no error
/// message carries a value either.
#[test]
fn secrets_never_show() {
    const SECRET: &str = "S3CR3T";
    let variants = [
        OriginAuth::None,
        OriginAuth::AzureSharedKey {
            account: "acct".into(),
            key: SECRET.as_bytes().to_vec(),
        },
        OriginAuth::AzureSas {
            query: format!("sig={SECRET}"),
        },
        OriginAuth::S3 {
            access_key_id: "AKID".into(),
            secret: SECRET.into(),
            region: "us-east-1".into(),
            session_token: Some(SECRET.into()),
        },
        OriginAuth::Header {
            name: "authorization".into(),
            value: SECRET.into(),
        },
    ];
    for v in &variants {
        let d = format!("{v:?} {v:#?}");
        assert!(!d.contains(SECRET), "{d}");
        // The key bytes, in any form Debug might print them.
        assert!(!d.contains(&format!("{:?}", SECRET.as_bytes())), "{d}");
    }
    assert_eq!(
        format!("{:?}", variants[3]),
        "S3 { access_key_id: \"AKID\", secret: <redacted>, region: \"us-east-1\", session_token: <redacted> }"
    );
    let settings = crate::settings::Settings {
        origin_auth: Ok(variants[4].clone()),
        ..Default::default()
    };
    assert!(!format!("{settings:?}").contains(SECRET));
    let e = auth(
        &[("origin_auth", "azure-shared-key"), ("azure_account", "a")],
        &[("azure_key", SECRET)],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "origin auth misconfigured: azure_key (not base64)"
    );
}

/// RFC 4231 test cases 2 (a short key) and 6 (a key longer than the
/// block, hashed first).
#[test]
fn hmac_sha256_matches_rfc_4231() {
    assert_eq!(
        hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hex(&hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn percent_decoding_is_lenient() {
    assert_eq!(percent_decode("a%20b%2fc+d"), "a b/c+d");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
    assert_eq!(percent_decode("%C3%BC%FF"), "ü\u{FFFD}");
    assert_eq!(
        query_pairs("a=1&&b&c=x%3Dy"),
        vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), String::new()),
            ("c".to_string(), "x=y".to_string())
        ]
    );
}

/// Signing goes through the request builder: an Azure read carries its
/// range in the signed string, an S3 read its host.
#[test]
fn every_scheme_signs_through_the_request_builder() {
    use crate::source::request::OriginRequests;
    use crate::source::ReadRequest;
    let read = ReadRequest {
        path: "a.mp4".into(),
        start: 0,
        end: 10,
        if_match: None,
        target: crate::source::ReadTarget::Origin,
    };
    let azure = OriginRequests {
        host: "127.0.0.1:10000".into(),
        prefix: "devstoreaccount1/media/".into(),
        auth: auth(
            &[
                ("origin_auth", "azure-shared-key"),
                ("azure_account", "devstoreaccount1"),
            ],
            &[("azure_key", DEV_KEY)],
        )
        .unwrap(),
    };
    let r = azure.read(&read, 1_369_353_600);
    assert_eq!(r.path, "/devstoreaccount1/media/a.mp4");
    assert!(r
        .header("authorization")
        .is_some_and(|a| a.starts_with("SharedKey devstoreaccount1:")));
    assert_ne!(
        azure
            .read(
                &ReadRequest {
                    end: 20,
                    ..read.clone()
                },
                1_369_353_600
            )
            .header("authorization"),
        r.header("authorization"),
        "the range is signed"
    );
    let s3 = OriginRequests {
        host: "bucket.s3.amazonaws.com".into(),
        prefix: String::new(),
        auth: auth(
            &[("origin_auth", "s3"), ("s3_access_key_id", "AKID")],
            &[("s3_secret_access_key", "secret")],
        )
        .unwrap(),
    };
    let w = s3.whole("_player/index.html", 0);
    assert_eq!(w.header("x-amz-date"), Some("19700101T000000Z"));
    assert!(w
        .header("authorization")
        .is_some_and(|a| a
            .starts_with("AWS4-HMAC-SHA256 Credential=AKID/19700101/us-east-1/s3/aws4_request, ")));
}
