use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::config::*;
use crate::locks;

// --- Helpers ---

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 instant")
}

/// A local wall-clock time ("2026-06-01 09:00") that exists once.
fn local(tz: Tz, text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("a local time");
    tz.from_local_datetime(&naive)
        .single()
        .expect("an unambiguous local time")
        .with_timezone(&Utc)
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

fn config(doc: Value) -> BusinessConfig {
    let config: BusinessConfig = serde_json::from_value(doc).expect("a config document");
    let errors = config.validate();
    assert!(errors.is_empty(), "invalid test config: {errors:#?}");
    config
}

fn week(ranges: Value) -> Value {
    json!({
        "monday": ranges, "tuesday": ranges, "wednesday": ranges, "thursday": ranges,
        "friday": ranges, "saturday": ranges, "sunday": ranges,
    })
}

fn query(
    service: &str,
    staff: &StaffChoice,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> SlotQuery {
    SlotQuery {
        service_id: service.into(),
        staff: staff.clone(),
        from,
        to,
        now,
        ignore_booking: None,
    }
}

fn specific(id: &str) -> StaffChoice {
    StaffChoice::Specific(id.into())
}

/// Local start times with their UTC offset, e.g. "01:30-05:00".
fn times(tz: Tz, slots: &[Slot]) -> Vec<String> {
    slots
        .iter()
        .map(|slot| slot.start.with_timezone(&tz).format("%H:%M%:z").to_string())
        .collect()
}

/// Local start times and staff, e.g. "09:00 ana".
fn times_staff(tz: Tz, slots: &[Slot]) -> Vec<String> {
    slots
        .iter()
        .map(|slot| {
            format!(
                "{} {}",
                slot.start.with_timezone(&tz).format("%H:%M"),
                slot.staff_id
            )
        })
        .collect()
}

fn busy(
    id: &str,
    staff: &str,
    start: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Busy {
    Busy {
        booking_id: id.into(),
        staff_id: staff.into(),
        start,
        occupied_from: from,
        occupied_to: to,
    }
}

// --- Daylight saving time ---

/// One range every day, no staff, a `duration`-minute service, no notice, long horizon.
fn dst_config(tz: &str, open: &str, close: &str, interval: u32, duration: u32) -> BusinessConfig {
    config(json!({
        "profile": {"name": "DST", "time_zone": tz},
        "hours": week(json!([{"open": open, "close": close}])),
        "services": [{"id": "s", "name": "S", "duration_minutes": duration}],
        "booking_rules": {"min_notice_minutes": 0, "horizon_days": 730, "slot_interval_minutes": interval},
    }))
}

/// The slots of one local day.
fn day_slots(config: &BusinessConfig, day: &str) -> Vec<String> {
    let tz = config.profile.time_zone;
    let (from, to) = local_day_bounds(tz, date(day));
    let now = utc("2026-01-01T00:00:00Z");
    let found = find_slots(
        config,
        &[],
        &query("s", &StaffChoice::Anyone, from, to, now),
    )
    .unwrap();
    // Every slot is also accepted on its own.
    for slot in &found {
        assert_eq!(
            check_start(
                config,
                &[],
                "s",
                &StaffChoice::Anyone,
                slot.start,
                now,
                None
            )
            .as_ref(),
            Ok(slot)
        );
    }
    times(tz, &found)
}

#[test]
fn new_york_spring_forward_has_no_slot_in_the_gap() {
    // 2026-03-08: 02:00 EST → 03:00 EDT.
    let c = dst_config("America/New_York", "00:00", "04:00", 30, 30);
    assert_eq!(
        day_slots(&c, "2026-03-08"),
        [
            "00:00-05:00",
            "00:30-05:00",
            "01:00-05:00",
            "01:30-05:00",
            "03:00-04:00",
            "03:30-04:00"
        ]
    );
    let hourly = dst_config("America/New_York", "00:00", "04:00", 60, 30);
    assert_eq!(
        day_slots(&hourly, "2026-03-08"),
        ["00:00-05:00", "01:00-05:00", "03:00-04:00"]
    );
    let c = dst_config("America/New_York", "01:00", "03:00", 30, 30);
    assert_eq!(day_slots(&c, "2026-03-08"), ["01:00-05:00", "01:30-05:00"]);
    // A range opening in the gap opens when the clocks jump.
    let c = dst_config("America/New_York", "02:30", "04:00", 30, 30);
    assert_eq!(day_slots(&c, "2026-03-08"), ["03:00-04:00", "03:30-04:00"]);
    // The day before and after are ordinary.
    let c = dst_config("America/New_York", "01:00", "03:00", 30, 30);
    assert_eq!(day_slots(&c, "2026-03-07").len(), 4);
    assert_eq!(day_slots(&c, "2026-03-09").len(), 4);
}

#[test]
fn new_york_fall_back_offers_each_real_instant_once() {
    // 2026-11-01: 02:00 EDT → 01:00 EST.
    let c = dst_config("America/New_York", "00:00", "04:00", 30, 30);
    assert_eq!(
        day_slots(&c, "2026-11-01"),
        [
            "00:00-04:00",
            "00:30-04:00",
            "01:00-04:00",
            "01:30-04:00",
            "01:00-05:00",
            "01:30-05:00",
            "02:00-05:00",
            "02:30-05:00",
            "03:00-05:00",
            "03:30-05:00",
        ]
    );
    let c = dst_config("America/New_York", "01:00", "03:00", 30, 30);
    assert_eq!(
        day_slots(&c, "2026-11-01"),
        [
            "01:00-04:00",
            "01:30-04:00",
            "01:00-05:00",
            "01:30-05:00",
            "02:00-05:00",
            "02:30-05:00"
        ]
    );
    // An ambiguous opening is the first pass, an ambiguous closing the second.
    let c = dst_config("America/New_York", "01:30", "02:00", 30, 30);
    assert_eq!(
        day_slots(&c, "2026-11-01"),
        ["01:30-04:00", "01:00-05:00", "01:30-05:00"]
    );
    // A 45-minute grid steps in absolute time across the transition.
    let c = dst_config("America/New_York", "00:00", "04:00", 45, 30);
    assert_eq!(
        day_slots(&c, "2026-11-01"),
        [
            "00:00-04:00",
            "00:45-04:00",
            "01:30-04:00",
            "01:15-05:00",
            "02:00-05:00",
            "02:45-05:00",
            "03:30-05:00"
        ]
    );
}

#[test]
fn london_transitions() {
    // 2026-03-29: 01:00 GMT → 02:00 BST; 2026-10-25: 02:00 BST → 01:00 GMT.
    let c = dst_config("Europe/London", "00:00", "04:00", 30, 30);
    assert_eq!(
        day_slots(&c, "2026-03-29"),
        [
            "00:00+00:00",
            "00:30+00:00",
            "02:00+01:00",
            "02:30+01:00",
            "03:00+01:00",
            "03:30+01:00"
        ]
    );
    assert_eq!(
        day_slots(&c, "2026-10-25"),
        [
            "00:00+01:00",
            "00:30+01:00",
            "01:00+01:00",
            "01:30+01:00",
            "01:00+00:00",
            "01:30+00:00",
            "02:00+00:00",
            "02:30+00:00",
            "03:00+00:00",
            "03:30+00:00",
        ]
    );
    let c = dst_config("Europe/London", "01:00", "03:00", 30, 30);
    assert_eq!(day_slots(&c, "2026-03-29"), ["02:00+01:00", "02:30+01:00"]);
    assert_eq!(
        day_slots(&c, "2026-10-25"),
        [
            "01:00+01:00",
            "01:30+01:00",
            "01:00+00:00",
            "01:30+00:00",
            "02:00+00:00",
            "02:30+00:00"
        ]
    );
}

#[test]
fn lord_howe_half_hour_transitions() {
    // 2026-04-05: 02:00 (+11:00) → 01:30 (+10:30); 2026-10-04: 02:00 (+10:30) → 02:30 (+11:00).
    let c = dst_config("Australia/Lord_Howe", "00:00", "04:00", 30, 30);
    assert_eq!(
        day_slots(&c, "2026-04-05"),
        [
            "00:00+11:00",
            "00:30+11:00",
            "01:00+11:00",
            "01:30+11:00",
            "01:30+10:30",
            "02:00+10:30",
            "02:30+10:30",
            "03:00+10:30",
            "03:30+10:30",
        ]
    );
    assert_eq!(
        day_slots(&c, "2026-10-04"),
        [
            "00:00+10:30",
            "00:30+10:30",
            "01:00+10:30",
            "01:30+10:30",
            "02:30+11:00",
            "03:00+11:00",
            "03:30+11:00"
        ]
    );
    let c = dst_config("Australia/Lord_Howe", "01:00", "03:00", 30, 30);
    assert_eq!(
        day_slots(&c, "2026-04-05"),
        [
            "01:00+11:00",
            "01:30+11:00",
            "01:30+10:30",
            "02:00+10:30",
            "02:30+10:30"
        ]
    );
    assert_eq!(
        day_slots(&c, "2026-10-04"),
        ["01:00+10:30", "01:30+10:30", "02:30+11:00"]
    );
    let c = dst_config("Australia/Lord_Howe", "02:00", "03:00", 30, 30);
    assert_eq!(day_slots(&c, "2026-10-04"), ["02:30+11:00"]);
    // A 60-minute appointment in the 01:00–03:00 range: it lasts 60 real minutes.
    let c = dst_config("Australia/Lord_Howe", "01:00", "03:00", 30, 60);
    assert_eq!(day_slots(&c, "2026-10-04"), ["01:00+10:30", "01:30+10:30"]);
}

#[test]
fn santiago_transitions_at_midnight() {
    // 2026-04-04 24:00 (-03) → 23:00 (-04): the last hour of the Saturday repeats.
    let c = dst_config("America/Santiago", "23:00", "24:00", 30, 30);
    assert_eq!(
        day_slots(&c, "2026-04-04"),
        ["23:00-03:00", "23:30-03:00", "23:00-04:00", "23:30-04:00"]
    );
    // 2026-09-06 00:00 (-04) → 01:00 (-03): the Sunday starts at 01:00.
    let c = dst_config("America/Santiago", "00:00", "02:00", 30, 30);
    assert_eq!(day_slots(&c, "2026-09-06"), ["01:00-03:00", "01:30-03:00"]);
    let santiago = chrono_tz::America::Santiago;
    let (start, _) = local_day_bounds(santiago, date("2026-09-06"));
    assert_eq!(start, utc("2026-09-06T04:00:00Z"));
    assert_eq!(
        start.with_timezone(&santiago).format("%H:%M").to_string(),
        "01:00"
    );
    assert_eq!(local_day_bounds(santiago, date("2026-09-05")).1, start);
}

#[test]
fn local_day_lengths() {
    let hours = |tz: Tz, day: &str| {
        let (start, end) = local_day_bounds(tz, date(day));
        (end - start).num_minutes() as f64 / 60.0
    };
    use chrono_tz::{America, Australia, Europe};
    assert_eq!(hours(America::New_York, "2026-03-08"), 23.0);
    assert_eq!(hours(America::New_York, "2026-11-01"), 25.0);
    assert_eq!(hours(America::New_York, "2026-06-01"), 24.0);
    assert_eq!(hours(Europe::London, "2026-03-29"), 23.0);
    assert_eq!(hours(Europe::London, "2026-10-25"), 25.0);
    assert_eq!(hours(Australia::Lord_Howe, "2026-04-05"), 24.5);
    assert_eq!(hours(Australia::Lord_Howe, "2026-10-04"), 23.5);
    assert_eq!(hours(America::Santiago, "2026-04-04"), 25.0);
    assert_eq!(hours(America::Santiago, "2026-09-06"), 23.0);
    assert_eq!(hours(chrono_tz::UTC, "2026-03-08"), 24.0);
    assert_eq!(
        local_day_bounds(America::New_York, date("2026-11-01")),
        (utc("2026-11-01T04:00:00Z"), utc("2026-11-02T05:00:00Z"))
    );
}

#[test]
fn fixed_offset_fast_path_agrees_with_full_conversion() {
    for tz in [
        chrono_tz::America::New_York,
        chrono_tz::Europe::London,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::America::Santiago,
        chrono_tz::Asia::Kolkata,
    ] {
        let mut day = date("2026-01-01");
        while day < date("2027-01-01") {
            let (start, end) = local_day_bounds(tz, day);
            let clock = DayClock::new(tz, day, start.timestamp(), end.timestamp());
            for minute in (0..24 * 60).step_by(10) {
                let time = NaiveTime::from_num_seconds_from_midnight_opt(minute * 60, 0).unwrap();
                for pick in [Pick::Earliest, Pick::Latest] {
                    assert_eq!(
                        clock.at(time, pick),
                        local_to_utc(tz, day.and_time(time), pick),
                        "{tz} {day} {time}"
                    );
                }
            }
            day = day.succ_opt().unwrap();
        }
    }
}

// --- The rules ---

/// Mon–Fri 09:00–12:00 and 13:00–17:00 (listed out of order), Saturday 10:00–14:00.
/// Ana works the business hours; Ben 11:10–15:00 on weekdays.
fn shop() -> BusinessConfig {
    let weekday = json!([{"open": "13:00", "close": "17:00"}, {"open": "09:00", "close": "12:00"}]);
    let ben = json!([{"open": "11:10", "close": "15:00"}]);
    config(json!({
        "profile": {"name": "Shop", "time_zone": "America/New_York"},
        "hours": {
            "monday": weekday, "tuesday": weekday, "wednesday": weekday, "thursday": weekday,
            "friday": weekday, "saturday": [{"open": "10:00", "close": "14:00"}],
        },
        "services": [
            {"id": "cut", "name": "Cut", "duration_minutes": 30, "buffer_after_minutes": 10},
            {"id": "color", "name": "Color", "duration_minutes": 90, "buffer_before_minutes": 15,
             "buffer_after_minutes": 15, "staff_ids": ["ana"]},
        ],
        "staff": [
            {"id": "ana", "name": "Ana"},
            {"id": "ben", "name": "Ben", "hours": {"monday": ben, "tuesday": ben, "wednesday": ben,
             "thursday": ben, "friday": ben}},
        ],
        "booking_rules": {"min_notice_minutes": 60, "horizon_days": 30, "slot_interval_minutes": 15},
    }))
}

const NY: Tz = chrono_tz::America::New_York;

/// Monday 2026-06-01 08:00 in New York.
fn monday_morning() -> DateTime<Utc> {
    local(NY, "2026-06-01 08:00")
}

fn at(text: &str) -> DateTime<Utc> {
    local(NY, text)
}

fn check(
    config: &BusinessConfig,
    busy: &[Busy],
    service: &str,
    staff: &StaffChoice,
    start: &str,
) -> Result<Slot, Unavailable> {
    check_start(
        config,
        busy,
        service,
        staff,
        at(start),
        monday_morning(),
        None,
    )
}

fn slots_on(
    config: &BusinessConfig,
    busy: &[Busy],
    service: &str,
    staff: &StaffChoice,
    day: &str,
) -> Vec<Slot> {
    let (from, to) = local_day_bounds(NY, date(day));
    find_slots(
        config,
        busy,
        &query(service, staff, from, to, monday_morning()),
    )
    .unwrap()
}

#[test]
fn the_shop_config_is_valid() {
    let c = shop();
    assert_eq!(eligible_staff(&c, &c.services[0]), ["ana", "ben"]);
    assert_eq!(eligible_staff(&c, &c.services[1]), ["ana"]);
    assert_eq!(
        occupied_span(&c.services[1], at("2026-06-01 09:00")),
        (at("2026-06-01 08:45"), at("2026-06-01 10:45"))
    );
}

#[test]
fn staff_hours_intersect_business_hours_and_the_grid_starts_at_the_intersection() {
    let c = shop();
    let ben = slots_on(&c, &[], "cut", &specific("ben"), "2026-06-01");
    assert_eq!(
        times_staff(NY, &ben),
        [
            "11:10 ben",
            "11:25 ben",
            "13:00 ben",
            "13:15 ben",
            "13:30 ben",
            "13:45 ben",
            "14:00 ben",
            "14:15 ben",
            "14:30 ben",
        ]
    );
    let ana = slots_on(&c, &[], "cut", &specific("ana"), "2026-06-01");
    assert_eq!(ana.len(), 11 + 15);
    assert_eq!(ana[0].start, at("2026-06-01 09:00"));
    assert_eq!(ana[10].start, at("2026-06-01 11:30"));
    assert_eq!(ana[11].start, at("2026-06-01 13:00"));
    assert_eq!(ana[25].start, at("2026-06-01 16:30"));
    assert_eq!(
        ana[0],
        Slot {
            start: at("2026-06-01 09:00"),
            end: at("2026-06-01 09:30"),
            staff_id: "ana".into(),
            occupied_from: at("2026-06-01 09:00"),
            occupied_to: at("2026-06-01 09:40"),
        }
    );
    // Ben does not work Saturdays; Ana works the business hours.
    assert!(slots_on(&c, &[], "cut", &specific("ben"), "2026-06-06").is_empty());
    assert_eq!(
        slots_on(&c, &[], "cut", &specific("ana"), "2026-06-06").len(),
        15
    );
    assert_eq!(
        check(&c, &[], "cut", &specific("ben"), "2026-06-06 10:00"),
        Err(Unavailable::OutsideHours)
    );
    assert_eq!(
        check(&c, &[], "cut", &specific("ben"), "2026-06-01 11:00"),
        Err(Unavailable::OutsideHours)
    );
    assert_eq!(
        check(&c, &[], "cut", &specific("ben"), "2026-06-01 11:15"),
        Err(Unavailable::OffGrid)
    );
    assert!(check(&c, &[], "cut", &specific("ben"), "2026-06-01 11:25").is_ok());
    assert_eq!(
        check(&c, &[], "cut", &specific("ben"), "2026-06-01 11:40"),
        Err(Unavailable::OutsideHours)
    );
}

#[test]
fn anyone_gets_one_slot_per_start_and_prefers_the_least_busy() {
    let c = shop();
    let any = slots_on(&c, &[], "cut", &StaffChoice::Anyone, "2026-06-01");
    assert_eq!(any.len(), 28);
    let listed = times_staff(NY, &any);
    assert_eq!(
        &listed[..13],
        [
            "09:00 ana",
            "09:15 ana",
            "09:30 ana",
            "09:45 ana",
            "10:00 ana",
            "10:15 ana",
            "10:30 ana",
            "10:45 ana",
            "11:00 ana",
            "11:10 ben",
            "11:15 ana",
            "11:25 ben",
            "11:30 ana",
        ]
    );
    assert!(any.windows(2).all(|w| w[0].start < w[1].start));

    // Ana has a booking that day, so Ben (fewer) gets the starts both can take.
    let b = [busy(
        "b1",
        "ana",
        at("2026-06-01 16:00"),
        at("2026-06-01 16:00"),
        at("2026-06-01 16:40"),
    )];
    let any = slots_on(&c, &b, "cut", &StaffChoice::Anyone, "2026-06-01");
    let listed = times_staff(NY, &any);
    assert!(listed.contains(&"09:00 ana".to_owned()));
    assert!(listed.contains(&"13:00 ben".to_owned()));
    assert!(listed.contains(&"15:00 ana".to_owned()));
    assert!(
        !listed
            .iter()
            .any(|s| s.starts_with("16:00") || s.starts_with("15:45"))
    );
    assert_eq!(
        check(&c, &b, "cut", &StaffChoice::Anyone, "2026-06-01 13:00")
            .unwrap()
            .staff_id,
        "ben"
    );
    // Both busy at 14:00 except... Ben is taken at 14:00 by his own booking: Ana takes it.
    let mut b2 = b.to_vec();
    b2.push(busy(
        "b2",
        "ben",
        at("2026-06-01 14:00"),
        at("2026-06-01 14:00"),
        at("2026-06-01 14:40"),
    ));
    b2.push(busy(
        "b3",
        "ben",
        at("2026-06-01 09:00"),
        at("2026-06-01 09:00"),
        at("2026-06-01 09:40"),
    ));
    // Now both have bookings: Ana 1, Ben 2 → Ana preferred.
    assert_eq!(
        check(&c, &b2, "cut", &StaffChoice::Anyone, "2026-06-01 13:00")
            .unwrap()
            .staff_id,
        "ana"
    );
    assert_eq!(
        check(&c, &b2, "cut", &StaffChoice::Anyone, "2026-06-01 11:10")
            .unwrap()
            .staff_id,
        "ben"
    );
    // Ana taken at 16:00 and Ben outside his hours: taken, the furthest rule reached.
    assert_eq!(
        check(&c, &b2, "cut", &StaffChoice::Anyone, "2026-06-01 16:00"),
        Err(Unavailable::Taken)
    );
    assert_eq!(
        check(&c, &b2, "cut", &StaffChoice::Anyone, "2026-06-01 12:15"),
        Err(Unavailable::OutsideHours)
    );
    assert_eq!(
        check(&c, &b2, "cut", &StaffChoice::Anyone, "2026-06-01 09:05"),
        Err(Unavailable::OffGrid)
    );
}

#[test]
fn unknown_service_and_staff() {
    let c = shop();
    let q = |service: &str, staff: StaffChoice| {
        query(
            service,
            &staff,
            at("2026-06-01 00:00"),
            at("2026-06-02 00:00"),
            monday_morning(),
        )
    };
    let err = find_slots(&c, &[], &q("nope", StaffChoice::Anyone)).unwrap_err();
    assert_eq!(err, SlotError::UnknownService("nope".into()));
    assert_eq!(err.to_string(), "unknown service \"nope\"");
    let err = find_slots(&c, &[], &q("cut", specific("zed"))).unwrap_err();
    assert_eq!(err.to_string(), "unknown staff member \"zed\"");
    let err = find_slots(&c, &[], &q("color", specific("ben"))).unwrap_err();
    assert_eq!(
        err,
        SlotError::StaffCannotServe {
            staff_id: "ben".into(),
            service_id: "color".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "staff member \"ben\" does not perform service \"color\""
    );
    assert_eq!(
        check(&c, &[], "nope", &specific("zed"), "2026-06-01 10:00"),
        Err(Unavailable::UnknownService)
    );
    assert_eq!(
        check(&c, &[], "cut", &specific("zed"), "2026-06-01 10:00"),
        Err(Unavailable::UnknownStaff)
    );
    assert_eq!(
        check(&c, &[], "color", &specific("ben"), "2026-05-01 10:00"),
        Err(Unavailable::StaffCannotServe)
    );
    assert_eq!(
        check(
            &c,
            &[],
            "cut",
            &specific(DEFAULT_RESOURCE),
            "2026-06-01 10:00"
        ),
        Err(Unavailable::UnknownStaff)
    );
}

#[test]
fn past_notice_and_horizon() {
    let c = shop();
    let now = monday_morning();
    let anyone = StaffChoice::Anyone;
    assert_eq!(
        check(&c, &[], "cut", &anyone, "2026-06-01 07:45"),
        Err(Unavailable::InPast)
    );
    assert_eq!(
        check(&c, &[], "cut", &anyone, "2026-05-29 10:00"),
        Err(Unavailable::InPast)
    );
    assert_eq!(
        check(&c, &[], "cut", &anyone, "2026-06-01 08:30"),
        Err(Unavailable::TooSoon {
            earliest: now + Duration::minutes(60)
        })
    );
    assert!(check(&c, &[], "cut", &anyone, "2026-06-01 09:00").is_ok());
    // Today + 30 days = Wednesday 2026-07-01, inclusive.
    assert!(check(&c, &[], "cut", &anyone, "2026-07-01 16:30").is_ok());
    assert_eq!(
        check(&c, &[], "cut", &anyone, "2026-07-02 09:00"),
        Err(Unavailable::BeyondHorizon {
            last_day: date("2026-07-01")
        })
    );
    // find_slots applies the same limits.
    let all = find_slots(
        &c,
        &[],
        &query(
            "cut",
            &anyone,
            utc("2020-01-01T00:00:00Z"),
            utc("2030-01-01T00:00:00Z"),
            now,
        ),
    )
    .unwrap();
    assert_eq!(all.first().unwrap().start, at("2026-06-01 09:00"));
    assert_eq!(all.last().unwrap().start, at("2026-07-01 16:30"));
    // With notice, the first slot moves: now 09:20 → earliest 10:20 → 10:30.
    let late = at("2026-06-01 09:20");
    let found = find_slots(
        &c,
        &[],
        &query("cut", &specific("ana"), late, at("2026-06-02 00:00"), late),
    )
    .unwrap();
    assert_eq!(found[0].start, at("2026-06-01 10:30"));
    // The query range is half-open.
    let found = find_slots(
        &c,
        &[],
        &query(
            "cut",
            &specific("ana"),
            at("2026-06-02 09:00"),
            at("2026-06-02 10:00"),
            now,
        ),
    )
    .unwrap();
    assert_eq!(
        times(NY, &found),
        ["09:00-04:00", "09:15-04:00", "09:30-04:00", "09:45-04:00"]
    );
    // An empty or reversed range.
    assert!(
        find_slots(
            &c,
            &[],
            &query(
                "cut",
                &anyone,
                at("2026-06-02 10:00"),
                at("2026-06-02 10:00"),
                now
            )
        )
        .unwrap()
        .is_empty()
    );
    assert!(
        find_slots(
            &c,
            &[],
            &query(
                "cut",
                &anyone,
                at("2026-06-03 10:00"),
                at("2026-06-02 10:00"),
                now
            )
        )
        .unwrap()
        .is_empty()
    );
}

#[test]
fn off_grid_and_outside_hours() {
    let c = shop();
    let ana = specific("ana");
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-01 09:07"),
        Err(Unavailable::OffGrid)
    );
    assert_eq!(
        check_start(
            &c,
            &[],
            "cut",
            &ana,
            at("2026-06-01 09:00") + Duration::seconds(30),
            monday_morning(),
            None
        ),
        Err(Unavailable::OffGrid)
    );
    assert_eq!(
        check_start(
            &c,
            &[],
            "cut",
            &ana,
            at("2026-06-01 09:00") + Duration::nanoseconds(1),
            monday_morning(),
            None
        ),
        Err(Unavailable::OffGrid)
    );
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-02 08:45"),
        Err(Unavailable::OutsideHours)
    );
    // Would run into lunch / past closing.
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-01 11:45"),
        Err(Unavailable::OutsideHours)
    );
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-01 16:45"),
        Err(Unavailable::OutsideHours)
    );
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-07 10:00"),
        Err(Unavailable::OutsideHours)
    );
    assert!(check(&c, &[], "cut", &ana, "2026-06-01 16:30").is_ok());
}

