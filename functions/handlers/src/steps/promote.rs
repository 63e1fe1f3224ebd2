//! promote: everything to the candidate (read back), `StableStack` = the
//! candidate, tester rules on the new stable colour, the lock released.

use std::sync::Arc;

use ecs_canary_core::{HistoryEvent, TrafficSplit};
use serde_json::Value;

use crate::actions::traffic::{apply_split, point_tester_rules};
use crate::events::{parse, Outcome, Promoted, RollbackEvent};
use crate::{Context, FunctionError};

/// Everything to the candidate (read back), `StableStack` = candidate, tester
/// rules on the new stable colour, lock released. A split changed by hand is
/// `SplitChangedByHand` (the rule is not touched).
pub async fn promote(context: Arc<Context>, event: Value) -> Result<Promoted, FunctionError> {
    let RollbackEvent { mut deployment, .. } = parse(event)?;
    deployment.split = apply_split(&context, &deployment, TrafficSplit::all_candidate()).await?;
    let request = &deployment.request;
    context
        .ports
        .ecs
        .tag_stable(&request.cluster, &request.service, deployment.candidate)
        .await?;
    point_tester_rules(&context, &deployment, deployment.candidate).await?;
    let released = context
        .ports
        .locks
        .release(&deployment.lock_key(), &deployment.owner)
        .await?;
    tracing::info!(service = %request.service, stable = %deployment.candidate, released, "promoted");
    context
        .record(HistoryEvent::promoted(&deployment, context.now_millis()))
        .await;
    let stable_after = deployment.candidate;
    Ok(Promoted {
        deployment,
        outcome: Outcome::Promoted,
        stable_after,
    })
}
