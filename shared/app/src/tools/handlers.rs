//! The six tools. Each takes the authenticated business profile and the JSON body and
//! returns an answer for the agent (see the module docs of `tools`).

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use frontdesk_rules::dates::{self, DateError, DateRange};
use frontdesk_rules::locks;
use frontdesk_rules::phone;
use frontdesk_rules::slots::{self, Slot, SlotQuery, StaffChoice, Unavailable};
use frontdesk_rules::speak::{self, Language, Say};
use frontdesk_rules::{BusinessConfig, Service};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::slot_token::{self, SlotRef, SlotTokenError};
use super::{Failure, Outcome, Tool, ToolContext};
use crate::booking::{
    Booking, BookingError, BookingStatus, CallLog, Caps, ContactUpdate, Customer, Move, Written,
    new_booking_id,
};
use crate::idempotency::{IdemError, IdemKey};
use crate::problem::Problem;
use crate::store::ToolProfile;

/// Default and largest number of slots offered at once.
const DEFAULT_OFFERS: usize = 3;
const MAX_OFFERS: usize = 10;
/// Default search window when the agent gives no dates.
const DEFAULT_RANGE_DAYS: i64 = 7;
/// Longest date range a single availability question may span.
const MAX_RANGE_DAYS: i64 = 366;

/// Fields every tool accepts, filled from ElevenLabs system variables, never by the LLM.
#[derive(Deserialize, Default, Debug)]
struct CallFields {
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    caller_id: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

struct Env<'a> {
    ctx: &'a ToolContext,
    business_id: &'a str,
    config: &'a BusinessConfig,
    tz: Tz,
    lang: Language,
    now: DateTime<Utc>,
    call: CallFields,
}

