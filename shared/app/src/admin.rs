//! The admin API: business configuration CRUD.
//!
//! Routes (template.yaml, AdminApiFunction):
//! - `POST   /admin/businesses`                 create (201, Location, ETag)
//! - `GET    /admin/businesses`                 list (`?limit=1..100&cursor=`)
//! - `GET    /admin/businesses/{business_id}`   read (ETag; If-None-Match → 304)
//! - `PUT    /admin/businesses/{business_id}`   replace (If-Match required)
//! - `PATCH  /admin/businesses/{business_id}`   JSON merge patch, RFC 7396 (If-Match required)
//! - `DELETE /admin/businesses/{business_id}`   delete (If-Match required)
//! - `POST   /admin/businesses/{business_id}/tool-secret`  new tool secret, shown once (`?grace_hours=`)
//! - `GET    /admin/businesses/{business_id}/voice-agent`  what to configure on the ElevenLabs
//!   agent: dynamic variables, server tools, and the `transfer_to_number` system tool (native
//!   mode) rendered from the transfer rules
//!
//! Every request is authenticated before anything is parsed, read or written.

use std::sync::Arc;

use chrono::Utc;
use frontdesk_rules::{BusinessConfig, FieldError, parse_business_config};
use http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;

use crate::auth::AdminAuth;
use crate::problem::{Problem, empty_response, json_response};
use crate::store::{BusinessRecord, BusinessStore, StoreError};

/// Largest accepted request body (a full configuration with many FAQs fits easily).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Page size of the business list: default and maximum.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 100;

/// Everything the admin handler needs, built once per container.
pub struct AdminContext {
    pub store: Arc<dyn BusinessStore>,
    pub auth: AdminAuth,
}

impl AdminContext {
    pub fn new(store: Arc<dyn BusinessStore>, auth: AdminAuth) -> Self {
        Self { store, auth }
    }

    /// Production wiring from the function's environment (`TABLE_NAME`, `ADMIN_TOKEN_SECRET_ARN`).
    pub async fn from_env() -> Result<Self, crate::env::ConfigError> {
        let table = crate::env::required("TABLE_NAME")?;
        let secret_id = crate::env::required("ADMIN_TOKEN_SECRET_ARN")?;
        let aws = crate::aws::AwsClients::from_env().await;
        Ok(Self::new(
            Arc::new(crate::store::dynamodb::DynamoStore::new(
                aws.dynamodb(),
                table,
            )),
            AdminAuth::new(aws.cached_secrets(), secret_id),
        ))
    }
}

/// The Lambda handler: never fails, every error is a problem response.
pub async fn handle(
    ctx: &AdminContext,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = match route(ctx, req).await {
        Ok(resp) => resp,
        Err(problem) => problem.into_response(),
    };
    tracing::info!(%method, %path, status = resp.status().as_u16(), "admin request");
    Ok(resp)
}

async fn route(ctx: &AdminContext, req: Request) -> Result<Response<Body>, Problem> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    ctx.auth.check(authorization).await?;

    let segments: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["admin", "businesses"] => match *req.method() {
            Method::POST => create(ctx, &req).await,
            Method::GET => list(ctx, &req).await,
            _ => Err(Problem::method_not_allowed("GET, POST")),
        },
        ["admin", "businesses", id] => {
            let id = (*id).to_owned();
            match *req.method() {
                Method::GET => read(ctx, &req, &id).await,
                Method::PUT => replace(ctx, &req, &id).await,
                Method::PATCH => patch(ctx, &req, &id).await,
                Method::DELETE => delete(ctx, &req, &id).await,
                _ => Err(Problem::method_not_allowed("GET, PUT, PATCH, DELETE")),
            }
        }
        ["admin", "businesses", id, "voice-agent"] => {
            let id = (*id).to_owned();
            match *req.method() {
                Method::GET => voice_agent(ctx, &id).await,
                _ => Err(Problem::method_not_allowed("GET")),
            }
        }
        ["admin", "businesses", id, "tool-secret"] => {
            let id = (*id).to_owned();
            match *req.method() {
                Method::POST => rotate_tool_secret(ctx, &req, &id).await,
                _ => Err(Problem::method_not_allowed("POST")),
            }
        }
        _ => Err(Problem::not_found(format!(
            "No admin resource at {}.",
            req.uri().path()
        ))),
    }
}

