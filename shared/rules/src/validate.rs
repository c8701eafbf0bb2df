//! Parsing and validation of business configuration documents.
//!
//! [`parse_business_config`] turns a request body into a [`BusinessConfig`] in two stages:
//! each top-level section is deserialized on its own (unknown fields and type errors), then
//! the semantic rules run on every section that could be read. All problems of both stages
//! come back together, each with the JSON pointer of the offending value.

mod parse;
mod rules;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use parse::parse_business_config;

use crate::config::BusinessConfig;

/// One problem with one field.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// RFC 6901 JSON pointer into the request body (e.g. `/hours/monday/1/close`), `""` for
    /// the whole document.
    pub pointer: String,
    /// What is wrong and how to fix it, for the operator.
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

impl BusinessConfig {
    /// Checks the business rules; an empty list means the configuration is valid.
    pub fn validate(&self) -> Vec<FieldError> {
        rules::check(&rules::Sections::from(self))
    }
}