impl Env<'_> {
    fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.tz).date_naive()
    }
    fn say(&self, what: Say<'_>) -> String {
        speak::say(what, self.lang)
    }
    fn fail(&self, error: &'static str, what: Say<'_>) -> Failure {
        Failure::new(error, self.say(what))
    }
    fn default_country(&self) -> Option<phonenumber::country::Id> {
        self.config
            .telephony
            .numbers
            .first()
            .and_then(|n| phone::country_of(n))
    }
    fn service_names(&self) -> Vec<String> {
        self.config
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }
    fn staff_names(&self) -> Vec<String> {
        self.config.staff.iter().map(|s| s.name.clone()).collect()
    }
    fn staff_name(&self, staff_id: &str) -> String {
        self.config
            .staff
            .iter()
            .find(|s| s.id == staff_id)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }
    fn service(&self, id: &str) -> Option<&Service> {
        self.config.services.iter().find(|s| s.id == id)
    }
    fn caps(&self) -> Caps {
        Caps {
            daily: self.config.booking_rules.daily_cap,
            staff_daily: self.config.booking_rules.staff_daily_cap,
        }
    }
    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }
    fn horizon_end(&self) -> DateTime<Utc> {
        let last = self.today() + Duration::days(i64::from(self.config.booking_rules.horizon_days));
        slots::local_day_bounds(self.tz, last).1
    }

    async fn signing_key(&self) -> Result<Vec<u8>, Problem> {
        self.ctx.signing_key().await
    }

    /// A slot as the agent sees it: signed id, local ISO times, staff and a phrase.
    fn offer(&self, key: &[u8], slot: &Slot, service_id: &str) -> Value {
        let id = slot_token::sign(
            key,
            self.business_id,
            &SlotRef {
                service_id: service_id.to_owned(),
                staff_id: slot.staff_id.clone(),
                start: slot.start,
            },
            self.now,
        );
        json!({
            "slot_id": id,
            "start": slot.start.with_timezone(&self.tz).to_rfc3339(),
            "end": slot.end.with_timezone(&self.tz).to_rfc3339(),
            "staff_id": slot.staff_id,
            "staff_name": self.staff_name(&slot.staff_id),
            "say": speak::slot_phrase(slot.start, self.tz, self.now, self.lang),
        })
    }

    /// A few bookable alternatives near `around` (same day first, then the following days).
    async fn alternatives(
        &self,
        service_id: &str,
        staff: &StaffChoice,
        around: DateTime<Utc>,
        ignore: Option<&str>,
    ) -> Vec<Value> {
        let from = around.max(self.now) - Duration::hours(12);
        let from = from.max(self.now);
        let to = (from + Duration::days(14)).min(self.horizon_end());
        if to <= from {
            return vec![];
        }
        let Ok(busy) = self.ctx.bookings.busy(self.business_id, from, to).await else {
            return vec![];
        };
        let query = SlotQuery {
            service_id: service_id.to_owned(),
            staff: staff.clone(),
            from,
            to,
            now: self.now,
            ignore_booking: ignore.map(str::to_owned),
        };
        let Ok(found) = slots::find_slots(self.config, &busy, &query) else {
            return vec![];
        };
        let Ok(key) = self.signing_key().await else {
            return vec![];
        };
        slots::pick_best(&found, DEFAULT_OFFERS, self.tz)
            .iter()
            .map(|s| self.offer(&key, s, service_id))
            .collect()
    }

    fn resolve_service(&self, wanted: &str) -> Result<&Service, Failure> {
        let w = wanted.trim().to_lowercase();
        let services = &self.config.services;
        services
            .iter()
            .find(|s| s.id.to_lowercase() == w || s.name.to_lowercase() == w)
            .or_else(|| {
                let matching: Vec<_> = services
                    .iter()
                    .filter(|s| {
                        let name = s.name.to_lowercase();
                        !w.is_empty() && (name.contains(&w) || w.contains(&name))
                    })
                    .collect();
                (matching.len() == 1).then(|| matching[0])
            })
            .ok_or_else(|| {
                let known = self.service_names();
                self.fail("unknown_service", Say::UnknownService { known: &known })
            })
    }

    fn resolve_staff(&self, wanted: Option<&str>) -> Result<StaffChoice, Failure> {
        let Some(w) = wanted
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
        else {
            return Ok(StaffChoice::Anyone);
        };
        if matches!(
            w.as_str(),
            "anyone" | "any" | "no preference" | "whoever" | "first available"
        ) {
            return Ok(StaffChoice::Anyone);
        }
        let staff = &self.config.staff;
        let found = staff
            .iter()
            .find(|s| s.id.to_lowercase() == w || s.name.to_lowercase() == w)
            .or_else(|| {
                let matching: Vec<_> = staff
                    .iter()
                    .filter(|s| {
                        s.name
                            .to_lowercase()
                            .split_whitespace()
                            .any(|part| part.trim_matches('.') == w.trim_matches('.'))
                            || s.name.to_lowercase().contains(&w)
                    })
                    .collect();
                (matching.len() == 1).then(|| matching[0])
            });
        match found {
            Some(s) => Ok(StaffChoice::Specific(s.id.clone())),
            None => {
                let known = self.staff_names();
                Err(self.fail("unknown_staff", Say::UnknownStaff { known: &known }))
            }
        }
    }

    fn normalize_phone(&self, input: &str) -> Result<String, Failure> {
        phone::normalize(input, self.default_country())
            .map_err(|_| self.fail("invalid_phone", Say::InvalidPhone { input }))
    }

    fn date_failure(&self, e: &DateError, input: &str) -> Failure {
        match e {
            DateError::NonexistentLocalTime(_) => {
                self.fail("nonexistent_time", Say::NonexistentTime)
            }
            DateError::TooLong { .. } => self.fail(
                "beyond_horizon",
                Say::BeyondHorizon {
                    days: self.config.booking_rules.horizon_days,
                },
            ),
            _ => self.fail("unparseable_date", Say::UnparseableDate { input }),
        }
    }

    fn unavailable_failure(
        &self,
        why: &Unavailable,
        service: Option<&Service>,
        staff_name: &str,
    ) -> Failure {
        let (code, say) = match why {
            Unavailable::UnknownService => {
                let known = self.service_names();
                (
                    "unknown_service",
                    self.say(Say::UnknownService { known: &known }),
                )
            }
            Unavailable::UnknownStaff => {
                let known = self.staff_names();
                (
                    "unknown_staff",
                    self.say(Say::UnknownStaff { known: &known }),
                )
            }
            Unavailable::StaffCannotServe => (
                "staff_cannot_serve",
                self.say(Say::StaffCannotServe {
                    staff: staff_name,
                    service: service.map(|s| s.name.as_str()).unwrap_or(""),
                }),
            ),
            Unavailable::InPast => ("date_in_past", self.say(Say::InPast)),
            Unavailable::TooSoon { earliest } => (
                "too_soon",
                self.say(Say::TooSoon {
                    earliest: Some(speak::slot_phrase(*earliest, self.tz, self.now, self.lang)),
                }),
            ),
            Unavailable::BeyondHorizon { .. } => (
                "beyond_horizon",
                self.say(Say::BeyondHorizon {
                    days: self.config.booking_rules.horizon_days,
                }),
            ),
            Unavailable::Closed { reason } => (
                "closed",
                self.say(Say::Closed {
                    reason: reason.as_deref(),
                }),
            ),
            Unavailable::OutsideHours | Unavailable::OffGrid => {
                ("outside_hours", self.say(Say::OutsideHours))
            }
            Unavailable::DailyCapReached | Unavailable::StaffCapReached => {
                ("fully_booked", self.say(Say::DailyCapReached))
            }
            Unavailable::Taken => ("slot_taken", self.say(Say::SlotTaken)),
        };
        Failure::new(code, say)
    }

    /// The expected failures of a booking write, with alternatives where they help.
    async fn write_failure(
        &self,
        e: BookingError,
        service_id: &str,
        staff: &StaffChoice,
        around: DateTime<Utc>,
        ignore: Option<&str>,
    ) -> Outcome {
        let (code, say) = match e {
            BookingError::SlotTaken => ("slot_taken", Say::SlotTaken),
            BookingError::DailyCapReached | BookingError::StaffCapReached => {
                ("fully_booked", Say::DailyCapReached)
            }
            BookingError::Idempotency(IdemError::InProgress { .. }) => {
                return self.fail("in_progress", Say::Unavailable).into();
            }
            BookingError::Idempotency(IdemError::Conflict { .. }) => {
                return Problem::conflict(
                    "idempotency-conflict",
                    "This idempotency key was already used with different arguments.",
                )
                .into();
            }
            BookingError::NotFound(_) => {
                return self.fail("booking_not_found", Say::BookingNotFound).into();
            }
            BookingError::Stale(_) => ("booking_changed", Say::SlotTaken),
            other => {
                tracing::error!(error = %other, "booking store failure");
                return self
                    .fail("temporarily_unavailable", Say::Unavailable)
                    .into();
            }
        };
        self.fail(code, say)
            .with_alternatives(self.alternatives(service_id, staff, around, ignore).await)
            .into()
    }
}

