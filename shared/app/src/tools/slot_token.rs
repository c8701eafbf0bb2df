//! Opaque slot ids: the agent can only book a slot we offered.
//!
//! `<payload>.<mac>`, both base64url: payload = `v1|<service>|<staff>|<start unix>|<expires unix>`,
//! mac = the first 16 bytes of HMAC-SHA256(key, `<business id>|<payload>`). The business id is
//! inside the MAC, so a slot id offered for one business is worthless for another. The key
//! is the `SLOT_SIGNING_SECRET_ARN` secret (cached); a slot id is valid for 24 hours — the
//! booking itself re-checks every rule, so an old offer can never overbook.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long an offered slot id can be booked with.
pub const VALIDITY: Duration = Duration::hours(24);
const MAC_BYTES: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRef {
    pub service_id: String,
    pub staff_id: String,
    pub start: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlotTokenError {
    #[error("not a slot id")]
    Malformed,
    #[error("slot id signature does not match")]
    Forged,
    #[error("slot id expired")]
    Expired,
}

fn mac(key: &[u8], business_id: &str, payload: &[u8]) -> [u8; MAC_BYTES] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(business_id.as_bytes());
    m.update(b"|");
    m.update(payload);
    let full = m.finalize().into_bytes();
    let mut out = [0u8; MAC_BYTES];
    out.copy_from_slice(&full[..MAC_BYTES]);
    out
}

pub fn sign(key: &[u8], business_id: &str, slot: &SlotRef, now: DateTime<Utc>) -> String {
    let payload = format!(
        "v1|{}|{}|{}|{}",
        slot.service_id,
        slot.staff_id,
        slot.start.timestamp(),
        (now + VALIDITY).timestamp()
    );
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(mac(key, business_id, payload.as_bytes()))
    )
}

pub fn verify(
    key: &[u8],
    business_id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<SlotRef, SlotTokenError> {
    let (p, m) = token
        .trim()
        .split_once('.')
        .ok_or(SlotTokenError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| SlotTokenError::Malformed)?;
    let given = URL_SAFE_NO_PAD
        .decode(m)
        .map_err(|_| SlotTokenError::Malformed)?;
    let expected = mac(key, business_id, &payload);
    if given.len() != MAC_BYTES || !bool::from(given.ct_eq(&expected)) {
        return Err(SlotTokenError::Forged);
    }
    let text = String::from_utf8(payload).map_err(|_| SlotTokenError::Malformed)?;
    let parts: Vec<&str> = text.split('|').collect();
    let [version, service, staff, start, expires] = parts.as_slice() else {
        return Err(SlotTokenError::Malformed);
    };
    if *version != "v1" {
        return Err(SlotTokenError::Malformed);
    }
    let ts = |s: &str| {
        s.parse::<i64>()
            .ok()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .ok_or(SlotTokenError::Malformed)
    };
    if ts(expires)? <= now {
        return Err(SlotTokenError::Expired);
    }
    Ok(SlotRef {
        service_id: (*service).to_owned(),
        staff_id: (*staff).to_owned(),
        start: ts(start)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> SlotRef {
        SlotRef {
            service_id: "cleaning".into(),
            staff_id: "dr-lee".into(),
            start: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn round_trip() {
        let now = Utc::now();
        let t = sign(b"key", "biz-a", &slot(), now);
        assert_eq!(verify(b"key", "biz-a", &t, now).unwrap(), slot());
    }

    #[test]
    fn other_business_other_key_or_tampering_is_forged() {
        let now = Utc::now();
        let t = sign(b"key", "biz-a", &slot(), now);
        assert_eq!(
            verify(b"key", "biz-b", &t, now),
            Err(SlotTokenError::Forged)
        );
        assert_eq!(
            verify(b"other", "biz-a", &t, now),
            Err(SlotTokenError::Forged)
        );
        let (p, m) = t.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(p).unwrap())
                .unwrap()
                .replace("dr-lee", "dr-kim"),
        );
        assert_eq!(
            verify(b"key", "biz-a", &format!("{forged_payload}.{m}"), now),
            Err(SlotTokenError::Forged)
        );
        for junk in ["", "abc", "a.b", "2026-11-25T09:00", "....", "é.é"] {
            assert!(verify(b"key", "biz-a", junk, now).is_err(), "{junk}");
        }
    }

    #[test]
    fn expires() {
        let now = Utc::now();
        let t = sign(b"key", "biz-a", &slot(), now);
        assert_eq!(
            verify(b"key", "biz-a", &t, now + VALIDITY),
            Err(SlotTokenError::Expired)
        );
    }
}
