//! `postcall-webhook`: ElevenLabs' post-call webhook → verified, de-duplicated call record →
//! the first queue. And `outbox-sweep`, which re-drives records whose enqueue failed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use frontdesk_rules::postcall::{self, AssessRules, Event};
use frontdesk_rules::{BusinessConfig, phone};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::{
    CallRecord, CallStore, Counters, Crm, DEFAULT_TRANSCRIPT_URL_TEMPLATE, Once, SmsLedger,
    transcript_url,
};
use crate::keys;
use crate::problem::{Problem, json_response};
use crate::queue::{Job, Queue};
use crate::secrets::SecretSource;
use crate::store::BusinessStore;
use crate::tools::{Clock, SystemClock};
use crate::twilio::Sms;

/// The largest webhook body accepted (API Gateway's payload limit is 10 MB and Lambda's
/// 6 MB; a long call's transcription is a few hundred KB).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Queue URLs of the chain (each function gets the ones it sends to).
#[derive(Clone, Debug, Default)]
pub struct QueueUrls {
    pub process: Option<String>,
    pub crm: Option<String>,
    pub sms: Option<String>,
    pub analytics: Option<String>,
}

/// Everything the pipeline's functions use; built once per container.
pub struct Pipeline {
    pub businesses: Arc<dyn BusinessStore>,
    pub calls: Arc<dyn CallStore>,
    pub crm: Arc<dyn Crm>,
    pub ledger: Arc<dyn SmsLedger>,
    pub queue: Arc<dyn Queue>,
    pub sms: Arc<dyn Sms>,
    pub secrets: Arc<dyn SecretSource>,
    pub queues: QueueUrls,
    pub elevenlabs_secret_id: Option<String>,
    pub twilio_secret_id: Option<String>,
    /// The public base URL Twilio calls (`PUBLIC_BASE_URL`): signatures cover the full URL,
    /// and status callbacks are built from it.
    pub public_base_url: Option<String>,
    pub transcript_url_template: String,
    pub assess_rules: AssessRules,
    pub clock: Arc<dyn Clock>,
}

/// The ElevenLabs secret: `{"api_key", "webhook_secret", "initiation_secret"}`; while rotating,
/// `webhook_secrets` / `initiation_secrets` lists are accepted too.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ElevenLabsSecret {
    pub api_key: String,
    webhook_secret: Option<String>,
    webhook_secrets: Vec<String>,
    initiation_secret: Option<String>,
    initiation_secrets: Vec<String>,
}

impl ElevenLabsSecret {
    /// Secrets that sign post-call webhooks (empty ones never count).
    pub fn webhook_secrets(&self) -> Vec<String> {
        rotating(&self.webhook_secrets, &self.webhook_secret)
    }

    /// Values accepted in the initiation webhook's secret header.
    pub fn initiation_secrets(&self) -> Vec<String> {
        rotating(&self.initiation_secrets, &self.initiation_secret)
    }
}

