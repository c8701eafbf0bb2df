//! `X-Twilio-Signature` verification for Twilio webhooks, strict form parsing, and the public URL
//! that Twilio signed.
//!
//! # Protocol (form-encoded requests: voice, SMS, status callbacks)
//! Twilio computes `base64(HMAC-SHA1(auth_token, url + k1 + v1 + k2 + v2 + …))` where `url` is the
//! full URL it requested (scheme, host, path and the query exactly as configured) and the `k`/`v`
//! are the decoded POST parameters sorted by name (byte order, case-sensitive: `CallSid` <
//! `Caller`, `Sid` < `SidAccount`). For a repeated name the official SDKs sort its values, drop
//! exact duplicates and append `name + value` per remaining value ([`signature`] does the same:
//! pairs sorted by (name, value), duplicate pairs dropped). The key is the account's primary Auth
//! Token as UTF-8. The result is standard base64 with padding; [`verify`] compares it with the
//! header in constant time, as text (no base64 decoding, so only the exact encoding passes).
//!
//! Pass every received parameter (never a fixed list), with the values exactly as decoded: a
//! framework that trims form values breaks the signature.
//!
//! # JSON bodies ([`verify_json`])
//! For `application/json` requests Twilio adds `bodySHA256=<lowercase hex SHA-256 of the raw
//! body>` to the query and signs the URL alone (no parameters appended). Both are checked: the
//! URL's signature and the body's hash. A JSON request without `bodySHA256` is rejected
//! ([`SignatureError::Malformed`]): its body would be unauthenticated. `bodySHA256` is read from
//! the query as Python's `parse_qs` reads it (first occurrence with a non-empty value,
//! `+`/percent-decoded).
//!
//! # Port variants
//! Twilio is inconsistent about ports (HTTPS voice callbacks are signed without the port, SMS
//! callbacks keep it), so, like twilio-python's `RequestValidator.validate`, [`verify`] and
//! [`verify_json`] accept a signature over any of:
//! - the URL as given;
//! - the URL with its port removed (twilio-python keeps the part of the host before the first
//!   `:`), e.g. `https://example.com:8443/x` → `https://example.com/x`;
//! - the URL with the default port added when it has none (`:443` for `https`, `:80` for any
//!   other scheme), e.g. `https://example.com/x` → `https://example.com:443/x`.
//!
//! The last two are built as twilio-python builds them (its `urlparse(…).geturl()`: leading
//! control characters and spaces and any tab/CR/LF removed, scheme lower-cased, an empty `?`,
//! `#` or trailing `;` dropped; a port `0` or an empty port counts as no port). A port that is
//! not ASCII digits or is above 65535, or unbalanced `[`/`]` in the host, make twilio-python
//! raise; here they give [`SignatureError::Malformed`]. Not mirrored: Python's checks of
//! non-ASCII hosts (NFKC) and of bracketed IPv6 literals; neither occurs in a webhook URL.
//!
//! # The public URL behind API Gateway ([`public_url`])
//! Twilio signs the public URL it called; the Lambda only sees a host and path that API Gateway
//! may have rewritten. So the function rebuilds it as `base + raw_path + "?" + raw_query`, with
//! `base` a configured setting (e.g. `PUBLIC_WEBHOOK_BASE`), `raw_path` the event's `rawPath`
//! (lambda_http: `RequestExt::raw_http_path()`, not `uri().path()`, which is re-encoded) and
//! `raw_query` the event's `rawQueryString` untouched (lambda_http: `req.uri().query()`).
//!
//! Operators must set `base` so that `base + rawPath + ("?" + query)` is byte for byte the URL
//! registered in Twilio (console or the `Url`/`StatusCallback` given to the API):
//! - HTTP API, `$default` stage, execute-api domain: `base = https://<id>.execute-api.<region>.amazonaws.com`,
//!   registered URL `https://<id>.execute-api.<region>.amazonaws.com/twilio/voice`.
//! - Named stage (`prod`) on the execute-api domain: `rawPath` already starts with `/prod` (as in
//!   lambda_http's own test events: `/Prod/my/path`), so `base` is again the bare origin;
//!   registered URL `…amazonaws.com/prod/twilio/voice`.
//! - Custom domain with a base-path mapping (`https://hooks.example.com/prod` → the API): set
//!   `base = https://hooks.example.com/prod` **only if** `rawPath` arrives without `/prod`; if
//!   your deployment's `rawPath` carries it, set `base = https://hooks.example.com`. Check once
//!   with a real call: a wrong base makes every request fail with [`SignatureError::Mismatch`]
//!   (the AWS-side path handling is not specified by AWS docs we could cite; verify it).
//!
//! `base` must have no query and no fragment; surrounding whitespace and trailing `/` are
//! ignored. A `#…` connection-override fragment in the registered URL is not part of what
//! Twilio signs; register URLs without trailing-slash differences (`/voice` ≠ `/voice/`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::SignatureError;