#[test]
fn buffers_may_leave_the_hours_but_never_overlap_bookings() {
    let c = shop();
    let ana = specific("ana");
    // Color: 90 min with 15 min buffers; the buffers may lie outside the hours.
    let slot = check(&c, &[], "color", &ana, "2026-06-01 09:00").unwrap();
    assert_eq!(
        (slot.occupied_from, slot.occupied_to),
        (at("2026-06-01 08:45"), at("2026-06-01 10:45"))
    );
    assert!(check(&c, &[], "color", &ana, "2026-06-01 10:30").is_ok());
    assert_eq!(
        check(&c, &[], "color", &ana, "2026-06-01 10:45"),
        Err(Unavailable::OutsideHours)
    );
    assert!(check(&c, &[], "color", &ana, "2026-06-01 15:30").is_ok());
    // But a booking before opening blocks the buffer.
    let early = [busy(
        "e",
        "ana",
        at("2026-06-01 08:00"),
        at("2026-06-01 08:00"),
        at("2026-06-01 08:50"),
    )];
    assert_eq!(
        check(&c, &early, "color", &ana, "2026-06-01 09:00"),
        Err(Unavailable::Taken)
    );
    assert!(check(&c, &early, "cut", &ana, "2026-06-01 09:00").is_ok());
    assert!(check(&c, &early, "color", &ana, "2026-06-01 09:15").is_ok());
}

