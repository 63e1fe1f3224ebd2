//! reconcile: an execution that ended holding its service's lock (stopped,
//! timed out, crashed, its rollback given up) leaves the service at rest:
//! 100 % stable read back, tester rules on stable, links closed, the lock
//! released, people told.
use std::sync::Arc;
use std::time::Duration;

use ecs_canary_aws::{ApprovalRecord, HeldLock};
use ecs_canary_core::{
    lock_key, ApprovalFacts, ApprovalId, ApprovalStatus, Colour, DeploymentRequest, ErrorKind,
    ExecutionEnding, HistoryEvent, Notice, Reconcile, ReconcileReport, TrafficSplit,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::actions::notify::send_notice;
use crate::actions::routes::read_routes;
use crate::actions::traffic::point_rules_at;
use crate::events::{error_and_cause, parse};
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet = Ports::HISTORY
    | Ports::ECS
    | Ports::STACKS
    | Ports::RULES
    | Ports::LOCKS
    | Ports::APPROVALS
    | Ports::SECRETS
    | Ports::NOTIFICATIONS
    | Ports::WEBHOOKS;

/// How often, and how far apart, the reconciler reads the weighted rule back
/// before it calls the change lost (ELBv2 reads lag behind writes).
const READ_BACK_ATTEMPTS: u32 = 10;
const READ_BACK_PAUSE: Duration = Duration::from_millis(500);

/// An execution's end: the `detail` of EventBridge's "Step Functions
/// Execution Status Change", or the state machine's own report of a rollback
/// that gave up (`status: ROLLBACK_FAILED`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionEnd {
    #[serde(alias = "execution")]
    pub execution_arn: String,
    pub status: String,
    /// The execution input: JSON text (EventBridge) or the object itself.
    #[serde(default)]
    pub input: Value,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    /// From the state machine: the rollback's error object (`{"Error", "Cause"}`).
    #[serde(default)]
    pub failure: Value,
}

impl ExecutionEnd {
    /// The execution's error and a readable cause, if it had one.
    fn error(&self) -> Option<(String, String)> {
        match (&self.error, &self.failure) {
            (Some(error), _) => Some(error_and_cause(
                &json!({"Error": error, "Cause": self.cause.clone().unwrap_or_default()}),
            )),
            (None, Value::Null) => None,
            (None, failure) => Some(error_and_cause(failure)),
        }
    }
}

/// reconcile's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    pub execution: String,
    pub status: String,
    pub action: Reconcile,
    pub lock_released: bool,
    pub links_closed: usize,
    /// The channels told (when the execution had left its service, or
    /// promoted).
    pub channels: Vec<String>,
}

