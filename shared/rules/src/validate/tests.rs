use proptest::prelude::*;
use serde_json::{Value, json};

use crate::config::*;
use crate::validate::{FieldError, parse_business_config};

const FULL: &str = include_str!("../../fixtures/full_config.json");

fn full() -> Value {
    serde_json::from_str(FULL).expect("fixture is JSON")
}

fn minimal() -> Value {
    json!({"profile": {"name": "Smile Dental", "time_zone": "America/New_York"}})
}

/// `doc` with the value at `pointer` set (replacing it, or adding an object key or a last
/// array element).
fn with(mut doc: Value, pointer: &str, value: Value) -> Value {
    let (parent, last) = pointer.rsplit_once('/').expect("a non-root pointer");
    match doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"))
    {
        Value::Object(object) => {
            object.insert(last.replace("~1", "/").replace("~0", "~"), value);
        }
        Value::Array(array) => {
            let index: usize = last.parse().expect("an index");
            if index == array.len() {
                array.push(value);
            } else {
                array[index] = value;
            }
        }
        other => panic!("{parent} is {other}"),
    }
    doc
}

fn without(mut doc: Value, pointer: &str) -> Value {
    let (parent, last) = pointer.rsplit_once('/').expect("a non-root pointer");
    doc.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|object| object.remove(last))
        .unwrap_or_else(|| panic!("no {pointer}"));
    doc
}

fn errors(doc: Value) -> Vec<FieldError> {
    match parse_business_config(doc) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => errors,
    }
}

/// Asserts that `doc` has exactly one problem, at `pointer`, whose message contains `detail`.
#[track_caller]
fn assert_error(doc: Value, pointer: &str, detail: &str) {
    let errors = errors(doc);
    assert!(
        errors.len() == 1 && errors[0].pointer == pointer && errors[0].detail.contains(detail),
        "expected one error at {pointer:?} containing {detail:?}, got {errors:#?}"
    );
}

/// Asserts that `errors` has an error at `pointer` whose message contains `detail`.
#[track_caller]
fn assert_has(errors: &[FieldError], pointer: &str, detail: &str) {
    assert!(
        errors
            .iter()
            .any(|error| error.pointer == pointer && error.detail.contains(detail)),
        "expected an error at {pointer:?} containing {detail:?}, got {errors:#?}"
    );
}

#[track_caller]
fn assert_valid(doc: Value) -> BusinessConfig {
    parse_business_config(doc).unwrap_or_else(|errors| panic!("expected valid, got {errors:#?}"))
}

// --- Whole documents ---

#[test]
fn full_document_is_valid_and_serializes_back_unchanged() {
    let config = assert_valid(full());
    let serialized = serde_json::to_value(&config).unwrap();
    assert_eq!(serialized, full());
    assert_eq!(assert_valid(serialized), config);
    assert!(config.validate().is_empty());
}

#[test]
fn full_document_reads_into_typed_values() {
    let config = assert_valid(full());
    assert_eq!(config.profile.time_zone, chrono_tz::America::New_York);
    let friday = config.hours.day(chrono::Weekday::Fri);
    assert_eq!(friday.len(), 2);
    assert_eq!(friday[1].to_string(), "12:00–15:00");
    assert_eq!(
        config.hours.day(chrono::Weekday::Sat)[0].close,
        EndTime::EndOfDay
    );
    assert_eq!(
        config.closures[1].to,
        Some(EndTime::At("17:00".parse().unwrap()))
    );
    assert_eq!(config.staff[2].kind, StaffKind::Resource);
    assert_eq!(
        config.telephony.after_hours_policy,
        AfterHoursPolicy::RingStaffFirst
    );
    assert_eq!(
        config.phone_numbers(),
        ["+12125550100".to_owned(), "+12125550101".to_owned()]
    );
}

#[test]
fn minimal_document_gets_defaults() {
    let config = assert_valid(minimal());
    assert_eq!(config.profile.name, "Smile Dental");
    assert!(config.profile.locations.is_empty());
    assert_eq!(config.profile.website, None);
    assert_eq!(config.hours, WeeklyHours::default());
    assert!(config.hours.day(chrono::Weekday::Mon).is_empty());
    assert!(config.closures.is_empty() && config.services.is_empty() && config.staff.is_empty());
    assert_eq!(
        config.booking_rules,
        BookingRules {
            min_notice_minutes: 60,
            horizon_days: 60,
            slot_interval_minutes: 15,
            daily_cap: None,
            staff_daily_cap: None,
            cancellation_window_hours: 24,
        }
    );
    assert_eq!(config.persona.languages, ["en-US"]);
    assert!(config.persona.greeting.contains("{{business_name}}"));
    assert!(!config.persona.consent_message.is_empty());
    assert_eq!(config.telephony.mode, TelephonyMode::Native);
    assert_eq!(
        config.telephony.after_hours_policy,
        AfterHoursPolicy::AiAlways
    );
    assert!(config.telephony.voicemail_fallback);
    assert_eq!(config.telephony.ring_staff_seconds, 20);
    assert!(config.phone_numbers().is_empty());
    assert!(config.sms.follow_ups_enabled);
    assert_eq!(config.sms.quiet_hours, None);
    assert!(config.compliance.recording_consent);
    assert_eq!(
        config.compliance.redaction,
        Redaction {
            enabled: true,
            kinds: vec![RedactionKind::CardNumber, RedactionKind::Ssn]
        }
    );
    assert_eq!(
        config.compliance.retention,
        Retention {
            call_records_days: 365,
            transcripts_days: 90,
            recordings_days: 30
        }
    );
}