fn rotating(list: &[String], single: &Option<String>) -> Vec<String> {
    list.iter()
        .chain(single)
        .filter(|s| !s.is_empty())
        .cloned()
        .collect()
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Pipeline {
    /// From the function's environment (template.yaml): `TABLE_NAME`, the queue URLs it
    /// sends to (`POSTCALL_QUEUE_URL`, `CRM_SYNC_QUEUE_URL`, `SMS_SEND_QUEUE_URL`,
    /// `ANALYTICS_QUEUE_URL`), `ELEVENLABS_SECRET_ARN`, `TWILIO_SECRET_ARN`,
    /// `PUBLIC_BASE_URL`, `TRANSCRIPT_URL_TEMPLATE`, `TWILIO_API_BASE`.
    pub async fn from_env() -> Result<Self, crate::env::ConfigError> {
        let table = crate::env::required("TABLE_NAME")?;
        let aws = crate::aws::AwsClients::from_env().await;
        let dynamodb = aws.dynamodb();
        let store = Arc::new(super::dynamodb::DynamoPipeline::new(
            dynamodb.clone(),
            table.clone(),
        ));
        Ok(Self {
            businesses: Arc::new(crate::store::dynamodb::DynamoStore::new(dynamodb, table)),
            calls: store.clone(),
            crm: store.clone(),
            ledger: store,
            queue: Arc::new(crate::queue::SqsQueue::new(aws.sqs())),
            sms: Arc::new(crate::twilio::TwilioClient::from_env()),
            secrets: aws.cached_secrets(),
            queues: QueueUrls {
                process: optional("POSTCALL_QUEUE_URL"),
                crm: optional("CRM_SYNC_QUEUE_URL"),
                sms: optional("SMS_SEND_QUEUE_URL"),
                analytics: optional("ANALYTICS_QUEUE_URL"),
            },
            elevenlabs_secret_id: optional("ELEVENLABS_SECRET_ARN"),
            twilio_secret_id: optional("TWILIO_SECRET_ARN"),
            public_base_url: optional("PUBLIC_BASE_URL"),
            transcript_url_template: optional("TRANSCRIPT_URL_TEMPLATE")
                .unwrap_or_else(|| DEFAULT_TRANSCRIPT_URL_TEMPLATE.to_owned()),
            assess_rules: AssessRules::default(),
            clock: Arc::new(SystemClock),
        })
    }

    /// Loads the phone-number metadata now (for functions that read numbers on every request:
    /// init has CPU to spare, the first caller should not wait for it).
    pub fn with_phone_numbers_loaded(self) -> Self {
        phone::warm_up();
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The ElevenLabs secret (`ELEVENLABS_SECRET_ARN`), cached by the secret source.
    pub async fn elevenlabs_secret(&self) -> Result<ElevenLabsSecret, Problem> {
        let id = self
            .elevenlabs_secret_id
            .as_deref()
            .ok_or_else(|| Problem::unavailable("ELEVENLABS_SECRET_ARN is not configured."))?;
        let raw = self.secrets.secret_string(id).await.map_err(|e| {
            tracing::error!(error = %e, "ElevenLabs secret unavailable");
            Problem::unavailable("The ElevenLabs secret is unavailable; try again.")
        })?;
        serde_json::from_str(&raw).map_err(|_| {
            tracing::error!("the ElevenLabs secret is not a JSON object");
            Problem::unavailable("The ElevenLabs secret is misconfigured.")
        })
    }

    /// The Twilio credentials (secret `{"account_sid", "auth_token"}`).
    pub async fn twilio_credentials(&self) -> Result<crate::twilio::Credentials, String> {
        let id = self
            .twilio_secret_id
            .as_deref()
            .ok_or("TWILIO_SECRET_ARN is not configured")?;
        let raw = self
            .secrets
            .secret_string(id)
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_str(&raw).map_err(|_| {
            "the Twilio secret is not {\"account_sid\": ..., \"auth_token\": ...}".to_owned()
        })
    }

    /// The business owning `number` (any format), with its configuration.
    pub async fn business_by_number(
        &self,
        number: Option<&str>,
    ) -> Result<Option<(String, BusinessConfig)>, String> {
        let Some(e164) = number.and_then(|n| phone::normalize(n, None).ok()) else {
            return Ok(None);
        };
        let Some(id) = self
            .businesses
            .business_for_number(&e164)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let record = self.businesses.get(&id).await.map_err(|e| e.to_string())?;
        Ok(record.map(|r| (id, r.config)))
    }

    pub async fn business(&self, id: &str) -> Result<BusinessConfig, String> {
        self.businesses
            .get(id)
            .await
            .map_err(|e| e.to_string())?
            .map(|r| r.config)
            .ok_or_else(|| format!("business {id} does not exist (any more)"))
    }
}

/// The local date of `at` for the business (UTC for calls no business owns).
pub fn local_day(config: Option<&BusinessConfig>, at: DateTime<Utc>) -> NaiveDate {
    let tz = config.map_or(Tz::UTC, |c| c.profile.time_zone);
    at.with_timezone(&tz).date_naive()
}

/// The default country for national numbers: that of the business's first number.
pub fn default_country(config: &BusinessConfig) -> Option<phonenumber::country::Id> {
    config
        .telephony
        .numbers
        .first()
        .and_then(|n| phone::country_of(n))
}

fn accepted(status: &str, extra: serde_json::Value) -> Response<Body> {
    let mut v = json!({ "status": status });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    json_response(StatusCode::OK, &v, &[])
}

/// Handles one webhook; every outcome is an HTTP answer.
pub async fn handle_webhook(
    p: &Pipeline,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(match webhook(p, req).await {
        Ok(resp) => resp,
        Err(problem) => problem.into_response(),
    })
}

async fn webhook(p: &Pipeline, req: Request) -> Result<Response<Body>, Problem> {
    let now = p.now();
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        reject(p, now, "webhooks_too_large").await;
        return Err(Problem::payload_too_large(MAX_BODY_BYTES));
    }
    let header = req
        .headers()
        .get(frontdesk_verify::elevenlabs::HEADER)
        .and_then(|v| v.to_str().ok());
    let secrets = p.elevenlabs_secret().await?.webhook_secrets();
    if secrets.is_empty() {
        tracing::error!("the ElevenLabs secret has no webhook_secret: every webhook is refused");
    }
    let keys: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    if let Err(e) = frontdesk_verify::elevenlabs::verify(header, body, &keys, now.timestamp()) {
        tracing::warn!(error = %e, "post-call webhook refused");
        reject(p, now, "webhooks_rejected").await;
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid-signature",
            "Invalid signature",
            format!("The ElevenLabs-Signature header is not valid: {e}."),
        ));
    }
    let event = postcall::parse(body)
        .map_err(|e| Problem::bad_request(format!("The webhook body cannot be read: {e}.")))?;
    match event {
        Event::Ignored {
            kind,
            conversation_id,
        } => {
            tracing::info!(%kind, conversation_id = conversation_id.as_deref().unwrap_or(""), "webhook type not handled");
            Ok(accepted("ignored", json!({ "type": kind })))
        }
        Event::Transcription(facts) => {
            let route = p
                .business_by_number(facts.called.as_deref())
                .await
                .map_err(|e| store_problem(&e))?;
            let (business_id, config) = match route {
                Some((id, config)) => (id, Some(config)),
                None => {
                    tracing::warn!(called = facts.called.as_deref().unwrap_or(""), conversation_id = %facts.conversation_id,
                        "post-call webhook for a number no business owns: stored unattributed");
                    (keys::UNATTRIBUTED_BUSINESS.to_owned(), None)
                }
            };
            let caller = facts
                .caller
                .as_deref()
                .and_then(|c| phone::normalize(c, config.as_ref().and_then(default_country)).ok());
            let record = CallRecord {
                business_id: business_id.clone(),
                call_id: facts.conversation_id.clone(),
                transcript_url: Some(transcript_url(
                    &p.transcript_url_template,
                    &facts.conversation_id,
                )),
                callback_base: callback_base(p, &req),
                facts,
                received_at: now,
                caller,
                assessment: None,
                agent_disposition: None,
                transfer_request: None,
            };
            let once = p
                .calls
                .record_call(&record, local_day(config.as_ref(), now))
                .await
                .map_err(|e| store_problem(&e.to_string()))?;
            let call_id = record.call_id.clone();
            if once == Once::Fresh && business_id != keys::UNATTRIBUTED_BUSINESS {
                enqueue_first(p, &Job::new(&business_id, &call_id)).await;
            }
            Ok(accepted(
                "accepted",
                json!({"call_id": call_id, "business_id": business_id, "duplicate": once == Once::AlreadyDone}),
            ))
        }
        Event::InitiationFailure(failure) => {
            // Outbound calls fail to start: our number is `from`; try `to` as well.
            let mut route = p
                .business_by_number(failure.from.as_deref())
                .await
                .map_err(|e| store_problem(&e))?;
            if route.is_none() {
                route = p
                    .business_by_number(failure.to.as_deref())
                    .await
                    .map_err(|e| store_problem(&e))?;
            }
            let (business_id, config) = match route {
                Some((id, config)) => (id, Some(config)),
                None => (keys::UNATTRIBUTED_BUSINESS.to_owned(), None),
            };
            let once = p
                .calls
                .record_initiation_failure(
                    &business_id,
                    &failure,
                    now,
                    local_day(config.as_ref(), now),
                )
                .await
                .map_err(|e| store_problem(&e.to_string()))?;
            Ok(accepted(
                "accepted",
                json!({"call_id": failure.conversation_id, "business_id": business_id, "duplicate": once == Once::AlreadyDone}),
            ))
        }
    }
}

