//! The availability engine: which appointment start times can be offered and booked.
//!
//! Everything here is pure: the caller passes the [`BusinessConfig`], the existing bookings
//! ([`Busy`]) and the current instant. [`find_slots`] lists the free slots of a range,
//! [`check_start`] explains whether one requested start can be booked (and agrees exactly
//! with [`find_slots`]), and [`pick_best`] chooses a few well-spread options to read out on
//! the phone.
//!
//! # Who is booked
//!
//! An appointment is taken by one *staff member* (a person or a resource). A business with no
//! `staff` configured is a single resource, [`DEFAULT_RESOURCE`], working the business hours.
//! A service with empty `staff_ids` can be performed by every staff member
//! ([`eligible_staff`]). A staff member works the business hours intersected with their own
//! `hours` (`None` = the business hours): a staff range that straddles two business ranges
//! gives two working ranges, and an appointment must fit inside one of them.
//!
//! # The slot grid
//!
//! For each local day and each working range of a staff member, candidate starts step from
//! the range's opening *instant* by `slot_interval_minutes` of absolute (UTC) time, and a
//! candidate is kept when the whole appointment `[start, start + duration)` lies inside the
//! range. Buffers (`buffer_before_minutes`, `buffer_after_minutes`) may extend outside the
//! opening hours, but the *occupied span* `[start - buffer_before, end + buffer_after)`
//! ([`occupied_span`]) never overlaps another booking's occupied span.
//!
//! # Local time and daylight saving
//!
//! Hours and closures are wall-clock times in `profile.time_zone`; they are converted to
//! instants once per day:
//!
//! * an opening time (and a closure's `from`, and midnight) that occurs twice (fall back)
//!   maps to the *earlier* instant, a closing time (and a closure's `to`) to the *later* one,
//!   so a range spanning the repeated hour includes both passes of it;
//! * a time that does not exist (spring forward gap) maps to the first instant after the gap
//!   (the instant the clocks jump), for openings and closings alike;
//! * `24:00` ([`EndTime::EndOfDay`]) is the first instant of the next local day.
//!
//! Because the grid steps in absolute time, no slot starts in a spring-forward gap, and each
//! real instant of a fall-back hour is offered once: a range `00:00–04:00` with a 60-minute
//! grid has starts 00:00, 01:00, 03:00 on a spring-forward day (02:00 → 03:00) and 00:00,
//! 01:00 (first pass), 01:00 (second pass), 02:00, 03:00 on a fall-back day. Local days are
//! [`local_day_bounds`]: 23 or 25 hours long on transition days (23.5 / 24.5 in
//! Australia/Lord_Howe), and a day whose midnight falls in a gap starts at the first
//! instant after the gap.
//!
//! # The rules, in order
//!
//! A start can be booked when every rule holds; [`check_start`] reports the first one that
//! fails as an [`Unavailable`]:
//!
//! 1. the service exists ([`Unavailable::UnknownService`]); a specific staff member exists
//!    ([`Unavailable::UnknownStaff`]) and performs the service
//!    ([`Unavailable::StaffCannotServe`]);
//! 2. the start is not in the past ([`Unavailable::InPast`]) and at least
//!    `min_notice_minutes` ahead ([`Unavailable::TooSoon`]);
//! 3. its local date is at most `horizon_days` after today's local date
//!    ([`Unavailable::BeyondHorizon`]);
//! 4. no closure covers it ([`Unavailable::Closed`]): a closure without `from`/`to` closes
//!    its whole day(s) (`date` to `end_date` inclusive); one with `from`/`to` closes
//!    `[from, to)` of its day, and removes every appointment overlapping that window;
//! 5. the appointment fits inside one working range of the staff member that day
//!    ([`Unavailable::OutsideHours`]) and starts on that range's grid
//!    ([`Unavailable::OffGrid`]);
//! 6. fewer than `daily_cap` appointments start that local day in the whole business
//!    ([`Unavailable::DailyCapReached`]) and fewer than `staff_daily_cap` for the staff
//!    member ([`Unavailable::StaffCapReached`]); existing bookings count on the local date of
//!    their `start`;
//! 7. the occupied span, widened to 5-minute cells with [`locks::round_out`](crate::locks::round_out),
//!    does not overlap the equally widened occupied span of any other booking of the staff
//!    member ([`Unavailable::Taken`]). This is exactly the conflict the store's lock items
//!    enforce ([`crate::locks`]), so a slot offered here is never refused as taken by the
//!    store unless the calendar changed in between.
//!
//! When rescheduling, `ignore_booking` names the booking being moved: it neither blocks its
//! own new slot nor counts toward the caps.
//!
//! With [`StaffChoice::Anyone`] a start is free when it is free for at least one eligible
//! staff member; [`find_slots`] returns one slot per start time, given to the eligible staff
//! member free at that time with the fewest bookings that local day (ties: the order of
//! `staff` in the configuration). For `Anyone`, [`check_start`] reports the rule at which the
//! staff member who got furthest failed (a start that is inside one person's hours but
//! taken is [`Unavailable::Taken`], not [`Unavailable::OutsideHours`]).
//!
//! # Cost
//!
//! [`find_slots`] converts local times once per day (with a fixed-offset fast path on days
//! without a transition), sorts each staff member's bookings once and sweeps them along the
//! grid, so a query costs O(days × ranges × slots + bookings × log bookings) and allocates
//! nothing per candidate. The benchmark (`cargo bench -p frontdesk-rules --bench slots`)
//! checks a 60-day query over 10 staff and 2,000 bookings against a 1 ms budget.

