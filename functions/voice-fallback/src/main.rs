//! voice-fallback: the number's fallback URL and the Dial action of transfers
//! (see frontdesk_app::voice::inbound).

use frontdesk_app::voice::Voice;
use frontdesk_app::voice::inbound::handle_fallback;
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let v = Voice::from_env().await?;
    run(service_fn(|req| handle_fallback(&v, req))).await
}
