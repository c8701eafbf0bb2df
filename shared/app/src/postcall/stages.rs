//! The four SQS consumers of the post-call chain. Each reports partial batch failures and is
//! idempotent on (call, stage): SQS delivers at least once, and a stage may run again after
//! a crash between its effect and its acknowledgement.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use frontdesk_rules::BusinessConfig;
use frontdesk_rules::config::MessageKind;
use frontdesk_rules::postcall::{self, Assessment, BookingAction, Disposition, QaFlag};
use frontdesk_rules::sms::{self, Encoding};
use lambda_runtime::LambdaEvent;

use super::webhook::{Pipeline, local_day};
use super::{CallRecord, Counters, CrmEntry, Once, SmsClaim, SmsRecord, SmsStatus, stage};
use crate::keys;
use crate::queue::{Job, MAX_DELAY};
use crate::twilio::{OPTED_OUT, OutgoingSms, TwilioError};

/// Why a job failed this time (SQS will deliver it again; after `maxReceiveCount` it goes
/// to the stage's dead-letter queue).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StageError(pub String);

impl From<super::PipelineError> for StageError {
    fn from(e: super::PipelineError) -> Self {
        StageError(e.to_string())
    }
}
impl From<crate::queue::QueueError> for StageError {
    fn from(e: crate::queue::QueueError) -> Self {
        StageError(e.to_string())
    }
}
impl From<String> for StageError {
    fn from(e: String) -> Self {
        StageError(e)
    }
}

/// The stages, as wired by each function's `main`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Process,
    CrmSync,
    SmsSend,
    Analytics,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Process => stage::PROCESS,
            Stage::CrmSync => stage::CRM,
            Stage::SmsSend => stage::SMS,
            Stage::Analytics => stage::ANALYTICS,
        }
    }
}

/// Runs `stage` on every message of the batch; failed messages are reported one by one, so
/// the others are not delivered again.
pub async fn handle_batch(
    p: &Pipeline,
    stage: Stage,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        let job: Job = match record.body.as_deref().map(serde_json::from_str) {
            Some(Ok(job)) => job,
            other => {
                // Not ours to fix by retrying: it goes to the DLQ after maxReceiveCount.
                tracing::error!(message_id = %id, body = ?record.body, parse = ?other.map(|r| r.err().map(|e| e.to_string())), "unreadable job");
                response.add_failure(id);
                continue;
            }
        };
        let started = std::time::Instant::now();
        let result = run(p, stage, &job).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(()) => {
                tracing::info!(stage = stage.name(), business_id = %job.business_id, call_id = %job.call_id, elapsed_ms, "stage done")
            }
            Err(e) => {
                tracing::error!(stage = stage.name(), business_id = %job.business_id, call_id = %job.call_id, error = %e, elapsed_ms, "stage failed");
                response.add_failure(id);
            }
        }
    }
    Ok(response)
}

/// One job through one stage.
pub async fn run(p: &Pipeline, stage: Stage, job: &Job) -> Result<(), StageError> {
    match stage {
        Stage::Process => process(p, job).await,
        Stage::CrmSync => crm_sync(p, job).await,
        Stage::SmsSend => sms_send(p, job).await,
        Stage::Analytics => analytics(p, job).await,
    }
}

async fn next(p: &Pipeline, url: &Option<String>, job: &Job) -> Result<(), StageError> {
    let url = url
        .as_deref()
        .ok_or_else(|| StageError("the next stage's queue URL is not configured".into()))?;
    let job = Job::new(&job.business_id, &job.call_id);
    p.queue.send(url, &job, Duration::ZERO).await?;
    Ok(())
}

async fn load(p: &Pipeline, job: &Job) -> Result<CallRecord, StageError> {
    p.calls
        .call(&job.business_id, &job.call_id)
        .await?
        .ok_or_else(|| {
            StageError(format!(
                "call {} of {} is not stored",
                job.call_id, job.business_id
            ))
        })
}

fn assessment(p: &Pipeline, call: &CallRecord) -> Assessment {
    call.assessment
        .clone()
        .unwrap_or_else(|| postcall::assess(&call.facts, &p.assess_rules))
}

/// `postcall-process`: disposition and QA flags onto the call record. Deterministic, so a
/// second run writes the same.
async fn process(p: &Pipeline, job: &Job) -> Result<(), StageError> {
    let call = load(p, job).await?;
    let a = postcall::assess(&call.facts, &p.assess_rules);
    p.calls
        .save_assessment(&job.business_id, &job.call_id, &a)
        .await?;
    tracing::info!(call_id = %job.call_id, disposition = %a.disposition, flags = a.flags.len(), "call assessed");
    next(p, &p.queues.crm, job).await
}

