use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::config::{BusinessConfig, EndTime, MessageKind, QuietHours};
use crate::speak::Language;
use crate::template::TemplateError;

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

fn time(text: &str) -> NaiveTime {
    NaiveTime::parse_from_str(text, "%H:%M").expect("a time")
}

fn quiet(start: &str, end: &str) -> QuietHours {
    QuietHours {
        start: time(start),
        end: if end == "24:00" {
            EndTime::EndOfDay
        } else {
            EndTime::At(time(end))
        },
    }
}

const NEW_YORK: Tz = chrono_tz::America::New_York;

fn config(sms: Value, languages: &[&str]) -> BusinessConfig {
    serde_json::from_value(json!({
        "profile": {"name": "Smile Dental", "time_zone": "America/New_York"},
        "persona": {"languages": languages},
        "sms": sms,
    }))
    .expect("a config document")
}

fn with_template(kind: MessageKind, template: &str) -> BusinessConfig {
    config(json!({"templates": {kind.key(): template}}), &["en-US"])
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn booking_vars() -> BTreeMap<String, String> {
    vars(&[
        ("business_name", "Smile Dental"),
        ("business_phone", "+1 617-555-0100"),
        ("customer_name", "Ana"),
        ("service", "Cleaning"),
        ("date", "Tuesday, December 8"),
        ("time", "9:30 AM"),
        ("staff", "Dr. Lee"),
        ("booking_id", "B-1042"),
        ("location", "Main St"),
    ])
}

/// Renders a custom template of the info recap kind (variables: business_name,
/// business_phone, customer_name, summary).
fn recap(template: &str, pairs: &[(&str, &str)]) -> Result<Rendered, SmsError> {
    render(
        &with_template(MessageKind::InfoRecap, template),
        MessageKind::InfoRecap,
        &vars(pairs),
    )
}

fn body(template: &str, pairs: &[(&str, &str)]) -> String {
    recap(template, pairs).expect("a rendered text").body
}

const EN_FOOTER: &str = "\nReply STOP to opt out.";

fn seg(encoding: Encoding, units: usize, segments: usize) -> Segments {
    Segments {
        encoding,
        units,
        segments,
    }
}

// --- Encoding and segments ---

/// The GSM 03.38 default alphabet as Unicode code points (3GPP TS 23.038 table 6.2.1,
/// without the escape at 0x1B).
fn gsm_basic_reference() -> Vec<char> {
    let mut points: Vec<u32> = vec![
        0x40, 0xA3, 0x24, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0x0A, 0xD8, 0xF8, 0x0D, 0xC5,
        0xE5, 0x394, 0x5F, 0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0xC6,
        0xE6, 0xDF, 0xC9, 0xA4, 0xA1, 0xC4, 0xD6, 0xD1, 0xDC, 0xA7, 0xBF, 0xE4, 0xF6, 0xF1, 0xFC,
        0xE0,
    ];
    points.extend(0x20..=0x23);
    points.extend(0x25..=0x3F);
    points.extend(0x41..=0x5A);
    points.extend(0x61..=0x7A);
    points.into_iter().filter_map(char::from_u32).collect()
}

/// The extension table (escape + character): form feed, `^ { } \ [ ~ ] | €`.
fn gsm_extension_reference() -> Vec<char> {
    [0x0C, 0x5E, 0x7B, 0x7D, 0x5C, 0x5B, 0x7E, 0x5D, 0x7C, 0x20AC]
        .into_iter()
        .filter_map(char::from_u32)
        .collect()
}

#[test]
fn the_alphabet_matches_the_gsm_03_38_tables() {
    let basic = gsm_basic_reference();
    let extension = gsm_extension_reference();
    assert_eq!(basic.len(), 127);
    assert_eq!(extension.len(), 10);
    for point in 0..=0x2FFFu32 {
        let Some(c) = char::from_u32(point) else {
            continue;
        };
        let expected = if basic.contains(&c) {
            Some(1)
        } else if extension.contains(&c) {
            Some(2)
        } else {
            None
        };
        assert_eq!(gsm7_septets(c), expected, "U+{point:04X} {c:?}");
    }
    assert_eq!(gsm7_septets('😀'), None);
}

#[test]
fn look_alikes_outside_the_alphabet_switch_to_ucs2() {
    for text in [
        "ç", "á", "í", "ó", "ú", "\t", "`", "\u{1B}", "’", "“", "…", "\u{A0}",
    ] {
        let counted = segments(&format!("Hello {text}"));
        assert_eq!(counted.encoding, Encoding::Ucs2, "{text:?}");
        assert_eq!(counted.units, 7, "{text:?}");
    }
    for text in ["Ç", "é", "ñ", "ß", "Δ", "€", "\r\n"] {
        assert_eq!(
            segments(&format!("Hello {text}")).encoding,
            Encoding::Gsm7,
            "{text:?}"
        );
    }
}

#[test]
fn empty_text_is_one_segment_of_nothing() {
    assert_eq!(segments(""), seg(Encoding::Gsm7, 0, 1));
}

#[test]
fn extension_characters_take_two_septets() {
    assert_eq!(segments("Hello {}"), seg(Encoding::Gsm7, 10, 1));
    // € 5 and the space: 2 + 1 + 1; six bracket-like characters: 12; form feed: 2.
    assert_eq!(segments("€5 ^~|\\[]\u{0C}"), seg(Encoding::Gsm7, 18, 1));
}

#[test]
fn gsm7_single_message_holds_160_septets() {
    let a = |n: usize| "a".repeat(n);
    assert_eq!(segments(&a(160)), seg(Encoding::Gsm7, 160, 1));
    assert_eq!(segments(&a(161)), seg(Encoding::Gsm7, 161, 2));
    assert_eq!(
        segments(&format!("{}€", a(158))),
        seg(Encoding::Gsm7, 160, 1)
    );
    assert_eq!(
        segments(&format!("{}€", a(159))),
        seg(Encoding::Gsm7, 161, 2)
    );
}

#[test]
fn gsm7_concatenated_parts_hold_153_septets() {
    let a = |n: usize| "a".repeat(n);
    assert_eq!(segments(&a(306)), seg(Encoding::Gsm7, 306, 2));
    assert_eq!(segments(&a(307)), seg(Encoding::Gsm7, 307, 3));
    assert_eq!(segments(&a(459)), seg(Encoding::Gsm7, 459, 3));
    assert_eq!(segments(&a(1530)), seg(Encoding::Gsm7, 1530, 10));
}

#[test]
fn an_escape_pair_is_never_split_between_parts() {
    let a = |n: usize| "a".repeat(n);
    // 152 + 2 + 152 = 306 septets would fit 2 × 153, but `€` can't start at septet 153.
    assert_eq!(
        segments(&format!("{}€{}", a(152), a(152))),
        seg(Encoding::Gsm7, 306, 3)
    );
    // Ending exactly on the boundary is fine.
    assert_eq!(
        segments(&format!("{}€{}", a(151), a(153))),
        seg(Encoding::Gsm7, 306, 2)
    );
}

#[test]
fn ucs2_single_message_holds_70_units() {
    let a = |n: usize| "a".repeat(n);
    assert_eq!(segments(&format!("{}á", a(69))), seg(Encoding::Ucs2, 70, 1));
    assert_eq!(segments(&format!("{}á", a(70))), seg(Encoding::Ucs2, 71, 2));
    assert_eq!(segments(&"á".repeat(70)), seg(Encoding::Ucs2, 70, 1));
}

#[test]
fn ucs2_concatenated_parts_hold_67_units() {
    assert_eq!(segments(&"á".repeat(134)), seg(Encoding::Ucs2, 134, 2));
    assert_eq!(segments(&"á".repeat(135)), seg(Encoding::Ucs2, 135, 3));
}

#[test]
fn emoji_count_two_units_and_are_never_split() {
    let a = |n: usize| "a".repeat(n);
    // Twilio's sample response: "Hello! 👍" is one segment.
    assert_eq!(segments("Hello! 👍"), seg(Encoding::Ucs2, 9, 1));
    assert_eq!(
        segments(&format!("{}😀", a(68))),
        seg(Encoding::Ucs2, 70, 1)
    );
    assert_eq!(
        segments(&format!("{}😀", a(69))),
        seg(Encoding::Ucs2, 71, 2)
    );
    // 66 + 2 + 66 = 134 units would fit 2 × 67, but the pair can't start at unit 67.
    assert_eq!(
        segments(&format!("{}😀{}", a(66), a(66))),
        seg(Encoding::Ucs2, 134, 3)
    );
    assert_eq!(
        segments(&format!("{}😀{}", a(65), a(67))),
        seg(Encoding::Ucs2, 134, 2)
    );
}

#[test]
fn in_ucs2_extension_characters_are_one_unit() {
    assert_eq!(segments("{á}"), seg(Encoding::Ucs2, 3, 1));
}

/// A reference splitter: encodes the text into code units (GSM-7 escape pairs, UTF-16),
/// cuts after every `part` units and moves a cut that would split a pair one unit back.
fn reference_segments(text: &str) -> Segments {
    let basic = gsm_basic_reference();
    let extension = gsm_extension_reference();
    let gsm = text
        .chars()
        .all(|c| basic.contains(&c) || extension.contains(&c));
    // (unit, whether a cut may fall right before it)
    let mut units: Vec<bool> = Vec::new();
    for c in text.chars() {
        let width = if gsm {
            if extension.contains(&c) { 2 } else { 1 }
        } else {
            let mut buf = [0u16; 2];
            c.encode_utf16(&mut buf).len()
        };
        units.push(true);
        units.extend(std::iter::repeat_n(false, width - 1));
    }
    let (encoding, single, part) = if gsm {
        (Encoding::Gsm7, 160, 153)
    } else {
        (Encoding::Ucs2, 70, 67)
    };
    if units.len() <= single {
        return seg(encoding, units.len(), 1);
    }
    let mut parts = 0;
    let mut start = 0;
    while start < units.len() {
        let mut cut = (start + part).min(units.len());
        if cut < units.len() && !units[cut] {
            cut -= 1;
        }
        parts += 1;
        start = cut;
    }
    seg(encoding, units.len(), parts)
}

fn gsm_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::sample::select(gsm_basic_reference()),
        2 => prop::sample::select(gsm_extension_reference()),
    ]
}

