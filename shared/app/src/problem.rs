//! RFC 9457 problem details: every error answer on HTTP is one of these.

use frontdesk_rules::FieldError;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// Base of every problem `type` URI; the slugs are listed in docs/api.md.
pub const TYPE_BASE: &str = "urn:frontdesk:problem:";

/// A problem answer: status, stable type slug, human title and detail, and optional field errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub headers: Vec<(header::HeaderName, String)>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    type_uri: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl Problem {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            detail,
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
        .with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"frontdesk-admin\"")
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn method_not_allowed(allow: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("This resource supports {allow}."),
        )
        .with_header(header::ALLOW, allow)
    }

    pub fn conflict(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, "Conflict", detail)
    }

    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition failed",
            detail,
        )
    }

    pub fn precondition_required(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "Precondition required",
            detail,
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let n = errors.len();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid business configuration",
            format!(
                "{n} field{} failed validation; see `errors`.",
                if n == 1 { "" } else { "s" }
            ),
        )
        .with_errors(errors)
    }

    /// A dependency (DynamoDB, Secrets Manager) failed: the client may retry.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
        .with_header(header::RETRY_AFTER, "1")
    }

    pub fn type_uri(&self) -> String {
        format!("{TYPE_BASE}{}", self.slug)
    }

    pub fn into_response(self) -> Response<Body> {
        let body = ProblemBody {
            type_uri: self.type_uri(),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            errors: &self.errors,
        };
        let json = serde_json::to_string(&body).expect("problem serializes");
        let mut resp = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/problem+json")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::Text(json))
            .expect("valid response");
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().append(name, v);
            }
        }
        resp
    }
}

/// A JSON answer with extra headers.
pub fn json_response(
    status: StatusCode,
    value: &impl Serialize,
    headers: &[(header::HeaderName, String)],
) -> Response<Body> {
    let json = serde_json::to_string(value).expect("response serializes");
    let mut resp = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(json))
        .expect("valid response");
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            resp.headers_mut().append(name.clone(), v);
        }
    }
    resp
}

/// An empty answer (204, 304) with headers.
pub fn empty_response(
    status: StatusCode,
    headers: &[(header::HeaderName, String)],
) -> Response<Body> {
    let mut resp = Response::builder()
        .status(status)
        .body(Body::Empty)
        .expect("valid response");
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            resp.headers_mut().append(name.clone(), v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_body_follows_rfc_9457() {
        let resp = Problem::validation(vec![FieldError {
            pointer: "/profile/name".into(),
            detail: "must not be empty".into(),
        }])
        .into_response();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert_eq!(body["type"], "urn:frontdesk:problem:validation");
        assert_eq!(body["status"], 422);
        assert_eq!(body["title"], "Invalid business configuration");
        assert_eq!(body["errors"][0]["pointer"], "/profile/name");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("1 field failed")
        );
    }

    #[test]
    fn unauthorized_carries_www_authenticate() {
        let resp = Problem::unauthorized("missing token").into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(
            resp.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert!(body.get("errors").is_none());
    }
}
