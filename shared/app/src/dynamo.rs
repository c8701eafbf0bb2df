//! DynamoDB transactions shared by the stores: run a `TransactWriteItems` whose items carry a
//! role, and hand a cancellation back as (role, reason) pairs for the store to explain.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, TransactWriteItem};

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The table's primary key of an item.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (crate::keys::PK.to_owned(), s(pk)),
        (crate::keys::SK.to_owned(), s(sk)),
    ])
}

/// DynamoDB's limit of items per `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// How often a transaction cancelled only by `TransactionConflict` (another transaction was
/// writing one of its items at that moment, outcome unknown) is tried again before the
/// conflict is reported. The retry is safe: the items carry their own conditions.
const CONFLICT_RETRIES: u32 = 2;

#[derive(Debug)]
pub enum TxFailure<R> {
    /// Cancelled: every item's role with its reason, in the order the items were given
    /// (reasons with code `None` are the items that did not fail).
    Cancelled(Vec<(R, CancellationReason)>),
    /// Any other error (throttling after the SDK's retries, network, validation).
    Unavailable(String),
}

/// Runs the transaction. Only the items are sent; the roles come back with a cancellation.
pub async fn transact<R: Clone>(
    client: &Client,
    items: Vec<(R, TransactWriteItem)>,
) -> Result<(), TxFailure<R>> {
    let (roles, items): (Vec<R>, Vec<TransactWriteItem>) = items.into_iter().unzip();
    let mut attempt = 0;
    loop {
        let sent = client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
            .await;
        let reasons = match sent {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    c.cancellation_reasons.unwrap_or_default()
                }
                other => {
                    return Err(TxFailure::Unavailable(
                        DisplayErrorContext(other).to_string(),
                    ));
                }
            },
            Err(e) => return Err(TxFailure::Unavailable(DisplayErrorContext(e).to_string())),
        };
        let only_conflicts = reasons
            .iter()
            .filter_map(CancellationReason::code)
            .filter(|code| *code != "None")
            .all(|code| code == "TransactionConflict");
        if only_conflicts && !reasons.is_empty() && attempt < CONFLICT_RETRIES {
            attempt += 1;
            // 10–40 ms, spread so two retrying writers do not meet again.
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 16);
            tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
            continue;
        }
        return Err(TxFailure::Cancelled(
            roles.into_iter().zip(reasons).collect(),
        ));
    }
}

/// The first item that failed, with its code (`ConditionalCheckFailed`,
/// `TransactionConflict`, ...).
pub fn first_failure<R>(
    cancelled: &[(R, CancellationReason)],
) -> Option<(&R, &CancellationReason, &str)> {
    cancelled.iter().find_map(|(role, reason)| {
        let code = reason.code().unwrap_or("None");
        (code != "None").then_some((role, reason, code))
    })
}
