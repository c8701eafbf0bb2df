//! Webhook signature checks of frontdesk, as pure functions (no I/O, no AWS, no async).
//!
//! - [`elevenlabs`]: the `ElevenLabs-Signature` header of post-call (and workspace) webhooks:
//!   `t=<unix seconds>,v0=<hex HMAC-SHA256 of "<t>.<raw body>">`, a 30-minute tolerance for old
//!   timestamps (as the official SDKs) and our own 5-minute bound for timestamps in the future.
//! - [`twilio`]: the `X-Twilio-Signature` header (base64 HMAC-SHA1 of the public URL followed by
//!   the sorted POST parameters), the URL port variants that twilio-python accepts, the
//!   `bodySHA256` scheme for JSON bodies, strict `application/x-www-form-urlencoded` parsing and
//!   the rebuilding of the public URL that Twilio signed from a configured base URL.
//!
//! Both verifiers are cross-checked against the official Python SDKs (`elevenlabs`,
//! `twilio.request_validator`) on random inputs by `tests/oracle.rs`.
//!
//! Every comparison of a MAC is constant-time ([`subtle`]). Errors are [`SignatureError`]
//! values whose messages fit a log line: they never contain a secret or an expected MAC.

pub mod elevenlabs;
pub mod twilio;

/// Why a webhook signature was rejected. The handler answers 401 (or 403) for all of them; the
/// variant is for the log line. Messages never include a secret or the expected MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature header is absent or empty.
    #[error("signature header missing or empty")]
    Missing,
    /// The header (or, for Twilio, the signed URL) cannot be read: ElevenLabs header without a
    /// `t=` or `v0=` element or with a `t` that is not an integer; Twilio JSON request without a
    /// `bodySHA256` query parameter, or a URL on which twilio-python raises (a port that is not a
    /// number in 0..=65535, unbalanced `[`/`]` in the host).
    #[error("signature header or signed URL malformed")]
    Malformed,
    /// ElevenLabs: the timestamp is older than the 30-minute tolerance.
    #[error("signature timestamp older than the 30-minute tolerance")]
    Expired,
    /// ElevenLabs: the timestamp is more than 5 minutes in the future.
    #[error("signature timestamp more than 5 minutes in the future")]
    FromTheFuture,
    /// The MAC (or, for Twilio JSON bodies, the body's SHA-256) does not match.
    #[error("signature does not match")]
    Mismatch,
}