fn parse<T: DeserializeOwned>(body: &Value) -> Result<T, Outcome> {
    serde_json::from_value(body.clone()).map_err(|e| {
        Outcome::Problem(Problem::bad_request(format!(
            "Invalid tool arguments: {e}."
        )))
    })
}

pub(super) async fn dispatch(
    ctx: &ToolContext,
    tool: Tool,
    profile: &Arc<ToolProfile>,
    body: Value,
    base: Option<String>,
) -> Outcome {
    let config = &profile.business.config;
    let call: CallFields = match parse(&body) {
        Ok(c) => c,
        Err(o) => return o,
    };
    let env = Env {
        ctx,
        business_id: &profile.business.id,
        config,
        tz: config.profile.time_zone,
        lang: Language::for_config(config),
        now: ctx.clock.now(),
        call,
    };
    let result = match tool {
        Tool::CheckAvailability => check_availability(&env, &body).await,
        Tool::CreateBooking => create_booking(&env, &body).await,
        Tool::UpdateBooking => update_booking(&env, &body).await,
        Tool::FindBookings => find_bookings(&env, &body).await,
        Tool::UpsertContact => upsert_contact(&env, &body).await,
        Tool::LogCall => log_call(&env, &body).await,
        Tool::TransferCall => transfer_call(&env, &body, base.as_deref()).await,
    };
    match result {
        Ok(v) => Outcome::Answer(v),
        Err(o) => o,
    }
}

type ToolResult = Result<Value, Outcome>;

fn problem(p: Problem) -> Outcome {
    Outcome::Problem(p)
}

// ------------------------------------------------------------ check_availability

#[derive(Deserialize)]
struct AvailabilityArgs {
    #[serde(alias = "service_type")]
    service: String,
    #[serde(default)]
    date_range: Option<String>,
    #[serde(default)]
    date_from: Option<String>,
    #[serde(default)]
    date_to: Option<String>,
    #[serde(default)]
    staff: Option<String>,
    #[serde(default)]
    time_of_day: Option<String>,
    #[serde(default)]
    max_results: Option<usize>,
}

fn in_time_of_day(start: DateTime<Utc>, tz: Tz, part: Option<&str>) -> bool {
    let hour = start.with_timezone(&tz).hour();
    match part.map(|p| p.trim().to_lowercase()).as_deref() {
        Some("morning") => hour < 12,
        Some("afternoon") => (12..17).contains(&hour),
        Some("evening") => hour >= 17,
        _ => true,
    }
}

async fn check_availability(env: &Env<'_>, body: &Value) -> ToolResult {
    let args: AvailabilityArgs = parse(body)?;
    let service = env.resolve_service(&args.service).map_err(Outcome::from)?;
    let staff = env
        .resolve_staff(args.staff.as_deref())
        .map_err(Outcome::from)?;
    if let Some(tod) = args.time_of_day.as_deref()
        && !matches!(
            tod.trim().to_lowercase().as_str(),
            "" | "any" | "morning" | "afternoon" | "evening"
        )
    {
        return Err(problem(Problem::bad_request(
            "`time_of_day` must be morning, afternoon, evening or any.",
        )));
    }
    let today = env.today();
    let range = match (&args.date_range, &args.date_from) {
        (Some(r), _) if !r.trim().is_empty() => {
            dates::parse_date_range(r, today, MAX_RANGE_DAYS)
                .map_err(|e| Outcome::from(env.date_failure(&e, r)))?
        }
        (_, Some(from)) => {
            let f = dates::parse_date(from, today)
                .map_err(|e| Outcome::from(env.date_failure(&e, from)))?;
            let t = match &args.date_to {
                Some(to) => dates::parse_date(to, today)
                    .map_err(|e| Outcome::from(env.date_failure(&e, to)))?,
                None => f,
            };
            if t < f {
                return Err(env
                    .fail("unparseable_date", Say::UnparseableDate { input: from })
                    .into());
            }
            DateRange { from: f, to: t }
        }
        _ => DateRange {
            from: today,
            to: today + Duration::days(DEFAULT_RANGE_DAYS - 1),
        },
    };
    let last_day = today + Duration::days(i64::from(env.config.booking_rules.horizon_days));
    if range.to < today {
        return Err(env.fail("date_in_past", Say::InPast).into());
    }
    if range.from > last_day {
        return Err(env
            .fail(
                "beyond_horizon",
                Say::BeyondHorizon {
                    days: env.config.booking_rules.horizon_days,
                },
            )
            .into());
    }
    let from_day = range.from.max(today);
    let to_day = range.to.min(last_day);
    let from = slots::local_day_bounds(env.tz, from_day).0;
    let to = slots::local_day_bounds(env.tz, to_day).1;
    let horizon_end = env.horizon_end();
    // One query serves the range and the "next opening after it" answer.
    let busy = env
        .ctx
        .bookings
        .busy(env.business_id, from, horizon_end)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "booking store failure");
            Outcome::from(env.fail("temporarily_unavailable", Say::Unavailable))
        })?;
    let query = |from, to| SlotQuery {
        service_id: service.id.clone(),
        staff: staff.clone(),
        from,
        to,
        now: env.now,
        ignore_booking: None,
    };
    let found: Vec<Slot> = slots::find_slots(env.config, &busy, &query(from, to))
        .map_err(|e| problem(Problem::bad_request(e.to_string())))?
        .into_iter()
        .filter(|s| in_time_of_day(s.start, env.tz, args.time_of_day.as_deref()))
        .collect();
    let n = args
        .max_results
        .unwrap_or(DEFAULT_OFFERS)
        .clamp(1, MAX_OFFERS);
    let key = env.signing_key().await.map_err(problem)?;
    let offers: Vec<Value> = slots::pick_best(&found, n, env.tz)
        .iter()
        .map(|s| env.offer(&key, s, &service.id))
        .collect();
    let mut answer = json!({
        "ok": true,
        "today": speak::today(env.now, env.tz, env.lang),
        "service": {"id": service.id, "name": service.name, "duration_minutes": service.duration_minutes},
        "range": {"from": from_day, "to": to_day},
        "total_available": found.len(),
        "slots": offers,
    });
    if found.is_empty() {
        // Nothing in the range: offer the next openings after it.
        let later: Vec<Slot> = if to < horizon_end {
            slots::find_slots(env.config, &busy, &query(to, horizon_end)).unwrap_or_default()
        } else {
            vec![]
        };
        let next: Vec<Value> = slots::pick_best(&later, DEFAULT_OFFERS, env.tz)
            .iter()
            .map(|s| env.offer(&key, s, &service.id))
            .collect();
        let phrases: Vec<String> = next
            .iter()
            .filter_map(|o| o["say"].as_str().map(str::to_owned))
            .collect();
        let mut say = speak::offer_phrase(&[], env.lang);
        if !phrases.is_empty() {
            say = format!("{say} {}", speak::offer_phrase(&phrases, env.lang));
        }
        answer["say"] = json!(say);
        answer["next_available"] = json!(next);
    } else {
        let phrases: Vec<String> = answer["slots"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["say"].as_str().map(str::to_owned))
            .collect();
        answer["say"] = json!(speak::offer_phrase(&phrases, env.lang));
    }
    Ok(answer)
}

