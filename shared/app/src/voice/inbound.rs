//! `voice-inbound` (register-call mode) and `voice-fallback` (the number's fallback URL in
//! either mode, and the `<Dial action>` of transfers).
//!
//! `voice-inbound` answers Twilio's "A call comes in" webhook: the business by `To`, the
//! after-hours policy ([`call_entry::entry_route`]), then ElevenLabs register-call with the
//! call's dynamic variables, whose TwiML goes back to Twilio unchanged. Anything that fails
//! on the way (ElevenLabs error or timeout within [`crate::elevenlabs::REGISTER_CALL_BUDGET`],
//! open circuit breaker, missing agent id or API key, TwiML that isn't) gives the fallback
//! TwiML instead: the escalation number, then a voicemail. Idempotent on CallSid: a retry gets
//! the first answer, never a second ElevenLabs conversation.

use std::time::{Duration, Instant};

use frontdesk_rules::call_entry::{self, CallerInfo, EntryRoute};
use frontdesk_rules::{BusinessConfig, phone, twiml};
use lambda_http::{Body, Request, Response};

use super::{
    EntryRecord, Voice, VoiceUrls, base_of, business_of, call_sid, logged, no_route, path_of,
    route_of, routes,
};
use crate::elevenlabs::{RegisterCall, VoiceAiError};
use crate::keys;
use crate::postcall::Counters;
use crate::postcall::sms_webhooks::{param, twiml as twiml_response, verified_form};
use crate::postcall::webhook::{default_country, local_day};
use crate::problem::Problem;

/// How long the caller lookup may take before the call goes on without personalisation.
const CALLER_LOOKUP_BUDGET: Duration = Duration::from_millis(800);

/// Said when a number belongs to no business (never dead air).
const NOT_IN_SERVICE: &str =
    "Sorry, this number can't take your call right now. Please try again later. Goodbye.";

fn not_in_service() -> String {
    twiml::Response(vec![
        twiml::Verb::Say {
            text: NOT_IN_SERVICE.to_owned(),
            language: Some("en-US".to_owned()),
            voice: None,
        },
        twiml::Verb::Hangup,
    ])
    .to_xml()
}

/// `voice-inbound`: [`routes::INBOUND`], [`routes::AGENT`] and [`routes::AFTER_RING_STAFF`].
pub async fn handle_inbound(v: &Voice, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let path = path_of(&req);
    const SERVED: &[&str] = &[routes::AFTER_RING_STAFF, routes::AGENT, routes::INBOUND];
    let result = match route_of(&path, SERVED) {
        Some(routes::AFTER_RING_STAFF) => after_ring_staff(v, &req).await,
        Some(routes::AGENT) => inbound(v, &req, Step::Agent).await,
        Some(_) => inbound(v, &req, Step::Inbound).await,
        None => Err(no_route(SERVED)),
    };
    Ok(logged("voice webhook", &path, started, result))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The number's voice URL: after-hours policy, then the agent.
    Inbound,
    /// Straight to the agent (after ringing staff first).
    Agent,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Inbound => "inbound",
            Step::Agent => "agent",
        }
    }
}

async fn inbound(v: &Voice, req: &Request, step: Step) -> Result<Response<Body>, Problem> {
    let p = v.p();
    let form = verified_form(p, req).await?;
    let sid = call_sid(&form)?;
    let Some((business_id, config)) = business_of(v, req, &form).await? else {
        tracing::error!(
            to = param(&form, "To").unwrap_or(""),
            call_sid = %sid,
            "call to a number no business owns: apology and hang up"
        );
        return Ok(twiml_response(&not_in_service()));
    };
    let now = p.now();
    let mut entry = EntryRecord {
        business_id: business_id.clone(),
        call_sid: sid.clone(),
        step: step.name().to_owned(),
        from: param(&form, "From").map(str::to_owned),
        to: param(&form, "To").map(str::to_owned),
        route: String::new(),
        fallback_reason: None,
        twiml: None,
        created_at: now,
    };
    let base = base_of(p, req)?;
    let urls = VoiceUrls::new(&base, &business_id);
    match v.log.claim(&entry).await {
        Ok(None) => {}
        Ok(Some(existing)) => {
            return Ok(twiml_response(&replay(v, existing, &config, &urls).await));
        }
        // The caller comes first: answer without the CallSid guard (only a retry during the
        // outage could register twice).
        Err(e) => {
            tracing::error!(error = %e, call_sid = %sid, "CallSid claim failed: answering unguarded")
        }
    }
    let route = match step {
        Step::Agent => EntryRoute::Agent,
        Step::Inbound => {
            call_entry::entry_route(&config, call_entry::open_state(&config, now).open_now)
        }
    };
    let (route_name, xml, fallback_reason) = match route {
        EntryRoute::Voicemail => (
            "voicemail",
            twiml::voicemail(&config, &urls.voicemail()).to_xml(),
            None,
        ),
        EntryRoute::RingStaffFirst => (
            "ring_staff_first",
            twiml::ring_staff_first(&config, &urls.ring_staff()).to_xml(),
            None,
        ),
        EntryRoute::Agent => match register(v, &business_id, &config, &form, &sid).await {
            Ok(xml) => ("agent", xml, None),
            Err(e) => {
                let reason = fallback_reason(&e);
                tracing::error!(business_id = %business_id, call_sid = %sid, error = %e, reason, "register-call failed: fallback TwiML");
                (
                    "fallback",
                    twiml::fallback(&config, &urls.fallback()).to_xml(),
                    Some(reason),
                )
            }
        },
    };
    entry.route = route_name.to_owned();
    entry.fallback_reason = fallback_reason.map(str::to_owned);
    entry.twiml = Some(xml.clone());
    let mut c = Counters::default();
    if step == Step::Inbound {
        c.add("voice_calls", 1);
    }
    c.add(format!("voice_route_{route_name}"), 1);
    if let Some(reason) = fallback_reason {
        c.add("voice_fallbacks", 1)
            .add(format!("voice_fallback_{reason}"), 1);
    }
    // Both while the phone rings: at the same time.
    let (stored, ()) = tokio::join!(
        v.log.answered(&entry),
        count_once(v, &business_id, &config, &sid, step.name(), &c)
    );
    if let Err(e) = stored {
        // A retry would find the claim, wait, then fall back (never a second conversation).
        tracing::error!(error = %e, "answer not stored");
    }
    tracing::info!(business_id = %business_id, call_sid = %sid, route = route_name, step = step.name(), "call answered");
    Ok(twiml_response(&xml))
}

