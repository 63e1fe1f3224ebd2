use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use ecs_canary_core::{ApprovalFacts, ApprovalId, Decision};

use crate::error::Failure;
use crate::AwsError;

const ID: &str = "approvalId";
const STATUS: &str = "status";
const PENDING: &str = "PENDING";

/// A stored approval request. The task token never leaves the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    pub id: ApprovalId,
    pub task_token: String,
    pub execution: String,
    pub facts: ApprovalFacts,
    /// Seconds since the epoch after which the link no longer decides.
    pub expires_at: u64,
    /// `PENDING`, `APPROVED` or `REJECTED`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

/// What a decision attempt found.
#[derive(Debug, Clone, PartialEq)]
pub enum DecideOutcome {
    /// This call decided: the record as it was before.
    Decided(ApprovalRecord),
    /// Already decided (by this or another channel).
    AlreadyDecided(ApprovalRecord),
    Expired(ApprovalRecord),
    Unknown,
}

/// Approval requests in a DynamoDB table whose partition key is `approvalId`.
#[derive(Debug, Clone)]
pub struct Approvals {
    client: Client,
    table: String,
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

fn record(item: &HashMap<String, AttributeValue>) -> Option<ApprovalRecord> {
    Some(ApprovalRecord {
        id: ApprovalId::parse(&text(item, ID)?)?,
        task_token: text(item, "taskToken")?,
        execution: text(item, "execution").unwrap_or_default(),
        facts: serde_json::from_str(&text(item, "facts")?).ok()?,
        expires_at: number(item, "expiresAt")?,
        status: text(item, STATUS)?,
        decided_by: text(item, "decidedBy"),
        decided_at: text(item, "decidedAt"),
    })
}

impl Approvals {
    pub fn new(client: Client, table: impl Into<String>) -> Approvals {
        Approvals {
            client,
            table: table.into(),
        }
    }

    /// Stores a new pending approval.
    pub async fn put(&self, record: &ApprovalRecord) -> Result<(), AwsError> {
        let facts = serde_json::to_string(&record.facts).unwrap_or_default();
        self.client
            .put_item()
            .table_name(&self.table)
            .item(ID, AttributeValue::S(record.id.to_string()))
            .item("taskToken", AttributeValue::S(record.task_token.clone()))
            .item("execution", AttributeValue::S(record.execution.clone()))
            .item("facts", AttributeValue::S(facts))
            .item(
                "expiresAt",
                AttributeValue::N(record.expires_at.to_string()),
            )
            .item(STATUS, AttributeValue::S(record.status.clone()))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", ID)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("dynamodb:PutItem"))?;
        Ok(())
    }

    pub async fn get(&self, id: &ApprovalId) -> Result<Option<ApprovalRecord>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ID, AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("dynamodb:GetItem"))?;
        Ok(output.item().and_then(record))
    }

    /// Records a decision once: only a pending, unexpired approval changes.
    pub async fn decide(
        &self,
        id: &ApprovalId,
        decision: Decision,
        by: &str,
        at: &str,
        now: u64,
    ) -> Result<DecideOutcome, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(ID, AttributeValue::S(id.to_string()))
            .update_expression("SET #status = :decided, decidedBy = :by, decidedAt = :at")
            .condition_expression("#status = :pending AND expiresAt > :now")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(
                ":decided",
                AttributeValue::S(decision.status().to_string()),
            )
            .expression_attribute_values(":pending", AttributeValue::S(PENDING.to_string()))
            .expression_attribute_values(":by", AttributeValue::S(by.to_string()))
            .expression_attribute_values(":at", AttributeValue::S(at.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .attributes()
                .and_then(record)
                .map_or(DecideOutcome::Unknown, DecideOutcome::Decided)),
            Err(e) => {
                let failure = Failure::of(e);
                if !failure.has_code("ConditionalCheckFailedException") {
                    return Err(failure.into_error("dynamodb:UpdateItem"));
                }
                Ok(match self.get(id).await? {
                    None => DecideOutcome::Unknown,
                    Some(found) if found.status != PENDING => DecideOutcome::AlreadyDecided(found),
                    Some(found) => DecideOutcome::Expired(found),
                })
            }
        }
    }
}
