use std::sync::Arc;

use ecs_canary_core::{rollback_restores_split, Deployment, HistoryEvent, TrafficSplit, LOCK_LOST};
use serde_json::{json, Value};

use crate::events::{error_and_cause, parse, Failure, Outcome, Promoted, RolledBack};
use crate::weights::{apply_split, point_tester_rules};
use crate::{Context, FunctionError, RollbackEvent};

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

/// Everything back to stable (read back), tester rules on stable, tag
/// unchanged, lock released; returns why, and `failure: {error, cause}` for
/// the state machine's Fail state. A rule a person has changed by hand is
/// left exactly as they set it (`ruleLeftAsIs`).
///
/// With `stableFirst` (a rejection or an alarm, invoked directly) only the
/// traffic moves; the state machine's rollback follows, finds it there, and
/// does the rest.
pub async fn rollback(context: Arc<Context>, event: Value) -> Result<RolledBack, FunctionError> {
    let RollbackEvent {
        mut deployment,
        reason,
        stable_first,
    } = parse(event)?;
    let (error, cause) = error_and_cause(&reason);
    if !stable_first {
        // An alarm that fires now finds the deployment rolling back and
        // leaves it to finish (rather than stopping it halfway).
        context
            .ports
            .locks
            .mark_rolling_back(&deployment.lock_key(), &deployment.owner)
            .await?;
    }
    let mut rule_left_as_is = !rollback_restores_split(&error);
    let mut lock_lost = error == LOCK_LOST;
    if !rule_left_as_is {
        match apply_split(&context, &deployment, TrafficSplit::all_stable()).await {
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
            .locks
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
        failure: Failure { error, cause },
    })
}

/// How long a person (or Slack, which waits 3 s) waits for the traffic to be
/// back on stable before the decision is passed on anyway.
const STABLE_FIRST_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Puts traffic back on stable at once — the shortest path of a rejection
/// or an alarm — by invoking the rollback function directly (`stableFirst`).
/// Best effort: `true` when the rule is at 100 % stable (read back); the
/// state machine's rollback follows either way and finishes the job.
pub(crate) async fn stable_first(
    context: &Context,
    deployment: &Deployment,
    error: &str,
    cause: &str,
) -> bool {
    let Some(function) = &context.settings.rollback_function else {
        return false;
    };
    let payload = json!({
        "deployment": deployment,
        "reason": {"Error": error, "Cause": cause},
        "stableFirst": true,
    });
    let invoked = tokio::time::timeout(
        STABLE_FIRST_LIMIT,
        context.ports.functions.invoke(function, &payload),
    )
    .await;
    match invoked {
        Ok(Ok(answer)) => answer.get("ruleLeftAsIs") != Some(&Value::Bool(true)),
        Ok(Err(error)) => {
            tracing::warn!(%error, service = %deployment.request.service, "could not put traffic back on stable first; the state machine's rollback will");
            false
        }
        Err(_) => {
            tracing::warn!(service = %deployment.request.service, "putting traffic back on stable first takes too long; the state machine's rollback will");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::events::error_and_cause as failure;
    use serde_json::json;

    #[test]
    fn failure_names_the_error_and_a_readable_cause() {
        let lambda_error = json!({
            "Error": "WeightNotApplied",
            "Cause": "{\"errorType\":\"WeightNotApplied\",\"errorMessage\":\"set 90/10, read 100/0\"}"
        });
        assert_eq!(
            failure(&lambda_error),
            ("WeightNotApplied".into(), "set 90/10, read 100/0".into())
        );
        let rejected = json!({"Error": "Rejected", "Cause": "rejected by email link"});
        assert_eq!(failure(&rejected).1, "rejected by email link");
        let (error, cause) = failure(&json!({"Error": "Rejected"}));
        assert_eq!(error, "Rejected");
        assert!(cause.contains("Rejected"));
        assert_eq!(failure(&json!(null)).0, "RolledBack");
    }
}