fn any_sms_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => gsm_char(),
        2 => prop::sample::select(vec!['á', 'ç', 'ł', '中', '’', '\t']),
        2 => prop::sample::select(vec!['😀', '👍', '🦷', '\u{1F1FA}']),
    ]
}

proptest! {
    #[test]
    fn gsm_segment_counts_match_the_reference_splitter(
        chars in prop::collection::vec(gsm_char(), 0..700)
    ) {
        let text: String = chars.into_iter().collect();
        prop_assert_eq!(segments(&text), reference_segments(&text));
    }

    #[test]
    fn mixed_segment_counts_match_the_reference_splitter(
        chars in prop::collection::vec(any_sms_char(), 0..400)
    ) {
        let text: String = chars.into_iter().collect();
        prop_assert_eq!(segments(&text), reference_segments(&text));
    }
}

// --- Rendering ---

#[test]
fn default_booking_confirmation_renders_with_the_english_footer() {
    let config = config(json!({}), &["en-US"]);
    let rendered = render(&config, MessageKind::BookingConfirmation, &booking_vars()).unwrap();
    assert_eq!(
        rendered.body,
        "Hi Ana, you're booked for Cleaning on Tuesday, December 8 at 9:30 AM at Smile Dental. \
         To make changes, call +1 617-555-0100.\nReply STOP to opt out."
    );
    assert_eq!(rendered.segments, seg(Encoding::Gsm7, 147, 1));
}