/// Adds the call's counters once per (call, step); best effort (the caller comes first).
async fn count_once(
    v: &Voice,
    business_id: &str,
    config: &BusinessConfig,
    sid: &str,
    what: &str,
    c: &Counters,
) {
    let p = v.p();
    let pk = keys::call_pk(business_id, sid);
    let sk = format!("COUNTED#{what}");
    if let Err(e) = p
        .calls
        .count_once(business_id, local_day(Some(config), p.now()), (&pk, &sk), c)
        .await
    {
        tracing::warn!(error = %e, "voice counters not written");
    }
}

/// A retry of a webhook already being answered: its answer once stored (waiting up to
/// `replay_wait`), else the fallback (never a second ElevenLabs conversation).
async fn replay(
    v: &Voice,
    mut existing: EntryRecord,
    config: &BusinessConfig,
    urls: &VoiceUrls,
) -> String {
    let deadline = Instant::now() + v.replay_wait;
    loop {
        if let Some(xml) = existing.twiml.take() {
            tracing::info!(call_sid = %existing.call_sid, "replayed the first answer");
            return xml;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        match v
            .log
            .entry(&existing.business_id, &existing.call_sid, &existing.step)
            .await
        {
            Ok(Some(e)) => existing = e,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "entry re-read failed");
                break;
            }
        }
    }
    tracing::warn!(call_sid = %existing.call_sid, "the first delivery did not answer in time: fallback");
    twiml::fallback(config, &urls.fallback()).to_xml()
}

fn fallback_reason(e: &VoiceAiError) -> &'static str {
    match e {
        VoiceAiError::Timeout(_) => "timeout",
        VoiceAiError::CircuitOpen(_) => "circuit_open",
        VoiceAiError::Config(_) => "config",
        VoiceAiError::Unreachable(_) => "unreachable",
        VoiceAiError::Failed { status, .. } if *status < 300 => "invalid_twiml",
        VoiceAiError::Failed { .. } => "error",
    }
}

/// ElevenLabs register-call with the call's dynamic variables; the TwiML checked before it
/// goes to Twilio.
async fn register(
    v: &Voice,
    business_id: &str,
    config: &BusinessConfig,
    form: &[(String, String)],
    sid: &str,
) -> Result<String, VoiceAiError> {
    let p = v.p();
    let agent_id = config
        .telephony
        .agent_id
        .clone()
        .ok_or_else(|| VoiceAiError::Config("telephony.agent_id is not set".into()))?;
    let api_key = p
        .elevenlabs_secret()
        .await
        .map_err(|e| VoiceAiError::Config(e.detail))?
        .api_key;
    let now = p.now();
    let from = param(form, "From").unwrap_or("");
    let to = param(form, "To").unwrap_or("");
    let caller = phone::normalize(from, default_country(config)).ok();
    let info = match &caller {
        Some(e164) => {
            tokio::time::timeout(CALLER_LOOKUP_BUDGET, v.entry.caller(business_id, e164, now))
                .await
                .unwrap_or_else(|_| {
                    tracing::warn!("caller lookup too slow: no personalisation");
                    CallerInfo::default()
                })
        }
        None => CallerInfo::default(),
    };
    let mut vars =
        call_entry::dynamic_variables(config, business_id, now, caller.as_deref(), &info);
    vars.insert("call_sid".to_owned(), sid.to_owned());
    let call = RegisterCall {
        agent_id,
        from_number: from.to_owned(),
        to_number: to.to_owned(),
        direction: "inbound".to_owned(),
        dynamic_variables: vars,
    };
    let started = Instant::now();
    let xml = v.voice_ai.register_call(&api_key, &call).await?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "register-call answered"
    );
    twiml::validate(&xml).map_err(|e| VoiceAiError::Failed {
        status: 200,
        message: format!("register-call returned unusable TwiML: {e}"),
    })?;
    Ok(xml)
}

