//! rollback: everything back on stable (read back), tester rules on
//! stable, the tag unchanged, the lock released, and why recorded; or, with
//! `stableFirst`, only the traffic at once.

use std::sync::Arc;

use ecs_canary_core::{rollback_restores_split, HistoryEvent, TrafficSplit, LOCK_LOST};
use serde_json::Value;

use crate::actions::routes::check_held_routes;
use crate::actions::traffic::{apply_split_on, point_tester_rules};
use crate::events::{error_and_cause, parse, ExecutionFailure, Outcome, RollbackEvent, RolledBack};
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet =
    Ports::HISTORY | Ports::RULES | Ports::LOCKS | Ports::ECS | Ports::STACKS;

/// Everything back to stable (read back), tester rules on stable, tag
/// unchanged, lock released; returns why, and `failure: {error, cause}` for
/// the state machine's Fail state. A rule a person has changed by hand is
/// left exactly as they set it (`ruleLeftAsIs`).
///
/// With `stableFirst` (a rejection or an alarm, invoked directly) only the
/// traffic moves; the state machine's rollback follows, finds it there, and
/// does the rest.
///
/// The payload's routes are checked against the stack the lock names
/// (`RoutesMismatch`, nothing changed): an invoker cannot point it at rules
/// of its choosing.
pub async fn rollback(context: Arc<Context>, event: Value) -> Result<RolledBack, FunctionError> {
    let context = context.only(PORTS);
    let RollbackEvent {
        mut deployment,
        reason,
        stable_first,
    } = parse(event)?;
    // Only the routes of the deployment that holds the service, whatever
    // the payload says; before anything changes. A payload whose execution
    // does not hold the lock (an earlier attempt released it, a person did,
    // or it never did) moves no tester rule: the weighted rule is guarded by
    // the lock on its own (apply_split_on moves nothing for a non-holder).
    // The weighted rule is read at the same time (the way back waits for
    // these reads), and used only once the checks have passed.
    let (error, cause) = error_and_cause(&reason);
    let restores = rollback_restores_split(&error);
    let (held, rule) = tokio::join!(check_held_routes(&context, &deployment), async {
        match restores {
            true => Some(context.ports.rules().rule(&deployment.weighted_rule).await),
            false => None,
        }
    });
    let held = held?;
    let holds = held.holds;
    if !stable_first {
        // An alarm that fires now finds the deployment rolling back and
        // leaves it to finish (rather than stopping it halfway).
        context
            .ports
            .locks()
            .mark_rolling_back(&deployment.lock_key(), &deployment.owner)
            .await?;
    }
    let mut rule_left_as_is = !restores;
    let mut lock_lost = error == LOCK_LOST || !holds;
    if let Some(rule) = rule {
        let applied = apply_split_on(
            &context,
            &deployment,
            TrafficSplit::all_stable(),
            held.holder.as_deref(),
            rule?,
        );
        match applied.await {
            Ok(split) => deployment.split = split,
            Err(FunctionError::SplitChangedByHand { live, .. }) => {
                tracing::warn!(service = %deployment.request.service, %live, "the rule was changed by hand; rollback leaves it");
                rule_left_as_is = true;
            }
            Err(FunctionError::LockLost { holder, .. }) => {
                tracing::warn!(service = %deployment.request.service, %holder, "the lock is no longer this deployment's; rollback leaves the rule");
                rule_left_as_is = true;
                lock_lost = true;
            }
            Err(other) => return Err(other),
        }
    }
    if stable_first {
        tracing::info!(service = %deployment.request.service, stable = %deployment.stable, reason = %error, rule_left_as_is, "traffic back on stable first");
    } else {
        // Tester rules are this deployment's to restore unless it lost the service.
        if !lock_lost {
            point_tester_rules(&context, &deployment, deployment.stable).await?;
        }
        let released = context
            .ports
            .locks()
            .release(&deployment.lock_key(), &deployment.owner)
            .await?;
        tracing::info!(service = %deployment.request.service, stable = %deployment.stable, reason = %error, released, rule_left_as_is, "rolled back");
        context
            .record(HistoryEvent::rolled_back(
                &deployment,
                context.now_millis(),
                &error,
                &cause,
            ))
            .await;
    }
    let stable_after = deployment.stable;
    Ok(RolledBack {
        deployment,
        outcome: Outcome::RolledBack,
        stable_after,
        rule_left_as_is,
        reason,
        failure: ExecutionFailure { error, cause },
    })
}
