//! What an operator may do, on the same ports as the functions: a
//! service's status, a start, a decision as the caller's IAM identity, an
//! abort, a lock released by hand, a dry run, the history. The operator
//! endpoint (`operator-api`) runs them with the function's role, the
//! caller's identity taken from the request's signature; the command line
//! only calls that endpoint and prints.

use ecs_canary_aws::{ApprovalRecord, AwsError, HeldLock, StartOutcome};
use ecs_canary_core::{
    execution_arn, lock_key, AlarmReading, Approver, Colour, Colours, Decision, Deployment,
    DeploymentRequest, ErrorKind, HistoryEvent, HistoryKind, HookAction, NativePause,
    ReleaseChange, Template, TrafficSplit,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::actions::authority::{check_operator, request_policy};
use crate::actions::decision::{decide_choice, Choice, DecisionOutcome};
use crate::actions::evidence::{pause_request_evidence, step_verdict};
use crate::actions::native::recorded_pauses;
use crate::actions::routes::{read_routes, resolve};
use crate::actions::traffic::stable_first;
use crate::{Context, FunctionError};

/// Why an operator's command did nothing.
#[derive(Debug, Error)]
pub enum OperatorError {
    #[error("{service} has no deployment in progress")]
    NoDeployment { service: String },
    #[error("the deployment of {service} ({execution}) is not waiting for a decision right now")]
    NotWaiting { service: String, execution: String },
    #[error(
        "{service} has never been deployed by ecs-canary: no history, so its stack is unknown"
    )]
    UnknownService { service: String },
    #[error("an execution named {name} exists already")]
    AlreadyStarted { name: String },
    #[error(transparent)]
    Function(#[from] FunctionError),
}

impl From<AwsError> for OperatorError {
    fn from(error: AwsError) -> OperatorError {
        OperatorError::Function(error.into())
    }
}

/// The deployment in progress on a service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    pub execution: String,
    /// The step applied (1-based) and how many there are.
    pub step: Option<usize>,
    pub steps: usize,
    pub candidate: Option<Colour>,
    pub release: Option<String>,
    /// Waiting for a decision since (epoch seconds), until.
    pub waiting_since: Option<u64>,
    pub waiting_until: Option<u64>,
    pub rolling_back: bool,
    pub lock_expires_at: u64,
    pub alarms: Vec<AlarmStatus>,
    /// The waiting step's numbers and what they support, when it has any.
    #[serde(default)]
    pub verdict: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmStatus {
    pub name: String,
    pub state: String,
}

/// One managed service as an operator sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// `cluster/service`.
    pub service: String,
    pub stable: Option<Colour>,
    /// The live split on the weighted rule (stable, candidate weights).
    pub split: Option<TrafficSplit>,
    /// What could not be read, if anything.
    pub unreadable: Option<String>,
    pub rollout: Option<RolloutStatus>,
    /// The release stable runs: the last one promoted, and when.
    pub stable_release: Option<String>,
    pub promoted_at: Option<u64>,
    pub last_event: Option<HistoryEvent>,
    /// The service deploys with ECS's own strategy, gated by ecs-canary:
    /// the strategy (`LINEAR`, `CANARY`) of its last gated deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_strategy: Option<String>,
    /// Promoted and baking until then: the guarding alarms still watch the
    /// new stable release (an alarm reverts it), and its lock is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baking_until: Option<u64>,
    /// The alarms that guard the bake.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bake_alarms: Vec<String>,
}

