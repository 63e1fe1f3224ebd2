//! alarm-abort: the guards between clicks. A guarding CloudWatch alarm
//! entered `ALARM`: every deployment it guards stops at once, traffic back
//! on stable first. And once a minute (EventBridge's schedule) the analysis
//! watch judges every step waiting for a person whose request or service
//! sets a tolerance: one whose interval lies wholly above it fails at once.
use std::sync::Arc;

use ecs_canary_aws::HeldLock;
use ecs_canary_core::{
    AlarmAbort, AlarmChange, AnalysisLimits, ErrorKind, ErrorName, HistoryEvent, HistoryKind,
    WindowEvidence, WATCH,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actions::abort::{fail_waiting_step, stop_execution, StopReason};
use crate::actions::evidence::{analysed_pause, analysed_step};
use crate::actions::revert::revert_bake;
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet = Ports::HISTORY
    | Ports::METRICS
    | Ports::LOCKS
    | Ports::APPROVALS
    | Ports::RULES
    | Ports::ECS
    | Ports::STACKS
    | Ports::FUNCTIONS
    | Ports::CALLBACKS
    | Ports::NOTIFICATIONS
    | Ports::SECRETS
    | Ports::WEBHOOKS;

/// The error every deployment stopped by an alarm ends with.
const ALARM_TRIGGERED: &str = ErrorKind::AlarmTriggered.as_str();
/// The error of a step the watch rolled back.
const ANALYSIS_FAILED: &str = ErrorKind::AnalysisFailed.as_str();

/// What the function did: about an alarm, or one run of the watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Guarded {
    Alarm(AlarmAborts),
    Watch(Watched),
}

/// The function's entry: EventBridge's schedule ("Scheduled Event") runs
/// the watch; anything else is an alarm's change of state.
pub async fn guard(context: Arc<Context>, event: Value) -> Result<Guarded, FunctionError> {
    let context = context.only(PORTS);
    if event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
        return Ok(Guarded::Watch(watch(context).await?));
    }
    Ok(Guarded::Alarm(alarm_abort(context, event).await?))
}

/// One run of the analysis watch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watched {
    /// How many waiting steps with a tolerance were judged.
    pub judged: usize,
    /// Those rolled back: their interval lay wholly above the tolerance.
    pub rolled_back: Vec<Aborted>,
    /// Those whose numbers could not be read (`service: why`): nothing changed.
    pub unavailable: Vec<String>,
    /// Services whose bake after promotion ended (their locks let go).
    #[serde(default)]
    pub baked: Vec<String>,
}

/// The analysis watch: every step waiting for a person whose request (or,
/// for ECS's own deployments, whose service) sets a tolerance
/// (`maxErrorRateIncrease`) is judged on its numbers so far; one whose 95 %
/// interval lies wholly above it fails at once (`AnalysisFailed`, traffic
/// on stable first, the numbers in the notice), nobody clicking. A person
/// may still decide while the verdict is *continue* or *wait*; one deciding
/// at the very moment the watch does wins. Numbers that cannot be read
/// change nothing (said once per step, in the history).
pub async fn watch(context: Arc<Context>) -> Result<Watched, FunctionError> {
    let context = context.only(PORTS);
    let mut watched = Watched::default();
    let mut failures = Vec::new();
    for lock in context.ports.locks().all().await? {
        if lock.rolling_back {
            continue;
        }
        if let Some(until) = lock.bake_until {
            // A bake that ended without an alarm: the service is free.
            if until <= context.now() && end_bake(&context, &lock).await? {
                watched.baked.push(lock.key.clone());
            }
            continue;
        }
        if let Err(error) = watch_one(&context, &lock, &mut watched).await {
            tracing::error!(%error, execution = %lock.owner, "the watch could not judge a waiting step");
            failures.push(format!("{}: {error}", lock.key));
        }
    }
    tracing::info!(
        judged = watched.judged,
        rolled_back = watched.rolled_back.len(),
        "the analysis watch ran"
    );
    if !failures.is_empty() {
        return Err(FunctionError::AbortIncomplete(failures.join("; ")));
    }
    Ok(watched)
}

