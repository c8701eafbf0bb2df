//! Every DynamoDB key the product writes, in one place (docs/data-model.md
//! describes the design). Partition keys lead with the business id, except the
//! phone-number ownership items, which exist to make a number unique across
//! businesses.

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
pub const GSI1: &str = "GSI1";

/// The business partition.
pub fn business_pk(business_id: &str) -> String {
    format!("BIZ#{business_id}")
}

/// The business configuration item's sort key.
pub const CONFIG_SK: &str = "CONFIG";

/// GSI1 partition listing every business (admin directory).
pub const BUSINESS_DIRECTORY: &str = "BUSINESSES";

/// The ownership item of a phone number: one per number, across all businesses.
pub fn number_pk(e164: &str) -> String {
    format!("NUMBER#{e164}")
}
pub const NUMBER_SK: &str = "OWNER";