/// `cluster/service` as its two parts.
pub fn split_service(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

/// The request of the latest deployment of a service (where its stack is).
fn last_request(events: &[HistoryEvent]) -> Option<DeploymentRequest> {
    events
        .iter()
        .filter(|e| e.kind == HistoryKind::Started)
        .find_map(|e| DeploymentRequest::from_json(e.detail.get("input")?).ok())
}

/// The release of the last promotion, and when it was promoted.
fn last_promoted(events: &[HistoryEvent]) -> Option<(String, u64)> {
    let promoted = events.iter().find(|e| e.kind == HistoryKind::Promoted)?;
    let started = events
        .iter()
        .find(|e| e.kind == HistoryKind::Started && e.execution == promoted.execution)?;
    let release = started.detail.get("release")?.as_str()?.to_string();
    Some((release, promoted.at_millis / 1000))
}

/// Every service with a history or a deployment in progress.
pub async fn managed_services(context: &Context) -> Result<Vec<String>, AwsError> {
    context.ports.history().services().await
}

/// What a service looks like now: stable colour, live split, the
/// deployment in progress (step, waiting since, guarding alarms) and its
/// last event.
pub async fn service_status(context: &Context, key: &str) -> Result<ServiceStatus, OperatorError> {
    let (cluster, service) = split_service(key);
    let events = context.ports.history().list(key, 200).await?;
    let promoted = last_promoted(&events);
    let mut status = ServiceStatus {
        service: key.to_string(),
        stable: None,
        split: None,
        unreadable: None,
        rollout: None,
        stable_release: promoted.as_ref().map(|(release, _)| release.clone()),
        promoted_at: promoted.map(|(_, at)| at),
        last_event: events.first().cloned(),
        ecs_strategy: None,
        baking_until: None,
        bake_alarms: Vec::new(),
    };
    if let Some(pause) = events.iter().find_map(NativePause::recorded_in) {
        // ECS's own deployments: no colours, no lock; a gate may wait.
        status.ecs_strategy = Some(pause.strategy.clone());
        if let Some(record) = waiting_gate(context, &pause).await? {
            let mut rollout = gate_rollout(&pause, &record);
            rollout.verdict = Some(pause_request_evidence(context, &pause).await);
            status.rollout = Some(rollout);
        }
        return Ok(status);
    }
    match context.ports.ecs().stable_stack_tag(cluster, service).await {
        Ok(tag) => status.stable = Colours::from_tag(tag.as_deref()).ok().map(|c| c.stable),
        Err(error) => status.unreadable = Some(error.to_string()),
    }
    if let Some(request) = last_request(&events) {
        let live = async {
            let routes = read_routes(context, &request).await?;
            let rule = context.ports.rules().rule(&routes.weighted_rule).await?;
            Ok::<_, FunctionError>(routes.routing.split_of(&rule.forward_targets())?)
        };
        match live.await {
            Ok(split) => status.split = Some(split),
            Err(error) => status.unreadable = Some(error.to_string()),
        }
    }
    match context.ports.locks().held(key).await? {
        Some(held) if held.bake_until.is_some() => {
            status.baking_until = held.bake_until;
            status.bake_alarms = held.guard.alarms.clone();
        }
        Some(held) => status.rollout = Some(rollout(context, &held).await?),
        None => {}
    }
    Ok(status)
}

/// The gate of `pause` while it waits for a decision.
async fn waiting_gate(
    context: &Context,
    pause: &NativePause,
) -> Result<Option<ApprovalRecord>, AwsError> {
    context
        .ports
        .approvals()
        .pending(&pause.execution, pause.plan.len())
        .await
}

fn gate_rollout(pause: &NativePause, record: &ApprovalRecord) -> RolloutStatus {
    RolloutStatus {
        execution: record.execution.clone(),
        step: Some(record.facts.step),
        steps: record.facts.steps,
        candidate: None,
        release: Some(record.facts.release.clone()),
        waiting_since: None,
        waiting_until: Some(record.expires_at),
        rolling_back: false,
        lock_expires_at: pause.hook_expires_at.unwrap_or(record.expires_at),
        alarms: Vec::new(),
        verdict: None,
    }
}

/// The pause the gate `execution` read for the service, if it is one.
async fn gate_pause(
    context: &Context,
    key: &str,
    execution: &str,
) -> Result<Option<NativePause>, AwsError> {
    Ok(recorded_pauses(context, key)
        .await?
        .into_iter()
        .find(|pause| pause.execution == execution))
}

async fn rollout(context: &Context, held: &HeldLock) -> Result<RolloutStatus, AwsError> {
    let pending = context
        .ports
        .approvals()
        .pending(&held.owner, held.guard.steps)
        .await?;
    let deployment = pending.as_ref().and_then(|r| r.deployment.as_ref());
    let alarms = if held.guard.alarms.is_empty() {
        Vec::new()
    } else {
        match context.ports.alarms().read(&held.guard.alarms).await {
            Ok(readings) => readings.iter().map(alarm_status).collect(),
            Err(error) => vec![AlarmStatus {
                name: held.guard.alarms.join(", "),
                state: format!("unreadable ({error})"),
            }],
        }
    };
    Ok(RolloutStatus {
        execution: held.owner.clone(),
        step: pending.as_ref().map(|r| r.facts.step),
        steps: held.guard.steps,
        candidate: deployment.map(|d| d.candidate),
        release: pending.as_ref().map(|r| r.facts.release.clone()),
        waiting_since: deployment.and_then(|d| d.applied_at.get(d.step.unwrap_or(0)).copied()),
        waiting_until: pending.as_ref().map(|r| r.expires_at),
        rolling_back: held.rolling_back,
        lock_expires_at: held.expires_at,
        alarms,
        verdict: match deployment {
            Some(d) => step_verdict(context, d, d.step.unwrap_or(0)).await,
            None => None,
        },
    })
}

fn alarm_status(reading: &AlarmReading) -> AlarmStatus {
    AlarmStatus {
        name: reading.name.clone(),
        state: format!("{:?}", reading.state),
    }
}

/// The lock of the deployment in progress on a service.
async fn deployment_lock(context: &Context, key: &str) -> Result<HeldLock, OperatorError> {
    context
        .ports
        .locks()
        .held(key)
        .await?
        .ok_or_else(|| OperatorError::NoDeployment {
            service: key.to_string(),
        })
}

/// The request waiting for a decision on a service: its rollout's step,
/// or the latest pause of ECS's own deployment its history records, while
/// a gate waits on it; `NotWaiting` while that deployment goes on between
/// pauses.
async fn waiting_request(context: &Context, key: &str) -> Result<ApprovalRecord, OperatorError> {
    if context.ports.locks().held(key).await?.is_none() {
        if let Some(pause) = recorded_pauses(context, key).await?.first() {
            if let Some(record) = waiting_gate(context, pause).await? {
                return Ok(record);
            }
            // ECS's deployment between pauses (moving traffic, baking):
            // in progress, with nothing to decide yet.
            let deploying = context
                .ports
                .native()
                .service_deployment(&pause.service_deployment)
                .await?;
            if deploying.is_some_and(|d| d.in_progress()) {
                return Err(OperatorError::NotWaiting {
                    service: key.to_string(),
                    execution: pause.service_deployment.clone(),
                });
            }
        }
    }
    let held = deployment_lock(context, key).await?;
    context
        .ports
        .approvals()
        .pending(&held.owner, held.guard.steps)
        .await?
        .ok_or(OperatorError::NotWaiting {
            service: key.to_string(),
            execution: held.owner,
        })
}

/// Decides the step a service waits on, as `approver` (the caller's IAM
/// identity), under the approval policy — exactly as a click would.
pub async fn decide_waiting(
    context: &Context,
    key: &str,
    decision: Decision,
    approver: &Approver,
) -> Result<DecisionOutcome, OperatorError> {
    decide_waiting_with(context, key, Choice::of(decision), approver).await
}

/// [`decide_waiting`] with the choice's options (an approval to
/// promotion, a hold of so many seconds).
pub async fn decide_waiting_with(
    context: &Context,
    key: &str,
    choice: Choice,
    approver: &Approver,
) -> Result<DecisionOutcome, OperatorError> {
    let record = waiting_request(context, key).await?;
    Ok(decide_choice(context, record, choice, approver).await?)
}

/// Reverts a service's last promotion as `approver` (the caller's IAM
/// identity), under the promoted deployment's approval policy.
pub async fn revert(
    context: &Context,
    key: &str,
    approver: &Approver,
) -> Result<crate::actions::revert::Reverted, OperatorError> {
    Ok(crate::actions::revert::revert(context, key, approver).await?)
}

/// What an abort did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Aborted {
    pub execution: String,
    /// Traffic was put back on stable before the execution was stopped
    /// (known when it waited at a gate; otherwise the reconciler does it
    /// right after the stop).
    pub traffic_on_stable_first: bool,
    pub links_closed: usize,
}

