//! Post-call ingress benchmark: what the post-call webhook does with a long call's
//! `post_call_transcription` body (~200 KB) before answering, against the cheapest thing that
//! could do the same job. Run with `cargo bench -p frontdesk-verify --bench postcall_ingress`.
//!
//! - *ours*: [`elevenlabs::verify`] of the `ElevenLabs-Signature` header, then
//!   [`postcall::parse`] and [`postcall::assess`];
//! - *baseline*: HMAC-SHA256 of `"<t>." + body` (hmac + sha2 directly, hex-encoded and compared
//!   to the header's MAC) and `serde_json::from_slice::<serde_json::Value>` of the same bytes.
//!
//! Target: ours costs at most 3 × the baseline, by the ratio of the means and of the medians.
//! The two are measured in the same run on the same bytes, in alternating batches, so a busy
//! machine slows both alike. Every run includes freeing what it allocated.
//!
//! The payload is deterministic (a linear congruential generator, no `rand`): ~160 transcript
//! turns with turn metrics, LLM usage and RAG info as ElevenLabs sends them, a dozen tool calls
//! with their `tool_details` and results (a `slot_taken` failure, then a `create_booking` that
//! books), the analysis, `metadata.phone_call` and the dynamic variables.

use std::hint::black_box;
use std::time::{Duration, Instant};

use frontdesk_rules::postcall::{self, AssessRules, Assessment, Disposition, Event};
use frontdesk_verify::elevenlabs;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const TARGET_RATIO: f64 = 3.0;
const WARM_UP: usize = 20;
/// Alternating batches of each path per round.
const ROUNDS: usize = 50;
const BATCH: usize = 10;
const RUNS: usize = ROUNDS * BATCH;
/// Caller/agent exchanges after the greeting.
const EXCHANGES: u32 = 69;
/// Tool uses the payload holds (and `parse` must find).
const TOOL_USES: usize = 12;
const SECRET: &[u8] = b"wsec_5f0c3e9a7b214d6e8a1f2c3b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a";
/// 2026-11-20T15:00:00Z, 10:00 in New York.
const START: i64 = 1_795_186_800;
const CONVERSATION: &str = "conv_01jg7x4b2k9m3n5p7q8r0s2t4v";
const AGENT: &str = "agent_01jg6w2z8y4x6v0u2t4s6r8q0p";
const CALL_SID: &str = "CA8f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c";
const CALLER: &str = "+15552223333";
const OUR_NUMBER: &str = "+15550001111";
const BOOKING_ID: &str = "bk_01jg7x9c4d6e8f0g2h4j6k8m0n";

