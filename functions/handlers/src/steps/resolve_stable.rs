//! resolve-stable: the execution input validated (its approval policy held
//! to the stack's, its image one the policy allows), the service's lock
//! taken, and the deployment resolved; refused, changing nothing, on drift.

use std::sync::Arc;

use ecs_canary_aws::LockGuard;
use ecs_canary_core::{
    lock_expiry, lock_key, parse_iso8601, request_of, Deployment, DeploymentRequest, HistoryEvent,
};
use serde_json::Value;

use crate::actions::authority::request_policy;
use crate::actions::routes::resolve;
use crate::events::{parse, ResolveEvent};
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet =
    Ports::HISTORY | Ports::ECS | Ports::STACKS | Ports::RULES | Ports::ALARMS | Ports::LOCKS;

/// Validates the input, takes the service's lock, and finds the stable and
/// candidate colours, task sets, target groups, rules and the live split.
/// Refuses — changing nothing, the lock released — on drift, a missing
/// stable task set, or a stack the deployment could not render.
pub async fn resolve_stable(
    context: Arc<Context>,
    event: Value,
) -> Result<Deployment, FunctionError> {
    let context = context.only(PORTS);
    let event: ResolveEvent = parse(event)?;
    let mut request = DeploymentRequest::from_execution_input(&event.input)?;
    let owner = event.owner.trim();
    if owner.is_empty() {
        return Err(FunctionError::InvalidEvent(
            "`owner` must name the execution".into(),
        ));
    }
    // A deployment's own approval policy may only narrow the stack's (and
    // the policy of a trigger mapping that deploys the service), and the
    // image must be one the policy allows, before anything is taken (a
    // malformed stack policy refuses every start). Where a mapping narrowed
    // the floor, the deployment carries the policy that holds it, so that
    // every decision is held to it (and, again, to the stack's).
    let (policy, narrowed) = request_policy(&context, &request)?;
    if narrowed {
        request.approval_policy = Some(policy.clone());
    }
    if let Some(image) = &request.image {
        policy.admits_image(image)?;
    }
    // Who started it is what the operator endpoint recorded for this
    // execution, never what the input says (the input may not say it).
    let key = lock_key(&request.cluster, &request.service);
    let recent = context.ports.history().list(&key, 50).await?;
    let requested = request_of(&recent, owner, &event.input);
    request.started_by = requested.and_then(|e| e.by.clone());
    let requested_at = requested.map(|e| e.at_millis);
    policy.admits_initiator(request.started_by.as_deref())?;
    let now = context.now();
    context
        .ports
        .locks()
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
            deployment.gate_before_start = policy.approve_before_start == Some(true);
            tracing::info!(
                cluster = %deployment.request.cluster,
                service = %deployment.request.service,
                stable = %deployment.stable,
                candidate = %deployment.candidate,
                "resolved; lock taken"
            );
            // The execution's start time keeps a retried resolve one event
            // (after the request that started it, in the same second).
            let at = started_at.map_or_else(|| context.now_millis(), |s| s.saturating_mul(1000));
            let at = requested_at.map_or(at, |asked| at.max(asked + 1));
            context.record(HistoryEvent::started(&deployment, at)).await;
            Ok(deployment)
        }
        Err(error) => {
            // Nothing was changed: give the lock back.
            if let Err(release_error) = context.ports.locks().release(&key, owner).await {
                tracing::error!(%release_error, "could not release the lock after a refused deployment");
            }
            Err(error)
        }
    }
}
