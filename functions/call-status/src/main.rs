//! call-status: Twilio's call status callbacks (see frontdesk_app::voice::status).

use frontdesk_app::voice::{Voice, status};
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let v = Voice::from_env().await?;
    run(service_fn(|req| status::handle(&v, req))).await
}
