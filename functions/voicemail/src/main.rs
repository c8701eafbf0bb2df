//! voicemail: Twilio's Record callbacks (see frontdesk_app::voice::voicemail).

use frontdesk_app::voice::{Voice, voicemail};
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let v = Voice::from_env().await?;
    run(service_fn(|req| voicemail::handle(&v, req))).await
}
