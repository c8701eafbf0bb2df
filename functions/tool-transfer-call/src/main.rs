//! tool-transfer-call: the `transfer_call` in-call tool (see frontdesk_app::tools).

use frontdesk_app::tools::{Tool, ToolContext, handle};
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let ctx = ToolContext::from_env().await?;
    run(service_fn(|req| handle(&ctx, Tool::TransferCall, req))).await
}