#[test]
fn every_default_template_renders() {
    let config = config(json!({}), &["en-US"]);
    let mut all = booking_vars();
    all.insert("summary".into(), "We open at 9 AM on Saturdays.".into());
    for kind in MessageKind::ALL {
        let rendered = render(&config, kind, &all).unwrap();
        assert!(rendered.body.ends_with(EN_FOOTER), "{kind:?}");
        assert!(!rendered.body.contains("{{"), "{kind:?}");
        assert_eq!(rendered.segments, segments(&rendered.body), "{kind:?}");
    }
}

#[test]
fn the_footer_follows_the_primary_language() {
    let cases = [
        (
            &["es-MX", "en-US"][..],
            "\nResponde STOP para darte de baja.",
        ),
        (&["fr-CA"][..], "\nRépondez STOP pour vous désabonner."),
        (&["de"][..], "\nAntworten Sie STOP zum Abbestellen."),
        (&["it-IT"][..], EN_FOOTER),
        (&[][..], EN_FOOTER),
    ];
    for (languages, footer) in cases {
        let config = config(json!({"templates": {"info_recap": "Hola"}}), languages);
        let rendered = render(&config, MessageKind::InfoRecap, &BTreeMap::new()).unwrap();
        assert_eq!(rendered.body, format!("Hola{footer}"), "{languages:?}");
    }
}

