//! request-approval: a step's approval asked for on every channel (the
//! task token stored against the hash of the step's link), or a notice of
//! how a deployment ended.

use std::sync::Arc;

use ecs_canary_aws::{own_policy, ApprovalRecord};
use ecs_canary_core::{
    ApprovalFacts, ApprovalId, ApprovalStatus, Channel, Deployment, Gate, HistoryEvent,
    NativePause, Notice,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::actions::decision::deployment_policy;
use crate::actions::evidence::{pause_request_evidence, request_evidence};
use crate::actions::notify::{approval_facts, deliver, send_notice};
use crate::events::{error_and_cause, parse};
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet = Ports::SECRETS
    | Ports::HISTORY
    | Ports::APPROVALS
    | Ports::METRICS
    | Ports::NOTIFICATIONS
    | Ports::WEBHOOKS;

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
    /// The deployment was refused before anything changed (a push during a
    /// rollout: `DeploymentInProgress`, drift, invalid input …).
    Refused,
    /// A person took over (the split changed by hand, the lock released);
    /// the deployment stopped.
    HandedOver,
    /// A guard rolled the deployment back (`AlarmTriggered`, `AnalysisFailed`).
    GuardTripped,
}

/// request-approval's other event: tell the approval channels how a
/// deployment ended (no decision is asked for).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeEvent {
    pub notice: NoticeKind,
    /// The deployment (`handedOver`).
    #[serde(default)]
    pub deployment: Option<Deployment>,
    /// The execution input as given (`refused`).
    #[serde(default)]
    pub input: Value,
    /// The execution (`refused`).
    #[serde(default)]
    pub execution: Option<String>,
    /// Why: a Step Functions error object (`{"Error", "Cause"}`) or the
    /// rollback's `{error, cause}`.
    #[serde(default)]
    pub failure: Value,
}

/// Sends a notice on every configured channel, best effort: a channel that
/// fails is logged and the others still go out. Returns the channels used.
async fn announce(context: &Context, event: NoticeEvent) -> Result<Value, FunctionError> {
    let (error, cause) = error_and_cause(&event.failure);
    // The input as given, but for the values of secret variables.
    let input = context.settings.secret_names.hide_in_input(&event.input);
    let notice = match (event.notice, &event.deployment) {
        (NoticeKind::HandedOver, Some(deployment)) => {
            Notice::handed_over(deployment, &error, &cause)
        }
        (NoticeKind::GuardTripped, Some(deployment)) => {
            Notice::guard_tripped(deployment, &error, &cause)
        }
        (NoticeKind::HandedOver | NoticeKind::GuardTripped, None) => {
            return Err(FunctionError::InvalidEvent(
                "a handedOver or guardTripped notice needs the deployment".into(),
            ))
        }
        (NoticeKind::Refused, _) => Notice::refused(
            &input,
            event.execution.as_deref().unwrap_or_default(),
            &error,
            &cause,
        ),
    };
    if event.notice == NoticeKind::Refused {
        let text = |field: &str| {
            event
                .input
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string()
        };
        context
            .record(HistoryEvent::refused(
                ecs_canary_core::lock_key(&text("cluster"), &text("service")),
                event.execution.as_deref().unwrap_or_default(),
                context.now_millis(),
                &input,
                &error,
                &cause,
            ))
            .await;
    }
    let channels = send_notice(context, &notice).await;
    tracing::info!(notice = ?event.notice, %error, channels = ?channels, "notice sent");
    Ok(json!({"notice": event.notice, "channels": channels}))
}

/// request-approval's event for a pause of ECS's own deployment (the gate
/// state machine).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseApprovalEvent {
    pub task_token: String,
    pub execution: String,
    pub pause: NativePause,
}

/// A step held by a person: until when, and by whom (from the hold's
/// answer, which the state machine hands back as `approval`).
struct Held {
    until: u64,
    by: String,
}

impl Held {
    /// The hold in a step's event, if the step was just held.
    fn of(event: &Value) -> Option<Held> {
        let approval = event.get("deployment")?.get("approval")?;
        if approval.get("decision")?.as_str()? != "hold" {
            return None;
        }
        Some(Held {
            until: approval.get("heldUntil")?.as_u64()?,
            by: approval.get("by")?.as_str()?.to_string(),
        })
    }
}

/// One approval to ask for: who decides it, about what, until when.
struct Ask {
    task_token: String,
    execution: String,
    /// The approvals' index within the execution.
    step: usize,
    facts: ApprovalFacts,
    approval_timeout: u64,
    deployment: Option<Deployment>,
    native: Option<NativePause>,
    gate: Gate,
    held: Option<Held>,
    /// Sent back this many times: each round's links are new.
    round: u32,
}

