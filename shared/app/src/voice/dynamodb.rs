//! DynamoDB adapter of [`VoiceLog`] (items: docs/data-model.md, "Call entry").

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::Duration;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use super::{EntryRecord, VoiceLog};
use crate::dynamo::{self, n, s};
use crate::keys;
use crate::postcall::PipelineError;
use crate::postcall::dynamodb::DynamoPipeline;

/// Entries are kept this long (a call's callbacks come within hours).
const KEEP_ENTRIES_DAYS: i64 = 30;

fn entry_sk(step: &str) -> String {
    format!("{}{step}", keys::ENTRY_PREFIX)
}

fn unavailable(e: impl std::error::Error) -> PipelineError {
    PipelineError::Unavailable(DisplayErrorContext(e).to_string())
}

impl DynamoPipeline {
    fn entry_item(
        &self,
        entry: &EntryRecord,
    ) -> Result<
        std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
        PipelineError,
    > {
        let mut item = to_item(entry).map_err(|e| PipelineError::Invalid(e.to_string()))?;
        item.insert(
            keys::PK.into(),
            s(keys::call_pk(&entry.business_id, &entry.call_sid)),
        );
        item.insert(keys::SK.into(), s(entry_sk(&entry.step)));
        item.insert(
            keys::EXPIRES_AT.into(),
            n((entry.created_at + Duration::days(KEEP_ENTRIES_DAYS)).timestamp()),
        );
        Ok(item)
    }
}

#[async_trait]
impl VoiceLog for DynamoPipeline {
    async fn claim(&self, entry: &EntryRecord) -> Result<Option<EntryRecord>, PipelineError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.entry_item(entry)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                let PutItemError::ConditionalCheckFailedException(c) = e.err() else {
                    unreachable!()
                };
                match c.item() {
                    Some(item) => from_item(item.clone())
                        .map(Some)
                        .map_err(|e| PipelineError::Invalid(e.to_string())),
                    // moto may not return the item: read it.
                    None => {
                        self.entry(&entry.business_id, &entry.call_sid, &entry.step)
                            .await
                    }
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn answered(&self, entry: &EntryRecord) -> Result<(), PipelineError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.entry_item(entry)?))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn entry(
        &self,
        business_id: &str,
        call_sid: &str,
        step: &str,
    ) -> Result<Option<EntryRecord>, PipelineError> {
        let item = self
            .get_item(dynamo::key(
                keys::call_pk(business_id, call_sid),
                entry_sk(step),
            ))
            .await?;
        item.map(from_item)
            .transpose()
            .map_err(|e| PipelineError::Invalid(e.to_string()))
    }

    async fn entries(
        &self,
        business_id: &str,
        call_sid: &str,
    ) -> Result<Vec<EntryRecord>, PipelineError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::call_pk(business_id, call_sid)))
            .expression_attribute_values(":prefix", s(keys::ENTRY_PREFIX))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.items()
            .iter()
            .map(|i| from_item(i.clone()).map_err(|e| PipelineError::Invalid(e.to_string())))
            .collect()
    }

    async fn add_transcription(
        &self,
        business_id: &str,
        call_id: &str,
        text: &str,
    ) -> Result<bool, PipelineError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::call_pk(business_id, call_id),
                keys::CALL_SK,
            )))
            .update_expression("SET #f.#v.#t = :t")
            .condition_expression("attribute_exists(#f.#v)")
            .expression_attribute_names("#f", "facts")
            .expression_attribute_names("#v", "voicemail")
            .expression_attribute_names("#t", "transcription")
            .expression_attribute_values(":t", s(text))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}
