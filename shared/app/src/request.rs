//! Reading request bodies (shared by the admin API and the tools).

use http::header;
use lambda_http::Request;
use serde_json::Value;

use crate::problem::Problem;

/// Reads the body as JSON: 413 over the limit, 415 for another media type, 400 when malformed.
pub fn json_body(req: &Request, accepted: &[&str], max_bytes: usize) -> Result<Value, Problem> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > max_bytes {
        return Err(Problem::payload_too_large(max_bytes));
    }
    if let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !accepted.contains(&media.as_str()) {
            return Err(Problem::unsupported_media_type(format!(
                "Content-Type {media:?} is not accepted here; send {}.",
                accepted.join(" or ")
            )));
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::malformed_json(
            "The request body is empty; send a JSON object.",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Problem::malformed_json(format!("The request body is not valid JSON: {e}.")))
}