#[test]
fn default_templates_use_only_their_variables() {
    let config = assert_valid(minimal());
    for kind in MessageKind::ALL {
        let text = config.sms.templates.get(kind);
        let names = crate::template::variables(text).unwrap();
        assert!(names.iter().any(|name| name == "business_name"), "{kind:?}");
        assert!(
            names
                .iter()
                .all(|name| kind.variables().contains(&name.as_str())),
            "{kind:?}: {names:?}"
        );
    }
}

#[test]
fn defaults_serialize_in_full_and_read_back_equal() {
    let config = assert_valid(minimal());
    let serialized = serde_json::to_value(&config).unwrap();
    assert_eq!(serialized["booking_rules"]["daily_cap"], Value::Null);
    assert_eq!(serialized["sms"]["templates"].as_object().unwrap().len(), 7);
    assert_eq!(
        serialized["compliance"]["redaction"]["kinds"],
        json!(["card_number", "ssn"])
    );
    assert_eq!(assert_valid(serialized), config);
}

#[test]
fn partial_sections_keep_the_defaults_of_missing_fields() {
    let doc = with(minimal(), "/booking_rules", json!({"daily_cap": 12}));
    let doc = with(
        doc,
        "/sms",
        json!({"templates": {"reminder": "See you {{date}}"}}),
    );
    let config = assert_valid(doc);
    assert_eq!(config.booking_rules.daily_cap, Some(12));
    assert_eq!(config.booking_rules.horizon_days, 60);
    assert_eq!(config.sms.templates.reminder, "See you {{date}}");
    assert_eq!(
        config.sms.templates.booking_confirmation,
        SmsTemplates::default().booking_confirmation
    );
}

#[test]
fn validate_on_a_built_config_reports_like_parse() {
    let mut config = assert_valid(full());
    config.booking_rules.horizon_days = 0;
    config.profile.name.clear();
    assert_eq!(
        config.validate(),
        [
            FieldError::new("/profile/name", "`name` must not be empty"),
            FieldError::new(
                "/booking_rules/horizon_days",
                "`horizon_days` must be between 1 and 730 days; got 0"
            ),
        ]
    );
}

#[test]
fn field_errors_serialize_as_pointer_and_detail() {
    let error = FieldError::new("/profile/name", "`name` must not be empty");
    assert_eq!(
        serde_json::to_value(error).unwrap(),
        json!({"pointer": "/profile/name", "detail": "`name` must not be empty"})
    );
}

#[test]
fn several_errors_in_one_document_are_all_reported() {
    let doc = with(full(), "/profile/name", json!(""));
    let doc = with(doc, "/hours/monday/1/open", json!("11:00"));
    let doc = with(doc, "/services/0/duration_minutes", json!(2));
    let doc = with(doc, "/telephony/numbers/1", json!("+1555"));
    let doc = with(doc, "/sms/templates/reminder", json!("{{summary}}"));
    let doc = with(doc, "/compliance/retention/recordings_days", json!(0));
    let pointers: Vec<String> = errors(doc).into_iter().map(|error| error.pointer).collect();
    assert_eq!(
        pointers,
        [
            "/profile/name",
            "/hours/monday/1",
            "/services/0/duration_minutes",
            "/telephony/numbers/1",
            "/sms/templates/reminder",
            "/compliance/retention/recordings_days",
        ]
    );
}

// --- Structure: document shape, unknown fields, type errors ---

#[test]
fn document_must_be_an_object() {
    assert_eq!(
        errors(json!([1, 2])),
        [FieldError::new(
            "",
            "the configuration must be a JSON object, not an array"
        )]
    );
    assert_eq!(errors(Value::Null)[0].pointer, "");
}

#[test]
fn profile_is_required() {
    assert_error(json!({}), "", "missing field `profile`");
    assert_error(
        without(full(), "/profile/time_zone"),
        "/profile",
        "missing field `time_zone`",
    );
}

#[test]
fn unknown_fields_at_every_depth_are_all_reported() {
    let doc = with(full(), "/extra", json!(true));
    let doc = with(doc, "/profile/nmae", json!("x"));
    let doc = with(doc, "/profile/locations/1/zip", json!("01101"));
    let doc = with(doc, "/hours/mondey", json!([]));
    let doc = with(doc, "/services/0/buffer_befor", json!(5));
    let doc = with(doc, "/staff/1/hours/monday/0/note", json!("lunch"));
    let doc = with(doc, "/sms/templates/birthday", json!("Happy birthday!"));
    let doc = with(doc, "/sms/quiet_hours/tz", json!("UTC"));
    let doc = with(doc, "/compliance/redaction/kind", json!([]));
    let doc = with(doc, "/a~1b", json!(1));
    let mut pointers: Vec<String> = errors(doc).into_iter().map(|error| error.pointer).collect();
    pointers.sort();
    assert_eq!(
        pointers,
        [
            "/a~1b",
            "/compliance/redaction/kind",
            "/extra",
            "/hours/mondey",
            "/profile/locations/1/zip",
            "/profile/nmae",
            "/services/0/buffer_befor",
            "/sms/quiet_hours/tz",
            "/sms/templates/birthday",
            "/staff/1/hours/monday/0/note",
        ]
    );
}