use std::cmp::{max, min};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::{BusinessConfig, EndTime, Service, TimeRange, WeeklyHours};
use crate::locks::{ceil_cell, floor_cell, round_out_secs, spans_overlap as overlaps};

/// The staff id used when the business has no staff configured: one resource (capacity 1)
/// working the business hours.
pub const DEFAULT_RESOURCE: &str = "business";

/// An existing booking, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busy {
    pub booking_id: String,
    pub staff_id: String,
    /// Appointment start; its local date is the day the booking counts toward the caps.
    pub start: DateTime<Utc>,
    /// `start - buffer_before`.
    pub occupied_from: DateTime<Utc>,
    /// `end + buffer_after`.
    pub occupied_to: DateTime<Utc>,
}

/// Which staff member a caller wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaffChoice {
    /// Any eligible staff member.
    Anyone,
    /// This staff member (a [`Staff`](crate::config::Staff) id, or [`DEFAULT_RESOURCE`]
    /// when the business has no staff).
    Specific(String),
}

/// A [`find_slots`] query.
#[derive(Clone, Debug)]
pub struct SlotQuery {
    pub service_id: String,
    pub staff: StaffChoice,
    /// Slots whose start lies in `[from, to)` are returned.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The current instant (min notice, past, horizon).
    pub now: DateTime<Utc>,
    /// Reschedule: the booking being moved neither blocks itself nor counts for the caps.
    pub ignore_booking: Option<String>,
}

/// A bookable slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Appointment start.
    pub start: DateTime<Utc>,
    /// Appointment end (`start + duration`).
    pub end: DateTime<Utc>,
    pub staff_id: String,
    /// `start - buffer_before`, not rounded (the store rounds through the lock plan).
    pub occupied_from: DateTime<Utc>,
    /// `end + buffer_after`, not rounded.
    pub occupied_to: DateTime<Utc>,
}

/// Why [`find_slots`] cannot run a query.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("unknown service \"{0}\"")]
    UnknownService(String),
    #[error("unknown staff member \"{0}\"")]
    UnknownStaff(String),
    #[error("staff member \"{staff_id}\" does not perform service \"{service_id}\"")]
    StaffCannotServe {
        staff_id: String,
        service_id: String,
    },
}

/// Why a given start cannot be booked: the first failing rule, in this order (see the
/// [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailable {
    UnknownService,
    UnknownStaff,
    /// The staff member does not perform the service (for `Anyone`: nobody does).
    StaffCannotServe,
    /// The start is before `now`.
    InPast,
    /// The start is less than `min_notice_minutes` ahead; `earliest` = now + min notice.
    TooSoon {
        earliest: DateTime<Utc>,
    },
    /// The start's local date is after `last_day` = today + `horizon_days`.
    BeyondHorizon {
        last_day: NaiveDate,
    },
    /// A closure (holiday, blackout) covers the appointment, whole day or partly.
    Closed {
        reason: Option<String>,
    },
    /// Not inside one working range of that day (business hours ∩ staff hours).
    OutsideHours,
    /// Inside the hours but not on the slot grid.
    OffGrid,
    DailyCapReached,
    StaffCapReached,
    /// Overlaps another booking of the staff member (for `Anyone`: of every eligible staff
    /// member who could otherwise take it).
    Taken,
}

/// The instants `[start of the local day, start of the next local day)`. DST-aware: 23 or 25
/// hours on transition days; a day whose midnight falls in a gap starts at the first instant
/// after the gap.
pub fn local_day_bounds(tz: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = local_to_utc(tz, date.and_time(NaiveTime::MIN), Pick::Earliest);
    let end = local_to_utc(tz, next_day(date).and_time(NaiveTime::MIN), Pick::Earliest);
    (instant(start), instant(end))
}

/// The span a booking of `service` starting at `start` occupies: `[start - buffer_before,
/// start + duration + buffer_after)`, not rounded.
pub fn occupied_span(service: &Service, start: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let (before, duration, after) = service_secs(service);
    (
        start - chrono::Duration::seconds(before),
        start + chrono::Duration::seconds(duration + after),
    )
}

/// The ids of the staff who can perform `service`, in configuration order: those listed in
/// its `staff_ids`, or every staff member when the list is empty; `[DEFAULT_RESOURCE]` when
/// the business has no staff.
pub fn eligible_staff<'a>(config: &'a BusinessConfig, service: &Service) -> Vec<&'a str> {
    if config.staff.is_empty() {
        return vec![DEFAULT_RESOURCE];
    }
    config
        .staff
        .iter()
        .filter(|member| service.staff_ids.is_empty() || service.staff_ids.contains(&member.id))
        .map(|member| member.id.as_str())
        .collect()
}

