//! Pure business rules of frontdesk: the business configuration model, its validation, and
//! `{{variable}}` templates. No I/O, no AWS types.

pub mod call_entry;
pub mod config;
pub mod dates;
pub mod locks;
pub mod phone;
pub mod postcall;
pub mod slots;
pub mod sms;
pub mod speak;
pub mod template;
pub mod twiml;
pub mod validate;

pub use config::*;
pub use validate::{FieldError, parse_business_config};