// ------------------------------------------------------------------ handlers

async fn create(ctx: &AdminContext, req: &Request) -> Result<Response<Body>, Problem> {
    let mut doc = json_body(req, &["application/json"])?;
    let id = match take_metadata(&mut doc)? {
        Some(id) => id,
        None => new_business_id(
            doc.pointer("/profile/name")
                .and_then(Value::as_str)
                .unwrap_or("business"),
        ),
    };
    let config = parse_business_config(doc).map_err(Problem::validation)?;
    let now = Utc::now();
    let record = BusinessRecord {
        id: id.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
        config,
    };
    ctx.store
        .create(&record)
        .await
        .map_err(|e| store_problem(e, &record.config))?;
    tracing::info!(business_id = %id, "business created");
    Ok(json_response(
        StatusCode::CREATED,
        &Representation::of(&record),
        &[
            (header::LOCATION, format!("/admin/businesses/{id}")),
            (header::ETAG, etag(&record)),
        ],
    ))
}

async fn list(ctx: &AdminContext, req: &Request) -> Result<Response<Body>, Problem> {
    let query = req.query_string_parameters_ref();
    let limit = match query.and_then(|q| q.first("limit")) {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                Problem::bad_request(format!(
                    "`limit` must be a whole number from 1 to {MAX_PAGE}."
                ))
            })?,
    };
    let cursor = query.and_then(|q| q.first("cursor"));
    let page = ctx.store.list(limit, cursor).await.map_err(|e| match e {
        StoreError::BadCursor => {
            Problem::bad_request("`cursor` is not a cursor this API returned.")
        }
        other => store_unavailable(other),
    })?;
    #[derive(Serialize)]
    struct Page<'a> {
        items: Vec<Representation<'a>>,
        next_cursor: Option<String>,
    }
    Ok(json_response(
        StatusCode::OK,
        &Page {
            items: page.items.iter().map(Representation::of).collect(),
            next_cursor: page.next,
        },
        &[],
    ))
}

