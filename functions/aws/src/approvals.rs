//! The approvals table (DynamoDB): a step's request keyed by the hash of its
//! link, and the conditional writes that make a decision single —
//! `PENDING → DECIDING → decided`, back to `PENDING` when it was not passed on.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use ecs_canary_core::{
    ApprovalFacts, ApprovalKey, ApprovalPolicy, ApprovalStatus, Decision, Deployment, Gate,
    NativePause, DECIDING_TAKEOVER_SECONDS,
};

use crate::error::Failure;
use crate::tokens::TokenSeal;
use crate::AwsError;

const ID: &str = "approvalId";
const STATUS: &str = "status";
const UPDATE_ITEM: &str = "dynamodb:UpdateItem";
/// DynamoDB deletes an item some time after this (epoch seconds).
const TTL: &str = "ttl";
/// How long a decided or expired request stays readable (the history keeps
/// every decision for good).
const KEEP_SECONDS: u64 = 30 * 86_400;

fn ttl(expires_at: u64) -> String {
    expires_at.saturating_add(KEEP_SECONDS).to_string()
}

/// A stored approval request. The task token never leaves the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    /// The link's key (the SHA-256 of its id; the id is never stored).
    pub key: ApprovalKey,
    pub task_token: String,
    pub execution: String,
    pub facts: ApprovalFacts,
    /// Seconds since the epoch after which the link no longer decides.
    pub expires_at: u64,
    pub status: ApprovalStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// The deployment as the step left it, so that whoever ends the step
    /// early (a rejection, an alarm) can put traffic back on stable at once.
    pub deployment: Option<Deployment>,
    /// The pause of ECS's own deployment the request gates (instead of a
    /// deployment of ecs-canary's).
    pub native: Option<NativePause>,
}

impl ApprovalRecord {
    /// What the request is about, for the audit trail.
    pub fn gate(&self) -> Option<Gate> {
        match (&self.deployment, &self.native) {
            (Some(deployment), _) => Some(Gate::of(deployment)),
            (None, Some(pause)) => Some(Gate::of_pause(pause)),
            (None, None) => None,
        }
    }

    /// The deployment's own approval policy (its input's), or the paused
    /// service's (its tags'); held to the stack's when applied.
    pub fn own_policy(&self) -> Option<&ApprovalPolicy> {
        own_policy(self.deployment.as_ref(), self.native.as_ref())
    }
}

/// The approval policy a deployment or a pause brings of its own.
pub fn own_policy<'a>(
    deployment: Option<&'a Deployment>,
    pause: Option<&'a NativePause>,
) -> Option<&'a ApprovalPolicy> {
    deployment
        .and_then(|d| d.request.approval_policy.as_ref())
        .or_else(|| pause.and_then(|p| p.settings.approval_policy.as_ref()))
}

/// The approval request of one step of one execution, as a retried
/// request-approval finds it again: the link already sent, and the channels
/// that already delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRequest {
    pub key: ApprovalKey,
    pub delivered: Vec<String>,
    /// Whether this call created it (the first request for the step).
    pub first: bool,
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
    /// Seals task tokens before they are stored (none: stored as they are).
    seal: Option<TokenSeal>,
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
        key: ApprovalKey::parse(&text(item, ID)?)?,
        task_token: text(item, "taskToken")?,
        execution: text(item, "execution").unwrap_or_default(),
        facts: serde_json::from_str(&text(item, "facts")?).ok()?,
        expires_at: number(item, "expiresAt")?,
        status: ApprovalStatus::parse(&text(item, STATUS)?)?,
        decided_by: text(item, "decidedBy"),
        decided_at: text(item, "decidedAt"),
        deployment: text(item, "deployment").and_then(|json| serde_json::from_str(&json).ok()),
        native: text(item, "native").and_then(|json| serde_json::from_str(&json).ok()),
    })
}

impl Approvals {
    pub fn new(client: Client, table: impl Into<String>) -> Approvals {
        Approvals {
            client,
            table: table.into(),
            seal: None,
        }
    }

    /// These approvals, their task tokens stored sealed by `seal`.
    pub fn sealed_by(mut self, seal: TokenSeal) -> Approvals {
        self.seal = Some(seal);
        self
    }

    /// `found` with its task token opened (it is read only where a
    /// decision is passed on: the token is opened there and nowhere else).
    async fn opened(&self, mut found: ApprovalRecord) -> Result<ApprovalRecord, AwsError> {
        if let Some(seal) = &self.seal {
            found.task_token = seal.open(&found.task_token, found.key.as_str()).await?;
        } else if crate::tokens::is_sealed(&found.task_token) {
            return Err(AwsError::Service {
                operation: "kms:Decrypt",
                code: "NotConfigured".into(),
                message: "the task token is sealed and no key is configured (ECS_CANARY_TOKEN_KEY)"
                    .into(),
            });
        }
        Ok(found)
    }

    /// Stores a new pending approval.
    pub async fn put(&self, record: &ApprovalRecord) -> Result<(), AwsError> {
        self.write(record, true).await
    }