#[test]
fn overlap_is_judged_on_cell_rounded_spans() {
    let c = shop();
    let ana = specific("ana");
    let booked = |to: DateTime<Utc>| {
        [busy(
            "b",
            "ana",
            at("2026-06-01 10:00"),
            at("2026-06-01 10:00"),
            to,
        )]
    };
    let b = booked(at("2026-06-01 10:40"));
    assert_eq!(
        check(&c, &b, "cut", &ana, "2026-06-01 10:00"),
        Err(Unavailable::Taken)
    );
    assert_eq!(
        check(&c, &b, "cut", &ana, "2026-06-01 10:30"),
        Err(Unavailable::Taken)
    );
    assert!(check(&c, &b, "cut", &ana, "2026-06-01 10:45").is_ok());
    // Cut's own 10-minute after-buffer: 09:15–09:55 clears a booking from 10:00, 09:30 doesn't.
    assert!(check(&c, &b, "cut", &ana, "2026-06-01 09:15").is_ok());
    assert_eq!(
        check(&c, &b, "cut", &ana, "2026-06-01 09:30"),
        Err(Unavailable::Taken)
    );
    // Ends at 10:41 → rounded to 10:45: 10:45 is still free.
    let b = booked(at("2026-06-01 10:41"));
    assert!(check(&c, &b, "cut", &ana, "2026-06-01 10:45").is_ok());
    // Ends one second into the 10:45 cell: 10:45 is taken.
    let b = booked(at("2026-06-01 10:45") + Duration::seconds(1));
    assert_eq!(
        check(&c, &b, "cut", &ana, "2026-06-01 10:45"),
        Err(Unavailable::Taken)
    );
    // 09:15 occupies 09:15–09:55: a booking from 09:58 (rounded to 09:55) is adjacent, one
    // from 09:54 (rounded to 09:50) overlaps.
    let starting = |from: DateTime<Utc>| [busy("b", "ana", from, from, at("2026-06-01 10:30"))];
    assert!(
        check(
            &c,
            &starting(at("2026-06-01 09:58")),
            "cut",
            &ana,
            "2026-06-01 09:15"
        )
        .is_ok()
    );
    assert_eq!(
        check(
            &c,
            &starting(at("2026-06-01 09:54")),
            "cut",
            &ana,
            "2026-06-01 09:15"
        ),
        Err(Unavailable::Taken)
    );
    // Other staff members' bookings don't matter.
    let b = [busy(
        "b",
        "ben",
        at("2026-06-01 10:00"),
        at("2026-06-01 10:00"),
        at("2026-06-01 10:40"),
    )];
    assert!(check(&c, &b, "cut", &ana, "2026-06-01 10:00").is_ok());
}

