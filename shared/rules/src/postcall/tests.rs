use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use serde::de::IgnoredAny;

use super::*;

const SAMPLE: &[u8] = include_bytes!("../../tests/fixtures/postcall/transcription_sample.json");
const TWILIO_FAILURE: &[u8] =
    include_bytes!("../../tests/fixtures/postcall/initiation_failure_twilio.json");
const SIP_FAILURE: &[u8] =
    include_bytes!("../../tests/fixtures/postcall/initiation_failure_sip.json");
const AUDIO_EVENT: &[u8] = include_bytes!("../../tests/fixtures/postcall/audio.json");

// --- Helpers ---

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("serializable")
}

fn facts_of(body: &[u8]) -> CallFacts {
    match parse(body).expect("a valid webhook") {
        Event::Transcription(facts) => facts,
        other => panic!("not a transcription: {other:?}"),
    }
}

fn facts(v: &Value) -> CallFacts {
    facts_of(&bytes(v))
}

fn assessed(v: &Value) -> Assessment {
    assess(&facts(v), &AssessRules::default())
}

/// `doc` with the object key at `pointer` set.
fn with(mut doc: Value, pointer: &str, value: Value) -> Value {
    let (parent, last) = pointer.rsplit_once('/').expect("a non-root pointer");
    doc.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"))
        .insert(last.to_owned(), value);
    doc
}

/// `doc` without the object key at `pointer`.
fn without(mut doc: Value, pointer: &str) -> Value {
    let (parent, last) = pointer.rsplit_once('/').expect("a non-root pointer");
    doc.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"))
        .remove(last)
        .unwrap_or_else(|| panic!("no {pointer}"));
    doc
}

/// A two-minute inbound phone call with this transcript.
fn call(transcript: Vec<Value>) -> Value {
    json!({
        "type": "post_call_transcription",
        "event_timestamp": 1767261722,
        "data": {
            "agent_id": "agent_1",
            "conversation_id": "conv_1",
            "status": "done",
            "transcript": transcript,
            "metadata": {
                "start_time_unix_secs": 1767261600,
                "call_duration_secs": 120,
                "termination_reason": "",
                "phone_call": {
                    "type": "twilio", "direction": "inbound", "phone_number_id": "phnum_1",
                    "agent_number": "+15550001111", "external_number": "+15552223333",
                    "stream_sid": "MZ1", "call_sid": "CA1"
                }
            },
            "analysis": {
                "evaluation_criteria_results": {},
                "data_collection_results": {},
                "call_successful": "success",
                "transcript_summary": "The caller talked to the receptionist."
            }
        }
    })
}

/// The greeting and the caller's request.
fn opening() -> Vec<Value> {
    vec![
        agent(0, "Hello, Smile Dental, how can I help?"),
        user(3, "I'd like a cleaning next Tuesday morning."),
    ]
}

fn conversation(parts: Vec<Vec<Value>>) -> Vec<Value> {
    opening()
        .into_iter()
        .chain(parts.into_iter().flatten())
        .collect()
}

fn user(t: u32, text: &str) -> Value {
    json!({"role": "user", "message": text, "tool_calls": null, "tool_results": null,
           "feedback": null, "time_in_call_secs": t, "conversation_turn_metrics": null})
}

fn agent(t: u32, text: &str) -> Value {
    json!({"role": "agent", "message": text, "tool_calls": null, "tool_results": null,
           "feedback": null, "time_in_call_secs": t, "conversation_turn_metrics": null})
}

fn tool_call(t: u32, id: &str, name: &str, kind: &str, params: Value) -> Value {
    json!({"role": "agent", "message": null, "time_in_call_secs": t, "tool_results": null,
           "tool_calls": [{"type": kind, "request_id": id, "tool_name": name,
                           "params_as_json": params.to_string(), "tool_has_been_called": true}]})
}

fn tool_result(t: u32, id: &str, name: &str, kind: &str, value: &str, is_error: bool) -> Value {
    json!({"role": "agent", "message": null, "time_in_call_secs": t, "tool_calls": null,
           "tool_results": [{"type": kind, "request_id": id, "tool_name": name,
                             "result_value": value, "is_error": is_error,
                             "tool_has_been_called": true, "tool_latency_secs": 0.25,
                             "dynamic_variable_updates": []}]})
}

/// A webhook tool call at `t` answered with `answer` a second later.
fn webhook(t: u32, id: &str, name: &str, answer: Value) -> Vec<Value> {
    vec![
        tool_call(t, id, name, "webhook", json!({"x": 1})),
        tool_result(t + 1, id, name, "webhook", &answer.to_string(), false),
    ]
}

