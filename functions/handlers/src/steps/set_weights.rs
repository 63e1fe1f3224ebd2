//! set-weights: one step of the plan applied to the weighted rule and read
//! back; `lastStep` tells the state machine whether promotion is next.

use std::sync::Arc;

use ecs_canary_core::HistoryEvent;
use serde_json::Value;

use crate::actions::traffic::apply_split;
use crate::events::{parse, StepEvent, StepOutput};
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet =
    Ports::HISTORY | Ports::RULES | Ports::LOCKS | Ports::ALARMS | Ports::METRICS;

/// Applies step `step` of the plan (0-based; default: the next one, or —
/// after a person sent the rollout back — the one before), verified by
/// reading it back. `lastStep` tells whether promotion is next.
pub async fn set_weights(context: Arc<Context>, event: Value) -> Result<StepOutput, FunctionError> {
    let context = context.only(PORTS);
    let sent_back = event
        .pointer("/deployment/approval/decision")
        .and_then(Value::as_str)
        == Some("back");
    let StepEvent { deployment, step } = parse(event)?;
    if sent_back && step.is_none() {
        return step_back(&context, deployment).await;
    }
    let step = step.unwrap_or_else(|| deployment.next_step());
    apply_at(&context, deployment, Some(step)).await
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
    deployment.round += 1;
    apply_at(context, deployment, back_to).await
}

/// Applies plan step `step` (`None`: 0 %, the candidate still running) to
/// the weighted rule, read back; records when, and tells the state machine
/// whether promotion is next and how long the step's approval waits.
async fn apply_at(
    context: &Context,
    mut deployment: ecs_canary_core::Deployment,
    step: Option<usize>,
) -> Result<StepOutput, FunctionError> {
    let split = match step {
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
    deployment.step = step;
    match step {
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
    let last_step = step.is_some_and(|step| deployment.is_last_step(step));
    let wait_seconds = deployment.request.approval_timeout_seconds;
    Ok(StepOutput {
        deployment,
        last_step,
        wait_seconds,
    })
}
