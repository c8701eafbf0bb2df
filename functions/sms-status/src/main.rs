//! sms-status: Twilio message status callbacks (see frontdesk_app::postcall).

use frontdesk_app::postcall::sms_webhooks::handle_status;
use frontdesk_app::postcall::webhook::Pipeline;
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let p = Pipeline::from_env().await?;
    run(service_fn(|req| handle_status(&p, req))).await
}
