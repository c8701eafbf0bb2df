//! DynamoDB round trips, counted by an SDK interceptor (every transmitted attempt counts,
//! retries included). Handlers log the count per invocation; tests and benches assert on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

/// A shared counter of HTTP requests sent to DynamoDB.
#[derive(Clone, Debug, Default)]
pub struct RoundTrips(Arc<AtomicU64>);

impl RoundTrips {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// A DynamoDB client whose every request is counted here.
    pub fn counted_client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(Counter(self.clone()))
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}

#[derive(Debug)]
struct Counter(RoundTrips);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "frontdesk-round-trips"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
