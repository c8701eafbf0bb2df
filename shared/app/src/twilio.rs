//! Twilio REST client (Messages API) behind a small trait.
//!
//! Basic auth with the account SID and auth token (or an API key SID and secret, the
//! account SID still in the path), form-encoded bodies, JSON answers. The base URL is
//! configurable (`TWILIO_API_BASE`, default `https://api.twilio.com`), so the same code talks
//! to Twilio or to the local validating mock.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// Twilio error code: the recipient replied STOP.
pub const OPTED_OUT: u32 = 21610;

/// Credentials from the Twilio secret (`{"account_sid": "AC…", "auth_token": "…"}`, or with
/// `api_key_sid` / `api_key_secret`).
#[derive(Deserialize, Clone)]
pub struct Credentials {
    pub account_sid: String,
    #[serde(default)]
    pub auth_token: Option<String>,
    #[serde(default)]
    pub api_key_sid: Option<String>,
    #[serde(default)]
    pub api_key_secret: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The user and password of HTTP Basic auth.
    fn basic(&self) -> Result<(&str, &str), TwilioError> {
        match (&self.api_key_sid, &self.api_key_secret, &self.auth_token) {
            (Some(k), Some(s), _) => Ok((k, s)),
            (_, _, Some(t)) if !t.is_empty() => Ok((&self.account_sid, t)),
            _ => Err(TwilioError::Config(
                "the Twilio secret has neither auth_token nor api_key_sid/api_key_secret".into(),
            )),
        }
    }

    /// The auth token that signs Twilio's webhooks (`X-Twilio-Signature`).
    pub fn auth_token(&self) -> Option<&str> {
        self.auth_token.as_deref().filter(|t| !t.is_empty())
    }
}

/// One text to send.
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingSms {
    pub to: String,
    /// A Twilio number; or `None` with a messaging service.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub status_callback: Option<String>,
}

/// A message as Twilio reports it.
#[derive(Deserialize, Clone, Debug, PartialEq)]
pub struct Message {
    pub sid: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub num_segments: Option<String>,
    #[serde(default)]
    pub error_code: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// Twilio answered with an error that will not go away by retrying (bad number, opted
    /// out, permissions). `code` is Twilio's error code.
    #[error("Twilio refused the request: HTTP {status}, code {code:?}: {message}")]
    Rejected {
        status: u16,
        code: Option<u32>,
        message: String,
    },
    /// 429 or 5xx: nothing was sent; try again later.
    #[error("Twilio is unavailable: HTTP {status}: {message}")]
    Retryable { status: u16, message: String },
    /// No answer (timeout, connection dropped): the message may or may not have been sent.
    #[error("no answer from Twilio: {0}")]
    Unknown(String),
    #[error("Twilio client configuration: {0}")]
    Config(String),
}

impl TwilioError {
    pub fn code(&self) -> Option<u32> {
        match self {
            TwilioError::Rejected { code, .. } => *code,
            _ => None,
        }
    }
}

#[async_trait]
pub trait Sms: Send + Sync {
    async fn send(&self, creds: &Credentials, sms: &OutgoingSms) -> Result<Message, TwilioError>;
    /// Messages sent to `to` since `since` (newest first), to reconcile a send whose answer
    /// was lost.
    async fn sent_to(
        &self,
        creds: &Credentials,
        to: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Message>, TwilioError>;
}

/// A live call as Twilio reports it.
#[derive(Deserialize, Clone, Debug, PartialEq)]
pub struct Call {
    pub sid: String,
    #[serde(default)]
    pub status: Option<String>,
}

/// Twilio error code: the call is not in progress (it ended), so it can't be redirected.
pub const CALL_NOT_IN_PROGRESS: u32 = 21220;

/// Twilio's Calls API.
#[async_trait]
pub trait CallControl: Send + Sync {
    /// Replaces what a live call is doing with `twiml` (`POST …/Calls/{CallSid}.json`,
    /// `Twiml=`): the transfer of a register-call call to a person.
    async fn redirect(
        &self,
        creds: &Credentials,
        call_sid: &str,
        twiml: &str,
    ) -> Result<Call, TwilioError>;
}

pub struct TwilioClient {
    http: reqwest::Client,
    base: String,
}

impl TwilioClient {
    /// `base`: `https://api.twilio.com` or a mock; `timeout` bounds each request.
    pub fn new(base: impl Into<String>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(3))
            .user_agent(concat!("frontdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client with rustls");
        Self {
            http,
            base: base.into().trim_end_matches('/').to_owned(),
        }
    }

