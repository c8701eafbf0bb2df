//! The in-call tools the ElevenLabs agent calls as server (webhook) tools, one Lambda each.
//!
//! Route: `POST /tools/{business_id}/{tool}`. The business id is part of the URL fixed when
//! the agent is provisioned (never an LLM-filled value); the tool secret of that business
//! comes in `X-Frontdesk-Tool-Secret` (an ElevenLabs secret header) and is checked in
//! constant time against the SHA-256 hashes stored for the business.
//!
//! Answers: HTTP 200 with `{"ok": true, ...}`, or for an expected failure
//! `{"ok": false, "error": "<code>", "say": "<one sentence>", "alternatives": [...]}`.
//! Malformed JSON or a missing / mistyped field → 400 problem details; no or wrong secret →
//! 401 / 403 problem details with nothing read beyond the secret hashes.

mod handlers;
pub mod slot_token;
pub mod spec;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;

use crate::booking::BookingStore;
use crate::metrics::RoundTrips;
use crate::problem::{Problem, json_response};
use crate::secrets::SecretSource;
use crate::store::{BusinessStore, ToolProfile};

/// Header carrying the business's tool secret.
pub const SECRET_HEADER: &str = "x-frontdesk-tool-secret";
/// Largest accepted tool request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// How long a business's configuration and secret hashes are reused (`CONFIG_CACHE_SECONDS`).
pub const DEFAULT_CONFIG_TTL: Duration = Duration::from_secs(30);
/// A failed secret check re-reads the hashes at most this often (a rotated secret works at once).
const REFRESH_ON_DENY_AFTER: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tool {
    CheckAvailability,
    CreateBooking,
    UpdateBooking,
    FindBookings,
    UpsertContact,
    LogCall,
    TransferCall,
}

impl Tool {
    pub const ALL: [Tool; 7] = [
        Tool::CheckAvailability,
        Tool::CreateBooking,
        Tool::UpdateBooking,
        Tool::FindBookings,
        Tool::UpsertContact,
        Tool::LogCall,
        Tool::TransferCall,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::CheckAvailability => "check_availability",
            Tool::CreateBooking => "create_booking",
            Tool::UpdateBooking => "update_booking",
            Tool::FindBookings => "find_bookings",
            Tool::UpsertContact => "upsert_contact",
            Tool::LogCall => "log_call",
            Tool::TransferCall => "transfer_call",
        }
    }

    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Time source (tests pin "now").
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}
pub struct SystemClock;
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Per-container cache of business profiles.
#[derive(Default)]
struct ProfileCache {
    entries: RwLock<HashMap<String, (Instant, Arc<ToolProfile>)>>,
}

/// Everything a tool handler needs, built once per container.
pub struct ToolContext {
    pub businesses: Arc<dyn BusinessStore>,
    pub bookings: Arc<dyn BookingStore>,
    pub secrets: Arc<dyn SecretSource>,
    /// Secret holding the slot-id signing key.
    pub signing_secret_id: String,
    pub clock: Arc<dyn Clock>,
    pub config_ttl: Duration,
    pub round_trips: RoundTrips,
    /// `transfer_call` (register-call mode): Twilio's Calls API; `None` where not wired.
    pub transfers: Option<Arc<dyn crate::transfer::Transfers>>,
    /// `PUBLIC_BASE_URL`: the base of the URLs given to Twilio (else the API's domain).
    pub public_base_url: Option<String>,
    cache: ProfileCache,
}

impl ToolContext {
    pub fn new(
        businesses: Arc<dyn BusinessStore>,
        bookings: Arc<dyn BookingStore>,
        secrets: Arc<dyn SecretSource>,
        signing_secret_id: impl Into<String>,
    ) -> Self {
        Self {
            businesses,
            bookings,
            secrets,
            signing_secret_id: signing_secret_id.into(),
            clock: Arc::new(SystemClock),
            config_ttl: DEFAULT_CONFIG_TTL,
            round_trips: RoundTrips::default(),
            transfers: None,
            public_base_url: None,
            cache: ProfileCache::default(),
        }
    }