#[test]
fn every_footer_is_gsm7_and_mentions_stop() {
    for lang in Language::ALL {
        let footer = opt_out_footer(lang);
        assert_eq!(segments(footer).encoding, Encoding::Gsm7, "{lang:?}");
        assert!(footer.contains("STOP"), "{lang:?}");
        assert!(tells_how_to_opt_out(footer), "{lang:?}");
    }
}

#[test]
fn a_template_with_its_own_stop_instruction_gets_no_footer() {
    assert_eq!(
        body("Thanks! Text STOP to unsubscribe.", &[]),
        "Thanks! Text STOP to unsubscribe."
    );
    assert_eq!(body("(STOP to end)", &[]), "(STOP to end)");
}

#[test]
fn stop_in_other_words_or_lowercase_or_values_still_gets_the_footer() {
    for template in [
        "Stop by anytime!",
        "Reply stop to opt out",
        "Nonstop service",
        "STOPPED",
        "Call us: {{summary}}",
    ] {
        let rendered = body(template, &[("summary", "caller said STOP calling")]);
        assert!(rendered.ends_with(EN_FOOTER), "{template}: {rendered}");
    }
}

#[test]
fn only_the_kinds_variables_are_filled() {
    let config = with_template(
        MessageKind::BookingConfirmation,
        "Hi {{customer_name}} {{summary}}.",
    );
    let mut values = booking_vars();
    values.insert("summary".into(), "secret notes".into());
    let rendered = render(&config, MessageKind::BookingConfirmation, &values).unwrap();
    assert_eq!(rendered.body, format!("Hi Ana.{EN_FOOTER}"));
}

#[test]
fn values_are_trimmed_and_not_read_as_templates() {
    assert_eq!(
        body(
            "Hi {{customer_name}}: {{summary}}",
            &[
                ("customer_name", "  Ana\t"),
                ("summary", "{{business_name}} ok")
            ]
        ),
        format!("Hi Ana: {{{{business_name}}}} ok{EN_FOOTER}")
    );
}

#[test]
fn empty_variables_leave_tidy_text() {
    let cases = [
        ("Hi {{customer_name}}, thanks.", "Hi, thanks."),
        ("Hi {{customer_name}}!", "Hi!"),
        ("Merci {{customer_name}} !", "Merci !"),
        (
            "Thanks {{customer_name}} for calling.",
            "Thanks for calling.",
        ),
        ("{{customer_name}}, thanks.", ", thanks."),
        ("Hi {{customer_name}} {{business_name}}, bye", "Hi, bye"),
        ("Hi {{customer_name}}{{business_name}} there", "Hi there"),
        ("Recap: {{summary}}", "Recap:"),
        ("A\n{{summary}}\nB", "A\nB"),
        ("A\r\n{{summary}} \r\nB", "A\r\nB"),
        ("A\n{{summary}} x\nB", "A\nx\nB"),
        ("A {{summary}}\nB", "A\nB"),
        ("({{summary}})", "()"),
        ("A  {{summary}}  B", "A B"),
        ("Keep  my   spacing {{summary}}", "Keep  my   spacing"),
        ("{{summary}}\n\nHi", "Hi"),
    ];
    for (template, expected) in cases {
        assert_eq!(
            body(template, &[]),
            format!("{expected}{EN_FOOTER}"),
            "{template:?}"
        );
    }
}

