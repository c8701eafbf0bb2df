//! AWS SDK clients, built once per container from one shared configuration.
//!
//! The configuration comes from the standard environment: region and
//! credentials from the Lambda role, and `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT_URL_<SERVICE>`) when running against the local stack. No
//! endpoint is hard-coded, so the same binary talks to moto locally and to
//! real AWS when deployed.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::secrets::{CachedSecrets, SecretsManager};

pub struct AwsClients {
    config: SdkConfig,
}

impl AwsClients {
    pub async fn from_env() -> Self {
        Self {
            config: aws_config::load_defaults(BehaviorVersion::latest()).await,
        }
    }

    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }

    /// Secrets Manager behind a per-container cache (`SECRETS_CACHE_SECONDS`, default 300).
    /// The client is cheap to build; no secret is fetched until first use.
    pub fn cached_secrets(&self) -> Arc<CachedSecrets> {
        let ttl = crate::env::seconds(
            "SECRETS_CACHE_SECONDS",
            CachedSecrets::DEFAULT_TTL.as_secs(),
        )
        .unwrap_or(CachedSecrets::DEFAULT_TTL);
        Arc::new(CachedSecrets::new(
            Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
                &self.config,
            ))),
            ttl,
        ))
    }
}