/// Lets go of the lock of a bake that ended (recorded); whether it did.
async fn end_bake(context: &Context, lock: &HeldLock) -> Result<bool, FunctionError> {
    let released = context
        .ports
        .locks()
        .release(&lock.key, &lock.owner)
        .await?;
    if released {
        context
            .record(HistoryEvent::baked(
                lock.key.clone(),
                &lock.owner,
                context.now_millis(),
            ))
            .await;
        tracing::info!(service = %lock.key, "the bake ended without an alarm: the lock is released");
    }
    Ok(released)
}

/// What the analysis judges of the step `record` waits at (one of ecs-canary's
/// rollout, or a pause of ECS's own deployment); `None` without a tolerance.
async fn watched_window(
    context: &Context,
    record: &ecs_canary_aws::ApprovalRecord,
) -> Option<(Result<WindowEvidence, String>, AnalysisLimits)> {
    match &record.deployment {
        Some(deployment) => analysed_step(context, deployment).await,
        None => analysed_pause(context, record.native.as_ref()?).await,
    }
}

/// Judges the step `lock`'s execution waits at, if it has a tolerance.
async fn watch_one(
    context: &Context,
    lock: &HeldLock,
    watched: &mut Watched,
) -> Result<(), FunctionError> {
    let Some(record) = context
        .ports
        .approvals()
        .pending(&lock.owner, lock.guard.steps)
        .await?
    else {
        return Ok(());
    };
    let Some((window, limits)) = watched_window(context, &record).await else {
        return Ok(());
    };
    watched.judged += 1;
    let failed = match window {
        Ok(window) => window.analyse(&limits),
        Err(why) => {
            say_once(context, lock, record.facts.step, &why).await?;
            watched.unavailable.push(format!("{}: {why}", lock.key));
            return Ok(());
        }
    };
    let Err(failed) = failed else {
        return Ok(());
    };
    let reason = StopReason {
        by: WATCH.to_string(),
        channel: "watch",
        error: ANALYSIS_FAILED,
        cause: failed.to_string(),
    };
    // `None`: a person decided this very moment; their decision stands (an
    // approval meets the same analysis on its way).
    if let Some(done) = fail_waiting_step(context, lock, &record, &reason).await? {
        watched.rolled_back.push(Aborted {
            service: lock.key.clone(),
            execution: lock.owner.clone(),
            how: AlarmAbort::FailWaitingStep.as_str().into(),
            traffic_on_stable: done.traffic_on_stable,
            links_closed: done.links_closed,
        });
    }
    Ok(())
}

/// Records, once per waiting step, that the watch cannot judge it.
async fn say_once(
    context: &Context,
    lock: &HeldLock,
    step: usize,
    why: &str,
) -> Result<(), FunctionError> {
    let said = context
        .ports
        .history()
        .list(&lock.key, 10)
        .await?
        .iter()
        .any(|e| {
            e.kind == HistoryKind::Watched && e.execution == lock.owner && e.step == Some(step)
        });
    if !said {
        tracing::warn!(service = %lock.key, step, %why, "the analysis watch cannot judge a waiting step; nothing changes");
        context
            .record(HistoryEvent::watched(
                lock.key.clone(),
                &lock.owner,
                step,
                context.now_millis(),
                why,
            ))
            .await;
    }
    Ok(())
}

/// What alarm-abort did about one deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Aborted {
    pub service: String,
    pub execution: String,
    /// `failWaitingStep` or `stopExecution`.
    pub how: String,
    /// The rule was read back at 100 % stable before the step failed.
    pub traffic_on_stable: bool,
    pub links_closed: usize,
}

/// alarm-abort's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmAborts {
    pub alarm: String,
    /// `false`: the change was not into `ALARM`; nothing was done.
    pub fired: bool,
    pub aborted: Vec<Aborted>,
}