    pub fn with_transfers(
        mut self,
        transfers: Arc<dyn crate::transfer::Transfers>,
        public_base_url: Option<String>,
    ) -> Self {
        self.transfers = Some(transfers);
        self.public_base_url = public_base_url;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_round_trips(mut self, rt: RoundTrips) -> Self {
        self.round_trips = rt;
        self
    }

    /// Production wiring: `TABLE_NAME`, `SLOT_SIGNING_SECRET_ARN`, `CONFIG_CACHE_SECONDS`.
    pub async fn from_env() -> Result<Self, crate::env::ConfigError> {
        let table = crate::env::required("TABLE_NAME")?;
        let signing = crate::env::required("SLOT_SIGNING_SECRET_ARN")?;
        let ttl = crate::env::seconds("CONFIG_CACHE_SECONDS", DEFAULT_CONFIG_TTL.as_secs())?;
        let aws = crate::aws::AwsClients::from_env().await;
        let round_trips = RoundTrips::default();
        let dynamodb = round_trips.counted_client(aws.sdk_config());
        let mut ctx = Self::new(
            Arc::new(crate::store::dynamodb::DynamoStore::new(
                dynamodb.clone(),
                table.clone(),
            )),
            Arc::new(crate::booking::dynamodb::DynamoBookings::new(
                dynamodb, table,
            )),
            aws.cached_secrets(),
            signing,
        )
        .with_round_trips(round_trips);
        ctx.config_ttl = ttl;
        // transfer_call: TWILIO_SECRET_ARN (and TWILIO_API_BASE, PUBLIC_BASE_URL).
        if let Ok(twilio_secret) = std::env::var("TWILIO_SECRET_ARN")
            && !twilio_secret.is_empty()
        {
            let table = crate::env::required("TABLE_NAME")?;
            ctx.transfers = Some(Arc::new(crate::transfer::TwilioTransfers::new(
                Arc::new(crate::twilio::TwilioClient::from_env()),
                ctx.secrets.clone(),
                twilio_secret,
                aws.dynamodb(),
                table,
            )));
            ctx.public_base_url = std::env::var("PUBLIC_BASE_URL")
                .ok()
                .filter(|v| !v.trim().is_empty());
        }
        // Init has CPU to spare; the first caller should not pay for the metadata load.
        frontdesk_rules::phone::warm_up();
        Ok(ctx)
    }

    /// The business's profile, from the cache when fresh enough.
    async fn profile(
        &self,
        business_id: &str,
        max_age: Duration,
    ) -> Result<Option<Arc<ToolProfile>>, Problem> {
        if let Some((at, p)) = self.cache.entries.read().await.get(business_id)
            && at.elapsed() < max_age
        {
            return Ok(Some(p.clone()));
        }
        let loaded = self
            .businesses
            .tool_profile(business_id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "business store failure");
                Problem::unavailable("The configuration store is unavailable; retry shortly.")
            })?;
        let mut cache = self.cache.entries.write().await;
        match loaded {
            Some(p) => {
                let p = Arc::new(p);
                cache.insert(business_id.to_owned(), (Instant::now(), p.clone()));
                Ok(Some(p))
            }
            None => {
                cache.remove(business_id);
                Ok(None)
            }
        }
    }

    async fn signing_key(&self) -> Result<Vec<u8>, Problem> {
        self.secrets
            .secret_string(&self.signing_secret_id)
            .await
            .map(String::into_bytes)
            .map_err(|e| {
                tracing::error!(error = %e, "slot signing secret unavailable");
                Problem::unavailable("A credential is unavailable; retry shortly.")
            })
    }

    /// Authenticates the call: 401 without a secret, 403 when it is not this business's.
    async fn authenticate(
        &self,
        business_id: &str,
        secret: Option<&str>,
    ) -> Result<Arc<ToolProfile>, Problem> {
        let Some(secret) = secret.map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(Problem::unauthorized(format!(
                "Missing tool secret; send it in the {SECRET_HEADER} header."
            )));
        };
        let digest = Sha256::digest(secret.as_bytes());
        let now = self.clock.now();
        let matches = |p: &ToolProfile| {
            p.secrets.iter().fold(false, |ok, h| {
                let live = h.expires_at.is_none_or(|t| t > now);
                let stored = hex::decode(&h.sha256).unwrap_or_default();
                let eq =
                    stored.len() == digest.len() && bool::from(stored.ct_eq(digest.as_slice()));
                ok | (eq && live)
            })
        };
        let forbidden = || {
            Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                "This tool secret is not valid for this business.",
            )
        };
        if let Some(p) = self.profile(business_id, self.config_ttl).await?
            && matches(&p)
        {
            return Ok(p);
        }
        // A secret rotated a moment ago: re-read the hashes (bounded), then decide.
        match self.profile(business_id, REFRESH_ON_DENY_AFTER).await? {
            Some(p) if matches(&p) => Ok(p),
            _ => Err(forbidden()),
        }
    }
}