async fn read(ctx: &AdminContext, req: &Request, id: &str) -> Result<Response<Body>, Problem> {
    let record = load(ctx, id).await?;
    let tag = etag(&record);
    if let Some(inm) = header_str(req, header::IF_NONE_MATCH)
        && etag_list_matches(inm, &tag)
    {
        return Ok(empty_response(
            StatusCode::NOT_MODIFIED,
            &[(header::ETAG, tag)],
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &Representation::of(&record),
        &[(header::ETAG, tag)],
    ))
}

/// `GET /admin/businesses/{id}/voice-agent`: the agent configuration the business needs in
/// ElevenLabs. Native mode: `built_in_tools.transfer_to_number` from the transfer rules (paste
/// into `conversation_config.agent.prompt.built_in_tools`); register-call mode: the
/// `transfer_call` server tool instead (ElevenLabs can't transfer those calls).
async fn voice_agent(ctx: &AdminContext, id: &str) -> Result<Response<Body>, Problem> {
    use frontdesk_rules::TelephonyMode;
    use frontdesk_rules::call_entry;
    let record = load(ctx, id).await?;
    let config = &record.config;
    let mut built_in = serde_json::Map::new();
    if let Some(tool) = call_entry::transfer_to_number_tool(config) {
        built_in.insert("transfer_to_number".into(), tool);
    }
    let register = config.telephony.mode == TelephonyMode::RegisterCall;
    let tools: Vec<_> = crate::tools::Tool::ALL
        .into_iter()
        .filter(|t| register || *t != crate::tools::Tool::TransferCall)
        .map(crate::tools::spec::spec)
        .collect();
    let body = serde_json::json!({
        "business_id": id,
        "mode": config.telephony.mode,
        "agent_id": config.telephony.agent_id,
        "dynamic_variables": call_entry::VARIABLES,
        "built_in_tools": built_in,
        "tools": tools,
        "transfer_rules": config.telephony.transfer_rules(),
    });
    Ok(json_response(StatusCode::OK, &body, &[]))
}

async fn replace(ctx: &AdminContext, req: &Request, id: &str) -> Result<Response<Body>, Problem> {
    let if_match = require_if_match(req)?;
    let mut doc = json_body(req, &["application/json"])?;
    check_body_id(take_metadata(&mut doc)?, id)?;
    let config = parse_business_config(doc).map_err(Problem::validation)?;
    let current = load(ctx, id).await?;
    check_if_match(&if_match, &current)?;
    write_new_version(ctx, current, config).await
}

async fn patch(ctx: &AdminContext, req: &Request, id: &str) -> Result<Response<Body>, Problem> {
    let if_match = require_if_match(req)?;
    let patch = json_body(req, &["application/merge-patch+json", "application/json"])?;
    if !patch.is_object() {
        return Err(Problem::validation(vec![FieldError {
            pointer: String::new(),
            detail: "A merge patch must be a JSON object.".into(),
        }]));
    }
    let current = load(ctx, id).await?;
    check_if_match(&if_match, &current)?;
    let mut doc =
        serde_json::to_value(Representation::of(&current)).expect("representation serializes");
    json_patch::merge(&mut doc, &patch);
    check_body_id(take_metadata(&mut doc)?, id)?;
    let config = parse_business_config(doc).map_err(Problem::validation)?;
    write_new_version(ctx, current, config).await
}

async fn delete(ctx: &AdminContext, req: &Request, id: &str) -> Result<Response<Body>, Problem> {
    let if_match = require_if_match(req)?;
    let current = load(ctx, id).await?;
    check_if_match(&if_match, &current)?;
    ctx.store
        .delete(&current)
        .await
        .map_err(|e| store_problem(e, &current.config))?;
    tracing::info!(business_id = %id, "business deleted");
    Ok(empty_response(StatusCode::NO_CONTENT, &[]))
}

async fn write_new_version(
    ctx: &AdminContext,
    current: BusinessRecord,
    config: BusinessConfig,
) -> Result<Response<Body>, Problem> {
    let next = BusinessRecord {
        id: current.id.clone(),
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: Utc::now(),
        config,
    };
    ctx.store
        .replace(&current, &next)
        .await
        .map_err(|e| store_problem(e, &next.config))?;
    tracing::info!(business_id = %next.id, version = next.version, "business updated");
    Ok(json_response(
        StatusCode::OK,
        &Representation::of(&next),
        &[(header::ETAG, etag(&next))],
    ))
}

// ------------------------------------------------------------ representation

/// The JSON a client sees: metadata, then the configuration's sections.
#[derive(Serialize)]
struct Representation<'a> {
    id: &'a str,
    version: u64,
    created_at: String,
    updated_at: String,
    #[serde(flatten)]
    config: &'a BusinessConfig,
}

impl<'a> Representation<'a> {
    fn of(r: &'a BusinessRecord) -> Self {
        Self {
            id: &r.id,
            version: r.version,
            created_at: r
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            updated_at: r
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            config: &r.config,
        }
    }
}

/// Metadata fields a client may send back unchanged; they are never taken from a body.
const READ_ONLY: [&str; 3] = ["version", "created_at", "updated_at"];

/// Removes the metadata from a document and returns its `id`, if any.
fn take_metadata(doc: &mut Value) -> Result<Option<String>, Problem> {
    let Some(obj) = doc.as_object_mut() else {
        return Err(Problem::validation(vec![FieldError {
            pointer: String::new(),
            detail: "The business configuration must be a JSON object.".into(),
        }]));
    };
    for key in READ_ONLY {
        obj.remove(key);
    }
    match obj.remove("id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if is_valid_business_id(&id) => Ok(Some(id)),
        Some(_) => Err(Problem::validation(vec![FieldError {
            pointer: "/id".into(),
            detail: "`id` must be 3 to 64 characters of lower-case letters, digits and dashes, starting and ending with a letter or digit.".into(),
        }])),
    }
}

