//! `ElevenLabs-Signature` verification for ElevenLabs webhooks (post-call webhooks, workspace
//! webhooks, on-prem post-call destinations).
//!
//! # Protocol
//! ElevenLabs sends `ElevenLabs-Signature: t=<unix seconds>,v0=<hex>` where `<hex>` is the
//! lowercase hex HMAC-SHA256, keyed with the webhook secret's UTF-8 bytes (used as is, not hex-
//! or base64-decoded), of the ASCII timestamp, a literal `.`, and the raw request body exactly as
//! received (`"<t>.<raw body>"`). Verify on the raw bytes: with API Gateway decode a base64
//! body (`isBase64Encoded`) first, and never re-serialise the JSON.
//!
//! # What is accepted
//! Exactly what the official SDK (`construct_event` in elevenlabs-python `webhooks_custom.py`,
//! `constructEvent` in elevenlabs-js) accepts, except for timestamps in the future:
//! - The header is split on `,`. The timestamp is the text after `t=` of the **last** element
//!   that starts with `t=`, the MAC is the **last** element that starts with `v0=`. Other
//!   elements are ignored; an element with leading whitespace (`, v0=…`) or another case
//!   (`T=`) does not start with `t=`/`v0=` and is therefore ignored too.
//! - `t` is read as Python's `int()` reads it ([`parse_timestamp`]): surrounding whitespace, a
//!   sign, `_` between digits, leading zeros and Unicode decimal digits are allowed, at most
//!   4,300 digits. The MAC covers the `t` text **as sent**, not its numeric value.
//! - The MAC must equal `v0=` + lowercase hex exactly (uppercase hex, trailing blanks or a
//!   truncated MAC are rejected), compared in constant time. Several secrets may be given (for
//!   rotation); any one of them may match. Empty secrets never match (the SDK refuses an empty
//!   secret; reject empty secrets when loading the configuration).
//!
//! # Tolerance
//! - Too old ([`SignatureError::Expired`]): `t < now − 1800` (30 minutes), the SDK's boundary:
//!   `t == now − 1800` is still accepted.
//! - Too new ([`SignatureError::FromTheFuture`]): `t > now + 300` (5 minutes). The SDK has no
//!   such bound; ours limits how long a captured request, signed with a future timestamp by a
//!   leaked-then-rotated secret or a skewed clock, could be replayed. `t == now + 300` is
//!   accepted.
//!
//! The checks run in the SDK's order: header present, elements present and `t` an integer
//! ([`SignatureError::Malformed`]), age, then the MAC ([`SignatureError::Mismatch`]).
//!
//! Replays inside the window are not detected here: make the handler idempotent (dedupe on
//! `type` + `conversation_id`).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::SignatureError;

/// Header name, lower-cased as `http::HeaderName` stores it.
pub const HEADER: &str = "elevenlabs-signature";
/// Timestamps older than this many seconds are rejected (the SDK's tolerance).
pub const TOLERANCE_SECS: i64 = 30 * 60;
/// Timestamps more than this many seconds ahead of `now` are rejected (our own bound).
pub const MAX_FUTURE_SECS: i64 = 5 * 60;
/// Python's default limit on the number of digits `int()` converts (`sys.get_int_max_str_digits`).
pub const MAX_TIMESTAMP_DIGITS: usize = 4300;

type HmacSha256 = Hmac<Sha256>;

/// The parts of an `ElevenLabs-Signature` header that the SDK uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureHeader<'a> {
    /// Text after `t=` of the last `t=` element, exactly as sent: it is what was signed.
    pub timestamp_text: &'a str,
    /// Value of the timestamp as Python's `int()` reads it, in unix seconds, saturated to the
    /// `i128` range (Python integers are unbounded; anything beyond is far outside the window).
    pub timestamp: i128,
    /// Text after `v0=` of the last `v0=` element (the MAC as sent, not validated as hex).
    pub v0: &'a str,
}

