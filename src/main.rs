//! Fastly Compute entry point; all logic lives in the library.
//!
//! Built natively, the same binary is a small CLI that answers one request
//! path from a local directory (the same code path as the edge, with the
//! directory as the origin), handy for trying media without Viceroy:
//!
//! ```text
//! cargo run -- fixtures/media '/abr/abr.ism/manifest(format=m3u8-cmaf)' > out.m3u8
//! ```
//!
//! and signs viewer URLs ([`edgepack::token`]) with a key of the
//! deployment's `token_keys`:
//!
//! ```text
//! edgepack sign --kid k2025 --key "$KEY_B64" --ttl 3600 '/abr/abr.ism/manifest(format=m3u8-cmaf)'
//! ```

#[cfg(all(target_arch = "wasm32", target_os = "wasi", target_env = "p1"))]
fn main() {
    edgepack::edge::main();
}

/// The other wasm builds are the library itself (the wasi:http component,
/// the browser module), not this binary.
#[cfg(all(
    target_arch = "wasm32",
    not(all(target_os = "wasi", target_env = "p1"))
))]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use edgepack::service::{materialize, serve, Config};
    use edgepack::source::{FileOrigin, MemoryCache};
    use edgepack::url::{parse, Route};
    use std::io::Write;

    let args: Vec<String> = std::env::args().collect();
    if let [_, cmd, rest @ ..] = &args[..] {
        if cmd == "sign" {
            return sign::run(rest);
        }
    }
    let [_, root, path] = &args[..] else {
        eprintln!("usage: edgepack ROOT REQUEST-PATH   (writes the response body to stdout)");
        eprintln!("       {}", sign::USAGE);
        return std::process::ExitCode::from(2);
    };
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path.as_str(), None),
    };
    let req = match parse(path, query) {
        Ok(Route::Stream(s)) => s,
        Ok(other) => {
            eprintln!("{other:?} is only served by the edge");
            return std::process::ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{}: {e}", e.http_status());
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut origin = FileOrigin::new(root);
    let mut cache = MemoryCache::default();
    let cfg = Config::default();
    let body = serve(&req, &mut origin, &mut cache, &cfg)
        .and_then(|out| materialize(&out, &mut origin, &cfg));
    match body {
        Ok(parts) => {
            let mut stdout = std::io::stdout().lock();
            for p in parts {
                if stdout.write_all(&p).is_err() {
                    return std::process::ExitCode::FAILURE;
                }
            }
            eprintln!("{} origin reads", origin.log.len());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", e.status());
            std::process::ExitCode::FAILURE
        }
    }
}

/// `edgepack sign`: argument parsing only; the token is made by
/// [`edgepack::token::mint`].
#[cfg(not(target_arch = "wasm32"))]
mod sign {
    use edgepack::token;
    use std::process::ExitCode;
    use std::time::{SystemTime, UNIX_EPOCH};

    pub const USAGE: &str =
        "edgepack sign --kid ID --key BASE64 (--ttl SECS | --expires UNIX) URL-PATH   (prints the signed path)";

    /// When the token stops being valid.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Expiry {
        /// Seconds from now.
        Ttl(u64),
        /// Unix seconds.
        At(u64),
    }

    #[derive(Debug, PartialEq, Eq)]
    pub struct Args {
        pub kid: String,
        pub key: Vec<u8>,
        pub expiry: Expiry,
        pub path: String,
    }

    pub fn parse(args: &[String]) -> Result<Args, String> {
        let (mut kid, mut key, mut expiry, mut path) = (None, None, None, None);
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            let number = |v: String, name: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("{name} must be a whole number of seconds"))
            };
            let set_expiry = |e: Expiry, was: &Option<Expiry>| match was {
                Some(_) => Err("give one of --ttl and --expires".to_string()),
                None => Ok(Some(e)),
            };
            match a.as_str() {
                "--kid" => kid = Some(value("--kid")?),
                "--key" => {
                    let text = value("--key")?;
                    key = Some(token::decode_key(&text).map_err(|why| format!("--key {why}"))?);
                }
                "--ttl" => {
                    let ttl = number(value("--ttl")?, "--ttl")?;
                    expiry = set_expiry(Expiry::Ttl(ttl), &expiry)?;
                }
                "--expires" => {
                    let at = number(value("--expires")?, "--expires")?;
                    expiry = set_expiry(Expiry::At(at), &expiry)?;
                }
                p if p.starts_with('/') && path.is_none() => path = Some(p.to_string()),
                other => return Err(format!("unexpected argument '{other}'")),
            }
        }
        Ok(Args {
            kid: kid.ok_or("--kid is required")?,
            key: key.ok_or("--key is required")?,
            expiry: expiry.ok_or("--ttl or --expires is required")?,
            path: path.ok_or("the URL path (starting with '/') is required")?,
        })
    }

    pub fn run(args: &[String]) -> ExitCode {
        let a = match parse(args) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("edgepack sign: {e}\nusage: {USAGE}");
                return ExitCode::from(2);
            }
        };
        let exp = match a.expiry {
            Expiry::At(at) => at,
            Expiry::Ttl(ttl) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                now.saturating_add(ttl)
            }
        };
        match token::mint(&a.kid, &a.key, exp, &a.path) {
            Ok(signed) => {
                println!("{signed}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("edgepack sign: {e}");
                ExitCode::FAILURE
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

        fn args(s: &[&str]) -> Vec<String> {
            s.iter().map(|a| a.to_string()).collect()
        }

        #[test]
        fn parses_either_expiry() {
            let a = parse(&args(&[
                "--kid",
                "k1",
                "--key",
                KEY,
                "--ttl",
                "60",
                "/x.mp4/manifest",
            ]));
            assert_eq!(
                a,
                Ok(Args {
                    kid: "k1".into(),
                    key: (0u8..32).collect(),
                    expiry: Expiry::Ttl(60),
                    path: "/x.mp4/manifest".into(),
                })
            );
            let a = parse(&args(&[
                "/x.mp4/manifest?a=b",
                "--expires",
                "1767225600",
                "--key",
                KEY,
                "--kid",
                "k1",
            ]));
            assert_eq!(
                a.map(|a| (a.expiry, a.path)),
                Ok((Expiry::At(1767225600), "/x.mp4/manifest?a=b".into()))
            );
        }

        #[test]
        fn refuses_what_it_cannot_sign() {
            for bad in [
                &["--kid", "k1", "--key", KEY, "/x.mp4/manifest"][..],
                &["--kid", "k1", "--ttl", "5", "/x.mp4/manifest"],
                &["--key", KEY, "--ttl", "5", "/x.mp4/manifest"],
                &["--kid", "k1", "--key", KEY, "--ttl", "5"],
                &[
                    "--kid",
                    "k1",
                    "--key",
                    KEY,
                    "--ttl",
                    "5",
                    "--expires",
                    "9",
                    "/x",
                ],
                &["--kid", "k1", "--key", "AAEC", "--ttl", "5", "/x"],
                &["--kid", "k1", "--key", KEY, "--ttl", "-5", "/x"],
                &["--kid", "k1", "--key", KEY, "--ttl", "5", "/x", "/y"],
                &["--kid", "k1", "--key", KEY, "--ttl"],
                &["--what"],
            ] {
                assert!(parse(&args(bad)).is_err(), "{bad:?}");
            }
        }

        #[test]
        fn signs_through_the_core() {
            let a = parse(&args(&[
                "--kid",
                "k2025",
                "--key",
                KEY,
                "--expires",
                "1767225600",
                "/abr/abr.ism/manifest(format=m3u8-cmaf)",
            ]))
            .unwrap();
            let Expiry::At(exp) = a.expiry else { panic!() };
            assert_eq!(
                token::mint(&a.kid, &a.key, exp, &a.path).unwrap(),
                "/tk.k2025.1767225600.N0sz37mCrLjuDBMOJVI7h3jGhf56Hy2ztL7-8bYnmU0/abr/abr.ism/manifest(format=m3u8-cmaf)"
            );
        }
    }
}