/// When an execution ends still holding its service's lock — stopped from
/// the console, timed out, crashed, or its rollback gave up — puts the
/// service back at rest: 100 % on the stable colour (read back) unless a
/// person set the rule by hand, tester rules on stable, the lock released,
/// the execution's pending links closed, and the approval channels told.
/// An execution that ended through its own states only has its links closed.
pub async fn reconcile(context: Arc<Context>, event: Value) -> Result<Reconciled, FunctionError> {
    let context = context.only(PORTS);
    let detail = event.get("detail").cloned().unwrap_or(event);
    let end: ExecutionEnd = parse(detail)?;
    let execution = end.execution_arn.clone();
    let mut answer = Reconciled {
        execution: execution.clone(),
        status: end.status.clone(),
        action: Reconcile::NotHeld,
        lock_released: false,
        links_closed: 0,
        channels: Vec::new(),
    };
    let Some(ending) = ExecutionEnding::parse(&end.status) else {
        return Ok(answer);
    };
    let input = match &end.input {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    };
    let Ok(request) = DeploymentRequest::from_json(&input) else {
        // Refused before it took anything.
        return Ok(answer);
    };
    let key = lock_key(&request.cluster, &request.service);
    let held = context
        .ports
        .locks()
        .held(&key)
        .await?
        .filter(|lock| lock.owner == execution);
    if ending == ExecutionEnding::Succeeded {
        let bake_until = held.as_ref().and_then(|lock| lock.bake_until);
        let channels = announce_promotion(&context, &request, &execution, bake_until).await;
        answer.channels = channels.iter().map(|c| c.to_string()).collect();
    }
    let Some(held) = held else {
        answer.links_closed = context
            .ports
            .approvals()
            .expire_pending(&execution, request.steps.len())
            .await?;
        // A guarding alarm stopped it after its own rollback had already
        // freed the service, before that rollback was announced: say so.
        if ending == ExecutionEnding::Aborted
            && end.error().is_some_and(|(error, _)| {
                ErrorKind::parse(&error) == Some(ErrorKind::AlarmTriggered)
            })
        {
            let channels = announce_guard_stop(&context, &request, &end, &execution).await;
            answer.channels = channels.iter().map(|c| c.to_string()).collect();
        }
        return Ok(answer);
    };
    // Promoted and baking: the lock is the bake's until it ends (the watch
    // lets it go then; a guarding alarm reverts before).
    if ending == ExecutionEnding::Succeeded && held.bake_until.is_some() {
        tracing::info!(service = %request.service, %execution, "promoted and baking: the lock stays");
        return Ok(answer);
    }
    tracing::warn!(service = %request.service, %execution, status = %end.status, "the execution ended holding its service: reconciling");
    let mut report = nothing_done_yet(&request, &execution, ending, &end);
    let result = retry_passing!(
        "reconciling again",
        restore(&context, &request, &key, &held, &mut report).await
    );
    if let Err(error) = &result {
        tracing::error!(%error, service = %request.service, "could not put the service back at rest: a person is needed");
        report.failure = Some(error.to_string());
    }
    let notice = Notice::reconciled(&report);
    context
        .record(HistoryEvent::reconciled(
            key.clone(),
            &execution,
            context.now_millis(),
            &notice.subject,
            serde_json::json!({
                "status": end.status,
                "action": report.action,
                "lockReleased": report.lock_released,
                "failure": report.failure,
            }),
        ))
        .await;
    let channels = send_notice(&context, &notice).await;
    tracing::info!(service = %request.service, action = ?report.action, lock_released = report.lock_released, links_closed = report.links_closed, channels = ?channels, "reconciled");
    result?;
    answer.action = report.action;
    answer.lock_released = report.lock_released;
    answer.links_closed = report.links_closed;
    answer.channels = channels.iter().map(|c| c.to_string()).collect();
    Ok(answer)
}

/// Tells the approval channels that `execution` promoted: the colour the
/// `StableStack` tag names now (read; unreadable: said so in the log, and
/// the notice names none), the bake, and how to revert.
async fn announce_promotion(
    context: &Context,
    request: &DeploymentRequest,
    execution: &str,
    bake_until: Option<u64>,
) -> Vec<&'static str> {
    let stable = match read_routes(context, request).await {
        Ok(routes) => routes.routing.stable,
        Err(error) => {
            tracing::warn!(%error, service = %request.service, "the promotion's stable colour could not be read; not announced");
            return Vec::new();
        }
    };
    let link = offer_revert(context, request, execution, stable, bake_until).await;
    let notice = Notice::promoted(request, execution, stable, bake_until, link.as_deref());
    send_notice(context, &notice).await
}

/// How long a promotion's revert link is offered (at least; a bake keeps
/// it as long).
const REVERT_LINK_SECONDS: u64 = 86_400;

/// The link of a promotion's notice that reverts it (stored as a request
/// of its own; it decides nothing else), or `None` when links are not
/// configured or it cannot be stored (the notice then names the command).
async fn offer_revert(
    context: &Context,
    request: &DeploymentRequest,
    execution: &str,
    stable: Colour,
    bake_until: Option<u64>,
) -> Option<String> {
    if context.settings.approval_url.is_empty() {
        return None;
    }
    let secret = match context.link_secret().await {
        Ok(Some(secret)) => secret,
        _ => return None,
    };
    let id = ApprovalId::derive(secret.as_bytes(), &format!("{execution}#revert"), 0);
    let steps = request.steps.percentages();
    let record = ApprovalRecord {
        key: id.key(),
        // A revert link answers no task.
        task_token: "none".into(),
        execution: execution.to_string(),
        facts: ApprovalFacts {
            cluster: request.cluster.clone(),
            service: request.service.clone(),
            release: request
                .image_text()
                .unwrap_or_else(|| "a configuration change".into()),
            stable: stable.to_string(),
            candidate: stable.other().to_string(),
            step: steps.len(),
            steps: steps.len(),
            split: TrafficSplit::all_stable(),
            next_percent: None,
            evidence: None,
            plan: steps.to_vec(),
            started: None,
            holdable: false,
            back_at_zero: false,
            revert: true,
        },
        expires_at: (context.now() + REVERT_LINK_SECONDS).max(bake_until.unwrap_or_default()),
        status: ApprovalStatus::Pending,
        decided_by: None,
        decided_at: None,
        deployment: None,
        native: None,
    };
    let approvals = &context.ports.approvals();
    if let Err(error) = approvals.put(&record).await {
        // EventBridge delivers at least once: the link may be there already.
        if !matches!(approvals.get(&record.key).await, Ok(Some(_))) {
            tracing::warn!(%error, service = %request.service, "the revert link could not be stored; the notice names the command");
            return None;
        }
    }
    Some(context.settings.approval_link(&id))
}