#[test]
fn closures_whole_multi_day_and_partial() {
    let mut c = shop();
    c.closures = serde_json::from_value(json!([
        {"date": "2026-06-03", "reason": "Staff training"},
        {"date": "2026-06-08", "end_date": "2026-06-10", "reason": "Vacation"},
        {"date": "2026-06-04", "from": "11:00", "to": "13:30", "reason": "Plumbing"},
        {"date": "2026-06-05", "from": "16:00", "to": "24:00"},
    ]))
    .unwrap();
    assert!(c.validate().is_empty());
    let ana = specific("ana");
    let closed = |reason: &str| {
        Err(Unavailable::Closed {
            reason: Some(reason.into()),
        })
    };
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-03 10:00"),
        closed("Staff training")
    );
    assert!(slots_on(&c, &[], "cut", &StaffChoice::Anyone, "2026-06-03").is_empty());
    for day in ["2026-06-08", "2026-06-09", "2026-06-10"] {
        assert_eq!(
            check(&c, &[], "cut", &ana, &format!("{day} 10:00")),
            closed("Vacation")
        );
        assert!(slots_on(&c, &[], "cut", &ana, day).is_empty());
    }
    assert_eq!(slots_on(&c, &[], "cut", &ana, "2026-06-11").len(), 26);
    // Partial: appointments overlapping 11:00–13:30 are out; buffers may overlap.
    assert!(check(&c, &[], "cut", &ana, "2026-06-04 10:30").is_ok());
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-04 10:45"),
        closed("Plumbing")
    );
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-04 12:00"),
        closed("Plumbing")
    );
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-04 13:15"),
        closed("Plumbing")
    );
    assert!(check(&c, &[], "cut", &ana, "2026-06-04 13:30").is_ok());
    let june4 = slots_on(&c, &[], "cut", &ana, "2026-06-04");
    assert_eq!(june4.len(), 7 + 13);
    assert_eq!(june4[6].start, at("2026-06-04 10:30"));
    assert_eq!(june4[7].start, at("2026-06-04 13:30"));
    // Closing early, no reason given.
    assert_eq!(
        check(&c, &[], "cut", &ana, "2026-06-05 15:45"),
        Err(Unavailable::Closed { reason: None })
    );
    assert!(check(&c, &[], "cut", &ana, "2026-06-05 15:30").is_ok());
    assert_eq!(
        slots_on(&c, &[], "cut", &ana, "2026-06-05")
            .last()
            .unwrap()
            .start,
        at("2026-06-05 15:30")
    );
}