fn check_body_id(body_id: Option<String>, path_id: &str) -> Result<(), Problem> {
    match body_id {
        Some(id) if id != path_id => Err(Problem::validation(vec![FieldError {
            pointer: "/id".into(),
            detail: format!(
                "`id` is {id:?} but the URL names business {path_id:?}; a business id cannot change."
            ),
        }])),
        _ => Ok(()),
    }
}

pub fn is_valid_business_id(id: &str) -> bool {
    let b = id.as_bytes();
    (3..=64).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A readable, unique id from the business name: `smile-dental-4f2a9c`.
fn new_business_id(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    if slug.is_empty() {
        format!("biz-{suffix}")
    } else {
        format!("{slug}-{suffix}")
    }
}

/// Default time a replaced tool secret keeps working, so the agent's secret can be updated.
pub const TOOL_SECRET_GRACE_HOURS: i64 = 24;

/// `POST /admin/businesses/{id}/tool-secret[?grace_hours=N]`: issues a new tool secret (shown
/// once; only its SHA-256 is stored), or installs the one sent as `{"tool_secret": "..."}`
/// (16 to 256 printable ASCII characters, e.g. a secret already stored in ElevenLabs).
/// Earlier secrets keep working for `grace_hours` (default 24, 0 revokes them at once).
async fn rotate_tool_secret(
    ctx: &AdminContext,
    req: &Request,
    id: &str,
) -> Result<Response<Body>, Problem> {
    let grace = match req
        .query_string_parameters_ref()
        .and_then(|q| q.first("grace_hours"))
    {
        None => TOOL_SECRET_GRACE_HOURS,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|h| (0..=720).contains(h))
            .ok_or_else(|| {
                Problem::bad_request("`grace_hours` must be a whole number from 0 to 720.")
            })?,
    };
    let chosen = if req.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let doc = json_body(req, &["application/json"])?;
        match doc.get("tool_secret") {
            Some(Value::String(s))
                if (16..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Some(s.clone())
            }
            _ => {
                return Err(Problem::validation(vec![FieldError::new(
                    "/tool_secret",
                    "`tool_secret` must be a string of 16 to 256 printable ASCII characters without spaces (or send no body to get a generated one)",
                )]));
            }
        }
    };
    let profile = ctx
        .store
        .tool_profile(id)
        .await
        .map_err(store_unavailable)?
        .ok_or_else(|| Problem::not_found(format!("There is no business with id {id:?}.")))?;
    let now = Utc::now();
    let until = now + chrono::Duration::hours(grace);
    let mut hashes: Vec<crate::store::ToolSecretHash> = profile
        .secrets
        .into_iter()
        .filter(|h| h.expires_at.is_none_or(|t| t > now) && grace > 0)
        .map(|mut h| {
            h.expires_at = Some(h.expires_at.map_or(until, |t| t.min(until)));
            h
        })
        .collect();
    let secret = chosen.unwrap_or_else(new_tool_secret);
    hashes.retain(|h| h.sha256 != crate::idempotency::hex_sha256(secret.as_bytes()));
    hashes.push(crate::store::ToolSecretHash {
        sha256: crate::idempotency::hex_sha256(secret.as_bytes()),
        created_at: now,
        expires_at: None,
    });
    ctx.store
        .set_tool_secrets(id, &hashes)
        .await
        .map_err(|e| store_problem(e, &profile.business.config))?;
    tracing::info!(business_id = %id, grace_hours = grace, "tool secret rotated");
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({
            "business_id": id,
            "tool_secret": secret,
            "header": crate::tools::SECRET_HEADER,
            "previous_secrets_valid_until": (grace > 0 && hashes.len() > 1).then_some(until),
            "tool_base_path": format!("/tools/{id}/"),
        }),
        &[],
    ))
}

