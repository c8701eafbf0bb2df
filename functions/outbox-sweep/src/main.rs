//! outbox-sweep: every minute, enqueues the calls whose first enqueue failed (see
//! frontdesk_app::postcall::webhook::sweep_outbox).

use frontdesk_app::postcall::webhook::{Pipeline, sweep_outbox};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let p = Pipeline::from_env().await?;
    run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        sweep_outbox(&p)
            .await
            .map(|n| serde_json::json!({ "enqueued": n }))
    }))
    .await
}