// ------------------------------------------------------------ create_booking

#[derive(Deserialize, Default)]
struct CustomerArgs {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct CreateArgs {
    #[serde(default)]
    slot_id: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default, alias = "service_type")]
    service: Option<String>,
    #[serde(default)]
    staff: Option<String>,
    #[serde(default)]
    customer: Option<CustomerArgs>,
    #[serde(default)]
    customer_name: Option<String>,
    #[serde(default)]
    customer_phone: Option<String>,
    #[serde(default)]
    customer_email: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

fn clean(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(char::is_whitespace)
        && e.len() <= 254
}

impl Env<'_> {
    fn customer(&self, args: CustomerArgs) -> Result<Customer, Outcome> {
        let name = clean(args.name).ok_or_else(|| {
            problem(Problem::bad_request(
                "`customer_name` (or `customer.name`) is required: ask the caller for their name.",
            ))
        })?;
        if name.chars().count() > 120 {
            return Err(problem(Problem::bad_request(
                "`customer_name` is longer than 120 characters.",
            )));
        }
        let raw_phone = clean(args.phone)
            .or_else(|| clean(self.call.caller_id.clone()))
            .ok_or_else(|| {
                problem(Problem::bad_request(
                    "`customer_phone` is required when the call has no caller id.",
                ))
            })?;
        let phone = self.normalize_phone(&raw_phone).map_err(Outcome::from)?;
        let email = clean(args.email);
        if let Some(e) = &email
            && !valid_email(e)
        {
            return Err(problem(Problem::bad_request(format!(
                "`customer_email` {e:?} is not an email address."
            ))));
        }
        Ok(Customer { name, phone, email })
    }

    /// The slot the agent asked for: a signed slot id, or a start time and a service.
    fn requested_slot(
        &self,
        key: &[u8],
        slot_id: Option<&str>,
        start: Option<&str>,
        service: Option<&str>,
        staff: Option<&str>,
    ) -> Result<(Service, StaffChoice, DateTime<Utc>), Outcome> {
        if let Some(token) = slot_id.map(str::trim).filter(|t| !t.is_empty()) {
            return match slot_token::verify(key, self.business_id, token, self.now) {
                Ok(r) => {
                    let service = self.service(&r.service_id).cloned().ok_or_else(|| {
                        Outcome::from(self.fail("invalid_slot", Say::InvalidSlot))
                    })?;
                    Ok((service, StaffChoice::Specific(r.staff_id), r.start))
                }
                Err(
                    SlotTokenError::Expired | SlotTokenError::Forged | SlotTokenError::Malformed,
                ) => Err(self.fail("invalid_slot", Say::InvalidSlot).into()),
            };
        }
        let Some(start) = start.map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(problem(Problem::bad_request(
                "Send `slot_id` (from check_availability) or `start`.",
            )));
        };
        let Some(service) = service else {
            return Err(problem(Problem::bad_request(
                "`service` is required with `start`.",
            )));
        };
        let service = self
            .resolve_service(service)
            .map_err(Outcome::from)?
            .clone();
        let staff = self.resolve_staff(staff).map_err(Outcome::from)?;
        let at = dates::parse_start_on(start, self.tz, self.today())
            .map_err(|e| Outcome::from(self.date_failure(&e, start)))?;
        Ok((service, staff, at))
    }

    /// Checks the pure rules for `start`; with "anyone" the current calendar picks the staff.
    async fn checked_slot(
        &self,
        service: &Service,
        staff: &StaffChoice,
        start: DateTime<Utc>,
        ignore: Option<&str>,
    ) -> Result<Slot, Outcome> {
        // With a named staff member the locks decide about overlaps: no read needed. With
        // "anyone" (or when moving a booking) the calendar is read to pick who is free.
        let busy = if matches!(staff, StaffChoice::Anyone) || ignore.is_some() {
            let (from, to) = slots::occupied_span(service, start);
            self.ctx
                .bookings
                .busy(
                    self.business_id,
                    from - Duration::days(1),
                    to + Duration::days(1),
                )
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "booking store failure");
                    Outcome::from(self.fail("temporarily_unavailable", Say::Unavailable))
                })?
        } else {
            vec![]
        };
        match slots::check_start(
            self.config,
            &busy,
            &service.id,
            staff,
            start,
            self.now,
            ignore,
        ) {
            Ok(slot) => Ok(slot),
            Err(why) => {
                let staff_name = match staff {
                    StaffChoice::Specific(id) => self.staff_name(id),
                    StaffChoice::Anyone => String::new(),
                };
                let failure = self.unavailable_failure(&why, Some(service), &staff_name);
                let alternatives = match why {
                    Unavailable::UnknownService
                    | Unavailable::UnknownStaff
                    | Unavailable::StaffCannotServe => vec![],
                    _ => self.alternatives(&service.id, staff, start, ignore).await,
                };
                Err(failure.with_alternatives(alternatives).into())
            }
        }
    }

    fn booking_json(&self, b: &Booking) -> Value {
        json!({
            "booking_id": b.booking_id,
            "status": b.status,
            "service_id": b.service_id,
            "service_name": b.service_name,
            "staff_id": b.staff_id,
            "staff_name": b.staff_name,
            "start": b.start.with_timezone(&self.tz).to_rfc3339(),
            "end": b.end.with_timezone(&self.tz).to_rfc3339(),
            "customer_name": b.customer.name,
            "customer_phone": b.customer.phone,
            "say": speak::booking_line(&b.service_name, b.start, self.tz, self.now, non_empty(&b.staff_name), self.lang),
        })
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

async fn create_booking(env: &Env<'_>, body: &Value) -> ToolResult {
    let args: CreateArgs = parse(body)?;
    let nested = args.customer.unwrap_or_default();
    let customer = env.customer(CustomerArgs {
        name: args.customer_name.or(nested.name),
        phone: args.customer_phone.or(nested.phone),
        email: args.customer_email.or(nested.email),
    })?;
    let notes = clean(args.notes);
    if notes.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(problem(Problem::bad_request(
            "`notes` is longer than 2000 characters.",
        )));
    }
    let key = env.signing_key().await.map_err(problem)?;
    let (service, staff, start) = env.requested_slot(
        &key,
        args.slot_id.as_deref(),
        args.start.as_deref(),
        args.service.as_deref(),
        args.staff.as_deref(),
    )?;
    let slot = env.checked_slot(&service, &staff, start, None).await?;
    let idem = IdemKey::for_tool(
        env.business_id,
        Tool::CreateBooking.name(),
        env.call.conversation_id.as_deref(),
        env.call.idempotency_key.as_deref(),
        body,
    );
    let (lock_from, lock_to) = locks::round_out(slot.occupied_from, slot.occupied_to);
    let plan = locks::lock_plan(lock_from, lock_to);
    // An id collision (8 random base32 characters) is retried with a fresh id.
    for _ in 0..3 {
        let booking = Booking {
            booking_id: new_booking_id(),
            business_id: env.business_id.to_owned(),
            status: BookingStatus::Booked,
            service_id: service.id.clone(),
            service_name: service.name.clone(),
            staff_id: slot.staff_id.clone(),
            staff_name: env.staff_name(&slot.staff_id),
            start: slot.start,
            end: slot.end,
            occupied_from: slot.occupied_from,
            occupied_to: slot.occupied_to,
            local_date: env.local_date(slot.start),
            locks: plan.clone(),
            customer: customer.clone(),
            notes: notes.clone(),
            conversation_id: env.call.conversation_id.clone(),
            cancel_reason: None,
            created_at: env.now,
            updated_at: env.now,
            version: 1,
        };
        let answer = json!({
            "ok": true,
            "booking": env.booking_json(&booking),
            "say": speak::booking_confirmed(&booking.service_name, booking.start, env.tz, env.now, non_empty(&booking.staff_name), env.lang),
        });
        return match env
            .ctx
            .bookings
            .create(&booking, env.caps(), &idem, &answer, env.now)
            .await
        {
            Ok(Written::Fresh) => {
                tracing::info!(booking_id = %booking.booking_id, "booking created");
                Ok(answer)
            }
            Ok(Written::Replayed(first)) => Ok(first),
            Err(BookingError::IdTaken(_)) => continue,
            Err(e) => Err(env.write_failure(e, &service.id, &staff, start, None).await),
        };
    }
    Err(env.fail("temporarily_unavailable", Say::Unavailable).into())
}