#[test]
fn unknown_fields_list_the_expected_ones() {
    assert_error(
        with(full(), "/services/0/buffer_befor", json!(5)),
        "/services/0/buffer_befor",
        "unknown field `buffer_befor`; expected one of `buffer_after_minutes`, \
         `buffer_before_minutes`, `description`, `duration_minutes`, `id`, `name`, `staff_ids`",
    );
    assert_error(
        with(minimal(), "/hours", json!({"mondey": []})),
        "/hours/mondey",
        "expected one of `friday`, `monday`, `saturday`, `sunday`, `thursday`, `tuesday`, \
         `wednesday`",
    );
    assert_error(
        with(minimal(), "/faq", json!([])),
        "/faq",
        "unknown field `faq`; expected one of `profile`, `hours`, `closures`, `services`, \
         `staff`, `booking_rules`, `persona`, `faqs`, `telephony`, `sms`, `compliance`",
    );
    assert_error(
        with(
            minimal(),
            "/sms",
            json!({"templates": {"booking_confirmed": "x"}}),
        ),
        "/sms/templates/booking_confirmed",
        "`booking_confirmation`",
    );
}

#[test]
fn unknown_fields_are_reported_alongside_semantic_errors() {
    let doc = with(full(), "/persona/voice", json!("alloy"));
    let doc = with(doc, "/persona/languages", json!([]));
    let errors = errors(doc);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_has(&errors, "/persona/voice", "unknown field `voice`");
    assert_has(&errors, "/persona/languages", "at least one language");
}

#[test]
fn type_errors_carry_the_pointer() {
    assert_error(
        with(full(), "/services/1/duration_minutes", json!("45")),
        "/services/1/duration_minutes",
        "invalid type: string \"45\", expected u32",
    );
    assert_error(
        with(full(), "/hours/monday/1/close", json!("5pm")),
        "/hours/monday/1/close",
        "invalid time \"5pm\"; use 24-hour \"HH:MM\" such as \"09:00\"",
    );
    assert_error(
        with(full(), "/hours/monday/1/open", json!("24:00")),
        "/hours/monday/1/open",
        "\"24:00\" can only end a range",
    );
    assert_error(
        with(full(), "/closures/2/end_date", json!("2027-02-30")),
        "/closures/2/end_date",
        "invalid date \"2027-02-30\"; use \"YYYY-MM-DD\"",
    );
    assert_error(
        with(full(), "/telephony/mode", json!("sip")),
        "/telephony/mode",
        "unknown variant `sip`, expected `native` or `register_call`",
    );
    assert_error(
        with(full(), "/booking_rules/horizon_days", json!(-1)),
        "/booking_rules/horizon_days",
        "invalid value: integer `-1`, expected u32",
    );
    assert_error(
        with(full(), "/staff/0/kind", json!("robot")),
        "/staff/0/kind",
        "unknown variant `robot`, expected `person` or `resource`",
    );
    assert_error(
        with(full(), "/compliance/redaction/kinds/2", json!("iban")),
        "/compliance/redaction/kinds/2",
        "unknown variant `iban`",
    );
    assert_error(
        with(full(), "/hours", json!("9 to 5")),
        "/hours",
        "expected an object with weekday keys (monday ... sunday)",
    );
    assert_error(
        with(full(), "/persona/languages/0", json!(1)),
        "/persona/languages/0",
        "invalid type: integer `1`, expected a string",
    );
}

#[test]
fn type_errors_in_several_sections_are_all_reported() {
    let doc = with(full(), "/hours/tuesday/0/open", json!(9));
    let doc = with(doc, "/services/0/staff_ids", json!("dr-lee"));
    let doc = with(doc, "/sms/follow_ups_enabled", json!("yes"));
    let errors = errors(doc);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_has(
        &errors,
        "/hours/tuesday/0/open",
        "invalid type: integer `9`",
    );
    assert_has(
        &errors,
        "/services/0/staff_ids",
        "invalid type: string \"dr-lee\"",
    );
    assert_has(&errors, "/sms/follow_ups_enabled", "expected a boolean");
}

#[test]
fn a_section_with_a_type_error_does_not_hide_other_sections() {
    let doc = with(full(), "/staff/0/name", json!(7));
    let doc = with(doc, "/faqs/0/answer", json!(" "));
    let doc = with(
        doc,
        "/staff/3",
        json!({"id": "x", "name": "x", "nickname": "x"}),
    );
    let errors = errors(doc);
    // The service staff references can't be checked while `staff` is unreadable, so the
    // references to "dr-lee" are not reported as unknown.
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_has(
        &errors,
        "/staff/0/name",
        "invalid type: integer `7`, expected a string",
    );
    assert_has(&errors, "/faqs/0/answer", "`answer` must not be empty");
}

#[test]
fn cross_section_rules_are_skipped_when_the_other_section_is_unreadable() {
    let doc = with(full(), "/compliance/recording_consent", json!("yes"));
    let doc = with(doc, "/persona/consent_message", json!(""));
    assert_error(doc, "/compliance/recording_consent", "expected a boolean");
}

// --- Profile ---

#[test]
fn profile_name_must_be_present_and_short() {
    assert_error(
        with(full(), "/profile/name", json!("   ")),
        "/profile/name",
        "`name` must not be empty",
    );
    assert_error(
        with(full(), "/profile/name", json!("é".repeat(201))),
        "/profile/name",
        "`name` is 201 characters long; shorten it to at most 200",
    );
    assert_valid(with(full(), "/profile/name", json!("é".repeat(200))));
}