/// A system tool call at `t` with `params`, answered successfully.
fn system(t: u32, id: &str, name: &str, params: Value) -> Vec<Value> {
    vec![
        tool_call(t, id, name, "system", params),
        tool_result(t, id, name, "system", r#"{"status":"success"}"#, false),
    ]
}

fn booking(id: &str, status: &str, start: &str) -> Value {
    json!({"booking_id": id, "status": status, "service_id": "cleaning",
           "service_name": "Cleaning", "staff_id": "st_kim", "staff_name": "Dr. Kim",
           "start": start, "end": "2026-11-25T09:45:00-05:00", "customer_name": "Ana Lopez",
           "customer_phone": "+15552223333", "say": "Cleaning with Dr. Kim on Wednesday."})
}

fn booked(id: &str, start: &str) -> Value {
    json!({"ok": true, "booking": booking(id, "booked", start), "say": "You're booked."})
}

fn moved(id: &str, start: &str, previous: &str) -> Value {
    json!({"ok": true, "booking": booking(id, "booked", start), "previous_start": previous,
           "say": "I moved it."})
}

fn cancelled(id: &str, start: &str) -> Value {
    json!({"ok": true, "booking": booking(id, "cancelled", start), "say": "It's cancelled."})
}

fn failure(code: &str) -> Value {
    json!({"ok": false, "error": code, "say": "Sorry, that didn't work."})
}

fn availability() -> Value {
    json!({"ok": true, "slots": [{"slot_id": "s1.sig", "start": "2026-11-25T09:00:00-05:00"}],
           "say": "I have 9 AM."})
}

fn fact(action: BookingAction, id: &str, start: &str) -> BookingFact {
    BookingFact {
        action,
        booking_id: id.into(),
        service_name: Some("Cleaning".into()),
        staff_name: Some("Dr. Kim".into()),
        start: Some(start.into()),
        customer_name: Some("Ana Lopez".into()),
        customer_phone: Some("+15552223333".into()),
    }
}

const NOV25: &str = "2026-11-25T09:00:00-05:00";
const NOV26: &str = "2026-11-26T14:00:00-05:00";

// --- The documented sample ---

#[test]
fn sample_payload_gives_its_facts() {
    let expected = CallFacts {
        conversation_id: "conv_01jexample".into(),
        agent_id: Some("agent_01jexample".into()),
        status: Some("done".into()),
        event_timestamp: Some(1767261722),
        call_sid: Some("CA0123".into()),
        direction: Some("inbound".into()),
        caller: Some("+15552223333".into()),
        called: Some("+15550001111".into()),
        started_at: Some(1767261600),
        duration_secs: Some(95),
        termination_reason: None,
        error: None,
        main_language: None,
        call_successful: Some("success".into()),
        summary: Some("Caller booked a cleaning for Tuesday 09:00.".into()),
        summary_title: None,
        evaluations: vec![Evaluation {
            id: "booked".into(),
            result: "success".into(),
            rationale: Some("Slot booked.".into()),
            score: None,
            max_score: None,
        }],
        data: BTreeMap::from([("caller_name".to_owned(), json!("Ana Lopez"))]),
        tools: vec![ToolUse {
            name: "check_availability".into(),
            kind: "webhook".into(),
            request_id: "toolu_123".into(),
            ok: true,
            error: None,
            latency_ms: Some(420),
        }],
        user_turns: 1,
        agent_turns: 1,
        last_turn_secs: Some(8),
        booking: None,
        booking_actions: vec![],
        transfer: None,
        voicemail_detected: false,
        end_call_reason: None,
        voicemail: None,
    };
    assert_eq!(facts_of(SAMPLE), expected);
}

#[test]
fn sample_payload_is_info_only() {
    let a = assess(&facts_of(SAMPLE), &AssessRules::default());
    assert_eq!(a.disposition, Disposition::InfoOnly, "{a:?}");
    assert!(a.flags.is_empty(), "{a:?}");
    assert!(!a.reasons.is_empty());
}

#[test]
fn stored_facts_leave_out_empty_values() {
    let stored = serde_json::to_value(facts_of(SAMPLE)).unwrap();
    let keys: Vec<&str> = stored
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for absent in [
        "termination_reason",
        "error",
        "booking",
        "booking_actions",
        "transfer",
        "voicemail_detected",
        "end_call_reason",
        "summary_title",
    ] {
        assert!(!keys.contains(&absent), "{absent} stored: {stored}");
    }
    assert_eq!(
        stored["tools"][0],
        json!({"name": "check_availability", "kind": "webhook",
        "request_id": "toolu_123", "ok": true, "latency_ms": 420})
    );
    assert_eq!(
        serde_json::to_value(CallFacts {
            conversation_id: "c".into(),
            ..CallFacts::default()
        })
        .unwrap(),
        json!({"conversation_id": "c"})
    );
    assert!(serde_json::to_vec(&stored).unwrap().len() < SAMPLE.len() / 2);
}

// --- Parties and metadata ---

#[test]
fn parties_fall_back_to_the_system_variables() {
    let doc = without(call(opening()), "/data/metadata/phone_call");
    let doc = with(
        doc,
        "/data/conversation_initiation_client_data",
        json!({"dynamic_variables": {"system__caller_id": "+15557776666",
            "system__called_number": "+15550009999", "system__call_sid": "CA77",
            "system__call_duration_secs": 4}}),
    );
    let f = facts(&doc);
    assert_eq!(f.caller.as_deref(), Some("+15557776666"));
    assert_eq!(f.called.as_deref(), Some("+15550009999"));
    assert_eq!(f.call_sid.as_deref(), Some("CA77"));
    assert_eq!(f.direction, None);
}

#[test]
fn phone_call_wins_over_the_system_variables() {
    let doc = with(
        call(opening()),
        "/data/conversation_initiation_client_data",
        json!({"dynamic_variables": {"system__caller_id": "+19999999999",
            "system__call_sid": "CA99"}}),
    );
    let f = facts(&doc);
    assert_eq!(f.caller.as_deref(), Some("+15552223333"));
    assert_eq!(f.call_sid.as_deref(), Some("CA1"));
}

#[test]
fn metadata_error_language_and_termination_reason() {
    let doc = with(
        call(opening()),
        "/data/metadata/error",
        json!({"code": 1002, "reason": "LLM timeout"}),
    );
    let doc = with(doc, "/data/metadata/main_language", json!("es"));
    let doc = with(
        doc,
        "/data/metadata/termination_reason",
        json!("Call ended by remote party"),
    );
    let doc = with(doc, "/data/analysis/call_summary_title", json!("Cleaning"));
    let f = facts(&doc);
    assert_eq!(
        f.error,
        Some(CallError {
            code: Some(1002),
            reason: Some("LLM timeout".into())
        })
    );
    assert_eq!(f.main_language.as_deref(), Some("es"));
    assert_eq!(
        f.termination_reason.as_deref(),
        Some("Call ended by remote party")
    );
    assert_eq!(f.summary_title.as_deref(), Some("Cleaning"));
}

#[test]
fn analysis_list_forms_are_read_when_the_maps_are_absent() {
    let doc = with(
        call(opening()),
        "/data/analysis",
        json!({
            "call_successful": "Failure",
            "transcript_summary": "x",
            "evaluation_criteria_results_list": [
                {"criteria_id": "polite", "result": "success", "rationale": "ok"}],
            "data_collection_results_list": [
                {"data_collection_id": "caller_name", "value": "Bo"},
                {"data_collection_id": "empty", "value": null}]
        }),
    );
    let f = facts(&doc);
    assert_eq!(f.call_successful.as_deref(), Some("failure"));
    assert_eq!(f.evaluations.len(), 1);
    assert_eq!(f.evaluations[0].id, "polite");
    assert_eq!(
        f.data,
        BTreeMap::from([("caller_name".to_owned(), json!("Bo"))])
    );
}

#[test]
fn turns_are_counted_by_role_and_text() {
    let doc = call(vec![
        agent(0, "Hello"),
        user(2, "   "),
        user(4, "Hi"),
        json!({"role": "user", "message": null, "time_in_call_secs": 5}),
        json!({"role": "user", "message": "Are you open Sunday?", "time_in_call_secs": "31"}),
        agent(33, "We are closed on Sundays."),
        json!({"role": "agent", "message": 42, "time_in_call_secs": 12.5}),
    ]);
    let f = facts(&doc);
    assert_eq!(f.user_turns, 2);
    assert_eq!(f.agent_turns, 2);
    assert_eq!(f.last_turn_secs, Some(33));
}

// --- Tool uses ---

#[test]
fn tool_uses_are_joined_by_request_id_in_call_order() {
    // Two calls in one turn, answered in reverse order.
    let doc = call(conversation(vec![vec![
        json!({"role": "agent", "message": null, "time_in_call_secs": 5, "tool_calls": [
            {"type": "webhook", "request_id": "a", "tool_name": "check_availability", "params_as_json": "{}"},
            {"type": "webhook", "request_id": "b", "tool_name": "find_bookings", "params_as_json": "{}"}]}),
        json!({"role": "agent", "message": null, "time_in_call_secs": 6, "tool_results": [
            {"type": "webhook", "request_id": "b", "tool_name": "find_bookings",
             "result_value": failure("temporarily_unavailable").to_string(), "is_error": false,
             "tool_latency_secs": 1.2345},
            {"type": "webhook", "request_id": "a", "tool_name": "check_availability",
             "result_value": availability().to_string(), "is_error": false,
             "tool_latency_secs": "0.5"}]}),
    ]]));
    let f = facts(&doc);
    let summary: Vec<(&str, bool, Option<&str>, Option<u32>)> = f
        .tools
        .iter()
        .map(|t| (t.name.as_str(), t.ok, t.error.as_deref(), t.latency_ms))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("check_availability", true, None, Some(500)),
            (
                "find_bookings",
                false,
                Some("temporarily_unavailable"),
                Some(1235)
            ),
        ]
    );
    assert_eq!(f.tools[1].request_id, "b");
}

#[test]
fn tool_results_without_request_id_join_by_name() {
    let doc = call(conversation(vec![vec![
        tool_call(5, "", "check_availability", "webhook", json!({})),
        json!({"role": "agent", "time_in_call_secs": 6, "tool_results": [
            {"tool_name": "check_availability", "result_value": "plain text", "is_error": false}]}),
    ]]));
    let f = facts(&doc);
    assert_eq!(f.tools.len(), 1);
    assert!(f.tools[0].ok, "{:?}", f.tools);
}