/// The free slots whose start lies in `[q.from, q.to)`, sorted by start (then staff order).
///
/// For [`StaffChoice::Anyone`] there is one slot per start time, given to the free eligible
/// staff member with the fewest bookings that local day (ties: configuration order). Starts
/// before `now + min_notice` or after the horizon are left out. An unknown service or staff
/// member, or a staff member who does not perform the service, is an error.
pub fn find_slots(
    config: &BusinessConfig,
    busy: &[Busy],
    q: &SlotQuery,
) -> Result<Vec<Slot>, SlotError> {
    let (service, members) = resolve(config, &q.service_id, &q.staff)?;
    let tz = config.profile.time_zone;
    let rules = &config.booking_rules;
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let earliest = q.now + minutes(rules.min_notice_minutes);
    let last_day = add_days(local_date(tz, q.now), rules.horizon_days);
    let horizon_end = local_to_utc(tz, day_start_local(next_day(last_day)), Pick::Earliest);
    let lo = ceil_secs(max(q.from, earliest));
    let hi = min(ceil_secs(q.to), horizon_end);
    if lo >= hi {
        return Ok(Vec::new());
    }
    let first = local_date(tz, instant(lo));
    let last = local_date(tz, instant(hi - 1));
    let engine = Engine::new(
        config,
        service,
        members,
        busy,
        q.ignore_booking.as_deref(),
        first,
        last,
    );
    let mut scratch = Scratch::default();
    let mut hints = vec![0usize; engine.members.len()];
    let mut order: Vec<usize> = (0..engine.members.len()).collect();
    let mut day_slots: Vec<(i64, usize)> = Vec::new();
    let mut merged: Vec<(i64, usize)> = Vec::new();
    // (day, start, member) of every slot, turned into `Slot`s at the end: one allocation.
    let mut found: Vec<(usize, i64, usize)> = Vec::new();
    for index in 0..engine.days.len() - 1 {
        let day = engine.day(index, &mut scratch);
        if day.closed.is_some() || day.business.is_empty() || engine.daily_cap_reached(index) {
            continue;
        }
        // Staff in order of preference for this day: fewest bookings, then configuration.
        order.sort_by_key(|&j| (engine.staff_count(index, j), j));
        day_slots.clear();
        for &j in &order {
            if engine.staff_cap_reached(index, j) {
                continue;
            }
            scratch.starts.clear();
            // Starts a preferred staff member already takes need no check.
            engine.free_starts(&day, j, lo, hi, &mut hints[j], &day_slots, &mut scratch);
            if day_slots.is_empty() {
                day_slots.extend(scratch.starts.iter().map(|&start| (start, j)));
            } else {
                // Merge, keeping the earlier (preferred) staff member on equal starts.
                merged.clear();
                let (mut a, mut b) = (0, 0);
                let starts = &scratch.starts;
                while a < day_slots.len() || b < starts.len() {
                    if b == starts.len() || (a < day_slots.len() && day_slots[a].0 <= starts[b]) {
                        if b < starts.len() && day_slots[a].0 == starts[b] {
                            b += 1;
                        }
                        merged.push(day_slots[a]);
                        a += 1;
                    } else {
                        merged.push((starts[b], j));
                        b += 1;
                    }
                }
                std::mem::swap(&mut day_slots, &mut merged);
            }
        }
        found.extend(day_slots.iter().map(|&(start, j)| (index, start, j)));
    }
    let mut slots = Vec::with_capacity(found.len());
    let mut base: Option<(usize, DateTime<Utc>)> = None;
    for (index, start, j) in found {
        let day_start = engine.days[index].1;
        let at = match base {
            Some((i, at)) if i == index => at,
            _ => {
                let at = instant(day_start);
                base = Some((index, at));
                at
            }
        };
        slots.push(engine.slot((day_start, at), start, engine.members[j].id));
    }
    Ok(slots)
}