/// Header name, lower-cased as `http::HeaderName` stores it.
pub const HEADER: &str = "x-twilio-signature";

type HmacSha1 = Hmac<Sha1>;

/// Why a form body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A name or value (0-based index of the `&`-separated field) is not UTF-8 once
    /// percent-decoded.
    #[error("form field {index} is not valid UTF-8 after percent-decoding")]
    InvalidUtf8 {
        /// 0-based index of the field among the non-empty `&`-separated fields.
        index: usize,
    },
}

/// The `X-Twilio-Signature` Twilio sends for a request to `url` with POST parameters `params`
/// (base64 HMAC-SHA1, see the module doc). `url` is used exactly as given: no port variants.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let key = keyed(auth_token);
    let sorted = sorted_params(params);
    let mut out = [0u8; 28];
    mac_b64(&key, url, &sorted, &mut out);
    out.iter().map(|&b| char::from(b)).collect()
}

/// Verifies `X-Twilio-Signature` (`header`, `None` when absent) of a form-encoded (or GET)
/// request to the public `url` (see [`public_url`]) with the decoded POST parameters `params`
/// (empty for GET: the parameters are in the query). Accepts the port variants of the module
/// doc.
pub fn verify(
    header: Option<&str>,
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
) -> Result<(), SignatureError> {
    let header = present(header)?;
    let split = PyUrl::split(url).ok_or(SignatureError::Malformed)?;
    let variants = split.variants(url).ok_or(SignatureError::Malformed)?;
    let sorted = sorted_params(params);
    check_variants(header, auth_token, &variants, &sorted)
}

/// Verifies a JSON request (`application/json`): the signature over `url` (which must carry
/// `bodySHA256`; port variants as in [`verify`], no parameters appended) and the SHA-256 of the
/// raw `body` against `bodySHA256`.
pub fn verify_json(
    header: Option<&str>,
    auth_token: &str,
    url: &str,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = present(header)?;
    let split = PyUrl::split(url).ok_or(SignatureError::Malformed)?;
    let variants = split.variants(url).ok_or(SignatureError::Malformed)?;
    let claimed = query_value(&split.query, "bodySHA256").ok_or(SignatureError::Malformed)?;
    let mut hash = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(body), &mut hash).expect("64 bytes hold 32 bytes of hex");
    let body_ok = hash.as_slice().ct_eq(claimed.as_bytes());
    let sig = check_variants(header, auth_token, &variants, &[]);
    if bool::from(body_ok) {
        sig
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Parses an `application/x-www-form-urlencoded` body into (name, value) pairs in order:
/// fields split on `&` (empty fields skipped), name and value split at the first `=` (a field
/// without `=` has an empty value; empty values are kept, they are signed too), `+` read as a
/// space, `%XX` decoded (a `%` not followed by two hex digits is kept literally), and the result
/// required to be UTF-8 ([`FormError::InvalidUtf8`] otherwise). Never panics.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut out = Vec::new();
    for (index, field) in body
        .split(|&b| b == b'&')
        .filter(|f| !f.is_empty())
        .enumerate()
    {
        let (name, value) = match field.iter().position(|&b| b == b'=') {
            Some(eq) => (&field[..eq], &field[eq + 1..]),
            None => (field, &field[field.len()..]),
        };
        let decode = |part: &[u8]| {
            String::from_utf8(form_decode(part)).map_err(|_| FormError::InvalidUtf8 { index })
        };
        out.push((decode(name)?, decode(value)?));
    }
    Ok(out)
}

/// The public URL Twilio signed: `base` (configured, e.g. `https://hooks.example.com/prod`;
/// surrounding whitespace and trailing `/` ignored) + `raw_path` (a `/` is put between them when
/// `raw_path` lacks one; an empty path adds nothing) + `?raw_query` when the query is not empty.
/// Path and query are kept byte for byte (no decoding, re-encoding or reordering). See the
/// module doc for how to set `base`.
pub fn public_url(base: &str, raw_path: &str, raw_query: &str) -> String {
    let base = base
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + raw_path.len() + raw_query.len() + 2);
    url.push_str(base);
    if !raw_path.is_empty() {
        if !raw_path.starts_with('/') {
            url.push('/');
        }
        url.push_str(raw_path);
    }
    if !raw_query.is_empty() {
        url.push('?');
        url.push_str(raw_query);
    }
    url
}

