//! The per-service deployment lock (DynamoDB): taken once, held by one
//! execution, the split it moves recorded on condition that it still holds it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use ecs_canary_core::SplitRecord;

use crate::error::Failure;
use crate::AwsError;

const KEY: &str = "lockKey";
const OWNER: &str = "owner";
const EXPIRES_AT: &str = "expiresAt";
const SPLIT: &str = "split";
const ALARMS: &str = "alarms";
const STEPS: &str = "steps";
const ROLLING_BACK: &str = "rollingBack";
const BAKE_UNTIL: &str = "bakeUntil";
const STACK: &str = "stack";

/// What a deployment puts on its lock for whoever must act on its behalf
/// while it waits: the alarms that guard it (so an alarm finds the
/// deployments it guards), how many steps it has (so its pending approval
/// can be found) and the stack whose routes it moves (so a rollback reads
/// the routes from there, never from whoever invoked it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockGuard {
    pub alarms: Vec<String>,
    pub steps: usize,
    /// Absent on a lock taken by an earlier version.
    pub stack: Option<String>,
}

/// A lock as it is held: by whom, and the traffic its execution last moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLock {
    /// The service's lock key (`cluster/service`).
    pub key: String,
    pub owner: String,
    pub expires_at: u64,
    /// Absent until the execution first changes the weighted rule.
    pub split: Option<SplitRecord>,
    pub guard: LockGuard,
    /// The execution was sent into its rollback from outside (an alarm
    /// failed its waiting step): nobody needs to stop it again.
    pub rolling_back: bool,
    /// Promoted, and baking until then (epoch seconds): the guarding alarms
    /// still watch the new stable release, and the lock is held meanwhile.
    pub bake_until: Option<u64>,
}

fn held_lock(item: &HashMap<String, AttributeValue>) -> Option<HeldLock> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
    };
    Some(HeldLock {
        key: text(KEY)?,
        owner: text(OWNER)?,
        expires_at: number(EXPIRES_AT).unwrap_or_default(),
        // A record this version cannot read is treated as none: the
        // reconciler then leaves a mixed rule to a person.
        split: text(SPLIT).and_then(|json| serde_json::from_str(&json).ok()),
        guard: LockGuard {
            alarms: item
                .get(ALARMS)
                .and_then(|v| v.as_ss().ok())
                .cloned()
                .unwrap_or_default(),
            steps: number(STEPS).unwrap_or_default() as usize,
            stack: text(STACK),
        },
        rolling_back: item
            .get(ROLLING_BACK)
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or_default(),
        bake_until: number(BAKE_UNTIL),
    })
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

    /// Takes the lock for `owner`, or renews it if `owner` holds it already,
    /// with its `guard`. Fails with `LockHeld` while another owner's lock has
    /// not expired.
    pub async fn acquire(
        &self,
        key: &str,
        owner: &str,
        now: u64,
        expires_at: u64,
        guard: &LockGuard,
    ) -> Result<(), AwsError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(key.to_string()))
            .item(OWNER, AttributeValue::S(owner.to_string()))
            .item(EXPIRES_AT, AttributeValue::N(expires_at.to_string()))
            .item(STEPS, AttributeValue::N(guard.steps.to_string()));
        // A string set cannot be empty: no alarms, no attribute.
        if !guard.alarms.is_empty() {
            put = put.item(ALARMS, AttributeValue::Ss(guard.alarms.clone()));
        }
        if let Some(stack) = &guard.stack {
            put = put.item(STACK, AttributeValue::S(stack.clone()));
        }
        let result = put
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

    /// Keeps `owner`'s lock after its promotion, baking until `until` (the
    /// lock expires then too); `false` when `owner` does not hold it.
    pub async fn bake(&self, key: &str, owner: &str, until: u64) -> Result<bool, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_string()))
            .update_expression("SET #bake = :until, #expires = :until")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#bake", BAKE_UNTIL)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .send()
            .await;
        Failure::applied(result, "dynamodb:UpdateItem")
    }

    /// Moves `owner`'s lock's expiry to at least `expires_at` (a held
    /// step); `false` when `owner` does not hold it.
    pub async fn extend(&self, key: &str, owner: &str, expires_at: u64) -> Result<bool, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_string()))
            .update_expression("SET #expires = :expires")
            .condition_expression("#owner = :owner AND #expires < :expires")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
            .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
            .send()
            .await;
        if Failure::applied(result, "dynamodb:UpdateItem")? {
            return Ok(true);
        }
        // Not written: held by `owner` already long enough, or not by `owner`.
        Ok(self.holder(key).await?.as_deref() == Some(owner))
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
        Ok(output.item().and_then(held_lock))
    }

    /// Every lock (expired or not) guarded by the alarm `alarm`. The table
    /// holds one item per service that is being deployed or was left
    /// locked, so a scan stays small.
    pub async fn guarded_by(&self, alarm: &str) -> Result<Vec<HeldLock>, AwsError> {
        self.scan(Some(alarm)).await
    }

    /// Every lock (expired or not): the services being deployed.
    pub async fn all(&self) -> Result<Vec<HeldLock>, AwsError> {
        self.scan(None).await
    }

    /// The locks, only those guarded by `alarm` when there is one.
    async fn scan(&self, alarm: Option<&str>) -> Result<Vec<HeldLock>, AwsError> {
        let mut locks = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut scan = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            if let Some(alarm) = alarm {
                scan = scan
                    .filter_expression("contains(#alarms, :alarm)")
                    .expression_attribute_names("#alarms", ALARMS)
                    .expression_attribute_values(":alarm", AttributeValue::S(alarm.to_string()));
            }
            let output = scan
                .send()
                .await
                .map_err(|e| Failure::of(e).into_error("dynamodb:Scan"))?;
            locks.extend(output.items().iter().filter_map(held_lock));
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(locks),
            }
        }
    }

    /// Records that `owner`'s execution was sent into its rollback from
    /// outside; `false` when `owner` does not hold the lock.
    pub async fn mark_rolling_back(&self, key: &str, owner: &str) -> Result<bool, AwsError> {
        self.set_if_owner(key, owner, ROLLING_BACK, AttributeValue::Bool(true))
            .await
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
        self.set_if_owner(key, owner, SPLIT, AttributeValue::S(json))
            .await
    }

    /// Sets one attribute of the lock item while `owner` holds it; `false`
    /// (nothing written) otherwise.
    async fn set_if_owner(
        &self,
        key: &str,
        owner: &str,
        attribute: &str,
        value: AttributeValue,
    ) -> Result<bool, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_string()))
            .update_expression("SET #attribute = :value")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#attribute", attribute)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":value", value)
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
            .send()
            .await;
        Failure::applied(result, "dynamodb:UpdateItem")
    }
}
