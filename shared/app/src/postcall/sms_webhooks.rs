//! Twilio's messaging webhooks: delivery status callbacks (`sms-status`) and inbound texts
//! (`sms-inbound`: STOP / START / HELP and replies). Both are verified with
//! `X-Twilio-Signature` over the public URL (`PUBLIC_BASE_URL` + the raw path and query).

use frontdesk_rules::phone;
use frontdesk_rules::sms::{Reply, classify_reply};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::Counters;
use super::webhook::{Pipeline, default_country, local_day};
use crate::keys;
use crate::problem::Problem;

/// The largest form body accepted (Twilio's are a few KB).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Verifies a Twilio webhook (`X-Twilio-Signature` over the public URL: `PUBLIC_BASE_URL`,
/// else the API's own domain, + the raw path and query) and returns its form parameters.
/// A bad or missing signature is 403 with nothing done.
pub(crate) async fn verified_form(
    p: &Pipeline,
    req: &Request,
) -> Result<Vec<(String, String)>, Problem> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_FORM_BYTES {
        return Err(Problem::payload_too_large(MAX_FORM_BYTES));
    }
    let base = super::webhook::callback_base(p, req).ok_or_else(|| {
        tracing::error!(
            "PUBLIC_BASE_URL is not set and the request has no domain: Twilio signatures cannot be checked"
        );
        Problem::unavailable("The public URL is not configured.")
    })?;
    let creds = p.twilio_credentials().await.map_err(|e| {
        tracing::error!(error = %e, "Twilio secret unavailable");
        Problem::unavailable("The Twilio secret is unavailable; try again.")
    })?;
    let token = creds.auth_token().ok_or_else(|| {
        tracing::error!("the Twilio secret has no auth_token: signatures cannot be checked");
        Problem::unavailable("The Twilio auth token is not configured.")
    })?;
    let query = req.uri().query().unwrap_or("");
    // The path as API Gateway received it (not re-encoded); requests built in-process have none.
    let path = match req.raw_http_path() {
        "" => req.uri().path(),
        raw => raw,
    };
    let url = frontdesk_verify::twilio::public_url(&base, path, query);
    let form = frontdesk_verify::twilio::parse_form(body)
        .map_err(|e| Problem::bad_request(format!("The form body cannot be read: {e}.")))?;
    let header = req
        .headers()
        .get(frontdesk_verify::twilio::HEADER)
        .and_then(|v| v.to_str().ok());
    frontdesk_verify::twilio::verify(header, token, &url, &form).map_err(|e| {
        tracing::warn!(error = %e, %url, "Twilio webhook refused");
        Problem::new(
            StatusCode::FORBIDDEN,
            "invalid-signature",
            "Invalid signature",
            format!("The X-Twilio-Signature header is not valid: {e}."),
        )
    })?;
    Ok(form)
}

pub(crate) fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Delivery statuses in the order they can follow each other; a callback never moves a
/// text back (they arrive out of order).
pub fn delivery_rank(status: &str) -> u8 {
    match status {
        "accepted" | "scheduled" | "queued" => 1,
        "sending" => 2,
        "sent" => 3,
        "delivered" | "undelivered" | "failed" | "canceled" => 5,
        "read" => 6,
        _ => 0,
    }
}

pub(crate) fn twiml(xml: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "text/xml")
        .body(Body::Text(xml.to_owned()))
        .expect("valid response")
}

pub(crate) const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;

/// `sms-status`.
pub async fn handle_status(
    p: &Pipeline,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(match status(p, &req).await {
        Ok(r) => r,
        Err(problem) => problem.into_response(),
    })
}