#[test]
fn tool_errors_missing_results_and_orphan_results() {
    let doc = call(conversation(vec![
        vec![
            tool_call(5, "e1", "check_availability", "webhook", json!({})),
            json!({"role": "agent", "time_in_call_secs": 15, "tool_results": [
                {"type": "webhook", "request_id": "e1", "tool_name": "check_availability",
                 "result_value": "", "is_error": true, "error_type": "timeout",
                 "raw_error_message": "timed out after 10 s"}]}),
        ],
        vec![
            tool_call(16, "e2", "find_bookings", "webhook", json!({})),
            tool_result(17, "e2", "find_bookings", "webhook", "Internal error", true),
        ],
        vec![tool_result(
            18,
            "orphan",
            "upsert_contact",
            "webhook",
            r#"{"ok": false}"#,
            false,
        )],
        vec![tool_call(
            20,
            "lost",
            "create_booking",
            "webhook",
            json!({"slot_id": "s"}),
        )],
    ]));
    let f = facts(&doc);
    let summary: Vec<(&str, &str, bool, Option<&str>)> = f
        .tools
        .iter()
        .map(|t| (t.name.as_str(), t.kind.as_str(), t.ok, t.error.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("check_availability", "webhook", false, Some("timeout")),
            ("find_bookings", "webhook", false, Some(TOOL_ERROR)),
            ("upsert_contact", "webhook", false, Some(UNKNOWN_ERROR)),
            ("create_booking", "webhook", false, Some(NO_RESULT)),
        ]
    );
    assert!(f.tools.iter().all(ToolUse::failed));
    assert!(f.booking.is_none());
}

#[test]
fn system_tools_without_result_did_not_fail() {
    let doc = call(conversation(vec![vec![tool_call(
        30,
        "end",
        "end_call",
        "system",
        json!({"reason": "caller said goodbye"}),
    )]]));
    let f = facts(&doc);
    assert_eq!(f.tools[0].error.as_deref(), Some(NO_RESULT));
    assert!(!f.tools[0].ok);
    assert!(!f.tools[0].failed());
    assert_eq!(f.end_call_reason.as_deref(), Some("caller said goodbye"));
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::InfoOnly, "{a:?}");
}

// --- Bookings ---

#[test]
fn a_created_booking_is_booked() {
    let doc = call(conversation(vec![
        webhook(5, "t1", "check_availability", availability()),
        webhook(20, "t2", "create_booking", booked("K7M2Q9XD", NOV25)),
        vec![agent(23, "You're booked for Wednesday at 9.")],
    ]));
    let f = facts(&doc);
    let expected = fact(BookingAction::Booked, "K7M2Q9XD", NOV25);
    assert_eq!(f.booking.as_ref(), Some(&expected));
    assert_eq!(f.booking_actions, vec![expected]);
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::Booked);
    assert!(a.reasons[0].contains("K7M2Q9XD"), "{a:?}");
    assert!(a.flags.is_empty(), "{a:?}");
    assert_eq!(
        sms_kind(a.disposition),
        Some(MessageKind::BookingConfirmation)
    );
}

#[test]
fn booking_tools_match_prefixed_and_suffixed_names_only() {
    for name in [
        "create_booking",
        "frontdesk_create_booking",
        "Create_Booking",
        "create_booking_v2",
    ] {
        let doc = call(conversation(vec![webhook(
            5,
            "t",
            name,
            booked("B1", NOV25),
        )]));
        assert_eq!(
            assessed(&doc).disposition,
            Disposition::Booked,
            "tool {name}"
        );
    }
    for name in ["find_bookings", "create_bookings", "booking"] {
        let doc = call(conversation(vec![webhook(
            5,
            "t",
            name,
            booked("B1", NOV25),
        )]));
        let f = facts(&doc);
        assert!(f.booking.is_none(), "tool {name}: {f:?}");
        assert_eq!(
            assess(&f, &AssessRules::default()).disposition,
            Disposition::InfoOnly
        );
    }
}

#[test]
fn a_moved_booking_is_rescheduled() {
    let doc = call(conversation(vec![
        webhook(
            5,
            "t1",
            "find_bookings",
            json!({"ok": true, "bookings": []}),
        ),
        webhook(9, "t2", "update_booking", moved("K7M2Q9XD", NOV26, NOV25)),
    ]));
    let f = facts(&doc);
    assert_eq!(
        f.booking_actions,
        vec![fact(BookingAction::Rescheduled, "K7M2Q9XD", NOV26)]
    );
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::Rescheduled);
    assert_eq!(
        sms_kind(a.disposition),
        Some(MessageKind::BookingRescheduled)
    );
}

#[test]
fn an_unchanged_update_is_no_action() {
    let answer = json!({"ok": true, "booking": booking("K7", "booked", NOV25),
                        "unchanged": true, "say": "That's already your time."});
    let doc = call(conversation(vec![webhook(
        5,
        "t",
        "update_booking",
        answer,
    )]));
    let f = facts(&doc);
    assert!(f.booking_actions.is_empty(), "{f:?}");
    assert!(f.tools[0].ok);
    assert_eq!(
        assess(&f, &AssessRules::default()).disposition,
        Disposition::InfoOnly
    );
}

#[test]
fn booking_then_cancelling_ends_cancelled() {
    let doc = call(conversation(vec![
        webhook(5, "t1", "create_booking", booked("B1", NOV25)),
        webhook(30, "t2", "update_booking", cancelled("B1", NOV25)),
    ]));
    let f = facts(&doc);
    assert_eq!(
        f.booking_actions,
        vec![
            fact(BookingAction::Booked, "B1", NOV25),
            fact(BookingAction::Cancelled, "B1", NOV25),
        ]
    );
    assert_eq!(f.booking, Some(fact(BookingAction::Cancelled, "B1", NOV25)));
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::Cancelled);
    assert!(
        a.reasons.iter().any(|r| r.contains("earlier")),
        "{:?}",
        a.reasons
    );
    assert_eq!(sms_kind(a.disposition), Some(MessageKind::BookingCancelled));
}

#[test]
fn cancelling_then_booking_again_ends_booked() {
    let doc = call(conversation(vec![
        webhook(5, "t1", "update_booking", cancelled("OLD1", NOV25)),
        webhook(30, "t2", "create_booking", booked("NEW2", NOV26)),
    ]));
    let a = assessed(&doc);
    assert_eq!(a.disposition, Disposition::Booked);
    assert!(a.reasons[0].contains("NEW2"), "{a:?}");
}

#[test]
fn a_replayed_answer_counts_once() {
    let doc = call(conversation(vec![
        webhook(5, "t1", "create_booking", booked("B1", NOV25)),
        webhook(30, "t2", "update_booking", cancelled("B1", NOV25)),
        // The agent retried the first request: the store replays its first answer.
        webhook(40, "t3", "create_booking", booked("B1", NOV25)),
    ]));
    let f = facts(&doc);
    assert_eq!(f.booking_actions.len(), 2, "{:?}", f.booking_actions);
    assert_eq!(
        f.booking.as_ref().map(|b| b.action),
        Some(BookingAction::Cancelled)
    );
}

#[test]
fn a_refused_booking_then_a_good_one_is_booked_without_follow_up() {
    let doc = call(conversation(vec![
        webhook(5, "t1", "create_booking", failure("slot_taken")),
        webhook(12, "t2", "create_booking", booked("B2", NOV26)),
    ]));
    let f = facts(&doc);
    assert_eq!(f.tools[0].error.as_deref(), Some("slot_taken"));
    assert!(f.tools[0].expected_failure());
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::Booked);
    assert!(
        !a.reasons.iter().any(|r| r.starts_with("also")),
        "{:?}",
        a.reasons
    );
    assert!(a.flags.is_empty(), "{:?}", a.flags);
}

#[test]
fn a_booking_answer_without_booking_or_id_is_no_action() {
    let doc = call(conversation(vec![
        webhook(
            5,
            "t1",
            "create_booking",
            json!({"ok": true, "say": "Done."}),
        ),
        webhook(
            9,
            "t2",
            "create_booking",
            json!({"ok": true, "booking": {"status": "booked"}}),
        ),
        webhook(
            13,
            "t3",
            "create_booking",
            json!({"ok": true, "booking": "B9"}),
        ),
        vec![
            tool_call(15, "t4", "create_booking", "webhook", json!({})),
            tool_result(16, "t4", "create_booking", "webhook", "{not json", false),
        ],
    ]));
    let f = facts(&doc);
    assert!(f.booking_actions.is_empty(), "{f:?}");
    assert!(f.tools.iter().all(|t| t.ok), "{:?}", f.tools);
}

