//! sms-send: the text to the caller (quiet hours, opt-outs, exactly once) (see frontdesk_app::postcall::stages).

use frontdesk_app::postcall::stages::{Stage, handle_batch};
use frontdesk_app::postcall::webhook::Pipeline;
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let p = Pipeline::from_env().await?;
    run(service_fn(|event| handle_batch(&p, Stage::SmsSend, event))).await
}