/// `PUBLIC_BASE_URL`, else `https://` + the domain API Gateway received the request on.
pub(crate) fn callback_base(p: &Pipeline, req: &Request) -> Option<String> {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    p.public_base_url
        .clone()
        .or_else(|| match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                ctx.domain_name.as_ref().map(|d| format!("https://{d}"))
            }
            _ => None,
        })
}

fn store_problem(e: &str) -> Problem {
    tracing::error!(error = %e, "post-call storage failure");
    Problem::unavailable("The call could not be stored; please retry.")
}

/// Counts a refused webhook against no business (its claims can't be trusted). Best effort.
async fn reject(p: &Pipeline, now: DateTime<Utc>, counter: &str) {
    let mut c = Counters::default();
    c.add(counter, 1);
    if let Err(e) = p
        .calls
        .count(keys::UNATTRIBUTED_BUSINESS, now.date_naive(), &c)
        .await
    {
        tracing::warn!(error = %e, "could not count a rejected webhook");
    }
}

/// Sends the first job; on success the outbox entry goes. On failure the entry stays and
/// the sweep sends it later: the record is never lost, and the stages are idempotent, so a
/// job sent twice is harmless.
pub async fn enqueue_first(p: &Pipeline, job: &Job) -> bool {
    enqueue_first_after(p, job, Duration::ZERO).await
}