// --- Dispositions ---

#[test]
fn a_transfer_is_escalated() {
    let doc = call(conversation(vec![system(
        10,
        "x1",
        "transfer_to_number",
        json!({"transfer_number": "+15559990000", "client_message": "One moment.",
               "agent_message": "Caller asks about a bill.", "reason": "billing question"}),
    )]));
    let f = facts(&doc);
    assert_eq!(
        f.transfer,
        Some(Transfer {
            tool: "transfer_to_number".into(),
            number: Some("+15559990000".into()),
            reason: Some("billing question".into()),
        })
    );
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::Escalated);
    assert!(a.reasons[0].contains("+15559990000"), "{a:?}");
    assert_eq!(sms_kind(a.disposition), None);
}

#[test]
fn other_transfer_tools_escalate() {
    let to_agent = call(conversation(vec![system(
        10,
        "x",
        "transfer_to_agent",
        json!({"agent_number": 0, "reason": "Spanish speaker"}),
    )]));
    let f = facts(&to_agent);
    assert_eq!(f.transfer.as_ref().unwrap().number.as_deref(), Some("0"));
    assert_eq!(
        assess(&f, &AssessRules::default()).disposition,
        Disposition::Escalated
    );

    let webhook_transfer = call(conversation(vec![webhook(
        10,
        "x",
        "transfer_call",
        json!({"ok": true}),
    )]));
    let a = assessed(&webhook_transfer);
    assert_eq!(a.disposition, Disposition::Escalated, "{a:?}");
}

#[test]
fn a_transfer_after_a_booking_is_escalated_and_mentions_it() {
    let doc = call(conversation(vec![
        webhook(5, "t1", "create_booking", booked("B1", NOV25)),
        system(
            30,
            "x",
            "transfer_to_number",
            json!({"transfer_number": "+15559990000"}),
        ),
    ]));
    let a = assessed(&doc);
    assert_eq!(a.disposition, Disposition::Escalated);
    assert!(a.reasons.iter().any(|r| r.contains("B1")), "{a:?}");
}

#[test]
fn a_failed_transfer_needs_follow_up() {
    let doc = call(conversation(vec![vec![
        tool_call(
            10,
            "x",
            "transfer_to_number",
            "system",
            json!({"transfer_number": "+15559990000"}),
        ),
        tool_result(
            11,
            "x",
            "transfer_to_number",
            "system",
            r#"{"status":"error"}"#,
            true,
        ),
    ]]));
    let f = facts(&doc);
    assert_eq!(f.transfer, None);
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::FollowUpNeeded, "{a:?}");
    assert!(a.reasons[0].contains("transfer_to_number"), "{a:?}");
}

#[test]
fn voicemail_is_detected_by_tool_or_termination_reason() {
    let by_tool = call(vec![
        agent(0, "Hello, this is Smile Dental calling for Ana."),
        user(
            2,
            "You have reached Ana, please leave a message after the tone.",
        ),
        tool_call(
            6,
            "v",
            "voicemail_detection",
            "system",
            json!({"reason": "greeting"}),
        ),
    ]);
    let f = facts(&by_tool);
    assert!(f.voicemail_detected);
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::Voicemail);
    assert_eq!(sms_kind(a.disposition), None);

    let by_reason = with(
        call(vec![agent(0, "Hello")]),
        "/data/metadata/termination_reason",
        json!("Voicemail detected by the agent"),
    );
    let a = assessed(&by_reason);
    assert_eq!(a.disposition, Disposition::Voicemail);
    assert!(a.reasons[0].contains("Voicemail detected"), "{a:?}");
}

#[test]
fn silent_callers_abandon() {
    let doc = call(vec![
        agent(0, "Hello, Smile Dental, how can I help?"),
        agent(8, "Hello?"),
    ]);
    let a = assessed(&doc);
    assert_eq!(a.disposition, Disposition::Abandoned);
    assert_eq!(a.reasons, vec!["the caller never spoke".to_owned()]);
    assert_eq!(sms_kind(a.disposition), None);
}

#[test]
fn short_calls_without_tool_use_abandon() {
    let short = with(
        call(opening()),
        "/data/metadata/call_duration_secs",
        json!(6),
    );
    let a = assessed(&short);
    assert_eq!(a.disposition, Disposition::Abandoned, "{a:?}");
    assert!(a.reasons[0].contains("6 s"), "{a:?}");

    // The threshold is a rule.
    let rules = AssessRules {
        abandoned_below_secs: 5,
        ..AssessRules::default()
    };
    assert_eq!(
        assess(&facts(&short), &rules).disposition,
        Disposition::InfoOnly
    );

    // A short call that used a tool is not abandoned.
    let busy = with(
        call(conversation(vec![webhook(
            3,
            "t",
            "check_availability",
            availability(),
        )])),
        "/data/metadata/call_duration_secs",
        json!(6),
    );
    assert_eq!(assessed(&busy).disposition, Disposition::InfoOnly);

    // Without a duration, the last turn's time is used.
    let no_duration = without(call(opening()), "/data/metadata/call_duration_secs");
    assert_eq!(assessed(&no_duration).disposition, Disposition::Abandoned);
}

#[test]
fn an_unexpected_tool_failure_needs_follow_up() {
    let doc = call(conversation(vec![webhook(
        5,
        "t",
        "create_booking",
        failure("temporarily_unavailable"),
    )]));
    let a = assessed(&doc);
    assert_eq!(a.disposition, Disposition::FollowUpNeeded);
    assert_eq!(
        a.reasons,
        vec!["tool create_booking failed: temporarily_unavailable".to_owned()]
    );
    assert_eq!(sms_kind(a.disposition), Some(MessageKind::FollowUp));
}

#[test]
fn expected_tool_failures_alone_are_info_only() {
    for code in EXPECTED_TOOL_ERRORS {
        let doc = call(conversation(vec![webhook(
            5,
            "t",
            "create_booking",
            failure(code),
        )]));
        let a = assessed(&doc);
        assert_eq!(a.disposition, Disposition::InfoOnly, "{code}: {a:?}");
        assert_eq!(sms_kind(a.disposition), Some(MessageKind::InfoRecap));
    }
}

#[test]
fn a_callback_request_needs_follow_up() {
    for (key, value, wanted) in [
        ("callback_requested", json!(true), true),
        ("follow_up", json!("Yes"), true),
        ("needs_callback", json!(1), true),
        ("callback_requested", json!(false), false),
        ("callback_requested", json!("no"), false),
        ("callback_number", json!("+15552223333"), false),
        ("caller_name", json!("yes"), false),
    ] {
        let doc = with(
            call(opening()),
            "/data/analysis/data_collection_results",
            json!({key: {"data_collection_id": key, "value": value, "rationale": "r"}}),
        );
        let a = assessed(&doc);
        let follow = a.disposition == Disposition::FollowUpNeeded;
        assert_eq!(follow, wanted, "{key} = {value}: {a:?}");
        if wanted {
            assert!(a.reasons[0].contains(key), "{a:?}");
        }
    }
}

#[test]
fn an_unresolved_request_needs_follow_up() {
    for (key, value) in [
        ("request_resolved", json!(false)),
        ("question_resolved", json!("No")),
        ("unresolved_request", json!(true)),
    ] {
        let doc = with(
            call(opening()),
            "/data/analysis/data_collection_results",
            json!({key: {"value": value}}),
        );
        assert_eq!(
            assessed(&doc).disposition,
            Disposition::FollowUpNeeded,
            "{key}"
        );
    }
    let resolved = with(
        call(opening()),
        "/data/analysis/data_collection_results",
        json!({"request_resolved": {"value": true}}),
    );
    assert_eq!(assessed(&resolved).disposition, Disposition::InfoOnly);

    let by_evaluation = with(
        call(opening()),
        "/data/analysis/evaluation_criteria_results",
        json!({"request_resolved": {"criteria_id": "request_resolved", "result": "failure",
                                    "rationale": "The question about insurance was not answered."}}),
    );
    let a = assessed(&by_evaluation);
    assert_eq!(a.disposition, Disposition::FollowUpNeeded, "{a:?}");
}

