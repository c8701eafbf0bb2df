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

use super::{Voice, base_of, business_of, call_sid, path_of, routes};
use crate::postcall::sms_webhooks::{EMPTY_TWIML, param, twiml as twiml_response, verified_form};
use crate::postcall::webhook::{default_country, enqueue_first_after, local_day};
use crate::postcall::{CallRecord, Counters, Once};
use crate::problem::Problem;
use crate::queue::Job;

/// `voicemail`.
pub async fn handle(v: &Voice, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let path = path_of(&req);
    let result = if path.ends_with(routes::RECORDED) {
        recorded(v, &req).await
    } else if path.ends_with(routes::RECORDING) {
        recording(v, &req).await
    } else if path.ends_with(routes::TRANSCRIPTION) {
        transcription(v, &req).await
    } else {
        Err(Problem::not_found(format!(
            "This function serves {}, {} and {}.",
            routes::RECORDED,
            routes::RECORDING,
            routes::TRANSCRIPTION
        )))
    };
    let resp = result.unwrap_or_else(Problem::into_response);
    tracing::info!(
        %path,
        status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "voicemail webhook"
    );
    Ok(resp)
}

fn storage(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "voicemail storage failure");
    Problem::unavailable("The voicemail could not be stored; please retry.")
}

fn duration(form: &[(String, String)]) -> Option<u32> {
    param(form, "RecordingDuration").and_then(|d| d.trim().parse().ok())
}

/// The `<Record action>`: thanks and goodbye, and the voicemail stored.
async fn recorded(v: &Voice, req: &Request) -> Result<Response<Body>, Problem> {
    let p = v.p();
    let form = verified_form(p, req).await?;
    let Some((business_id, config)) = business_of(v, req, &form).await? else {
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let sid = call_sid(&form)?;
    let url = param(&form, "RecordingUrl");
    let secs = duration(&form);
    // Nothing was said: no voicemail to keep.
    if url.is_some() && secs != Some(0) {
        let vm = Voicemail {
            recording_sid: param(&form, "RecordingSid").map(str::to_owned),
            recording_url: url.map(str::to_owned),
            duration_secs: secs,
            transcription: None,
        };
        store(v, req, &business_id, &config, &sid, &form, vm).await?;
    }
    Ok(twiml_response(&twiml::voicemail_done(&config).to_xml()))
}

/// `recordingStatusCallback`.
async fn recording(v: &Voice, req: &Request) -> Result<Response<Body>, Problem> {
    let p = v.p();
    let form = verified_form(p, req).await?;
    let Some((business_id, config)) = business_of(v, req, &form).await? else {
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let sid = call_sid(&form)?;
    let status = param(&form, "RecordingStatus").unwrap_or("");
    match status {
        "completed" if duration(&form) != Some(0) => {
            let vm = Voicemail {
                recording_sid: param(&form, "RecordingSid").map(str::to_owned),
                recording_url: param(&form, "RecordingUrl").map(str::to_owned),
                duration_secs: duration(&form),
                transcription: None,
            };
            store(v, req, &business_id, &config, &sid, &form, vm).await?;
        }
        "absent" | "failed" | "completed" => {
            tracing::warn!(business_id = %business_id, call_sid = %sid, status, error_code = param(&form, "ErrorCode").unwrap_or(""), "no voicemail recorded");
            let mut c = Counters::default();
            c.add("voicemails_empty", 1);
            let pk = crate::keys::call_pk(&business_id, &sid);
            p.calls
                .count_once(
                    &business_id,
                    local_day(Some(&config), p.now()),
                    (&pk, "COUNTED#voicemail_empty"),
                    &c,
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
    let p = v.p();
    let form = verified_form(p, req).await?;
    let Some((business_id, config)) = business_of(v, req, &form).await? else {
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let sid = call_sid(&form)?;
    let status = param(&form, "TranscriptionStatus").unwrap_or("");
    let text = param(&form, "TranscriptionText")
        .map(str::trim)
        .filter(|t| !t.is_empty() && status == "completed");
    let Some(text) = text else {
        tracing::info!(business_id = %business_id, call_sid = %sid, status, "no transcription");
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let added = v
        .log
        .add_transcription(&business_id, &sid, text)
        .await
        .map_err(storage)?;
    if !added {
        // Before the recording callbacks: store the voicemail with its text now.
        let vm = Voicemail {
            recording_sid: param(&form, "RecordingSid").map(str::to_owned),
            recording_url: param(&form, "RecordingUrl").map(str::to_owned),
            duration_secs: None,
            transcription: Some(text.to_owned()),
        };
        store(v, req, &business_id, &config, &sid, &form, vm).await?;
    }
    tracing::info!(business_id = %business_id, call_sid = %sid, added, "transcription stored");
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
