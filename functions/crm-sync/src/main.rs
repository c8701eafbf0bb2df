//! crm-sync: contact, activity, booking note or follow-up task (see frontdesk_app::postcall::stages).

use frontdesk_app::postcall::stages::{Stage, handle_batch};
use frontdesk_app::postcall::webhook::Pipeline;
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let p = Pipeline::from_env().await?;
    run(service_fn(|event| handle_batch(&p, Stage::CrmSync, event))).await
}