/// An expected failure, spoken by the agent.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Failure {
    pub ok: bool,
    pub error: &'static str,
    pub say: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Value>,
}

impl Failure {
    pub fn new(error: &'static str, say: String) -> Self {
        Self {
            ok: false,
            error,
            say,
            alternatives: vec![],
        }
    }
    pub fn with_alternatives(mut self, alternatives: Vec<Value>) -> Self {
        self.alternatives = alternatives;
        self
    }
}

/// What a tool produced: an answer (ok or expected failure), or a problem (400/401/403/503).
pub(crate) enum Outcome {
    Answer(Value),
    Problem(Problem),
}

impl From<Problem> for Outcome {
    fn from(p: Problem) -> Self {
        Outcome::Problem(p)
    }
}
impl From<Failure> for Outcome {
    fn from(f: Failure) -> Self {
        Outcome::Answer(serde_json::to_value(f).expect("failure serializes"))
    }
}

/// The Lambda handler of one tool: never fails; every error is an answer or a problem.
pub async fn handle(
    ctx: &ToolContext,
    tool: Tool,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let trips_before = ctx.round_trips.get();
    let outcome = run(ctx, tool, &req).await;
    let (resp, ok, error) = match outcome {
        Outcome::Answer(v) => {
            let ok = v.get("ok").and_then(Value::as_bool).unwrap_or(false);
            let error = v.get("error").and_then(Value::as_str).map(str::to_owned);
            (json_response(StatusCode::OK, &v, &[]), ok, error)
        }
        Outcome::Problem(p) => {
            let slug = p.slug.to_owned();
            (p.into_response(), false, Some(slug))
        }
    };
    tracing::info!(
        tool = tool.name(),
        status = resp.status().as_u16(),
        ok,
        error = error.as_deref().unwrap_or(""),
        dynamodb_round_trips = ctx.round_trips.get() - trips_before,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "tool call"
    );
    Ok(resp)
}

async fn run(ctx: &ToolContext, tool: Tool, req: &Request) -> Outcome {
    // /tools/{business_id}/{tool}
    let segments: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    let business_id = match segments.as_slice() {
        ["tools", business_id, name] if *name == tool.name() => (*business_id).to_owned(),
        _ => {
            return Problem::not_found(format!(
                "This function serves POST /tools/{{business_id}}/{}.",
                tool.name()
            ))
            .into();
        }
    };
    if req.method() != http::Method::POST {
        return Problem::method_not_allowed("POST").into();
    }
    let secret = req
        .headers()
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok());
    let profile = match ctx.authenticate(&business_id, secret).await {
        Ok(p) => p,
        Err(p) => return p.into(),
    };
    let body = match crate::request::json_body(req, &["application/json"], MAX_BODY_BYTES) {
        Ok(v) => v,
        Err(p) => return p.into(),
    };
    if !body.is_object() {
        return Problem::bad_request("The request body must be a JSON object.").into();
    }
    let base = ctx.public_base_url.clone().or_else(|| {
        use lambda_http::RequestExt;
        use lambda_http::request::RequestContext;
        match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(c)) => {
                c.domain_name.as_ref().map(|d| format!("https://{d}"))
            }
            _ => None,
        }
    });
    handlers::dispatch(ctx, tool, &profile, body, base).await
}