#[test]
fn an_unsuccessful_call_needs_follow_up() {
    let doc = with(
        call(opening()),
        "/data/analysis/call_successful",
        json!("failure"),
    );
    let a = assessed(&doc);
    assert_eq!(a.disposition, Disposition::FollowUpNeeded);
    assert_eq!(a.flags, vec![QaFlag::CallUnsuccessful]);
}

#[test]
fn follow_up_signals_are_noted_on_a_booking() {
    let doc = with(
        call(conversation(vec![webhook(
            5,
            "t",
            "create_booking",
            booked("B1", NOV25),
        )])),
        "/data/analysis/data_collection_results",
        json!({"callback_requested": {"value": true}}),
    );
    let a = assessed(&doc);
    assert_eq!(a.disposition, Disposition::Booked);
    assert_eq!(
        a.reasons.last().map(String::as_str),
        Some("also: callback requested (callback_requested)")
    );
}

#[test]
fn information_calls_are_info_only() {
    let doc = call(vec![
        agent(0, "Hello, Smile Dental, how can I help?"),
        user(3, "Are you open on Saturdays?"),
        agent(5, "Yes, from 9 to 1."),
        user(9, "Great, thanks."),
    ]);
    let a = assessed(&doc);
    assert_eq!(a.disposition, Disposition::InfoOnly);
    assert_eq!(sms_kind(a.disposition), Some(MessageKind::InfoRecap));
}

// --- QA flags ---

#[test]
fn failed_evaluations_are_flagged() {
    let doc = with(
        call(opening()),
        "/data/analysis/evaluation_criteria_results",
        json!({
            "greeting": {"criteria_id": "greeting", "result": "success", "rationale": "ok"},
            "confirmed_details": {"criteria_id": "confirmed_details", "result": "failure", "rationale": "no"},
            "polite": {"criteria_id": "polite", "result": "FAILURE", "rationale": "no"},
            "unsure": {"criteria_id": "unsure", "result": "unknown", "rationale": "?"}
        }),
    );
    let a = assessed(&doc);
    assert_eq!(
        a.flags,
        vec![QaFlag::FailedEvaluation {
            criteria: vec!["confirmed_details".into(), "polite".into()]
        }]
    );
}

#[test]
fn negative_sentiment_is_flagged() {
    let data = |key: &str, value: Value| {
        with(
            call(opening()),
            "/data/analysis/data_collection_results",
            json!({key: {"value": value}}),
        )
    };
    let evaluation = |result: &str, score: Value| {
        with(
            call(opening()),
            "/data/analysis/evaluation_criteria_results",
            json!({"caller_sentiment": {"criteria_id": "caller_sentiment", "result": result,
                                        "rationale": "r", "score": score, "max_score": 5}}),
        )
    };
    let cases = [
        (data("caller_sentiment", json!("Negative")), true),
        (data("Sentiment", json!("very negative, angry")), true),
        (data("caller_sentiment", json!("positive")), false),
        (data("sentiment", json!(-0.6)), true),
        (data("sentiment", json!(-0.3)), true),
        (data("sentiment", json!(-0.2)), false),
        (data("sentiment_score", json!(2)), true),
        (data("sentiment_rating", json!(1)), true),
        (data("sentiment_score", json!(4)), false),
        (data("mood", json!("negative")), false),
        (evaluation("success", json!(2)), true),
        (evaluation("failure", json!(4)), false),
        (evaluation("failure", Value::Null), true),
        (evaluation("success", Value::Null), false),
    ];
    for (doc, wanted) in cases {
        let a = assessed(&doc);
        assert_eq!(
            a.flags.contains(&QaFlag::NegativeSentiment),
            wanted,
            "{}: {a:?}",
            doc["data"]["analysis"]
        );
    }
}

#[test]
fn repeated_tool_errors_are_flagged() {
    let doc = call(conversation(vec![
        webhook(5, "t1", "create_booking", failure("slot_taken")),
        webhook(9, "t2", "create_booking", failure("slot_taken")),
        webhook(12, "t3", "check_availability", availability()),
    ]));
    let f = facts(&doc);
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.flags, vec![QaFlag::RepeatedToolErrors { count: 2 }]);
    let strict = AssessRules {
        repeated_tool_errors: 3,
        ..AssessRules::default()
    };
    assert!(assess(&f, &strict).flags.is_empty());
    let off = AssessRules {
        repeated_tool_errors: 0,
        ..AssessRules::default()
    };
    assert!(assess(&call_facts_without_tools(), &off).flags.is_empty());
}

fn call_facts_without_tools() -> CallFacts {
    facts(&call(opening()))
}

#[test]
fn flags_and_assessment_serialize_tagged() {
    assert_eq!(
        serde_json::to_value(QaFlag::RepeatedToolErrors { count: 3 }).unwrap(),
        json!({"type": "repeated_tool_errors", "count": 3})
    );
    assert_eq!(
        serde_json::to_value(QaFlag::CallUnsuccessful).unwrap(),
        json!({"type": "call_unsuccessful"})
    );
    let a = Assessment {
        disposition: Disposition::FollowUpNeeded,
        reasons: vec!["r".into()],
        flags: vec![QaFlag::FailedEvaluation {
            criteria: vec!["c".into()],
        }],
    };
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["disposition"], "follow_up_needed");
    assert_eq!(serde_json::from_value::<Assessment>(v).unwrap(), a);
}

#[test]
fn dispositions_name_themselves_as_serialized() {
    for d in Disposition::ALL {
        assert_eq!(serde_json::to_value(d).unwrap(), json!(d.as_str()));
        assert_eq!(d.to_string(), d.as_str());
    }
}

#[test]
fn sms_kinds_by_disposition() {
    let kinds: Vec<Option<MessageKind>> = Disposition::ALL.into_iter().map(sms_kind).collect();
    assert_eq!(
        kinds,
        vec![
            Some(MessageKind::BookingConfirmation),
            Some(MessageKind::BookingRescheduled),
            Some(MessageKind::BookingCancelled),
            Some(MessageKind::InfoRecap),
            None,
            None,
            Some(MessageKind::FollowUp),
            None,
        ]
    );
}

#[test]
fn assess_rules_default_and_partial_config() {
    assert_eq!(
        AssessRules::default(),
        AssessRules {
            abandoned_below_secs: 10,
            repeated_tool_errors: 2
        }
    );
    let r: AssessRules = serde_json::from_value(json!({"abandoned_below_secs": 15})).unwrap();
    assert_eq!(r.abandoned_below_secs, 15);
    assert_eq!(r.repeated_tool_errors, 2);
}

// --- Other events and errors ---

#[test]
fn twilio_initiation_failure() {
    let Event::InitiationFailure(f) = parse(TWILIO_FAILURE).unwrap() else {
        panic!("not an initiation failure");
    };
    assert_eq!(
        f,
        InitiationFailure {
            conversation_id: "abc".into(),
            agent_id: Some("xyz".into()),
            failure_reason: Some("busy".into()),
            call_sid: Some("CA…".into()),
            from: Some("+1…".into()),
            to: Some("+44…".into()),
            call_status: Some("busy".into()),
            sip_status: Some(487),
            event_timestamp: Some(1759931652),
        }
    );
}

