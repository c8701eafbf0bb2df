//! Fixture SQS function for the local stack tests (ReportBatchItemFailures).
//!
//! Appends `<messageId> <receiveCount> <ok|fail>` per delivered message to the file named by
//! `TEST_CONSUMER_LOG`. Fails every message whose body contains "poison"; a body "fail-batch"
//! fails the whole invocation; a body "sleep" sleeps 30 s (past the function timeout).

use std::io::Write as _;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

fn log(line: &str) -> Result<(), Error> {
    let path = std::env::var("TEST_CONSUMER_LOG").map_err(|_| "TEST_CONSUMER_LOG is not set")?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write per line: O_APPEND keeps concurrent instances' lines whole.
    f.write_all(format!("{line}\n").as_bytes())?;
    Ok(())
}

async fn handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    let records = event.payload.records;
    if records.iter().any(|r| r.body.as_deref() == Some("sleep")) {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    let fail_batch = records
        .iter()
        .any(|r| r.body.as_deref() == Some("fail-batch"));
    for r in &records {
        let id = r.message_id.clone().unwrap_or_default();
        let count = r
            .attributes
            .get("ApproximateReceiveCount")
            .cloned()
            .unwrap_or_default();
        let poison = r.body.as_deref().unwrap_or_default().contains("poison");
        let ok = !poison && !fail_batch;
        log(&format!("{id} {count} {}", if ok { "ok" } else { "fail" }))?;
        if poison {
            response.add_failure(id);
        }
    }
    if fail_batch {
        return Err("test-consumer: failing the whole batch on purpose".into());
    }
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