/// 244 random bits (two v4 UUIDs from the OS generator), base64url, with a recognisable prefix.
fn new_tool_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!(
        "fdt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

// ---------------------------------------------------------------- requests

fn header_str(req: &Request, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn json_body(req: &Request, accepted: &[&str]) -> Result<Value, Problem> {
    crate::request::json_body(req, accepted, MAX_BODY_BYTES)
}

fn etag(record: &BusinessRecord) -> String {
    format!("\"{}\"", record.version)
}

fn require_if_match(req: &Request) -> Result<String, Problem> {
    header_str(req, header::IF_MATCH).map(str::to_owned).ok_or_else(|| {
        Problem::precondition_required(
            "Send If-Match with the ETag from your last read, so that concurrent changes are not overwritten.",
        )
    })
}

fn check_if_match(if_match: &str, current: &BusinessRecord) -> Result<(), Problem> {
    let tag = etag(current);
    if if_match.trim() == "*" || etag_list_matches(if_match, &tag) {
        Ok(())
    } else {
        Err(stale(current))
    }
}

fn stale(current: &BusinessRecord) -> Problem {
    Problem::precondition_failed(format!(
        "Business {} has changed since you read it (it is now at version {}); read it again and re-apply your change.",
        current.id, current.version
    ))
    .with_header(header::ETAG, etag(current))
}

/// Strong comparison against a comma-separated list of entity tags (weak tags never match).
fn etag_list_matches(list: &str, tag: &str) -> bool {
    list.split(',').map(str::trim).any(|t| t == tag || t == "*")
}

async fn load(ctx: &AdminContext, id: &str) -> Result<BusinessRecord, Problem> {
    ctx.store
        .get(id)
        .await
        .map_err(store_unavailable)?
        .ok_or_else(|| Problem::not_found(format!("There is no business with id {id:?}.")))
}

fn store_unavailable(e: StoreError) -> Problem {
    tracing::error!(error = %e, "store failure");
    Problem::unavailable("The configuration store is unavailable; retry shortly.")
}

fn store_problem(e: StoreError, config: &BusinessConfig) -> Problem {
    match e {
        StoreError::AlreadyExists(id) => Problem::conflict(
            "business-exists",
            format!("A business with id {id:?} already exists."),
        ),
        StoreError::NotFound(id) => {
            Problem::not_found(format!("There is no business with id {id:?}."))
        }
        StoreError::VersionMismatch(id) => Problem::precondition_failed(format!(
            "Business {id} was changed by another request while this one was applied; read it again and re-apply your change."
        )),
        StoreError::NumberTaken { number, owner } => {
            let pointer = config
                .phone_numbers()
                .iter()
                .position(|n| *n == number)
                .map(|i| format!("/telephony/numbers/{i}"))
                .unwrap_or_else(|| "/telephony/numbers".into());
            Problem::conflict(
                "number-taken",
                format!("Phone number {number} already belongs to business {owner:?}; a number can belong to only one business."),
            )
            .with_errors(vec![FieldError { pointer, detail: format!("{number} belongs to business {owner:?}") }])
        }
        other => store_unavailable(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_ids() {
        assert!(is_valid_business_id("smile-dental"));
        assert!(is_valid_business_id("a1b"));
        assert!(!is_valid_business_id("ab"));
        assert!(!is_valid_business_id("-abc"));
        assert!(!is_valid_business_id("abc-"));
        assert!(!is_valid_business_id("Abc"));
        assert!(!is_valid_business_id("a_bc"));
        assert!(!is_valid_business_id(&"a".repeat(65)));
        let id = new_business_id("Smile Dental & Co.");
        assert!(id.starts_with("smile-dental-co-"), "{id}");
        assert!(is_valid_business_id(&id));
        assert!(is_valid_business_id(&new_business_id("!!!")));
        assert!(is_valid_business_id(&new_business_id(&"x".repeat(100))));
    }

    #[test]
    fn etag_matching_is_strong() {
        assert!(etag_list_matches("\"3\"", "\"3\""));
        assert!(etag_list_matches("\"1\", \"3\"", "\"3\""));
        assert!(etag_list_matches("*", "\"3\""));
        assert!(!etag_list_matches("W/\"3\"", "\"3\""));
        assert!(!etag_list_matches("\"4\"", "\"3\""));
        assert!(!etag_list_matches("3", "\"3\""));
    }
}