/// Whether `start` can be booked for `service_id` with `staff`: the slot [`find_slots`] would
/// return for that start (same staff assignment), or the first rule it breaks. Exactly
/// consistent with [`find_slots`]: `Ok` if and only if a [`find_slots`] query over a range
/// containing `start` returns a slot starting at `start`.
pub fn check_start(
    config: &BusinessConfig,
    busy: &[Busy],
    service_id: &str,
    staff: &StaffChoice,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    ignore_booking: Option<&str>,
) -> Result<Slot, Unavailable> {
    let (service, members) = resolve(config, service_id, staff).map_err(|error| match error {
        SlotError::UnknownService(_) => Unavailable::UnknownService,
        SlotError::UnknownStaff(_) => Unavailable::UnknownStaff,
        SlotError::StaffCannotServe { .. } => Unavailable::StaffCannotServe,
    })?;
    if members.is_empty() {
        return Err(Unavailable::StaffCannotServe);
    }
    let tz = config.profile.time_zone;
    let rules = &config.booking_rules;
    if start < now {
        return Err(Unavailable::InPast);
    }
    let earliest = now + minutes(rules.min_notice_minutes);
    if start < earliest {
        return Err(Unavailable::TooSoon { earliest });
    }
    let last_day = add_days(local_date(tz, now), rules.horizon_days);
    let horizon_end = local_to_utc(tz, day_start_local(next_day(last_day)), Pick::Earliest);
    if start.timestamp() >= horizon_end {
        return Err(Unavailable::BeyondHorizon { last_day });
    }
    let date = local_date(tz, start);
    let engine = Engine::new(config, service, members, busy, ignore_booking, date, date);
    let mut scratch = Scratch::default();
    let day = engine.day(0, &mut scratch);
    let s = start.timestamp();
    let whole_seconds = start.timestamp_subsec_nanos() == 0;
    let end = s + engine.duration + i64::from(!whole_seconds);
    if let Some(reason) = engine.closure_reason(&day, s, end) {
        return Err(Unavailable::Closed { reason });
    }

    // The decision comes from the same generator as `find_slots`; the diagnosis below only
    // names the rule that failed.
    let mut order: Vec<usize> = (0..engine.members.len()).collect();
    order.sort_by_key(|&j| (engine.staff_count(0, j), j));
    if whole_seconds && day.closed.is_none() && !engine.daily_cap_reached(0) {
        for &j in &order {
            if engine.staff_cap_reached(0, j) {
                continue;
            }
            scratch.starts.clear();
            engine.free_starts(&day, j, s, s + 1, &mut 0, &[], &mut scratch);
            if scratch.starts.first() == Some(&s) {
                return Ok(engine.slot((s, instant(s)), s, engine.members[j].id));
            }
        }
    }
    let furthest = (0..engine.members.len())
        .map(|j| engine.diagnose(&day, j, s, whole_seconds, &mut scratch))
        .max()
        .unwrap_or(Stage::OutsideHours);
    Err(match furthest {
        Stage::OutsideHours => Unavailable::OutsideHours,
        Stage::OffGrid => Unavailable::OffGrid,
        Stage::DailyCap => Unavailable::DailyCapReached,
        Stage::StaffCap => Unavailable::StaffCapReached,
        Stage::Taken => Unavailable::Taken,
        Stage::Free => {
            debug_assert!(
                false,
                "diagnosis found {start} free but the generator did not"
            );
            Unavailable::Taken
        }
    })
}

/// A few good options to offer by phone, at most `n`, sorted by start: the earliest slot,
/// then the first slot of each other local day, then the first slot in the other half of a
/// chosen day (morning before 12:00 / afternoon), then the slots furthest from those already
/// chosen. Only one slot per start time is chosen while other start times remain.
pub fn pick_best(slots: &[Slot], n: usize, tz: Tz) -> Vec<Slot> {
    let mut sorted: Vec<&Slot> = slots.iter().collect();
    sorted.sort_by_key(|slot| slot.start);
    if n >= sorted.len() {
        return sorted.into_iter().cloned().collect();
    }
    if n == 0 {
        return Vec::new();
    }
    let local: Vec<(NaiveDate, bool)> = sorted
        .iter()
        .map(|slot| {
            let time = slot.start.with_timezone(&tz);
            (time.date_naive(), time.hour() >= 12)
        })
        .collect();
    let mut picked: Vec<usize> = vec![0];
    let mut taken = vec![false; sorted.len()];
    taken[0] = true;
    let fresh_start =
        |picked: &[usize], i: usize| picked.iter().all(|&p| sorted[p].start != sorted[i].start);
    // Other days: the first slot of each.
    for i in 1..sorted.len() {
        if picked.len() == n {
            break;
        }
        if local[i].0 != local[i - 1].0 && !picked.iter().any(|&p| local[p].0 == local[i].0) {
            picked.push(i);
            taken[i] = true;
        }
    }
    // The other half of the chosen days.
    for i in 0..sorted.len() {
        if picked.len() == n {
            break;
        }
        if !taken[i]
            && picked.iter().any(|&p| local[p].0 == local[i].0)
            && !picked.iter().any(|&p| local[p] == local[i])
            && fresh_start(&picked, i)
        {
            picked.push(i);
            taken[i] = true;
        }
    }
    // Spread out: the slot furthest from every chosen one (earliest on ties), distinct start
    // times first.
    for distinct in [true, false] {
        while picked.len() < n {
            let best = (0..sorted.len())
                .filter(|&i| !taken[i] && (!distinct || fresh_start(&picked, i)))
                .max_by_key(|&i| {
                    let gap = picked
                        .iter()
                        .map(|&p| (sorted[p].start - sorted[i].start).abs())
                        .min()
                        .unwrap_or_default();
                    (gap, std::cmp::Reverse(i))
                });
            let Some(best) = best else { break };
            picked.push(best);
            taken[best] = true;
        }
    }
    picked.sort_unstable();
    picked.into_iter().map(|i| sorted[i].clone()).collect()
}

/// One local day of the business calendar as instants: its bounds, the closures that apply
/// to it and the hours that remain open. The same conversion (and the same DST rules, see the
/// [module documentation](self)) as the slot engine uses, for callers that need the opening
/// hours themselves (is the business open now, when does it open next).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessDay {
    pub date: NaiveDate,
    /// `[first instant of the day, first instant of the next day)` ([`local_day_bounds`]).
    pub bounds: (DateTime<Utc>, DateTime<Utc>),
    /// The closures covering the day, in configuration order.
    pub closures: Vec<DayClosure>,
    /// The business hours of the day minus the closure windows: sorted, non-empty, disjoint,
    /// touching or overlapping ranges merged. Empty on a closed day.
    pub open: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// A closure as it applies to one [`BusinessDay`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayClosure {
    /// The instants it closes: the whole day for a whole-day closure, `[from, to)` for a
    /// partial one.
    pub window: (DateTime<Utc>, DateTime<Utc>),
    pub reason: Option<String>,
}

