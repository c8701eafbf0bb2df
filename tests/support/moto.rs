//! The AWS endpoint (moto) the integration tests run against.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, SdkConfig};

/// `AWS_ENDPOINT_URL`; panics with instructions when unset, so tests never touch real AWS.
pub fn endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: these tests need moto. Run them with `scripts/test` \
             (or `source scripts/lib.sh && start_moto` first)."
        ),
    }
}

/// SDK configuration for moto (from the environment, after checking `AWS_ENDPOINT_URL`).
pub async fn sdk_config() -> SdkConfig {
    endpoint();
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// A stack name no other test (or earlier run) uses: `t<prefix>-<pid>-<n>-<random>`.
pub fn unique_stack_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let clean: String = prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(16)
        .collect();
    let random = &uuid::Uuid::new_v4().simple().to_string()[..8];
    format!(
        "t{clean}-{}-{}-{random}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The workspace root (where template.yaml is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}