#[test]
fn blank_values_count_as_missing() {
    assert_eq!(
        body("Hi {{customer_name}}, thanks.", &[("customer_name", "   ")]),
        format!("Hi, thanks.{EN_FOOTER}")
    );
}

#[test]
fn private_use_characters_in_the_text_survive() {
    assert_eq!(
        body(
            "\u{E000} {{customer_name}} {{summary}}",
            &[("summary", "\u{E001}")]
        ),
        format!("\u{E000} \u{E001}{EN_FOOTER}")
    );
}

#[test]
fn a_text_with_nothing_left_is_an_error() {
    assert_eq!(
        recap("{{customer_name}} {{summary}}", &[]),
        Err(SmsError::Empty { kind: "info_recap" })
    );
    assert_eq!(
        recap("{{summary}}", &[("summary", " \n ")]),
        Err(SmsError::Empty { kind: "info_recap" })
    );
}

#[test]
fn an_invalid_template_is_an_error() {
    assert_eq!(
        recap("Hi {{customer_name", &[]),
        Err(SmsError::Template {
            kind: "info_recap",
            source: TemplateError::Unclosed { position: 4 },
        })
    );
}

#[test]
fn the_body_may_be_1600_units_with_the_footer() {
    let room = MAX_BODY_LENGTH - EN_FOOTER.len();
    let fits = "a".repeat(room);
    let rendered = recap("{{summary}}", &[("summary", &fits)]).unwrap();
    assert_eq!(rendered.body.len(), 1600);
    assert_eq!(rendered.segments, seg(Encoding::Gsm7, 1600, 11));

    let over = "a".repeat(room + 1);
    let error = recap("{{summary}}", &[("summary", &over)]).unwrap_err();
    assert_eq!(
        error,
        SmsError::TooLong {
            kind: "info_recap",
            length: 1601
        }
    );
    assert!(error.to_string().contains("1601"));

    // An emoji counts two units.
    let emoji = format!("{}😀", "a".repeat(room - 1));
    assert_eq!(
        recap("{{summary}}", &[("summary", &emoji)]),
        Err(SmsError::TooLong {
            kind: "info_recap",
            length: 1601
        })
    );
}

// --- Quiet hours ---

#[test]
fn no_quiet_hours_sends_now() {
    let now = utc("2026-06-01T03:00:00Z");
    assert_eq!(send_at(now, NEW_YORK, None), now);
}

#[test]
fn a_wrapping_window_delays_to_the_morning() {
    let q = quiet("21:00", "08:00");
    let at = |text| send_at(local(NEW_YORK, text), NEW_YORK, Some(&q));
    let morning = local(NEW_YORK, "2026-06-02 08:00");
    assert_eq!(at("2026-06-01 20:59"), local(NEW_YORK, "2026-06-01 20:59"));
    assert_eq!(at("2026-06-01 21:00"), morning);
    assert_eq!(at("2026-06-01 23:30"), morning);
    assert_eq!(at("2026-06-02 00:00"), morning);
    assert_eq!(at("2026-06-02 07:59"), morning);
    assert_eq!(at("2026-06-02 08:00"), morning);
    assert_eq!(at("2026-06-02 12:00"), local(NEW_YORK, "2026-06-02 12:00"));
}

#[test]
fn a_non_wrapping_window_delays_to_its_end() {
    let q = quiet("12:00", "13:30");
    let at = |text| send_at(local(NEW_YORK, text), NEW_YORK, Some(&q));
    assert_eq!(at("2026-06-01 11:59"), local(NEW_YORK, "2026-06-01 11:59"));
    assert_eq!(at("2026-06-01 12:00"), local(NEW_YORK, "2026-06-01 13:30"));
    assert_eq!(at("2026-06-01 13:29"), local(NEW_YORK, "2026-06-01 13:30"));
    assert_eq!(at("2026-06-01 13:30"), local(NEW_YORK, "2026-06-01 13:30"));
}