/// The caller's name, from a booking or the agent's data collection.
fn caller_name(call: &CallRecord) -> Option<String> {
    let from_booking = call
        .facts
        .booking
        .as_ref()
        .and_then(|b| b.customer_name.clone());
    from_booking
        .or_else(|| {
            ["caller_name", "customer_name", "name"]
                .iter()
                .find_map(|k| call.facts.data.get(*k)?.as_str().map(str::to_owned))
        })
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
}

fn flag_names(flags: &[QaFlag]) -> Vec<String> {
    flags
        .iter()
        .map(|f| match f {
            QaFlag::CallUnsuccessful => "call_unsuccessful".to_owned(),
            QaFlag::FailedEvaluation { criteria } => {
                format!("failed_evaluation:{}", criteria.join(","))
            }
            QaFlag::NegativeSentiment => "negative_sentiment".to_owned(),
            QaFlag::RepeatedToolErrors { count } => format!("repeated_tool_errors:{count}"),
        })
        .collect()
}

/// `crm-sync`: contact, activity, booking note or follow-up task, exactly once per call.
async fn crm_sync(p: &Pipeline, job: &Job) -> Result<(), StageError> {
    let call = load(p, job).await?;
    let a = assessment(p, &call);
    let entry = CrmEntry {
        call_id: call.call_id.clone(),
        at: call
            .facts
            .started_at
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .unwrap_or(call.received_at),
        phone: call.caller.clone(),
        name: caller_name(&call),
        disposition: a.disposition.as_str().to_owned(),
        summary: call.facts.summary.clone().or_else(|| {
            call.facts
                .voicemail
                .as_ref()
                .and_then(|vm| vm.transcription.clone())
                .map(|t| format!("Voicemail: {t}"))
        }),
        transcript_url: call.transcript_url.clone().or_else(|| {
            call.facts
                .voicemail
                .as_ref()
                .and_then(|vm| vm.recording_url.clone())
        }),
        booking_id: call.facts.booking.as_ref().map(|b| b.booking_id.clone()),
        follow_up: match (&a.disposition, &call.facts.voicemail) {
            (Disposition::FollowUpNeeded, _) => Some(a.reasons.join("; ")),
            (Disposition::Voicemail, Some(vm)) => Some(match vm.quote(300) {
                Some(quote) => format!("Call back: voicemail {quote}"),
                None => "Call back: the caller left a voicemail".to_owned(),
            }),
            _ => None,
        },
        flags: flag_names(&a.flags),
    };
    let once = p.crm.record(&job.business_id, &entry).await?;
    if once == Once::AlreadyDone {
        tracing::info!(call_id = %job.call_id, "CRM already synced: passing on");
    }
    next(p, &p.queues.sms, job).await
}

/// The variables of a text, from the call.
fn sms_vars(
    config: &BusinessConfig,
    call: &CallRecord,
    now: DateTime<Utc>,
) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    let mut put = |k: &str, val: Option<String>| {
        if let Some(val) = val.filter(|s| !s.trim().is_empty()) {
            v.insert(k.to_owned(), val);
        }
    };
    put("business_name", Some(config.profile.name.clone()));
    put("business_phone", config.telephony.numbers.first().cloned());
    put("customer_name", caller_name(call));
    put(
        "summary",
        call.facts
            .summary
            .clone()
            .or_else(|| call.facts.voicemail.as_ref().and_then(|vm| vm.quote(100))),
    );
    put(
        "location",
        config.profile.locations.first().map(|l| l.address.clone()),
    );
    if let Some(b) = &call.facts.booking {
        let tz = config.profile.time_zone;
        let lang = frontdesk_rules::speak::Language::for_config(config);
        put("service", b.service_name.clone());
        put("staff", b.staff_name.clone());
        put("booking_id", Some(b.booking_id.clone()));
        if let Some(start) = b
            .start
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        {
            let start = start.with_timezone(&Utc);
            let today = now.with_timezone(&tz).date_naive();
            let day = start.with_timezone(&tz).date_naive();
            put(
                "date",
                Some(frontdesk_rules::speak::date_phrase(day, today, lang)),
            );
            put(
                "time",
                Some(frontdesk_rules::speak::time_phrase(start, tz, lang)),
            );
        }
    }
    v
}

fn kind_key(kind: MessageKind) -> &'static str {
    kind.key()
}

