//! Official test vectors (Twilio docs and SDK test suites, see the reference `twilio.md` §2.5)
//! and ElevenLabs examples (`elevenlabs.md` §1.6/§1.7), plus behaviour at the edges.
//! Expected MACs are either official vectors or computed here independently with `hmac`.

use frontdesk_verify::SignatureError;
use frontdesk_verify::elevenlabs;
use frontdesk_verify::twilio;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------- Twilio

const TOKEN: &str = "12345";
const URL_B: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

fn params_b() -> Vec<(String, String)> {
    p(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ])
}

#[test]
fn twilio_vector_a_docs_worked_example() {
    let url = "https://example.com/myapp.php?foo=1&bar=2";
    // Given in an unsorted order on purpose.
    let params = p(&[
        ("Digits", "1234"),
        ("To", "+18005551212"),
        ("From", "+14158675310"),
        ("Caller", "+14158675310"),
        ("CallSid", "CA1234567890ABCDE"),
    ]);
    assert_eq!(
        twilio::signature(TOKEN, url, &params),
        "L/OH5YylLD5NRKLltdqwSvS0BnU="
    );
    assert_eq!(
        twilio::verify(Some("L/OH5YylLD5NRKLltdqwSvS0BnU="), TOKEN, url, &params),
        Ok(())
    );
    // The documented string to sign, MAC'ed independently.
    let s = "https://example.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675310Digits1234From+14158675310To+18005551212";
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(s.as_bytes());
    use base64::Engine as _;
    let independent = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(independent, "L/OH5YylLD5NRKLltdqwSvS0BnU=");
}

#[test]
fn twilio_vector_a_from_a_form_body_behind_api_gateway() {
    let body = b"Digits=1234&To=%2B18005551212&From=%2B14158675310&Caller=%2B14158675310&CallSid=CA1234567890ABCDE";
    let params = twilio::parse_form(body).unwrap();
    let url = twilio::public_url("https://example.com/", "/myapp.php", "foo=1&bar=2");
    assert_eq!(url, "https://example.com/myapp.php?foo=1&bar=2");
    assert_eq!(
        twilio::verify(Some("L/OH5YylLD5NRKLltdqwSvS0BnU="), TOKEN, &url, &params),
        Ok(())
    );
}