#[test]
fn a_window_starting_at_midnight_or_ending_at_end_of_day() {
    let early = quiet("00:00", "07:00");
    let late = quiet("22:00", "24:00");
    let at = |q: &QuietHours, text| send_at(local(NEW_YORK, text), NEW_YORK, Some(q));
    assert_eq!(
        at(&early, "2026-06-02 00:00"),
        local(NEW_YORK, "2026-06-02 07:00")
    );
    assert_eq!(
        at(&early, "2026-06-01 23:59"),
        local(NEW_YORK, "2026-06-01 23:59")
    );
    assert_eq!(
        at(&late, "2026-06-01 23:59"),
        local(NEW_YORK, "2026-06-02 00:00")
    );
    assert_eq!(
        at(&late, "2026-06-02 00:00"),
        local(NEW_YORK, "2026-06-02 00:00")
    );
}

#[test]
fn subsecond_instants_inside_the_window_are_delayed() {
    let q = quiet("21:00", "08:00");
    let now = local(NEW_YORK, "2026-06-01 20:59") + Duration::milliseconds(59_999);
    assert_eq!(send_at(now, NEW_YORK, Some(&q)), now);
    let now = local(NEW_YORK, "2026-06-02 07:59") + Duration::milliseconds(59_999);
    assert_eq!(
        send_at(now, NEW_YORK, Some(&q)),
        local(NEW_YORK, "2026-06-02 08:00")
    );
}

#[test]
fn degenerate_windows_never_delay() {
    let now = local(NEW_YORK, "2026-06-01 12:00");
    for q in [quiet("12:00", "12:00"), quiet("00:00", "24:00")] {
        assert_eq!(send_at(now, NEW_YORK, Some(&q)), now, "{q:?}");
    }
}

#[test]
fn spring_forward_night_in_new_york() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
    let q = quiet("21:00", "08:00");
    let at = |text| send_at(utc(text), NEW_YORK, Some(&q));
    // 01:30 EST → 08:00 EDT.
    assert_eq!(at("2026-03-08T06:30:00Z"), utc("2026-03-08T12:00:00Z"));
    // 21:00 EST the evening before → 08:00 EDT.
    assert_eq!(at("2026-03-08T02:00:00Z"), utc("2026-03-08T12:00:00Z"));

    // An end in the gap is the instant the clocks jump.
    let q = quiet("22:00", "02:30");
    let at = |text| send_at(utc(text), NEW_YORK, Some(&q));
    assert_eq!(at("2026-03-08T06:59:00Z"), utc("2026-03-08T07:00:00Z"));
    assert_eq!(at("2026-03-08T07:00:00Z"), utc("2026-03-08T07:00:00Z"));

    // A start in the gap is the instant the clocks jump, too.
    let q = quiet("02:30", "06:00");
    let at = |text| send_at(utc(text), NEW_YORK, Some(&q));
    assert_eq!(at("2026-03-08T06:59:59Z"), utc("2026-03-08T06:59:59Z"));
    assert_eq!(at("2026-03-08T07:00:00Z"), utc("2026-03-08T10:00:00Z"));
}

#[test]
fn fall_back_night_in_new_york() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00Z); 01:00–02:00 happens twice.
    let q = quiet("21:00", "08:00");
    let at = |text| send_at(utc(text), NEW_YORK, Some(&q));
    // 23:00 EDT → 08:00 EST (13:00Z), 10 hours of wall clock but 11 real hours.
    assert_eq!(at("2026-11-01T03:00:00Z"), utc("2026-11-01T13:00:00Z"));
    // 01:30 on both passes.
    assert_eq!(at("2026-11-01T05:30:00Z"), utc("2026-11-01T13:00:00Z"));
    assert_eq!(at("2026-11-01T06:30:00Z"), utc("2026-11-01T13:00:00Z"));

    // An ambiguous end is its later instant: the repeated hour is quiet on both passes.
    let q = quiet("22:00", "01:30");
    let at = |text| send_at(utc(text), NEW_YORK, Some(&q));
    assert_eq!(at("2026-11-01T05:15:00Z"), utc("2026-11-01T06:30:00Z"));
    assert_eq!(at("2026-11-01T05:45:00Z"), utc("2026-11-01T06:30:00Z"));
    assert_eq!(at("2026-11-01T06:15:00Z"), utc("2026-11-01T06:30:00Z"));
    assert_eq!(at("2026-11-01T06:30:00Z"), utc("2026-11-01T06:30:00Z"));

    // The same without wrapping midnight.
    let q = quiet("00:30", "01:30");
    let at = |text| send_at(utc(text), NEW_YORK, Some(&q));
    assert_eq!(at("2026-11-01T05:45:00Z"), utc("2026-11-01T06:30:00Z"));
    assert_eq!(at("2026-11-01T06:29:00Z"), utc("2026-11-01T06:30:00Z"));

    // An ambiguous start is its earlier instant.
    let q = quiet("01:30", "05:00");
    let at = |text| send_at(utc(text), NEW_YORK, Some(&q));
    assert_eq!(at("2026-11-01T05:29:00Z"), utc("2026-11-01T05:29:00Z"));
    assert_eq!(at("2026-11-01T05:30:00Z"), utc("2026-11-01T10:00:00Z"));
    assert_eq!(at("2026-11-01T05:45:00Z"), utc("2026-11-01T10:00:00Z"));
}

