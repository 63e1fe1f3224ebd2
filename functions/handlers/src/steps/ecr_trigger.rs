//! ecr-trigger: an image pushed to ECR starts one execution per mapped
//! service, pinned to the digest, once per (cluster, service, digest).
use std::sync::Arc;

use ecs_canary_aws::StartOutcome;
use ecs_canary_core::{execution_arn, lock_key, parse_mappings, HistoryEvent, ImagePush};
use serde_json::{json, Value};

use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet = Ports::STARTS | Ports::HISTORY;

/// ecr-trigger: an EventBridge "ECR Image Action" event (or CloudTrail's
/// record of the PutImage, which names the pusher) → one execution per
/// mapped service. The execution name derives from the image digest, so the
/// same event delivered twice starts one execution: Step Functions answers a
/// repeated name and input with the running execution, and a finished one
/// with `ExecutionAlreadyExists`. A push no mapping
/// matches is ignored with a log line.
pub async fn ecr_trigger(context: Arc<Context>, event: Value) -> Result<Value, FunctionError> {
    let context = context.only(PORTS);
    let settings = &context.settings;
    let state_machine = settings
        .state_machine_arn
        .as_deref()
        .ok_or(FunctionError::NotConfigured("ECS_CANARY_STATE_MACHINE_ARN"))?;
    let mappings = parse_mappings(settings.trigger_mappings.as_deref().unwrap_or("[]"))?;
    let Some(push) = ImagePush::from_event(&event)? else {
        tracing::info!("not a successful push; ignored");
        return Ok(json!({"started": [], "duplicates": [], "ignored": true}));
    };
    let (mut started, mut duplicates) = (Vec::new(), Vec::new());
    for mapping in mappings.iter().filter(|m| m.matches(&push)) {
        let name = mapping.execution_name(&push);
        let input = mapping.execution_input(&push);
        // A push CloudTrail recorded names its pusher: recorded as who asked
        // for the execution before it starts (its initiator, whom separation
        // of duties keeps from approving it).
        if let Some(pusher) = &push.pusher {
            context
                .ports
                .history()
                .record(&HistoryEvent::requested(
                    lock_key(&mapping.cluster, &mapping.service),
                    &execution_arn(state_machine, &name),
                    context.now_millis(),
                    pusher,
                    "ecr",
                    &input,
                ))
                .await?;
        }
        match context
            .ports
            .starts()
            .start(state_machine, &name, &input.to_string())
            .await?
        {
            StartOutcome::Started(arn) => {
                tracing::info!(execution = %arn, service = %mapping.service, image = %push.image(), "execution for this push (Step Functions returns the running one for a repeated name and input)");
                started.push(arn);
            }
            StartOutcome::AlreadyExists => {
                tracing::info!(%name, service = %mapping.service, "this push already had an execution; not started again");
                duplicates.push(name);
            }
        }
    }
    let ignored = started.is_empty() && duplicates.is_empty();
    if ignored {
        tracing::info!(repository = %push.repository, tag = ?push.tag, "no mapping for this push; ignored");
    }
    Ok(json!({"started": started, "duplicates": duplicates, "ignored": ignored}))
}