/// The error an operator's abort stops an execution with.
pub const ABORTED: &str = ErrorKind::Aborted.as_str();

/// Aborts a service's deployment: traffic to stable first (when it waits at
/// a gate), then the execution is stopped — the reconciler puts the rest
/// back at rest (tester rules, the lock) and tells the channels — and its
/// links are closed.
pub async fn abort(context: &Context, key: &str, by: &str) -> Result<Aborted, OperatorError> {
    check_operator(context, key, by)?;
    let held = deployment_lock(context, key).await?;
    let execution = held.owner.clone();
    let cause = format!("aborted by {by} from the command line");
    let pending = context
        .ports
        .approvals()
        .pending(&execution, held.guard.steps)
        .await?;
    let deployment: Option<&Deployment> = pending.as_ref().and_then(|r| r.deployment.as_ref());
    let traffic_on_stable_first = match deployment {
        Some(deployment) => stable_first(context, deployment, ABORTED, &cause).await,
        None => false,
    };
    // A gate of ECS's own deployment: ECS is told to roll back before the
    // gate stops (a stopped gate answers nothing, and the hook would wait
    // for its own timeout).
    let pause = match pending.as_ref().and_then(|r| r.native.clone()) {
        Some(pause) => Some(pause),
        None => gate_pause(context, key, &execution).await?,
    };
    if let Some(pause) = &pause {
        match context
            .ports
            .native()
            .answer_hook(
                &pause.service_deployment,
                &pause.hook_id,
                HookAction::Rollback,
            )
            .await
        {
            Ok(()) | Err(AwsError::TaskNotWaiting(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    match context
        .ports
        .callbacks()
        .stop(&execution, ABORTED, &cause)
        .await
    {
        Ok(()) | Err(AwsError::TaskNotWaiting(_)) => {}
        Err(other) => return Err(other.into()),
    }
    let links_closed = context
        .ports
        .approvals()
        .expire_pending(&execution, held.guard.steps)
        .await?;
    if pause.is_some() || held.bake_until.is_some() {
        // No reconciler runs for a gate, nor for a promoted execution that
        // bakes (it ended): the service is given back here.
        context.ports.locks().release(key, &execution).await?;
    }
    context
        .record(HistoryEvent::aborted(
            key.to_string(),
            &execution,
            context.now_millis(),
            by,
            &cause,
        ))
        .await;
    Ok(Aborted {
        execution,
        traffic_on_stable_first,
        links_closed,
    })
}

/// A service's lock as an operator sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockView {
    pub key: String,
    pub owner: String,
    pub expires_at: u64,
    pub rolling_back: bool,
    pub alarms: Vec<String>,
    pub steps: usize,
    pub stack: Option<String>,
    /// The traffic its execution last moved.
    pub split: Option<ecs_canary_core::SplitRecord>,
}

impl From<HeldLock> for LockView {
    fn from(held: HeldLock) -> LockView {
        LockView {
            key: held.key,
            split: held.split,
            owner: held.owner,
            expires_at: held.expires_at,
            rolling_back: held.rolling_back,
            alarms: held.guard.alarms,
            steps: held.guard.steps,
            stack: held.guard.stack,
        }
    }
}

/// What holds a service's lock, if anything.
pub async fn lock_holder(context: &Context, key: &str) -> Result<Option<LockView>, AwsError> {
    Ok(context.ports.locks().held(key).await?.map(LockView::from))
}

/// Releases a service's lock held by `holder` (as shown to the operator: a
/// lock taken by another execution since is left alone); recorded.
pub async fn unlock(
    context: &Context,
    key: &str,
    holder: &str,
    by: &str,
) -> Result<bool, OperatorError> {
    check_operator(context, key, by)?;
    let released = context.ports.locks().release(key, holder).await?;
    if released {
        context
            .record(HistoryEvent::unlocked(
                key.to_string(),
                context.now_millis(),
                by,
                holder,
            ))
            .await;
    }
    Ok(released)
}

/// A dry run of a deployment: what it would change, nothing changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    pub service: String,
    pub stable: Colour,
    pub candidate: Colour,
    /// Images and variables per container, against the stable task set.
    pub release: ReleaseChange,
    /// The rendered template against the stack's current one (unified
    /// lines; the new task definition revision is a placeholder).
    pub template_diff: String,
    /// What would refuse the deployment if it started now (a rollout in
    /// progress, drift, a guarding alarm in `ALARM`), by error name.
    pub would_be_refused: Vec<String>,
}

/// What the stack's new task definition revision is called in a dry run.
pub const NEW_REVISION: &str = "<new task definition revision>";

/// Everything resolve-stable and render-and-deploy would work out for
/// `request`, without the lock, a registration or a stack update.
pub async fn dry_run(
    context: &Context,
    request: DeploymentRequest,
) -> Result<DryRun, FunctionError> {
    let key = lock_key(&request.cluster, &request.service);
    let stack = request.stack.clone();
    let mut refusals = Vec::new();
    if let Some(holder) = context.ports.locks().holder(&key).await? {
        refusals.push(format!(
            "DeploymentInProgress ({} is deploying this service)",
            ecs_canary_core::execution_name(&holder)
        ));
    }
    let deployment = resolve(context, request, "ecs-canary diff", Some(&mut refusals)).await?;
    let current = Template::parse(&context.ports.stacks().template(&stack).await?)?;
    let patched = current.patch(
        deployment.stable,
        &deployment.stable_task_set.task_definition,
        NEW_REVISION,
    )?;
    let template_diff = ecs_canary_core::unified_diff(
        &current.to_json_string(),
        &patched.template.to_json_string(),
        3,
    );
    Ok(DryRun {
        service: key,
        stable: deployment.stable,
        candidate: deployment.candidate,
        release: deployment.release.clone().ok_or_else(|| {
            FunctionError::InvalidEvent("the release could not be planned".into())
        })?,
        template_diff,
        would_be_refused: refusals,
    })
}

/// A service's history, newest first.
pub async fn history(
    context: &Context,
    key: &str,
    limit: usize,
) -> Result<Vec<HistoryEvent>, AwsError> {
    context.ports.history().list(key, limit).await
}

/// A deployment started through the operator endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    pub execution: String,
    pub service: String,
    pub started_by: String,
    pub steps: Vec<u8>,
}

/// Step Functions takes at most 80 characters of `[A-Za-z0-9-_]`: the
/// service's name (at most 60 of them) and the time.
fn new_execution_name(request: &DeploymentRequest, now_millis: u64) -> String {
    let service: String = request
        .service
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(60)
        .collect();
    format!("{service}-{now_millis}")
}

/// Starts a deployment with `input` as `by` (the caller's IAM identity):
/// the input validated (it may not name its initiator), held to its
/// service's policy (`by` among its operators, the image allowed), then
/// `by` recorded as who asked for this execution — which is where
/// resolve-stable learns who started it — and only then started.
pub async fn start(
    context: &Context,
    input: &Value,
    name: Option<&str>,
    by: &str,
) -> Result<Started, OperatorError> {
    let request = DeploymentRequest::from_execution_input(input).map_err(FunctionError::from)?;
    let key = lock_key(&request.cluster, &request.service);
    check_operator(context, &key, by)?;
    let (policy, _) = request_policy(context, &request)?;
    if let Some(image) = &request.image {
        policy.admits_image(image).map_err(FunctionError::from)?;
    }
    let state_machine = context
        .settings
        .state_machine_arn
        .clone()
        .ok_or(FunctionError::NotConfigured("ECS_CANARY_STATE_MACHINE_ARN"))?;
    let name = name.map_or_else(
        || new_execution_name(&request, context.now_millis()),
        str::to_string,
    );
    let execution = execution_arn(&state_machine, &name);
    context
        .ports
        .history()
        .record(&HistoryEvent::requested(
            key.clone(),
            &execution,
            context.now_millis(),
            by,
            "cli",
            input,
        ))
        .await?;
    match context
        .ports
        .starts()
        .start(&state_machine, &name, &input.to_string())
        .await?
    {
        StartOutcome::Started(arn) => Ok(Started {
            execution: arn,
            service: key,
            started_by: by.to_string(),
            steps: request.steps.percentages().to_vec(),
        }),
        StartOutcome::AlreadyExists => Err(OperatorError::AlreadyStarted { name }),
    }
}
