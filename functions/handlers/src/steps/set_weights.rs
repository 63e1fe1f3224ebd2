//! set-weights: one step of the plan applied to the weighted rule and read
//! back; `lastStep` tells the state machine whether promotion is next.

use std::sync::Arc;

use ecs_canary_core::HistoryEvent;
use serde_json::Value;

use crate::actions::traffic::apply_split;
use crate::events::{parse, StepEvent, StepOutput};
use crate::{Context, FunctionError};

/// Applies step `step` of the plan (0-based; default: the next one, or —
/// after a person sent the rollout back — the one before), verified by
/// reading it back. `lastStep` tells whether promotion is next.
pub async fn set_weights(context: Arc<Context>, event: Value) -> Result<StepOutput, FunctionError> {
    let sent_back = event
        .pointer("/deployment/approval/decision")
        .and_then(Value::as_str)
        == Some("back");
    let StepEvent {
        mut deployment,
        step,
    } = parse(event)?;
    if sent_back && step.is_none() {
        return step_back(&context, deployment).await;
    }
    let step = step.unwrap_or_else(|| deployment.next_step());
    let split = deployment
        .request
        .steps
        .split(step)
        .ok_or(FunctionError::InvalidStep {
            step,
            steps: deployment.request.steps.len(),
        })?;
    deployment.split = apply_split(&context, &deployment, split).await?;
    deployment.step = Some(step);
    deployment.record_applied(step, context.now());
    context
        .record(HistoryEvent::split_applied(
            &deployment,
            context.now_millis(),
            deployment.split,
        ))
        .await;
    let last_step = deployment.is_last_step(step);
    let wait_seconds = deployment.request.approval_timeout_seconds;
    Ok(StepOutput {
        deployment,
        last_step,
        wait_seconds,
    })
}

/// A person sent the rollout back: the step before this one is applied
/// again (before the first: 0 %, the candidate still running), in a new
/// round, so that its approval is asked with new links. Repeated with the
/// same input (a retry), it does the same.
async fn step_back(
    context: &Context,
    mut deployment: ecs_canary_core::Deployment,
) -> Result<StepOutput, FunctionError> {
    let back_to = deployment.step.and_then(|step| step.checked_sub(1));
    let split = match back_to {
        Some(step) => deployment
            .request
            .steps
            .split(step)
            .ok_or(FunctionError::InvalidStep {
                step,
                steps: deployment.request.steps.len(),
            })?,
        None => ecs_canary_core::TrafficSplit::all_stable(),
    };
    deployment.split = apply_split(context, &deployment, split).await?;
    deployment.step = back_to;
    deployment.round += 1;
    match back_to {
        Some(step) => deployment.record_applied(step, context.now()),
        None => deployment.applied_at.clear(),
    }
    context
        .record(HistoryEvent::split_applied(
            &deployment,
            context.now_millis(),
            deployment.split,
        ))
        .await;
    let wait_seconds = deployment.request.approval_timeout_seconds;
    Ok(StepOutput {
        last_step: false,
        deployment,
        wait_seconds,
    })
}
