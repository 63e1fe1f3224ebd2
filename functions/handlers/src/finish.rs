use std::sync::Arc;

use ecs_canary_core::TrafficSplit;
use serde_json::{json, Value};

use crate::events::{parse, with_fields};
use crate::weights::apply_split;
use crate::{Context, FunctionError, RollbackEvent};

/// Everything to the candidate (read back), `StableStack` = candidate, lock released.
pub async fn promote(context: Arc<Context>, event: Value) -> Result<Value, FunctionError> {
    let RollbackEvent { mut deployment, .. } = parse(event)?;
    deployment.split = apply_split(&context, &deployment, TrafficSplit::all_candidate()).await?;
    let request = &deployment.request;
    context
        .clients
        .ecs
        .tag_stable(&request.cluster, &request.service, deployment.candidate)
        .await?;
    let released = context
        .locks
        .release(&deployment.lock_key(), &deployment.owner)
        .await?;
    tracing::info!(service = %request.service, stable = %deployment.candidate, released, "promoted");
    with_fields(
        &deployment,
        json!({"outcome": "Promoted", "stableAfter": deployment.candidate}),
    )
}

/// Everything back to stable (read back), tag unchanged, lock released; returns why.
pub async fn rollback(context: Arc<Context>, event: Value) -> Result<Value, FunctionError> {
    let RollbackEvent {
        mut deployment,
        reason,
    } = parse(event)?;
    deployment.split = apply_split(&context, &deployment, TrafficSplit::all_stable()).await?;
    let released = context
        .locks
        .release(&deployment.lock_key(), &deployment.owner)
        .await?;
    let error = reason
        .get("Error")
        .and_then(Value::as_str)
        .unwrap_or("Unspecified");
    tracing::info!(service = %deployment.request.service, stable = %deployment.stable, reason = error, released, "rolled back");
    with_fields(
        &deployment,
        json!({"outcome": "RolledBack", "stableAfter": deployment.stable, "reason": reason}),
    )
}
