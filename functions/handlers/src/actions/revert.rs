//! Undoing a promotion: all traffic back on the colour that was stable
//! before, in one rule change read back, and that colour stable again —
//! only while it still runs the release that was stable before (the core's
//! `check_revert`), under the approval policy of the promoted deployment,
//! and holding the service's lock so that no deployment starts meanwhile.

use std::time::Duration;

use ecs_canary_aws::{HeldLock, LockGuard};
use ecs_canary_core::{
    check_revert, last_promotion, Approver, DeploymentRequest, HistoryEvent, HistoryKind, Notice,
    RevertReading, RevertRefused, RevertTarget, Routing, TrafficSplit,
};
use serde::{Deserialize, Serialize};

use crate::actions::authority::request_policy;
use crate::actions::notify::send_notice;
use crate::actions::routes::{read_routes, ServiceRoutes};
use crate::actions::traffic::point_rules_at;
use crate::{Context, FunctionError};

/// How long a revert holds the service's lock at most (it takes seconds;
/// one that died is let go by then).
const REVERT_LOCK_SECONDS: u64 = 300;

/// How often the rule is read back before a change that does not show is
/// given up (ELBv2 reads back a change a moment late at times).
const READ_BACKS: u32 = 5;
const READ_BACK_PAUSE: Duration = Duration::from_millis(400);

/// What a revert did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reverted {
    pub service: String,
    /// The execution whose promotion was undone.
    pub promotion: String,
    #[serde(flatten)]
    pub target: RevertTarget,
    pub by: String,
    pub channels: Vec<String>,
}

/// Reverts the last promotion of `key` (`cluster/service`), as `approver`.
pub async fn revert(
    context: &Context,
    key: &str,
    approver: &Approver,
) -> Result<Reverted, FunctionError> {
    let events = context.ports.history().list(key, 200).await?;
    let (promoted, target) = last_promotion(key, &events)?;
    let request = promoted_request(key, &events, &promoted.execution)?;
    // Held as a rejection is: back to what was approved before.
    let (policy, _) = request_policy(context, &request)?;
    policy.check(approver, false, None)?;
    let by = approver.identity.clone();

    // While it bakes, the promoting execution holds the lock: the revert
    // goes on under it, and ends the bake.
    if let Some(lock) = context.ports.locks().held(key).await? {
        if lock.bake_until.is_some() && lock.owner == promoted.execution {
            let channel = Some(approver.channel.as_str());
            return ending_the_bake(context, &lock, &request, target, (&by, channel)).await;
        }
    }
    let now = context.now();
    let owner = format!("revert {} by {by}", context.now_millis());
    context
        .ports
        .locks()
        .acquire(
            key,
            &owner,
            now,
            now + REVERT_LOCK_SECONDS,
            &LockGuard {
                alarms: Vec::new(),
                steps: 1,
                stack: Some(request.stack.clone()),
            },
        )
        .await?;
    let moved = revert_held(context, &request, &target).await;
    if let Err(error) = context.ports.locks().release(key, &owner).await {
        tracing::warn!(%error, service = %key, "the revert's lock could not be released; it expires by itself");
    }
    moved?;
    let channel = Some(approver.channel.as_str());
    Ok(reverted(context, key, &promoted.execution, target, &by, channel).await)
}

/// Reverts a release that bakes after its promotion (`lock`, still held by
/// the promoting execution), on behalf of a guard (`by`: the alarm): no
/// policy (the deployment chose its guards), the bake's lock let go after.
pub async fn revert_bake(
    context: &Context,
    lock: &HeldLock,
    by: &str,
) -> Result<Reverted, FunctionError> {
    let key = lock.key.as_str();
    let events = context.ports.history().list(key, 200).await?;
    let (promoted, target) = last_promotion(key, &events)?;
    if promoted.execution != lock.owner {
        return Err(RevertRefused::NothingToRevert {
            service: key.to_string(),
            why: format!("the baking execution {} made no promotion", lock.owner),
        }
        .into());
    }
    let request = promoted_request(key, &events, &promoted.execution)?;
    ending_the_bake(context, lock, &request, target, (by, None)).await
}

