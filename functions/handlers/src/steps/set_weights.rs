//! set-weights: one step of the plan applied to the weighted rule and read
//! back; `lastStep` tells the state machine whether promotion is next.

use std::sync::Arc;

use ecs_canary_core::HistoryEvent;
use serde_json::Value;

use crate::actions::traffic::apply_split;
use crate::events::{parse, StepEvent, StepOutput};
use crate::{Context, FunctionError};

/// Applies step `step` of the plan (0-based; default: the next one),
/// verified by reading it back. `lastStep` tells whether promotion is next.
pub async fn set_weights(context: Arc<Context>, event: Value) -> Result<StepOutput, FunctionError> {
    let StepEvent {
        mut deployment,
        step,
    } = parse(event)?;
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