#[test]
fn sip_initiation_failure() {
    let event = parse(SIP_FAILURE).unwrap();
    assert_eq!(event.kind(), INITIATION_FAILURE);
    assert_eq!(event.conversation_id(), Some("conv_01jsipfail"));
    let Event::InitiationFailure(f) = event else {
        panic!("not an initiation failure");
    };
    assert_eq!(
        f,
        InitiationFailure {
            conversation_id: "conv_01jsipfail".into(),
            agent_id: Some("agent_01jexample".into()),
            failure_reason: Some("no-answer".into()),
            call_sid: Some("sip_call_42".into()),
            from: Some("+15550001111".into()),
            to: Some("+15552223333".into()),
            call_status: Some("no-answer".into()),
            sip_status: Some(480),
            event_timestamp: Some(1759931700),
        }
    );
}

#[test]
fn an_initiation_failure_without_metadata_still_parses() {
    let doc = json!({"type": "call_initiation_failure", "event_timestamp": 1,
                     "data": {"conversation_id": "c", "metadata": "weird"}});
    let Event::InitiationFailure(f) = parse(&bytes(&doc)).unwrap() else {
        panic!("not an initiation failure");
    };
    assert_eq!(f.conversation_id, "c");
    assert_eq!(f.call_sid, None);
}

#[test]
fn audio_and_unknown_types_are_ignored() {
    assert_eq!(
        parse(AUDIO_EVENT).unwrap(),
        Event::Ignored {
            kind: AUDIO.into(),
            conversation_id: Some("abc".into())
        }
    );
    let unknown = json!({"type": "post_call_something_new", "data": {"x": [1, 2]}});
    let event = parse(&bytes(&unknown)).unwrap();
    assert_eq!(
        event,
        Event::Ignored {
            kind: "post_call_something_new".into(),
            conversation_id: None
        }
    );
    assert_eq!(event.kind(), "post_call_something_new");
    assert_eq!(event.conversation_id(), None);
}

#[test]
fn event_timestamp_is_lenient() {
    let sample: Value = serde_json::from_slice(SAMPLE).unwrap();
    for (value, wanted) in [
        (json!("1767261722"), Some(1767261722)),
        (json!(" 1767261722 "), Some(1767261722)),
        (json!(1767261722.75), Some(1767261722)),
        (json!("1767261722.5"), Some(1767261722)),
        (json!("soon"), None),
        (json!(null), None),
        (json!({"secs": 1}), None),
    ] {
        let doc = with(sample.clone(), "/event_timestamp", value.clone());
        assert_eq!(facts(&doc).event_timestamp, wanted, "{value}");
    }
    let doc = without(sample, "/event_timestamp");
    assert_eq!(facts(&doc).event_timestamp, None);
}

#[test]
fn a_missing_conversation_id_is_an_error() {
    let sample: Value = serde_json::from_slice(SAMPLE).unwrap();
    let failure: Value = serde_json::from_slice(TWILIO_FAILURE).unwrap();
    for doc in [
        without(sample.clone(), "/data/conversation_id"),
        with(sample.clone(), "/data/conversation_id", json!("")),
        with(sample.clone(), "/data/conversation_id", json!(null)),
        with(sample.clone(), "/data", json!([])),
        without(sample, "/data"),
        without(failure, "/data/conversation_id"),
    ] {
        let err = parse(&bytes(&doc)).unwrap_err();
        assert_eq!(err, PayloadError::MissingConversationId);
        assert_eq!(err.to_string(), "`data.conversation_id` is missing");
    }
    // Ignored events don't need one.
    let audio = json!({"type": "post_call_audio", "data": {"full_audio": "SUQz"}});
    assert!(matches!(
        parse(&bytes(&audio)),
        Ok(Event::Ignored {
            conversation_id: None,
            ..
        })
    ));
}

#[test]
fn a_missing_type_is_an_error() {
    let sample: Value = serde_json::from_slice(SAMPLE).unwrap();
    for doc in [
        without(sample.clone(), "/type"),
        with(sample.clone(), "/type", json!("")),
        with(sample.clone(), "/type", json!("  ")),
        with(sample, "/type", json!(7)),
    ] {
        let err = parse(&bytes(&doc)).unwrap_err();
        assert_eq!(err, PayloadError::MissingType);
        assert!(err.to_string().contains("`type`"));
    }
}