// ------------------------------------------------------------ update_booking

#[derive(Deserialize)]
struct UpdateArgs {
    booking_id: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    cancel: Option<bool>,
    #[serde(default)]
    reschedule_to: Option<String>,
    #[serde(default)]
    slot_id: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    staff: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    customer_phone: Option<String>,
}

/// Booking ids as a caller reads them: case and separators do not matter.
fn normalize_booking_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

async fn update_booking(env: &Env<'_>, body: &Value) -> ToolResult {
    let args: UpdateArgs = parse(body)?;
    let target = clean(args.reschedule_to.clone())
        .or_else(|| clean(args.slot_id.clone()))
        .or_else(|| clean(args.start.clone()));
    let cancel = match (args.action.as_deref().map(str::trim), args.cancel) {
        (Some("cancel"), _) | (None, Some(true)) => true,
        (Some("reschedule"), _) => false,
        (None, _) if target.is_some() => false,
        (Some(other), _) => {
            return Err(problem(Problem::bad_request(format!(
                "`action` must be \"reschedule\" or \"cancel\", not {other:?}."
            ))));
        }
        (None, _) => {
            return Err(problem(Problem::bad_request(
                "Say what to do: `action` \"cancel\", or \"reschedule\" with `reschedule_to` (a slot id or a start time).",
            )));
        }
    };
    if !cancel && target.is_none() {
        return Err(problem(Problem::bad_request(
            "`reschedule_to` (a slot id or a start time) is required to reschedule.",
        )));
    }
    let idem = IdemKey::for_tool(
        env.business_id,
        Tool::UpdateBooking.name(),
        env.call.conversation_id.as_deref(),
        env.call.idempotency_key.as_deref(),
        body,
    );
    // A repeated call answers with its first result, before the booking's new state is judged.
    if let Ok(Some(done)) = env.ctx.bookings.completed(&idem, env.now).await {
        return Ok(done);
    }
    let id = normalize_booking_id(&args.booking_id);
    let not_found = || Outcome::from(env.fail("booking_not_found", Say::BookingNotFound));
    let current = env
        .ctx
        .bookings
        .get(env.business_id, &id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "booking store failure");
            Outcome::from(env.fail("temporarily_unavailable", Say::Unavailable))
        })?
        .ok_or_else(not_found)?;
    // Only the caller's own bookings (by caller id or the phone they give) can be changed.
    let phones: Vec<String> = [env.call.caller_id.clone(), args.customer_phone.clone()]
        .into_iter()
        .flatten()
        .filter_map(|p| phone::normalize(&p, env.default_country()).ok())
        .collect();
    if !phones.contains(&current.customer.phone) {
        return Err(not_found());
    }
    if current.status == BookingStatus::Cancelled {
        return Err(env.fail("already_cancelled", Say::AlreadyCancelled).into());
    }
    let window = i64::from(env.config.booking_rules.cancellation_window_hours);
    if env.now > current.start - Duration::hours(window) {
        let hours = env.config.booking_rules.cancellation_window_hours;
        return Err(if cancel {
            env.fail("too_late_to_cancel", Say::TooLateToCancel { hours })
        } else {
            env.fail("too_late_to_change", Say::TooLateToChange { hours })
        }
        .into());
    }
    let reason = clean(args.reason);
    if cancel {
        let mut cancelled = current.clone();
        cancelled.status = BookingStatus::Cancelled;
        let answer = json!({
            "ok": true,
            "booking": env.booking_json(&cancelled),
            "say": speak::booking_cancelled(&current.service_name, current.start, env.tz, env.now, env.lang),
        });
        return match env
            .ctx
            .bookings
            .cancel(&current, reason.as_deref(), &idem, &answer, env.now)
            .await
        {
            Ok(Written::Fresh) => Ok(answer),
            Ok(Written::Replayed(first)) => Ok(first),
            Err(BookingError::Stale(_)) => {
                Err(env.fail("booking_changed", Say::Unavailable).into())
            }
            Err(e) => Err(env
                .write_failure(
                    e,
                    &current.service_id,
                    &StaffChoice::Anyone,
                    current.start,
                    Some(&id),
                )
                .await),
        };
    }
    let target = target.expect("checked above");
    let key = env.signing_key().await.map_err(problem)?;
    let looks_like_token = target.contains('.') && !target.contains(':');
    let (service, staff, start) = env.requested_slot(
        &key,
        looks_like_token.then_some(target.as_str()),
        (!looks_like_token).then_some(target.as_str()),
        Some(current.service_id.as_str()),
        Some(args.staff.as_deref().unwrap_or(&current.staff_id)),
    )?;
    if service.id != current.service_id {
        return Err(env.fail("invalid_slot", Say::InvalidSlot).into());
    }
    let slot = match env.checked_slot(&service, &staff, start, Some(&id)).await {
        Ok(slot) => slot,
        // The same staff member is busy then: anyone else who can serve will do, unless the
        // caller asked for someone.
        Err(_) if args.staff.is_none() && !looks_like_token => {
            env.checked_slot(&service, &StaffChoice::Anyone, start, Some(&id))
                .await?
        }
        Err(o) => return Err(o),
    };
    if slot.start == current.start && slot.staff_id == current.staff_id {
        return Ok(
            json!({"ok": true, "booking": env.booking_json(&current), "unchanged": true,
            "say": speak::booking_moved(&current.service_name, current.start, env.tz, env.now, non_empty(&current.staff_name), env.lang)}),
        );
    }
    let (lf, lt) = locks::round_out(slot.occupied_from, slot.occupied_to);
    let to = Move {
        staff_name: env.staff_name(&slot.staff_id),
        local_date: env.local_date(slot.start),
        locks: locks::lock_plan(lf, lt),
        slot,
    };
    let mut moved = current.clone();
    moved.start = to.slot.start;
    moved.end = to.slot.end;
    moved.staff_id = to.slot.staff_id.clone();
    moved.staff_name = to.staff_name.clone();
    let answer = json!({
        "ok": true,
        "booking": env.booking_json(&moved),
        "previous_start": current.start.with_timezone(&env.tz).to_rfc3339(),
        "say": speak::booking_moved(&moved.service_name, moved.start, env.tz, env.now, non_empty(&moved.staff_name), env.lang),
    });
    match env
        .ctx
        .bookings
        .reschedule(&current, &to, env.caps(), &idem, &answer, env.now)
        .await
    {
        Ok(Written::Fresh) => Ok(answer),
        Ok(Written::Replayed(first)) => Ok(first),
        Err(BookingError::TooLarge(n)) => {
            tracing::warn!(items = n, "reschedule too large for one transaction");
            Err(env.fail("needs_staff", Say::Unavailable).into())
        }
        Err(e) => Err(env
            .write_failure(e, &service.id, &staff, start, Some(&id))
            .await),
    }
}