#[test]
fn daily_caps() {
    let mut c = shop();
    c.booking_rules.daily_cap = Some(2);
    let tuesday = |h: &str, staff: &str| {
        let start = at(&format!("2026-06-02 {h}"));
        busy(
            &format!("{staff}-{h}"),
            staff,
            start,
            start,
            start + Duration::minutes(40),
        )
    };
    let b = [tuesday("09:00", "ana"), tuesday("14:00", "ben")];
    assert_eq!(
        check(&c, &b, "cut", &StaffChoice::Anyone, "2026-06-02 11:00"),
        Err(Unavailable::DailyCapReached)
    );
    assert!(slots_on(&c, &b, "cut", &StaffChoice::Anyone, "2026-06-02").is_empty());
    assert_eq!(
        slots_on(&c, &b, "cut", &specific("ana"), "2026-06-03").len(),
        26
    );
    // The cap is checked after the hours.
    assert_eq!(
        check(&c, &b, "cut", &StaffChoice::Anyone, "2026-06-02 08:00"),
        Err(Unavailable::OutsideHours)
    );

    // Per staff member: Ana's one booking reaches her cap; Ben still takes bookings.
    let mut c = shop();
    c.booking_rules.staff_daily_cap = Some(1);
    let b = [tuesday("09:00", "ana")];
    assert_eq!(
        check(&c, &b, "cut", &specific("ana"), "2026-06-02 15:00"),
        Err(Unavailable::StaffCapReached)
    );
    assert!(slots_on(&c, &b, "cut", &specific("ana"), "2026-06-02").is_empty());
    assert_eq!(
        check(&c, &b, "cut", &StaffChoice::Anyone, "2026-06-02 14:00")
            .unwrap()
            .staff_id,
        "ben"
    );
    assert_eq!(
        check(&c, &b, "cut", &StaffChoice::Anyone, "2026-06-02 16:00"),
        Err(Unavailable::StaffCapReached)
    );
    let any = slots_on(&c, &b, "cut", &StaffChoice::Anyone, "2026-06-02");
    assert!(!any.is_empty() && any.iter().all(|slot| slot.staff_id == "ben"));

    // A booking counts on the local date of its start: 23:30 Tuesday is 03:30Z Wednesday.
    let mut c = shop();
    c.booking_rules.daily_cap = Some(1);
    let late = at("2026-06-02 23:30");
    assert_eq!(late, utc("2026-06-03T03:30:00Z"));
    let b = [busy(
        "late",
        "ana",
        late,
        late,
        late + Duration::minutes(30),
    )];
    assert_eq!(
        check(&c, &b, "cut", &specific("ben"), "2026-06-02 13:00"),
        Err(Unavailable::DailyCapReached)
    );
    assert!(check(&c, &b, "cut", &specific("ben"), "2026-06-03 13:00").is_ok());
}

#[test]
fn ignore_booking_when_rescheduling() {
    let mut c = shop();
    c.booking_rules.staff_daily_cap = Some(1);
    let start = at("2026-06-01 10:00");
    let b = [busy(
        "mine",
        "ana",
        start,
        start,
        start + Duration::minutes(40),
    )];
    let ana = specific("ana");
    let now = monday_morning();
    assert_eq!(
        check_start(&c, &b, "cut", &ana, start, now, None),
        Err(Unavailable::StaffCapReached)
    );
    assert!(check_start(&c, &b, "cut", &ana, start, now, Some("mine")).is_ok());
    assert!(
        check_start(
            &c,
            &b,
            "cut",
            &ana,
            at("2026-06-01 10:15"),
            now,
            Some("mine")
        )
        .is_ok()
    );
    assert!(check_start(&c, &b, "cut", &ana, start, now, Some("other")).is_err());
    let (from, to) = local_day_bounds(NY, date("2026-06-01"));
    let mut q = query("cut", &ana, from, to, now);
    assert!(find_slots(&c, &b, &q).unwrap().is_empty());
    q.ignore_booking = Some("mine".into());
    assert_eq!(find_slots(&c, &b, &q).unwrap().len(), 26);
}

#[test]
fn a_business_without_staff_is_one_resource() {
    let c = config(json!({
        "profile": {"name": "Solo", "time_zone": "Europe/London"},
        "hours": {"monday": [{"open": "09:00", "close": "11:00"}]},
        "services": [{"id": "s", "name": "S", "duration_minutes": 60, "staff_ids": []}],
        "booking_rules": {"min_notice_minutes": 0, "slot_interval_minutes": 30},
    }));
    let tz = chrono_tz::Europe::London;
    assert_eq!(eligible_staff(&c, &c.services[0]), [DEFAULT_RESOURCE]);
    let now = utc("2026-06-01T00:00:00Z");
    let (from, to) = local_day_bounds(tz, date("2026-06-01"));
    let found = find_slots(&c, &[], &query("s", &StaffChoice::Anyone, from, to, now)).unwrap();
    assert_eq!(
        times_staff(tz, &found),
        ["09:00 business", "09:30 business", "10:00 business"]
    );
    let taken = [busy(
        "x",
        DEFAULT_RESOURCE,
        found[1].start,
        found[1].start,
        found[1].end,
    )];
    let specific_found = find_slots(
        &c,
        &taken,
        &query("s", &specific(DEFAULT_RESOURCE), from, to, now),
    )
    .unwrap();
    assert!(specific_found.is_empty());
    let err = find_slots(&c, &[], &query("s", &specific("ana"), from, to, now)).unwrap_err();
    assert_eq!(err, SlotError::UnknownStaff("ana".into()));
}

#[test]
fn touching_ranges_are_separate() {
    let c = config(json!({
        "profile": {"name": "T", "time_zone": "UTC"},
        "hours": week(json!([{"open": "09:00", "close": "10:00"}, {"open": "10:00", "close": "11:00"}])),
        "services": [{"id": "s", "name": "S", "duration_minutes": 45}],
        "booking_rules": {"min_notice_minutes": 0, "slot_interval_minutes": 15},
    }));
    let (from, to) = local_day_bounds(chrono_tz::UTC, date("2026-06-01"));
    let found = find_slots(&c, &[], &query("s", &StaffChoice::Anyone, from, to, from)).unwrap();
    assert_eq!(
        times(chrono_tz::UTC, &found),
        ["09:00+00:00", "09:15+00:00", "10:00+00:00", "10:15+00:00"]
    );
    let q = check_start(
        &c,
        &[],
        "s",
        &StaffChoice::Anyone,
        utc("2026-06-01T09:30:00Z"),
        from,
        None,
    );
    assert_eq!(q, Err(Unavailable::OutsideHours));
}

#[test]
fn check_start_agrees_with_find_slots_on_every_five_minutes() {
    let mut c = shop();
    c.booking_rules.staff_daily_cap = Some(3);
    c.closures = serde_json::from_value(json!([
        {"date": "2026-06-02", "from": "10:00", "to": "10:30"},
        {"date": "2026-06-04"},
    ]))
    .unwrap();
    let mut b = Vec::new();
    for (i, (staff, start, minutes)) in [
        ("ana", "2026-06-01 09:30", 45),
        ("ana", "2026-06-01 13:05", 50),
        ("ben", "2026-06-01 11:40", 30),
        ("ana", "2026-06-02 09:00", 40),
        ("ana", "2026-06-02 11:00", 40),
        ("ana", "2026-06-02 15:00", 40),
        ("ben", "2026-06-03 12:00", 90),
    ]
    .into_iter()
    .enumerate()
    {
        let start = at(start);
        b.push(busy(
            &format!("b{i}"),
            staff,
            start,
            start,
            start + Duration::minutes(minutes),
        ));
    }
    let now = monday_morning();
    let (from, _) = local_day_bounds(NY, date("2026-06-01"));
    let (_, to) = local_day_bounds(NY, date("2026-06-06"));
    for service in ["cut", "color"] {
        for staff in [StaffChoice::Anyone, specific("ana"), specific("ben")] {
            let Ok(found) = find_slots(&c, &b, &query(service, &staff, from, to, now)) else {
                assert_eq!(service, "color");
                continue;
            };
            let mut t = from;
            while t < to {
                let checked = check_start(&c, &b, service, &staff, t, now, None);
                let listed = found.iter().find(|slot| slot.start == t);
                assert_eq!(
                    checked.as_ref().ok(),
                    listed,
                    "{service} {staff:?} {t}: {checked:?}"
                );
                t += Duration::minutes(5);
            }
        }
    }
}

// --- pick_best ---

#[test]
fn pick_best_spreads_over_days_then_halves() {
    let c = shop();
    let now = monday_morning();
    let week = find_slots(
        &c,
        &[],
        &query(
            "cut",
            &StaffChoice::Anyone,
            now,
            at("2026-06-06 00:00"),
            now,
        ),
    )
    .unwrap();
    let best = pick_best(&week, 3, NY);
    assert_eq!(
        best.iter().map(|s| s.start).collect::<Vec<_>>(),
        [
            at("2026-06-01 09:00"),
            at("2026-06-02 09:00"),
            at("2026-06-03 09:00")
        ]
    );
    assert_eq!(pick_best(&week, 1, NY)[0].start, at("2026-06-01 09:00"));
    assert!(pick_best(&week, 0, NY).is_empty());
    // One day: morning, afternoon, then the furthest from those.
    let monday = slots_on(&c, &[], "cut", &specific("ana"), "2026-06-01");
    let best = pick_best(&monday, 3, NY);
    assert_eq!(
        best.iter().map(|s| s.start).collect::<Vec<_>>(),
        [
            at("2026-06-01 09:00"),
            at("2026-06-01 13:00"),
            at("2026-06-01 16:30")
        ]
    );
    // Two days, four options: both days, then the afternoons.
    let two = find_slots(
        &c,
        &[],
        &query("cut", &specific("ana"), now, at("2026-06-03 00:00"), now),
    )
    .unwrap();
    let best = pick_best(&two, 4, NY);
    assert_eq!(
        best.iter().map(|s| s.start).collect::<Vec<_>>(),
        [
            at("2026-06-01 09:00"),
            at("2026-06-01 13:00"),
            at("2026-06-02 09:00"),
            at("2026-06-02 13:00")
        ]
    );
    // Unsorted input, n larger than the list: everything, sorted.
    let mut few = monday[..4].to_vec();
    few.reverse();
    assert_eq!(pick_best(&few, 10, NY), monday[..4].to_vec());
    assert!(pick_best(&[], 3, NY).is_empty());
}

