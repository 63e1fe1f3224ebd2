//! Moving traffic: a split applied to the weighted rule and read back,
//! tester rules pointed at a colour, and the shortest way back to stable
//! (the rollback function invoked directly). Only the deployment that holds
//! the service's lock moves its traffic; a hand on the rule wins.

use ecs_canary_aws::LiveRule;
use ecs_canary_core::{
    may_move_traffic, Colour, Deployment, Routing, SplitChange, SplitRecord, TrafficSplit,
};
use serde_json::{json, Value};

use crate::actions::evidence::{check_analysis, check_guarding_alarms};
use crate::{Context, FunctionError};

/// Moves the weighted rule to `split` and reads it back. Only the two
/// colours' weights change; the rule's other actions, their order, the
/// forward stickiness and the conditions are carried as they are.
///
/// If the rule holds neither the split this execution last set nor `split`
/// (a retried step), a person has changed it: `SplitChangedByHand`, and the
/// rule is not touched.
pub async fn apply_split(
    context: &Context,
    deployment: &Deployment,
    split: TrafficSplit,
) -> Result<TrafficSplit, FunctionError> {
    // Both reads at once: this is the way back to stable, every millisecond counts.
    let key = deployment.lock_key();
    let (holder, rule) = tokio::join!(
        context.ports.locks().holder(&key),
        context.ports.rules().rule(&deployment.weighted_rule)
    );
    apply_split_on(context, deployment, split, holder?.as_deref(), rule?).await
}

/// [`apply_split`] on what its caller has just read: `holder`, the execution
/// holding the service's lock, and `rule`, the deployment's weighted rule
/// (the rollback reads them at once with the checks it makes anyway).
pub async fn apply_split_on(
    context: &Context,
    deployment: &Deployment,
    split: TrafficSplit,
    holder: Option<&str>,
    rule: LiveRule,
) -> Result<TrafficSplit, FunctionError> {
    let key = deployment.lock_key();
    let rules = &context.ports.rules();
    let live = deployment.split_of(&rule.forward_targets())?;
    let change = SplitChange::decide(deployment.split, split, live);
    // Only the deployment that holds the service moves its traffic.
    if !may_move_traffic(holder, &deployment.owner, change) {
        return Err(FunctionError::LockLost {
            key,
            holder: holder.unwrap_or("nobody").to_string(),
        });
    }
    let after = match change {
        SplitChange::ChangedByHand => {
            return Err(FunctionError::SplitChangedByHand {
                last_set: deployment.split,
                live,
            })
        }
        SplitChange::AlreadyApplied => rule,
        SplitChange::Apply => {
            // Towards the candidate only while every guarding alarm is quiet
            // and the automatic analysis finds the step's numbers fine.
            if split.candidate_share() > deployment.split.candidate_share() {
                check_guarding_alarms(context, &deployment.request.alarms).await?;
                check_analysis(context, deployment).await?;
            }
            // The lock records the move first, on condition that this
            // execution still holds it: whoever reconciles after it knows
            // which splits were its own. A move back to 100 % stable needs
            // no record (a reconciler accepts that split from anyone), so
            // the way back is one write shorter.
            let record = SplitRecord {
                stable: deployment.stable,
                last_set: deployment.split,
                intended: split,
            };
            if !split.is_all_stable()
                && !context
                    .ports
                    .locks()
                    .record_split(&key, &deployment.owner, &record)
                    .await?
            {
                let holder = context.ports.locks().holder(&key).await?;
                return Err(FunctionError::LockLost {
                    key,
                    holder: holder.unwrap_or_else(|| "nobody".into()),
                });
            }
            let targets = deployment.targets_with_split(&rule.forward_targets(), split);
            rules.set_forward_targets(&rule, &targets).await?
        }
    };
    let actual = deployment.split_of(&after.forward_targets())?;
    if !actual.same_share(&split) {
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

/// Points every tester rule at `colour` (read back); nothing else on the
/// rules changes, and rules already there are not written.
pub async fn point_tester_rules(
    context: &Context,
    deployment: &Deployment,
    colour: Colour,
) -> Result<(), FunctionError> {
    point_rules_at(
        context,
        &deployment.routing(),
        &deployment.tester_rules,
        colour,
    )
    .await
}

/// Points each of `tester_rules` at `colour` (read back).
pub async fn point_rules_at(
    context: &Context,
    routing: &Routing,
    tester_rules: &[String],
    colour: Colour,
) -> Result<(), FunctionError> {
    let rules = &context.ports.rules();
    for arn in tester_rules {
        let rule = rules.rule(arn).await?;
        let targets = routing.tester_targets_towards(&rule.forward_targets(), colour);
        if targets == rule.forward_targets() {
            continue;
        }
        let after = rules.set_forward_targets(&rule, &targets).await?;
        if after.forward_targets() != targets {
            return Err(FunctionError::TesterRuleNotApplied {
                rule: arn.clone(),
                colour,
            });
        }
        tracing::info!(rule = %arn, %colour, "tester rule retargeted");
    }
    Ok(())
}

/// How long a person (or Slack, which waits 3 s) waits for the traffic to be
/// back on stable before the decision is passed on anyway.
const STABLE_FIRST_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Puts traffic back on stable at once — the shortest path of a rejection
/// or an alarm — by invoking the rollback function directly (`stableFirst`).
/// Best effort: `true` when the rule is at 100 % stable (read back); the
/// state machine's rollback follows either way and finishes the job.
pub async fn stable_first(
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
        context.ports.functions().invoke(function, &payload),
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