// ------------------------------------------------------------ find_bookings

#[derive(Deserialize)]
struct FindArgs {
    #[serde(default)]
    phone: Option<String>,
}

async fn find_bookings(env: &Env<'_>, body: &Value) -> ToolResult {
    let args: FindArgs = parse(body)?;
    let raw = clean(args.phone)
        .or_else(|| clean(env.call.caller_id.clone()))
        .ok_or_else(|| {
            problem(Problem::bad_request(
                "`phone` is required when the call has no caller id.",
            ))
        })?;
    let phone = env.normalize_phone(&raw).map_err(Outcome::from)?;
    let found = env
        .ctx
        .bookings
        .upcoming_for_phone(env.business_id, &phone, env.now)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "booking store failure");
            Outcome::from(env.fail("temporarily_unavailable", Say::Unavailable))
        })?;
    let items: Vec<Value> = found.iter().map(|b| env.booking_json(b)).collect();
    let say = if items.is_empty() {
        env.say(Say::NoBookingsFound)
    } else {
        let lines: Vec<String> = items
            .iter()
            .filter_map(|b| b["say"].as_str().map(str::to_owned))
            .collect();
        speak::list_phrase(&lines, env.lang)
    };
    Ok(json!({"ok": true, "phone": phone, "bookings": items, "say": say}))
}

