//! ElevenLabs REST client (register-call) behind a small trait, with a time budget and a
//! circuit breaker: a call ringing must get TwiML quickly, so a failing ElevenLabs is not
//! waited for again and again.
//!
//! The base URL is configurable (`ELEVENLABS_API_BASE`, default `https://api.elevenlabs.io`),
//! so the same code talks to ElevenLabs or to the local validating mock.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;

pub const DEFAULT_API_BASE: &str = "https://api.elevenlabs.io";

/// The most time register-call gets before the caller hears the fallback (Twilio waits 15 s
/// for TwiML; the caller hears ringing meanwhile).
pub const REGISTER_CALL_BUDGET: Duration = Duration::from_secs(3);

/// One call to connect to an agent.
#[derive(Clone, Debug, PartialEq)]
pub struct RegisterCall {
    pub agent_id: String,
    pub from_number: String,
    pub to_number: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub dynamic_variables: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VoiceAiError {
    #[error("ElevenLabs answered HTTP {status}: {message}")]
    Failed { status: u16, message: String },
    #[error("ElevenLabs did not answer within {0:?}")]
    Timeout(Duration),
    #[error("ElevenLabs is unreachable: {0}")]
    Unreachable(String),
    #[error("the circuit breaker is open after repeated failures; retry after {0:?}")]
    CircuitOpen(Duration),
    #[error("ElevenLabs client configuration: {0}")]
    Config(String),
}

#[async_trait]
pub trait VoiceAi: Send + Sync {
    /// TwiML that connects the call to the agent (returned to Twilio unchanged).
    async fn register_call(
        &self,
        api_key: &str,
        call: &RegisterCall,
    ) -> Result<String, VoiceAiError>;
}

pub struct ElevenLabsClient {
    http: reqwest::Client,
    base: String,
    budget: Duration,
}

impl ElevenLabsClient {
    pub fn new(base: impl Into<String>, budget: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(budget)
            .connect_timeout(budget.min(Duration::from_secs(2)))
            .user_agent(concat!("frontdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client with rustls");
        Self {
            http,
            base: base.into().trim_end_matches('/').to_owned(),
            budget,
        }
    }

    /// From `ELEVENLABS_API_BASE` (default [`DEFAULT_API_BASE`]) with [`REGISTER_CALL_BUDGET`].
    pub fn from_env() -> Self {
        let base = std::env::var("ELEVENLABS_API_BASE")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
        Self::new(base, REGISTER_CALL_BUDGET)
    }
}

#[async_trait]
impl VoiceAi for ElevenLabsClient {
    async fn register_call(
        &self,
        api_key: &str,
        call: &RegisterCall,
    ) -> Result<String, VoiceAiError> {
        if api_key.is_empty() {
            return Err(VoiceAiError::Config(
                "no ElevenLabs api_key in the secret".into(),
            ));
        }
        let body = json!({
            "agent_id": call.agent_id,
            "from_number": call.from_number,
            "to_number": call.to_number,
            "direction": call.direction,
            "conversation_initiation_client_data": {"dynamic_variables": call.dynamic_variables},
        });
        let sent = self
            .http
            .post(format!("{}/v1/convai/twilio/register-call", self.base))
            .header("xi-api-key", api_key)
            .json(&body)
            .send()
            .await;
        let resp = sent.map_err(|e| {
            if e.is_timeout() {
                VoiceAiError::Timeout(self.budget)
            } else {
                VoiceAiError::Unreachable(e.to_string())
            }
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| {
            if e.is_timeout() {
                VoiceAiError::Timeout(self.budget)
            } else {
                VoiceAiError::Unreachable(e.to_string())
            }
        })?;
        if !(200..300).contains(&status) {
            return Err(VoiceAiError::Failed {
                status,
                message: text.chars().take(300).collect(),
            });
        }
        if !text.contains("<Response") {
            return Err(VoiceAiError::Failed {
                status,
                message: "the answer is not TwiML".into(),
            });
        }
        Ok(text)
    }
}

/// A circuit breaker per container: after `threshold` consecutive failures it opens for
/// `cool_down` (calls fail at once with [`VoiceAiError::CircuitOpen`], so the caller hears the
/// fallback without waiting for the budget); then one probe is let through (half-open): a
/// success closes it, a failure opens it again.
///
/// Across containers: each warm Lambda container has its own breaker (no shared state, no
/// extra round trip while the phone rings). With N warm containers, at most
/// N × `threshold` calls wait for a failing ElevenLabs before every container falls back at
/// once; a new container starts closed.
pub struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Default)]
struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// What the breaker says about a call about to be made.
#[derive(Debug, PartialEq, Eq)]
pub enum Permit {
    /// Go ahead (closed, or the half-open probe).
    Go,
    /// Don't: fall back now.
    Open(Duration),
}

impl CircuitBreaker {
    pub const DEFAULT_THRESHOLD: u32 = 3;
    pub const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(30);

    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down,
            state: Mutex::new(BreakerState::default()),
        }
    }

    pub fn permit(&self, now: Instant) -> Permit {
        let mut st = self.state.lock().unwrap();
        match st.open_until {
            Some(until) if now < until => Permit::Open(until - now),
            Some(_) if st.probing => Permit::Open(Duration::ZERO),
            Some(_) => {
                st.probing = true;
                Permit::Go
            }
            None => Permit::Go,
        }
    }

    pub fn success(&self) {
        *self.state.lock().unwrap() = BreakerState::default();
    }

    pub fn failure(&self, now: Instant) {
        let mut st = self.state.lock().unwrap();
        st.failures += 1;
        st.probing = false;
        if st.failures >= self.threshold || st.open_until.is_some() {
            st.open_until = Some(now + self.cool_down);
        }
    }

    pub fn is_open(&self, now: Instant) -> bool {
        matches!(self.permit_peek(now), Permit::Open(_))
    }

    fn permit_peek(&self, now: Instant) -> Permit {
        let st = self.state.lock().unwrap();
        match st.open_until {
            Some(until) if now < until => Permit::Open(until - now),
            _ => Permit::Go,
        }
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new(Self::DEFAULT_THRESHOLD, Self::DEFAULT_COOL_DOWN)
    }
}

