//! frontdesk's handlers and adapters.
//!
//! - `admin`: the admin API handler (business configuration).
//! - `store`, `booking`: persistence traits and their DynamoDB adapters; `dynamo` runs their
//!   transactions; `idempotency` guards every write; `keys` names every key.
//! - `tools`: the in-call tool handlers (one function each).
//! - `secrets`, `auth`: Secrets Manager with a per-container cache; admin bearer tokens.
//! - `problem`: RFC 9457 problem details for every HTTP error.
//! - `aws`, `env`, `telemetry`: per-container wiring used by `functions/*/src/main.rs`.
//!
//! Pure rules (configuration model, validation, templates) live in `frontdesk-rules`.

pub mod admin;
pub mod auth;
pub mod aws;
pub mod booking;
pub mod call_entry;
pub mod dynamo;
pub mod elevenlabs;
pub mod env;
pub mod idempotency;
pub mod keys;
pub mod metrics;
pub mod postcall;
pub mod problem;
pub mod queue;
pub mod request;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod transfer;
pub mod twilio;
pub mod voice;
