//! Work queues behind a small trait: the post-call chain hands a [`Job`] from one stage to
//! the next through SQS.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};

/// One unit of post-call work: which call, and for delayed texts, not before when.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub business_id: String,
    pub call_id: String,
    /// Unix seconds before which the stage must not act (quiet hours); the message is put
    /// back with a delay until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
}

impl Job {
    pub fn new(business_id: impl Into<String>, call_id: impl Into<String>) -> Self {
        Self {
            business_id: business_id.into(),
            call_id: call_id.into(),
            not_before: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("queue {queue}: {message}")]
pub struct QueueError {
    pub queue: String,
    pub message: String,
}

/// SQS's longest message delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends `job` to the queue `queue_url`, visible after `delay` (at most [`MAX_DELAY`]).
    async fn send(&self, queue_url: &str, job: &Job, delay: Duration) -> Result<(), QueueError>;
}

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, queue_url: &str, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).expect("a job serialises");
        let delay = delay.min(MAX_DELAY).as_secs() as i32;
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| QueueError {
                queue: queue_url.to_owned(),
                message: DisplayErrorContext(e).to_string(),
            })
    }
}
