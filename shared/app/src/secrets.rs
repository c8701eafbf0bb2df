//! Secrets Manager behind a small trait, with a per-container cache.
//!
//! Secrets are fetched lazily on first use (never during init) and cached for
//! `ttl`, so a warm container makes no Secrets Manager call per request while a
//! rotated secret is picked up within `ttl`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::RwLock;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {0} not found")]
    NotFound(String),
    #[error("secret {0} has no string value")]
    NotAString(String),
    #[error("Secrets Manager failed for {id}: {message}")]
    Backend { id: String, message: String },
}

/// Where secret values come from.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret_string(&self, id: &str) -> Result<String, SecretError>;
}

/// AWS Secrets Manager.
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SecretSource for SecretsManager {
    async fn secret_string(&self, id: &str) -> Result<String, SecretError> {
        use aws_sdk_secretsmanager::error::SdkError;
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
        match self.client.get_secret_value().secret_id(id).send().await {
            Ok(out) => out
                .secret_string
                .ok_or_else(|| SecretError::NotAString(id.to_owned())),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), GetSecretValueError::ResourceNotFoundException(_)) =>
            {
                Err(SecretError::NotFound(id.to_owned()))
            }
            Err(e) => Err(SecretError::Backend {
                id: id.to_owned(),
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            }),
        }
    }
}

/// Caches another source's values for `ttl`.
pub struct CachedSecrets {
    inner: Arc<dyn SecretSource>,
    ttl: Duration,
    cache: RwLock<HashMap<String, (Instant, String)>>,
}

impl CachedSecrets {
    /// Default time a secret value is reused before it is fetched again.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

    pub fn new(inner: Arc<dyn SecretSource>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            cache: RwLock::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl SecretSource for CachedSecrets {
    async fn secret_string(&self, id: &str) -> Result<String, SecretError> {
        if let Some((at, value)) = self.cache.read().await.get(id)
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = self.inner.secret_string(id).await?;
        self.cache
            .write()
            .await
            .insert(id.to_owned(), (Instant::now(), value.clone()));
        Ok(value)
    }
}

/// A fixed map of secrets, for tests.
#[derive(Default)]
pub struct StaticSecrets {
    values: HashMap<String, String>,
    calls: std::sync::atomic::AtomicUsize,
}

impl StaticSecrets {
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            values: values.into_iter().collect(),
            calls: Default::default(),
        }
    }
    /// How many times a value was asked for.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn secret_string(&self, id: &str) -> Result<String, SecretError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.values
            .get(id)
            .cloned()
            .ok_or_else(|| SecretError::NotFound(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cache_reuses_value_within_ttl_and_refetches_after() {
        let source = Arc::new(StaticSecrets::new([("s".to_owned(), "v".to_owned())]));
        let cached = CachedSecrets::new(source.clone(), Duration::from_millis(50));
        assert_eq!(cached.secret_string("s").await.unwrap(), "v");
        assert_eq!(cached.secret_string("s").await.unwrap(), "v");
        assert_eq!(source.calls(), 1);
        tokio::time::sleep(Duration::from_millis(60)).await;
        cached.secret_string("s").await.unwrap();
        assert_eq!(source.calls(), 2);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let source = Arc::new(StaticSecrets::default());
        let cached = CachedSecrets::new(source.clone(), Duration::from_secs(60));
        assert!(matches!(
            cached.secret_string("x").await,
            Err(SecretError::NotFound(_))
        ));
        assert!(cached.secret_string("x").await.is_err());
        assert_eq!(source.calls(), 2);
    }
}