#[test]
fn time_zone_must_be_an_iana_name() {
    assert_error(
        with(full(), "/profile/time_zone", json!("America/NewYork")),
        "/profile/time_zone",
        "unknown time zone \"America/NewYork\"; use an IANA name such as \"America/New_York\"",
    );
    assert_error(
        with(full(), "/profile/time_zone", json!("EDT")),
        "/profile/time_zone",
        "unknown time zone \"EDT\"",
    );
    let config = assert_valid(with(full(), "/profile/time_zone", json!("Europe/Berlin")));
    assert_eq!(config.profile.time_zone.name(), "Europe/Berlin");
}

#[test]
fn locations_need_unique_slug_ids_and_an_address() {
    assert_error(
        with(full(), "/profile/locations/1/id", json!("main")),
        "/profile/locations/1/id",
        "location id \"main\" is already used",
    );
    assert_error(
        with(full(), "/profile/locations/0/id", json!("Main Office")),
        "/profile/locations/0/id",
        "\"Main Office\" is not a valid location id; use 1 to 64 lowercase letters",
    );
    assert_error(
        with(full(), "/profile/locations/1/address", json!("")),
        "/profile/locations/1/address",
        "`address` must not be empty",
    );
}

#[test]
fn website_must_be_an_http_url() {
    for bad in [
        "smiledental.example",
        "https://",
        "ftp://x.example",
        "https://a b.example",
    ] {
        assert_error(
            with(full(), "/profile/website", json!(bad)),
            "/profile/website",
            "use a full http(s) URL",
        );
    }
    assert_valid(with(
        full(),
        "/profile/website",
        json!("http://smile.example/x?y=1"),
    ));
}

// --- Hours ---

#[test]
fn overlapping_ranges_name_the_other_range() {
    let doc = with(
        full(),
        "/hours/monday",
        json!([{"open": "09:00", "close": "13:30"}, {"open": "13:00", "close": "14:00"}]),
    );
    assert_error(
        doc,
        "/hours/monday/1",
        "13:00–14:00 overlaps 09:00–13:30 on monday",
    );
}

#[test]
fn overlap_is_detected_regardless_of_order_and_against_every_earlier_range() {
    let doc = with(
        full(),
        "/hours/thursday",
        json!([
            {"open": "13:00", "close": "17:00"},
            {"open": "08:00", "close": "10:00"},
            {"open": "09:30", "close": "14:00"},
            {"open": "10:00", "close": "11:00"}
        ]),
    );
    let errors = errors(doc);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0].pointer, "/hours/thursday/2");
    assert!(
        errors[0]
            .detail
            .starts_with("09:30–14:00 overlaps 13:00–17:00 on thursday")
    );
    assert_eq!(errors[1].pointer, "/hours/thursday/3");
    assert!(
        errors[1]
            .detail
            .starts_with("10:00–11:00 overlaps 09:30–14:00 on thursday")
    );
}

#[test]
fn touching_ranges_and_end_of_day_are_fine() {
    let doc = with(
        full(),
        "/hours/sunday",
        json!([
            {"open": "12:00", "close": "24:00"},
            {"open": "00:00", "close": "06:00"},
            {"open": "06:00", "close": "12:00"}
        ]),
    );
    assert_valid(doc);
}

#[test]
fn ranges_must_close_after_they_open() {
    assert_error(
        with(
            full(),
            "/hours/tuesday/0",
            json!({"open": "09:00", "close": "09:00"}),
        ),
        "/hours/tuesday/0/close",
        "09:00–09:00 is empty; the closing time must be after the opening time",
    );
    assert_error(
        with(
            full(),
            "/hours/tuesday/0",
            json!({"open": "18:00", "close": "00:00"}),
        ),
        "/hours/tuesday/0/close",
        "18:00–00:00 ends at midnight, which is written \"24:00\"; use 18:00–24:00",
    );
}

#[test]
fn overnight_ranges_are_rejected_with_a_split_hint() {
    assert_error(
        with(
            full(),
            "/hours/sunday/0",
            json!({"open": "22:00", "close": "02:00"}),
        ),
        "/hours/sunday/0/close",
        "22:00–02:00 closes before it opens; a range can't run past midnight, so split it \
         into 22:00–24:00 on sunday and 00:00–02:00 on monday",
    );
}

#[test]
fn staff_hours_follow_the_same_rules() {
    let doc = with(
        full(),
        "/staff/0/hours",
        json!({"tuesday": [{"open": "09:00", "close": "12:00"}, {"open": "11:00", "close": "12:00"}],
               "friday": [{"open": "17:00", "close": "08:00"}]}),
    );
    let errors = errors(doc);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_has(
        &errors,
        "/staff/0/hours/tuesday/1",
        "11:00–12:00 overlaps 09:00–12:00 on tuesday",
    );
    assert_has(
        &errors,
        "/staff/0/hours/friday/0/close",
        "17:00–24:00 on friday and 00:00–08:00 on saturday",
    );
}

// --- Closures ---

#[test]
fn closure_end_date_must_not_be_before_date() {
    assert_error(
        with(full(), "/closures/2/end_date", json!("2027-08-01")),
        "/closures/2/end_date",
        "end_date 2027-08-01 is before date 2027-08-02",
    );
    assert_valid(with(full(), "/closures/2/end_date", json!("2027-08-02")));
}