#[test]
fn a_window_lasting_past_the_next_start_is_followed_to_its_end() {
    // 01:30–01:00 wraps and lasts 23.5 wall-clock hours. Around the fall-back night the
    // window of 10-31 (01:30 EDT on 10-31 to the later 01:00 on 11-01, 06:00Z) overlaps the
    // window of 11-01, which starts at the earlier 01:30 (EDT, 05:30Z) and ends 11-02 01:00
    // EST (06:00Z). A text in either waits until the second one ends.
    let q = quiet("01:30", "01:00");
    let next_window_end = utc("2026-11-02T06:00:00Z");
    for now in [
        "2026-11-01T05:20:00Z", // 01:20 EDT, only in the first window
        "2026-11-01T05:45:00Z", // 01:45 EDT, in both
        "2026-11-01T06:10:00Z", // 01:10 EST, in the second
    ] {
        assert_eq!(
            send_at(utc(now), NEW_YORK, Some(&q)),
            next_window_end,
            "{now}"
        );
    }
    // 01:10 EST on the next day is outside.
    let now = utc("2026-11-02T06:10:00Z");
    assert_eq!(send_at(now, NEW_YORK, Some(&q)), now);
}

/// Brute force for zones without transitions nearby: the first whole minute at or after
/// `now` whose local time of day is outside the window.
fn brute_force(now: DateTime<Utc>, tz: Tz, q: &QuietHours) -> DateTime<Utc> {
    let start = q.start.signed_duration_since(NaiveTime::MIN).num_minutes();
    let end = match q.end {
        EndTime::At(end) => end.signed_duration_since(NaiveTime::MIN).num_minutes(),
        EndTime::EndOfDay => 24 * 60,
    };
    let quiet_at = |t: DateTime<Utc>| {
        let local = t.with_timezone(&tz).time();
        let minute = local.signed_duration_since(NaiveTime::MIN).num_minutes();
        if start < end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        }
    };
    let mut t = now;
    while quiet_at(t) {
        t += Duration::minutes(1);
    }
    t
}

proptest! {
    #[test]
    fn send_at_agrees_with_a_minute_by_minute_search(
        minute in 0i64..(400 * 24 * 60),
        start in 0u32..(24 * 60),
        end in 0u32..=(24 * 60),
        zone in prop::sample::select(vec![
            chrono_tz::UTC,
            chrono_tz::Asia::Tokyo,
            chrono_tz::Asia::Kolkata,
            chrono_tz::America::New_York,
        ]),
    ) {
        let now = utc("2026-01-01T00:00:00Z") + Duration::minutes(minute);
        // Stay two days away from transitions, where wall-clock minutes are not instants.
        let offset = |t: DateTime<Utc>| t.with_timezone(&zone).offset().fix();
        prop_assume!(offset(now - Duration::days(2)) == offset(now + Duration::days(2)));
        prop_assume!(start != end % (24 * 60) && !(start == 0 && end == 24 * 60));
        let minute_time = |m: u32| NaiveTime::from_num_seconds_from_midnight_opt(m * 60, 0).unwrap();
        let q = QuietHours {
            start: minute_time(start),
            end: if end == 24 * 60 { EndTime::EndOfDay } else { EndTime::At(minute_time(end)) },
        };
        prop_assert_eq!(send_at(now, zone, Some(&q)), brute_force(now, zone, &q));
    }
}

