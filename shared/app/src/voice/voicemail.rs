//! `voicemail`: the callbacks of the `<Record>` of [`frontdesk_rules::twiml::voicemail`].
//!
//! - [`routes::RECORDED`] (`<Record action>`): Twilio continues the call here after the
//!   recording; we answer "thanks, goodbye" and store the voicemail.
//! - [`routes::RECORDING`] (`recordingStatusCallback`): the recording file is ready (or
//!   `absent` / `failed`); stores the voicemail if the action did not.
//! - [`routes::TRANSCRIPTION`] (`transcribeCallback`, English businesses): adds the text.
//!
//! A voicemail becomes a call record (call id = CallSid, disposition `voicemail`) stored once
//! whichever callback comes first, and goes through the post-call chain like an AI call: a
//! CRM contact, activity and follow-up task, the `voicemail_recap` text to the caller (opt-out
//! and quiet hours respected) and a notice to the business's escalation number. When a
//! transcription is expected the chain starts [`super::Voice::transcription_wait`] later, so
//! the task and the texts can quote it; a transcription arriving later is still stored.

use frontdesk_rules::postcall::{CallFacts, Voicemail};
use frontdesk_rules::speak::Language;
use frontdesk_rules::{BusinessConfig, phone, twiml};
use lambda_http::{Body, Request, Response};
use std::time::{Duration, Instant};

use super::{Voice, base_of, business_of, call_sid, logged, no_route, path_of, route_of, routes};
use crate::postcall::sms_webhooks::{EMPTY_TWIML, param, twiml as twiml_response, verified_form};
use crate::postcall::webhook::{default_country, enqueue_first_after, local_day};
use crate::postcall::{CallRecord, Counters, Once};
use crate::problem::Problem;
use crate::queue::Job;

/// `voicemail`.
pub async fn handle(v: &Voice, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let path = path_of(&req);
    const SERVED: &[&str] = &[routes::RECORDED, routes::RECORDING, routes::TRANSCRIPTION];
    let result = match route_of(&path, SERVED) {
        Some(routes::RECORDED) => recorded(v, &req).await,
        Some(routes::RECORDING) => recording(v, &req).await,
        Some(_) => transcription(v, &req).await,
        None => Err(no_route(SERVED)),
    };
    Ok(logged("voicemail webhook", &path, started, result))
}

/// A verified voicemail callback of a business's call.
struct Callback {
    form: Vec<(String, String)>,
    business_id: String,
    config: BusinessConfig,
    sid: String,
}

impl Callback {
    /// Verified (403 otherwise), with its business (`None`: nobody's, nothing to do) and a
    /// valid CallSid (400 otherwise).
    async fn read(v: &Voice, req: &Request) -> Result<Option<Callback>, Problem> {
        let form = verified_form(v.p(), req).await?;
        let Some((business_id, config)) = business_of(v, req, &form).await? else {
            return Ok(None);
        };
        let sid = call_sid(&form)?;
        Ok(Some(Callback {
            form,
            business_id,
            config,
            sid,
        }))
    }

    fn param(&self, name: &str) -> Option<&str> {
        param(&self.form, name)
    }

    /// The recording the callback names, with `transcription`.
    fn voicemail(&self, transcription: Option<String>) -> Voicemail {
        Voicemail {
            recording_sid: self.param("RecordingSid").map(str::to_owned),
            recording_url: self.param("RecordingUrl").map(str::to_owned),
            duration_secs: self
                .param("RecordingDuration")
                .and_then(|d| d.trim().parse().ok()),
            transcription,
        }
    }

    async fn store(&self, v: &Voice, req: &Request, vm: Voicemail) -> Result<(), Problem> {
        store(
            v,
            req,
            &self.business_id,
            &self.config,
            &self.sid,
            &self.form,
            vm,
        )
        .await
    }
}

fn storage(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "voicemail storage failure");
    Problem::unavailable("The voicemail could not be stored; please retry.")
}