/// Parses an `ElevenLabs-Signature` header value as the official SDK does (see the module doc).
///
/// Errors: [`SignatureError::Missing`] for an empty value; [`SignatureError::Malformed`] when
/// there is no `t=` element with a non-empty value, no `v0=` element, or `t` is not an integer.
pub fn parse_header(h: &str) -> Result<SignatureHeader<'_>, SignatureError> {
    if h.is_empty() {
        return Err(SignatureError::Missing);
    }
    let mut timestamp_text = None;
    let mut v0 = None;
    for element in h.split(',') {
        if let Some(t) = element.strip_prefix("t=") {
            timestamp_text = Some(t);
        } else if let Some(mac) = element.strip_prefix("v0=") {
            v0 = Some(mac);
        }
    }
    let (Some(timestamp_text), Some(v0)) = (timestamp_text, v0) else {
        return Err(SignatureError::Malformed);
    };
    if timestamp_text.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let timestamp = parse_timestamp(timestamp_text).ok_or(SignatureError::Malformed)?;
    Ok(SignatureHeader {
        timestamp_text,
        timestamp,
        v0,
    })
}

/// Verifies an ElevenLabs webhook: `header` is the `ElevenLabs-Signature` value (`None` when
/// absent), `body` the raw body bytes, `secrets` the accepted webhook secrets (UTF-8 bytes of
/// each secret; several during a rotation), `now_unix` the current time in unix seconds.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[&[u8]],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let parsed = parse_header(header.unwrap_or(""))?;
    let now = i128::from(now_unix);
    if parsed.timestamp < now - i128::from(TOLERANCE_SECS) {
        return Err(SignatureError::Expired);
    }
    if parsed.timestamp > now + i128::from(MAX_FUTURE_SECS) {
        return Err(SignatureError::FromTheFuture);
    }
    let received = parsed.v0.as_bytes();
    let mut ok = subtle::Choice::from(0u8);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let expected = mac_hex(secret, parsed.timestamp_text, body);
        ok |= expected.as_slice().ct_eq(received);
    }
    if bool::from(ok) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Returns the full header value `t=<t>,v0=<hex>` that ElevenLabs would send for `body` signed
/// with `secret` at time `t` (for tests and the local demo).
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let t = t.to_string();
    let mac = mac_hex(secret, &t, body);
    let mut out = String::with_capacity(t.len() + 7 + mac.len());
    out.push_str("t=");
    out.push_str(&t);
    out.push_str(",v0=");
    // Hex digits are ASCII.
    out.extend(mac.iter().map(|&b| char::from(b)));
    out
}

/// Lowercase hex HMAC-SHA256 of `"<timestamp_text>.<body>"`, on the stack.
fn mac_hex(secret: &[u8], timestamp_text: &str, body: &[u8]) -> [u8; 64] {
    // HMAC accepts keys of any length.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = [0u8; 64];
    hex::encode_to_slice(digest, &mut out).expect("64 bytes hold the hex of 32 bytes");
    out
}

