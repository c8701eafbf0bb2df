//! sms-inbound: Twilio inbound texts (STOP / START / HELP, replies) (see frontdesk_app::postcall).

use frontdesk_app::postcall::sms_webhooks::handle_inbound;
use frontdesk_app::postcall::webhook::Pipeline;
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let p = Pipeline::from_env().await?.with_phone_numbers_loaded();
    run(service_fn(|req| handle_inbound(&p, req))).await
}