#[test]
fn a_body_that_is_not_an_object_is_an_error() {
    for body in [
        &b""[..],
        b"   ",
        b"[]",
        b"[{\"type\": \"post_call_audio\"}]",
        b"\"post_call_transcription\"",
        b"42",
        b"null",
    ] {
        assert_eq!(
            parse(body),
            Err(PayloadError::NotAnObject),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(
        PayloadError::NotAnObject.to_string(),
        "body is not a JSON object"
    );
    for body in [
        &b"{"[..],
        b"{\"type\": \"post_call_audio\",}",
        b"{\"type\": \"post_call_audio\"} trailing",
        b"{\"type\": \"\xff\"}",
    ] {
        let err = parse(body).unwrap_err();
        assert!(matches!(err, PayloadError::NotJson(_)), "{err:?}");
        assert!(err.to_string().starts_with("body is not valid JSON"));
    }
}

#[test]
fn unexpected_types_are_read_as_absent() {
    let sample: Value = serde_json::from_slice(SAMPLE).unwrap();
    let doc = with(sample.clone(), "/data/transcript", json!("oops"));
    let doc = with(doc, "/data/metadata/phone_call", json!([1, 2]));
    let doc = with(doc, "/data/metadata/call_duration_secs", json!("95"));
    let doc = with(doc, "/data/analysis/evaluation_criteria_results", json!(3));
    let doc = with(doc, "/data/agent_id", json!({"id": "x"}));
    let doc = with(doc, "/data/extra", json!({"deep": [[[{"a": null}]]]}));
    let f = facts(&doc);
    assert_eq!(f.conversation_id, "conv_01jexample");
    assert_eq!(f.agent_id, None);
    assert_eq!(f.duration_secs, Some(95));
    assert_eq!(f.caller.as_deref(), Some("+15552223333")); // from the system variables
    assert!(f.tools.is_empty() && f.evaluations.is_empty());
    assert_eq!(f.user_turns, 0);
}

// --- A large call ---

/// A realistic long call: `exchanges` caller/agent exchanges, a check_availability round trip
/// every fifth exchange, a booking at the end, with the bulky fields ElevenLabs sends (turn
/// metrics, LLM usage, tool details, RAG info).
fn large_call(exchanges: u32) -> Value {
    let metrics = |t: u32| {
        json!({"metrics": {
            "convai_llm_service_ttfb": {"elapsed_time": 0.412 + f64::from(t % 7) / 100.0},
            "convai_llm_service_ttf_sentence": {"elapsed_time": 0.733},
            "convai_tts_service_ttfb": {"elapsed_time": 0.201},
            "convai_asr_trailing_service_latency": {"elapsed_time": 0.118}
        }})
    };
    let usage = json!({"model_usage": {"gemini-2.0-flash": {
        "input": {"tokens": 5231, "price": 0.000523},
        "input_cache_read": {"tokens": 4096, "price": 0.0001},
        "input_cache_write": {"tokens": 0, "price": 0.0},
        "output_total": {"tokens": 58, "price": 0.000023}}}});
    let mut transcript = Vec::new();
    let mut t = 0;
    transcript.push(json!({"role": "agent", "agent_metadata": {"agent_id": "agent_1", "workflow_node_id": null},
        "message": "Hello, thank you for calling Smile Dental, this is the virtual receptionist. How can I help you today?",
        "tool_calls": [], "tool_results": [], "feedback": null, "llm_override": null,
        "time_in_call_secs": 0, "conversation_turn_metrics": metrics(0), "rag_retrieval_info": null,
        "llm_usage": usage, "interrupted": false, "original_message": null, "source_medium": "audio"}));
    for i in 0..exchanges {
        t += 4;
        transcript.push(json!({"role": "user", "agent_metadata": null,
            "message": format!("Question {i}: could you tell me whether the Tuesday afternoon hygiene appointments are still available, and whether Dr. Kim takes my insurance plan? I'd also like to know about parking near the office."),
            "tool_calls": [], "tool_results": [], "feedback": null, "llm_override": null,
            "time_in_call_secs": t, "conversation_turn_metrics": null, "rag_retrieval_info": null,
            "llm_usage": null, "interrupted": false, "original_message": null, "source_medium": "audio"}));
        if i % 5 == 4 {
            let id = format!("toolu_{i:04}");
            let params = json!({"service": "cleaning", "date": "2026-11-25", "staff": "Dr. Kim",
                                "conversation_id": "conv_large", "call_sid": "CA_LARGE"})
            .to_string();
            transcript.push(json!({"role": "agent", "agent_metadata": {"agent_id": "agent_1"},
                "message": null, "tool_calls": [{"type": "webhook", "request_id": id,
                    "tool_name": "check_availability", "params_as_json": params,
                    "tool_has_been_called": true, "tool_details": {"type": "webhook",
                        "method": "POST", "url": "https://api.example.com/tools/check_availability",
                        "headers": {"content-type": "application/json", "authorization": "[redacted]"},
                        "path_params": {}, "query_params": {}, "body": params}}],
                "tool_results": [], "feedback": null, "time_in_call_secs": t + 1,
                "conversation_turn_metrics": metrics(t), "llm_usage": usage}));
            let slots: Vec<Value> = (0..8)
                .map(|k| {
                    json!({"slot_id": format!("eyJzIjoiY2xlYW5pbmcifQ.{i}{k}.c2lnbmF0dXJl"),
                    "start": format!("2026-11-25T{:02}:00:00-05:00", 9 + k),
                    "end": format!("2026-11-25T{:02}:45:00-05:00", 9 + k),
                    "staff_id": "st_kim", "staff_name": "Dr. Kim",
                    "say": format!("Wednesday, November 25 at {} with Dr. Kim", 9 + k)})
                })
                .collect();
            let answer =
                json!({"ok": true, "slots": slots, "say": "I have several times on Wednesday."});
            transcript.push(json!({"role": "agent", "message": null, "tool_calls": [],
                "tool_results": [{"type": "webhook", "request_id": id, "tool_name": "check_availability",
                    "result_value": answer.to_string(), "is_error": false, "is_blocked": false,
                    "tool_has_been_called": true, "tool_latency_secs": 0.38,
                    "error_type": "", "raw_error_message": "", "dynamic_variable_updates": []}],
                "feedback": null, "time_in_call_secs": t + 2, "conversation_turn_metrics": null}));
        }
        t += 5;
        transcript.push(json!({"role": "agent", "agent_metadata": {"agent_id": "agent_1", "workflow_node_id": null},
            "message": format!("Answer {i}: yes, we still have Tuesday afternoon openings, Dr. Kim accepts most major plans including yours, and there is free parking behind the building. Is there anything else?"),
            "tool_calls": [], "tool_results": [], "feedback": null, "llm_override": null,
            "time_in_call_secs": t, "conversation_turn_metrics": metrics(t),
            "rag_retrieval_info": {"chunks": [{"document_id": "kb_faq", "chunk_id": format!("c{i}"), "vector_distance": 0.21}],
                "embedding_model": "e5_mistral_7b_instruct", "retrieval_query": "insurance parking", "rag_latency_secs": 0.09},
            "llm_usage": usage, "interrupted": false, "original_message": null, "source_medium": "audio"}));
    }
    let mut doc = call(transcript);
    doc["data"]["transcript"]
        .as_array_mut()
        .unwrap()
        .extend(webhook(
            t + 3,
            "toolu_book",
            "create_booking",
            booked("BIG1", NOV25),
        ));
    doc["data"]["conversation_id"] = json!("conv_large");
    doc["data"]["metadata"]["call_duration_secs"] = json!(t + 10);
    doc["data"]["metadata"]["cost"] = json!(4180);
    doc["data"]["metadata"]["charging"] =
        json!({"dev_discount": false, "tier": "pro", "llm_price": 0.0123, "llm_charge": 112});
    doc["data"]["metadata"]["features_usage"] = json!({"language_detection": {"enabled": false, "used": false},
        "transfer_to_agent": {"enabled": false, "used": false}, "is_livekit": false});
    doc["data"]["conversation_initiation_client_data"] = json!({
        "conversation_config_override": {"agent": {"prompt": null, "first_message": null, "language": "en"}},
        "dynamic_variables": {"system__caller_id": "+15552223333", "system__called_number": "+15550001111",
            "system__call_sid": "CA1", "system__conversation_id": "conv_large", "system__time_utc": "2026-11-20T15:00:00Z"}});
    doc
}

#[test]
fn a_large_call_parses() {
    let doc = large_call(80);
    let body = bytes(&doc);
    assert!(
        (150_000..400_000).contains(&body.len()),
        "the generator makes {} bytes",
        body.len()
    );
    let f = facts_of(&body);
    assert_eq!(f.conversation_id, "conv_large");
    assert_eq!(f.user_turns, 80);
    assert_eq!(f.agent_turns, 81);
    assert_eq!(f.tools.len(), 17);
    assert!(f.tools.iter().all(|t| t.ok && t.latency_ms.is_some()));
    assert_eq!(
        f.booking.as_ref().map(|b| b.booking_id.as_str()),
        Some("BIG1")
    );
    assert_eq!(
        assess(&f, &AssessRules::default()).disposition,
        Disposition::Booked
    );
    // What is stored is a small fraction of the body.
    let stored = serde_json::to_vec(&f).unwrap();
    assert!(
        stored.len() < body.len() / 20,
        "{} bytes stored",
        stored.len()
    );
}

/// `cargo test --release -p frontdesk-rules postcall::tests::speed -- --ignored --nocapture`
#[test]
#[ignore = "timing; run in release"]
fn speed_against_a_value_parse() {
    let body = bytes(&large_call(80));
    let runs = 50;
    // The best of several interleaved batches, to resist a busy machine.
    let (mut ours, mut value) = (std::time::Duration::MAX, std::time::Duration::MAX);
    let mut skim = std::time::Duration::MAX;
    for _ in 0..10 {
        let start = std::time::Instant::now();
        for _ in 0..runs {
            let v = serde_json::from_slice::<IgnoredAny>(std::hint::black_box(&body)).unwrap();
            std::hint::black_box(v);
        }
        skim = skim.min(start.elapsed() / runs);
        let start = std::time::Instant::now();
        for _ in 0..runs {
            let facts = facts_of(std::hint::black_box(&body));
            std::hint::black_box(assess(&facts, &AssessRules::default()));
        }
        ours = ours.min(start.elapsed() / runs);
        let start = std::time::Instant::now();
        for _ in 0..runs {
            let v = serde_json::from_slice::<Value>(std::hint::black_box(&body)).unwrap();
            std::hint::black_box(v);
        }
        value = value.min(start.elapsed() / runs);
    }
    println!(
        "{} KB: parse+assess {ours:?}/call, Value {value:?}/call, ratio {:.2} \
         (skipping the whole body: {skim:?})",
        body.len() / 1024,
        ours.as_secs_f64() / value.as_secs_f64()
    );
    assert!(ours < value);
}

// --- Properties ---

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1.0e12f64..1.0e12).prop_map(Value::from),
        "[ -~\u{e9}\u{2026}]{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON pointers of every value in `doc`.
fn pointers(doc: &Value, at: String, out: &mut Vec<String>) {
    match doc {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[ -~\u{e9}]{0,12}")
}

/// JSON values that survive a text round trip exactly (floats with few binary digits).
fn stored_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<i32>().prop_map(|n| Value::from(f64::from(n) / 8.0)),
        "[ -~]{0,12}".prop_map(Value::from),
        prop::collection::vec(any::<i32>().prop_map(Value::from), 0..3).prop_map(Value::Array),
    ]
}

fn tool_use() -> impl Strategy<Value = ToolUse> {
    (
        "[a-z_]{1,12}",
        "[a-z]{0,8}",
        "[a-z0-9_]{0,8}",
        any::<bool>(),
        text(),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(name, kind, request_id, ok, error, latency_ms)| ToolUse {
            name,
            kind,
            request_id,
            ok,
            error,
            latency_ms,
        })
}