#[test]
fn pick_best_prefers_distinct_start_times() {
    let c = shop();
    let ana = slots_on(&c, &[], "cut", &specific("ana"), "2026-06-01");
    let ben = slots_on(&c, &[], "cut", &specific("ben"), "2026-06-01");
    let both: Vec<Slot> = ana.iter().chain(&ben).cloned().collect();
    let best = pick_best(&both, 5, NY);
    assert_eq!(best.len(), 5);
    assert!(best.windows(2).all(|w| w[0].start < w[1].start));
}

// --- Property tests ---

/// A straightforward re-implementation of the rules, for comparison: local times converted
/// one by one (gaps skipped minute by minute), hours intersected as wall-clock times, every
/// booking scanned for every candidate.
mod reference {
    use chrono::LocalResult;

    use super::*;

    pub fn to_utc(tz: Tz, date: NaiveDate, time: NaiveTime, latest: bool) -> DateTime<Utc> {
        let mut wall = date.and_time(time);
        loop {
            match tz.from_local_datetime(&wall) {
                LocalResult::Single(t) => return t.with_timezone(&Utc),
                LocalResult::Ambiguous(a, b) => {
                    let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                    return if latest { a.max(b) } else { a.min(b) };
                }
                LocalResult::None => wall += Duration::minutes(1),
            }
        }
    }

    pub fn end_to_utc(tz: Tz, date: NaiveDate, end: EndTime) -> DateTime<Utc> {
        match end {
            EndTime::At(time) => to_utc(tz, date, time, true),
            EndTime::EndOfDay => to_utc(tz, date.succ_opt().unwrap(), NaiveTime::MIN, false),
        }
    }

    /// Working ranges as instants: business ∩ own hours, intersected as wall-clock times.
    pub fn ranges(
        config: &BusinessConfig,
        staff: Option<&Staff>,
        date: NaiveDate,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let tz = config.profile.time_zone;
        let day = date.weekday();
        let business: Vec<(NaiveTime, EndTime)> = config
            .hours
            .day(day)
            .iter()
            .map(|r| (r.open, r.close))
            .collect();
        let local: Vec<(NaiveTime, EndTime)> = match staff.and_then(|s| s.hours.as_ref()) {
            None => business,
            Some(own) => {
                let mut out = Vec::new();
                for &(open, close) in &business {
                    for r in own.day(day) {
                        let (open, close) = (open.max(r.open), close.min(r.close));
                        if EndTime::from(open) < close {
                            out.push((open, close));
                        }
                    }
                }
                out
            }
        };
        local
            .into_iter()
            .map(|(open, close)| (to_utc(tz, date, open, false), end_to_utc(tz, date, close)))
            .collect()
    }

    pub fn closures_on(config: &BusinessConfig, date: NaiveDate) -> Vec<&Closure> {
        config
            .closures
            .iter()
            .filter(|c| c.date <= date && date <= c.end_date.unwrap_or(c.date))
            .collect()
    }

    pub fn slots(config: &BusinessConfig, busy: &[Busy], q: &SlotQuery) -> Vec<Slot> {
        let tz = config.profile.time_zone;
        let rules = &config.booking_rules;
        let service = config
            .services
            .iter()
            .find(|s| s.id == q.service_id)
            .unwrap();
        let staff: Vec<(&str, Option<&Staff>)> = if config.staff.is_empty() {
            vec![(DEFAULT_RESOURCE, None)]
        } else {
            config
                .staff
                .iter()
                .filter(|s| service.staff_ids.is_empty() || service.staff_ids.contains(&s.id))
                .map(|s| (s.id.as_str(), Some(s)))
                .collect()
        };
        let wanted: Vec<(usize, &str, Option<&Staff>)> = staff
            .into_iter()
            .enumerate()
            .filter(|(_, (id, _))| match &q.staff {
                StaffChoice::Anyone => true,
                StaffChoice::Specific(wanted) => id == wanted,
            })
            .map(|(i, (id, s))| (i, id, s))
            .collect();
        let live: Vec<&Busy> = busy
            .iter()
            .filter(|b| q.ignore_booking.as_deref() != Some(b.booking_id.as_str()))
            .collect();
        let count = |date: NaiveDate, staff: Option<&str>| {
            live.iter()
                .filter(|b| {
                    b.start.with_timezone(&tz).date_naive() == date
                        && staff.is_none_or(|s| b.staff_id == s)
                })
                .count() as u32
        };
        let minutes = |m: u32| Duration::minutes(i64::from(m));
        let (duration, before, after) = (
            minutes(service.duration_minutes),
            minutes(service.buffer_before_minutes),
            minutes(service.buffer_after_minutes),
        );
        let step = minutes(rules.slot_interval_minutes);
        let earliest = q.now + minutes(rules.min_notice_minutes);
        let last_day = q.now.with_timezone(&tz).date_naive()
            + chrono::Days::new(u64::from(rules.horizon_days));
        let mut found: Vec<(DateTime<Utc>, u32, usize, Slot)> = Vec::new();
        let mut date = q.from.with_timezone(&tz).date_naive().pred_opt().unwrap();
        let last = q.to.with_timezone(&tz).date_naive().succ_opt().unwrap();
        while date <= last {
            let closures = closures_on(config, date);
            let whole = closures.iter().any(|c| c.from.is_none() && c.to.is_none());
            let partial: Vec<(DateTime<Utc>, DateTime<Utc>)> = closures
                .iter()
                .filter(|c| c.from.is_some())
                .map(|c| {
                    (
                        to_utc(tz, date, c.from.unwrap(), false),
                        end_to_utc(tz, date, c.to.unwrap()),
                    )
                })
                .collect();
            for &(index, id, member) in &wanted {
                if whole {
                    continue;
                }
                for (open, close) in ranges(config, member, date) {
                    let mut start = open;
                    while start + duration <= close {
                        let end = start + duration;
                        let rounded = locks::round_out(start - before, end + after);
                        let ok = start >= q.from
                            && start < q.to
                            && start >= earliest
                            && start.with_timezone(&tz).date_naive() <= last_day
                            && !partial.iter().any(|&(f, t)| start < t && f < end)
                            && rules.daily_cap.is_none_or(|cap| count(date, None) < cap)
                            && rules
                                .staff_daily_cap
                                .is_none_or(|cap| count(date, Some(id)) < cap)
                            && !live.iter().any(|b| {
                                let other = locks::round_out(b.occupied_from, b.occupied_to);
                                b.staff_id == id
                                    && other.0 < other.1
                                    && rounded.0 < other.1
                                    && other.0 < rounded.1
                            });
                        if ok {
                            let slot = Slot {
                                start,
                                end,
                                staff_id: id.to_owned(),
                                occupied_from: start - before,
                                occupied_to: end + after,
                            };
                            found.push((start, count(date, Some(id)), index, slot));
                        }
                        start += step;
                    }
                }
            }
            date = date.succ_opt().unwrap();
        }
        found.sort_by_key(|(start, count, index, _)| (*start, *count, *index));
        found.dedup_by_key(|(start, ..)| *start);
        found.into_iter().map(|(.., slot)| slot).collect()
    }
}

#[derive(Clone, Debug)]
struct Case {
    config: BusinessConfig,
    busy: Vec<Busy>,
    query: SlotQuery,
    /// Extra instants to check with check_start.
    probes: Vec<DateTime<Utc>>,
}

/// Zones and one of their transition days (UTC and Kolkata have none).
const ZONE_DAYS: [(Tz, &str); 10] = [
    (chrono_tz::America::New_York, "2026-03-08"),
    (chrono_tz::America::New_York, "2026-11-01"),
    (chrono_tz::Europe::London, "2026-03-29"),
    (chrono_tz::Europe::London, "2026-10-25"),
    (chrono_tz::Australia::Lord_Howe, "2026-04-05"),
    (chrono_tz::Australia::Lord_Howe, "2026-10-04"),
    (chrono_tz::America::Santiago, "2026-04-04"),
    (chrono_tz::America::Santiago, "2026-09-06"),
    (chrono_tz::UTC, "2026-06-01"),
    (chrono_tz::Asia::Kolkata, "2026-06-01"),
];