/// Reads `s` as Python 3's `int(s)` does (base 10), saturating to the `i128` range; `None` where
/// `int()` raises `ValueError`.
///
/// Python strips whitespace (ASCII `\t\n\v\f\r` and space, and the non-ASCII characters for which
/// `str.isspace()` is true), allows one `+`/`-`, digits with single `_` between them, leading
/// zeros, any Unicode decimal digit (category Nd, as of Unicode 14.0, Python 3.11), and at most
/// [`MAX_TIMESTAMP_DIGITS`] digits (underscores not counted).
pub fn parse_timestamp(s: &str) -> Option<i128> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum C {
        Space,
        Digit(u8),
        Underscore,
        Sign(bool),
        Other,
    }
    fn class(c: char) -> C {
        match c {
            '\t'..='\r' | ' ' => C::Space,
            '0'..='9' => C::Digit(c as u8 - b'0'),
            '_' => C::Underscore,
            '+' => C::Sign(false),
            '-' => C::Sign(true),
            c if c.is_ascii() => C::Other,
            c if PY_NON_ASCII_SPACE.contains(&c) => C::Space,
            c => unicode_decimal(c).map_or(C::Other, C::Digit),
        }
    }

    let mut chars = s.chars().map(class).peekable();
    while chars.next_if_eq(&C::Space).is_some() {}
    let negative = match chars.peek() {
        Some(C::Sign(neg)) => {
            let neg = *neg;
            chars.next();
            neg
        }
        _ => false,
    };
    let mut value: i128 = 0;
    let mut digits = 0usize;
    let mut saturated = false;
    // Digits, with single underscores between digits.
    loop {
        match chars.next() {
            Some(C::Digit(d)) => {
                digits += 1;
                if digits > MAX_TIMESTAMP_DIGITS {
                    return None;
                }
                if !saturated {
                    match value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(i128::from(d)))
                    {
                        Some(v) => value = v,
                        None => saturated = true,
                    }
                }
                match chars.peek() {
                    Some(C::Underscore) => {
                        chars.next();
                        if !matches!(chars.peek(), Some(C::Digit(_))) {
                            return None;
                        }
                    }
                    Some(C::Digit(_)) => {}
                    _ => break,
                }
            }
            _ => return None,
        }
    }
    while chars.next_if_eq(&C::Space).is_some() {}
    if chars.next().is_some() {
        return None;
    }
    Some(match (saturated, negative) {
        (true, false) => i128::MAX,
        (true, true) => i128::MIN,
        (false, false) => value,
        (false, true) => -value,
    })
}

/// Non-ASCII characters that Python's `int()` skips as whitespace (`str.isspace()`; the ASCII
/// separators U+001C..U+001F are *not* skipped by `int()`).
const PY_NON_ASCII_SPACE: [char; 19] = [
    '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}',
    '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}',
    '\u{202f}', '\u{205f}', '\u{3000}',
];

/// First code point (digit zero) of each run of ten non-ASCII Unicode decimal digits (general
/// category Nd) in Unicode 14.0, the version of Python 3.11's `unicodedata`.
const ND_ZEROS: [u32; 65] = [
    0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6,
    0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50,
    0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

fn unicode_decimal(c: char) -> Option<u8> {
    let c = u32::from(c);
    let i = ND_ZEROS.partition_point(|&z| z <= c);
    let zero = *ND_ZEROS.get(i.checked_sub(1)?)?;
    u8::try_from(c - zero).ok().filter(|d| *d < 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_rules() {
        assert_eq!(parse_timestamp("1739537297"), Some(1_739_537_297));
        assert_eq!(parse_timestamp(" \t+0017_39 \n"), Some(1739));
        assert_eq!(parse_timestamp("-5"), Some(-5));
        assert_eq!(parse_timestamp("\u{3000}١٢\u{a0}"), Some(12));
        assert_eq!(parse_timestamp("１_２"), Some(12));
        for bad in [
            "", " ", "+", "- 5", "+_1", "_1", "1_", "1__2", "1 2", "0x10", "1.0", "1e3", "\u{1c}5",
            "5\u{0}", "5\u{7f}", "1\u{a0}2", "²",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        let many = "0".repeat(MAX_TIMESTAMP_DIGITS - 1) + "7";
        assert_eq!(parse_timestamp(&many), Some(7));
        assert_eq!(parse_timestamp(&format!("0{many}")), None);
        let huge = "9".repeat(100);
        assert_eq!(parse_timestamp(&huge), Some(i128::MAX));
        assert_eq!(parse_timestamp(&format!("-{huge}")), Some(i128::MIN));
    }

    #[test]
    fn nd_table_edges() {
        assert_eq!(unicode_decimal('\u{65f}'), None);
        assert_eq!(unicode_decimal('\u{660}'), Some(0));
        assert_eq!(unicode_decimal('\u{669}'), Some(9));
        assert_eq!(unicode_decimal('\u{66a}'), None);
        assert_eq!(unicode_decimal('\u{1d7ff}'), Some(9));
        assert_eq!(unicode_decimal('\u{1fbf9}'), Some(9));
        assert_eq!(unicode_decimal('\u{1fbfa}'), None);
        assert_eq!(unicode_decimal('a'), None);
    }
}
