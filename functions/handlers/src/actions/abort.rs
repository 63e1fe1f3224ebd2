//! Stopping a deployment without a person's click: a guarding alarm fired,
//! or the analysis watch found the waiting step's numbers wholly over the
//! tolerance. The waiting step is decided once, as a click would be (a
//! person deciding at that very moment wins), traffic goes back on stable
//! first, and the step fails with the reason's error so that the state
//! machine's rollback finishes and tells the approval channels.

use ecs_canary_aws::{ApprovalRecord, AwsError, DecideOutcome, HeldLock};
use ecs_canary_core::{iso8601, ApprovalStatus, Decision};

use crate::actions::decision::settle_decision;
use crate::actions::traffic::stable_first;
use crate::{Context, FunctionError};

/// Why a deployment is stopped, and by whom.
#[derive(Debug, Clone)]
pub struct StopReason {
    /// Who decides the step ("alarm web-5xx", "the analysis watch").
    pub by: String,
    /// The channel the history records ("alarm", "watch").
    pub channel: &'static str,
    /// The error the step fails with (`AlarmTriggered`, `AnalysisFailed`).
    pub error: &'static str,
    pub cause: String,
}

/// What failing a waiting step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedStep {
    /// The rule was read back at 100 % stable before the step failed.
    pub traffic_on_stable: bool,
    pub links_closed: usize,
}

/// Fails the step `record` waits at, under `lock`, for `reason`. `None`
/// when someone decided it at this very moment (or its link just expired):
/// nothing was changed here, and the caller stops the execution instead.
pub async fn fail_waiting_step(
    context: &Context,
    lock: &HeldLock,
    record: &ApprovalRecord,
    reason: &StopReason,
) -> Result<Option<FailedStep>, FunctionError> {
    let (execution, steps) = (&lock.owner, lock.guard.steps);
    let now = context.now();
    let approvals = &context.ports.approvals();
    let decided = approvals
        .decide(
            &record.key,
            Decision::Reject,
            &reason.by,
            &iso8601(now),
            now,
        )
        .await?;
    if !matches!(decided, DecideOutcome::Decided(_)) {
        return Ok(None);
    }
    let mut failed_step = FailedStep {
        traffic_on_stable: false,
        links_closed: 0,
    };
    if let Some(deployment) = &record.deployment {
        failed_step.traffic_on_stable =
            stable_first(context, deployment, reason.error, &reason.cause).await;
    }
    let failed = context
        .ports
        .callbacks()
        .fail(&record.task_token, reason.error, &reason.cause)
        .await;
    // Pending again on a failure: a retry decides it anew.
    settle_decision(
        context,
        record,
        ApprovalStatus::Rejected,
        (&reason.by, reason.channel),
        &failed,
    )
    .await;
    match failed {
        // The rollback is the state machine's now: a second stop leaves it be.
        Ok(()) => {
            context
                .ports
                .locks()
                .mark_rolling_back(&lock.key, execution)
                .await?;
        }
        Err(AwsError::TaskNotWaiting(_)) => {}
        Err(other) => return Err(other.into()),
    }
    failed_step.links_closed = approvals.expire_pending(execution, steps).await?;
    tracing::warn!(by = %reason.by, error = reason.error, service = %record.facts.service, traffic_on_stable = failed_step.traffic_on_stable, "the waiting step failed");
    Ok(Some(failed_step))
}

/// Stops `execution` with `error`; one that has ended already is fine.
pub async fn stop_execution(
    context: &Context,
    execution: &str,
    error: &str,
    cause: &str,
) -> Result<(), AwsError> {
    match context
        .ports
        .callbacks()
        .stop(execution, error, cause)
        .await
    {
        Ok(()) | Err(AwsError::TaskNotWaiting(_)) => Ok(()),
        Err(other) => Err(other),
    }
}