/// The business hours of the local day `date` as instants, closures subtracted.
pub fn business_day(config: &BusinessConfig, date: NaiveDate) -> BusinessDay {
    let tz = config.profile.time_zone;
    let start = local_to_utc(tz, day_start_local(date), Pick::Earliest);
    let end = local_to_utc(tz, day_start_local(next_day(date)), Pick::Earliest);
    let clock = DayClock::new(tz, date, start, end);
    let closures: Vec<((Secs, Secs), Option<String>)> = config
        .closures
        .iter()
        .filter(|closure| date >= closure.date && date <= closure.end_date.unwrap_or(closure.date))
        .map(|closure| {
            let window = if closure.from.is_none() && closure.to.is_none() {
                (start, end)
            } else {
                (
                    clock.open(closure.from.unwrap_or(NaiveTime::MIN)),
                    clock.close(closure.to.unwrap_or(EndTime::EndOfDay)),
                )
            };
            (window, closure.reason.clone())
        })
        .collect();
    let mut hours: Vec<(Secs, Secs)> = config
        .hours
        .day(date.weekday())
        .iter()
        .map(|range| clock.range(range))
        .filter(|(open, close)| open < close)
        .collect();
    // Cut every closure window out of the ranges, then merge what is left.
    for &((c_from, c_to), _) in &closures {
        hours = hours
            .into_iter()
            .flat_map(|(a, b)| [(a, min(b, c_from)), (max(a, c_to), b)])
            .filter(|(a, b)| a < b)
            .collect();
    }
    hours.sort_unstable();
    let mut open: Vec<(Secs, Secs)> = Vec::with_capacity(hours.len());
    for (a, b) in hours {
        match open.last_mut() {
            Some(last) if a <= last.1 => last.1 = max(last.1, b),
            _ => open.push((a, b)),
        }
    }
    let span = |(a, b): (Secs, Secs)| (instant(a), instant(b));
    BusinessDay {
        date,
        bounds: span((start, end)),
        closures: closures
            .into_iter()
            .map(|(window, reason)| DayClosure {
                window: span(window),
                reason,
            })
            .collect(),
        open: open.into_iter().map(span).collect(),
    }
}

// --- Internals ---

/// Unix seconds.
type Secs = i64;

/// The first instant at or after `t`, in whole seconds.
fn ceil_secs(t: DateTime<Utc>) -> Secs {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

fn instant(secs: Secs) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("instants are within chrono's range")
}

fn minutes(m: u32) -> chrono::Duration {
    chrono::Duration::minutes(i64::from(m))
}

/// `(buffer_before, duration, buffer_after)` in seconds.
fn service_secs(service: &Service) -> (Secs, Secs, Secs) {
    (
        i64::from(service.buffer_before_minutes) * 60,
        i64::from(service.duration_minutes) * 60,
        i64::from(service.buffer_after_minutes) * 60,
    )
}

fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

fn next_day(date: NaiveDate) -> NaiveDate {
    date.succ_opt().unwrap_or(date)
}

fn add_days(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(chrono::Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

fn day_start_local(date: NaiveDate) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN)
}

/// Which instant an ambiguous local time maps to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pick {
    Earliest,
    Latest,
}

/// The UTC offset of `tz` at an instant, in seconds.
fn offset_at(tz: Tz, secs: Secs) -> Secs {
    let utc = instant(secs).naive_utc();
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// A local wall-clock time as an instant: ambiguous times by `pick`, nonexistent times (in a
/// gap) as the first instant after the gap.
fn local_to_utc(tz: Tz, local: NaiveDateTime, pick: Pick) -> Secs {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp(),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.timestamp(), b.timestamp());
            match pick {
                Pick::Earliest => min(a, b),
                Pick::Latest => max(a, b),
            }
        }
        LocalResult::None => after_gap(tz, local.and_utc().timestamp()),
    }
}