/// The `<Record action>`: thanks and goodbye, and the voicemail stored.
async fn recorded(v: &Voice, req: &Request) -> Result<Response<Body>, Problem> {
    let Some(c) = Callback::read(v, req).await? else {
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let vm = c.voicemail(None);
    // Nothing was said: no voicemail to keep.
    if vm.recording_url.is_some() && vm.duration_secs != Some(0) {
        c.store(v, req, vm).await?;
    }
    Ok(twiml_response(&twiml::voicemail_done(&c.config).to_xml()))
}

/// `recordingStatusCallback`.
async fn recording(v: &Voice, req: &Request) -> Result<Response<Body>, Problem> {
    let Some(c) = Callback::read(v, req).await? else {
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let p = v.p();
    let vm = c.voicemail(None);
    let status = c.param("RecordingStatus").unwrap_or("");
    match status {
        "completed" if vm.duration_secs != Some(0) => c.store(v, req, vm).await?,
        "absent" | "failed" | "completed" => {
            tracing::warn!(business_id = %c.business_id, call_sid = %c.sid, status, error_code = c.param("ErrorCode").unwrap_or(""), "no voicemail recorded");
            let mut counters = Counters::default();
            counters.add("voicemails_empty", 1);
            let pk = crate::keys::call_pk(&c.business_id, &c.sid);
            p.calls
                .count_once(
                    &c.business_id,
                    local_day(Some(&c.config), p.now()),
                    (&pk, "COUNTED#voicemail_empty"),
                    &counters,
                )
                .await
                .map_err(storage)?;
        }
        _ => tracing::info!(status, "recording status ignored"),
    }
    Ok(twiml_response(EMPTY_TWIML))
}

/// `transcribeCallback`: the text onto the stored voicemail (or a new record with it).
async fn transcription(v: &Voice, req: &Request) -> Result<Response<Body>, Problem> {
    let Some(c) = Callback::read(v, req).await? else {
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let status = c.param("TranscriptionStatus").unwrap_or("");
    let text = c
        .param("TranscriptionText")
        .map(str::trim)
        .filter(|t| !t.is_empty() && status == "completed");
    let Some(text) = text else {
        tracing::info!(business_id = %c.business_id, call_sid = %c.sid, status, "no transcription");
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let added = v
        .log
        .add_transcription(&c.business_id, &c.sid, text)
        .await
        .map_err(storage)?;
    if !added {
        // Before the recording callbacks: store the voicemail with its text now.
        c.store(v, req, c.voicemail(Some(text.to_owned()))).await?;
    }
    tracing::info!(business_id = %c.business_id, call_sid = %c.sid, added, "transcription stored");
    Ok(twiml_response(EMPTY_TWIML))
}

/// Stores the voicemail as a call record once, and starts the post-call chain for it.
async fn store(
    v: &Voice,
    req: &Request,
    business_id: &str,
    config: &BusinessConfig,
    sid: &str,
    form: &[(String, String)],
    vm: Voicemail,
) -> Result<(), Problem> {
    let p = v.p();
    let now = p.now();
    // The recording status callback has no From / To: the call's entry has them.
    let (mut from, mut to) = (
        param(form, "From").map(str::to_owned),
        param(form, "To").map(str::to_owned),
    );
    if from.is_none() || to.is_none() {
        for e in v.log.entries(business_id, sid).await.map_err(storage)? {
            from = from.or(e.from);
            to = to.or(e.to);
        }
    }
    let caller = from
        .as_deref()
        .and_then(|f| phone::normalize(f, default_country(config)).ok());
    let has_text = vm.transcription.is_some();
    let facts = CallFacts {
        conversation_id: sid.to_owned(),
        status: Some("done".to_owned()),
        call_sid: Some(sid.to_owned()),
        direction: Some("inbound".to_owned()),
        caller: from.clone(),
        called: to.clone(),
        started_at: Some(
            (now - chrono::Duration::seconds(vm.duration_secs.unwrap_or(0).into())).timestamp(),
        ),
        duration_secs: vm.duration_secs,
        voicemail: Some(vm),
        ..CallFacts::default()
    };
    let record = CallRecord {
        business_id: business_id.to_owned(),
        call_id: sid.to_owned(),
        facts,
        received_at: now,
        caller,
        transcript_url: None,
        callback_base: base_of(p, req).ok(),
        assessment: None,
        agent_disposition: None,
        transfer_request: None,
    };
    let once = p
        .calls
        .record_call(&record, local_day(Some(config), now))
        .await
        .map_err(storage)?;
    if once == Once::AlreadyDone {
        tracing::info!(business_id, call_sid = sid, "voicemail already stored");
        return Ok(());
    }
    let transcribed = Language::for_config(config) == Language::English;
    let delay = if transcribed && !has_text {
        v.transcription_wait
    } else {
        Duration::ZERO
    };
    // On failure the outbox keeps it and the sweep sends it: never lost.
    enqueue_first_after(p, &Job::new(business_id, sid), delay).await;
    tracing::info!(
        business_id,
        call_sid = sid,
        delay_secs = delay.as_secs(),
        "voicemail stored"
    );
    Ok(())
}
