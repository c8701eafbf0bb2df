//! Fuzz-style property tests: the parsers and verifiers never panic on arbitrary input, and a few
//! round-trip properties hold.

use frontdesk_verify::{SignatureError, elevenlabs, twilio};
use proptest::prelude::*;

/// Header-like text: mostly the pieces a real header is made of.
fn header_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("t=".to_string()),
        Just("v0=".to_string()),
        Just(",".to_string()),
        Just(" ".to_string()),
        Just("_".to_string()),
        Just("+".to_string()),
        Just("-".to_string()),
        Just("\u{3000}".to_string()),
        Just("١".to_string()),
        "[0-9]{1,12}",
        "[0-9a-f]{1,64}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((any::<String>(), any::<String>()), 0..8)
}

/// URL-like text built from URL pieces and arbitrary strings.
fn url_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("https://".to_string()),
        Just("http://".to_string()),
        Just(":".to_string()),
        Just("@".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("/".to_string()),
        Just("?".to_string()),
        Just("#".to_string()),
        Just(";".to_string()),
        Just("\t".to_string()),
        Just("bodySHA256=".to_string()),
        "[a-z0-9.]{1,10}",
        "[0-9]{1,6}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_header_never_panics(h in any::<String>(), g in header_like()) {
        for h in [h, g] {
            if let Ok(p) = elevenlabs::parse_header(&h) {
                prop_assert!(!p.timestamp_text.is_empty());
                let t_element = format!("t={}", p.timestamp_text);
                let v0_element = format!("v0={}", p.v0);
                prop_assert!(h.split(',').any(|e| e == t_element));
                prop_assert!(h.split(',').any(|e| e == v0_element));
            }
        }
    }

    #[test]
    fn elevenlabs_verify_never_panics(
        h in prop::option::of(header_like()),
        body in any::<Vec<u8>>(),
        secrets in prop::collection::vec(any::<Vec<u8>>(), 0..3),
        now in any::<i64>(),
    ) {
        let secrets: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
        let _ = elevenlabs::verify(h.as_deref(), &body, &secrets, now);
    }

    #[test]
    fn elevenlabs_sign_verify_round_trip(
        secret in prop::collection::vec(any::<u8>(), 1..80),
        t in -100_000_000_000i64..100_000_000_000,
        skew in -1800i64..=300,
        body in any::<Vec<u8>>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let header = elevenlabs::sign(&secret, t, &body);
        let now = t - skew;
        prop_assert_eq!(elevenlabs::verify(Some(&header), &body, &[&secret], now), Ok(()));
        if !body.is_empty() {
            let mut tampered = body.clone();
            tampered[flip.index(body.len())] ^= 0x01;
            prop_assert_eq!(
                elevenlabs::verify(Some(&header), &tampered, &[&secret], now),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn elevenlabs_window(t in -1_000_000i64..1_000_000, age in -10_000i64..10_000) {
        let header = elevenlabs::sign(b"k", t, b"{}");
        let got = elevenlabs::verify(Some(&header), b"{}", &[b"k"], t + age);
        let want = if age > elevenlabs::TOLERANCE_SECS {
            Err(SignatureError::Expired)
        } else if -age > elevenlabs::MAX_FUTURE_SECS {
            Err(SignatureError::FromTheFuture)
        } else {
            Ok(())
        };
        prop_assert_eq!(got, want);
    }

    #[test]
    fn parse_timestamp_reads_integers(n in any::<i64>(), pad in 0usize..5) {
        let text = format!("{}{n}{}", " ".repeat(pad), "\t".repeat(pad));
        prop_assert_eq!(elevenlabs::parse_timestamp(&text), Some(i128::from(n)));
        prop_assert_eq!(elevenlabs::parse_timestamp(&n.to_string()), Some(i128::from(n)));
    }

    #[test]
    fn parse_form_never_panics(body in any::<Vec<u8>>(), s in "[a-zA-Z0-9%+=&]{0,40}") {
        let _ = twilio::parse_form(&body);
        let _ = twilio::parse_form(s.as_bytes());
    }

    #[test]
    fn parse_form_round_trip(params in pairs()) {
        // WHATWG-style encoding: everything but unreserved bytes as %XX, space as +.
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                        char::from(b).to_string()
                    }
                    b' ' => "+".to_string(),
                    b => format!("%{b:02X}"),
                })
                .collect()
        };
        let body: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        let body = body.join("&");
        // An empty pair encodes to "=", which parses back to ("", "").
        prop_assert_eq!(twilio::parse_form(body.as_bytes()).unwrap(), params);
    }

    #[test]
    fn twilio_verify_never_panics(
        header in prop::option::of(any::<String>()),
        token in any::<String>(),
        url in url_like(),
        params in pairs(),
        body in any::<Vec<u8>>(),
    ) {
        let _ = twilio::verify(header.as_deref(), &token, &url, &params);
        let _ = twilio::verify_json(header.as_deref(), &token, &url, &body);
        let _ = twilio::signature(&token, &url, &params);
    }

    #[test]
    fn twilio_signature_round_trip(token in any::<String>(), url in url_like(), params in pairs(), seed in any::<u64>()) {
        let sig = twilio::signature(&token, &url, &params);
        prop_assert_eq!(sig.len(), 28);
        // Order of the parameters does not matter.
        let mut shuffled = params.clone();
        let len = shuffled.len();
        if len > 1 {
            shuffled.swap(0, (seed as usize) % len);
            shuffled.reverse();
        }
        prop_assert_eq!(&twilio::signature(&token, &url, &shuffled), &sig);
        // The URL as given always verifies, unless twilio-python would raise on it.
        let got = twilio::verify(Some(&sig), &token, &url, &params);
        prop_assert!(got == Ok(()) || got == Err(SignatureError::Malformed), "{:?}", got);
    }

    #[test]
    fn public_url_never_panics(base in any::<String>(), path in any::<String>(), query in any::<String>()) {
        let url = twilio::public_url(&base, &path, &query);
        let trimmed = base.trim_matches(|c: char| c.is_ascii_whitespace()).trim_end_matches('/');
        prop_assert!(url.starts_with(trimmed));
        prop_assert!(url.contains(&path));
        if !query.is_empty() {
            let suffix = format!("?{query}");
            prop_assert!(url.ends_with(&suffix));
        }
    }

    #[test]
    fn public_url_joins_with_one_slash(
        base in "https://[a-z]{1,8}\\.example(/[a-z]{1,5}){0,2}/{0,3}",
        path in "/?[a-z]{1,6}(/[a-z]{1,6}){0,2}",
        query in "([a-z]=[a-z0-9%+]{0,4}(&[a-z]=[a-z0-9%+]{0,4}){0,2})?",
    ) {
        let url = twilio::public_url(&base, &path, &query);
        let after_scheme = &url["https://".len()..];
        prop_assert!(!after_scheme.contains("//"), "{}", url);
        prop_assert!(url.contains(path.trim_start_matches('/')));
        prop_assert_eq!(url.contains('?'), !query.is_empty());
    }
}