/// The first instant whose local time is at or after `wall` (a wall-clock time in a gap,
/// in seconds as if it were UTC): the instant the clocks jump.
fn after_gap(tz: Tz, wall: Secs) -> Secs {
    // Offsets stay within ±18 h, so the local time is before `wall` at `lo` and after it at
    // `hi`; it only moves forward in between (no zone falls back within hours of a gap).
    let local = |u: Secs| u + offset_at(tz, u);
    let (mut lo, mut hi) = (wall - 20 * 3600, wall + 20 * 3600);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local(mid) >= wall {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Converts wall-clock times of one local day to instants.
struct DayClock {
    tz: Tz,
    date: NaiveDate,
    /// First instant of the next day.
    end: Secs,
    /// The day's local midnight read as UTC.
    midnight_wall: Secs,
    /// The UTC offset when it is the same all day (no transition): conversions are then a
    /// subtraction.
    fixed_offset: Option<Secs>,
}

impl DayClock {
    fn new(tz: Tz, date: NaiveDate, start: Secs, end: Secs) -> Self {
        let midnight_wall = day_start_local(date).and_utc().timestamp();
        let offset = offset_at(tz, start);
        let fixed = end - start == 86_400
            && midnight_wall - offset == start
            && offset_at(tz, end - 1) == offset;
        DayClock {
            tz,
            date,
            end,
            midnight_wall,
            fixed_offset: fixed.then_some(offset),
        }
    }

    fn at(&self, time: NaiveTime, pick: Pick) -> Secs {
        match self.fixed_offset {
            Some(offset) => {
                self.midnight_wall + i64::from(time.num_seconds_from_midnight()) - offset
            }
            None => local_to_utc(self.tz, self.date.and_time(time), pick),
        }
    }

    /// An opening time (or a closure's start).
    fn open(&self, time: NaiveTime) -> Secs {
        self.at(time, Pick::Earliest)
    }

    /// A closing time (or a closure's end).
    fn close(&self, time: EndTime) -> Secs {
        match time {
            EndTime::At(time) => self.at(time, Pick::Latest),
            EndTime::EndOfDay => self.end,
        }
    }

    fn range(&self, range: &TimeRange) -> (Secs, Secs) {
        (self.open(range.open), self.close(range.close))
    }
}

/// A staff member who may take the appointment.
struct Member<'a> {
    id: &'a str,
    hours: Option<&'a WeeklyHours>,
    /// Their bookings in [`Engine::busy_from`] / [`Engine::busy_to_max`].
    busy: Range<usize>,
}

/// FNV-1a: a fast hash for the few short staff ids looked up once per booking.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// How far a start gets through the per-staff rules (ordered: further is greater).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    OutsideHours,
    OffGrid,
    DailyCap,
    StaffCap,
    Taken,
    Free,
}

/// One local day of a query.
struct Day<'c> {
    clock: DayClock,
    /// The first whole-day closure of the day, if any.
    closed: Option<&'c crate::config::Closure>,
    /// Business opening ranges as instants, in configuration order.
    business: Vec<(Secs, Secs)>,
    weekday: chrono::Weekday,
}

/// Buffers reused across days and staff.
#[derive(Default)]
struct Scratch {
    /// Partial closures of the current day, as instants.
    partial: Vec<(Secs, Secs)>,
    /// Working ranges of the current staff member.
    ranges: Vec<(Secs, Secs)>,
    /// Free starts of the current staff member.
    starts: Vec<Secs>,
}

struct Engine<'a> {
    config: &'a BusinessConfig,
    tz: Tz,
    members: Vec<Member<'a>>,
    /// The cell-rounded occupied spans of the members' bookings (empty spans left out),
    /// member by member, each member's sorted by start: the starts, and the running maximum
    /// of the ends (`busy_to_max[i]` = the latest end among the member's bookings up to `i`).
    busy_from: Vec<Secs>,
    busy_to_max: Vec<Secs>,
    before: Secs,
    duration: Secs,
    after: Secs,
    step: Secs,
    /// `days[i]`: the i-th local date of the query and its first instant; one more entry
    /// for the end of the last day.
    days: Vec<(NaiveDate, Secs)>,
    /// Existing appointments per day (whole business) and per day and member
    /// (`[day * members + j]`).
    business_counts: Vec<u32>,
    staff_counts: Vec<u32>,
}

impl<'a> Engine<'a> {
    fn new(
        config: &'a BusinessConfig,
        service: &'a Service,
        members: Vec<(&'a str, Option<&'a WeeklyHours>)>,
        busy: &[Busy],
        ignore: Option<&str>,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Self {
        let tz = config.profile.time_zone;
        let (before, duration, after) = service_secs(service);
        let step = i64::from(config.booking_rules.slot_interval_minutes.max(1)) * 60;

        let mut days = Vec::new();
        let mut date = first;
        loop {
            days.push((
                date,
                local_to_utc(tz, day_start_local(date), Pick::Earliest),
            ));
            if date > last || date == NaiveDate::MAX {
                break;
            }
            date = next_day(date);
        }
        let day_count = days.len() - 1;
        let (window_start, window_end) = (days[0].1, days[day_count].1);

        let mut members: Vec<Member<'a>> = members
            .into_iter()
            .map(|(id, hours)| Member {
                id,
                hours,
                busy: 0..0,
            })
            .collect();
        let index: HashMap<&str, usize, BuildHasherDefault<Fnv>> = members
            .iter()
            .enumerate()
            .map(|(j, member)| (member.id, j))
            .collect();
        // The members' bookings, tagged with the member, then grouped by member.
        let mut tagged: Vec<(usize, Secs, Secs)> = Vec::with_capacity(busy.len());
        let mut per_member = vec![0usize; members.len()];
        let mut business_counts = vec![0u32; day_count];
        let mut staff_counts = vec![0u32; day_count * members.len()];
        for booking in busy {
            if ignore == Some(booking.booking_id.as_str()) {
                continue;
            }
            let member = index.get(booking.staff_id.as_str()).copied();
            if let Some(j) = member {
                let (from, to) = round_out_secs(booking.occupied_from, booking.occupied_to);
                if from < to {
                    tagged.push((j, from, to));
                    per_member[j] += 1;
                }
            }
            // Count by the local day of the start: days[d].1 <= start < days[d + 1].1.
            let start = booking.start.timestamp();
            if start >= window_start && start < window_end {
                // Days are 24 hours but for transitions: guess, then correct.
                let mut d = (((start - window_start) / 86_400) as usize).min(day_count - 1);
                while days[d + 1].1 <= start {
                    d += 1;
                }
                while days[d].1 > start {
                    d -= 1;
                }
                business_counts[d] += 1;
                if let Some(j) = member {
                    staff_counts[d * members.len() + j] += 1;
                }
            }
        }
        let mut next = 0;
        for (member, count) in members.iter_mut().zip(&per_member) {
            member.busy = next..next + count;
            next += count;
        }
        let mut spans = vec![(0, 0); tagged.len()];
        let mut cursor: Vec<usize> = members.iter().map(|member| member.busy.start).collect();
        for (j, from, to) in tagged {
            spans[cursor[j]] = (from, to);
            cursor[j] += 1;
        }
        let mut busy_from = Vec::with_capacity(spans.len());
        let mut busy_to_max = Vec::with_capacity(spans.len());
        for member in &members {
            let mine = &mut spans[member.busy.clone()];
            mine.sort_unstable();
            let mut latest = Secs::MIN;
            for &(from, to) in mine.iter() {
                latest = latest.max(to);
                busy_from.push(from);
                busy_to_max.push(latest);
            }
        }
        Engine {
            config,
            tz,
            members,
            busy_from,
            busy_to_max,
            before,
            duration,
            after,
            step,
            days,
            business_counts,
            staff_counts,
        }
    }

    /// The i-th day: its clock, whole-day closure and business ranges; its partial closures
    /// go to `scratch.partial`.
    fn day(&self, i: usize, scratch: &mut Scratch) -> Day<'a> {
        let (date, start) = self.days[i];
        let end = self.days[i + 1].1;
        let clock = DayClock::new(self.tz, date, start, end);
        let weekday = date.weekday();
        let mut closed = None;
        scratch.partial.clear();
        for closure in &self.config.closures {
            if date < closure.date || date > closure.end_date.unwrap_or(closure.date) {
                continue;
            }
            if closure.from.is_none() && closure.to.is_none() {
                closed = closed.or(Some(closure));
            } else {
                let from = clock.open(closure.from.unwrap_or(NaiveTime::MIN));
                let to = clock.close(closure.to.unwrap_or(EndTime::EndOfDay));
                scratch.partial.push((from, to));
            }
        }
        let business = self
            .config
            .hours
            .day(weekday)
            .iter()
            .map(|range| clock.range(range))
            .collect();
        Day {
            clock,
            closed,
            business,
            weekday,
        }
    }