fn minute_time(minute: u32) -> NaiveTime {
    NaiveTime::from_num_seconds_from_midnight_opt(minute * 60, 0).unwrap()
}

fn end_time(minute: u32) -> EndTime {
    if minute >= 24 * 60 {
        EndTime::EndOfDay
    } else {
        EndTime::At(minute_time(minute))
    }
}

/// Sorted distinct minutes of the day (0..=1440), favouring the hours around transitions.
fn arb_points(max: usize) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(
        prop_oneof![
            (0u32..=48).prop_map(|h| h * 30),
            (0u32..=288).prop_map(|m| m * 5),
            (0u32..=240),
            (1380u32..=1440),
        ],
        0..=max,
    )
    .prop_map(|mut points| {
        points.sort_unstable();
        points.dedup();
        points
    })
}

fn arb_ranges() -> impl Strategy<Value = Vec<TimeRange>> {
    let from_points = (arb_points(6), any::<bool>()).prop_map(|(points, reverse)| {
        let mut ranges: Vec<TimeRange> = points
            .chunks_exact(2)
            .map(|pair| TimeRange {
                open: minute_time(pair[0]),
                close: end_time(pair[1]),
            })
            .collect();
        if reverse {
            ranges.reverse();
        }
        ranges
    });
    // One long range, often over the small hours where clocks change.
    let long = (
        prop_oneof![0u32..=180, (0u32..=24).prop_map(|h| h * 30)],
        120u32..=1440,
    )
        .prop_map(|(open, length)| {
            vec![TimeRange {
                open: minute_time(open),
                close: end_time((open + length).min(1440)),
            }]
        });
    prop_oneof![1 => Just(Vec::new()), 3 => long, 3 => from_points]
}

fn arb_week() -> impl Strategy<Value = WeeklyHours> {
    prop::collection::vec(arb_ranges(), 7).prop_map(|mut days| WeeklyHours {
        sunday: days.pop().unwrap(),
        saturday: days.pop().unwrap(),
        friday: days.pop().unwrap(),
        thursday: days.pop().unwrap(),
        wednesday: days.pop().unwrap(),
        tuesday: days.pop().unwrap(),
        monday: days.pop().unwrap(),
    })
}

fn arb_case() -> impl Strategy<Value = Case> {
    // The data starts one or two days before a transition day.
    let zone = prop::sample::select(ZONE_DAYS.to_vec());
    let base = 1u64..=2;
    let staff = prop::collection::vec(prop::option::weighted(0.4, arb_week()), 0..=4);
    let services = prop::collection::vec((5u32..=180, 0u32..=60, 0u32..=60, any::<u8>()), 1..=3);
    let closures = prop::collection::vec(
        (
            0u64..6,
            prop_oneof![1 => Just(0u8), 1 => Just(1u8), 4 => Just(2u8)],
            0u64..3,
            arb_points(2),
        ),
        0..=2,
    );
    let rules = (
        prop_oneof![Just(0u32), 0u32..=300],
        1u32..=10,
        prop_oneof![
            prop::sample::select(vec![5u32, 10, 15, 20, 30, 45, 60]),
            5u32..=90
        ],
        prop::option::weighted(0.3, 1u32..=10),
        prop::option::weighted(0.3, 1u32..=5),
    );
    let busy = prop::collection::vec(
        (
            0usize..6,
            -1440i64..4 * 1440,
            0i64..60,
            5i64..=180,
            0i64..=60,
            0i64..=60,
        ),
        0..=25,
    );
    let query = (
        0usize..3,
        0usize..6,
        (-1440i64..4 * 1440, 0i64..5 * 1440),
        (0i64..1440, 0i64..60),
        prop::option::of(0usize..25),
    );
    let probes = prop::collection::vec(
        (
            0i64..5 * 1440 / 5,
            prop_oneof![4 => Just(0i64), 1 => 0i64..300],
        ),
        0..30,
    );
    (
        (zone, base, arb_week(), staff, services, closures, rules),
        (busy, query, probes),
    )
        .prop_map(
            |(
                ((tz, day), before, hours, staff, services, closures, rules),
                (busy, query, probes),
            )| {
                let base = date(day) - chrono::Days::new(before);
                let origin = tz
                    .from_local_datetime(&base.and_time(NaiveTime::MIN))
                    .earliest()
                    .unwrap()
                    .with_timezone(&Utc);
                let (_, _, _, (now_minute, now_second), _) = query;
                let now = origin + Duration::minutes(now_minute) + Duration::seconds(now_second);
                let staff: Vec<Staff> = staff
                    .into_iter()
                    .enumerate()
                    .map(|(i, hours)| Staff {
                        id: format!("s{i}"),
                        name: format!("S{i}"),
                        kind: StaffKind::Person,
                        hours,
                    })
                    .collect();
                let services: Vec<Service> = services
                    .into_iter()
                    .enumerate()
                    .map(|(i, (duration, before, after, mask))| Service {
                        id: format!("v{i}"),
                        name: format!("V{i}"),
                        duration_minutes: duration,
                        buffer_before_minutes: before,
                        buffer_after_minutes: after,
                        staff_ids: staff
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| mask & (1 << j) != 0 && mask & 0x80 == 0)
                            .map(|(_, s)| s.id.clone())
                            .collect(),
                        description: None,
                    })
                    .collect();
                let closures: Vec<Closure> = closures
                    .into_iter()
                    .map(|(offset, kind, length, points)| {
                        let day = base + chrono::Days::new(offset);
                        let (from, to) = match (kind, points.as_slice()) {
                            (2, [a, b]) => (Some(minute_time(*a)), Some(end_time(*b))),
                            _ => (None, None),
                        };
                        Closure {
                            date: day,
                            end_date: (kind == 1).then(|| day + chrono::Days::new(length)),
                            from,
                            to,
                            reason: Some(format!("closure {offset}/{kind}")),
                        }
                    })
                    .collect();
                let (notice, horizon, interval, daily_cap, staff_cap) = rules;
                let booking_rules = BookingRules {
                    min_notice_minutes: notice,
                    horizon_days: horizon,
                    slot_interval_minutes: interval,
                    daily_cap,
                    staff_daily_cap: staff_cap,
                    cancellation_window_hours: 24,
                };
                let staff_name = |i: usize| -> String {
                    if staff.is_empty() {
                        [DEFAULT_RESOURCE, DEFAULT_RESOURCE, "ghost"][i % 3].to_owned()
                    } else if i < staff.len() {
                        staff[i].id.clone()
                    } else if i == 5 {
                        "ghost".to_owned()
                    } else {
                        staff[i % staff.len()].id.clone()
                    }
                };
                let busy: Vec<Busy> = busy
                    .into_iter()
                    .enumerate()
                    .map(|(i, (who, minute, second, duration, before, after))| {
                        let start = now + Duration::minutes(minute) + Duration::seconds(second);
                        Busy {
                            booking_id: format!("b{i}"),
                            staff_id: staff_name(who),
                            start,
                            occupied_from: start - Duration::minutes(before),
                            occupied_to: start + Duration::minutes(duration + after),
                        }
                    })
                    .collect();
                let (service, who, (from, length), _, ignore) = query;
                let service_id = services[service % services.len()].id.clone();
                let staff_choice = if who == 0 || (staff.is_empty() && who > 1) {
                    StaffChoice::Anyone
                } else if staff.is_empty() {
                    StaffChoice::Specific(DEFAULT_RESOURCE.into())
                } else {
                    StaffChoice::Specific(staff[(who - 1) % staff.len()].id.clone())
                };
                let from = origin + Duration::minutes(from);
                let config = BusinessConfig {
                    profile: Profile {
                        name: "P".into(),
                        time_zone: tz,
                        locations: vec![],
                        website: None,
                    },
                    hours,
                    closures,
                    services,
                    staff,
                    booking_rules,
                    persona: Persona::default(),
                    faqs: vec![],
                    telephony: Telephony::default(),
                    sms: Sms::default(),
                    compliance: Compliance::default(),
                };
                Case {
                    query: SlotQuery {
                        service_id,
                        staff: staff_choice,
                        from,
                        to: from + Duration::minutes(length),
                        now,
                        ignore_booking: ignore.map(|i| format!("b{i}")),
                    },
                    probes: probes
                        .into_iter()
                        .map(|(cell, second)| {
                            origin + Duration::minutes(cell * 5) + Duration::seconds(second)
                        })
                        .collect(),
                    config,
                    busy,
                }
            },
        )
}