    /// From `TWILIO_API_BASE` (default [`DEFAULT_API_BASE`]) with a 10 s timeout.
    pub fn from_env() -> Self {
        let base = std::env::var("TWILIO_API_BASE")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
        Self::new(base, Duration::from_secs(10))
    }

    fn messages_url(&self, account_sid: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
            self.base
        )
    }
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: Option<u32>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

async fn answer<T: serde::de::DeserializeOwned>(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, TwilioError> {
    let resp = sent.map_err(|e| TwilioError::Unknown(e.to_string()))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| TwilioError::Unknown(e.to_string()))?;
    if (200..300).contains(&status) {
        return serde_json::from_slice(&bytes)
            .map_err(|e| TwilioError::Unknown(format!("unreadable answer (HTTP {status}): {e}")));
    }
    let err: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
    let message = err
        .message
        .or(err.detail)
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
    if status == 429 || status >= 500 {
        Err(TwilioError::Retryable { status, message })
    } else {
        Err(TwilioError::Rejected {
            status,
            code: err.code,
            message,
        })
    }
}

#[async_trait]
impl Sms for TwilioClient {
    async fn send(&self, creds: &Credentials, sms: &OutgoingSms) -> Result<Message, TwilioError> {
        let (user, pass) = creds.basic()?;
        let mut form: Vec<(&str, &str)> = vec![("To", &sms.to), ("Body", &sms.body)];
        match (&sms.from, &sms.messaging_service_sid) {
            (_, Some(mg)) => form.push(("MessagingServiceSid", mg)),
            (Some(from), None) => form.push(("From", from)),
            (None, None) => {
                return Err(TwilioError::Config(
                    "a text needs a sender number or a messaging service".into(),
                ));
            }
        }
        if let Some(cb) = &sms.status_callback {
            form.push(("StatusCallback", cb));
        }
        let sent = self
            .http
            .post(self.messages_url(&creds.account_sid))
            .basic_auth(user, Some(pass))
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await;
        answer(sent).await
    }

    async fn sent_to(
        &self,
        creds: &Credentials,
        to: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Message>, TwilioError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            messages: Vec<Message>,
        }
        let (user, pass) = creds.basic()?;
        // Twilio filters by date-time (ISO 8601); a minute of slack for clock skew.
        let after = (since - chrono::Duration::minutes(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let sent = self
            .http
            .get(self.messages_url(&creds.account_sid))
            .basic_auth(user, Some(pass))
            .header("accept", "application/json")
            .query(&[
                ("To", to),
                ("DateSent>", after.as_str()),
                ("PageSize", "50"),
            ])
            .send()
            .await;
        let page: Page = answer(sent).await?;
        Ok(page.messages)
    }
}

#[async_trait]
impl CallControl for TwilioClient {
    async fn redirect(
        &self,
        creds: &Credentials,
        call_sid: &str,
        twiml: &str,
    ) -> Result<Call, TwilioError> {
        let (user, pass) = creds.basic()?;
        let sent = self
            .http
            .post(format!(
                "{}/2010-04-01/Accounts/{}/Calls/{call_sid}.json",
                self.base, creds.account_sid
            ))
            .basic_auth(user, Some(pass))
            .header("accept", "application/json")
            .form(&[("Twiml", twiml)])
            .send()
            .await;
        answer(sent).await
    }
}