/// An alarm entered `ALARM` ("CloudWatch Alarm State Change" from
/// EventBridge): every deployment it guards stops at once. One waiting for
/// a person has its step decided by the alarm (once, as a click would: a
/// person deciding at that moment wins, and the execution is stopped
/// instead), its traffic back on stable first (the rollback function,
/// invoked directly), and its waiting step failed `AlarmTriggered` (the
/// state machine's rollback finishes and tells the approval channels); any
/// other is stopped with `AlarmTriggered`, and the reconciler puts its
/// service back at rest and tells the channels.
///
/// Safe to repeat: a deployment already rolling back is left to finish, one
/// already stopped is found ended. A deployment it could not stop makes the
/// function fail, so that Lambda tries again.
pub async fn alarm_abort(
    context: Arc<Context>,
    event: Value,
) -> Result<AlarmAborts, FunctionError> {
    let context = context.only(PORTS);
    let detail = event.get("detail").cloned().unwrap_or(event);
    let change = AlarmChange::from_detail(&detail).ok_or_else(|| {
        FunctionError::InvalidEvent("not a CloudWatch Alarm State Change: no `alarmName`".into())
    })?;
    let mut answer = AlarmAborts {
        alarm: change.alarm.clone(),
        fired: change.fired(),
        aborted: Vec::new(),
    };
    if !answer.fired {
        return Ok(answer);
    }
    let guarded = context.ports.locks().guarded_by(&change.alarm).await?;
    let mut failures = Vec::new();
    for lock in guarded {
        if lock.bake_until.is_some() {
            // Promoted and baking: the new stable release is reverted.
            let by = format!("the guarding alarm {} during the bake", change.alarm);
            match revert_bake(&context, &lock, &by).await {
                Ok(_) => answer.aborted.push(Aborted {
                    service: lock.key.clone(),
                    execution: lock.owner.clone(),
                    how: "revertedBake".into(),
                    traffic_on_stable: true,
                    links_closed: 0,
                }),
                Err(error) => {
                    tracing::error!(%error, service = %lock.key, "could not revert a baking release the alarm guards");
                    failures.push(format!("{}: {error}", lock.key));
                }
            }
            continue;
        }
        let result = retry_passing!(
            "stopping the deployment again",
            abort(&context, &change, &lock).await
        );
        match result {
            Ok(aborted) => answer.aborted.push(aborted),
            Err(error) => {
                tracing::error!(%error, execution = %lock.owner, "could not stop a deployment the alarm guards");
                failures.push(format!("{}: {error}", lock.key));
            }
        }
    }
    tracing::info!(alarm = %change.alarm, aborted = answer.aborted.len(), failed = failures.len(), "alarm fired");
    if !failures.is_empty() {
        return Err(FunctionError::AbortIncomplete(failures.join("; ")));
    }
    Ok(answer)
}

/// Stops one deployment the alarm guards.
async fn abort(
    context: &Context,
    change: &AlarmChange,
    lock: &HeldLock,
) -> Result<Aborted, FunctionError> {
    let error = change.error();
    let cause = error.to_string();
    let (execution, steps) = (&lock.owner, lock.guard.steps);
    let pending = context.ports.approvals().pending(execution, steps).await?;
    // A step of ecs-canary's own rollout, or a pause of ECS's own deployment
    // (whose gate then answers ECS ROLLBACK).
    let waiting = pending.filter(|record| record.deployment.is_some() || record.native.is_some());
    let how = AlarmAbort::decide(lock.rolling_back, waiting.is_some());
    let mut aborted = Aborted {
        service: lock.key.clone(),
        execution: execution.clone(),
        how: how.as_str().into(),
        traffic_on_stable: false,
        links_closed: 0,
    };
    let reason = StopReason {
        by: format!("alarm {}", change.alarm),
        channel: "alarm",
        error: ALARM_TRIGGERED,
        cause: cause.clone(),
    };
    match (how, waiting) {
        (AlarmAbort::FailWaitingStep, Some(record)) => {
            match fail_waiting_step(context, lock, &record, &reason).await? {
                Some(failed) => {
                    aborted.traffic_on_stable = failed.traffic_on_stable;
                    aborted.links_closed = failed.links_closed;
                }
                None => {
                    // A person decided this very moment (or the link just
                    // expired): the execution is stopped instead.
                    aborted.how = AlarmAbort::StopExecution.as_str().into();
                    stop_execution(context, execution, ALARM_TRIGGERED, &cause).await?;
                }
            }
        }
        (AlarmAbort::AlreadyRollingBack, _) => {
            tracing::info!(alarm = %change.alarm, service = %lock.key, "alarm: the deployment is already rolling back");
        }
        _ => {
            stop_execution(context, execution, ALARM_TRIGGERED, &cause).await?;
            context
                .record(HistoryEvent::aborted(
                    lock.key.clone(),
                    execution,
                    context.now_millis(),
                    &format!("alarm {}", change.alarm),
                    &cause,
                ))
                .await;
            tracing::warn!(alarm = %change.alarm, service = %lock.key, error_type = error.error_type(), "alarm: execution stopped; the reconciler puts the service back at rest");
        }
    }
    Ok(aborted)
}
