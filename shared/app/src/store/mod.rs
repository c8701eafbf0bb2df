//! Persistence behind small traits; DynamoDB is the production adapter.

pub mod business;
pub mod dynamodb;

pub use business::{
    BusinessPage, BusinessRecord, BusinessStore, StoreError, ToolProfile, ToolSecretHash,
};
