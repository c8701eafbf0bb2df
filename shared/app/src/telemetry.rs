//! Logging set-up shared by every function.

/// Installs the runtime's tracing subscriber: JSON when the function's
/// `LoggingConfig.LogFormat` is JSON (template.yaml), level from
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`. Each invocation's logs carry its
/// request id through the runtime's span.
pub fn init() {
    lambda_http::tracing::init_default_subscriber();
}
