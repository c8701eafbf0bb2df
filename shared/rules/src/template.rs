//! `{{variable}}` templates for greetings and text messages.
//!
//! A template is plain text with variables written `{{name}}` or `{{ name }}`. Names are
//! ASCII letters, digits and underscores, not starting with a digit. Every `{{` opens a
//! variable (there is no escape); a `}}` outside a variable is plain text. Values are inserted
//! as they are and never re-read as template syntax.

use thiserror::Error;

/// Why a template can't be read or rendered. Positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("`{{{{` at position {position} is never closed with `}}}}`")]
    Unclosed { position: usize },
    #[error("`{{{{}}}}` at position {position} has no variable name between the braces")]
    Empty { position: usize },
    #[error(
        "`{{{{{name}}}}}` at position {position} is not a valid variable name; use letters, digits and underscores, such as `{{{{customer_name}}}}`"
    )]
    InvalidName { name: String, position: usize },
    #[error("no value for variable `{{{{{name}}}}}`")]
    Missing { name: String },
}

enum Segment<'a> {
    Text(&'a str),
    Variable(&'a str),
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn segments(template: &str) -> Result<Vec<Segment<'_>>, TemplateError> {
    let position = |byte: usize| template[..byte].chars().count() + 1;
    let mut segments = Vec::new();
    let mut rest_start = 0;
    while let Some(found) = template[rest_start..].find("{{") {
        let open = rest_start + found;
        if open > rest_start {
            segments.push(Segment::Text(&template[rest_start..open]));
        }
        let inner_start = open + 2;
        let inner_len = template[inner_start..]
            .find("}}")
            .ok_or(TemplateError::Unclosed {
                position: position(open),
            })?;
        let name = template[inner_start..inner_start + inner_len].trim_matches(' ');
        if name.is_empty() {
            return Err(TemplateError::Empty {
                position: position(open),
            });
        }
        if !is_valid_name(name) {
            return Err(TemplateError::InvalidName {
                name: name.to_owned(),
                position: position(open),
            });
        }
        segments.push(Segment::Variable(name));
        rest_start = inner_start + inner_len + 2;
    }
    if rest_start < template.len() {
        segments.push(Segment::Text(&template[rest_start..]));
    }
    Ok(segments)
}

/// The variable names a template uses, each once, in order of first use.
pub fn variables(template: &str) -> Result<Vec<String>, TemplateError> {
    let mut names: Vec<String> = Vec::new();
    for segment in segments(template)? {
        if let Segment::Variable(name) = segment
            && !names.iter().any(|known| known == name)
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Fills in every variable with `vars(name)`; a variable without a value is an error.
pub fn render(
    template: &str,
    vars: &impl Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    for segment in segments(template)? {
        match segment {
            Segment::Text(text) => out.push_str(text),
            Segment::Variable(name) => {
                let value = vars(name).ok_or_else(|| TemplateError::Missing {
                    name: name.to_owned(),
                })?;
                out.push_str(&value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(name: &str) -> Option<String> {
        match name {
            "business_name" => Some("Smile Dental".into()),
            "customer_name" => Some("Ana".into()),
            "summary" => Some("{{business_name}} is open until 5".into()),
            "empty" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn variables_are_listed_once_in_order_of_first_use() {
        let names = variables("Hi {{customer_name}}, {{ business_name }} {{customer_name}}{{x}}");
        assert_eq!(names.unwrap(), ["customer_name", "business_name", "x"]);
    }

    #[test]
    fn text_without_variables_has_none() {
        assert_eq!(variables("").unwrap(), Vec::<String>::new());
        assert_eq!(variables("a } b }} c { d").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn render_substitutes_variables_with_and_without_spaces() {
        let out = render(
            "Hi {{customer_name}}, welcome to {{  business_name }}!",
            &values,
        );
        assert_eq!(out.unwrap(), "Hi Ana, welcome to Smile Dental!");
    }

    #[test]
    fn render_keeps_text_at_both_ends_and_adjacent_variables() {
        let out = render("{{customer_name}}{{business_name}}.", &values).unwrap();
        assert_eq!(out, "AnaSmile Dental.");
        assert_eq!(render("[{{empty}}]", &values).unwrap(), "[]");
        assert_eq!(
            render("no variables }}", &values).unwrap(),
            "no variables }}"
        );
    }

    #[test]
    fn rendered_values_are_not_expanded_again() {
        let out = render("Recap: {{summary}}", &values).unwrap();
        assert_eq!(out, "Recap: {{business_name}} is open until 5");
    }

    #[test]
    fn unclosed_braces_report_their_character_position() {
        let error = variables("Café {{customer_name").unwrap_err();
        assert_eq!(error, TemplateError::Unclosed { position: 6 });
        assert_eq!(
            error.to_string(),
            "`{{` at position 6 is never closed with `}}`"
        );
        assert_eq!(
            variables("{{a}} {{b}").unwrap_err(),
            TemplateError::Unclosed { position: 7 }
        );
    }

    #[test]
    fn empty_braces_are_an_error() {
        assert_eq!(
            variables("Hi {{}}").unwrap_err(),
            TemplateError::Empty { position: 4 }
        );
        assert_eq!(
            variables("{{   }}").unwrap_err(),
            TemplateError::Empty { position: 1 }
        );
    }

    #[test]
    fn invalid_names_are_an_error() {
        for (template, name) in [
            ("{{first name}}", "first name"),
            ("{{{name}}}", "{name"),
            ("{{9lives}}", "9lives"),
            ("{{ name\t}}", "name\t"),
            ("{{a {{b}}", "a {{b"),
        ] {
            let error = variables(template).unwrap_err();
            assert_eq!(
                error,
                TemplateError::InvalidName {
                    name: name.into(),
                    position: 1
                },
                "{template}"
            );
        }
        assert!(
            variables("{{first name}}")
                .unwrap_err()
                .to_string()
                .starts_with("`{{first name}}` at position 1 is not a valid variable name")
        );
    }

    #[test]
    fn render_fails_on_a_variable_without_value() {
        let error = render("Hi {{customer_name}} from {{staff}}", &values).unwrap_err();
        assert_eq!(
            error,
            TemplateError::Missing {
                name: "staff".into()
            }
        );
        assert_eq!(error.to_string(), "no value for variable `{{staff}}`");
    }

    #[test]
    fn render_reports_syntax_errors_before_missing_values() {
        let error = render("{{staff}} {{", &values).unwrap_err();
        assert_eq!(error, TemplateError::Unclosed { position: 11 });
    }
}