fn present(header: Option<&str>) -> Result<&str, SignatureError> {
    match header {
        Some(h) if !h.is_empty() => Ok(h),
        _ => Err(SignatureError::Missing),
    }
}

fn keyed(auth_token: &str) -> HmacSha1 {
    HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length")
}

/// Parameters sorted by (name, value) with duplicate pairs removed: the SDKs' order.
fn sorted_params(params: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

fn mac_b64(key: &HmacSha1, url: &str, sorted: &[(&str, &str)], out: &mut [u8; 28]) {
    let mut mac = key.clone();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    let digest = mac.finalize().into_bytes();
    STANDARD
        .encode_slice(digest, out)
        .expect("28 bytes hold the base64 of 20 bytes");
}

fn check_variants(
    header: &str,
    auth_token: &str,
    variants: &[String],
    sorted: &[(&str, &str)],
) -> Result<(), SignatureError> {
    let key = keyed(auth_token);
    let mut ok = subtle::Choice::from(0u8);
    let mut expected = [0u8; 28];
    for url in variants {
        mac_b64(&key, url, sorted, &mut expected);
        ok |= expected.as_slice().ct_eq(header.as_bytes());
    }
    if bool::from(ok) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `+` → space, `%XX` → byte; anything else kept.
fn form_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                input.get(i + 1).and_then(|&h| hex_val(h)),
                input.get(i + 2).and_then(|&l| hex_val(l)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// First value of `name` in a query as Python's `parse_qs` reads it: fields without `=` or with
/// an empty value are ignored, names and values `+`/percent-decoded (invalid UTF-8 replaced).
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|field| {
        let (n, v) = field.split_once('=')?;
        if v.is_empty() || String::from_utf8_lossy(&form_decode(n.as_bytes())) != name {
            return None;
        }
        Some(String::from_utf8_lossy(&form_decode(v.as_bytes())).into_owned())
    })
}

/// Python 3.11's `urllib.parse.urlparse`, reduced to what `RequestValidator.validate` uses.
struct PyUrl {
    /// Lower-cased scheme, `""` when none.
    scheme: String,
    /// Network location, `None` when the URL has no `//`.
    netloc: Option<String>,
    path: String,
    params: String,
    query: String,
    fragment: String,
}

/// `urllib.parse.uses_netloc` (Python 3.11).
const USES_NETLOC: [&str; 26] = [
    "",
    "ftp",
    "http",
    "gopher",
    "nntp",
    "telnet",
    "imap",
    "wais",
    "file",
    "mms",
    "https",
    "shttp",
    "snews",
    "prospero",
    "rtsp",
    "rtspu",
    "rsync",
    "svn",
    "svn+ssh",
    "sftp",
    "nfs",
    "git",
    "git+ssh",
    "ws",
    "wss",
    "itms-services",
];

/// `urllib.parse.uses_params` (Python 3.11).
const USES_PARAMS: [&str; 15] = [
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtspu", "sip", "sips",
    "mms", "sftp", "tel",
];

impl PyUrl {
    /// `urlparse(url)`; `None` where Python raises (unbalanced brackets in the netloc).
    fn split(url: &str) -> Option<PyUrl> {
        let url: String = url
            .trim_start_matches(|c: char| c <= ' ')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .collect();
        let mut rest = url.as_str();
        let mut scheme = String::new();
        if let Some(i) = rest.find(':') {
            let candidate = &rest[..i];
            if i > 0
                && candidate.as_bytes()[0].is_ascii_alphabetic()
                && candidate
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            {
                scheme = candidate.to_ascii_lowercase();
                rest = &rest[i + 1..];
            }
        }
        let mut netloc = None;
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            let n = &after[..end];
            if n.contains('[') != n.contains(']') {
                return None;
            }
            netloc = Some(n.to_string());
            rest = &after[end..];
        }
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (mut path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut params = "";
        if USES_PARAMS.contains(&scheme.as_str()) && path.contains(';') {
            let from = path.rfind('/').unwrap_or(0);
            if let Some(i) = path[from..].find(';').map(|i| i + from) {
                params = &path[i + 1..];
                path = &path[..i];
            }
        }
        Some(PyUrl {
            scheme,
            path: path.to_string(),
            params: params.to_string(),
            query: query.to_string(),
            fragment: fragment.to_string(),
            netloc,
        })
    }

    /// `urlunparse` with `netloc` in place of the parsed one (`geturl()` when it is the same).
    fn unparse(&self, netloc: Option<&str>) -> String {
        let mut path = self.path.clone();
        if !self.params.is_empty() {
            path.push(';');
            path.push_str(&self.params);
        }
        let netloc = netloc.unwrap_or("");
        let mut url = String::new();
        if !netloc.is_empty()
            || (!self.scheme.is_empty()
                && USES_NETLOC.contains(&self.scheme.as_str())
                && !path.starts_with("//"))
        {
            url.push_str("//");
            url.push_str(netloc);
            if !path.is_empty() && !path.starts_with('/') {
                url.push('/');
            }
        }
        url.push_str(&path);
        let mut out = String::with_capacity(url.len() + self.query.len() + 16);
        if !self.scheme.is_empty() {
            out.push_str(&self.scheme);
            out.push(':');
        }
        out.push_str(&url);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(&self.fragment);
        }
        out
    }

    /// The `.port` property: `Ok(None)` without a port, `Err` where Python raises.
    fn port(&self) -> Result<Option<u32>, ()> {
        let Some(netloc) = &self.netloc else {
            return Ok(None);
        };
        let hostinfo = netloc.rsplit_once('@').map_or(netloc.as_str(), |(_, h)| h);
        let port = match hostinfo.split_once('[') {
            Some((_, bracketed)) => bracketed
                .split_once(']')
                .and_then(|(_, after)| after.split_once(':'))
                .map_or("", |(_, p)| p),
            None => hostinfo.split_once(':').map_or("", |(_, p)| p),
        };
        if port.is_empty() {
            return Ok(None);
        }
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        let trimmed = port.trim_start_matches('0');
        match trimmed.parse::<u32>() {
            _ if trimmed.is_empty() => Ok(Some(0)),
            Ok(p) if p <= 65535 => Ok(Some(p)),
            _ => Err(()),
        }
    }

    /// The URLs to try: `given`, then twilio-python's `remove_port` and `add_port`, duplicates
    /// dropped; `None` where twilio-python raises.
    fn variants(&self, given: &str) -> Option<Vec<String>> {
        let port = self.port().ok()?;
        let netloc = self.netloc.as_deref();
        let as_parsed = self.unparse(netloc);
        let (without, with) = match port {
            Some(p) if p != 0 => {
                let n = netloc.unwrap_or("");
                let host = n.split_once(':').map_or(n, |(h, _)| h);
                (self.unparse(Some(host)), as_parsed)
            }
            _ => {
                let default = if self.scheme == "https" { 443 } else { 80 };
                let added = format!("{}:{default}", netloc.unwrap_or(""));
                (as_parsed, self.unparse(Some(&added)))
            }
        };
        let mut out = vec![given.to_string()];
        for v in [without, with] {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants(url: &str) -> Option<Vec<String>> {
        PyUrl::split(url)?.variants(url)
    }

    #[test]
    fn port_variants_like_twilio_python() {
        assert_eq!(
            variants("https://h.com/a?b=1").unwrap(),
            ["https://h.com/a?b=1", "https://h.com:443/a?b=1"]
        );
        assert_eq!(
            variants("http://h.com:1234/a").unwrap(),
            ["http://h.com:1234/a", "http://h.com/a"]
        );
        assert_eq!(
            variants("HTTPS://h.com/a?").unwrap(),
            ["HTTPS://h.com/a?", "https://h.com/a", "https://h.com:443/a"]
        );
        assert_eq!(
            variants("https://h.com:0/a").unwrap(),
            ["https://h.com:0/a", "https://h.com:0:443/a"]
        );
        assert_eq!(
            variants("https://u:p@h.com:8443/a").unwrap(),
            ["https://u:p@h.com:8443/a", "https://u/a"]
        );
        assert_eq!(variants("https://h.com:x/a"), None);
        assert_eq!(variants("https://h.com:65536/a"), None);
        assert_eq!(variants("https://[::1/a"), None);
        assert_eq!(
            variants("https://h.com/a;?q#").unwrap(),
            [
                "https://h.com/a;?q#",
                "https://h.com/a?q",
                "https://h.com:443/a?q"
            ]
        );
    }

    #[test]
    fn query_value_like_parse_qs() {
        assert_eq!(
            query_value("a=1&bodySHA256=&bodySHA256=ab", "bodySHA256").as_deref(),
            Some("ab")
        );
        assert_eq!(
            query_value("body%53HA256=c+d", "bodySHA256").as_deref(),
            Some("c d")
        );
        assert_eq!(query_value("bodySHA256", "bodySHA256"), None);
    }
}
