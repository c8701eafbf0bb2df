//! Function configuration from environment variables (set by template.yaml).

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set; it comes from template.yaml")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {why}")]
    Invalid { name: &'static str, why: String },
}

pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// An optional number of seconds, with a default.
pub fn seconds(name: &'static str, default: u64) -> Result<std::time::Duration, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(std::time::Duration::from_secs(default)),
        Ok(v) => v
            .trim()
            .parse()
            .map(std::time::Duration::from_secs)
            .map_err(|_| ConfigError::Invalid {
                name,
                why: format!("{v:?} is not a whole number of seconds"),
            }),
    }
}