    /// The reason of the first closure (configuration order) of `day` that covers the
    /// appointment `[start, end)`, if any.
    fn closure_reason(&self, day: &Day<'_>, start: Secs, end: Secs) -> Option<Option<String>> {
        let date = day.clock.date;
        self.config
            .closures
            .iter()
            .filter(|closure| {
                date >= closure.date && date <= closure.end_date.unwrap_or(closure.date)
            })
            .find(|closure| {
                if closure.from.is_none() && closure.to.is_none() {
                    return true;
                }
                let from = day.clock.open(closure.from.unwrap_or(NaiveTime::MIN));
                let to = day.clock.close(closure.to.unwrap_or(EndTime::EndOfDay));
                overlaps((start, end), (from, to))
            })
            .map(|closure| closure.reason.clone())
    }

    /// The working ranges of member `j` on `day` (business ∩ own hours), sorted by opening,
    /// into `scratch.ranges`.
    fn ranges(&self, day: &Day<'_>, j: usize, scratch: &mut Scratch) {
        let out = &mut scratch.ranges;
        out.clear();
        match self.members[j].hours {
            None => out.extend(day.business.iter().filter(|(open, close)| open < close)),
            Some(hours) => {
                for own in hours.day(day.weekday) {
                    let (own_open, own_close) = day.clock.range(own);
                    for &(open, close) in &day.business {
                        let (open, close) = (max(open, own_open), min(close, own_close));
                        if open < close {
                            out.push((open, close));
                        }
                    }
                }
            }
        }
        out.sort_unstable();
    }

    /// Appends to `scratch.starts` the free starts of member `j` on `day` within `[lo, hi)`,
    /// increasing: on the grid of a working range, the appointment inside it and clear of
    /// partial closures, the rounded occupied span clear of the member's bookings. Starts in
    /// `covered` (sorted) are left out. Caps and whole-day closures are the caller's.
    #[allow(clippy::too_many_arguments)]
    fn free_starts(
        &self,
        day: &Day<'_>,
        j: usize,
        lo: Secs,
        hi: Secs,
        hint: &mut usize,
        covered: &[(Secs, usize)],
        scratch: &mut Scratch,
    ) {
        self.ranges(day, j, scratch);
        let (step, duration) = (self.step, self.duration);
        let mut in_order = true;
        let mut c = 0;
        for &(open, close) in &scratch.ranges {
            let mut start = open;
            if lo > open {
                start += (lo - open + step - 1) / step * step;
            }
            while start < hi && start < close && start + duration <= close {
                if c > 0 && covered[c - 1].0 >= start {
                    c = covered.partition_point(|&(other, _)| other < start);
                }
                while c < covered.len() && covered[c].0 < start {
                    c += 1;
                }
                if c < covered.len() && covered[c].0 == start {
                    start += step;
                    continue;
                }
                let end = start + duration;
                let clear = !scratch
                    .partial
                    .iter()
                    .any(|&closure| overlaps((start, end), closure));
                let occupied = (floor_cell(start - self.before), ceil_cell(end + self.after));
                if clear && !self.taken(j, occupied.0, occupied.1, hint) {
                    if scratch.starts.last().is_some_and(|&last| last >= start) {
                        in_order = false;
                    }
                    scratch.starts.push(start);
                }
                start += step;
            }
        }
        if !in_order {
            // Overlapping ranges (an invalid configuration): keep the list a set.
            scratch.starts.sort_unstable();
            scratch.starts.dedup();
        }
    }

