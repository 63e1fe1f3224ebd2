//! resolve-stable: the execution input validated (its approval policy held
//! to the stack's, its image one the policy allows), the service's lock
//! taken, and the deployment resolved; refused, changing nothing, on drift.

use std::sync::Arc;

use ecs_canary_aws::LockGuard;
use ecs_canary_core::{
    lock_expiry, lock_key, parse_iso8601, parse_mappings, service_floor, Deployment,
    DeploymentRequest, HistoryEvent,
};
use serde_json::Value;

use crate::actions::routes::resolve;
use crate::events::{parse, ResolveEvent};
use crate::{Context, FunctionError};

/// Validates the input, takes the service's lock, and finds the stable and
/// candidate colours, task sets, target groups, rules and the live split.
/// Refuses — changing nothing, the lock released — on drift, a missing
/// stable task set, or a stack the deployment could not render.
pub async fn resolve_stable(
    context: Arc<Context>,
    event: Value,
) -> Result<Deployment, FunctionError> {
    let event: ResolveEvent = parse(event)?;
    let mut request = DeploymentRequest::from_json(&event.input)?;
    let owner = event.owner.trim();
    if owner.is_empty() {
        return Err(FunctionError::InvalidEvent(
            "`owner` must name the execution".into(),
        ));
    }
    // A deployment's own approval policy may only narrow the stack's (and
    // the policy of a trigger mapping that deploys the service), and the
    // image must be one the policy allows, before anything is taken (a
    // malformed stack policy refuses every start).
    let stack_floor = context
        .settings
        .default_policy()
        .map_err(FunctionError::Misconfigured)?;
    let mappings = match &context.settings.trigger_mappings {
        Some(text) => parse_mappings(text)?,
        None => Vec::new(),
    };
    let floor = service_floor(&stack_floor, &mappings, &request.cluster, &request.service)?;
    let policy = match &request.approval_policy {
        Some(own) => own.within(&floor)?,
        None => floor.clone(),
    };
    // Where a mapping narrowed the floor, the deployment carries the policy
    // that holds it, so that every decision is held to it (and, again, to
    // the stack's).
    if floor != stack_floor {
        request.approval_policy = Some(policy.clone());
    }
    if let Some(image) = &request.image {
        policy.admits_image(image)?;
    }
    policy.admits_initiator(request.started_by.as_deref())?;
    let key = lock_key(&request.cluster, &request.service);
    let now = context.now();
    context
        .ports
        .locks
        .acquire(
            &key,
            owner,
            now,
            lock_expiry(now, &request, context.settings.ready_wait_seconds),
            &LockGuard {
                alarms: request.alarms.clone(),
                steps: request.steps.len(),
                stack: Some(request.stack.clone()),
            },
        )
        .await?;
    let started_at = event.started_at.as_deref().and_then(parse_iso8601);
    match resolve(&context, request, owner, None).await {
        Ok(mut deployment) => {
            deployment.started_at = started_at;
            tracing::info!(
                cluster = %deployment.request.cluster,
                service = %deployment.request.service,
                stable = %deployment.stable,
                candidate = %deployment.candidate,
                "resolved; lock taken"
            );
            // The execution's start time keeps a retried resolve one event.
            let at = started_at.map_or_else(|| context.now_millis(), |s| s.saturating_mul(1000));
            context.record(HistoryEvent::started(&deployment, at)).await;
            Ok(deployment)
        }
        Err(error) => {
            // Nothing was changed: give the lock back.
            if let Err(release_error) = context.ports.locks.release(&key, owner).await {
                tracing::error!(%release_error, "could not release the lock after a refused deployment");
            }
            Err(error)
        }
    }
}