async fn status(p: &Pipeline, req: &Request) -> Result<Response<Body>, Problem> {
    let form = verified_form(p, req).await?;
    let (Some(sid), Some(status)) = (
        param(&form, "MessageSid").or(param(&form, "SmsSid")),
        param(&form, "MessageStatus").or(param(&form, "SmsStatus")),
    ) else {
        return Err(Problem::bad_request(
            "MessageSid and MessageStatus are required.",
        ));
    };
    let unavailable = |e: super::PipelineError| {
        tracing::error!(error = %e, "status callback storage failure");
        Problem::unavailable("Storage is unavailable; please retry.")
    };
    let Some((business_id, call_id, record)) =
        p.ledger.by_message_sid(sid).await.map_err(unavailable)?
    else {
        // Not one of ours (or not recorded yet): nothing to update; Twilio need not retry.
        tracing::info!(%sid, %status, "status callback for an unknown message");
        return Ok(twiml(EMPTY_TWIML));
    };
    let moved = p
        .ledger
        .advance_delivery(
            &business_id,
            &call_id,
            &record.kind,
            status,
            delivery_rank(status),
        )
        .await
        .map_err(unavailable)?;
    // Count final outcomes once per (message, status), whatever the arrival order.
    let counter = match status {
        "delivered" => Some("sms_delivered"),
        "undelivered" | "failed" => Some("sms_undelivered"),
        _ => None,
    };
    if let Some(counter) = counter {
        let config = p.business(&business_id).await.ok();
        let mut c = Counters::default();
        c.add(counter, 1);
        let pk = keys::business_pk(&business_id);
        let sk = keys::sms_status_sk(sid, status);
        p.calls
            .count_once(
                &business_id,
                local_day(config.as_ref(), p.now()),
                (&pk, &sk),
                &c,
            )
            .await
            .map_err(unavailable)?;
    }
    if (status == "undelivered" || status == "failed")
        && let (Some("21610"), Some(to)) = (param(&form, "ErrorCode"), record.to.as_deref())
    {
        p.ledger
            .set_opt_out(&business_id, to, true, "twilio_21610", p.now())
            .await
            .map_err(unavailable)?;
    }
    tracing::info!(%sid, %status, moved, "delivery status");
    Ok(twiml(EMPTY_TWIML))
}

/// `sms-inbound`.
pub async fn handle_inbound(
    p: &Pipeline,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(match inbound(p, &req).await {
        Ok(r) => r,
        Err(problem) => problem.into_response(),
    })
}

async fn inbound(p: &Pipeline, req: &Request) -> Result<Response<Body>, Problem> {
    let form = verified_form(p, req).await?;
    let unavailable = |e: String| {
        tracing::error!(error = %e, "inbound text storage failure");
        Problem::unavailable("Storage is unavailable; please retry.")
    };
    let Some((business_id, config)) = p
        .business_by_number(param(&form, "To"))
        .await
        .map_err(unavailable)?
    else {
        tracing::warn!(
            to = param(&form, "To").unwrap_or(""),
            "inbound text to a number no business owns"
        );
        return Ok(twiml(EMPTY_TWIML));
    };
    let Some(from) =
        param(&form, "From").and_then(|f| phone::normalize(f, default_country(&config)).ok())
    else {
        return Ok(twiml(EMPTY_TWIML));
    };
    let now = p.now();
    let body = param(&form, "Body").unwrap_or("");
    let opt_out_type = param(&form, "OptOutType");
    let sid = param(&form, "MessageSid")
        .or(param(&form, "SmsSid"))
        .unwrap_or("unknown");
    let reply = match classify_reply(body, opt_out_type) {
        Reply::OptOut => {
            p.ledger
                .set_opt_out(&business_id, &from, true, "sms_stop", now)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            None
        }
        Reply::OptIn => {
            p.ledger
                .set_opt_out(&business_id, &from, false, "sms_start", now)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            None
        }
        // Twilio answered already when it matched the keyword itself (OptOutType present).
        Reply::Help if opt_out_type.is_none() => Some(format!(
            "{}: {}. Reply STOP to opt out.",
            config.profile.name,
            config
                .telephony
                .numbers
                .first()
                .map(|n| format!("call us at {n}"))
                .unwrap_or_else(|| "reply to this message".to_owned())
        )),
        Reply::Help => None,
        Reply::Other => {
            p.ledger
                .inbound_text(&business_id, &from, sid, body, now)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            None
        }
    };
    tracing::info!(business_id = %business_id, reply = reply.is_some(), "inbound text");
    Ok(match reply {
        None => twiml(EMPTY_TWIML),
        Some(text) => twiml(&format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>{}</Message></Response>"#,
            xml_escape(&text)
        )),
    })
}

/// Text content escaped for XML.
fn xml_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}