/// Checks the invariants every slot must satisfy, independently of the engine.
fn assert_slot_invariants(case: &Case, slot: &Slot) -> Result<(), TestCaseError> {
    let Case {
        config,
        busy,
        query: q,
        ..
    } = case;
    let tz = config.profile.time_zone;
    let rules = &config.booking_rules;
    let service = config
        .services
        .iter()
        .find(|s| s.id == q.service_id)
        .unwrap();
    let day = slot.start.with_timezone(&tz).date_naive();
    prop_assert!(q.from <= slot.start && slot.start < q.to);
    prop_assert_eq!(
        slot.end - slot.start,
        Duration::minutes(service.duration_minutes.into())
    );
    prop_assert_eq!(
        occupied_span(service, slot.start),
        (slot.occupied_from, slot.occupied_to)
    );
    // Inside one opening range of its local day for its staff member.
    let member = config.staff.iter().find(|s| s.id == slot.staff_id);
    prop_assert!(
        member.is_some() || (config.staff.is_empty() && slot.staff_id == DEFAULT_RESOURCE)
    );
    if let StaffChoice::Specific(id) = &q.staff {
        prop_assert_eq!(&slot.staff_id, id);
    }
    let ranges = reference::ranges(config, member, day);
    prop_assert!(
        ranges
            .iter()
            .any(|&(open, close)| open <= slot.start && slot.end <= close),
        "{:?} not inside {:?}",
        slot,
        ranges
    );
    // No closure.
    for closure in reference::closures_on(config, day) {
        if let (Some(from), Some(to)) = (closure.from, closure.to) {
            let (from, to) = (
                reference::to_utc(tz, day, from, false),
                reference::end_to_utc(tz, day, to),
            );
            prop_assert!(
                slot.end <= from || to <= slot.start,
                "{:?} in closure {:?}",
                slot,
                closure
            );
        } else {
            prop_assert!(false, "{:?} on a closed day {:?}", slot, closure);
        }
    }
    // Notice and horizon.
    prop_assert!(slot.start >= q.now + Duration::minutes(rules.min_notice_minutes.into()));
    let today = q.now.with_timezone(&tz).date_naive();
    prop_assert!(day <= today + chrono::Days::new(rules.horizon_days.into()));
    // Clear of the staff member's other bookings, on cell-rounded spans, and of their locks.
    let live = busy
        .iter()
        .filter(|b| q.ignore_booking.as_deref() != Some(b.booking_id.as_str()));
    let mine = locks::round_out(slot.occupied_from, slot.occupied_to);
    let plan = locks::lock_plan(slot.occupied_from, slot.occupied_to);
    let mut day_count = 0;
    let mut staff_count = 0;
    for b in live {
        let other = locks::round_out(b.occupied_from, b.occupied_to);
        if b.staff_id == slot.staff_id {
            prop_assert!(
                other.0 >= other.1 || mine.1 <= other.0 || other.1 <= mine.0,
                "{:?} overlaps {:?}",
                slot,
                b
            );
            prop_assert!(!locks::plans_conflict(
                &plan,
                &locks::lock_plan(b.occupied_from, b.occupied_to)
            ));
        }
        if b.start.with_timezone(&tz).date_naive() == day {
            day_count += 1;
            if b.staff_id == slot.staff_id {
                staff_count += 1;
            }
        }
    }
    prop_assert!(rules.daily_cap.is_none_or(|cap| day_count < cap));
    prop_assert!(rules.staff_daily_cap.is_none_or(|cap| staff_count < cap));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn find_slots_matches_the_reference_and_check_start(case in arb_case()) {
        let Case { config, busy, query: q, probes } = &case;
        let ignore = q.ignore_booking.as_deref();
        let found = match find_slots(config, busy, q) {
            Ok(found) => found,
            Err(error) => {
                // Only a specific staff member who doesn't perform the service.
                let checked = check_start(config, busy, &q.service_id, &q.staff, q.from, q.now, ignore);
                prop_assert!(matches!(error, SlotError::StaffCannotServe { .. }), "{}", error);
                prop_assert_eq!(checked, Err(Unavailable::StaffCannotServe));
                return Ok(());
            }
        };
        prop_assert_eq!(&found, &reference::slots(config, busy, q));
        prop_assert!(found.windows(2).all(|w| w[0].start < w[1].start));
        for slot in &found {
            assert_slot_invariants(&case, slot)?;
            let checked = check_start(config, busy, &q.service_id, &q.staff, slot.start, q.now, ignore);
            prop_assert_eq!(checked.as_ref(), Ok(slot));
        }
        // Any instant: check_start is Ok exactly when find_slots returns it.
        let tz = config.profile.time_zone;
        let rules = &config.booking_rules;
        // Random instants, and instants near the slots and the bookings.
        let step = Duration::minutes(rules.slot_interval_minutes.into());
        let near_slots = found.iter().flat_map(|s| [s.start + Duration::minutes(5), s.start - step, s.end, s.occupied_to]);
        let near_busy = busy.iter().flat_map(|b| [b.start, b.occupied_to, b.start - step]);
        let probes = probes.iter().copied().chain(near_slots).chain(near_busy);
        for probe in probes {
            let alone = SlotQuery { from: probe, to: probe + Duration::seconds(1), ..q.clone() };
            let listed = find_slots(config, busy, &alone).unwrap();
            let checked = check_start(config, busy, &q.service_id, &q.staff, probe, q.now, ignore);
            match &checked {
                Ok(slot) => prop_assert_eq!(&listed, &vec![slot.clone()]),
                Err(reason) => {
                    prop_assert!(listed.is_empty(), "{:?} for {:?}", reason, listed);
                    let earliest = q.now + Duration::minutes(rules.min_notice_minutes.into());
                    let last_day = q.now.with_timezone(&tz).date_naive() + chrono::Days::new(rules.horizon_days.into());
                    match reason {
                        Unavailable::InPast => prop_assert!(probe < q.now),
                        Unavailable::TooSoon { earliest: e } => prop_assert!(q.now <= probe && probe < *e && *e == earliest),
                        Unavailable::BeyondHorizon { last_day: l } => {
                            prop_assert!(*l == last_day && probe.with_timezone(&tz).date_naive() > last_day);
                        }
                        other => prop_assert!(probe >= earliest && probe.with_timezone(&tz).date_naive() <= last_day, "{:?}", other),
                    }
                }
            }
        }
    }

    #[test]
    fn filling_the_calendar_never_double_books(case in arb_case(), picks in prop::collection::vec(any::<prop::sample::Index>(), 1..25)) {
        let Case { config, query: q, .. } = &case;
        let tz = config.profile.time_zone;
        let mut busy = case.busy.clone();
        let mut added: Vec<Busy> = Vec::new();
        for (k, pick) in picks.iter().enumerate() {
            let Ok(found) = find_slots(config, &busy, q) else { return Ok(()) };
            if found.is_empty() {
                break;
            }
            let slot = pick.get(&found).clone();
            let state = Case { busy: busy.clone(), ..case.clone() };
            assert_slot_invariants(&state, &slot)?;
            let booking = Busy {
                booking_id: format!("new{k}"),
                staff_id: slot.staff_id.clone(),
                start: slot.start,
                occupied_from: slot.occupied_from,
                occupied_to: slot.occupied_to,
            };
            // The new booking is not offered again, for anyone.
            busy.push(booking.clone());
            let again = check_start(config, &busy, &q.service_id, &StaffChoice::Specific(slot.staff_id.clone()), slot.start, q.now, q.ignore_booking.as_deref());
            prop_assert!(again.is_err(), "{:?} offered twice", slot);
            added.push(booking);
        }
        // The added bookings are pairwise clear of each other per staff member, as the locks see them.
        for (i, a) in added.iter().enumerate() {
            for b in &added[i + 1..] {
                if a.staff_id == b.staff_id {
                    prop_assert!(!locks::plans_conflict(
                        &locks::lock_plan(a.occupied_from, a.occupied_to),
                        &locks::lock_plan(b.occupied_from, b.occupied_to),
                    ), "{:?} and {:?}", a, b);
                }
            }
        }
        // Caps hold for the days that had room.
        if let Some(cap) = config.booking_rules.daily_cap {
            let live: Vec<&Busy> = case.busy.iter().filter(|b| q.ignore_booking.as_deref() != Some(b.booking_id.as_str())).collect();
            for a in &added {
                let day = a.start.with_timezone(&tz).date_naive();
                let on_day = |b: &Busy| b.start.with_timezone(&tz).date_naive() == day;
                let before = live.iter().filter(|b| on_day(b)).count() as u32;
                let new = added.iter().filter(|b| on_day(b)).count() as u32;
                prop_assert!(before >= cap || before + new <= cap);
            }
        }
    }
}
