//! The shared transaction runner against a scripted DynamoDB endpoint (wiremock): a
//! cancellation caused only by `TransactionConflict` is tried again; a condition failure is
//! reported at once with every item's role and reason.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};
use frontdesk_app::dynamo::{TxFailure, transact};
use serde_json::json;
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TARGET: &str = "DynamoDB_20120810.TransactWriteItems";

fn client(server: &MockServer) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .endpoint_url(server.uri())
        .build();
    Client::from_conf(config)
}

fn items() -> Vec<(&'static str, TransactWriteItem)> {
    ["lock", "booking"]
        .into_iter()
        .map(|role| {
            let check = ConditionCheck::builder()
                .table_name("t")
                .key(
                    "pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(role.into()),
                )
                .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .unwrap();
            (
                role,
                TransactWriteItem::builder().condition_check(check).build(),
            )
        })
        .collect()
}

fn cancelled(codes: [&str; 2]) -> ResponseTemplate {
    ResponseTemplate::new(400)
        .insert_header("content-type", "application/x-amz-json-1.0")
        .set_body_json(json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
            "CancellationReasons": codes.iter().map(|c| json!({"Code": c})).collect::<Vec<_>>(),
        }))
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/x-amz-json-1.0")
        .set_body_json(json!({}))
}

#[tokio::test]
async fn conflicts_are_tried_again_then_succeed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-amz-target", TARGET))
        .respond_with(cancelled(["TransactionConflict", "None"]))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("x-amz-target", TARGET))
        .respond_with(ok())
        .expect(1)
        .mount(&server)
        .await;
    transact(&client(&server), items()).await.unwrap();
}

#[tokio::test]
async fn lasting_conflicts_are_reported_with_roles() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(cancelled(["None", "TransactionConflict"]))
        .expect(3)
        .mount(&server)
        .await;
    match transact(&client(&server), items()).await {
        Err(TxFailure::Cancelled(c)) => {
            let got: Vec<(&str, Option<&str>)> = c.iter().map(|(r, x)| (*r, x.code())).collect();
            assert_eq!(
                got,
                [
                    ("lock", Some("None")),
                    ("booking", Some("TransactionConflict"))
                ]
            );
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_condition_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(cancelled(["ConditionalCheckFailed", "TransactionConflict"]))
        .expect(1)
        .mount(&server)
        .await;
    match transact(&client(&server), items()).await {
        Err(TxFailure::Cancelled(c)) => {
            assert_eq!(c[0].0, "lock");
            assert_eq!(c[0].1.code(), Some("ConditionalCheckFailed"));
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
}

#[tokio::test]
async fn other_errors_are_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("content-type", "application/x-amz-json-1.0")
                .set_body_json(json!({
                    "__type": "com.amazon.coral.validate#ValidationException",
                    "message": "Transaction request cannot include multiple operations on one item"
                })),
        )
        .expect(1)
        .mount(&server)
        .await;
    match transact(&client(&server), items()).await {
        Err(TxFailure::Unavailable(e)) => assert!(e.contains("multiple operations"), "{e}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}