/// [`VoiceAi`] guarded by a [`CircuitBreaker`].
pub struct Guarded<V> {
    pub inner: V,
    pub breaker: CircuitBreaker,
}

#[async_trait]
impl<V: VoiceAi> VoiceAi for Guarded<V> {
    async fn register_call(
        &self,
        api_key: &str,
        call: &RegisterCall,
    ) -> Result<String, VoiceAiError> {
        if let Permit::Open(wait) = self.breaker.permit(Instant::now()) {
            return Err(VoiceAiError::CircuitOpen(wait));
        }
        match self.inner.register_call(api_key, call).await {
            Ok(twiml) => {
                self.breaker.success();
                Ok(twiml)
            }
            // Our own misconfiguration is not ElevenLabs being down.
            Err(e @ VoiceAiError::Config(_)) => Err(e),
            Err(e) => {
                self.breaker.failure(Instant::now());
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_after_the_cool_down() {
        let b = CircuitBreaker::new(3, Duration::from_secs(30));
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(b.permit(t0), Permit::Go);
            b.failure(t0);
        }
        assert_eq!(b.permit(t0), Permit::Go, "two failures: still closed");
        b.failure(t0);
        assert_eq!(
            b.permit(t0 + Duration::from_secs(1)),
            Permit::Open(Duration::from_secs(29))
        );
        // After the cool-down one probe goes through; others wait for its outcome.
        let later = t0 + Duration::from_secs(31);
        assert_eq!(b.permit(later), Permit::Go);
        assert_eq!(b.permit(later), Permit::Open(Duration::ZERO));
        // The probe fails: open again for a full cool-down.
        b.failure(later);
        assert!(b.is_open(later + Duration::from_secs(29)));
        // Next probe succeeds: closed, failures forgotten.
        let much_later = later + Duration::from_secs(31);
        assert_eq!(b.permit(much_later), Permit::Go);
        b.success();
        assert_eq!(b.permit(much_later), Permit::Go);
        b.failure(much_later);
        assert_eq!(
            b.permit(much_later),
            Permit::Go,
            "one failure after closing"
        );
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = CircuitBreaker::new(2, Duration::from_secs(10));
        let t = Instant::now();
        b.failure(t);
        b.success();
        b.failure(t);
        assert_eq!(b.permit(t), Permit::Go);
    }
}
