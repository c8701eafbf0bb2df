//! call-init: ElevenLabs' conversation-initiation webhook → the call's dynamic variables
//! (see frontdesk_app::call_entry).

use frontdesk_app::call_entry::{CallEntry, handle_init};
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let ctx = CallEntry::from_env().await?;
    run(service_fn(|req| handle_init(&ctx, req))).await
}
