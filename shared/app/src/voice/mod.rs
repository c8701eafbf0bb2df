//! Twilio voice webhooks (docs/call-entry.md):
//!
//! - [`inbound`]: `voice-inbound` (register-call mode: the number's "A call comes in" URL) and
//!   `voice-fallback` (the number's fallback URL, either mode; and the `<Dial action>` of every
//!   transfer).
//! - [`voicemail`]: `voicemail`, the `<Record>` callbacks: a call record with disposition
//!   voicemail through the post-call chain (CRM follow-up task, recap text to the caller,
//!   notice to the business).
//! - [`status`]: `call-status`, Twilio's call status callbacks → answer-rate counters.
//!
//! Every request is verified with `X-Twilio-Signature` first (403, nothing done). The URLs we
//! hand to Twilio carry the business id (`?b=`), covered by the signature.

pub mod dynamodb;
pub mod inbound;
pub mod status;
pub mod voicemail;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use frontdesk_rules::BusinessConfig;
use frontdesk_rules::twiml::{FallbackUrls, RingStaffUrls, VoicemailUrls};
use lambda_http::Request;
use serde::{Deserialize, Serialize};

use crate::call_entry::CallEntry;
use crate::elevenlabs::{CircuitBreaker, ElevenLabsClient, Guarded, VoiceAi};
use crate::postcall::PipelineError;
use crate::postcall::webhook::Pipeline;
use crate::problem::Problem;

/// What we answered Twilio for one step of one call (`ENTRY#<step>` under the call): the
/// CallSid idempotency record, and who called whom for the voicemail callbacks (which don't
/// carry `From` / `To`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EntryRecord {
    pub business_id: String,
    pub call_sid: String,
    /// `inbound`, `agent` or `fallback`.
    pub step: String,
    /// Twilio's `From` as received.
    #[serde(default)]
    pub from: Option<String>,
    /// Twilio's `To` as received.
    #[serde(default)]
    pub to: Option<String>,
    /// `agent`, `voicemail`, `ring_staff_first`, `fallback`; empty while being decided.
    #[serde(default)]
    pub route: String,
    /// Why the fallback was used (`timeout`, `error`, `circuit_open`, ...), if it was.
    #[serde(default)]
    pub fallback_reason: Option<String>,
    /// The TwiML returned (replayed to a retry).
    #[serde(default)]
    pub twiml: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The call-entry items.
#[async_trait]
pub trait VoiceLog: Send + Sync {
    /// Takes `(business, call_sid, step)`: `None` = ours to answer; `Some(existing)` = another
    /// delivery of the same webhook took it first (its `twiml` is set once answered).
    async fn claim(&self, entry: &EntryRecord) -> Result<Option<EntryRecord>, PipelineError>;

    /// Stores the answer of a claimed entry.
    async fn answered(&self, entry: &EntryRecord) -> Result<(), PipelineError>;

    async fn entry(
        &self,
        business_id: &str,
        call_sid: &str,
        step: &str,
    ) -> Result<Option<EntryRecord>, PipelineError>;

    /// Every entry of a call (to find who called).
    async fn entries(
        &self,
        business_id: &str,
        call_sid: &str,
    ) -> Result<Vec<EntryRecord>, PipelineError>;

    /// Adds Twilio's transcription to the voicemail of a stored call. `false` when the call
    /// has no voicemail record yet.
    async fn add_transcription(
        &self,
        business_id: &str,
        call_id: &str,
        text: &str,
    ) -> Result<bool, PipelineError>;
}

/// Everything the voice functions use; built once per container.
pub struct Voice {
    pub entry: CallEntry,
    pub log: Arc<dyn VoiceLog>,
    pub voice_ai: Arc<dyn VoiceAi>,
    /// How long a concurrent delivery of the same CallSid waits for the first one's answer.
    pub replay_wait: Duration,
    /// Delay of the post-call job of a voicemail that will be transcribed, so the
    /// transcription is in the record when the chain reads it (it is added whenever it
    /// arrives).
    pub transcription_wait: Duration,
}

impl Voice {
    pub fn new(entry: CallEntry, log: Arc<dyn VoiceLog>, voice_ai: Arc<dyn VoiceAi>) -> Self {
        Self {
            entry,
            log,
            voice_ai,
            replay_wait: Duration::from_secs(3),
            transcription_wait: Duration::from_secs(60),
        }
    }

    /// Production wiring: the pipeline's environment plus `ELEVENLABS_API_BASE` and
    /// `VOICEMAIL_TRANSCRIPTION_WAIT_SECONDS` (default 60).
    pub async fn from_env() -> Result<Self, crate::env::ConfigError> {
        let entry = CallEntry::from_env().await?;
        let table = crate::env::required("TABLE_NAME")?;
        let aws = crate::aws::AwsClients::from_env().await;
        let log = Arc::new(crate::postcall::dynamodb::DynamoPipeline::new(
            aws.dynamodb(),
            table,
        ));
        let voice_ai = Arc::new(Guarded {
            inner: ElevenLabsClient::from_env(),
            breaker: CircuitBreaker::default(),
        });
        let mut v = Self::new(entry, log, voice_ai);
        v.transcription_wait = crate::env::seconds("VOICEMAIL_TRANSCRIPTION_WAIT_SECONDS", 60)?
            .min(crate::queue::MAX_DELAY);
        Ok(v)
    }

    pub fn p(&self) -> &Pipeline {
        &self.entry.p
    }
}

/// The absolute URLs we give Twilio for a business's calls.
#[derive(Clone, Debug)]
pub struct VoiceUrls {
    base: String,
    business_id: String,
}