/// Stores the task token against the hash of the step's link (derived, never
/// stored), then sends the email (SNS)
/// and the Slack message, each with the link; returns at once. The token
/// itself goes nowhere else.
///
/// Channels are best effort: a channel that fails is logged and the others
/// still go out; the step fails (`NoChannelDelivered`) only when channels
/// are configured and none delivered. A retried request for the same step
/// (Step Functions hands it a new token) keeps the link already sent, moves
/// it to the new token, and sends only on the channels that did not deliver.
pub async fn request_approval(context: Arc<Context>, event: Value) -> Result<Value, FunctionError> {
    let context = context.only(PORTS);
    if event.get("notice").is_some() {
        return announce(&context, parse(event)?).await;
    }
    if event.get("pause").is_some() {
        let event: PauseApprovalEvent = parse(event)?;
        let mut pause = event.pause;
        pause.execution = event.execution.clone();
        let mut facts = pause.facts(Some(
            "an ECS service deployment (UpdateService; ECS does not say by whom)".into(),
        ));
        facts.evidence = Some(pause_request_evidence(&context, &pause).await);
        return ask(
            &context,
            Ask {
                task_token: event.task_token,
                execution: event.execution,
                step: pause.step,
                facts,
                approval_timeout: pause.approval_timeout_seconds,
                gate: Gate::of_pause(&pause),
                deployment: None,
                native: Some(pause),
                held: None,
                round: 0,
            },
        )
        .await;
    }
    let held = Held::of(&event);
    let event: ApprovalEvent = parse(event)?;
    let mut facts = approval_facts(&event.deployment);
    facts.evidence = request_evidence(&context, &event.deployment).await;
    // The gate before the start (no step applied yet) has an index of its
    // own, after every step's.
    let step = event
        .deployment
        .step
        .unwrap_or(event.deployment.request.steps.len());
    let round = event.deployment.round;
    ask(
        &context,
        Ask {
            task_token: event.task_token,
            execution: event.execution,
            step,
            round,
            facts,
            approval_timeout: event.deployment.request.approval_timeout_seconds,
            gate: Gate::of(&event.deployment),
            deployment: Some(event.deployment),
            native: None,
            held,
        },
    )
    .await
}

async fn ask(context: &Context, ask: Ask) -> Result<Value, FunctionError> {
    let settings = &context.settings;
    if settings.approval_url.is_empty() {
        return Err(FunctionError::NotConfigured("ECS_CANARY_APPROVAL_URL"));
    }
    let Ask {
        task_token,
        execution,
        step,
        facts,
        approval_timeout,
        deployment,
        native,
        gate,
        held,
        round,
    } = ask;
    // A held step keeps its link, until the hold's deadline.
    let expires_at = held
        .as_ref()
        .map_or(context.now() + approval_timeout, |h| h.until);
    // The link is derived, never stored: the table knows it by its hash.
    let secret = context
        .link_secret()
        .await?
        .ok_or(FunctionError::NotConfigured("ECS_CANARY_LINK_SECRET_ARN"))?;
    // A step asked again after the rollout was sent back gets a new link.
    let id = match round {
        0 => ApprovalId::derive(secret.as_bytes(), &execution, step),
        round => ApprovalId::derive(
            secret.as_bytes(),
            &format!("{execution}#round{round}"),
            step,
        ),
    };
    let claimed = context
        .ports
        .approvals()
        .claim_step(&execution, step, &id.key(), expires_at)
        .await?;
    // Slack carries the link only where a link may decide.
    let links_decide = deployment_policy(context, own_policy(deployment.as_ref(), native.as_ref()))
        .is_ok_and(|policy| policy.allows_channel(Channel::Email));
    let record = ApprovalRecord {
        key: id.key(),
        task_token,
        execution: execution.clone(),
        facts: facts.clone(),
        expires_at,
        status: ApprovalStatus::Pending,
        decided_by: None,
        decided_at: None,
        deployment,
        native,
    };
    let approvals = &context.ports.approvals();
    if claimed.first {
        approvals.put(&record).await?;
    } else {
        // A retry: the first attempt may not have got as far as storing it.
        approvals.renew(&record).await?;
    }
    let link = settings.approval_link(&id);

    // A hold is told on every channel again: the same link, a new deadline.
    let ((subject, body), already) = match &held {
        Some(held) => (facts.held_email(&link, held.until, &held.by), Vec::new()),
        None => (
            (facts.email_subject(), facts.email_body(&link)),
            claimed.delivered.clone(),
        ),
    };
    let sent = deliver(
        context,
        (&subject, &body),
        &facts.slack_message(&id, links_decide.then_some(link.as_str())),
        &already,
    )
    .await;
    let (delivered, failures) = (sent.delivered, sent.failures);
    let already = |channel: &str| claimed.delivered.iter().any(|c| c == channel);
    for channel in delivered.iter().filter(|c| !already(c)) {
        if let Err(error) = context
            .ports
            .approvals()
            .mark_delivered(&execution, step, channel)
            .await
        {
            tracing::warn!(%error, channel, "could not record a delivered channel");
        }
    }
    if !sent.configured.is_empty() && delivered.is_empty() {
        return Err(FunctionError::NoChannelDelivered(failures.join("; ")));
    }
    tracing::info!(
        service = %facts.service,
        step = facts.step,
        steps = facts.steps,
        channels = ?delivered,
        failed = failures.len(),
        retried = !claimed.first,
        "approval requested"
    );
    context
        .record(HistoryEvent::approval_requested(
            &gate,
            context.now_millis(),
            &delivered,
        ))
        .await;
    Ok(json!({"channels": delivered, "failedChannels": failures.len()}))
}
