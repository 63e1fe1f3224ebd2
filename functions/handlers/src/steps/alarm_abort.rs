//! alarm-abort: a guarding CloudWatch alarm entered `ALARM`; every
//! deployment it guards stops at once, traffic back on stable first.
use std::sync::Arc;

use ecs_canary_aws::{AwsError, DecideOutcome, HeldLock};
use ecs_canary_core::{
    iso8601, AlarmAbort, AlarmChange, ApprovalStatus, Decision, ErrorKind, ErrorName, HistoryEvent,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actions::decision::settle_decision;
use crate::actions::traffic::stable_first;
use crate::{Context, FunctionError};

/// The error every deployment stopped by an alarm ends with.
const ALARM_TRIGGERED: &str = ErrorKind::AlarmTriggered.as_str();

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
    let guarded = context.ports.locks.guarded_by(&change.alarm).await?;
    let mut failures = Vec::new();
    for lock in guarded {
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
    let pending = context.ports.approvals.pending(execution, steps).await?;
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
    match (how, waiting) {
        (AlarmAbort::FailWaitingStep, Some(record)) => {
            // The alarm decides the step as a person would, and only once: a
            // person deciding at the same moment and the alarm cannot both win.
            let now = context.now();
            let by = format!("alarm {}", change.alarm);
            let approvals = &context.ports.approvals;
            let decided = approvals
                .decide(&record.key, Decision::Reject, &by, &iso8601(now), now)
                .await?;
            if !matches!(decided, DecideOutcome::Decided(_)) {
                // A person decided this very moment (or the link just
                // expired): the execution is stopped instead.
                aborted.how = AlarmAbort::StopExecution.as_str().into();
                stop(context, execution, &cause).await?;
                return Ok(aborted);
            }
            if let Some(deployment) = &record.deployment {
                aborted.traffic_on_stable =
                    stable_first(context, deployment, ALARM_TRIGGERED, &cause).await;
            }
            let failed = context
                .ports
                .callbacks
                .fail(&record.task_token, ALARM_TRIGGERED, &cause)
                .await;
            // Pending again on a failure: Lambda's retry of this event decides it anew.
            settle_decision(
                context,
                &record,
                ApprovalStatus::Rejected,
                (&by, "alarm"),
                &failed,
            )
            .await;
            match failed {
                // The rollback is the state machine's now: a second alarm leaves it be.
                Ok(()) => {
                    context
                        .ports
                        .locks
                        .mark_rolling_back(&lock.key, execution)
                        .await?;
                }
                Err(AwsError::TaskNotWaiting(_)) => {}
                Err(other) => return Err(other.into()),
            }
            aborted.links_closed = approvals.expire_pending(execution, steps).await?;
            // The state machine's rollback finishes, then tells the approval channels.
            tracing::warn!(alarm = %change.alarm, service = %record.facts.service, traffic_on_stable = aborted.traffic_on_stable, "alarm: the waiting step failed");
        }
        (AlarmAbort::AlreadyRollingBack, _) => {
            tracing::info!(alarm = %change.alarm, service = %lock.key, "alarm: the deployment is already rolling back");
        }
        _ => {
            stop(context, execution, &cause).await?;
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

/// Stops the execution with `AlarmTriggered`; one that has ended already is fine.
async fn stop(context: &Context, execution: &str, cause: &str) -> Result<(), AwsError> {
    match context
        .ports
        .callbacks
        .stop(execution, ALARM_TRIGGERED, cause)
        .await
    {
        Ok(()) | Err(AwsError::TaskNotWaiting(_)) => Ok(()),
        Err(other) => Err(other),
    }
}