/// `sms-send`: the right text to the caller, never two for one call and kind.
async fn sms_send(p: &Pipeline, job: &Job) -> Result<(), StageError> {
    let now = p.now();
    let call = load(p, job).await?;
    let a = assessment(p, &call);
    let kind = postcall::message_kind(&call.facts, a.disposition);
    if kind.is_none() && call.facts.voicemail.is_none() {
        return next(p, &p.queues.analytics, job).await;
    }
    let config = p.business(&job.business_id).await?;
    // The business hears about a voicemail at once (quiet hours are for callers).
    if let Some(vm) = &call.facts.voicemail {
        notify_staff(p, job, &config, &call, vm, now).await?;
    }
    let Some(kind) = kind else {
        return next(p, &p.queues.analytics, job).await;
    };
    // Quiet hours delay, never drop: back on the queue until the window ends.
    let send_at = sms::send_at(
        now,
        config.profile.time_zone,
        config.sms.quiet_hours.as_ref(),
    );
    if send_at > now {
        let url = p
            .queues
            .sms
            .as_deref()
            .ok_or_else(|| StageError("SMS_SEND_QUEUE_URL is not configured".into()))?;
        let wait = (send_at - now).to_std().unwrap_or_default().min(MAX_DELAY);
        let mut later = job.clone();
        later.not_before = Some(send_at.timestamp());
        p.queue.send(url, &later, wait).await?;
        tracing::info!(call_id = %job.call_id, send_at = %send_at, "quiet hours: text delayed");
        return Ok(());
    }
    let record = |status: SmsStatus, reason: Option<&str>| SmsRecord {
        status,
        reason: reason.map(str::to_owned),
        ..intent(kind_key(kind), call.caller.clone(), now)
    };
    let skip = |reason: &str| record(SmsStatus::Skipped, Some(reason));
    let decision = match (&call.caller, kind) {
        (None, _) => Some(skip("no caller number")),
        (_, MessageKind::FollowUp) if !config.sms.follow_ups_enabled => {
            Some(skip("follow-up texts are off"))
        }
        _ if config.sms.sender.is_none() && config.sms.messaging_service_sid.is_none() => {
            Some(skip("no SMS sender configured"))
        }
        (Some(to), _) if p.ledger.is_opted_out(&job.business_id, to).await? => {
            Some(record(SmsStatus::OptedOut, Some("recipient opted out")))
        }
        _ => None,
    };
    let intent = match decision {
        Some(settled) => settled,
        None => match sms::render(&config, kind, &sms_vars(&config, &call, now)) {
            Ok(r) => with_body(record(SmsStatus::Sending, None), r.body),
            Err(e) => record(SmsStatus::Failed, Some(&format!("template: {e}"))),
        },
    };
    deliver(p, job, &config, call.callback_base.as_deref(), intent, now).await?;
    next(p, &p.queues.analytics, job).await
}

/// A text of `kind` to `to`, about to be sent (`sending`, leased for 60 s).
fn intent(kind: &str, to: Option<String>, now: DateTime<Utc>) -> SmsRecord {
    SmsRecord {
        kind: kind.to_owned(),
        status: SmsStatus::Sending,
        to,
        body: None,
        segments: None,
        encoding: None,
        message_sid: None,
        delivery: None,
        reason: None,
        attempts: 0,
        lease_until: Some(now + chrono::Duration::seconds(60)),
        created_at: None,
        updated_at: Some(now),
    }
}

