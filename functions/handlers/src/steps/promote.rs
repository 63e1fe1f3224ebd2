//! promote: everything to the candidate (read back), `StableStack` = the
//! candidate, tester rules on the new stable colour, the lock released.

use std::sync::Arc;

use ecs_canary_core::{HistoryEvent, TrafficSplit};
use serde_json::Value;

use crate::actions::traffic::{apply_split, point_tester_rules};
use crate::events::{parse, Outcome, Promoted, RollbackEvent};
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet =
    Ports::HISTORY | Ports::ALARMS | Ports::METRICS | Ports::RULES | Ports::ECS | Ports::LOCKS;

/// Everything to the candidate (read back), `StableStack` = candidate, tester
/// rules on the new stable colour, lock released. A split changed by hand is
/// `SplitChangedByHand` (the rule is not touched).
pub async fn promote(context: Arc<Context>, event: Value) -> Result<Promoted, FunctionError> {
    let context = context.only(PORTS);
    let RollbackEvent { mut deployment, .. } = parse(event)?;
    deployment.split = apply_split(&context, &deployment, TrafficSplit::all_candidate()).await?;
    let request = &deployment.request;
    context
        .ports
        .ecs()
        .tag_stable(&request.cluster, &request.service, deployment.candidate)
        .await?;
    point_tester_rules(&context, &deployment, deployment.candidate).await?;
    // With a bake, the lock stays until it ends: the guarding alarms still
    // watch the new stable release (and revert it), and no deployment
    // starts meanwhile.
    let key = deployment.lock_key();
    let locks = &context.ports.locks();
    let (released, bake_until) = match request.bake_minutes {
        Some(minutes) => {
            let until = context.now() + minutes * 60;
            (
                !locks.bake(&key, &deployment.owner, until).await?,
                Some(until),
            )
        }
        None => (locks.release(&key, &deployment.owner).await?, None),
    };
    tracing::info!(service = %request.service, stable = %deployment.candidate, released, ?bake_until, "promoted");
    let mut event = HistoryEvent::promoted(&deployment, context.now_millis());
    if let Some(until) = bake_until {
        event.summary = format!(
            "promoted: {} is stable, baking until {} (the lock held, the guarding alarms watching)",
            deployment.candidate,
            ecs_canary_core::iso8601(until)
        );
    }
    context.record(event).await;
    let stable_after = deployment.candidate;
    Ok(Promoted {
        deployment,
        outcome: Outcome::Promoted,
        stable_after,
    })
}