#[test]
fn partial_closures_need_from_and_to_in_order() {
    assert_error(
        with(full(), "/closures/1/to", Value::Null),
        "/closures/1/to",
        "`to` is missing; a partial-day closure needs both `from` and `to`",
    );
    assert_error(
        without(full(), "/closures/1/from"),
        "/closures/1/from",
        "`from` is missing",
    );
    assert_error(
        with(full(), "/closures/1/to", json!("12:00")),
        "/closures/1/to",
        "`to` (12:00) must be after `from` (12:00)",
    );
    assert_valid(with(full(), "/closures/1/to", json!("24:00")));
}

#[test]
fn partial_closures_cover_a_single_day() {
    assert_error(
        with(full(), "/closures/1/end_date", json!("2026-12-26")),
        "/closures/1/end_date",
        "a closure with `from` and `to` covers part of a single day",
    );
}

// --- Services and staff ---

#[test]
fn service_ids_are_unique_slugs() {
    assert_error(
        with(full(), "/services/1/id", json!("cleaning")),
        "/services/1/id",
        "service id \"cleaning\" is already used; each service needs its own id",
    );
    assert_error(
        with(full(), "/services/1/id", json!("Teeth Whitening")),
        "/services/1/id",
        "\"Teeth Whitening\" is not a valid service id",
    );
    assert_error(
        with(full(), "/services/1/id", json!("a".repeat(65))),
        "/services/1/id",
        "is not a valid service id",
    );
}

#[test]
fn service_duration_is_between_5_and_720_minutes() {
    for (minutes, valid) in [(4, false), (5, true), (720, true), (721, false)] {
        let doc = with(full(), "/services/0/duration_minutes", json!(minutes));
        if valid {
            assert_valid(doc);
        } else {
            assert_error(
                doc,
                "/services/0/duration_minutes",
                &format!("`duration_minutes` must be between 5 and 720 minutes; got {minutes}"),
            );
        }
    }
}

#[test]
fn buffers_longer_than_a_day_are_rejected() {
    assert_valid(with(
        full(),
        "/services/0/buffer_before_minutes",
        json!(1440),
    ));
    assert_error(
        with(full(), "/services/0/buffer_after_minutes", json!(1441)),
        "/services/0/buffer_after_minutes",
        "`buffer_after_minutes` is 1441 minutes, longer than a day; a buffer can be at most \
         1440 minutes (24 hours)",
    );
}

#[test]
fn service_staff_must_exist() {
    assert_error(
        with(full(), "/services/0/staff_ids/1", json!("hygienist-kym")),
        "/services/0/staff_ids/1",
        "no staff member has id \"hygienist-kym\"; use one of the ids in `staff`: \"dr-lee\", \
         \"hygienist-kim\", \"chair-1\"",
    );
    assert_error(
        with(full(), "/services/0/staff_ids/1", json!("dr-lee")),
        "/services/0/staff_ids/1",
        "\"dr-lee\" is listed twice",
    );
    let doc = with(full(), "/staff", json!([]));
    let errors = errors(doc);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_has(
        &errors,
        "/services/0/staff_ids/0",
        "add them to `staff` first, or leave `staff_ids` empty",
    );
}

#[test]
fn staff_ids_are_unique_slugs_and_names_present() {
    let doc = with(full(), "/staff/2/id", json!("dr-lee"));
    let doc = with(doc, "/staff/1/name", json!(""));
    let errors = errors(doc);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_has(
        &errors,
        "/staff/2/id",
        "staff id \"dr-lee\" is already used",
    );
    assert_has(&errors, "/staff/1/name", "`name` must not be empty");
    assert_error(
        with(full(), "/staff/2/id", json!("_chair")),
        "/staff/2/id",
        "is not a valid staff id",
    );
}

// --- Booking rules ---

#[test]
fn booking_rule_limits() {
    let cases = [
        ("min_notice_minutes", 0, 43_200, "minutes (30 days)"),
        ("horizon_days", 1, 730, "days"),
        ("slot_interval_minutes", 5, 240, "minutes"),
        ("cancellation_window_hours", 0, 720, "hours"),
    ];
    for (field, min, max, unit) in cases {
        let pointer = format!("/booking_rules/{field}");
        assert_valid(with(full(), &pointer, json!(min)));
        assert_valid(with(full(), &pointer, json!(max)));
        let too_big = max + 1;
        assert_error(
            with(full(), &pointer, json!(too_big)),
            &pointer,
            &format!("`{field}` must be between {min} and {max} {unit}; got {too_big}"),
        );
        if min > 0 {
            assert_error(
                with(full(), &pointer, json!(min - 1)),
                &pointer,
                "must be between",
            );
        }
    }
}

#[test]
fn caps_must_be_positive_when_set() {
    for field in ["daily_cap", "staff_daily_cap"] {
        let pointer = format!("/booking_rules/{field}");
        assert_error(
            with(full(), &pointer, json!(0)),
            &pointer,
            &format!("`{field}` must be at least 1; use null for no limit"),
        );
        assert_valid(with(full(), &pointer, json!(1)));
        assert_valid(with(full(), &pointer, Value::Null));
    }
}

// --- Persona and FAQs ---