// ------------------------------------------------------------ upsert_contact

#[derive(Deserialize)]
struct ContactArgs {
    #[serde(default, alias = "customer_name")]
    name: Option<String>,
    #[serde(default, alias = "customer_phone")]
    phone: Option<String>,
    #[serde(default, alias = "customer_email")]
    email: Option<String>,
}

async fn upsert_contact(env: &Env<'_>, body: &Value) -> ToolResult {
    let args: ContactArgs = parse(body)?;
    let customer = env.customer(CustomerArgs {
        name: args.name,
        phone: args.phone,
        email: args.email,
    })?;
    let idem = IdemKey::for_tool(
        env.business_id,
        Tool::UpsertContact.name(),
        env.call.conversation_id.as_deref(),
        env.call.idempotency_key.as_deref(),
        body,
    );
    let answer = json!({"ok": true, "contact": {"name": customer.name, "phone": customer.phone, "email": customer.email}});
    let update = ContactUpdate {
        business_id: env.business_id.to_owned(),
        customer,
        conversation_id: env.call.conversation_id.clone(),
    };
    match env
        .ctx
        .bookings
        .upsert_contact(&update, &idem, &answer, env.now)
        .await
    {
        Ok(Written::Fresh) => Ok(answer),
        Ok(Written::Replayed(first)) => Ok(first),
        Err(e) => {
            tracing::error!(error = %e, "contact write failed");
            Err(env.fail("temporarily_unavailable", Say::Unavailable).into())
        }
    }
}

// ------------------------------------------------------------ log_call

/// Dispositions the agent may log (the post-call pipeline derives its own from the transcript).
pub const DISPOSITIONS: &[&str] = &[
    "booked",
    "rescheduled",
    "cancelled",
    "info_only",
    "escalated",
    "voicemail",
    "follow_up_needed",
    "abandoned",
];

#[derive(Deserialize)]
struct LogArgs {
    #[serde(default)]
    call_id: Option<String>,
    disposition: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    transcript_url: Option<String>,
}

