//! Structural stage: reads each section, reporting unknown fields and type errors.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::FieldError;
use super::rules::{self, Sections};
use crate::config::*;

/// Parses a JSON document (the request body) into a [`BusinessConfig`] with defaults filled in.
///
/// On failure, lists every problem found: all unknown fields, the first type error of each
/// section (a section with a type error is not checked further), and all semantic errors of
/// the sections that could be read.
pub fn parse_business_config(value: Value) -> Result<BusinessConfig, Vec<FieldError>> {
    let Value::Object(document) = value else {
        return Err(vec![FieldError::new(
            "",
            format!(
                "the configuration must be a JSON object, not {}",
                describe(&value)
            ),
        )]);
    };
    let mut reader = SectionReader {
        document,
        errors: Vec::new(),
    };
    let parsed = Parsed {
        profile: reader.required("profile"),
        hours: reader.optional("hours"),
        closures: reader.optional("closures"),
        services: reader.optional("services"),
        staff: reader.optional("staff"),
        booking_rules: reader.optional("booking_rules"),
        persona: reader.optional("persona"),
        faqs: reader.optional("faqs"),
        telephony: reader.optional("telephony"),
        sms: reader.optional("sms"),
        compliance: reader.optional("compliance"),
    };
    let mut errors = reader.finish();
    errors.extend(rules::check(&parsed.sections()));
    match parsed.into_config() {
        Some(config) if errors.is_empty() => Ok(config),
        _ => Err(errors),
    }
}

/// The top-level keys of a configuration document, in documentation order.
const SECTIONS: [&str; 11] = [
    "profile",
    "hours",
    "closures",
    "services",
    "staff",
    "booking_rules",
    "persona",
    "faqs",
    "telephony",
    "sms",
    "compliance",
];

/// The sections as read; `None` for a section that failed to deserialize.
struct Parsed {
    profile: Option<Profile>,
    hours: Option<WeeklyHours>,
    closures: Option<Vec<Closure>>,
    services: Option<Vec<Service>>,
    staff: Option<Vec<Staff>>,
    booking_rules: Option<BookingRules>,
    persona: Option<Persona>,
    faqs: Option<Vec<Faq>>,
    telephony: Option<Telephony>,
    sms: Option<Sms>,
    compliance: Option<Compliance>,
}

impl Parsed {
    fn sections(&self) -> Sections<'_> {
        Sections {
            profile: self.profile.as_ref(),
            hours: self.hours.as_ref(),
            closures: self.closures.as_deref(),
            services: self.services.as_deref(),
            staff: self.staff.as_deref(),
            booking_rules: self.booking_rules.as_ref(),
            persona: self.persona.as_ref(),
            faqs: self.faqs.as_deref(),
            telephony: self.telephony.as_ref(),
            sms: self.sms.as_ref(),
            compliance: self.compliance.as_ref(),
        }
    }

    fn into_config(self) -> Option<BusinessConfig> {
        Some(BusinessConfig {
            profile: self.profile?,
            hours: self.hours?,
            closures: self.closures?,
            services: self.services?,
            staff: self.staff?,
            booking_rules: self.booking_rules?,
            persona: self.persona?,
            faqs: self.faqs?,
            telephony: self.telephony?,
            sms: self.sms?,
            compliance: self.compliance?,
        })
    }
}

/// Takes the sections out of the document one by one, collecting their errors.
struct SectionReader {
    document: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl SectionReader {
    fn required<T: DeserializeOwned + Serialize>(&mut self, key: &str) -> Option<T> {
        match self.document.remove(key) {
            Some(value) => self.read(key, value),
            None => {
                self.errors.push(FieldError::new(
                    "",
                    format!("missing field `{key}`; add the `{key}` section"),
                ));
                None
            }
        }
    }

    fn optional<T: DeserializeOwned + Serialize + Default>(&mut self, key: &str) -> Option<T> {
        match self.document.remove(key) {
            Some(value) => self.read(key, value),
            None => Some(T::default()),
        }
    }

    fn read<T: DeserializeOwned + Serialize>(&mut self, key: &str, value: Value) -> Option<T> {
        let mut ignored: Vec<Vec<String>> = Vec::new();
        let mut on_ignored = |path: serde_ignored::Path| ignored.push(ignored_segments(&path));
        let result: Result<T, _> = serde_path_to_error::deserialize(
            serde_ignored::Deserializer::new(value, &mut on_ignored),
        );

        // The section as read, defaults included, tells which fields each object accepts.
        let known = result
            .as_ref()
            .ok()
            .and_then(|section| serde_json::to_value(section).ok());
        for mut segments in ignored {
            let Some(field) = segments.pop() else {
                continue;
            };
            let expected = known
                .as_ref()
                .and_then(|known| known.pointer(&pointer(&segments)))
                .and_then(Value::as_object)
                .map(|object| {
                    let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    names
                });
            segments.insert(0, key.to_owned());
            self.errors.push(unknown_field(&segments, &field, expected));
        }

        result
            .map_err(|error| {
                let segments = std::iter::once(key.to_owned()).chain(
                    error.path().iter().filter_map(|segment| match segment {
                        serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                        serde_path_to_error::Segment::Enum { .. }
                        | serde_path_to_error::Segment::Unknown => None,
                    }),
                );
                let segments: Vec<String> = segments.collect();
                self.errors.push(FieldError::new(
                    pointer(&segments),
                    error.inner().to_string(),
                ));
            })
            .ok()
    }

    /// Reports the keys no section claimed and returns all errors found.
    fn finish(mut self) -> Vec<FieldError> {
        for key in self.document.keys() {
            self.errors
                .push(unknown_field(&[], key, Some(SECTIONS.to_vec())));
        }
        self.errors
    }
}

fn unknown_field(parent: &[String], field: &str, expected: Option<Vec<&str>>) -> FieldError {
    let mut segments = parent.to_vec();
    segments.push(field.to_owned());
    let detail = match expected {
        Some(names) if !names.is_empty() => {
            let names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
            format!(
                "unknown field `{field}`; expected one of {}",
                names.join(", ")
            )
        }
        _ => format!("unknown field `{field}`; remove it"),
    };
    FieldError::new(pointer(&segments), detail)
}

/// The keys and indexes leading to an ignored value.
fn ignored_segments(path: &serde_ignored::Path) -> Vec<String> {
    use serde_ignored::Path;
    let mut segments = Vec::new();
    let mut current = path;
    loop {
        current = match current {
            Path::Root => break,
            Path::Seq { parent, index } => {
                segments.push(index.to_string());
                parent
            }
            Path::Map { parent, key } => {
                segments.push(key.clone());
                parent
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => parent,
        };
    }
    segments.reverse();
    segments
}

/// An RFC 6901 JSON pointer from reference tokens.
fn pointer(segments: &[String]) -> String {
    segments
        .iter()
        .map(|segment| format!("/{}", segment.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_tilde_and_slash() {
        let segments = ["a/b".to_owned(), "m~n".to_owned(), "0".to_owned()];
        assert_eq!(pointer(&segments), "/a~1b/m~0n/0");
        assert_eq!(pointer(&[]), "");
    }

    #[test]
    fn sections_list_every_top_level_field() {
        let config: BusinessConfig = serde_json::from_value(serde_json::json!({
            "profile": {"name": "x", "time_zone": "UTC"}
        }))
        .unwrap();
        let serialized = serde_json::to_value(config).unwrap();
        let mut fields: Vec<&str> = serialized
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sections = SECTIONS.to_vec();
        fields.sort_unstable();
        sections.sort_unstable();
        assert_eq!(fields, sections);
    }
}