#[test]
fn greeting_is_a_short_template_with_known_variables() {
    assert_error(
        with(full(), "/persona/greeting", json!("")),
        "/persona/greeting",
        "the greeting must not be empty",
    );
    assert_error(
        with(full(), "/persona/greeting", json!("x".repeat(501))),
        "/persona/greeting",
        "the greeting is 501 characters long; shorten it to at most 500",
    );
    assert_error(
        with(
            full(),
            "/persona/greeting",
            json!("Hi {{caller_name}}, {{service}} today?"),
        ),
        "/persona/greeting",
        "unknown variable `{{service}}` in the greeting; allowed variables: business_name, \
         caller_name",
    );
    assert_error(
        with(
            full(),
            "/persona/greeting",
            json!("Welcome to {{business_name}"),
        ),
        "/persona/greeting",
        "invalid template: `{{` at position 12 is never closed with `}}`",
    );
    assert_valid(with(
        full(),
        "/persona/greeting",
        json!("Hi {{ caller_name }}!"),
    ));
}

#[test]
fn languages_are_unique_bcp47_tags() {
    assert_error(
        with(full(), "/persona/languages", json!([])),
        "/persona/languages",
        "add at least one language, such as [\"en-US\"]",
    );
    assert_error(
        with(full(), "/persona/languages/1", json!("english")),
        "/persona/languages/1",
        "\"english\" is not a valid language tag; use a BCP 47 tag such as \"en\", \"en-US\" or \
         \"es-419\"",
    );
    assert_error(
        with(full(), "/persona/languages/1", json!("en-US")),
        "/persona/languages/1",
        "\"en-US\" is listed twice",
    );
    assert_valid(with(
        full(),
        "/persona/languages",
        json!(["fr", "zh-Hans-CN", "es-419"]),
    ));
}

#[test]
fn persona_texts_have_limits() {
    assert_error(
        with(full(), "/persona/escalation_message", json!("")),
        "/persona/escalation_message",
        "`escalation_message` must not be empty",
    );
    assert_error(
        with(full(), "/persona/tone", json!("t".repeat(201))),
        "/persona/tone",
        "`tone` is 201 characters long",
    );
}

#[test]
fn faqs_need_question_and_answer_within_limits() {
    assert_error(
        with(full(), "/faqs/1/question", json!("")),
        "/faqs/1/question",
        "`question` must not be empty",
    );
    assert_error(
        with(full(), "/faqs/0/answer", json!("a".repeat(4001))),
        "/faqs/0/answer",
        "`answer` is 4001 characters long; shorten it to at most 4000",
    );
    assert_valid(with(full(), "/faqs/0/question", json!("q".repeat(1000))));
    assert_error(
        with(full(), "/faqs/0/question", json!("q".repeat(1001))),
        "/faqs/0/question",
        "shorten it to at most 1000",
    );
}

#[test]
fn at_most_200_faqs() {
    let faq = json!({"question": "Q?", "answer": "A."});
    assert_valid(with(full(), "/faqs", json!(vec![faq.clone(); 200])));
    assert_error(
        with(full(), "/faqs", json!(vec![faq; 201])),
        "/faqs",
        "there are 201 FAQs; at most 200 are allowed",
    );
}

// --- Telephony ---

#[test]
fn phone_numbers_must_be_valid_e164() {
    assert_error(
        with(full(), "/telephony/numbers/0", json!("+1555")),
        "/telephony/numbers/0",
        "\"+1555\" is not a valid E.164 phone number (example: +14155550123)",
    );
    for (pointer, number) in [
        ("/telephony/numbers/1", "(212) 555-0101"),
        ("/telephony/escalation_number", "+1 212 555 0199"),
        ("/sms/sender", "+15555550100"),
    ] {
        assert_error(
            with(full(), pointer, json!(number)),
            pointer,
            &format!("\"{number}\" is not a valid E.164 phone number"),
        );
    }
}

#[test]
fn business_numbers_are_unique_and_at_most_20() {
    assert_error(
        with(full(), "/telephony/numbers/1", json!("+12125550100")),
        "/telephony/numbers/1",
        "\"+12125550100\" is listed twice; remove the duplicate",
    );
    let numbers = |count: usize| -> Vec<String> {
        (0..count)
            .map(|i| format!("+1212555{:04}", 1000 + i))
            .collect()
    };
    assert_valid(with(full(), "/telephony/numbers", json!(numbers(20))));
    assert_error(
        with(full(), "/telephony/numbers", json!(numbers(21))),
        "/telephony/numbers",
        "there are 21 numbers; at most 20 are allowed",
    );
}

#[test]
fn ring_staff_first_needs_an_escalation_number() {
    assert_error(
        with(full(), "/telephony/escalation_number", Value::Null),
        "/telephony/escalation_number",
        "after_hours_policy \"ring_staff_first\" needs an escalation_number",
    );
    let doc = with(full(), "/telephony/escalation_number", Value::Null);
    assert_valid(with(
        doc,
        "/telephony/after_hours_policy",
        json!("voicemail_only"),
    ));
}

#[test]
fn escalation_number_is_not_a_business_number() {
    assert_error(
        with(
            full(),
            "/telephony/escalation_number",
            json!("+12125550101"),
        ),
        "/telephony/escalation_number",
        "is one of the business's own numbers",
    );
}

#[test]
fn ring_staff_seconds_between_5_and_60() {
    for (seconds, valid) in [(4, false), (5, true), (60, true), (61, false)] {
        let doc = with(full(), "/telephony/ring_staff_seconds", json!(seconds));
        if valid {
            assert_valid(doc);
        } else {
            assert_error(
                doc,
                "/telephony/ring_staff_seconds",
                &format!("`ring_staff_seconds` must be between 5 and 60 seconds; got {seconds}"),
            );
        }
    }
}