    /// How far `start` gets through the per-staff rules for member `j` (closures and the
    /// time window are checked before).
    fn diagnose(
        &self,
        day: &Day<'_>,
        j: usize,
        start: Secs,
        whole_seconds: bool,
        scratch: &mut Scratch,
    ) -> Stage {
        self.ranges(day, j, scratch);
        let end = start + self.duration + i64::from(!whole_seconds);
        let inside =
            |&&(open, close): &&(Secs, Secs)| open <= start && start < close && end <= close;
        if !scratch.ranges.iter().any(|range| inside(&range)) {
            return Stage::OutsideHours;
        }
        let on_grid = whole_seconds
            && scratch
                .ranges
                .iter()
                .filter(inside)
                .any(|&(open, _)| (start - open) % self.step == 0);
        if !on_grid {
            return Stage::OffGrid;
        }
        if self.daily_cap_reached(0) {
            return Stage::DailyCap;
        }
        if self.staff_cap_reached(0, j) {
            return Stage::StaffCap;
        }
        let occupied = (
            floor_cell(start - self.before),
            ceil_cell(start + self.duration + self.after),
        );
        if self.taken(j, occupied.0, occupied.1, &mut 0) {
            return Stage::Taken;
        }
        Stage::Free
    }

    /// Whether the rounded span `[from, to)` overlaps one of member `j`'s bookings. `hint` is
    /// the number of their bookings starting before the previous `to`: calls with increasing
    /// spans sweep the bookings once.
    fn taken(&self, j: usize, from: Secs, to: Secs, hint: &mut usize) -> bool {
        if from >= to {
            return false;
        }
        let range = self.members[j].busy.clone();
        let starts = &self.busy_from[range.clone()];
        if *hint > starts.len() || (*hint > 0 && starts[*hint - 1] >= to) {
            *hint = starts.partition_point(|&start| start < to);
        }
        while *hint < starts.len() && starts[*hint] < to {
            *hint += 1;
        }
        *hint > 0 && self.busy_to_max[range.start + *hint - 1] > from
    }

    fn staff_count(&self, day: usize, j: usize) -> u32 {
        self.staff_counts[day * self.members.len() + j]
    }

    fn daily_cap_reached(&self, day: usize) -> bool {
        self.config
            .booking_rules
            .daily_cap
            .is_some_and(|cap| self.business_counts[day] >= cap)
    }

    fn staff_cap_reached(&self, day: usize, j: usize) -> bool {
        self.config
            .booking_rules
            .staff_daily_cap
            .is_some_and(|cap| self.staff_count(day, j) >= cap)
    }

    /// The slot starting at `start`, given as an instant known to be `start - base.0` seconds
    /// after `base.1` (adding a few seconds to an instant is cheaper than building one).
    fn slot(&self, base: (Secs, DateTime<Utc>), start: Secs, staff_id: &str) -> Slot {
        let seconds = chrono::TimeDelta::seconds;
        let start = base.1 + seconds(start - base.0);
        let end = start + seconds(self.duration);
        Slot {
            start,
            end,
            staff_id: staff_id.to_owned(),
            occupied_from: start - seconds(self.before),
            occupied_to: end + seconds(self.after),
        }
    }
}

/// The service and the staff who may take the appointment (id, own hours), in configuration
/// order.
type Candidates<'a> = Vec<(&'a str, Option<&'a WeeklyHours>)>;

fn resolve<'a>(
    config: &'a BusinessConfig,
    service_id: &str,
    staff: &StaffChoice,
) -> Result<(&'a Service, Candidates<'a>), SlotError> {
    let service = config
        .services
        .iter()
        .find(|service| service.id == service_id)
        .ok_or_else(|| SlotError::UnknownService(service_id.to_owned()))?;
    let members: Candidates<'a> = if config.staff.is_empty() {
        vec![(DEFAULT_RESOURCE, None)]
    } else {
        config
            .staff
            .iter()
            .filter(|member| service.staff_ids.is_empty() || service.staff_ids.contains(&member.id))
            .map(|member| (member.id.as_str(), member.hours.as_ref()))
            .collect()
    };
    match staff {
        StaffChoice::Anyone => Ok((service, members)),
        StaffChoice::Specific(id) => {
            let known = if config.staff.is_empty() {
                id == DEFAULT_RESOURCE
            } else {
                config.staff.iter().any(|member| member.id == *id)
            };
            if !known {
                return Err(SlotError::UnknownStaff(id.clone()));
            }
            let member = members
                .into_iter()
                .find(|(member, _)| member == id)
                .ok_or_else(|| SlotError::StaffCannotServe {
                    staff_id: id.clone(),
                    service_id: service.id.clone(),
                })?;
            Ok((service, vec![member]))
        }
    }
}

#[cfg(test)]
mod tests;
