//! Telling people: the approval request's facts, and notices sent on every
//! configured channel (email through SNS, Slack's webhook), best effort.

use ecs_canary_core::{iso8601, ApprovalFacts, Deployment, DeploymentRequest, Notice};
use serde_json::Value;

use crate::Context;

/// The approval channels, as logged and returned.
pub const EMAIL: &str = "email";
pub const SLACK: &str = "slack";

/// How long a post to Slack's webhook may take.
const WEBHOOK_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends a notice on every configured channel, best effort; returns the
/// channels that delivered it.
pub async fn send_notice(context: &Context, notice: &Notice) -> Vec<&'static str> {
    deliver(
        context,
        (&notice.subject, &notice.text),
        &notice.slack_message(),
        &[],
    )
    .await
    .delivered
}

/// What sending on the approval channels did.
pub struct Delivery {
    /// The channels that are configured.
    pub configured: Vec<&'static str>,
    /// The channels that delivered (now, or before: `already`).
    pub delivered: Vec<&'static str>,
    pub failures: Vec<String>,
}

impl Delivery {
    /// What sending on `channel` did: delivered, or failed and why.
    fn note(&mut self, channel: &'static str, result: Result<(), String>) {
        match result {
            Ok(()) => self.delivered.push(channel),
            Err(error) => self.failures.push(format!("{channel}: {error}")),
        }
    }
}

/// Sends the email (SNS) and the Slack message on every configured channel
/// not in `already`, best effort: a failing channel is recorded and logged,
/// the others still go out.
pub async fn deliver(
    context: &Context,
    (subject, body): (&str, &str),
    slack_message: &Value,
    already: &[String],
) -> Delivery {
    let mut sent = Delivery {
        configured: Vec::new(),
        delivered: Vec::new(),
        failures: Vec::new(),
    };
    let done = |channel: &str| already.iter().any(|c| c == channel);
    if let Some(topic) = &context.settings.topic_arn {
        sent.configured.push(EMAIL);
        let result = if done(EMAIL) {
            Ok(())
        } else {
            context
                .ports
                .notifications()
                .publish(topic, subject, body)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        sent.note(EMAIL, result);
    }
    let webhook = match context.slack_webhook_url().await {
        Ok(webhook) => webhook,
        Err(error) => {
            sent.configured.push(SLACK);
            sent.note(SLACK, Err(error.to_string()));
            None
        }
    };
    if let Some(webhook) = webhook {
        sent.configured.push(SLACK);
        let result = if done(SLACK) {
            Ok(())
        } else {
            context
                .ports
                .webhooks()
                .post_json(&webhook, slack_message, WEBHOOK_LIMIT)
                .await
        };
        sent.note(SLACK, result);
    }
    for failure in &sent.failures {
        tracing::error!(%failure, "an approval channel failed");
    }
    sent
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

/// When and by what the deployment was started: a person (the command line
/// sets `startedBy`), an ECR push (the trigger sets `imageTag`) or the
/// execution, by name.
pub fn started_by(deployment: &Deployment) -> String {
    let when = deployment
        .started_at
        .map(iso8601)
        .unwrap_or_else(|| "at an unknown time".into());
    let execution = deployment.owner.rsplit(':').next().unwrap_or_default();
    if let Some(who) = &deployment.request.started_by {
        return format!("{when}, by {who} (execution {execution})");
    }
    match (
        &deployment.request.image_tag,
        deployment.request.image_text(),
    ) {
        (Some(_), Some(image)) => {
            format!("{when}, by an ECR push of {image} (execution {execution})")
        }
        _ => format!("{when}, execution {execution}"),
    }
}

/// The facts of the step a deployment has just applied.
pub fn approval_facts(deployment: &Deployment) -> ApprovalFacts {
    let steps = deployment.request.steps.percentages();
    ApprovalFacts {
        cluster: deployment.request.cluster.clone(),
        service: deployment.request.service.clone(),
        release: release_text(deployment),
        stable: deployment.stable.to_string(),
        candidate: deployment.candidate.to_string(),
        // Before the start (no step applied: `approveBeforeStart`), gate 0,
        // whose approval moves to the first step.
        step: deployment.step.map_or(0, |step| step + 1),
        steps: steps.len(),
        split: deployment.split,
        next_percent: match deployment.step {
            Some(step) => deployment.percent_after(step),
            None => steps.first().copied(),
        },
        evidence: None,
        plan: steps.to_vec(),
        started: Some(started_by(deployment)),
        // A step of the rollout (not the gate before the start).
        holdable: deployment.step.is_some(),
        back_at_zero: deployment.step.is_none() && deployment.round > 0,
        revert: false,
    }
}
