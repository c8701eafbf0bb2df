//! `call-status`: Twilio's call status callbacks (the number's "Call status changes" URL) →
//! answer-rate counters of the business's day.
//!
//! Only final statuses count (`completed`, `busy`, `no-answer`, `failed`, `canceled`), once
//! per CallSid whatever the order or the number of deliveries: the first final status wins
//! (a marker item and the counters are one transaction). `completed` adds the call's
//! `CallDuration` to `call_secs`. Progress statuses (`queued`, `initiated`, `ringing`,
//! `in-progress`) arriving late change nothing.

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};

use super::{Voice, business_of, call_sid};
use crate::keys;
use crate::postcall::sms_webhooks::{EMPTY_TWIML, param, twiml as twiml_response, verified_form};
use crate::postcall::webhook::local_day;
use crate::postcall::{Counters, Once};
use crate::problem::Problem;

/// Final call statuses and their counter.
pub fn final_counter(status: &str) -> Option<&'static str> {
    match status {
        "completed" => Some("calls_completed"),
        "busy" => Some("calls_busy"),
        "no-answer" => Some("calls_no_answer"),
        "failed" => Some("calls_failed"),
        "canceled" => Some("calls_canceled"),
        _ => None,
    }
}

/// `call-status`.
pub async fn handle(v: &Voice, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(match status(v, &req).await {
        Ok(r) => r,
        Err(problem) => problem.into_response(),
    })
}

async fn status(v: &Voice, req: &Request) -> Result<Response<Body>, Problem> {
    let p = v.p();
    let form = verified_form(p, req).await?;
    let sid = call_sid(&form)?;
    let status = param(&form, "CallStatus").unwrap_or("");
    let Some(counter) = final_counter(status) else {
        tracing::info!(call_sid = %sid, status, "progress status: nothing to count");
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let Some((business_id, config)) = business_of(v, req, &form).await? else {
        tracing::warn!(
            to = param(&form, "To").unwrap_or(""),
            "status callback for a number no business owns"
        );
        return Ok(twiml_response(EMPTY_TWIML));
    };
    let mut c = Counters::default();
    c.add("calls_ended", 1).add(counter, 1);
    if status == "completed"
        && let Some(secs) = param(&form, "CallDuration").and_then(|d| d.parse::<i64>().ok())
    {
        c.add("call_secs", secs.max(0));
    }
    // The day the call happened (Twilio's Timestamp, RFC 2822), else now.
    let at = param(&form, "Timestamp")
        .and_then(|t| DateTime::parse_from_rfc2822(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| p.now());
    let pk = keys::call_pk(&business_id, &sid);
    let once = p
        .calls
        .count_once(
            &business_id,
            local_day(Some(&config), at),
            (&pk, "COUNTED#call_status"),
            &c,
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "call status storage failure");
            Problem::unavailable("Storage is unavailable; please retry.")
        })?;
    tracing::info!(business_id = %business_id, call_sid = %sid, status, counted = (once == Once::Fresh), "call status");
    Ok(twiml_response(EMPTY_TWIML))
}