// --- Replies ---

#[test]
fn opt_out_keywords() {
    for body in [
        "STOP",
        "stop",
        "Stop",
        " STOP ",
        "stop.",
        "Stop!",
        "¡STOP!",
        "\"stop\"",
        "STOPALL",
        "STOP ALL",
        "stop   all",
        "Unsubscribe",
        "cancel",
        "END",
        "quit",
        "OptOut",
        "revoke",
        "\nSTOP\n",
    ] {
        assert_eq!(classify_reply(body, None), Reply::OptOut, "{body:?}");
    }
}

#[test]
fn opt_in_and_help_keywords() {
    for body in ["START", "start", "Yes", "yes!", "UNSTOP"] {
        assert_eq!(classify_reply(body, None), Reply::OptIn, "{body:?}");
    }
    for body in ["HELP", "help?", "Info", "info."] {
        assert_eq!(classify_reply(body, None), Reply::Help, "{body:?}");
    }
}

#[test]
fn only_a_whole_keyword_counts() {
    for body in [
        "Stop calling me please",
        "please stop",
        "STOP STOP",
        "S.T.O.P",
        "stopp",
        "yes please",
        "Yes, 3 PM works",
        "I need help",
        "OPT OUT",
        "STOP 🛑",
        "",
        "   ",
        "?",
        "ＳＴＯＰ",
    ] {
        assert_eq!(classify_reply(body, None), Reply::Other, "{body:?}");
    }
}

#[test]
fn opt_out_type_wins_over_the_body() {
    assert_eq!(
        classify_reply("Stop calling me please", Some("STOP")),
        Reply::OptOut
    );
    assert_eq!(classify_reply("STOP", Some("START")), Reply::OptIn);
    assert_eq!(classify_reply("STOP", Some("HELP")), Reply::Help);
    assert_eq!(classify_reply("Arrêt", Some("stop")), Reply::OptOut);
    assert_eq!(classify_reply("whatever", Some(" start ")), Reply::OptIn);
}

#[test]
fn an_unknown_opt_out_type_falls_back_to_the_body() {
    assert_eq!(classify_reply("STOP", Some("")), Reply::OptOut);
    assert_eq!(classify_reply("yes", Some("SOMETHING")), Reply::OptIn);
    assert_eq!(classify_reply("hello", Some("SOMETHING")), Reply::Other);
}

#[test]
fn staff_hear_who_left_a_voicemail_and_what_it_says() {
    use crate::postcall::Voicemail;
    let c = config(json!({}), &["en-US"]);
    let vm = Voicemail {
        recording_url: Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1".into()),
        duration_secs: Some(34),
        transcription: Some("Please call me back about my crown".into()),
        ..Voicemail::default()
    };
    let text = staff_voicemail_notice(&c, Some("+12125550123"), Some("Ana Gomez"), &vm);
    assert!(
        text.contains("new voicemail (34 s) from Ana Gomez (+12125550123)."),
        "{text}"
    );
    assert!(
        text.ends_with("\u{201c}Please call me back about my crown\u{201d}"),
        "{text}"
    );
    let untranscribed = Voicemail {
        transcription: None,
        ..vm.clone()
    };
    let text = staff_voicemail_notice(&c, None, None, &untranscribed);
    assert!(text.contains("from a withheld number."), "{text}");
    assert!(
        text.ends_with("Listen: https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"),
        "{text}"
    );
    let long = Voicemail {
        transcription: Some("word ".repeat(1000)),
        ..vm
    };
    let text = staff_voicemail_notice(&c, Some("+12125550123"), None, &long);
    assert!(text.encode_utf16().count() <= MAX_BODY_LENGTH);
    let es = config(json!({}), &["es-MX"]);
    assert!(
        staff_voicemail_notice(&es, None, None, &Voicemail::default())
            .contains("nuevo mensaje de voz de un número oculto")
    );
}
