use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use ecs_canary_core::SplitRecord;

use crate::error::Failure;
use crate::AwsError;

const KEY: &str = "lockKey";
const OWNER: &str = "owner";
const EXPIRES_AT: &str = "expiresAt";
const SPLIT: &str = "split";

/// A lock as it is held: by whom, and the traffic its execution last moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLock {
    pub owner: String,
    pub expires_at: u64,
    /// Absent until the execution first changes the weighted rule.
    pub split: Option<SplitRecord>,
}

/// Per-service deployment locks in a DynamoDB table whose partition key is
/// `lockKey` (string). A lock is an item `{lockKey, owner, expiresAt}`; it is
/// taken by a conditional write, so two owners can never both hold it.
#[derive(Debug, Clone)]
pub struct DeploymentLocks {
    client: Client,
    table: String,
}

impl DeploymentLocks {
    pub fn new(client: Client, table: impl Into<String>) -> DeploymentLocks {
        DeploymentLocks {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Takes the lock for `owner`, or renews it if `owner` holds it already.
    /// Fails with `LockHeld` while another owner's lock has not expired.
    pub async fn acquire(
        &self,
        key: &str,
        owner: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<(), AwsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(key.to_string()))
            .item(OWNER, AttributeValue::S(owner.to_string()))
            .item(EXPIRES_AT, AttributeValue::N(expires_at.to_string()))
            .condition_expression(
                "attribute_not_exists(#key) OR #owner = :owner OR #expires < :now",
            )
            .expression_attribute_names("#key", KEY)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let failure = Failure::of(e);
                if failure.is_condition_failed() {
                    let holder = self.holder(key).await?.unwrap_or_default();
                    Err(AwsError::LockHeld {
                        key: key.to_string(),
                        owner: holder,
                    })
                } else {
                    Err(failure.into_error("dynamodb:PutItem"))
                }
            }
        }
    }

    /// Releases `owner`'s lock. Releasing a lock that is gone, or that another
    /// owner holds, changes nothing and is not an error.
    pub async fn release(&self, key: &str, owner: &str) -> Result<bool, AwsError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_string()))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
            .send()
            .await;
        Failure::applied(result, "dynamodb:DeleteItem")
    }

    /// Who holds the lock, if anyone (expired or not).
    pub async fn holder(&self, key: &str) -> Result<Option<String>, AwsError> {
        Ok(self.held(key).await?.map(|lock| lock.owner))
    }

    /// The lock as it is held, if anyone holds it (expired or not).
    pub async fn held(&self, key: &str) -> Result<Option<HeldLock>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("dynamodb:GetItem"))?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let Some(owner) = text(OWNER) else {
            return Ok(None);
        };
        Ok(Some(HeldLock {
            owner,
            expires_at: item
                .get(EXPIRES_AT)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or_default(),
            // A record this version cannot read is treated as none: the
            // reconciler then leaves a mixed rule to a person.
            split: text(SPLIT).and_then(|json| serde_json::from_str(&json).ok()),
        }))
    }

    /// Records, while `owner` holds the lock, the traffic it is about to
    /// move. `false`: `owner` does not hold the lock (nothing is written).
    pub async fn record_split(
        &self,
        key: &str,
        owner: &str,
        record: &SplitRecord,
    ) -> Result<bool, AwsError> {
        let json = serde_json::to_string(record).map_err(|e| AwsError::Service {
            operation: "dynamodb:UpdateItem",
            code: "Serialization".into(),
            message: e.to_string(),
        })?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_string()))
            .update_expression("SET #split = :split")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#split", SPLIT)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":split", AttributeValue::S(json))
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
            .send()
            .await;
        Failure::applied(result, "dynamodb:UpdateItem")
    }
}
