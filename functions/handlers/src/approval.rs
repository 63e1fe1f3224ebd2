use std::sync::Arc;

use ecs_canary_aws::ApprovalRecord;
use ecs_canary_core::{ApprovalFacts, ApprovalId, Deployment, DeploymentRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::events::parse;
use crate::{Context, FunctionError};

/// request-approval's event: sent by the state machine with `.waitForTaskToken`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalEvent {
    pub task_token: String,
    pub execution: String,
    pub deployment: Deployment,
}

fn release_text(request: &DeploymentRequest) -> String {
    let mut parts = Vec::new();
    if let Some(image) = &request.image {
        parts.push(image.clone());
    }
    parts.extend(request.environment.iter().map(|(k, v)| format!("{k}={v}")));
    parts.join(", ")
}

/// The facts of the step a deployment has just applied.
pub fn approval_facts(deployment: &Deployment) -> ApprovalFacts {
    let step = deployment.step.unwrap_or(0);
    let steps = deployment.request.steps.percentages();
    ApprovalFacts {
        cluster: deployment.request.cluster.clone(),
        service: deployment.request.service.clone(),
        release: release_text(&deployment.request),
        stable: deployment.stable,
        candidate: deployment.candidate,
        step: step + 1,
        steps: steps.len(),
        split: deployment.split,
        next_percent: steps.get(step + 1).copied(),
    }
}

fn random_id() -> Result<ApprovalId, FunctionError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| FunctionError::InvalidEvent(format!("no randomness: {e}")))?;
    Ok(ApprovalId::from_random(bytes))
}

/// Stores the task token against a new opaque id, then sends the email (SNS)
/// and the Slack message, each with the link; returns at once. The token
/// itself goes nowhere else.
pub async fn request_approval(context: Arc<Context>, event: Value) -> Result<Value, FunctionError> {
    let event: ApprovalEvent = parse(event)?;
    let settings = &context.settings;
    if settings.approval_url.is_empty() {
        return Err(FunctionError::NotConfigured("ECS_CANARY_APPROVAL_URL"));
    }
    let facts = approval_facts(&event.deployment);
    let id = random_id()?;
    let record = ApprovalRecord {
        id: id.clone(),
        task_token: event.task_token,
        execution: event.execution,
        facts: facts.clone(),
        expires_at: context.now() + event.deployment.request.approval_timeout_seconds,
        status: "PENDING".into(),
        decided_by: None,
        decided_at: None,
    };
    context.approvals.put(&record).await?;
    let link = settings.approval_link(&id);

    let mut channels = Vec::new();
    if let Some(topic) = &settings.topic_arn {
        context
            .clients
            .notifications
            .publish(topic, &facts.email_subject(), &facts.email_body(&link))
            .await?;
        channels.push("email");
    }
    if let Some(webhook) = context.slack_webhook_url().await? {
        context
            .webhooks
            .post_json(&webhook, &facts.slack_message(&id, &link))
            .await?;
        channels.push("slack");
    }
    tracing::info!(
        approval = %id,
        service = %facts.service,
        step = facts.step,
        steps = facts.steps,
        channels = ?channels,
        "approval requested"
    );
    Ok(json!({"approvalId": id, "link": link, "channels": channels}))
}
