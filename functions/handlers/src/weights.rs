use std::sync::Arc;

use ecs_canary_core::{Deployment, TrafficSplit};
use serde_json::{json, Value};

use crate::events::{parse, with_fields};
use crate::{Context, FunctionError, StepEvent};

/// Sets `split` on the weighted rule and reads it back.
pub(crate) async fn apply_split(
    context: &Context,
    deployment: &Deployment,
    split: TrafficSplit,
) -> Result<TrafficSplit, FunctionError> {
    let rules = &context.clients.rules;
    rules
        .set_forward_targets(
            &deployment.weighted_rule,
            &deployment.forward_targets(split),
        )
        .await?;
    let actual = deployment.split_of(&rules.forward_targets(&deployment.weighted_rule).await?)?;
    if actual != split {
        return Err(FunctionError::WeightNotApplied {
            expected: split,
            actual,
        });
    }
    tracing::info!(
        service = %deployment.request.service,
        stable = %deployment.stable,
        stable_weight = split.stable_weight(),
        candidate_weight = split.candidate_weight(),
        "split applied and read back"
    );
    Ok(actual)
}

/// Applies step `step` of the plan (0-based; default: the next one),
/// verified by reading it back. `lastStep` tells whether promotion is next.
pub async fn set_weights(context: Arc<Context>, event: Value) -> Result<Value, FunctionError> {
    let StepEvent {
        mut deployment,
        step,
    } = parse(event)?;
    let step = step.unwrap_or_else(|| deployment.step.map_or(0, |last| last + 1));
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
    let last_step = step + 1 == deployment.request.steps.len();
    with_fields(&deployment, json!({"lastStep": last_step}))
}
