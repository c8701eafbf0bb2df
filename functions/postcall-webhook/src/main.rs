//! postcall-webhook: ElevenLabs post-call webhook → call record → the post-call queue (see frontdesk_app::postcall).

use frontdesk_app::postcall::webhook::Pipeline;
use frontdesk_app::postcall::webhook::handle_webhook;
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let p = Pipeline::from_env().await?.with_phone_numbers_loaded();
    run(service_fn(|req| handle_webhook(&p, req))).await
}