/// Routes (template.yaml).
pub mod routes {
    pub const INBOUND: &str = "/webhooks/twilio/voice";
    pub const AGENT: &str = "/webhooks/twilio/voice/agent";
    pub const AFTER_RING_STAFF: &str = "/webhooks/twilio/voice/after-ring-staff";
    pub const FALLBACK: &str = "/webhooks/twilio/voice/fallback";
    pub const AFTER_DIAL: &str = "/webhooks/twilio/voice/after-dial";
    pub const RECORDED: &str = "/webhooks/twilio/voicemail/recorded";
    pub const RECORDING: &str = "/webhooks/twilio/voicemail/recording";
    pub const TRANSCRIPTION: &str = "/webhooks/twilio/voicemail/transcription";
    pub const CALL_STATUS: &str = "/webhooks/twilio/call-status";
}

impl VoiceUrls {
    pub fn new(base: &str, business_id: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            business_id: business_id.to_owned(),
        }
    }

    /// `base` + `route` + `?b=<business id>` (business ids are URL-safe slugs).
    pub fn url(&self, route: &str) -> String {
        format!("{}{route}?b={}", self.base, self.business_id)
    }

    pub fn voicemail(&self) -> VoicemailUrls {
        VoicemailUrls {
            recording_done: self.url(routes::RECORDED),
            recording_status: self.url(routes::RECORDING),
            transcription: self.url(routes::TRANSCRIPTION),
        }
    }

    pub fn fallback(&self) -> FallbackUrls {
        FallbackUrls {
            after_dial: self.url(routes::AFTER_DIAL),
            voicemail: self.voicemail(),
        }
    }

    pub fn ring_staff(&self) -> RingStaffUrls {
        RingStaffUrls {
            after_dial: self.url(routes::AFTER_RING_STAFF),
            agent: self.url(routes::AGENT),
        }
    }
}

/// The business a Twilio voice request is for: `?b=` of the URLs we built, else the
/// number called (`To`; `From` for outbound calls), cached for 30 s per container.
pub(crate) async fn business_of(
    v: &Voice,
    req: &Request,
    form: &[(String, String)],
) -> Result<Option<(String, BusinessConfig)>, Problem> {
    let p = v.p();
    let unavailable = |e: String| {
        tracing::error!(error = %e, "business lookup failed");
        Problem::unavailable("The configuration store is unavailable; please retry.")
    };
    let from_query =
        frontdesk_verify::twilio::parse_form(req.uri().query().unwrap_or("").as_bytes())
            .ok()
            .and_then(|q| q.into_iter().find(|(k, _)| k == "b").map(|(_, v)| v))
            .filter(|b| crate::admin::is_valid_business_id(b));
    if let Some(id) = from_query {
        return match p.businesses.get(&id).await {
            Ok(Some(record)) => Ok(Some((id, record.config))),
            Ok(None) => Ok(None),
            Err(e) => Err(unavailable(e.to_string())),
        };
    }
    let param = |name| crate::postcall::sms_webhooks::param(form, name);
    let outbound = param("Direction").is_some_and(|d| d.starts_with("outbound"));
    let ours = if outbound { param("From") } else { param("To") };
    let Some(e164) = ours.and_then(|n| frontdesk_rules::phone::normalize(n, None).ok()) else {
        return Ok(None);
    };
    // Cached per container like call-init's (the phone is ringing).
    Ok(v.entry
        .route(&e164)
        .await
        .map_err(unavailable)?
        .map(|(id, config)| (id, (*config).clone())))
}

/// The request's path as API Gateway received it (not re-encoded; requests built in-process
/// have none: their URI's), without a trailing slash.
pub(crate) fn path_of(req: &Request) -> String {
    use lambda_http::RequestExt;
    let path = match req.raw_http_path() {
        "" => req.uri().path(),
        raw => raw,
    };
    path.trim_end_matches('/').to_owned()
}

/// The first of `served` that `path` ends with (list longer routes first).
pub(crate) fn route_of(path: &str, served: &[&'static str]) -> Option<&'static str> {
    served.iter().copied().find(|r| path.ends_with(r))
}

/// 404 for a path a function doesn't serve, naming the ones it does.
pub(crate) fn no_route(served: &[&str]) -> Problem {
    Problem::not_found(format!("This function serves {}.", served.join(", ")))
}

/// The answer of a voice function (a problem as its response), logged with the path,
/// status and time taken.
pub(crate) fn logged(
    what: &str,
    path: &str,
    started: std::time::Instant,
    result: Result<lambda_http::Response<lambda_http::Body>, Problem>,
) -> lambda_http::Response<lambda_http::Body> {
    let resp = result.unwrap_or_else(Problem::into_response);
    tracing::info!(
        %path,
        status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "{what}"
    );
    resp
}

/// The CallSid of a voice request (`CA` + 32 hex digits), or 400.
pub(crate) fn call_sid(form: &[(String, String)]) -> Result<String, Problem> {
    match crate::postcall::sms_webhooks::param(form, "CallSid") {
        Some(sid) if is_call_sid(sid) => Ok(sid.to_owned()),
        Some(sid) => Err(Problem::bad_request(format!(
            "CallSid {sid:?} is not a Twilio call SID (CA + 32 hexadecimal digits)."
        ))),
        None => Err(Problem::bad_request("CallSid is required.")),
    }
}

pub fn is_call_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("CA") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The public base of the URLs we give Twilio (`PUBLIC_BASE_URL`, else the API's domain).
pub(crate) fn base_of(p: &Pipeline, req: &Request) -> Result<String, Problem> {
    crate::postcall::webhook::callback_base(p, req)
        .ok_or_else(|| Problem::unavailable("The public URL is not configured."))
}
