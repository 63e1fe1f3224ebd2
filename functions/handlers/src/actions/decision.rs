//! Deciding a waiting step: one path for a click on a link, a Slack button,
//! the command line and an alarm. The link still open, the approval policy,
//! the decision taken once (`PENDING → DECIDING`), the automatic analysis on
//! an approval, traffic back on stable first on a rejection, then Step
//! Functions, then the record settled and the history written.

use ecs_canary_aws::{ApprovalRecord, AwsError, DecideOutcome};
use ecs_canary_core::{
    iso8601, AnalysisError, ApprovalFacts, ApprovalId, ApprovalPolicy, ApprovalStatus, Approver,
    Decision, Deployment, ErrorKind, ErrorName, HistoryEvent, LinkState,
};
use serde_json::json;

use crate::actions::evidence::check_analysis;
use crate::actions::native;
use crate::actions::traffic::stable_first;
use crate::Context;

/// The result of a decision, for a page, a Slack message or the command
/// line: an HTTP status (200 decided, 403 refused by the policy, 404
/// unknown, 409 decided already, 410 expired, 503 not passed on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionOutcome {
    pub status: u16,
    pub title: String,
    pub message: String,
}

/// `text` with its first letter in upper case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl DecisionOutcome {
    fn new(status: u16, title: &str, message: String) -> DecisionOutcome {
        DecisionOutcome {
            status,
            title: title.into(),
            message,
        }
    }

    /// A link that belongs to no deployment.
    pub fn unknown() -> DecisionOutcome {
        DecisionOutcome::new(
            404,
            "Unknown approval",
            "This link does not belong to any deployment.".into(),
        )
    }

    /// The page of a link that can no longer decide (or is deciding right now).
    pub fn closed(record: &ApprovalRecord, state: LinkState) -> DecisionOutcome {
        let facts = &record.facts;
        let by = record.decided_by.as_deref().unwrap_or_default();
        let at = record.decided_at.as_deref().unwrap_or_default();
        let (title, message) = match state {
            LinkState::BeingDecided => (
                "A decision is being recorded",
                format!(
                    "{by} chose for {} of {} at {at}; it is being passed on to the deployment right now. Open the link again in a moment to see the outcome.",
                    facts.step_label(), facts.service
                ),
            ),
            LinkState::Expired if record.native.is_some() => (
                "This approval has expired",
                format!(
                    "ECS no longer waits at {} of {}: its deployment finished, failed, rolled back or was stopped, or the approval timed out. Nothing was changed by this link.",
                    facts.step_label(), facts.service
                ),
            ),
            LinkState::Expired => (
                "This approval has expired",
                format!(
                    "{} for {} is no longer waiting for a decision: the deployment ended (its approval timed out, it was stopped, or a guarding alarm fired) and its traffic went back to the stable colour. The approval channels say how.",
                    capitalized(&facts.step_label()), facts.service
                ),
            ),
            LinkState::Decided | LinkState::Open => (
                "Already decided",
                format!(
                    "{} for {} was {} by {by} at {at}. Nothing was changed.",
                    capitalized(&facts.step_label()),
                    facts.service,
                    record.status.as_str().to_lowercase(),
                ),
            ),
        };
        DecisionOutcome::new(state.http_status(), title, message)
    }

    /// What a person is told once Step Functions has answered (or not).
    fn passed_on(
        facts: &ApprovalFacts,
        decision: Decision,
        callback: &Result<(), AwsError>,
    ) -> DecisionOutcome {
        match (callback, decision) {
            (Ok(()), Decision::Approve) => {
                DecisionOutcome::new(200, "Approved", format!("{} Thank you.", facts.on_approve()))
            }
            (Ok(()), Decision::Reject) => {
                DecisionOutcome::new(200, "Rejected", format!("{} Thank you.", facts.on_reject()))
            }
            (Err(AwsError::TaskNotWaiting(_)), _) => DecisionOutcome::new(
                410,
                "This approval has expired",
                format!(
                    "{} for {} is no longer waiting for a decision.",
                    capitalized(&facts.step_label()), facts.service
                ),
            ),
            (Err(other), _) => DecisionOutcome::new(
                503,
                "Your decision was not recorded",
                format!(
                    "It could not be passed on to the deployment just now ({}). Nothing has changed: {} for {} is still waiting. Open the link again and choose once more.",
                    other.error_type(),
                    facts.step_label(),
                    facts.service
                ),
            ),
        }
    }
}