async fn log_call(env: &Env<'_>, body: &Value) -> ToolResult {
    let args: LogArgs = parse(body)?;
    let call_id = clean(args.call_id)
        .or_else(|| clean(env.call.conversation_id.clone()))
        .ok_or_else(|| {
            problem(Problem::bad_request(
                "`call_id` is required (the conversation id).",
            ))
        })?;
    if call_id.len() > 128
        || !call_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
    {
        return Err(problem(Problem::bad_request(
            "`call_id` must be a conversation id (letters, digits, _ and -).",
        )));
    }
    let disposition = args.disposition.trim().to_lowercase();
    if !DISPOSITIONS.contains(&disposition.as_str()) {
        return Err(problem(Problem::bad_request(format!(
            "`disposition` must be one of {}.",
            DISPOSITIONS.join(", ")
        ))));
    }
    let summary = clean(args.summary);
    if summary.as_ref().is_some_and(|s| s.chars().count() > 4000) {
        return Err(problem(Problem::bad_request(
            "`summary` is longer than 4000 characters.",
        )));
    }
    let transcript_url = clean(args.transcript_url);
    if let Some(u) = &transcript_url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        return Err(problem(Problem::bad_request(
            "`transcript_url` must be an http(s) URL.",
        )));
    }
    let idem = IdemKey::for_tool(
        env.business_id,
        Tool::LogCall.name(),
        Some(&call_id),
        env.call.idempotency_key.as_deref(),
        body,
    );
    let log = CallLog {
        business_id: env.business_id.to_owned(),
        call_id: call_id.clone(),
        disposition: disposition.clone(),
        summary,
        transcript_url,
        caller: env
            .call
            .caller_id
            .clone()
            .and_then(|p| phone::normalize(&p, env.default_country()).ok()),
        logged_at: env.now,
    };
    let answer = json!({"ok": true, "call_id": call_id, "disposition": disposition});
    match env
        .ctx
        .bookings
        .log_call(&log, &idem, &answer, env.now)
        .await
    {
        Ok(Written::Fresh) => Ok(answer),
        Ok(Written::Replayed(first)) => Ok(first),
        Err(e) => {
            tracing::error!(error = %e, "call log write failed");
            Err(env.fail("temporarily_unavailable", Say::Unavailable).into())
        }
    }
}

// ------------------------------------------------------------ transfer_call

#[derive(Deserialize)]
struct TransferArgs {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    transfer_number: Option<String>,
    #[serde(default, alias = "system__call_sid")]
    call_sid: Option<String>,
}

async fn transfer_call(env: &Env<'_>, body: &Value, base: Option<&str>) -> ToolResult {
    let args: TransferArgs = parse(body)?;
    let reason = clean(args.reason).ok_or_else(|| {
        problem(Problem::bad_request(
            "`reason` is required: why the caller needs a person.",
        ))
    })?;
    if reason.chars().count() > 500 {
        return Err(problem(Problem::bad_request(
            "`reason` is longer than 500 characters.",
        )));
    }
    let call_sid = clean(args.call_sid).ok_or_else(|| {
        problem(Problem::bad_request(
            "`call_sid` is required (the `call_sid` dynamic variable of register-call calls).",
        ))
    })?;
    if !crate::voice::is_call_sid(&call_sid) {
        return Err(problem(Problem::bad_request(
            "`call_sid` must be a Twilio call SID (CA + 32 hexadecimal digits).",
        )));
    }
    let telephony = &env.config.telephony;
    if telephony.mode != frontdesk_rules::TelephonyMode::RegisterCall {
        // Native numbers transfer with ElevenLabs' transfer_to_number.
        return Err(env
            .fail("use_transfer_to_number", Say::TransferUnavailable)
            .into());
    }
    let rules = telephony.transfer_rules();
    let wanted = clean(args.transfer_number)
        .map(|n| phone::normalize(&n, env.default_country()).unwrap_or(n));
    let rule = match &wanted {
        Some(n) => rules.iter().find(|r| &r.number == n),
        None => rules.first(),
    };
    let Some(rule) = rule else {
        let code = if rules.is_empty() {
            "no_transfer_number"
        } else {
            "unknown_transfer_number"
        };
        return Err(env.fail(code, Say::TransferUnavailable).into());
    };
    let (Some(transfers), Some(base)) = (&env.ctx.transfers, base) else {
        tracing::error!("transfer_call is not wired (TWILIO_SECRET_ARN / public URL)");
        return Err(env
            .fail("temporarily_unavailable", Say::TransferUnavailable)
            .into());
    };
    let after_dial =
        crate::voice::VoiceUrls::new(base, env.business_id).url(crate::voice::routes::AFTER_DIAL);
    let request = crate::transfer::TransferRequest {
        business_id: env.business_id.to_owned(),
        call_sid,
        conversation_id: clean(env.call.conversation_id.clone()),
        number: rule.number.clone(),
        reason,
        twiml: frontdesk_rules::twiml::transfer(env.config, &rule.number, &after_dial).to_xml(),
        at: env.now,
    };
    match transfers.transfer(&request).await {
        Ok(answer) => Ok(answer),
        Err(crate::transfer::TransferError::CallEnded) => {
            Err(env.fail("call_ended", Say::TransferUnavailable).into())
        }
        Err(crate::transfer::TransferError::InProgress) => {
            Err(env.fail("in_progress", Say::TransferUnavailable).into())
        }
        Err(e) => {
            tracing::error!(error = %e, "transfer failed");
            Err(env
                .fail("temporarily_unavailable", Say::TransferUnavailable)
                .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_ids_as_spoken() {
        assert_eq!(normalize_booking_id(" k7m2-q9xd "), "K7M2Q9XD");
        assert_eq!(normalize_booking_id("K 7 M 2 Q 9 X D"), "K7M2Q9XD");
    }

    #[test]
    fn emails() {
        assert!(valid_email("a@b.co"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.de"));
        assert!(!valid_email("@c.de"));
    }
}
