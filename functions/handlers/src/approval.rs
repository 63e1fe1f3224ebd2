use std::sync::Arc;

use ecs_canary_aws::ApprovalRecord;
use ecs_canary_core::{ApprovalFacts, ApprovalId, Deployment, DeploymentRequest, Notice};
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

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NoticeKind {
    /// The weighted rule was changed by hand; the deployment stopped.
    SplitChangedByHand,
}

/// request-approval's other event: tell the approval channels how a
/// deployment ended (no decision is asked for).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeEvent {
    pub notice: NoticeKind,
    pub deployment: Deployment,
    /// `{error, cause}` as the rollback function reported it.
    #[serde(default)]
    pub failure: Value,
}

/// Sends a notice on every configured channel, best effort: a channel that
/// fails is logged and the others still go out. Returns the channels used.
async fn announce(context: &Context, event: NoticeEvent) -> Result<Value, FunctionError> {
    let cause = event
        .failure
        .get("cause")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let notice = match event.notice {
        NoticeKind::SplitChangedByHand => Notice::split_changed_by_hand(&event.deployment, cause),
    };
    let mut channels = Vec::new();
    if let Some(topic) = &context.settings.topic_arn {
        match context
            .clients
            .notifications
            .publish(topic, &notice.subject, &notice.text)
            .await
        {
            Ok(_) => channels.push("email"),
            Err(error) => tracing::error!(%error, "could not send the notice by email"),
        }
    }
    match context.slack_webhook_url().await {
        Ok(Some(webhook)) => match context
            .webhooks
            .post_json(&webhook, &notice.slack_message())
            .await
        {
            Ok(()) => channels.push("slack"),
            Err(error) => tracing::error!(%error, "could not send the notice to Slack"),
        },
        Ok(None) => {}
        Err(error) => tracing::error!(%error, "could not read the Slack webhook"),
    }
    tracing::info!(service = %event.deployment.request.service, notice = ?event.notice, channels = ?channels, "notice sent");
    Ok(json!({"notice": event.notice, "channels": channels}))
}

/// The release as approvers see it: the difference from what is stable now
/// (image before → after, each variable added or changed); the request
/// itself only for a deployment resolved without one.
fn release_text(deployment: &Deployment) -> String {
    if let Some(change) = &deployment.release {
        return change.summary();
    }
    let request: &DeploymentRequest = &deployment.request;
    let mut parts = Vec::new();
    parts.extend(request.image_text());
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
        release: release_text(deployment),
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
    if event.get("notice").is_some() {
        return announce(&context, parse(event)?).await;
    }
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