    /// A retried request for the same step: the same link now carries the
    /// new task token and waits again — whether or not the first attempt got
    /// as far as storing it.
    pub async fn renew(&self, record: &ApprovalRecord) -> Result<(), AwsError> {
        self.write(record, false).await
    }

    async fn write(&self, record: &ApprovalRecord, only_new: bool) -> Result<(), AwsError> {
        let facts = serde_json::to_string(&record.facts).unwrap_or_default();
        let token = match &self.seal {
            Some(seal) => seal.seal(&record.task_token, record.key.as_str()).await?,
            None => record.task_token.clone(),
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(ID, AttributeValue::S(record.key.to_string()))
            .item(TTL, AttributeValue::N(ttl(record.expires_at)))
            .item("taskToken", AttributeValue::S(token))
            .item("execution", AttributeValue::S(record.execution.clone()))
            .item("facts", AttributeValue::S(facts))
            .item(
                "expiresAt",
                AttributeValue::N(record.expires_at.to_string()),
            )
            .item(
                STATUS,
                AttributeValue::S(record.status.as_str().to_string()),
            );
        if let Some(json) = record
            .deployment
            .as_ref()
            .and_then(|d| serde_json::to_string(d).ok())
        {
            request = request.item("deployment", AttributeValue::S(json));
        }
        if let Some(json) = record
            .native
            .as_ref()
            .and_then(|p| serde_json::to_string(p).ok())
        {
            request = request.item("native", AttributeValue::S(json));
        }
        if only_new {
            request = request
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", ID);
        }
        request
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("dynamodb:PutItem"))?;
        Ok(())
    }

    pub async fn get(&self, key: &ApprovalKey) -> Result<Option<ApprovalRecord>, AwsError> {
        Ok(self.item(key.as_str()).await?.as_ref().and_then(record))
    }

    /// The step's request: created for `link` the first time, found again
    /// (with the channels that delivered it) when request-approval is retried.
    pub async fn claim_step(
        &self,
        execution: &str,
        step: usize,
        link: &ApprovalKey,
        expires_at: u64,
    ) -> Result<StepRequest, AwsError> {
        let key = step_key(execution, step);
        let created = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(ID, AttributeValue::S(key.clone()))
            .item(LINK_KEY, AttributeValue::S(link.to_string()))
            .item(TTL, AttributeValue::N(ttl(expires_at)))
            // New, or asked again with a new link (the rollout was sent
            // back a step): the step's request starts over.
            .condition_expression("attribute_not_exists(#id) OR #link <> :link")
            .expression_attribute_names("#id", ID)
            .expression_attribute_names("#link", LINK_KEY)
            .expression_attribute_values(":link", AttributeValue::S(link.to_string()))
            .send()
            .await;
        match created {
            Ok(_) => Ok(StepRequest {
                key: link.clone(),
                delivered: Vec::new(),
                first: true,
            }),
            Err(e) => {
                let failure = Failure::of(e);
                if !failure.is_condition_failed() {
                    return Err(failure.into_error("dynamodb:PutItem"));
                }
                let item = self.item(&key).await?.unwrap_or_default();
                let found = text(&item, LINK_KEY)
                    .and_then(|k| ApprovalKey::parse(&k))
                    .ok_or_else(|| AwsError::Service {
                        operation: "dynamodb:GetItem",
                        code: "MalformedItem".into(),
                        message: format!("step item {key} has no link key"),
                    })?;
                let delivered = item
                    .get("delivered")
                    .and_then(|v| v.as_ss().ok())
                    .cloned()
                    .unwrap_or_default();
                Ok(StepRequest {
                    key: found,
                    delivered,
                    first: false,
                })
            }
        }
    }