type HmacSha256 = Hmac<Sha256>;

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

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len() as u64) as usize]
    }

    /// `min..=max` sentences of `pool`, space-separated.
    fn sentences(&mut self, pool: &[&str], min: u64, max: u64) -> String {
        let n = min + self.next(max - min + 1);
        (0..n)
            .map(|_| self.pick(pool))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

const CALLER_LINES: &[&str] = &[
    "Hi, yes, I was hoping to book a cleaning for myself sometime next week if you have anything.",
    "I'm usually free in the mornings before work, so anything before eleven would be ideal.",
    "Does Dr. Kim still do the hygiene appointments, or is it someone else now?",
    "I think my insurance changed in September, it's Delta Dental PPO through my new employer.",
    "Oh, and is there still free parking behind the building, or do I need to use the garage?",
    "Sorry, could you repeat that last time? The line cut out for a second.",
    "Wednesday could work, but I'd need to be out by ten fifteen at the latest.",
    "My daughter might need a check-up too, but let's just do mine for now.",
    "How long does a regular cleaning usually take, about forty-five minutes?",
    "I had some sensitivity on the lower left side, should I mention that when I come in?",
    "Okay, that sounds good. What do I need to bring with me?",
    "It's Ana Lopez, A-N-A, and Lopez with a Z at the end.",
    "The best number to reach me is the one I'm calling from.",
    "Hmm, that one was taken? That's fine, what else do you have that morning?",
    "Perfect, let's go with that one then.",
    "Will I get a text reminder the day before? I always forget these things.",
    "Can I also ask how much a whitening session costs if insurance doesn't cover it?",
    "No, I think that's everything. Thank you so much for your help.",
    "Actually, one more thing: do you open early on Saturdays at all?",
    "Got it. And if I need to cancel, how much notice do you need?",
];

const AGENT_LINES: &[&str] = &[
    "Of course, I'd be happy to help you with that.",
    "Let me check what we have available for a cleaning next week.",
    "Dr. Kim is still seeing hygiene patients on Tuesdays, Wednesdays and Thursdays, and our hygienist Maria covers Mondays and Fridays.",
    "We are in network with Delta Dental PPO, so a routine cleaning is usually covered twice a year; the front desk will confirm your benefits before the visit.",
    "Yes, there is still free parking behind the building; the entrance is on Maple Street, just past the pharmacy.",
    "A regular cleaning takes about forty-five minutes, and if you're due for X-rays we add about fifteen minutes.",
    "I'm sorry, that time was just taken by someone else a moment ago.",
    "I have a few other openings that morning: nine, nine thirty and ten o'clock.",
    "Absolutely, please mention the sensitivity to the hygienist and she will take a closer look.",
    "Please bring your insurance card and a photo ID, and try to arrive about ten minutes early to update your forms.",
    "You'll get a text message confirming the appointment right after this call, and a reminder the day before.",
    "Whitening is one hundred and ninety-five dollars per session when it isn't covered, and we often run a spring special.",
    "We're open from eight to two on Saturdays, but those appointments fill up a few weeks in advance.",
    "If you need to cancel or move the appointment, please let us know at least twenty-four hours ahead.",
    "Could I have your full name as it appears on your insurance card, please?",
    "Thank you, I have that noted.",
    "Is there anything else I can help you with today?",
    "Just to confirm, that's a cleaning with Dr. Kim on Wednesday, November twenty-fifth at nine in the morning.",
    "I can see you've been with us since twenty twenty-two, welcome back.",
    "No problem at all, take your time.",
];

/// An ElevenLabs `post_call_transcription` body of a ~15-minute inbound receptionist call.
fn payload() -> Vec<u8> {
    let mut lcg = Lcg(2026);
    let mut transcript = Vec::new();
    let mut t: u32 = 0;
    transcript.push(agent_turn(
        &mut lcg,
        0,
        "Hello, thank you for calling Smile Dental on Maple Street, this is the virtual receptionist. How can I help you today?",
    ));
    let mut tool = 0;
    for i in 0..EXCHANGES {
        t += 3 + lcg.next(4) as u32;
        let said = lcg.sentences(CALLER_LINES, 1, 4);
        transcript.push(user_turn(&mut lcg, t, &said));
        if let Some(call) = tool_call_at(i) {
            tool += 1;
            let id = request_id(&mut lcg, tool);
            transcript.extend(tool_turns(&mut lcg, &mut t, &id, call));
        }
        t += 4 + lcg.next(9) as u32;
        let answer = lcg.sentences(AGENT_LINES, 2, 5);
        transcript.push(agent_turn(&mut lcg, t, &answer));
    }
    t += 2;
    tool += 1;
    let id = request_id(&mut lcg, tool);
    transcript.extend(tool_turns(&mut lcg, &mut t, &id, ToolCall::EndCall));
    assert_eq!(tool, TOOL_USES);
    let duration = t + 3;

    let doc = json!({
        "type": "post_call_transcription",
        "event_timestamp": START + i64::from(duration) + 41,
        "data": {
            "agent_id": AGENT,
            "agent_name": "Smile Dental front desk",
            "conversation_id": CONVERSATION,
            "status": "done",
            "user_id": null,
            "branch_id": null,
            "version_id": null,
            "transcript": transcript,
            "metadata": metadata(duration),
            "analysis": analysis(),
            "conversation_initiation_client_data": client_data(duration),
            "has_audio": true, "has_user_audio": true, "has_response_audio": true
        }
    });
    serde_json::to_vec(&doc).expect("serializable")
}

/// An ElevenLabs tool `request_id`.
fn request_id(lcg: &mut Lcg, n: usize) -> String {
    format!("toolu_01{n:02}{:016x}", lcg.next(u64::MAX >> 1))
}

/// `data.metadata` of the call.
fn metadata(duration: u32) -> Value {
    json!({
        "start_time_unix_secs": START,
        "accepted_time_unix_secs": START,
        "call_duration_secs": duration,
        "cost": 4_180,
        "cost_fiat": null,
        "deletion_settings": {"deletion_time_unix_secs": START + 730 * 86_400,
            "deleted_logs_at_time_unix_secs": null, "deleted_audio_at_time_unix_secs": null,
            "deleted_transcript_at_time_unix_secs": null, "delete_transcript_and_pii": false,
            "delete_audio": false},
        "feedback": {"overall_score": null, "likes": 0, "dislikes": 0},
        "authorization_method": "signed_url",
        "charging": {"dev_discount": false, "is_burst": false, "tier": "pro",
            "llm_usage": {"irreversible_generation": {"model_usage": {"gemini-2.0-flash": {
                "input": {"tokens": 412_318, "price": 0.0412}, "output_total": {"tokens": 4_871, "price": 0.0019}}}},
                "initiated_generation": {"model_usage": {}}},
            "llm_price": 0.0431, "llm_charge": 112, "call_charge": 4_068},
        "phone_call": {"type": "twilio", "direction": "inbound",
            "phone_number_id": "phnum_01jg5v7w9x1y3z5a7b9c1d3e5f",
            "agent_number": OUR_NUMBER, "external_number": CALLER,
            "stream_sid": "MZ4c2b0a9f8e7d6c5b4a3f2e1d0c9b8a7f", "call_sid": CALL_SID},
        "batch_call": null,
        "termination_reason": "end_call tool was called.",
        "error": null,
        "warnings": [],
        "main_language": "en",
        "rag_usage": {"usage_count": 21, "embedding_model": "e5_mistral_7b_instruct"},
        "text_only": false,
        "features_usage": {"language_detection": {"enabled": false, "used": false},
            "transfer_to_agent": {"enabled": false, "used": false},
            "transfer_to_number": {"enabled": true, "used": false},
            "multivoice": {"enabled": false, "used": false},
            "dtmf_tones": {"enabled": false, "used": false},
            "external_mcp_servers": {"enabled": false, "used": false},
            "pii_zrm_workspace": false, "pii_zrm_agent": false,
            "tool_dynamic_variable_updates": {"enabled": false, "used": false},
            "is_livekit": false, "voicemail_detection": {"enabled": true, "used": false},
            "workflow": {"enabled": false}, "agent_testing": {"enabled": false}},
        "initiator_id": null,
        "conversation_initiation_source": "twilio",
        "conversation_initiation_source_version": "1.0",
        "timezone": "America/New_York"
    })
}

/// `data.analysis`: the summary, four evaluation criteria, six data-collection values.
fn analysis() -> Value {
    json!({
        "evaluation_criteria_results": {
            "booking_completed": {"criteria_id": "booking_completed", "result": "success",
                "rationale": "The caller asked for a cleaning; after one slot was taken the agent offered alternatives and booked Wednesday, November 25 at 9:00 with Dr. Kim, confirmed by the create_booking result."},
            "request_resolved": {"criteria_id": "request_resolved", "result": "success",
                "rationale": "All questions (insurance, parking, duration, whitening price, cancellation policy, Saturday hours) were answered."},
            "polite_and_concise": {"criteria_id": "polite_and_concise", "result": "success",
                "rationale": "The agent stayed polite and answered briefly, repeating the time when the line cut out."},
            "no_medical_advice": {"criteria_id": "no_medical_advice", "result": "success",
                "rationale": "The agent referred the sensitivity question to the hygienist instead of giving advice."}
        },
        "data_collection_results": {
            "caller_name": {"data_collection_id": "caller_name", "value": "Ana Lopez",
                "json_schema": {"type": "string", "description": "The caller's full name"},
                "rationale": "The caller spelled her name: Ana Lopez."},
            "service_requested": {"data_collection_id": "service_requested", "value": "cleaning",
                "json_schema": {"type": "string", "description": "The service the caller asked for"},
                "rationale": "The caller asked for a cleaning."},
            "insurance_provider": {"data_collection_id": "insurance_provider", "value": "Delta Dental PPO",
                "json_schema": {"type": "string", "description": "The caller's dental insurance"},
                "rationale": "The caller said her insurance is Delta Dental PPO."},
            "callback_requested": {"data_collection_id": "callback_requested", "value": false,
                "json_schema": {"type": "boolean", "description": "The caller asked to be called back"},
                "rationale": "The caller did not ask for a callback."},
            "issue_resolved": {"data_collection_id": "issue_resolved", "value": true,
                "json_schema": {"type": "boolean", "description": "Everything the caller asked for was handled"},
                "rationale": "The booking was made and every question answered."},
            "caller_sentiment": {"data_collection_id": "caller_sentiment", "value": "positive",
                "json_schema": {"type": "string", "description": "positive, neutral or negative"},
                "rationale": "The caller thanked the agent several times."}
        },
        "call_successful": "success",
        "transcript_summary": "Ana Lopez, an existing patient, called to book a routine cleaning for next week, preferably in the morning. The agent found her record, updated her contact details and checked availability with Dr. Kim several times. The first slot she chose (Wednesday 9:30) was taken by the time the booking was attempted, so the agent offered the remaining morning times and booked Wednesday, November 25 at 9:00 AM with Dr. Kim. The agent also confirmed that Delta Dental PPO is in network, explained the free parking behind the building, the whitening price of $195, the 24-hour cancellation policy and the Saturday hours, and told her to mention her tooth sensitivity to the hygienist. The caller was satisfied and ended the call.",
        "call_summary_title": "Cleaning booked for Ana Lopez"
    })
}

/// `data.conversation_initiation_client_data`, with the system dynamic variables.
fn client_data(duration: u32) -> Value {
    json!({
        "conversation_config_override": {"agent": {"prompt": null, "first_message": null, "language": "en"},
            "tts": {"voice_id": null, "stability": null, "speed": null, "similarity_boost": null},
            "conversation": {"text_only": null}},
        "custom_llm_extra_body": {},
        "user_id": null,
        "source_info": {"source": "twilio", "version": null},
        "dynamic_variables": {
            "system__caller_id": CALLER, "system__called_number": OUR_NUMBER,
            "system__call_sid": CALL_SID, "system__conversation_id": CONVERSATION,
            "system__agent_id": AGENT, "system__time_utc": "2026-11-20T15:00:00Z",
            "system__timezone": "America/New_York", "system__call_duration_secs": duration,
            "business_name": "Smile Dental", "business_time_zone": "America/New_York"}
    })
}

#[derive(Clone, Copy)]
enum ToolCall {
    FindBookings,
    UpsertContact,
    CheckAvailability(u32),
    CreateBooking { taken: bool },
    LogCall,
    EndCall,
}

/// The tool the agent calls after the caller's `exchange`-th turn, if any (11 webhook calls;
/// `end_call` closes the call).
fn tool_call_at(exchange: u32) -> Option<ToolCall> {
    Some(match exchange {
        2 => ToolCall::FindBookings,
        4 => ToolCall::UpsertContact,
        9 => ToolCall::CheckAvailability(24),
        17 => ToolCall::CheckAvailability(25),
        26 => ToolCall::CheckAvailability(25),
        31 => ToolCall::CreateBooking { taken: true },
        32 => ToolCall::CheckAvailability(25),
        36 => ToolCall::CreateBooking { taken: false },
        42 => ToolCall::FindBookings,
        48 => ToolCall::CheckAvailability(27),
        64 => ToolCall::LogCall,
        _ => return None,
    })
}

fn turn_metrics(lcg: &mut Lcg) -> Value {
    let ms = |lcg: &mut Lcg, base: u64, spread: u64| (base + lcg.next(spread)) as f64 / 1000.0;
    json!({"metrics": {
        "convai_llm_service_ttfb": {"elapsed_time": ms(lcg, 380, 240)},
        "convai_llm_service_ttf_sentence": {"elapsed_time": ms(lcg, 640, 380)},
        "convai_llm_service_tt_last_sentence": {"elapsed_time": ms(lcg, 1_150, 900)},
        "convai_tts_service_ttfb": {"elapsed_time": ms(lcg, 170, 90)},
        "convai_asr_trailing_service_latency": {"elapsed_time": ms(lcg, 90, 60)}
    }})
}

/// LLM usage of an agent turn: the main model and, with LLM cascading, the backup one.
fn llm_usage(lcg: &mut Lcg) -> Value {
    let input = 5_000 + lcg.next(3_000);
    let output = 20 + lcg.next(90);
    let backup = lcg.next(4) * 600;
    json!({"model_usage": {
        "gemini-2.0-flash": {
            "input": {"tokens": input, "price": input as f64 * 1e-7},
            "input_cache_read": {"tokens": 4_096, "price": 0.000_102_4},
            "input_cache_write": {"tokens": 0, "price": 0.0},
            "output_total": {"tokens": output, "price": output as f64 * 4e-7}},
        "gpt-4o-mini": {
            "input": {"tokens": backup, "price": backup as f64 * 1.5e-7},
            "input_cache_read": {"tokens": 0, "price": 0.0},
            "input_cache_write": {"tokens": 0, "price": 0.0},
            "output_total": {"tokens": 0, "price": 0.0}}}})
}

fn user_turn(lcg: &mut Lcg, t: u32, message: &str) -> Value {
    json!({"role": "user", "agent_metadata": null, "message": message, "multivoice_message": null,
        "tool_calls": [], "tool_results": [], "feedback": null, "llm_override": null,
        "time_in_call_secs": t,
        "conversation_turn_metrics": {"metrics": {"convai_asr_trailing_service_latency":
            {"elapsed_time": (80 + lcg.next(70)) as f64 / 1000.0}}},
        "rag_retrieval_info": null, "llm_usage": null, "interrupted": false,
        "original_message": null, "source_medium": "audio"})
}

fn agent_turn(lcg: &mut Lcg, t: u32, message: &str) -> Value {
    let rag = (lcg.next(2) == 0).then(|| {
        json!({"chunks": [
            {"document_id": "kb_01jg4faq", "chunk_id": format!("chunk_{}", lcg.next(400)), "vector_distance": 0.19},
            {"document_id": "kb_01jg4insurance", "chunk_id": format!("chunk_{}", lcg.next(400)), "vector_distance": 0.27}],
            "embedding_model": "e5_mistral_7b_instruct",
            "retrieval_query": "insurance parking hours cleaning duration", "rag_latency_secs": 0.087})
    });
    json!({"role": "agent", "agent_metadata": {"agent_id": AGENT, "workflow_node_id": null},
        "message": message, "multivoice_message": null, "tool_calls": [], "tool_results": [],
        "feedback": null, "llm_override": null, "time_in_call_secs": t,
        "conversation_turn_metrics": turn_metrics(lcg), "rag_retrieval_info": rag,
        "llm_usage": llm_usage(lcg), "interrupted": lcg.next(12) == 0,
        "original_message": null, "source_medium": "audio"})
}

fn booking(id: &str, day: u32, hour: u32, minute: u32, status: &str) -> Value {
    json!({"booking_id": id, "status": status, "service_id": "cleaning",
        "service_name": "Cleaning", "staff_id": "st_kim", "staff_name": "Dr. Kim",
        "start": format!("2026-11-{day:02}T{hour:02}:{minute:02}:00-05:00"),
        "end": format!("2026-11-{day:02}T{}:00-05:00", plus_45(hour, minute)),
        "customer_name": "Ana Lopez", "customer_phone": CALLER,
        "say": format!("Cleaning with Dr. Kim on November {day} at {hour}:{minute:02}.")})
}

/// `hh:mm` 45 minutes after `hour:minute`.
fn plus_45(hour: u32, minute: u32) -> String {
    let end = hour * 60 + minute + 45;
    format!("{:02}:{:02}", end / 60, end % 60)
}

/// The tool call turn and its result turn (`end_call`: a system tool).
fn tool_turns(lcg: &mut Lcg, t: &mut u32, id: &str, call: ToolCall) -> Vec<Value> {
    let (name, params, answer) = match call {
        ToolCall::FindBookings => (
            "find_bookings",
            json!({"phone": CALLER}),
            json!({"ok": true, "phone": CALLER,
                "bookings": [booking("bk_01jf2a3b4c5d6e7f8g9h0j1k2m", 30, 14, 0, "booked")],
                "say": "I see one upcoming appointment: a cleaning on Monday, November 30 at 2 PM."}),
        ),
        ToolCall::UpsertContact => (
            "upsert_contact",
            json!({"customer_name": "Ana Lopez", "customer_phone": CALLER,
                "customer_email": "ana.lopez@example.com"}),
            json!({"ok": true, "contact": {"name": "Ana Lopez", "phone": CALLER,
                "email": "ana.lopez@example.com"}}),
        ),
        ToolCall::CheckAvailability(day) => {
            let slots: Vec<Value> = (0..10u32)
                .map(|k| {
                    let (hour, minute) = (8 + k / 3, 20 * (k % 3));
                    json!({"slot_id": format!("eyJiIjoic21pbGUiLCJzIjoiY2xlYW5pbmciLCJ0IjoiMjAyNi0xMS0{day}VDE{k}In0.{:012x}", lcg.next(1 << 47)),
                        "start": format!("2026-11-{day}T{hour:02}:{minute:02}:00-05:00"),
                        "end": format!("2026-11-{day}T{}:00-05:00", plus_45(hour, minute)),
                        "staff_id": "st_kim", "staff_name": "Dr. Kim",
                        "say": format!("November {day} at {hour}:{minute:02} in the morning with Dr. Kim")})
                })
                .collect();
            (
                "check_availability",
                json!({"service": "cleaning", "date": format!("2026-11-{day}"),
                    "time_of_day": "morning", "staff": "Dr. Kim", "max_results": 10}),
                json!({"ok": true, "today": "Friday, November 20, 2026",
                    "service": {"id": "cleaning", "name": "Cleaning", "duration_minutes": 45},
                    "range": {"from": format!("2026-11-{day}"), "to": format!("2026-11-{day}")},
                    "total_available": 10 + lcg.next(8), "slots": slots,
                    "say": format!("On November {day} I have ten openings between 8:00 and 11:00 in the morning, for example 8:00, 9:20 or 10:40.")}),
            )
        }
        ToolCall::CreateBooking { taken } => (
            "create_booking",
            json!({"slot_id": "eyJiIjoic21pbGUiLCJzIjoiY2xlYW5pbmciLCJ0IjoiMjAyNi0xMS0yNVQxNCJ9.5c1f0e9d2a7b",
                "customer_name": "Ana Lopez", "customer_phone": CALLER,
                "notes": "Existing patient; mentions sensitivity lower left."}),
            if taken {
                json!({"ok": false, "error": "slot_taken",
                    "say": "I'm sorry, that time was just taken. Would another time work?"})
            } else {
                json!({"ok": true, "booking": booking(BOOKING_ID, 25, 9, 0, "booked"),
                    "say": "You're booked for a cleaning with Dr. Kim on Wednesday, November 25 at 9 AM."})
            },
        ),
        ToolCall::LogCall => (
            "log_call",
            json!({"call_id": CONVERSATION, "disposition": "booked",
                "summary": "Booked a cleaning on Nov 25 at 9:00 with Dr. Kim."}),
            json!({"ok": true, "call_id": CONVERSATION, "disposition": "booked"}),
        ),
        ToolCall::EndCall => (
            "end_call",
            json!({"reason": "The caller's requests were handled and she said goodbye."}),
            json!({"status": "success", "reason": "The caller's requests were handled and she said goodbye."}),
        ),
    };
    let params = params.to_string();
    let system = matches!(call, ToolCall::EndCall);
    let kind = if system { "system" } else { "webhook" };
    let details = if system {
        Value::Null
    } else {
        json!({"type": "webhook", "method": "POST",
            "url": format!("https://api.smiledental.example.com/tools/{name}"),
            "headers": {"content-type": "application/json", "x-frontdesk-key": "[redacted]"},
            "path_params": {}, "query_params": {}, "body": params})
    };
    *t += 1;
    let call_turn = json!({"role": "agent", "agent_metadata": {"agent_id": AGENT, "workflow_node_id": null},
        "message": null, "multivoice_message": null,
        "tool_calls": [{"type": kind, "request_id": id, "tool_name": name,
            "params_as_json": params, "tool_has_been_called": true, "tool_details": details}],
        "tool_results": [], "feedback": null, "llm_override": null, "time_in_call_secs": *t,
        "conversation_turn_metrics": turn_metrics(lcg), "rag_retrieval_info": null,
        "llm_usage": llm_usage(lcg), "interrupted": false, "original_message": null,
        "source_medium": null});
    *t += 1;
    let latency = (150 + lcg.next(600)) as f64 / 1000.0;
    let result_turn = json!({"role": "agent", "agent_metadata": {"agent_id": AGENT, "workflow_node_id": null},
        "message": null, "multivoice_message": null, "tool_calls": [],
        "tool_results": [{"type": kind, "request_id": id, "tool_name": name,
            "result_value": answer.to_string(), "is_error": false, "is_blocked": false,
            "tool_has_been_called": true, "tool_latency_secs": latency, "error_type": "",
            "raw_error_message": "", "dynamic_variable_updates": []}],
        "feedback": null, "llm_override": null, "time_in_call_secs": *t,
        "conversation_turn_metrics": null, "rag_retrieval_info": null, "llm_usage": null,
        "interrupted": false, "original_message": null, "source_medium": null});
    vec![call_turn, result_turn]
}

// ------------------------------------------------------------------------------ the paths

/// Ours: the signature check, the lenient parse into call facts, the disposition.
fn ours(header: &str, body: &[u8], now: i64) -> (Disposition, usize) {
    elevenlabs::verify(Some(header), body, &[SECRET], now).expect("the signature verifies");
    let Event::Transcription(facts) = postcall::parse(body).expect("the body parses") else {
        panic!("not a transcription");
    };
    let assessment = postcall::assess(&facts, &AssessRules::default());
    (assessment.disposition, facts.tools.len())
}

/// Baseline: HMAC-SHA256 of `"<t>." + body`, hex, compared with the header's MAC (plain `==`);
/// then a `serde_json::Value` of the body.
fn baseline(timestamp: &str, v0: &str, body: &[u8]) -> bool {
    let hex_mac = hmac_hex(timestamp, body);
    let value: Value = serde_json::from_slice(body).expect("the body is JSON");
    hex_mac == v0.as_bytes() && value.is_object()
}

fn hmac_hex(timestamp: &str, body: &[u8]) -> [u8; 64] {
    let mut mac = HmacSha256::new_from_slice(SECRET).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let mut hex_mac = [0u8; 64];
    hex::encode_to_slice(mac.finalize().into_bytes(), &mut hex_mac).expect("64 hex digits");
    hex_mac
}

// ------------------------------------------------------------------------------ measuring

/// Times one call of `f`, including dropping what it returns.
fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let started = Instant::now();
    let out = f();
    drop(black_box(out));
    started.elapsed()
}

