//! Call entry. `call-init` answers ElevenLabs' conversation-initiation webhook (native mode:
//! the number is imported into ElevenLabs) with the dynamic variables of the business and
//! the caller. It runs while the phone rings: one configuration read (cached per container),
//! one contact read and one bookings query at most.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use frontdesk_rules::call_entry::{self, CallerInfo, NextBooking};
use frontdesk_rules::{BusinessConfig, phone};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::RwLock;

use crate::booking::BookingStore;
use crate::postcall::webhook::{Pipeline, default_country};
use crate::problem::{Problem, json_response};
use crate::request::json_body;

/// The header ElevenLabs sends with the initiation webhook (configured in its settings as a
/// workspace secret): compared in constant time with `initiation_secret` of the ElevenLabs
/// secret.
pub const INIT_SECRET_HEADER: &str = "x-frontdesk-init-secret";

/// How long a business found by number is reused by a container.
const ROUTE_TTL: Duration = Duration::from_secs(30);

/// A business found by number (`None`: nobody owns it), with when it was read.
pub(crate) type Route = Option<(String, Arc<BusinessConfig>)>;

pub struct CallEntry {
    pub p: Pipeline,
    pub bookings: Arc<dyn BookingStore>,
    routes: RwLock<BTreeMap<String, (Instant, Route)>>,
}

impl CallEntry {
    pub fn new(p: Pipeline, bookings: Arc<dyn BookingStore>) -> Self {
        Self {
            p,
            bookings,
            routes: RwLock::new(BTreeMap::new()),
        }
    }

    pub async fn from_env() -> Result<Self, crate::env::ConfigError> {
        let p = Pipeline::from_env().await?.with_phone_numbers_loaded();
        let table = crate::env::required("TABLE_NAME")?;
        let aws = crate::aws::AwsClients::from_env().await;
        let bookings = Arc::new(crate::booking::dynamodb::DynamoBookings::new(
            aws.dynamodb(),
            table,
        ));
        Ok(Self::new(p, bookings))
    }

    /// The business owning `e164` with its configuration, cached for [`ROUTE_TTL`].
    pub(crate) async fn route(&self, e164: &str) -> Result<Route, String> {
        if let Some((at, found)) = self.routes.read().await.get(e164)
            && at.elapsed() < ROUTE_TTL
        {
            return Ok(found.clone());
        }
        let found = self
            .p
            .business_by_number(Some(e164))
            .await?
            .map(|(id, config)| (id, Arc::new(config)));
        self.routes
            .write()
            .await
            .insert(e164.to_owned(), (Instant::now(), found.clone()));
        Ok(found)
    }

    /// What the CRM knows about the caller; a lookup failure only costs the personalisation.
    pub(crate) async fn caller(
        &self,
        business_id: &str,
        e164: &str,
        now: DateTime<Utc>,
    ) -> CallerInfo {
        let (name, upcoming) = tokio::join!(
            self.p.crm.contact_name(business_id, e164),
            self.bookings.upcoming_for_phone(business_id, e164, now)
        );
        let name = name.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "contact lookup failed");
            None
        });
        let next_booking = match upcoming {
            Ok(bookings) => bookings
                .into_iter()
                .filter(|b| b.start > now)
                .min_by_key(|b| b.start)
                .map(|b| NextBooking {
                    booking_id: b.booking_id,
                    service_name: b.service_name,
                    staff_name: (!b.staff_name.is_empty()).then_some(b.staff_name),
                    start: b.start,
                }),
            Err(e) => {
                tracing::warn!(error = %e, "bookings lookup failed");
                None
            }
        };
        CallerInfo { name, next_booking }
    }
}

/// The initiation webhook's body (lenient: ElevenLabs may add fields).
#[derive(Deserialize, Default)]
#[serde(default)]
struct InitRequest {
    caller_id: Option<String>,
    agent_id: Option<String>,
    called_number: Option<String>,
    call_sid: Option<String>,
}

fn answer(vars: BTreeMap<String, String>) -> Response<Body> {
    json_response(StatusCode::OK, &call_entry::client_data(&vars), &[])
}

/// `call-init`.
pub async fn handle_init(
    ctx: &CallEntry,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let resp = match init(ctx, &req).await {
        Ok(r) => r,
        Err(problem) => problem.into_response(),
    };
    tracing::info!(
        status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "call init"
    );
    Ok(resp)
}

async fn init(ctx: &CallEntry, req: &Request) -> Result<Response<Body>, Problem> {
    let presented = req
        .headers()
        .get(INIT_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Problem::unauthorized(format!("Missing {INIT_SECRET_HEADER} header.")))?;
    let accepted = ctx.p.elevenlabs_secret().await?.initiation_secrets();
    if !crate::auth::token_matches(presented, &accepted) {
        return Err(Problem::unauthorized("The initiation secret is not valid."));
    }
    let body: Value = json_body(req, &["application/json"], 64 * 1024)?;
    let init: InitRequest = serde_json::from_value(body)
        .map_err(|e| Problem::bad_request(format!("The body cannot be read: {e}.")))?;
    let now = ctx.p.now();
    let called = init
        .called_number
        .as_deref()
        .and_then(|n| phone::normalize(n, None).ok());
    let route = match &called {
        Some(n) => ctx
            .route(n)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "number lookup failed: generic greeting");
            })
            .ok()
            .flatten(),
        None => None,
    };
    let Some((business_id, config)) = route else {
        // Never dead air: a safe generic greeting, and a clear error in the logs.
        tracing::error!(
            called_number = init.called_number.as_deref().unwrap_or(""),
            agent_id = init.agent_id.as_deref().unwrap_or(""),
            call_sid = init.call_sid.as_deref().unwrap_or(""),
            "call to a number no business owns: generic greeting"
        );
        return Ok(answer(call_entry::generic_variables(now)));
    };
    let caller = init
        .caller_id
        .as_deref()
        .and_then(|c| phone::normalize(c, default_country(&config)).ok());
    let info = match &caller {
        Some(e164) => ctx.caller(&business_id, e164, now).await,
        None => CallerInfo {
            name: None,
            next_booking: None,
        },
    };
    let mut vars =
        call_entry::dynamic_variables(&config, &business_id, now, caller.as_deref(), &info);
    if let Some(sid) = init
        .call_sid
        .as_deref()
        .filter(|s| crate::voice::is_call_sid(s))
    {
        vars.insert("call_sid".to_owned(), sid.to_owned());
    }
    tracing::info!(business_id = %business_id, call_sid = init.call_sid.as_deref().unwrap_or(""), caller_known = info.name.is_some(), "call starting");
    Ok(answer(vars))
}