    /// Records that `channel` delivered the step's request.
    pub async fn mark_delivered(
        &self,
        execution: &str,
        step: usize,
        channel: &str,
    ) -> Result<(), AwsError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(ID, AttributeValue::S(step_key(execution, step)))
            .update_expression("ADD delivered :channel")
            .expression_attribute_values(":channel", AttributeValue::Ss(vec![channel.to_string()]))
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error(UPDATE_ITEM))?;
        Ok(())
    }

    async fn item(&self, key: &str) -> Result<Option<HashMap<String, AttributeValue>>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ID, AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("dynamodb:GetItem"))?;
        Ok(output.item().cloned())
    }

    /// Takes a decision, once: only a pending, unexpired approval (or one
    /// whose decider died more than [`DECIDING_TAKEOVER_SECONDS`] ago) moves
    /// to `Deciding`, recording who and when. The caller then passes it on
    /// and [`settle`](Approvals::settle)s it (decided, pending again, expired).
    pub async fn decide(
        &self,
        key: &ApprovalKey,
        decision: Decision,
        by: &str,
        at: &str,
        now: u64,
    ) -> Result<DecideOutcome, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(ID, AttributeValue::S(key.to_string()))
            .update_expression(
                "SET #status = :deciding, decision = :decision, decidedBy = :by, decidedAt = :at, decidingSince = :now",
            )
            .condition_expression(
                "(#status = :pending AND expiresAt > :now) OR (#status = :deciding AND decidingSince < :stale)",
            )
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(
                ":deciding",
                AttributeValue::S(ApprovalStatus::Deciding.as_str().into()),
            )
            .expression_attribute_values(
                ":pending",
                AttributeValue::S(ApprovalStatus::Pending.as_str().into()),
            )
            .expression_attribute_values(":decision", AttributeValue::S(decision.as_str().into()))
            .expression_attribute_values(":by", AttributeValue::S(by.to_string()))
            .expression_attribute_values(":at", AttributeValue::S(at.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(
                ":stale",
                AttributeValue::N(now.saturating_sub(DECIDING_TAKEOVER_SECONDS).to_string()),
            )
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes().and_then(record) {
                None => Ok(DecideOutcome::Unknown),
                Some(found) => match self.opened(found).await {
                    Ok(found) => Ok(DecideOutcome::Decided(found)),
                    Err(error) => {
                        // Not decided after all: it waits again.
                        if let Err(settle) = self.settle(key, ApprovalStatus::Pending).await {
                            tracing::error!(%settle, "could not put an undecided approval back to pending");
                        }
                        Err(error)
                    }
                },
            },
            Err(e) => {
                let failure = Failure::of(e);
                if !failure.is_condition_failed() {
                    return Err(failure.into_error(UPDATE_ITEM));
                }
                Ok(match self.get(key).await? {
                    None => DecideOutcome::Unknown,
                    Some(found) if found.status == ApprovalStatus::Pending => {
                        DecideOutcome::Expired(found)
                    }
                    Some(found) if found.status == ApprovalStatus::Expired => {
                        DecideOutcome::Expired(found)
                    }
                    Some(found) => DecideOutcome::AlreadyDecided(found),
                })
            }
        }
    }

    /// Moves a decision that is being passed on to `status`: the decided
    /// status once Step Functions took it, `Pending` (who and when removed)
    /// when it could not be passed on, `Expired` when the step is gone.
    pub async fn settle(&self, key: &ApprovalKey, status: ApprovalStatus) -> Result<(), AwsError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(ID, AttributeValue::S(key.to_string()))
            .condition_expression("#status = :deciding")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(
                ":deciding",
                AttributeValue::S(ApprovalStatus::Deciding.as_str().into()),
            )
            .expression_attribute_values(":to", AttributeValue::S(status.as_str().into()));
        update = if status == ApprovalStatus::Pending {
            update.update_expression(
                "SET #status = :to REMOVE decision, decidedBy, decidedAt, decidingSince",
            )
        } else {
            update.update_expression("SET #status = :to REMOVE decidingSince")
        };
        update
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error(UPDATE_ITEM))?;
        Ok(())
    }
}

impl Approvals {
    /// Closes every link of `execution` still pending (steps `0..steps`, and the gate before the start, `steps`):
    /// they say "expired" from now on. Returns how many were closed.
    pub async fn expire_pending(&self, execution: &str, steps: usize) -> Result<usize, AwsError> {
        let mut closed = 0;
        for step in 0..=steps {
            let Some(item) = self.item(&step_key(execution, step)).await? else {
                continue;
            };
            let Some(id) = text(&item, LINK_KEY) else {
                continue;
            };
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(ID, AttributeValue::S(id))
                .update_expression("SET #status = :expired")
                .condition_expression("#status = :pending")
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_values(
                    ":expired",
                    AttributeValue::S(ApprovalStatus::Expired.as_str().into()),
                )
                .expression_attribute_values(
                    ":pending",
                    AttributeValue::S(ApprovalStatus::Pending.as_str().into()),
                )
                .send()
                .await;
            if Failure::applied(result, UPDATE_ITEM)? {
                closed += 1;
            }
        }
        Ok(closed)
    }
}

impl Approvals {
    /// The execution's approval that is waiting for a decision right now
    /// (steps `0..steps` and the gate before the start, `steps`; the latest first), if any.
    pub async fn pending(
        &self,
        execution: &str,
        steps: usize,
    ) -> Result<Option<ApprovalRecord>, AwsError> {
        for step in (0..=steps).rev() {
            let Some(item) = self.item(&step_key(execution, step)).await? else {
                continue;
            };
            let Some(id) = text(&item, LINK_KEY).and_then(|k| ApprovalKey::parse(&k)) else {
                continue;
            };
            if let Some(found) = self.get(&id).await? {
                if found.status == ApprovalStatus::Pending {
                    return Ok(Some(self.opened(found).await?));
                }
            }
        }
        Ok(None)
    }
}

/// The attribute of a step's item that names its link's key.
const LINK_KEY: &str = "linkKey";

/// The key of a step's item: never a valid [`ApprovalKey`], so no link reaches it.
fn step_key(execution: &str, step: usize) -> String {
    format!("step#{execution}#{step}")
}