/// [`enqueue_first`], the job delivered after `delay` (at most 15 minutes).
pub async fn enqueue_first_after(p: &Pipeline, job: &Job, delay: Duration) -> bool {
    let Some(url) = p.queues.process.as_deref() else {
        tracing::error!("POSTCALL_QUEUE_URL is not configured: left in the outbox");
        return false;
    };
    match p.queue.send(url, job, delay).await {
        Ok(()) => {
            if let Err(e) = p.calls.clear_outbox(&job.business_id, &job.call_id).await {
                // Harmless: the sweep will enqueue it once more.
                tracing::warn!(error = %e, call_id = %job.call_id, "outbox entry not cleared");
            }
            true
        }
        Err(e) => {
            tracing::error!(error = %e, call_id = %job.call_id, "enqueue failed: left in the outbox");
            false
        }
    }
}

/// How old an outbox entry must be before the sweep re-drives it (the webhook's own enqueue
/// normally clears it within a second).
pub const OUTBOX_GRACE: chrono::Duration = chrono::Duration::seconds(60);

/// `outbox-sweep`: enqueues the calls whose first enqueue failed. Returns how many were
/// re-driven.
pub async fn sweep_outbox(p: &Pipeline) -> Result<usize, lambda_runtime::Error> {
    let jobs = p
        .calls
        .outbox(p.now() - OUTBOX_GRACE, 100)
        .await
        .map_err(|e| e.to_string())?;
    let mut sent = 0;
    for job in &jobs {
        if enqueue_first(p, job).await {
            sent += 1;
        }
    }
    tracing::info!(found = jobs.len(), sent, "outbox sweep");
    if sent < jobs.len() {
        return Err(format!("{} outbox entries could not be enqueued", jobs.len() - sent).into());
    }
    Ok(sent)
}