// --- SMS ---

#[test]
fn sender_and_messaging_service_are_exclusive() {
    let sid = format!("MG{}", "a1".repeat(16));
    assert_error(
        with(full(), "/sms/messaging_service_sid", json!(sid)),
        "/sms/messaging_service_sid",
        "set either `sender` or `messaging_service_sid`, not both",
    );
    let doc = with(full(), "/sms/sender", Value::Null);
    assert_valid(with(doc.clone(), "/sms/messaging_service_sid", json!(sid)));
    assert_error(
        with(doc, "/sms/messaging_service_sid", json!("MG123")),
        "/sms/messaging_service_sid",
        "\"MG123\" is not a Twilio Messaging Service SID",
    );
}

#[test]
fn templates_use_only_the_variables_of_their_kind() {
    assert_error(
        with(
            full(),
            "/sms/templates/info_recap",
            json!("{{summary}} for your {{service}}"),
        ),
        "/sms/templates/info_recap",
        "unknown variable `{{service}}` in the info_recap template; allowed variables: \
         business_name, business_phone, customer_name, summary",
    );
    assert_error(
        with(
            full(),
            "/sms/templates/booking_cancelled",
            json!("Cancelled: {{summary}}"),
        ),
        "/sms/templates/booking_cancelled",
        "allowed variables: business_name, business_phone, customer_name, service, date, time, \
         staff, booking_id, location",
    );
    assert_valid(with(
        full(),
        "/sms/templates/reminder",
        json!(
            "{{business_name}} {{business_phone}} {{customer_name}} {{service}} {{date}} \
               {{time}} {{staff}} {{booking_id}} {{location}}"
        ),
    ));
}

#[test]
fn templates_must_parse_and_fit() {
    assert_error(
        with(full(), "/sms/templates/follow_up", json!("Hi {{ }}")),
        "/sms/templates/follow_up",
        "invalid template: `{{}}` at position 4 has no variable name",
    );
    assert_error(
        with(full(), "/sms/templates/follow_up", json!("x".repeat(1001))),
        "/sms/templates/follow_up",
        "the follow_up template is 1001 characters long; shorten it to at most 1000",
    );
    assert_error(
        with(full(), "/sms/templates/voicemail_recap", json!(" ")),
        "/sms/templates/voicemail_recap",
        "the voicemail_recap template must not be empty",
    );
}

#[test]
fn quiet_hours_start_and_end_differ() {
    assert_error(
        with(full(), "/sms/quiet_hours/end", json!("21:00")),
        "/sms/quiet_hours/end",
        "quiet hours start and end at the same time of day (21:00)",
    );
    let doc = with(
        full(),
        "/sms/quiet_hours",
        json!({"start": "00:00", "end": "24:00"}),
    );
    assert_error(doc, "/sms/quiet_hours/end", "the same time of day (00:00)");
    assert_valid(with(
        full(),
        "/sms/quiet_hours",
        json!({"start": "20:00", "end": "24:00"}),
    ));
    assert_valid(with(full(), "/sms/quiet_hours", Value::Null));
}

// --- Compliance ---

#[test]
fn recording_consent_requires_a_consent_message() {
    assert_error(
        with(full(), "/persona/consent_message", json!(" ")),
        "/persona/consent_message",
        "`consent_message` must not be empty while compliance.recording_consent is true",
    );
    let doc = with(full(), "/persona/consent_message", json!(""));
    assert_valid(with(doc, "/compliance/recording_consent", json!(false)));
}

#[test]
fn retention_between_1_and_3650_days() {
    for field in ["call_records_days", "transcripts_days", "recordings_days"] {
        let pointer = format!("/compliance/retention/{field}");
        assert_valid(with(full(), &pointer, json!(1)));
        assert_valid(with(full(), &pointer, json!(3650)));
        for days in [0, 3651] {
            assert_error(
                with(full(), &pointer, json!(days)),
                &pointer,
                &format!("`{field}` must be between 1 and 3650 days (10 years); got {days}"),
            );
        }
    }
}

#[test]
fn redaction_kinds_are_unique() {
    assert_error(
        with(full(), "/compliance/redaction/kinds/2", json!("ssn")),
        "/compliance/redaction/kinds/2",
        "\"ssn\" is listed twice",
    );
}

// --- Properties ---

