//! Admin authentication: a bearer token compared in constant time with the
//! token(s) held in a Secrets Manager secret.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::Problem;
use crate::secrets::SecretSource;

/// Checks `Authorization: Bearer <token>` against the admin token secret.
///
/// The secret holds either the token as plain text or, during rotation, JSON
/// `{"tokens": ["old", "new"]}`. Both sides are hashed with SHA-256 and the
/// digests compared with `subtle`, so neither the content nor the length of a
/// token leaks through timing.
pub struct AdminAuth {
    secrets: Arc<dyn SecretSource>,
    secret_id: String,
}

#[derive(Debug, PartialEq)]
pub enum AuthError {
    /// No or malformed credentials, or a token that matches none: 401.
    Denied(&'static str),
    /// The secret could not be read: 503, the request may be retried.
    Unavailable(String),
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Denied(why) => Problem::unauthorized(why),
            AuthError::Unavailable(why) => {
                tracing::error!(error = %why, "admin token secret unavailable");
                Problem::unavailable("The credential store is unavailable; retry shortly.")
            }
        }
    }
}

impl AdminAuth {
    pub fn new(secrets: Arc<dyn SecretSource>, secret_id: impl Into<String>) -> Self {
        Self {
            secrets,
            secret_id: secret_id.into(),
        }
    }

    pub async fn check(&self, authorization: Option<&str>) -> Result<(), AuthError> {
        let header = authorization.ok_or(AuthError::Denied(
            "Missing Authorization header; send `Authorization: Bearer <admin token>`.",
        ))?;
        let token = bearer_token(header).ok_or(AuthError::Denied(
            "The Authorization header must use the Bearer scheme.",
        ))?;
        let secret = self
            .secrets
            .secret_string(&self.secret_id)
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        if token_matches(token, &configured_tokens(&secret)) {
            Ok(())
        } else {
            Err(AuthError::Denied("The bearer token is not valid."))
        }
    }
}

fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The accepted tokens; empty ones are never accepted.
fn configured_tokens(secret: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Rotating {
        tokens: Vec<String>,
    }
    let tokens = match serde_json::from_str::<Rotating>(secret) {
        Ok(r) => r.tokens,
        Err(_) => vec![secret.trim().to_owned()],
    };
    tokens.into_iter().filter(|t| !t.is_empty()).collect()
}

pub(crate) fn token_matches(candidate: &str, accepted: &[String]) -> bool {
    let candidate = Sha256::digest(candidate.as_bytes());
    // Compare against every token without stopping early.
    accepted
        .iter()
        .fold(subtle::Choice::from(0u8), |acc, t| {
            acc | Sha256::digest(t.as_bytes()).ct_eq(&candidate)
        })
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::StaticSecrets;

    fn auth(secret: &str) -> AdminAuth {
        AdminAuth::new(
            Arc::new(StaticSecrets::new([(
                "admin".to_owned(),
                secret.to_owned(),
            )])),
            "admin",
        )
    }

    #[tokio::test]
    async fn accepts_the_configured_token_only() {
        let a = auth("s3cret-token");
        assert_eq!(a.check(Some("Bearer s3cret-token")).await, Ok(()));
        assert_eq!(a.check(Some("bearer s3cret-token")).await, Ok(()));
        assert!(matches!(
            a.check(Some("Bearer s3cret-tokeN")).await,
            Err(AuthError::Denied(_))
        ));
        assert!(matches!(
            a.check(Some("Bearer s3cret")).await,
            Err(AuthError::Denied(_))
        ));
        assert!(matches!(
            a.check(Some("Basic s3cret-token")).await,
            Err(AuthError::Denied(_))
        ));
        assert!(matches!(
            a.check(Some("Bearer ")).await,
            Err(AuthError::Denied(_))
        ));
        assert!(matches!(a.check(None).await, Err(AuthError::Denied(_))));
    }

    #[tokio::test]
    async fn rotation_accepts_every_listed_token() {
        let a = auth(r#"{"tokens":["old-token","new-token"]}"#);
        assert_eq!(a.check(Some("Bearer old-token")).await, Ok(()));
        assert_eq!(a.check(Some("Bearer new-token")).await, Ok(()));
        assert!(a.check(Some("Bearer other")).await.is_err());
    }

    #[tokio::test]
    async fn an_empty_secret_accepts_nothing() {
        assert!(auth("").check(Some("Bearer x")).await.is_err());
        assert!(
            auth(r#"{"tokens":[""]}"#)
                .check(Some("Bearer x"))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn missing_secret_is_unavailable_not_denied() {
        let a = AdminAuth::new(Arc::new(StaticSecrets::default()), "admin");
        assert!(matches!(
            a.check(Some("Bearer x")).await,
            Err(AuthError::Unavailable(_))
        ));
    }
}