/// The revert under the bake's lock (held by the promoting execution),
/// which it lets go after: the bake is over.
async fn ending_the_bake(
    context: &Context,
    lock: &HeldLock,
    request: &DeploymentRequest,
    target: RevertTarget,
    (by, channel): (&str, Option<&str>),
) -> Result<Reverted, FunctionError> {
    revert_held(context, request, &target).await?;
    context
        .ports
        .locks()
        .release(&lock.key, &lock.owner)
        .await?;
    Ok(reverted(context, &lock.key, &lock.owner, target, by, channel).await)
}

/// The request of the execution that promoted (its history's start).
fn promoted_request(
    key: &str,
    events: &[HistoryEvent],
    execution: &str,
) -> Result<DeploymentRequest, RevertRefused> {
    events
        .iter()
        .filter(|e| e.kind == HistoryKind::Started && e.execution == execution)
        .find_map(|e| DeploymentRequest::from_json(e.detail.get("input")?).ok())
        .ok_or_else(|| RevertRefused::NothingToRevert {
            service: key.to_string(),
            why: "the promoted deployment's request is not in its history".into(),
        })
}

/// A revert done: recorded, told, answered.
async fn reverted(
    context: &Context,
    key: &str,
    promotion: &str,
    target: RevertTarget,
    by: &str,
    channel: Option<&str>,
) -> Reverted {
    context
        .record(HistoryEvent::reverted(
            key.to_string(),
            promotion,
            context.now_millis(),
            by,
            channel,
            &target,
        ))
        .await;
    let notice = Notice::reverted(key, &target, by, promotion);
    let channels = send_notice(context, &notice).await;
    tracing::info!(service = %key, colour = %target.colour, "promotion reverted");
    Reverted {
        service: key.to_string(),
        promotion: promotion.to_string(),
        target,
        by: by.to_string(),
        channels: channels.into_iter().map(str::to_string).collect(),
    }
}

/// With the lock held: checks the service against the promotion, moves
/// all traffic (read back), tags the colour stable and points the tester
/// rules at it. A failure after the traffic moved puts it back, so that a
/// refused or failed revert leaves the service as the promotion left it.
async fn revert_held(
    context: &Context,
    request: &DeploymentRequest,
    target: &RevertTarget,
) -> Result<(), FunctionError> {
    let ServiceRoutes {
        routing,
        weighted_rule,
        tester_rules,
    } = read_routes(context, request).await?;
    let (rule, task_set) = tokio::join!(
        context.ports.rules().rule(&weighted_rule),
        context
            .ports
            .ecs()
            .task_set(&request.cluster, &request.service, &target.task_set),
    );
    let (rule, task_set) = (rule?, task_set?);
    check_revert(
        target,
        &RevertReading {
            stable: routing.stable,
            split: routing.split_of(&rule.forward_targets())?,
            task_set: task_set.as_ref(),
            target_group: &routing.candidate_target_group,
        },
    )?;
    move_all(
        context,
        &routing,
        &weighted_rule,
        TrafficSplit::all_candidate(),
    )
    .await?;
    let settled = async {
        context
            .ports
            .ecs()
            .tag_stable(&request.cluster, &request.service, target.colour)
            .await?;
        point_rules_at(context, &routing, &tester_rules, target.colour).await
    };
    if let Err(error) = settled.await {
        tracing::warn!(%error, service = %request.service, "the revert could not finish; traffic goes back as the promotion left it");
        let _ = context
            .ports
            .ecs()
            .tag_stable(&request.cluster, &request.service, routing.stable)
            .await;
        move_all(
            context,
            &routing,
            &weighted_rule,
            TrafficSplit::all_stable(),
        )
        .await?;
        return Err(error);
    }
    Ok(())
}

/// Sets `split` on the weighted rule and reads it back (a few times: a
/// change may show a moment late).
async fn move_all(
    context: &Context,
    routing: &Routing,
    rule_arn: &str,
    split: TrafficSplit,
) -> Result<(), FunctionError> {
    let rules = &context.ports.rules();
    let rule = rules.rule(rule_arn).await?;
    let targets = routing.targets_with_split(&rule.forward_targets(), split);
    let mut after = rules.set_forward_targets(&rule, &targets).await?;
    for attempt in 0..READ_BACKS {
        let actual = routing.split_of(&after.forward_targets())?;
        if actual.same_share(&split) {
            return Ok(());
        }
        if attempt + 1 == READ_BACKS {
            return Err(FunctionError::WeightNotApplied {
                expected: split,
                actual,
            });
        }
        tokio::time::sleep(READ_BACK_PAUSE).await;
        after = rules.rule(rule_arn).await?;
    }
    Ok(())
}