struct Stats {
    mean: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut times: Vec<Duration>) -> Stats {
        times.sort_unstable();
        let n = times.len();
        let percentile = |p: f64| times[((n as f64 * p).ceil() as usize).clamp(1, n) - 1];
        Stats {
            mean: times.iter().sum::<Duration>() / n as u32,
            p50: percentile(0.50),
            p99: percentile(0.99),
            max: times[n - 1],
        }
    }

    fn line(&self) -> String {
        format!(
            "mean {:.0} µs, p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
            micros(self.mean),
            micros(self.p50),
            micros(self.p99),
            micros(self.max)
        )
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let body = payload();
    let doc: Value = serde_json::from_slice(&body).expect("the payload is JSON");
    let turns = doc["data"]["transcript"].as_array().map_or(0, Vec::len);
    let now = doc["event_timestamp"].as_i64().expect("event_timestamp") + 2;
    let header = elevenlabs::sign(SECRET, now - 1, &body);
    let parsed = elevenlabs::parse_header(&header).expect("our own header parses");
    let (timestamp, v0) = (parsed.timestamp_text, parsed.v0);
    drop(doc);

    // The measured paths must succeed, not take an error path.
    elevenlabs::verify(Some(&header), &body, &[SECRET], now).expect("the signature verifies");
    assert_eq!(
        elevenlabs::verify(Some(&header), &body, &[b"wsec_other"], now),
        Err(frontdesk_verify::SignatureError::Mismatch),
        "a wrong secret is rejected"
    );
    let Event::Transcription(facts) = postcall::parse(&body).expect("the body parses") else {
        panic!("not a transcription");
    };
    assert_eq!(facts.conversation_id, CONVERSATION);
    assert_eq!(facts.tools.len(), TOOL_USES, "{:#?}", facts.tools);
    assert_eq!(facts.tools.iter().filter(|t| t.failed()).count(), 1);
    assert_eq!(facts.call_sid.as_deref(), Some(CALL_SID));
    assert_eq!(
        facts.booking.as_ref().map(|b| b.booking_id.as_str()),
        Some(BOOKING_ID)
    );
    let rules = AssessRules::default();
    let assessment: Assessment = postcall::assess(&facts, &rules);
    assert_eq!(
        assessment.disposition,
        Disposition::Booked,
        "{assessment:#?}"
    );
    assert!(assessment.flags.is_empty(), "{assessment:#?}");
    assert_eq!(ours(&header, &body, now), (Disposition::Booked, TOOL_USES));
    assert!(baseline(timestamp, v0, &body), "the baseline MAC matches");

    let run_ours = || {
        let out = ours(black_box(&header), black_box(&body), black_box(now));
        assert_eq!(out.1, TOOL_USES);
        out
    };
    let run_baseline = || {
        assert!(baseline(
            black_box(timestamp),
            black_box(v0),
            black_box(&body)
        ))
    };

    for _ in 0..WARM_UP {
        time(run_ours);
        time(run_baseline);
    }
    // Alternating batches, the order flipped every round.
    let (mut ours_times, mut baseline_times) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
    for round in 0..ROUNDS {
        for side in [round % 2, 1 - round % 2] {
            for _ in 0..BATCH {
                if side == 0 {
                    ours_times.push(time(run_ours));
                } else {
                    baseline_times.push(time(run_baseline));
                }
            }
        }
    }
    let (ours_stats, baseline_stats) = (Stats::of(ours_times), Stats::of(baseline_times));

    // Breakdown, interleaved the same way (each part alone).
    let mut parts: [Vec<Duration>; 5] = Default::default();
    for round in 0..ROUNDS {
        for k in 0..parts.len() {
            let part = (k + round) % parts.len();
            for _ in 0..BATCH {
                parts[part].push(match part {
                    0 => time(|| {
                        elevenlabs::verify(
                            Some(black_box(&header)),
                            black_box(&body),
                            &[SECRET],
                            now,
                        )
                        .expect("verifies")
                    }),
                    1 => time(|| postcall::parse(black_box(&body)).expect("parses")),
                    2 => time(|| postcall::assess(black_box(&facts), &rules)),
                    3 => time(|| hmac_hex(black_box(timestamp), black_box(&body))),
                    _ => time(|| serde_json::from_slice::<Value>(black_box(&body)).expect("JSON")),
                });
            }
        }
    }
    let [verify_p, parse_p, assess_p, hmac_p, value_p] = parts.map(|p| Stats::of(p).p50);

    let mean_ratio = ours_stats.mean.as_secs_f64() / baseline_stats.mean.as_secs_f64();
    let p50_ratio = ours_stats.p50.as_secs_f64() / baseline_stats.p50.as_secs_f64();
    println!(
        "post-call ingress: post_call_transcription body of {} bytes ({:.1} KiB), {turns} transcript turns \
         ({} caller, {} agent messages), {} tool uses, disposition {}",
        body.len(),
        body.len() as f64 / 1024.0,
        facts.user_turns,
        facts.agent_turns,
        facts.tools.len(),
        assessment.disposition
    );
    println!(
        "  interleaved: {ROUNDS} rounds of {BATCH}-run batches, {RUNS} runs per path after {WARM_UP} warm-up runs"
    );
    println!(
        "  ours     (verify + parse + assess):            {}",
        ours_stats.line()
    );
    println!(
        "  baseline (HMAC-SHA256 hex + Value parse):      {}",
        baseline_stats.line()
    );
    println!("  ratio ours / baseline: mean {mean_ratio:.2}, p50 {p50_ratio:.2}");
    println!(
        "  breakdown of ours (p50): verify {:.0} µs, parse {:.0} µs, assess {:.1} µs",
        micros(verify_p),
        micros(parse_p),
        micros(assess_p)
    );
    println!(
        "  breakdown of baseline (p50): HMAC-SHA256 hex {:.0} µs, serde_json::Value parse {:.0} µs",
        micros(hmac_p),
        micros(value_p)
    );
    let pass = mean_ratio <= TARGET_RATIO && p50_ratio <= TARGET_RATIO;
    println!(
        "  target: ours ≤ {TARGET_RATIO:.0} × baseline (mean and p50 ratios): {}",
        if pass { "PASS" } else { "FAIL" }
    );
}