/// Settles a decision once Step Functions has answered: `decided` when it
/// took it, `Expired` when the step is gone, `Pending` (decide again) on any
/// other failure. A record that cannot be settled is logged: the decision
/// itself stands.
pub async fn settle_decision(
    context: &Context,
    record: &ApprovalRecord,
    decided: ApprovalStatus,
    (by, channel): (&str, &str),
    callback: &Result<(), AwsError>,
) {
    let settled = match callback {
        Ok(()) => decided,
        Err(AwsError::TaskNotWaiting(_)) => ApprovalStatus::Expired,
        Err(_) => ApprovalStatus::Pending,
    };
    if let Err(error) = context.ports.approvals.settle(&record.key, settled).await {
        tracing::error!(%error, status = settled.as_str(), "could not settle the decision's record");
    }
    if let (Ok(()), Some(gate)) = (callback, record.gate()) {
        context
            .record(HistoryEvent::decided(
                &gate,
                context.now_millis(),
                &decided.as_str().to_lowercase(),
                by,
                channel,
                record.facts.evidence.as_deref(),
            ))
            .await;
    }
}

/// The approval policy that applies to a deployment or a pause: its own
/// (`own`) held to the stack's (the floor: it may only narrow it); `Err`
/// with the reason when there is none to apply (a malformed default, or an
/// own policy below the floor: everyone is refused, it fails closed).
pub fn deployment_policy(
    context: &Context,
    own: Option<&ApprovalPolicy>,
) -> Result<ApprovalPolicy, String> {
    let floor = context.settings.default_policy()?;
    match own {
        Some(own) => own.within(&floor).map_err(|below| below.to_string()),
        None => Ok(floor),
    }
}

/// Whether `approver` may make this decision on a request under its
/// deployment's policy; `Err` with the reason when not.
fn policy_allows(
    context: &Context,
    record: &ApprovalRecord,
    approver: &Approver,
    decision: Decision,
) -> Result<(), String> {
    let deployment = record.deployment.as_ref();
    let policy = deployment_policy(context, record.own_policy())?;
    let initiator = deployment.and_then(|d| d.request.started_by.as_deref());
    policy
        .check(approver, decision == Decision::Approve, initiator)
        .map_err(|refusal| refusal.to_string())
}

/// Decides the request behind a link, as `approver`.
pub async fn decide_link(
    context: &Context,
    id: &ApprovalId,
    decision: Decision,
    approver: &Approver,
) -> Result<DecisionOutcome, AwsError> {
    match context.ports.approvals.get(&id.key()).await? {
        Some(found) => decide_request(context, found, decision, approver).await,
        None => Ok(DecisionOutcome::unknown()),
    }
}

/// Decides a stored approval request as `approver`, through every check a
/// click goes through (see the module's documentation). The link and the
/// command line both decide here.
pub async fn decide_request(
    context: &Context,
    found: ApprovalRecord,
    decision: Decision,
    approver: &Approver,
) -> Result<DecisionOutcome, AwsError> {
    let now = context.now();
    let by = approver.identity.as_str();
    // Who may decide, before anything changes: a refused approver changes nothing.
    match found.status.link_state(found.expires_at, now) {
        state @ (LinkState::Decided | LinkState::Expired) => {
            return Ok(DecisionOutcome::closed(&found, state))
        }
        LinkState::Open | LinkState::BeingDecided => {}
    }
    // A pause of ECS's own deployment that ended there decides nothing.
    if let Some(pause) = &found.native {
        if let Some(status) = native::ended(context, pause).await? {
            native::close_ended(context, pause, &status).await?;
            return Ok(DecisionOutcome::closed(&found, LinkState::Expired));
        }
    }
    if let Err(why) = policy_allows(context, &found, approver, decision) {
        return Ok(refuse(context, &found, approver, &why).await);
    }
    let at = iso8601(now);
    let taken = context
        .ports
        .approvals
        .decide(&found.key, decision, by, &at, now)
        .await?;
    let record = match taken {
        DecideOutcome::Decided(record) => record,
        DecideOutcome::AlreadyDecided(record) => {
            let state = record.status.link_state(record.expires_at, now);
            return Ok(DecisionOutcome::closed(&record, state));
        }
        DecideOutcome::Expired(record) => {
            return Ok(DecisionOutcome::closed(&record, LinkState::Expired))
        }
        DecideOutcome::Unknown => return Ok(DecisionOutcome::unknown()),
    };
    // The automatic analysis has the last word on an approval: a step whose
    // numbers are over its limit is rejected by itself, traffic first.
    if let (Decision::Approve, Some(deployment)) = (decision, &record.deployment) {
        if let Err(failed) = check_analysis(context, deployment).await {
            return Ok(overrule(context, &record, deployment, &failed, (by, &at)).await);
        }
    }
    let callback = pass_on(context, &record, decision, (by, &at)).await;
    let facts = &record.facts;
    tracing::info!(service = %facts.service, step = facts.step, decision = decision.as_str(), %by, passed_on = callback.is_ok(), "decision");
    if let Err(error) = &callback {
        if !matches!(error, AwsError::TaskNotWaiting(_)) {
            tracing::error!(%error, "the decision could not be passed on; the step waits again");
        }
    }
    // Two-phase: the decision is only final once Step Functions has it.
    settle_decision(
        context,
        &record,
        ApprovalStatus::decided(decision),
        (by, approver.channel.as_str()),
        &callback,
    )
    .await;
    Ok(DecisionOutcome::passed_on(facts, decision, &callback))
}

