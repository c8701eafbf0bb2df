//! Machine-readable descriptions of the tools: what each does and who fills each parameter
//! (the LLM from the conversation, an ElevenLabs dynamic variable, or a constant fixed at
//! provisioning). A later step renders these as ElevenLabs webhook tool definitions.

use serde::Serialize;

use super::{SECRET_HEADER, Tool};

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    String,
    Integer,
    Boolean,
}

/// Who supplies a parameter's value.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The LLM, from the conversation, guided by the description.
    Llm { description: &'static str },
    /// An ElevenLabs dynamic variable (e.g. `system__caller_id`).
    Dynamic { variable: &'static str },
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: ParamType,
    pub required: bool,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<&'static [&'static str]>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub method: &'static str,
    /// Path under the API's base URL; `{business_id}` is a constant fixed at provisioning.
    pub path: String,
    /// Header carrying the business's tool secret (an ElevenLabs secret).
    pub secret_header: &'static str,
    pub body: Vec<Param>,
}

const fn llm(
    name: &'static str,
    kind: ParamType,
    required: bool,
    description: &'static str,
) -> Param {
    Param {
        name,
        kind,
        required,
        source: Source::Llm { description },
        allowed: None,
    }
}

const fn dynamic(name: &'static str, variable: &'static str) -> Param {
    Param {
        name,
        kind: ParamType::String,
        required: false,
        source: Source::Dynamic { variable },
        allowed: None,
    }
}

fn call_params() -> Vec<Param> {
    vec![
        dynamic("conversation_id", "system__conversation_id"),
        dynamic("caller_id", "system__caller_id"),
    ]
}

pub fn spec(tool: Tool) -> ToolSpec {
    use ParamType::*;
    let mut body = match tool {
        Tool::CheckAvailability => vec![
            llm(
                "service",
                String,
                true,
                "The service the caller wants, as named by the business (e.g. \"cleaning\").",
            ),
            llm(
                "date_range",
                String,
                false,
                "Dates to search: an ISO date (2026-11-25), a range (2026-11-25..2026-11-28), or today / tomorrow / a weekday / this week / next week. Defaults to the next 7 days.",
            ),
            llm(
                "staff",
                String,
                false,
                "A staff member the caller asked for, or \"anyone\".",
            ),
            Param {
                allowed: Some(&["any", "morning", "afternoon", "evening"]),
                ..llm(
                    "time_of_day",
                    String,
                    false,
                    "Part of the day the caller prefers.",
                )
            },
            llm(
                "max_results",
                Integer,
                false,
                "How many options to offer (default 3).",
            ),
        ],
        Tool::CreateBooking => vec![
            llm(
                "slot_id",
                String,
                false,
                "The slot_id of the option the caller chose, exactly as check_availability returned it.",
            ),
            llm(
                "start",
                String,
                false,
                "Only when no slot_id: the start as ISO 8601 local time (2026-11-25T09:00); a relative day and time (tomorrow 9am) is understood too.",
            ),
            llm("service", String, false, "The service (needed with start)."),
            llm(
                "staff",
                String,
                false,
                "The staff member (optional, with start).",
            ),
            llm(
                "customer_name",
                String,
                true,
                "The caller's full name, as confirmed with them.",
            ),
            llm(
                "customer_phone",
                String,
                false,
                "A phone number the caller gives if it differs from the number they call from.",
            ),
            llm(
                "customer_email",
                String,
                false,
                "The caller's email, if they give one.",
            ),
            llm(
                "notes",
                String,
                false,
                "Anything the business should know for the appointment.",
            ),
        ],
        Tool::UpdateBooking => vec![
            llm(
                "booking_id",
                String,
                true,
                "The booking id from find_bookings or the confirmation.",
            ),
            Param {
                allowed: Some(&["reschedule", "cancel"]),
                ..llm("action", String, true, "What the caller wants.")
            },
            llm(
                "reschedule_to",
                String,
                false,
                "For reschedule: the new slot_id from check_availability (or an ISO local start time).",
            ),
            llm("reason", String, false, "Why, if the caller says."),
        ],
        Tool::FindBookings => vec![llm(
            "phone",
            String,
            false,
            "Only if the caller's bookings are under another number than the one they call from.",
        )],
        Tool::UpsertContact => vec![
            llm("name", String, true, "The caller's full name."),
            llm(
                "phone",
                String,
                false,
                "A phone number the caller gives, if not the one they call from.",
            ),
            llm(
                "email",
                String,
                false,
                "The caller's email, if they give one.",
            ),
        ],
        Tool::LogCall => vec![
            Param {
                allowed: Some(super::handlers::DISPOSITIONS),
                ..llm(
                    "disposition",
                    String,
                    true,
                    "How the call ended for the caller.",
                )
            },
            llm(
                "summary",
                String,
                false,
                "One or two sentences on what the caller wanted and what was done.",
            ),
            dynamic("call_id", "system__conversation_id"),
        ],
        Tool::TransferCall => vec![
            Param {
                required: true,
                ..llm(
                    "reason",
                    String,
                    true,
                    "Why the caller needs a person, in a few words (it is recorded on the call).",
                )
            },
            llm(
                "transfer_number",
                String,
                false,
                "Which transfer number to use when the business has several (the one whose condition applies); leave out for the first.",
            ),
            dynamic("call_sid", "call_sid"),
        ],
    };
    body.extend(call_params());
    ToolSpec {
        name: tool.name(),
        description: match tool {
            Tool::CheckAvailability => {
                "Find open appointment times for a service. Use before offering times; offer only the returned slots, reading their `say` text."
            }
            Tool::CreateBooking => {
                "Book the slot the caller chose (its slot_id) after confirming the time and their name. Read back the `say` text."
            }
            Tool::UpdateBooking => {
                "Reschedule or cancel one of the caller's bookings (booking_id from find_bookings)."
            }
            Tool::FindBookings => {
                "List the caller's upcoming bookings (by the number they call from, unless they give another)."
            }
            Tool::UpsertContact => {
                "Save the caller's name and contact details when they give them, even without a booking."
            }
            Tool::LogCall => "Record the outcome of the call before it ends.",
            Tool::TransferCall => {
                "Transfer the caller to a person at the business when they ask for one or when a transfer condition applies. Tell the caller you are connecting them before calling it; the call leaves you when it succeeds."
            }
        },
        method: "POST",
        path: format!("/tools/{{business_id}}/{}", tool.name()),
        secret_header: SECRET_HEADER,
        body,
    }
}

pub fn all() -> Vec<ToolSpec> {
    Tool::ALL.into_iter().map(spec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_spec_with_unique_params() {
        for s in all() {
            let mut names: Vec<_> = s.body.iter().map(|p| p.name).collect();
            names.sort();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "{}", s.name);
            assert!(s.path.ends_with(s.name));
            assert!(s.body.iter().any(|p| p.name == "conversation_id"));
            assert!(serde_json::to_value(&s).is_ok());
        }
    }
}