/// `<Dial action>` of ring-staff-first: hang up when staff answered, else the agent.
async fn after_ring_staff(v: &Voice, req: &Request) -> Result<Response<Body>, Problem> {
    let p = v.p();
    let form = verified_form(p, req).await?;
    let Some((business_id, _config)) = business_of(v, req, &form).await? else {
        return Ok(twiml_response(&not_in_service()));
    };
    let base = base_of(p, req)?;
    let status = param(&form, "DialCallStatus").unwrap_or("");
    let xml =
        twiml::after_ring_staff(status, &VoiceUrls::new(&base, &business_id).ring_staff()).to_xml();
    tracing::info!(business_id = %business_id, dial_status = status, "after ringing staff");
    Ok(twiml_response(&xml))
}

/// `voice-fallback`: [`routes::FALLBACK`] and [`routes::AFTER_DIAL`].
pub async fn handle_fallback(
    v: &Voice,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let path = path_of(&req);
    const SERVED: &[&str] = &[routes::AFTER_DIAL, routes::FALLBACK];
    let result = match route_of(&path, SERVED) {
        Some(routes::AFTER_DIAL) => after_dial(v, &req).await,
        Some(_) => fallback(v, &req).await,
        None => Err(no_route(SERVED)),
    };
    Ok(logged("voice fallback webhook", &path, started, result))
}

/// The number's fallback URL (Twilio calls it when the voice URL fails: ElevenLabs' own in
/// native mode, `voice-inbound` in register-call mode): the escalation number, then a
/// voicemail. Deterministic, so a retry gets the same document.
async fn fallback(v: &Voice, req: &Request) -> Result<Response<Body>, Problem> {
    let p = v.p();
    let form = verified_form(p, req).await?;
    let Some((business_id, config)) = business_of(v, req, &form).await? else {
        tracing::error!(
            to = param(&form, "To").unwrap_or(""),
            "fallback call to a number no business owns"
        );
        return Ok(twiml_response(&not_in_service()));
    };
    let base = base_of(p, req)?;
    let xml = twiml::fallback(&config, &VoiceUrls::new(&base, &business_id).fallback()).to_xml();
    tracing::warn!(
        business_id = %business_id,
        call_sid = param(&form, "CallSid").unwrap_or(""),
        error_code = param(&form, "ErrorCode").unwrap_or(""),
        error_url = param(&form, "ErrorUrl").unwrap_or(""),
        "fallback URL called: staff, then voicemail"
    );
    if let Ok(sid) = call_sid(&form) {
        let entry = EntryRecord {
            business_id: business_id.clone(),
            call_sid: sid.clone(),
            step: "fallback".to_owned(),
            from: param(&form, "From").map(str::to_owned),
            to: param(&form, "To").map(str::to_owned),
            route: "fallback".to_owned(),
            fallback_reason: Some(
                param(&form, "ErrorCode")
                    .map(|c| format!("twilio_{c}"))
                    .unwrap_or_else(|| "voice_url_failed".to_owned()),
            ),
            twiml: Some(xml.clone()),
            created_at: p.now(),
        };
        // The entry carries its answer already (one write); the counters are once per call
        // by their own marker, so both go at the same time.
        let mut c = Counters::default();
        c.add("voice_fallbacks", 1)
            .add("voice_fallback_twilio_fallback_url", 1);
        let (stored, ()) = tokio::join!(
            v.log.claim(&entry),
            count_once(v, &business_id, &config, &sid, "fallback", &c)
        );
        if let Err(e) = stored {
            tracing::warn!(error = %e, "fallback entry not stored");
        }
    }
    Ok(twiml_response(&xml))
}

/// `<Dial action>` of the fallback and of transfers: hang up when staff answered, else a
/// voicemail (or an apology when `voicemail_fallback` is off).
async fn after_dial(v: &Voice, req: &Request) -> Result<Response<Body>, Problem> {
    let p = v.p();
    let form = verified_form(p, req).await?;
    let Some((business_id, config)) = business_of(v, req, &form).await? else {
        return Ok(twiml_response(&not_in_service()));
    };
    let base = base_of(p, req)?;
    let status = param(&form, "DialCallStatus").unwrap_or("");
    let xml = twiml::after_dial(
        &config,
        status,
        &VoiceUrls::new(&base, &business_id).voicemail(),
    )
    .to_xml();
    if let Ok(sid) = call_sid(&form) {
        let mut c = Counters::default();
        let outcome = if twiml::dial_answered(status) {
            "answered"
        } else {
            "unanswered"
        };
        c.add(format!("staff_dial_{outcome}"), 1);
        count_once(v, &business_id, &config, &sid, "after_dial", &c).await;
    }
    tracing::info!(business_id = %business_id, dial_status = status, "after dialling staff");
    Ok(twiml_response(&xml))
}
