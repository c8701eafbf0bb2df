//! Availability engine benchmark: one 60-day `Anyone` query over 10 staff and 2,000 existing
//! bookings, all slots returned. Run with `cargo bench -p frontdesk-rules --bench slots`.
//!
//! The scenario is deterministic (a linear congruential generator, no `rand`): New York
//! hours with a lunch break, a daylight saving transition inside the range, a few staff
//! with their own hours, closures and caps.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use frontdesk_rules::BusinessConfig;
use frontdesk_rules::slots::{Busy, SlotQuery, StaffChoice, find_slots};
use serde_json::json;

const TARGET: Duration = Duration::from_millis(1);
const WARM_UP: usize = 30;
const RUNS: usize = 300;
const STAFF: usize = 10;
const BOOKINGS: usize = 2_000;
const DAYS: i64 = 60;

/// Knuth's MMIX LCG.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

fn config() -> BusinessConfig {
    let weekday = json!([{"open": "08:00", "close": "12:00"}, {"open": "13:00", "close": "18:00"}]);
    let short = json!([{"open": "10:00", "close": "16:00"}]);
    let staff: Vec<_> = (0..STAFF)
        .map(|i| {
            let mut member = json!({"id": format!("staff-{i}"), "name": format!("Staff {i}")});
            if i % 3 == 2 {
                member["hours"] = json!({
                    "monday": short, "tuesday": short, "wednesday": short, "thursday": short,
                    "friday": short, "saturday": [{"open": "09:00", "close": "12:00"}],
                });
            }
            member
        })
        .collect();
    let config: BusinessConfig = serde_json::from_value(json!({
        "profile": {"name": "Bench Clinic", "time_zone": "America/New_York"},
        "hours": {
            "monday": weekday, "tuesday": weekday, "wednesday": weekday, "thursday": weekday,
            "friday": weekday, "saturday": [{"open": "09:00", "close": "14:00"}],
        },
        "closures": [
            {"date": "2026-04-03", "reason": "Holiday"},
            {"date": "2026-03-20", "from": "12:00", "to": "18:00", "reason": "Training"},
        ],
        "services": [{"id": "visit", "name": "Visit", "duration_minutes": 30,
                      "buffer_before_minutes": 5, "buffer_after_minutes": 10}],
        "staff": staff,
        "booking_rules": {"min_notice_minutes": 60, "horizon_days": 90, "slot_interval_minutes": 15,
                          "daily_cap": 400, "staff_daily_cap": 30},
    }))
    .expect("bench config");
    assert!(config.validate().is_empty(), "{:#?}", config.validate());
    config
}

fn bookings(tz: Tz, first_day: NaiveDate) -> Vec<Busy> {
    let mut lcg = Lcg(42);
    (0..BOOKINGS)
        .map(|i| {
            let day = first_day + chrono::Days::new(lcg.next(DAYS as u64));
            let minute = 8 * 60 + 5 * lcg.next(114) as u32; // 08:00 .. 17:25
            let time = NaiveTime::from_num_seconds_from_midnight_opt(minute * 60, 0).unwrap();
            let start = tz
                .from_local_datetime(&day.and_time(time))
                .earliest()
                .unwrap()
                .with_timezone(&Utc);
            let length = [30, 45, 60, 90][lcg.next(4) as usize];
            Busy {
                booking_id: format!("booking-{i}"),
                staff_id: format!("staff-{}", lcg.next(STAFF as u64)),
                start,
                occupied_from: start - chrono::Duration::minutes(5),
                occupied_to: start + chrono::Duration::minutes(length + 10),
            }
        })
        .collect()
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let config = config();
    let tz = config.profile.time_zone;
    // Monday 2026-03-02 07:00 in New York; the range crosses the 2026-03-08 transition.
    let now: DateTime<Utc> = tz
        .with_ymd_and_hms(2026, 3, 2, 7, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let busy = bookings(tz, now.with_timezone(&tz).date_naive());
    let query = SlotQuery {
        service_id: "visit".into(),
        staff: StaffChoice::Anyone,
        from: now,
        to: now + chrono::Duration::days(DAYS),
        now,
        ignore_booking: None,
    };

    let mut slots = 0;
    for _ in 0..WARM_UP {
        slots = black_box(find_slots(
            black_box(&config),
            black_box(&busy),
            black_box(&query),
        ))
        .unwrap()
        .len();
    }
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let found = find_slots(black_box(&config), black_box(&busy), black_box(&query));
            let elapsed = started.elapsed();
            black_box(found).unwrap();
            elapsed
        })
        .collect();
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / RUNS as u32;
    let percentile = |p: f64| times[((RUNS as f64 * p).ceil() as usize).clamp(1, RUNS) - 1];
    let (p50, p99, max) = (percentile(0.50), percentile(0.99), times[RUNS - 1]);

    println!(
        "find_slots: {DAYS} days, {STAFF} staff, {BOOKINGS} bookings, Anyone, {slots} slots returned"
    );
    println!(
        "  {RUNS} queries: mean {:.0} µs, p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        micros(mean),
        micros(p50),
        micros(p99),
        micros(max)
    );
    let pass = mean <= TARGET && p50 <= TARGET;
    println!(
        "  target: mean and p50 ≤ {:.0} µs per query: {}",
        micros(TARGET),
        if pass { "PASS" } else { "FAIL" }
    );
}
