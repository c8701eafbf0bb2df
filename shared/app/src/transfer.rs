//! The `transfer_call` tool's effect (register-call mode): the live call is redirected through
//! Twilio's Calls API to a `<Dial>` of the business's transfer number, once per CallSid, and
//! the reason is recorded on the call (`transfer_request` of the call record).
//!
//! ElevenLabs can't transfer register-call calls (it has no Twilio credentials for them), so
//! the agent calls this tool; replacing the call's TwiML ends the agent's media stream, the
//! caller hears `persona.escalation_message` and the staff phone rings; when nobody answers
//! the `<Dial action>` (`voice-fallback`) takes a voicemail.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use chrono::{DateTime, Utc};
use serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value;
use serde_json::{Value, json};

use crate::dynamo::{self, s};
use crate::idempotency::{IdemError, IdemKey, Idempotency};
use crate::keys;
use crate::postcall::TransferNote;
use crate::secrets::SecretSource;
use crate::twilio::{CALL_NOT_IN_PROGRESS, CallControl, Credentials, TwilioError};

/// One transfer to make.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferRequest {
    pub business_id: String,
    pub call_sid: String,
    /// ElevenLabs' conversation id: the call record the reason goes on (else the CallSid's).
    pub conversation_id: Option<String>,
    pub number: String,
    pub reason: String,
    /// The TwiML the call continues with ([`frontdesk_rules::twiml::transfer`]).
    pub twiml: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The call ended (or isn't a live call of this account).
    #[error("the call is not in progress")]
    CallEnded,
    /// The same transfer is being made by another request.
    #[error("this transfer is in progress")]
    InProgress,
    #[error("transfer unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Transfers: Send + Sync {
    /// Redirects the call and records the transfer; a repeat for the same CallSid answers
    /// with the first result and does nothing.
    async fn transfer(&self, req: &TransferRequest) -> Result<Value, TransferError>;
}

/// [`Transfers`] through Twilio, idempotent in DynamoDB.
pub struct TwilioTransfers {
    pub calls: Arc<dyn CallControl>,
    pub secrets: Arc<dyn SecretSource>,
    pub twilio_secret_id: String,
    pub client: Client,
    pub table: String,
    idem: Idempotency,
}

impl TwilioTransfers {
    pub fn new(
        calls: Arc<dyn CallControl>,
        secrets: Arc<dyn SecretSource>,
        twilio_secret_id: impl Into<String>,
        client: Client,
        table: impl Into<String>,
    ) -> Self {
        let table = table.into();
        Self {
            calls,
            secrets,
            twilio_secret_id: twilio_secret_id.into(),
            idem: Idempotency::new(client.clone(), table.clone()),
            client,
            table,
        }
    }

    async fn credentials(&self) -> Result<Credentials, TransferError> {
        let raw = self
            .secrets
            .secret_string(&self.twilio_secret_id)
            .await
            .map_err(|e| TransferError::Unavailable(format!("Twilio secret: {e}")))?;
        serde_json::from_str(&raw)
            .map_err(|_| TransferError::Unavailable("the Twilio secret is not JSON".into()))
    }

    async fn record(&self, req: &TransferRequest) -> Result<(), TransferError> {
        let call_id = req.conversation_id.as_deref().unwrap_or(&req.call_sid);
        let note = TransferNote {
            number: req.number.clone(),
            reason: req.reason.clone(),
            call_sid: req.call_sid.clone(),
            at: req.at,
        };
        let value =
            to_attribute_value(&note).map_err(|e| TransferError::Unavailable(e.to_string()))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::call_pk(&req.business_id, call_id),
                keys::CALL_SK,
            )))
            .update_expression("SET transfer_request = :t, business_id = :b, call_id = :c")
            .expression_attribute_values(":t", value)
            .expression_attribute_values(":b", s(&req.business_id))
            .expression_attribute_values(":c", s(call_id))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| TransferError::Unavailable(DisplayErrorContext(e).to_string()))
    }
}

#[async_trait]
impl Transfers for TwilioTransfers {
    async fn transfer(&self, req: &TransferRequest) -> Result<Value, TransferError> {
        // One transfer per call, whatever the arguments of a repeat.
        let key = IdemKey::new(&req.business_id, "transfer_call", &req.call_sid, &json!({}));
        let outcome = self
            .idem
            .run(&key, || async {
                let creds = self.credentials().await?;
                match self.calls.redirect(&creds, &req.call_sid, &req.twiml).await {
                    Ok(call) => {
                        tracing::info!(call_sid = %call.sid, status = call.status.as_deref().unwrap_or(""), number = %req.number, "call redirected to staff");
                    }
                    Err(TwilioError::Rejected { code, status, .. })
                        if code == Some(CALL_NOT_IN_PROGRESS) || status == 404 =>
                    {
                        return Err(TransferError::CallEnded);
                    }
                    Err(e) => return Err(TransferError::Unavailable(e.to_string())),
                }
                if let Err(e) = self.record(req).await {
                    // The caller is being transferred: that matters more than the note.
                    tracing::error!(error = %e, "transfer not recorded on the call");
                }
                Ok(json!({"ok": true, "transferred_to": req.number, "call_sid": req.call_sid}))
            })
            .await;
        match outcome {
            Ok(result) => result,
            Err(IdemError::InProgress { .. }) => Err(TransferError::InProgress),
            Err(e) => Err(TransferError::Unavailable(e.to_string())),
        }
    }
}
