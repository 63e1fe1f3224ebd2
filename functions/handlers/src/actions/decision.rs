//! Deciding a waiting step: one path for a click on a link, a Slack button,
//! the command line and an alarm. The link still open, the approval policy,
//! the decision taken once (`PENDING → DECIDING`), the automatic analysis on
//! an approval, traffic back on stable first on a rejection, then Step
//! Functions, then the record settled and the history written.

use ecs_canary_aws::{ApprovalRecord, AwsError, DecideOutcome};
use ecs_canary_core::{
    hold_until, iso8601, AnalysisError, ApprovalFacts, ApprovalId, ApprovalPolicy, ApprovalStatus,
    Approver, Decision, Deployment, ErrorKind, ErrorName, Gate, HistoryEvent, HoldRefused,
    LinkState, HOLD_BUTTON_SECONDS,
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

/// What is asked of a waiting step: a decision and its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub decision: Decision,
    /// An approval of every remaining step at once (promotion next).
    pub to_promotion: bool,
    /// How much longer a hold lets the step wait.
    pub hold_seconds: u64,
}

impl Choice {
    /// `decision` as a link, a Slack button or the command line asks it
    /// (a hold: the buttons' hour).
    pub fn of(decision: Decision) -> Choice {
        Choice {
            decision,
            to_promotion: false,
            hold_seconds: HOLD_BUTTON_SECONDS,
        }
    }
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
            (Ok(()), Decision::Revert) => DecisionOutcome::new(
                200,
                "Reverted",
                format!(
                    "All traffic of {} is back on {}, stable again. Thank you.",
                    facts.service, facts.candidate
                ),
            ),
            (Ok(()), Decision::Back) => DecisionOutcome::new(
                200,
                "Sent back",
                format!(
                    "{} for {} goes back to the split before it; a decision is asked there again, with new links.",
                    capitalized(&facts.step_label()),
                    facts.service
                ),
            ),
            (Ok(()), Decision::Hold) => DecisionOutcome::new(
                200,
                "Held",
                format!(
                    "{} for {} waits longer; the link stays valid until the new deadline, which the approval channels are told.",
                    capitalized(&facts.step_label()),
                    facts.service
                ),
            ),
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
    if let Err(error) = context.ports.approvals().settle(&record.key, settled).await {
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
    match context.ports.approvals().get(&id.key()).await? {
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
    decide_choice(context, found, Choice::of(decision), approver).await
}

/// Why a hold does not apply to `record`, if it does not: a pause of ECS's
/// own deployment (its hook's timeout is ECS's), the gate before the start.
fn not_holdable(record: &ApprovalRecord) -> Option<HoldRefused> {
    let why = if record.native.is_some() {
        "a pause of ECS's own deployment waits as long as its lifecycle hook allows: it cannot be held"
    } else if record.deployment.as_ref().is_some_and(|d| d.step.is_none()) {
        "the gate before the start cannot be held: approve or reject it"
    } else {
        return None;
    };
    Some(HoldRefused::NotHoldable(why.into()))
}

/// The link of a promotion's notice, clicked: the promotion reverted as
/// `ecs-canary revert` does (under the promoted deployment's policy, with
/// the service's lock; a second click finds nothing to revert), and the
/// link settled. It decides nothing else, and nothing else decides it.
async fn revert_link(
    context: &Context,
    found: ApprovalRecord,
    decision: Decision,
    approver: &Approver,
) -> DecisionOutcome {
    if !(found.facts.revert && decision == Decision::Revert) {
        return DecisionOutcome::new(
            400,
            "Not this link",
            "A step's link approves, rejects or holds it; a promotion's link only reverts it."
                .into(),
        );
    }
    let now = context.now();
    match found.status.link_state(found.expires_at, now) {
        LinkState::Open => {}
        state => return DecisionOutcome::closed(&found, state),
    }
    // Taken once, as a decision is.
    let by = approver.identity.as_str();
    let taken = context
        .ports
        .approvals()
        .decide(&found.key, Decision::Revert, by, &iso8601(now), now)
        .await;
    let found = match taken.map(|outcome| taken_record(outcome, now)) {
        Ok(Ok(record)) => record,
        Ok(Err(closed)) => return closed,
        Err(error) => {
            tracing::error!(%error, "a revert link could not be taken");
            return DecisionOutcome::new(
                503,
                "Not reverted",
                "Nothing has changed; open the link again and choose once more.".into(),
            );
        }
    };
    let key = ecs_canary_core::lock_key(&found.facts.cluster, &found.facts.service);
    let reverted = crate::actions::revert::revert(context, &key, approver).await;
    let (settled, outcome) = match &reverted {
        Ok(_) => (
            ApprovalStatus::Approved,
            DecisionOutcome::passed_on(&found.facts, Decision::Revert, &Ok(())),
        ),
        Err(crate::FunctionError::Aws(error)) => {
            tracing::error!(%error, "a revert link could not revert just now");
            (
                ApprovalStatus::Pending,
                DecisionOutcome::new(
                    503,
                    "Not reverted",
                    format!(
                        "The revert could not be completed just now ({}). Nothing has changed; open the link again and choose once more.",
                        error.error_type()
                    ),
                ),
            )
        }
        // The policy refuses this channel or person: the link stays.
        Err(refused @ crate::FunctionError::PolicyRefusal(_)) => (
            ApprovalStatus::Pending,
            DecisionOutcome::new(
                403,
                "Not allowed",
                format!("{refused} ({}). Nothing was changed.", refused.error_type()),
            ),
        ),
        Err(refused) => (
            ApprovalStatus::Expired,
            DecisionOutcome::new(
                409,
                "Not reverted",
                format!("{refused} ({}). Nothing was changed.", refused.error_type()),
            ),
        ),
    };
    if let Err(error) = context.ports.approvals().settle(&found.key, settled).await {
        tracing::error!(%error, "could not settle a revert link");
    }
    outcome
}

/// The record a decision took (`PENDING → DECIDING`), or the page of a
/// link that could not be taken: decided already, expired, unknown.
fn taken_record(taken: DecideOutcome, now: u64) -> Result<ApprovalRecord, DecisionOutcome> {
    match taken {
        DecideOutcome::Decided(record) => Ok(record),
        DecideOutcome::AlreadyDecided(record) => {
            let state = record.status.link_state(record.expires_at, now);
            Err(DecisionOutcome::closed(&record, state))
        }
        DecideOutcome::Expired(record) => Err(DecisionOutcome::closed(&record, LinkState::Expired)),
        DecideOutcome::Unknown => Err(DecisionOutcome::unknown()),
    }
}

/// Why `record`'s step cannot be sent back, if it cannot: a pause of ECS's
/// own deployment (reject rolls it back), or nothing before it (the gate
/// before the start, or 0 % already).
fn cannot_go_back(record: &ApprovalRecord) -> Option<HoldRefused> {
    let why = if record.native.is_some() {
        "a pause of ECS's own deployment cannot go back a step: reject it to roll back"
    } else if record.deployment.as_ref().is_some_and(|d| d.step.is_none()) {
        "there is no step before this one: reject to roll back"
    } else {
        return None;
    };
    Some(HoldRefused::CannotGoBack(why.into()))
}

/// [`decide_request`] with the choice's options: an approval to promotion,
/// or a hold of so many seconds.
pub async fn decide_choice(
    context: &Context,
    found: ApprovalRecord,
    choice: Choice,
    approver: &Approver,
) -> Result<DecisionOutcome, AwsError> {
    let decision = choice.decision;
    let now = context.now();
    if found.facts.revert || decision == Decision::Revert {
        return Ok(revert_link(context, found, decision, approver).await);
    }
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
    if choice.to_promotion && decision == Decision::Approve {
        let skip = deployment_policy(context, found.own_policy()).and_then(|policy| {
            policy
                .admits_skip()
                .map_err(|e| format!("{e} ({})", e.error_type()))
        });
        if let Err(why) = skip {
            return Ok(refuse(context, &found, approver, &why).await);
        }
    }
    if decision == Decision::Back {
        if let Some(refused) = cannot_go_back(&found) {
            return Ok(not_applied(&found, &refused));
        }
    }
    let held_until = match decision {
        Decision::Hold => match hold_deadline(context, &found, choice.hold_seconds, now).await? {
            Ok(until) => Some(until),
            Err(refused) => return Ok(not_applied(&found, &refused)),
        },
        _ => None,
    };
    let at = iso8601(now);
    let taken = context
        .ports
        .approvals()
        .decide(&found.key, decision, by, &at, now)
        .await?;
    let record = match taken_record(taken, now) {
        Ok(record) => record,
        Err(closed) => return Ok(closed),
    };
    // The automatic analysis has the last word on an approval: a step whose
    // numbers are over its limit is rejected by itself, traffic first.
    if let (Decision::Approve, Some(deployment)) = (decision, &record.deployment) {
        if let Err(failed) = check_analysis(context, deployment).await {
            return Ok(overrule(context, &record, deployment, &failed, (by, &at)).await);
        }
    }
    let options = (choice.to_promotion, held_until);
    let callback = pass_on(context, &record, decision, (by, &at), options).await;
    let facts = &record.facts;
    tracing::info!(service = %facts.service, step = facts.step, decision = decision.as_str(), %by, passed_on = callback.is_ok(), "decision");
    if let Err(error) = &callback {
        if !matches!(error, AwsError::TaskNotWaiting(_)) {
            tracing::error!(%error, "the decision could not be passed on; the step waits again");
        }
    }
    let channel = approver.channel.as_str();
    match (held_until, &callback) {
        // Held: request-approval re-arms the same link with the new
        // deadline and a new token; until then a click is told a decision
        // is being recorded.
        (Some(until), Ok(())) => {
            if let Some(gate) = record.gate() {
                let held = format!("held until {}", iso8601(until));
                context
                    .record(HistoryEvent::decided(
                        &gate,
                        context.now_millis(),
                        &held,
                        by,
                        channel,
                        None,
                    ))
                    .await;
            }
        }
        // Two-phase: the decision is only final once Step Functions has it.
        _ => {
            settle_decision(
                context,
                &record,
                ApprovalStatus::decided(decision),
                (by, channel),
                &callback,
            )
            .await;
            if choice.to_promotion && callback.is_ok() {
                record_skipped(context, &record, by, channel).await;
            }
        }
    }
    Ok(DecisionOutcome::passed_on(facts, decision, &callback))
}

/// The new deadline of a hold of `record` (its lock extended to cover it),
/// or why it cannot be held.
async fn hold_deadline(
    context: &Context,
    record: &ApprovalRecord,
    seconds: u64,
    now: u64,
) -> Result<Result<u64, HoldRefused>, AwsError> {
    if let Some(refused) = not_holdable(record) {
        return Ok(Err(refused));
    }
    let Some(deployment) = &record.deployment else {
        return Ok(Err(HoldRefused::NotHoldable(
            "this request names no deployment".into(),
        )));
    };
    let started = deployment.started_at.unwrap_or(now);
    let until = match hold_until(record.expires_at, seconds, started, now) {
        Ok(until) => until,
        Err(refused) => return Ok(Err(refused)),
    };
    // The lock must outlast the held step by as much as it did before.
    let key = deployment.lock_key();
    let Some(lock) = context.ports.locks().held(&key).await? else {
        return Ok(Err(HoldRefused::NotHoldable(
            "the deployment no longer holds its service's lock".into(),
        )));
    };
    let lock_until = lock.expires_at + until.saturating_sub(record.expires_at);
    if !context
        .ports
        .locks()
        .extend(&key, &deployment.owner, lock_until)
        .await?
    {
        return Ok(Err(HoldRefused::NotHoldable(
            "the deployment no longer holds its service's lock".into(),
        )));
    }
    Ok(Ok(until))
}

/// The page of a hold or a step back that does not apply: nothing changed.
fn not_applied(record: &ApprovalRecord, refused: &HoldRefused) -> DecisionOutcome {
    let facts = &record.facts;
    DecisionOutcome::new(
        409,
        "Nothing changed",
        format!(
            "{refused} ({}). Nothing was changed: {} for {} still waits until its deadline.",
            refused.error_type(),
            facts.step_label(),
            facts.service
        ),
    )
}

/// Each step an approval to promotion skipped, recorded as approved with it.
async fn record_skipped(context: &Context, record: &ApprovalRecord, by: &str, channel: &str) {
    let Some(gate) = record.gate() else { return };
    let steps = record.facts.steps;
    for number in record.facts.step + 1..=steps {
        let skipped = Gate {
            number,
            label: format!("step {number} of {steps}"),
            ..gate.clone()
        };
        context
            .record(HistoryEvent::decided(
                &skipped,
                context.now_millis(),
                "approved (skipped: approved to promotion)",
                by,
                channel,
                None,
            ))
            .await;
    }
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
    (to_promotion, held_until): (bool, Option<u64>),
) -> Result<(), AwsError> {
    let facts = &record.facts;
    let callbacks = &context.ports.callbacks();
    match decision {
        // (Every field the state machine's choice reads is always there.)
        Decision::Approve => {
            let output = json!({"decision": "approve", "by": by, "at": at, "step": facts.step,
                                "toPromotion": to_promotion});
            callbacks
                .succeed(&record.task_token, &output.to_string())
                .await
        }
        // A revert link has no task: it never reaches here.
        Decision::Revert => Ok(()),
        Decision::Back => {
            let output = json!({"decision": "back", "by": by, "at": at, "step": facts.step,
                                "toPromotion": false});
            callbacks
                .succeed(&record.task_token, &output.to_string())
                .await
        }
        Decision::Hold => {
            let until = held_until.unwrap_or(record.expires_at);
            let output = json!({"decision": "hold", "by": by, "at": at, "step": facts.step,
                                "toPromotion": false, "heldUntil": until,
                                "waitSeconds": until.saturating_sub(context.now()).max(1)});
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
        .callbacks()
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