#[test]
fn twilio_vector_b_sdk_suites_and_ports() {
    let params = params_b();
    let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    assert_eq!(twilio::signature(TOKEN, URL_B, &params), sig);
    assert_eq!(twilio::verify(Some(sig), TOKEN, URL_B, &params), Ok(()));

    let https443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    let http80 = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
    let http1234 = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
    let https1234 = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(
        twilio::signature(TOKEN, https443, &params),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
    assert_eq!(
        twilio::signature(TOKEN, http80, &params),
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    );
    assert_eq!(
        twilio::signature(TOKEN, http1234, &params),
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    );

    // Port stripped: a request seen on :1234 validates the port-less signature.
    assert_eq!(twilio::verify(Some(sig), TOKEN, https1234, &params), Ok(()));
    assert_eq!(twilio::verify(Some(sig), TOKEN, https443, &params), Ok(()));
    // Default port added: the port-less URL validates the :443 / :80 signatures.
    assert_eq!(
        twilio::verify(Some("kvajT1Ptam85bY51eRf/AJRuM3w="), TOKEN, URL_B, &params),
        Ok(())
    );
    assert_eq!(
        twilio::verify(
            Some("0ZXoZLH/DfblKGATFgpif+LLRf4="),
            TOKEN,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params
        ),
        Ok(())
    );
    // An explicit non-default port validates as given.
    assert_eq!(
        twilio::verify(
            Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
            TOKEN,
            http1234,
            &params
        ),
        Ok(())
    );
    // …but a :1234 signature does not validate another port or none.
    assert_eq!(
        twilio::verify(Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU="), TOKEN, URL_B, &params),
        Err(SignatureError::Mismatch)
    );
    // The https :443 signature is not valid for http.
    assert_eq!(
        twilio::verify(
            Some("kvajT1Ptam85bY51eRf/AJRuM3w="),
            TOKEN,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn twilio_rejections() {
    let params = params_b();
    let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    assert_eq!(
        twilio::verify(None, TOKEN, URL_B, &params),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        twilio::verify(Some(""), TOKEN, URL_B, &params),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        twilio::verify(Some(sig), "12346", URL_B, &params),
        Err(SignatureError::Mismatch)
    );
    let mut tampered = params.clone();
    tampered[2].1 = "1235".into();
    assert_eq!(
        twilio::verify(Some(sig), TOKEN, URL_B, &tampered),
        Err(SignatureError::Mismatch)
    );
    let mut extra = params.clone();
    extra.push(("CallerName".into(), String::new()));
    assert_eq!(
        twilio::verify(Some(sig), TOKEN, URL_B, &extra),
        Err(SignatureError::Mismatch)
    );
    // Whitespace and a trailing-slash rewrite break the signature, as documented.
    assert_eq!(
        twilio::verify(Some(" RSOYDt4T1cUTdK1PDd93/VVr8B8="), TOKEN, URL_B, &params),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        twilio::verify(
            Some(sig),
            TOKEN,
            "https://mycompany.com/myapp.php/?foo=1&bar=2",
            &params
        ),
        Err(SignatureError::Mismatch)
    );
    // A port twilio-python cannot read.
    assert_eq!(
        twilio::verify(
            Some(sig),
            TOKEN,
            "https://mycompany.com:http/myapp.php",
            &params
        ),
        Err(SignatureError::Malformed)
    );
}

#[test]
fn twilio_accepts_the_url_as_given() {
    // twilio-python normalises these (empty `?`, upper-case scheme) before signing; a signature
    // over the URL exactly as rebuilt is accepted too.
    let params = params_b();
    for url in [
        "https://mycompany.com/myapp.php?",
        "HTTPS://mycompany.com/myapp.php",
        "https://mycompany.com/myapp.php;",
    ] {
        let sig = twilio::signature(TOKEN, url, &params);
        assert_eq!(
            twilio::verify(Some(&sig), TOKEN, url, &params),
            Ok(()),
            "{url}"
        );
    }
    // And the normalised form of the first is accepted as twilio-python would.
    let normalised = twilio::signature(TOKEN, "https://mycompany.com:443/myapp.php", &params);
    assert_eq!(
        twilio::verify(
            Some(&normalised),
            TOKEN,
            "https://mycompany.com/myapp.php?",
            &params
        ),
        Ok(())
    );
}

#[test]
fn twilio_vector_c_repeated_params() {
    let params = p(&[
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]);
    let sig = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
    assert_eq!(twilio::signature(TOKEN, URL_B, &params), sig);
    assert_eq!(twilio::verify(Some(sig), TOKEN, URL_B, &params), Ok(()));
    // The duplicate 1234 counts once; without it the signature is the same.
    assert_eq!(twilio::signature(TOKEN, URL_B, &params[..4]), sig);
}

#[test]
fn twilio_vector_d_json_body() {
    let body = br#"{"property": "value", "boolean": true}"#;
    let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    assert_eq!(hex::encode(Sha256::digest(body)), hash);

    let url1 = format!("https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256={hash}");
    assert_eq!(
        twilio::signature(TOKEN, &url1, &[]),
        "a9nBmqA0ju/hNViExpshrM61xv4="
    );
    assert_eq!(
        twilio::verify_json(Some("a9nBmqA0ju/hNViExpshrM61xv4="), TOKEN, &url1, body),
        Ok(())
    );
    let url2 = format!("https://mycompany.com/myapp.php?bodySHA256={hash}");
    assert_eq!(
        twilio::verify_json(Some("y77kIzt2vzLz71DgmJGsen2scGs="), TOKEN, &url2, body),
        Ok(())
    );
    // A body that does not hash to bodySHA256 fails even with a valid URL signature.
    assert_eq!(
        twilio::verify_json(
            Some("a9nBmqA0ju/hNViExpshrM61xv4="),
            TOKEN,
            &url1,
            br#"{"property": "value", "boolean": false}"#
        ),
        Err(SignatureError::Mismatch)
    );
    // Without bodySHA256 the body would be unauthenticated.
    assert_eq!(
        twilio::verify_json(Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="), TOKEN, URL_B, body),
        Err(SignatureError::Malformed)
    );
    assert_eq!(
        twilio::verify_json(None, TOKEN, &url1, body),
        Err(SignatureError::Missing)
    );
}

#[test]
fn twilio_vector_d_empty_object_needs_the_443_variant() {
    let body = b"{}";
    let hash = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    assert_eq!(hex::encode(Sha256::digest(body)), hash);
    let url = format!("https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256={hash}");
    let sig = "Ldidvp12m26NI7eqEvxnEpkd9Hc=";
    assert_ne!(twilio::signature(TOKEN, &url, &[]), sig);
    assert_eq!(twilio::verify_json(Some(sig), TOKEN, &url, body), Ok(()));
    let url443 = url.replacen("mycompany.com", "mycompany.com:443", 1);
    assert_eq!(twilio::signature(TOKEN, &url443, &[]), sig);
}

#[test]
fn twilio_vector_d_docs_json_hash() {
    let body = br#"{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}"#;
    assert_eq!(
        hex::encode(Sha256::digest(body)),
        "5ccde7145dfb8f56479710896586cb9d5911809d83afbe34627818790db0aec9"
    );
}

#[test]
fn twilio_vector_e_older_docs() {
    let params = p(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]);
    assert_eq!(
        twilio::signature(TOKEN, URL_B, &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
}

#[test]
fn form_parsing() {
    let body = b"CallSid=CA123&From=%2B14158675310&CallerName=&SpeechResult=hello+world%21&Caller%20Zip=%e2%82%ac&flag&&Body=50%25+off%zz";
    assert_eq!(
        twilio::parse_form(body).unwrap(),
        p(&[
            ("CallSid", "CA123"),
            ("From", "+14158675310"),
            ("CallerName", ""),
            ("SpeechResult", "hello world!"),
            ("Caller Zip", "€"),
            ("flag", ""),
            ("Body", "50% off%zz"),
        ])
    );
    assert_eq!(twilio::parse_form(b"").unwrap(), p(&[]));
    assert_eq!(twilio::parse_form(b"&&").unwrap(), p(&[]));
    assert_eq!(twilio::parse_form(b"a==b").unwrap(), p(&[("a", "=b")]));
    assert_eq!(
        twilio::parse_form("Body=¡hola! 漢字".as_bytes()).unwrap(),
        p(&[("Body", "¡hola! 漢字")])
    );
    assert_eq!(
        twilio::parse_form(b"a=1&b=%FF"),
        Err(twilio::FormError::InvalidUtf8 { index: 1 })
    );
    assert_eq!(
        twilio::parse_form(b"a=%C3"),
        Err(twilio::FormError::InvalidUtf8 { index: 0 })
    );
    assert_eq!(
        twilio::parse_form(b"\xff=1"),
        Err(twilio::FormError::InvalidUtf8 { index: 0 })
    );
}

#[test]
fn public_url_rebuilding() {
    let exec = "https://abc.execute-api.us-east-1.amazonaws.com";
    assert_eq!(
        twilio::public_url(exec, "/twilio/voice", ""),
        format!("{exec}/twilio/voice")
    );
    assert_eq!(
        twilio::public_url(
            "https://hooks.example.com/prod/",
            "/twilio/voice",
            "a=1&b=%20x+y"
        ),
        "https://hooks.example.com/prod/twilio/voice?a=1&b=%20x+y"
    );
    assert_eq!(
        twilio::public_url(" https://hooks.example.com/prod//\n", "twilio/voice", ""),
        "https://hooks.example.com/prod/twilio/voice"
    );
    assert_eq!(
        twilio::public_url("https://x.example", "/", ""),
        "https://x.example/"
    );
    assert_eq!(
        twilio::public_url("https://x.example", "", "q=1"),
        "https://x.example?q=1"
    );
    // The raw query is kept byte for byte: no decoding, re-encoding or reordering.
    let q = "z=1&a=%2b%2B+&%E2%82%AC=%27&flag&=";
    assert_eq!(
        twilio::public_url(exec, "/sms", q),
        format!("{exec}/sms?{q}")
    );
}

// ---------------------------------------------------------------- ElevenLabs

/// The `post_call_audio` example of `elevenlabs.md` §1.6 (with its non-ASCII ellipsis).
const AUDIO_EVENT: &str = r#"{"type":"post_call_audio","event_timestamp":1739537319,
 "data":{"agent_id":"xyz","conversation_id":"abc","full_audio":"SUQzBAAAAAAA…"}}"#;
/// The header example of §1.7 has timestamp 1739537297.
const T: i64 = 1_739_537_297;
const SECRET: &[u8] = b"wsec_f33540691158e6988cf0b0ab0a6f35a18cd9b3e6aa2975c29972fd4f92611c08";

fn hmac_hex(secret: &[u8], msg: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn elevenlabs_example_sign_and_verify() {
    let body = AUDIO_EVENT.as_bytes();
    let header = elevenlabs::sign(SECRET, T, body);
    let expected_mac = hmac_hex(SECRET, format!("{T}.{AUDIO_EVENT}").as_bytes());
    assert_eq!(header, format!("t={T},v0={expected_mac}"));
    assert_eq!(
        elevenlabs::verify(Some(&header), body, &[SECRET], T),
        Ok(())
    );
    let parsed = elevenlabs::parse_header(&header).unwrap();
    assert_eq!(parsed.timestamp, i128::from(T));
    assert_eq!(parsed.timestamp_text, T.to_string());
    assert_eq!(parsed.v0, expected_mac);
}

#[test]
fn elevenlabs_tolerance_boundaries() {
    let body = AUDIO_EVENT.as_bytes();
    let header = elevenlabs::sign(SECRET, T, body);
    let at = |now| elevenlabs::verify(Some(&header), body, &[SECRET], now);
    assert_eq!(at(T + elevenlabs::TOLERANCE_SECS), Ok(()));
    assert_eq!(at(T + 1800), Ok(()));
    assert_eq!(at(T + 1801), Err(SignatureError::Expired));
    assert_eq!(at(T + 86_400), Err(SignatureError::Expired));
    assert_eq!(at(T - 300), Ok(()));
    assert_eq!(at(T - 301), Err(SignatureError::FromTheFuture));
    assert_eq!(at(i64::MIN), Err(SignatureError::FromTheFuture));
    assert_eq!(at(i64::MAX), Err(SignatureError::Expired));
}

#[test]
fn elevenlabs_secret_rotation() {
    let body = b"{\"type\":\"post_call_transcription\"}";
    let old: &[u8] = b"wsec_old";
    let new: &[u8] = "wsec_new_é".as_bytes();
    for secret in [old, new] {
        let header = elevenlabs::sign(secret, T, body);
        assert_eq!(
            elevenlabs::verify(Some(&header), body, &[old, new], T),
            Ok(())
        );
        assert_eq!(
            elevenlabs::verify(Some(&header), body, &[new, old], T),
            Ok(())
        );
    }
    let other = elevenlabs::sign(b"wsec_other", T, body);
    assert_eq!(
        elevenlabs::verify(Some(&other), body, &[old, new], T),
        Err(SignatureError::Mismatch)
    );
    // An empty secret never matches, even a MAC made with the empty key; no secret, no match.
    let empty_key = elevenlabs::sign(b"", T, body);
    assert_eq!(
        elevenlabs::verify(Some(&empty_key), body, &[b"", old], T),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        elevenlabs::verify(Some(&empty_key), body, &[], T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn elevenlabs_header_forms_like_the_sdk() {
    let body = AUDIO_EVENT.as_bytes();
    let mac = |t_text: &str| hmac_hex(SECRET, format!("{t_text}.{AUDIO_EVENT}").as_bytes());
    let check = |h: &str| elevenlabs::verify(Some(h), body, &[SECRET], T);
    let m = mac(&T.to_string());

    assert_eq!(check(&format!("v0={m},t={T}")), Ok(()));
    assert_eq!(check(&format!("t={T},x=1,v1=ab,,v0={m},")), Ok(()));
    // Last t= and last v0= win.
    assert_eq!(check(&format!("t=1,t={T},v0=00,v0={m}")), Ok(()));
    assert_eq!(
        check(&format!("t={T},v0={m},v0=00")),
        Err(SignatureError::Mismatch)
    );
    // Elements are not trimmed: " v0=" is not a v0 element, "T=" not a t element.
    assert_eq!(
        check(&format!("t={T}, v0={m}")),
        Err(SignatureError::Malformed)
    );
    assert_eq!(
        check(&format!("T={T},v0={m}")),
        Err(SignatureError::Malformed)
    );
    assert_eq!(check(&format!("t=,v0={m}")), Err(SignatureError::Malformed));
    assert_eq!(check(&format!("t={T}")), Err(SignatureError::Malformed));
    assert_eq!(
        check(&format!("t=17e8,v0={m}")),
        Err(SignatureError::Malformed)
    );
    // The MAC is compared as text: uppercase hex or a trailing blank fail.
    assert_eq!(
        check(&format!("t={T},v0={}", m.to_uppercase())),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(&format!("t={T},v0={m} ")),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(&format!("t={T},v0={}", &m[..63])),
        Err(SignatureError::Mismatch)
    );
    // t is read like Python's int() but signed as sent.
    for t_text in [
        format!(" {T}\t"),
        format!("+{T}"),
        format!("000{T}"),
        "1_739_537_297".to_string(),
        "١٧٣٩٥٣٧٢٩٧".to_string(),
        format!("\u{3000}{T}"),
    ] {
        assert_eq!(
            check(&format!("t={t_text},v0={}", mac(&t_text))),
            Ok(()),
            "{t_text:?}"
        );
        assert_eq!(
            check(&format!("t={t_text},v0={m}")),
            Err(SignatureError::Mismatch),
            "{t_text:?}"
        );
    }
    assert_eq!(
        elevenlabs::verify(None, body, &[SECRET], T),
        Err(SignatureError::Missing)
    );
    assert_eq!(check(""), Err(SignatureError::Missing));
    // Tampered body.
    let header = elevenlabs::sign(SECRET, T, body);
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    assert_eq!(
        elevenlabs::verify(Some(&header), &tampered, &[SECRET], T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn elevenlabs_raw_non_utf8_body() {
    let body: &[u8] = b"{\"x\":\"\xff\xfe\xc3\"}";
    let header = elevenlabs::sign(SECRET, T, body);
    let mut msg = format!("{T}.").into_bytes();
    msg.extend_from_slice(body);
    assert_eq!(header, format!("t={T},v0={}", hmac_hex(SECRET, &msg)));
    assert_eq!(
        elevenlabs::verify(Some(&header), body, &[SECRET], T),
        Ok(())
    );
}

#[test]
fn error_messages_never_carry_secrets_or_macs() {
    let body = AUDIO_EVENT.as_bytes();
    let mac = hmac_hex(SECRET, format!("{T}.{AUDIO_EVENT}").as_bytes());
    let secret = std::str::from_utf8(SECRET).unwrap();
    for e in [
        SignatureError::Missing,
        SignatureError::Malformed,
        SignatureError::Expired,
        SignatureError::FromTheFuture,
        SignatureError::Mismatch,
    ] {
        let line = e.to_string();
        assert!(!line.is_empty() && !line.contains('\n'));
        assert!(!line.contains(secret) && !line.contains(&mac));
    }
    let err = elevenlabs::verify(Some(&format!("t={T},v0=00")), body, &[SECRET], T).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(&mac));
}