/// A decision the policy refuses: recorded, nothing else changes.
async fn refuse(
    context: &Context,
    found: &ApprovalRecord,
    approver: &Approver,
    why: &str,
) -> DecisionOutcome {
    let facts = &found.facts;
    let channel = approver.channel.as_str();
    tracing::warn!(service = %facts.service, step = facts.step, channel, %why, "a decision was refused by the approval policy");
    if let Some(gate) = found.gate() {
        context
            .record(HistoryEvent::decision_refused(
                &gate,
                context.now_millis(),
                &approver.identity,
                channel,
                why,
            ))
            .await;
    }
    DecisionOutcome::new(
        403,
        "Not allowed",
        format!(
            "{why}. Nothing was changed: {} for {} still waits for a decision.",
            facts.step_label(),
            facts.service
        ),
    )
}

/// Passes a decision taken on record to Step Functions: an approval as the
/// task's output; a rejection with traffic back on stable first.
async fn pass_on(
    context: &Context,
    record: &ApprovalRecord,
    decision: Decision,
    (by, at): (&str, &str),
) -> Result<(), AwsError> {
    let facts = &record.facts;
    let callbacks = &context.ports.callbacks;
    match decision {
        Decision::Approve => {
            let output = json!({"decision": "approve", "by": by, "at": at, "step": facts.step});
            callbacks
                .succeed(&record.task_token, &output.to_string())
                .await
        }
        Decision::Reject => {
            let rejected = ErrorKind::Rejected.as_str();
            let cause = format!(
                "rejected by {by} at {at} (step {} of {})",
                facts.step, facts.steps
            );
            // Traffic back on stable first; the state machine's rollback follows.
            if let Some(deployment) = &record.deployment {
                stable_first(context, deployment, rejected, &cause).await;
            }
            callbacks.fail(&record.task_token, rejected, &cause).await
        }
    }
}

/// An approval the automatic analysis overrules: traffic back on stable
/// first, the step failed `AnalysisFailed` with who approved and the numbers.
async fn overrule(
    context: &Context,
    record: &ApprovalRecord,
    deployment: &Deployment,
    failed: &AnalysisError,
    (by, at): (&str, &str),
) -> DecisionOutcome {
    let facts = &record.facts;
    let cause = format!("approved by {by} at {at}, then {failed}");
    stable_first(context, deployment, failed.error_type(), &cause).await;
    let callback = context
        .ports
        .callbacks
        .fail(&record.task_token, failed.error_type(), &cause)
        .await;
    tracing::warn!(service = %facts.service, step = facts.step, %by, passed_on = callback.is_ok(), "the automatic analysis rejected an approved step");
    settle_decision(
        context,
        record,
        ApprovalStatus::Rejected,
        (
            &format!("the automatic analysis (approved by {by})"),
            "analysis",
        ),
        &callback,
    )
    .await;
    match callback {
        Ok(()) => DecisionOutcome::new(
            200,
            "Rejected by the automatic analysis",
            format!("{failed}. {} Thank you.", facts.on_reject()),
        ),
        Err(_) => DecisionOutcome::new(
            503,
            "Your decision was not recorded",
            format!(
                "The automatic analysis rejects this step ({failed}), but it could not be passed on just now. Open the link again in a moment."
            ),
        ),
    }
}
