//! admin-api: business configuration CRUD (see frontdesk_app::admin).

use frontdesk_app::admin::{AdminContext, handle};
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    frontdesk_app::telemetry::init();
    let ctx = AdminContext::from_env().await?;
    run(service_fn(|req| handle(&ctx, req))).await
}