const FIELD_NAMES: &[&str] = &[
    "profile",
    "name",
    "time_zone",
    "hours",
    "monday",
    "open",
    "close",
    "closures",
    "date",
    "end_date",
    "from",
    "to",
    "services",
    "id",
    "duration_minutes",
    "staff_ids",
    "staff",
    "kind",
    "booking_rules",
    "horizon_days",
    "persona",
    "greeting",
    "languages",
    "faqs",
    "telephony",
    "numbers",
    "mode",
    "sms",
    "templates",
    "reminder",
    "quiet_hours",
    "start",
    "end",
    "compliance",
    "redaction",
    "kinds",
    "retention",
];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "09:00",
            "24:00",
            "2026-12-25",
            "America/New_York",
            "+12125550100",
            "{{x",
            "en-US",
            "",
            "dr-lee",
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        let key = prop_oneof![
            prop::sample::select(FIELD_NAMES).prop_map(str::to_owned),
            "[a-z_/~]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Non-overlapping ranges (some touching) in random order, as JSON.
fn valid_day() -> impl Strategy<Value = Vec<Value>> {
    let clock = |minute: u32| format!("{:02}:{:02}", minute / 60, minute % 60);
    prop::collection::btree_set(0u32..=1440, 0..10)
        .prop_flat_map(|points| {
            let points: Vec<u32> = points.into_iter().collect();
            let windows = points.len().saturating_sub(1);
            (Just(points), prop::collection::vec(any::<bool>(), windows))
        })
        .prop_map(move |(points, keep)| {
            points
                .windows(2)
                .zip(keep)
                .filter(|(_, keep)| *keep)
                .map(|(pair, _)| json!({"open": clock(pair[0]), "close": clock(pair[1])}))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

proptest! {
    #[test]
    fn parsing_never_panics(value in arbitrary_json()) {
        let _ = parse_business_config(value);
    }

    #[test]
    fn parsing_never_panics_on_a_mangled_full_document(
        section in prop::sample::select(&[
            "profile", "hours", "closures", "services", "staff", "booking_rules", "persona",
            "faqs", "telephony", "sms", "compliance",
        ][..]),
        value in arbitrary_json(),
    ) {
        let doc = with(full(), &format!("/{section}"), value);
        if let Err(errors) = parse_business_config(doc) {
            prop_assert!(!errors.is_empty());
            for error in errors {
                prop_assert!(error.pointer.is_empty() || error.pointer.starts_with('/'));
                prop_assert!(!error.detail.is_empty());
            }
        }
    }

    #[test]
    fn non_overlapping_hours_are_accepted(
        monday in valid_day(),
        saturday in valid_day(),
        staff_friday in valid_day(),
    ) {
        let doc = with(full(), "/hours", json!({"monday": monday, "saturday": saturday}));
        let doc = with(doc, "/staff/0/hours", json!({"friday": staff_friday}));
        let config = parse_business_config(doc);
        prop_assert!(config.is_ok(), "{config:?}");
    }

    #[test]
    fn a_repeated_range_is_reported_as_overlapping(
        day in valid_day().prop_filter("needs a range", |day| !day.is_empty()),
        pick in any::<prop::sample::Index>(),
    ) {
        let mut day = day;
        let repeated = pick.get(&day).clone();
        day.push(repeated);
        let last = day.len() - 1;
        let errors = parse_business_config(with(full(), "/hours/wednesday", json!(day)))
            .expect_err("overlap");
        prop_assert_eq!(errors.len(), 1);
        prop_assert_eq!(&errors[0].pointer, &format!("/hours/wednesday/{last}"));
        prop_assert!(errors[0].detail.contains(" overlaps "));
    }
}

#[test]
fn register_call_mode_needs_a_valid_agent_id() {
    let doc = with(full(), "/telephony/mode", json!("register_call"));
    assert_error(
        with(doc.clone(), "/telephony/agent_id", Value::Null),
        "/telephony/agent_id",
        "mode \"register_call\" needs the ElevenLabs agent_id",
    );
    assert_valid(with(
        doc.clone(),
        "/telephony/agent_id",
        json!("agent_01jexample"),
    ));
    assert_valid(with(
        doc.clone(),
        "/telephony/agent_id",
        json!("J3Pbu5gP6NNKBscdCdwB"),
    ));
    for bad in ["", "agent 1", "agent/../x", &"a".repeat(65)] {
        assert_error(
            with(doc.clone(), "/telephony/agent_id", json!(bad)),
            "/telephony/agent_id",
            "is not an ElevenLabs agent id",
        );
    }
    // Native numbers are assigned to their agent in ElevenLabs: no id needed.
    assert_valid(with(full(), "/telephony/agent_id", Value::Null));
}

#[test]
fn transfer_rules_are_checked() {
    let doc = with(
        full(),
        "/telephony/transfers",
        serde_json::json!([
            {"number": "+12125550100", "condition": "loops"},
            {"number": "555-0100", "condition": "not e164"},
            {"number": "+12125550142", "condition": "  "},
            {"number": "+12125550143", "condition": "first"},
            {"number": "+12125550143", "condition": "twice"},
            {"number": "+12125550144", "condition": "x", "transfer_type": "teleport"},
        ]),
    );
    let errors = parse_business_config(doc).unwrap_err();
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert!(
        pointers
            .iter()
            .any(|p| p.starts_with("/telephony/transfers/5")),
        "{errors:?}"
    );
    let doc = with(
        full(),
        "/telephony/transfers",
        serde_json::json!([
            {"number": "+12125550100", "condition": "loops"},
            {"number": "555-0100", "condition": "not e164"},
            {"number": "+12125550142", "condition": "  "},
            {"number": "+12125550143", "condition": "first"},
            {"number": "+12125550143", "condition": "twice"},
        ]),
    );
    let errors = parse_business_config(doc).unwrap_err();
    let found: Vec<(String, String)> = errors
        .iter()
        .map(|e| (e.pointer.clone(), e.detail.clone()))
        .collect();
    for (pointer, words) in [
        ("/telephony/transfers/0/number", "loop back"),
        ("/telephony/transfers/1/number", "E.164"),
        ("/telephony/transfers/2/condition", "must not be empty"),
        ("/telephony/transfers/4/number", "two rules"),
    ] {
        assert!(
            found.iter().any(|(p, d)| p == pointer && d.contains(words)),
            "{pointer}: {words} not in {found:?}"
        );
    }
    assert_eq!(found.len(), 4, "{found:?}");
}