/// `record` with its body, and the body's encoding and segments (known before sending).
fn with_body(mut record: SmsRecord, body: String) -> SmsRecord {
    let seg = sms::segments(&body);
    record.segments = Some(seg.segments as u32);
    record.encoding = Some(
        match seg.encoding {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
        .to_owned(),
    );
    record.body = Some(body);
    record
}

/// The SMS kind of the notice to the business about a voicemail.
pub const STAFF_VOICEMAIL: &str = "staff_voicemail";

/// Texts the business's escalation number (else its first transfer number) that a caller
/// left a voicemail: once per call, like every text.
async fn notify_staff(
    p: &Pipeline,
    job: &Job,
    config: &BusinessConfig,
    call: &CallRecord,
    vm: &postcall::Voicemail,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let to = config.telephony.escalation_number.clone().or_else(|| {
        config
            .telephony
            .transfer_rules()
            .first()
            .map(|r| r.number.clone())
    });
    let Some(to) = to else {
        tracing::info!(call_id = %job.call_id, "no staff number: no voicemail notice");
        return Ok(());
    };
    let mut intent = intent(STAFF_VOICEMAIL, Some(to), now);
    if config.sms.sender.is_none() && config.sms.messaging_service_sid.is_none() {
        intent.status = SmsStatus::Skipped;
        intent.reason = Some("no SMS sender configured".into());
    } else {
        let body = sms::staff_voicemail_notice(
            config,
            call.caller.as_deref(),
            caller_name(call).as_deref(),
            vm,
        );
        intent = with_body(intent, body);
    }
    deliver(p, job, config, call.callback_base.as_deref(), intent, now).await
}

/// Claims the text of `intent.kind` for the call and sends it (or settles it when it was
/// decided not to send); a settled one is left alone, a lost answer reconciled.
async fn deliver(
    p: &Pipeline,
    job: &Job,
    config: &BusinessConfig,
    callback_base: Option<&str>,
    mut intent: SmsRecord,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let settled_before = intent.status != SmsStatus::Sending;
    match p
        .ledger
        .claim(&job.business_id, &job.call_id, &intent, now)
        .await?
    {
        SmsClaim::Claimed if settled_before => {
            intent.lease_until = None;
            p.ledger
                .settle(&job.business_id, &job.call_id, &intent)
                .await?;
        }
        SmsClaim::Claimed => send(p, job, config, callback_base, intent).await?,
        SmsClaim::Settled(r) => {
            tracing::info!(call_id = %job.call_id, kind = %r.kind, status = ?r.status, "text already settled");
        }
        SmsClaim::Busy => {
            return Err(StageError(
                "another delivery is sending this text; later".into(),
            ));
        }
        SmsClaim::Reconcile(previous) => reconcile(p, job, previous, now).await?,
    }
    Ok(())
}

async fn send(
    p: &Pipeline,
    job: &Job,
    config: &BusinessConfig,
    callback_base: Option<&str>,
    mut intent: SmsRecord,
) -> Result<(), StageError> {
    let status_callback =
        callback_base.map(|b| format!("{}/webhooks/twilio/sms-status", b.trim_end_matches('/')));
    let creds = p.twilio_credentials().await?;
    let sms = OutgoingSms {
        to: intent.to.clone().unwrap_or_default(),
        from: config.sms.sender.clone(),
        messaging_service_sid: config.sms.messaging_service_sid.clone(),
        body: intent.body.clone().unwrap_or_default(),
        status_callback,
    };
    let result = p.sms.send(&creds, &sms).await;
    intent.lease_until = None;
    intent.updated_at = Some(p.now());
    let outcome = match &result {
        Ok(m) => {
            intent.status = SmsStatus::Sent;
            intent.message_sid = Some(m.sid.clone());
            intent.delivery = Some(m.status.clone());
            Ok(())
        }
        Err(TwilioError::Rejected {
            code: Some(OPTED_OUT),
            ..
        }) => {
            intent.status = SmsStatus::OptedOut;
            intent.reason = Some("Twilio 21610: the recipient replied STOP".into());
            p.ledger
                .set_opt_out(&job.business_id, &sms.to, true, "twilio_21610", p.now())
                .await?;
            Ok(())
        }
        Err(e @ TwilioError::Rejected { .. }) | Err(e @ TwilioError::Config(_)) => {
            intent.status = SmsStatus::Failed;
            intent.reason = Some(e.to_string());
            Ok(())
        }
        Err(e @ TwilioError::Retryable { .. }) => {
            intent.status = SmsStatus::Retry;
            intent.reason = Some(e.to_string());
            Err(StageError(e.to_string()))
        }
        Err(e @ TwilioError::Unknown(_)) => {
            // Twilio may have it: reconcile on the next delivery instead of resending.
            intent.status = SmsStatus::Unknown;
            intent.reason = Some(e.to_string());
            Err(StageError(e.to_string()))
        }
    };
    p.ledger
        .settle(&job.business_id, &job.call_id, &intent)
        .await?;
    tracing::info!(call_id = %job.call_id, status = ?intent.status, sid = intent.message_sid.as_deref().unwrap_or(""), "text");
    outcome
}

/// A previous attempt got no answer: look for the text at Twilio before doing anything.
async fn reconcile(
    p: &Pipeline,
    job: &Job,
    mut previous: SmsRecord,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let creds = p.twilio_credentials().await?;
    let to = previous.to.clone().unwrap_or_default();
    let since = previous
        .created_at
        .unwrap_or(now - chrono::Duration::hours(24));
    let found = p
        .sms
        .sent_to(&creds, &to, since)
        .await
        .map_err(|e| StageError(format!("reconciliation: {e}")))?;
    let body = previous.body.clone().unwrap_or_default();
    previous.lease_until = None;
    previous.updated_at = Some(now);
    match found
        .iter()
        .find(|m| m.body.as_deref() == Some(body.as_str()))
    {
        Some(m) => {
            previous.status = SmsStatus::Sent;
            previous.message_sid = Some(m.sid.clone());
            previous.delivery = Some(m.status.clone());
            previous.reason = Some("reconciled: Twilio had it".into());
        }
        None => {
            previous.status = SmsStatus::Review;
            previous.reason = Some(
                "the send got no answer and Twilio does not list it: not resent; check".into(),
            );
            tracing::warn!(call_id = %job.call_id, "text outcome unknown: marked for review");
        }
    }
    p.ledger
        .settle(&job.business_id, &job.call_id, &previous)
        .await?;
    Ok(())
}

/// Upper bounds (ms) of the post-call processing-time histogram; the last bucket is open.
pub const PROCESSING_BUCKETS_MS: [i64; 8] = [250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

/// The histogram counter for `ms`: `processing_ms_le_<bound>` or `processing_ms_gt_60000`.
pub fn processing_bucket(ms: i64) -> String {
    match PROCESSING_BUCKETS_MS.iter().find(|b| ms <= **b) {
        Some(b) => format!("processing_ms_le_{b}"),
        None => format!("processing_ms_gt_{}", PROCESSING_BUCKETS_MS[7]),
    }
}

/// `analytics`: the call's counters on its business's day, exactly once.
async fn analytics(p: &Pipeline, job: &Job) -> Result<(), StageError> {
    let now = p.now();
    let call = load(p, job).await?;
    let a = assessment(p, &call);
    let config = p.business(&job.business_id).await?;
    let mut c = Counters::default();
    c.add("calls", 1)
        .add(format!("disposition_{}", a.disposition.as_str()), 1);
    match a.disposition {
        Disposition::Booked => c.add("bookings", 1),
        Disposition::Rescheduled => c.add("reschedules", 1),
        Disposition::Cancelled => c.add("cancellations", 1),
        Disposition::Escalated => c.add("escalations", 1),
        Disposition::Voicemail => c.add("voicemails", 1),
        _ => &mut c,
    };
    let made = call
        .facts
        .booking_actions
        .iter()
        .filter(|b| b.action == BookingAction::Booked)
        .count();
    if made > 1 {
        c.add("bookings_extra", made as i64 - 1);
    }
    if !a.flags.is_empty() {
        c.add("qa_flagged", 1);
    }
    if let Some(d) = call.facts.duration_secs {
        c.add("talk_secs", i64::from(d));
    }
    if call.facts.voicemail.is_some()
        && let Some(r) = p
            .ledger
            .get(&job.business_id, &job.call_id, STAFF_VOICEMAIL)
            .await?
        && r.status == SmsStatus::Sent
    {
        c.add("staff_notices_sent", 1);
    }
    if let Some(kind) = postcall::message_kind(&call.facts, a.disposition)
        && let Some(r) = p
            .ledger
            .get(&job.business_id, &job.call_id, kind.key())
            .await?
    {
        let name = match r.status {
            SmsStatus::Sent => "sms_sent",
            SmsStatus::Skipped => "sms_skipped",
            SmsStatus::OptedOut => "sms_opted_out",
            SmsStatus::Review => "sms_review",
            _ => "sms_failed",
        };
        c.add(name, 1);
        if let Some(n) = r.segments.filter(|_| r.status == SmsStatus::Sent) {
            c.add("sms_segments", i64::from(n));
        }
    }
    let ms = (now - call.received_at).num_milliseconds().max(0);
    c.add("processing_ms_sum", ms)
        .add("processing_count", 1)
        .add(processing_bucket(ms), 1);
    let started = call
        .facts
        .started_at
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or(call.received_at);
    let marker_pk = keys::call_pk(&job.business_id, &job.call_id);
    let marker_sk = keys::stage_sk(stage::ANALYTICS);
    let once = p
        .calls
        .count_once(
            &job.business_id,
            local_day(Some(&config), started),
            (&marker_pk, &marker_sk),
            &c,
        )
        .await?;
    tracing::info!(call_id = %job.call_id, counted = (once == Once::Fresh), processing_ms = ms, "analytics");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets() {
        assert_eq!(processing_bucket(0), "processing_ms_le_250");
        assert_eq!(processing_bucket(250), "processing_ms_le_250");
        assert_eq!(processing_bucket(251), "processing_ms_le_500");
        assert_eq!(processing_bucket(60_000), "processing_ms_le_60000");
        assert_eq!(processing_bucket(60_001), "processing_ms_gt_60000");
    }
}