/// The report of an execution's end before the reconciler has done anything.
fn nothing_done_yet(
    request: &DeploymentRequest,
    execution: &str,
    ending: ExecutionEnding,
    end: &ExecutionEnd,
) -> ReconcileReport {
    ReconcileReport {
        cluster: request.cluster.clone(),
        service: request.service.clone(),
        execution: execution.to_string(),
        ending,
        error: end.error(),
        stable: Colour::Blue,
        live: None,
        action: Reconcile::NotHeld,
        tester_rules_on_stable: false,
        lock_released: false,
        links_closed: 0,
        failure: None,
    }
}

/// Tells the approval channels that a guarding alarm stopped an execution
/// whose own rollback had already put the service back at rest.
async fn announce_guard_stop(
    context: &Context,
    request: &DeploymentRequest,
    end: &ExecutionEnd,
    execution: &str,
) -> Vec<&'static str> {
    let mut report = nothing_done_yet(request, execution, ExecutionEnding::Aborted, end);
    if let Ok(routes) = read_routes(context, request).await {
        report.stable = routes.routing.stable;
        if let Ok(rule) = context.ports.rules().rule(&routes.weighted_rule).await {
            report.live = routes.routing.split_of(&rule.forward_targets()).ok();
        }
    }
    tracing::warn!(service = %request.service, %execution, "a guarding alarm stopped an execution that had already rolled back: telling the channels");
    send_notice(context, &Notice::reconciled(&report)).await
}

/// The restoring itself; `report` says how far it got.
async fn restore(
    context: &Context,
    request: &DeploymentRequest,
    key: &str,
    held: &HeldLock,
    report: &mut ReconcileReport,
) -> Result<(), FunctionError> {
    let routes = read_routes(context, request).await?;
    let routing = &routes.routing;
    report.stable = routing.stable;
    let rules = &context.ports.rules();
    let rule = rules.rule(&routes.weighted_rule).await?;
    report.live = routing.split_of(&rule.forward_targets()).ok();
    let action = Reconcile::decide(
        Some(&held.owner),
        &report.execution,
        held.split.as_ref(),
        routing.stable,
        report.live,
    );
    // A second try finds the rule the first one restored: still a restore.
    if !(report.action == Reconcile::Restore && action == Reconcile::AlreadyStable) {
        report.action = action;
    }
    if report.action == Reconcile::Restore {
        let stable = TrafficSplit::all_stable();
        let targets = routing.targets_with_split(&rule.forward_targets(), stable);
        let mut after = rules.set_forward_targets(&rule, &targets).await?;
        let mut attempts = 1;
        loop {
            let actual = routing.split_of(&after.forward_targets())?;
            if actual.same_share(&stable) {
                break;
            }
            if attempts == READ_BACK_ATTEMPTS {
                return Err(FunctionError::WeightNotApplied {
                    expected: stable,
                    actual,
                });
            }
            attempts += 1;
            tokio::time::sleep(READ_BACK_PAUSE).await;
            after = rules.rule(&routes.weighted_rule).await?;
        }
    }
    point_rules_at(context, routing, &routes.tester_rules, routing.stable).await?;
    report.tester_rules_on_stable = true;
    // The links close before the lock goes: a free lock means the service
    // is at rest, with no link that still looks open.
    report.links_closed = context
        .ports
        .approvals()
        .expire_pending(&report.execution, request.steps.len())
        .await?;
    report.lock_released = context
        .ports
        .locks()
        .release(key, &report.execution)
        .await?;
    Ok(())
}