fn booking_fact() -> impl Strategy<Value = BookingFact> {
    (
        prop_oneof![
            Just(BookingAction::Booked),
            Just(BookingAction::Rescheduled),
            Just(BookingAction::Cancelled)
        ],
        "[A-Z0-9]{8}",
        text(),
        text(),
        text(),
        text(),
        text(),
    )
        .prop_map(
            |(
                action,
                booking_id,
                service_name,
                staff_name,
                start,
                customer_name,
                customer_phone,
            )| {
                BookingFact {
                    action,
                    booking_id,
                    service_name,
                    staff_name,
                    start,
                    customer_name,
                    customer_phone,
                }
            },
        )
}

fn evaluation() -> impl Strategy<Value = Evaluation> {
    (
        "[a-z_]{1,10}",
        "(success|failure|unknown)",
        text(),
        proptest::option::of(any::<i16>().prop_map(|n| f64::from(n) / 4.0)),
        proptest::option::of(Just(5.0)),
    )
        .prop_map(|(id, result, rationale, score, max_score)| Evaluation {
            id,
            result,
            rationale,
            score,
            max_score,
        })
}

fn call_facts_strategy() -> impl Strategy<Value = CallFacts> {
    (
        (
            "[a-z0-9_]{1,16}",
            text(),
            text(),
            proptest::option::of(any::<i64>()),
            text(),
            text(),
            text(),
            text(),
        ),
        (
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<u32>()),
            text(),
            proptest::option::of((proptest::option::of(any::<i64>()), text())),
            text(),
            text(),
            text(),
            text(),
        ),
        (
            prop::collection::vec(evaluation(), 0..3),
            prop::collection::btree_map("[a-z_]{1,10}", stored_value(), 0..4),
            prop::collection::vec(tool_use(), 0..4),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(any::<u32>()),
            prop::collection::vec(booking_fact(), 0..3),
            proptest::option::of(("[a-z_]{1,12}", text(), text())),
            any::<bool>(),
            text(),
        ),
    )
        .prop_map(|(a, b, c)| {
            let (
                conversation_id,
                agent_id,
                status,
                event_timestamp,
                call_sid,
                direction,
                caller,
                called,
            ) = a;
            let (
                started_at,
                duration_secs,
                termination_reason,
                error,
                main_language,
                call_successful,
                summary,
                summary_title,
            ) = b;
            let (
                evaluations,
                data,
                tools,
                user_turns,
                agent_turns,
                last_turn_secs,
                booking_actions,
                transfer,
                voicemail_detected,
                end_call_reason,
            ) = c;
            CallFacts {
                conversation_id,
                agent_id,
                status,
                event_timestamp,
                call_sid,
                direction,
                caller,
                called,
                started_at,
                duration_secs,
                termination_reason,
                error: error.map(|(code, reason)| CallError { code, reason }),
                main_language,
                call_successful,
                summary,
                summary_title,
                evaluations,
                data,
                tools,
                user_turns,
                agent_turns,
                last_turn_secs,
                booking: booking_actions.last().cloned(),
                booking_actions,
                transfer: transfer.map(|(tool, number, reason)| Transfer {
                    tool,
                    number,
                    reason,
                }),
                voicemail_detected,
                end_call_reason,
                voicemail: None,
            }
        })
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&body);
    }

    #[test]
    fn parse_never_panics_on_object_like_bytes(
        body in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        let mut bytes = b"{\"type\":\"post_call_transcription\",\"data\":{".to_vec();
        bytes.extend(body);
        let _ = parse(&bytes);
    }

    #[test]
    fn truncated_samples_are_rejected_without_panic(cut in 0..SAMPLE.len()) {
        let end = SAMPLE.iter().rposition(|&b| b == b'}').unwrap();
        let result = parse(&SAMPLE[..cut]);
        if cut <= end {
            prop_assert!(result.is_err(), "{cut}: {result:?}");
        }
    }

    #[test]
    fn flipped_bytes_never_panic(
        flips in prop::collection::vec((0..SAMPLE.len(), any::<u8>()), 1..8)
    ) {
        let mut body = SAMPLE.to_vec();
        for (at, byte) in flips {
            body[at] = byte;
        }
        if let Ok(Event::Transcription(facts)) = parse(&body) {
            let _ = assess(&facts, &AssessRules::default());
        }
    }

    #[test]
    fn any_value_anywhere_but_the_keys_is_tolerated(
        pick in any::<prop::sample::Index>(),
        value in json_value(),
    ) {
        let sample: Value = serde_json::from_slice(SAMPLE).unwrap();
        let mut all = Vec::new();
        pointers(&sample, String::new(), &mut all);
        let essential = ["/type", "/data", "/data/conversation_id"];
        let all: Vec<String> = all.into_iter().filter(|p| !essential.contains(&p.as_str())).collect();
        let pointer = &all[pick.index(all.len())];
        let mut doc = sample;
        *doc.pointer_mut(pointer).unwrap() = value;
        let facts = facts_of(&bytes(&doc));
        prop_assert_eq!(facts.conversation_id, "conv_01jexample");
    }

    #[test]
    fn call_facts_round_trip_through_json(facts in call_facts_strategy()) {
        let text = serde_json::to_string(&facts).unwrap();
        let back: CallFacts = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, facts);
    }

    #[test]
    fn parsed_facts_round_trip_through_json(
        flips in prop::collection::vec((0..SAMPLE.len(), 0x20u8..0x7f), 0..4)
    ) {
        let mut body = SAMPLE.to_vec();
        for (at, byte) in flips {
            body[at] = byte;
        }
        if let Ok(Event::Transcription(facts)) = parse(&body) {
            let text = serde_json::to_string(&facts).unwrap();
            let back: CallFacts = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, facts);
        }
    }
}

#[test]
fn sample_and_large_facts_round_trip() {
    for f in [facts_of(SAMPLE), facts(&large_call(20))] {
        let back: CallFacts = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
    }
}

#[test]
fn a_left_voicemail_wins_and_gets_the_voicemail_recap() {
    let mut f = CallFacts {
        conversation_id: "CA0123".into(),
        user_turns: 0,
        voicemail: Some(Voicemail {
            duration_secs: Some(34),
            transcription: Some("Hi, please call me back".into()),
            ..Voicemail::default()
        }),
        ..CallFacts::default()
    };
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::Voicemail);
    assert_eq!(
        a.reasons,
        vec!["the caller left a voicemail (34 s)".to_owned()]
    );
    assert_eq!(
        message_kind(&f, a.disposition),
        Some(crate::config::MessageKind::VoicemailRecap)
    );
    // A voicemail the agent reached (outbound) gets no text.
    f.voicemail = None;
    f.voicemail_detected = true;
    let a = assess(&f, &AssessRules::default());
    assert_eq!(a.disposition, Disposition::Voicemail);
    assert_eq!(message_kind(&f, a.disposition), None);
    // Other dispositions keep sms_kind.
    for d in Disposition::ALL {
        if d != Disposition::Voicemail {
            assert_eq!(message_kind(&f, d), sms_kind(d));
        }
    }
}

#[test]
fn voicemail_quotes_are_short_and_cut_at_a_word() {
    let vm = |t: &str| Voicemail {
        transcription: Some(t.into()),
        ..Voicemail::default()
    };
    assert_eq!(
        vm("  Call  me\nback ").quote(50).unwrap(),
        "\u{201c}Call me back\u{201d}"
    );
    assert_eq!(
        vm("I would like to move my appointment, thanks")
            .quote(20)
            .unwrap(),
        "\u{201c}I would like to move\u{2026}\u{201d}"
    );
    assert_eq!(vm("   ").quote(20), None);
    assert_eq!(Voicemail::default().quote(20), None);
}
