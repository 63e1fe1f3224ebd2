//! The deployment handed from state to state, and the pure decisions the
//! functions make about it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{
    ChartMark, Colour, DeploymentRequest, ErrorKind, ErrorName, ForwardTarget, ReleaseChange,
    SplitError, TaskSet, TrafficQuery, TrafficSplit,
};

/// Extra time a deployment lock outlives its last possible approval.
const LOCK_MARGIN_SECONDS: u64 = 3_600;

/// What resolve-stable found and every later state works from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub request: DeploymentRequest,
    /// Who holds the service's lock: the Step Functions execution.
    pub owner: String,
    pub stable: Colour,
    pub candidate: Colour,
    pub stable_task_set: TaskSet,
    /// Absent until the stack has a task set for the candidate colour.
    pub candidate_task_set: Option<TaskSet>,
    pub stable_target_group: String,
    pub candidate_target_group: String,
    /// ARN of the weighted listener rule.
    pub weighted_rule: String,
    /// ARNs of tester rules (forwarding to one colour only).
    #[serde(default)]
    pub tester_rules: Vec<String>,
    /// The split last applied and read back.
    pub split: TrafficSplit,
    /// Whether this deployment's stack update changed the stack (`false`:
    /// the rendered template was already in place); absent before it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_changed: Option<bool>,
    /// What the release changes relative to the stable task set's live task
    /// definition (what approvers are shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseChange>,
    /// Index in `request.steps` of the step last applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// When the rollout began (epoch seconds; resolve-stable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// When each step was first applied (epoch seconds, by step index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_at: Vec<u64>,
    /// A person approves the plan and the release before anything runs
    /// (policy `approveBeforeStart`). Always present: the state machine's
    /// choice reads it.
    #[serde(default)]
    pub gate_before_start: bool,
    /// How many times a person sent the rollout back a step: each time its
    /// steps are asked again with new links.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub round: u32,
}

fn is_zero(round: &u32) -> bool {
    *round == 0
}

impl Deployment {
    /// The key of the per-service lock.
    pub fn lock_key(&self) -> String {
        lock_key(&self.request.cluster, &self.request.service)
    }

    /// The ClientRequestToken of this deployment's stack update: the same for
    /// every retry of it, another for every other execution (CloudFormation
    /// allows `[a-zA-Z][-a-zA-Z0-9]*`, at most 128 characters).
    pub fn stack_update_token(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.owner.as_bytes());
        let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        format!("ecs-canary-{hex}")
    }

    /// Records that `step` was applied at `now`; a retried step keeps the
    /// time it was first applied.
    pub fn record_applied(&mut self, step: usize, now: u64) {
        if self.applied_at.len() != step + 1 {
            self.applied_at.truncate(step);
            self.applied_at.push(now);
        }
    }

    /// The window of `step`: from when it was applied until the next step
    /// was (or `now`); `None` before it was applied.
    pub fn step_window(&self, step: usize, now: u64) -> Option<(u64, u64)> {
        let since = *self.applied_at.get(step)?;
        let until = self.applied_at.get(step + 1).copied().unwrap_or(now);
        Some((since, until.max(since)))
    }

    /// What to read from CloudWatch for this deployment's target groups
    /// from `since` to `until`.
    pub fn traffic_query(&self, since: u64, until: u64) -> Option<TrafficQuery> {
        TrafficQuery::new(
            &self.weighted_rule,
            &self.candidate_target_group,
            &self.stable_target_group,
            since,
            until,
        )
    }

    /// The step changes to mark on the evidence chart.
    pub fn chart_marks(&self) -> Vec<ChartMark> {
        let percentages = self.request.steps.percentages();
        self.applied_at
            .iter()
            .enumerate()
            .map(|(step, at)| ChartMark {
                at: *at,
                label: format!(
                    "step {}: {} %",
                    step + 1,
                    percentages.get(step).copied().unwrap_or_default()
                ),
            })
            .collect()
    }

    /// The step to apply next: the one after the last applied, or the first.
    pub fn next_step(&self) -> usize {
        self.step.map_or(0, |last| last + 1)
    }

    /// Whether `step` is the plan's last: promotion follows its approval.
    pub fn is_last_step(&self, step: usize) -> bool {
        step + 1 == self.request.steps.len()
    }

    /// The candidate percentage after `step`'s approval; `None`: promotion.
    pub fn percent_after(&self, step: usize) -> Option<u8> {
        self.request.steps.percentages().get(step + 1).copied()
    }

    /// The two colours and their target groups.
    pub fn routing(&self) -> Routing {
        Routing {
            stable: self.stable,
            candidate: self.candidate,
            stable_target_group: self.stable_target_group.clone(),
            candidate_target_group: self.candidate_target_group.clone(),
        }
    }

    /// See [`Routing::forward_targets`].
    pub fn forward_targets(&self, split: TrafficSplit) -> [ForwardTarget; 2] {
        self.routing().forward_targets(split)
    }

    /// See [`Routing::split_of`].
    pub fn split_of(&self, targets: &[ForwardTarget]) -> Result<TrafficSplit, SplitError> {
        self.routing().split_of(targets)
    }

    /// See [`Routing::targets_with_split`].
    pub fn targets_with_split(
        &self,
        current: &[ForwardTarget],
        split: TrafficSplit,
    ) -> Vec<ForwardTarget> {
        self.routing().targets_with_split(current, split)
    }

    /// See [`Routing::tester_targets_towards`].
    pub fn tester_targets_towards(
        &self,
        current: &[ForwardTarget],
        colour: Colour,
    ) -> Vec<ForwardTarget> {
        self.routing().tester_targets_towards(current, colour)
    }
}

/// Which colour is stable, and the two colours' target groups: all it takes
/// to read and move the weighted rule and the tester rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub stable: Colour,
    pub candidate: Colour,
    pub stable_target_group: String,
    pub candidate_target_group: String,
}

impl Routing {
    /// The forward targets that apply `split` to the two target groups.
    pub fn forward_targets(&self, split: TrafficSplit) -> [ForwardTarget; 2] {
        split.forward_targets(&self.stable_target_group, &self.candidate_target_group)
    }

    /// Reads a split back from a rule's targets, relative to the stable colour.
    pub fn split_of(&self, targets: &[ForwardTarget]) -> Result<TrafficSplit, SplitError> {
        TrafficSplit::from_forward_targets(
            targets,
            &self.stable_target_group,
            &self.candidate_target_group,
        )
    }

    /// The weighted rule's targets with `split` applied: the stable and the
    /// candidate target group get their weights, every other entry and the
    /// order stay as they are (a missing colour is added at the end).
    pub fn targets_with_split(
        &self,
        current: &[ForwardTarget],
        split: TrafficSplit,
    ) -> Vec<ForwardTarget> {
        let wanted = self.forward_targets(split);
        let mut targets: Vec<ForwardTarget> = current
            .iter()
            .map(|t| {
                wanted
                    .iter()
                    .find(|w| w.target_group_arn == t.target_group_arn)
                    .cloned()
                    .unwrap_or_else(|| t.clone())
            })
            .collect();
        for w in wanted {
            if !targets
                .iter()
                .any(|t| t.target_group_arn == w.target_group_arn)
            {
                targets.push(w);
            }
        }
        targets
    }

    /// A tester rule's targets pointed at `colour`'s target group: whichever
    /// colour it forwarded to is replaced; anything else is kept.
    pub fn tester_targets_towards(
        &self,
        current: &[ForwardTarget],
        colour: Colour,
    ) -> Vec<ForwardTarget> {
        let to = self.target_group_of(colour);
        let mut targets: Vec<ForwardTarget> = Vec::new();
        for t in current {
            let colour_group = t.target_group_arn == self.stable_target_group
                || t.target_group_arn == self.candidate_target_group;
            let target = if colour_group {
                ForwardTarget {
                    target_group_arn: to.to_string(),
                    weight: t.weight,
                }
            } else {
                t.clone()
            };
            if !targets
                .iter()
                .any(|k| k.target_group_arn == target.target_group_arn)
            {
                targets.push(target);
            }
        }
        targets
    }

    /// The target group of a colour.
    pub fn target_group_of(&self, colour: Colour) -> &str {
        if colour == self.stable {
            &self.stable_target_group
        } else {
            &self.candidate_target_group
        }
    }
}

/// The error name of a deployment stopped because a person changed the
/// weighted rule by hand.
pub const SPLIT_CHANGED_BY_HAND: &str = ErrorKind::SplitChangedByHand.as_str();

/// The error name of a deployment that no longer holds its service's lock
/// (a person released it, or it expired and another deployment took it).
pub const LOCK_LOST: &str = ErrorKind::LockLost.as_str();

/// Whether a rollback for this error puts the weighted rule back to 100 %
/// stable: always, unless a person has taken the rule over by hand or the
/// deployment no longer holds the service (someone else is in charge).
pub fn rollback_restores_split(error: &str) -> bool {
    error != SPLIT_CHANGED_BY_HAND && error != LOCK_LOST
}

/// Whether an execution may act on its service's traffic: while it holds the
/// lock — or, with the lock free, when the split it asks for is already in
/// place (a promote or rollback repeated after it released the lock).
/// Otherwise someone released the lock (or another deployment took it).
pub fn may_move_traffic(holder: Option<&str>, owner: &str, change: SplitChange) -> bool {
    match holder {
        Some(holder) => holder == owner,
        None => change == SplitChange::AlreadyApplied,
    }
}

/// What to do with the weighted rule before moving it to a new split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitChange {
    /// The rule holds what this execution last set: apply the new split.
    Apply,
    /// The rule already holds the new split (a retried step): nothing to write.
    AlreadyApplied,
    /// The rule holds neither: a person changed it. Leave it alone.
    ChangedByHand,
}

impl SplitChange {
    /// Compares the live split with the split this execution last set and
    /// the one it is about to set.
    pub fn decide(last_set: TrafficSplit, target: TrafficSplit, live: TrafficSplit) -> SplitChange {
        if live.same_share(&target) {
            SplitChange::AlreadyApplied
        } else if live.same_share(&last_set) {
            SplitChange::Apply
        } else {
            SplitChange::ChangedByHand
        }
    }
}

/// Why a deployment may not start. Nothing is changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    #[error("live traffic is not 100/0 towards the stable colour {stable}: the rule says {split}; fix the rule (or the StableStack tag) before deploying")]
    DriftDetected { stable: Colour, split: TrafficSplit },
    #[error("the rule does not forward to the two colours' target groups ({0}); fix the rule before deploying")]
    RuleDrift(SplitError),
    #[error("the StableStack tag names {colour}, but its task set {id:?} does not exist")]
    StableTaskSetMissing { colour: Colour, id: String },
}

impl ErrorName for ResolveError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            ResolveError::DriftDetected { .. } | ResolveError::RuleDrift(_) => {
                ErrorKind::DriftDetected
            }
            ResolveError::StableTaskSetMissing { .. } => ErrorKind::StableTaskSetMissing,
        }
    }
}

/// The live split, which must send everything to the stable colour.
pub fn require_all_stable(
    stable: Colour,
    targets: &[ForwardTarget],
    stable_target_group: &str,
    candidate_target_group: &str,
) -> Result<TrafficSplit, ResolveError> {
    let split =
        TrafficSplit::from_forward_targets(targets, stable_target_group, candidate_target_group)
            .map_err(ResolveError::RuleDrift)?;
    if split.is_all_stable() {
        Ok(split)
    } else {
        Err(ResolveError::DriftDetected { stable, split })
    }
}

/// The per-service lock key: cluster and service names, whether given as
/// names or ARNs, so that both spellings take the same lock.
pub fn lock_key(cluster: &str, service: &str) -> String {
    let name = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    format!("{}/{}", name(cluster), name(service))
}

/// When a lock taken at `now` (seconds since the epoch) expires: after the
/// longest wait for the candidate to become ready (`ready_wait_seconds`) and
/// every approval could have timed out, plus a margin, so an abandoned
/// deployment does not block the service for ever.
pub fn lock_expiry(now: u64, request: &DeploymentRequest, ready_wait_seconds: u64) -> u64 {
    let approvals = request.steps.len() as u64 + 1;
    now.saturating_add(ready_wait_seconds)
        .saturating_add(request.approval_timeout_seconds.saturating_mul(approvals))
        .saturating_add(LOCK_MARGIN_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const BLUE: &str = "arn:tg/blue";
    const GREEN: &str = "arn:tg/green";

    fn targets(blue: i64, green: i64) -> Vec<ForwardTarget> {
        vec![
            ForwardTarget {
                target_group_arn: GREEN.into(),
                weight: green,
            },
            ForwardTarget {
                target_group_arn: BLUE.into(),
                weight: blue,
            },
        ]
    }

    #[test]
    fn only_all_to_stable_may_start() {
        assert_eq!(
            require_all_stable(Colour::Blue, &targets(100, 0), BLUE, GREEN),
            Ok(TrafficSplit::all_stable())
        );
        let drift = require_all_stable(Colour::Blue, &targets(70, 30), BLUE, GREEN).unwrap_err();
        assert_eq!(drift.error_type(), "DriftDetected");
        assert!(
            drift.to_string().contains("stable 70 / candidate 30"),
            "{drift}"
        );
        // After a promotion done by hand without the tag: Green has it all.
        let err = require_all_stable(Colour::Blue, &targets(0, 100), BLUE, GREEN).unwrap_err();
        assert_eq!(err.error_type(), "DriftDetected");
        // Weights other than 100 still count when the candidate gets none.
        assert!(require_all_stable(Colour::Green, &targets(0, 1), GREEN, BLUE).is_ok());
        let stranger = vec![ForwardTarget {
            target_group_arn: "arn:tg/other".into(),
            weight: 1,
        }];
        assert_eq!(
            require_all_stable(Colour::Blue, &stranger, BLUE, GREEN)
                .unwrap_err()
                .error_type(),
            "DriftDetected"
        );
    }

    fn deployment() -> Deployment {
        let request = DeploymentRequest::from_json(&json!({
            "cluster": "c", "service": "s", "stack": "st", "image": "i:1"
        }))
        .unwrap();
        Deployment {
            request,
            owner: "run".into(),
            stable: Colour::Blue,
            candidate: Colour::Green,
            stable_task_set: TaskSet {
                id: "b".into(),
                arn: "arn:b".into(),
                external_id: None,
                task_definition: "td:1".into(),
                status: "ACTIVE".into(),
                stability_status: "STEADY_STATE".into(),
                target_groups: vec![BLUE.into()],
                scale_percent: None,
            },
            candidate_task_set: None,
            stable_target_group: BLUE.into(),
            candidate_target_group: GREEN.into(),
            weighted_rule: "arn:rule".into(),
            tester_rules: vec![],
            split: TrafficSplit::all_stable(),
            stack_changed: None,
            release: None,
            step: None,
            started_at: None,
            applied_at: Vec::new(),
            gate_before_start: false,
            round: 0,
        }
    }

    #[test]
    fn each_step_is_timed_from_when_it_was_first_applied() {
        let mut d = deployment();
        d.request = DeploymentRequest::from_json(&json!({
            "cluster": "c", "service": "s", "stack": "st", "image": "i:1", "steps": [10, 50]
        }))
        .unwrap();
        assert_eq!(d.step_window(0, 100), None);
        d.record_applied(0, 100);
        d.record_applied(0, 130);
        assert_eq!(d.applied_at, [100], "a retried step keeps its first time");
        assert_eq!(d.step_window(0, 160), Some((100, 160)));
        d.record_applied(1, 200);
        assert_eq!(d.step_window(0, 260), Some((100, 200)));
        assert_eq!(d.step_window(1, 260), Some((200, 260)));
        let marks = d.chart_marks();
        assert_eq!(marks.len(), 2);
        assert_eq!(
            (marks[1].at, marks[1].label.as_str()),
            (200, "step 2: 50 %")
        );
        // A step applied again after a later one (a replay) starts over.
        d.record_applied(0, 300);
        assert_eq!(d.applied_at, [300]);
    }

    #[test]
    fn a_stack_update_token_is_stable_per_execution_and_valid() {
        let mut d = deployment();
        let token = d.stack_update_token();
        assert_eq!(token, d.stack_update_token());
        assert!(token.len() <= 128 && token.starts_with("ecs-canary-"));
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        d.owner = "arn:aws:states:us-east-1:1:execution:ecs-canary:other".into();
        assert_ne!(d.stack_update_token(), token);
    }

    #[test]
    fn a_deployment_knows_its_next_and_last_step() {
        let mut d = deployment();
        d.request = DeploymentRequest::from_json(&json!({
            "cluster": "c", "service": "s", "stack": "st", "image": "i:1", "steps": [10, 50]
        }))
        .unwrap();
        assert_eq!(d.next_step(), 0);
        assert!(!d.is_last_step(0));
        assert_eq!(d.percent_after(0), Some(50));
        d.step = Some(0);
        assert_eq!(d.next_step(), 1);
        assert!(d.is_last_step(1));
        assert_eq!(d.percent_after(1), None);
    }

    #[test]
    fn a_split_changes_only_the_two_colours_weights_in_place() {
        let d = deployment();
        let other = ForwardTarget {
            target_group_arn: "arn:tg/other".into(),
            weight: 0,
        };
        let mut current = targets(100, 0);
        current.push(other.clone());
        let split = TrafficSplit::candidate_percent(10).unwrap();
        let after = d.targets_with_split(&current, split);
        assert_eq!(after, {
            let mut t = targets(90, 10);
            t.push(other);
            t
        });
        // A rule that lost a colour gets it back.
        let after = d.targets_with_split(&targets(100, 0)[1..], split);
        assert_eq!(after.len(), 2);
        assert_eq!(d.split_of(&after), Ok(split));
    }

    #[test]
    fn a_tester_rule_is_pointed_at_one_colour() {
        let d = deployment();
        let single = |arn: &str| {
            vec![ForwardTarget {
                target_group_arn: arn.into(),
                weight: 1,
            }]
        };
        assert_eq!(
            d.tester_targets_towards(&single(BLUE), Colour::Green),
            single(GREEN)
        );
        assert_eq!(
            d.tester_targets_towards(&single(GREEN), Colour::Blue),
            single(BLUE)
        );
        assert_eq!(
            d.tester_targets_towards(&single(BLUE), Colour::Blue),
            single(BLUE)
        );
        assert_eq!(
            d.tester_targets_towards(&single("arn:tg/other"), Colour::Green),
            single("arn:tg/other")
        );
    }

    proptest! {
        #[test]
        fn a_person_s_split_is_never_overwritten(last in 0i64..=100, target in 0i64..=100, live in 0i64..=100) {
            let split = |c: i64| TrafficSplit::candidate_percent(c).unwrap_or_else(|_| TrafficSplit::all_candidate());
            let (last, target, live) = (split(last), split(target), split(live));
            let change = SplitChange::decide(last, target, live);
            prop_assert_eq!(change == SplitChange::ChangedByHand, live != last && live != target);
            prop_assert_eq!(change == SplitChange::AlreadyApplied, live == target);
            // The same share in other weights is not a change by hand.
            let scaled = TrafficSplit::new(i64::from(last.stable_weight()) * 3, i64::from(last.candidate_weight()) * 3).unwrap();
            prop_assert_ne!(SplitChange::decide(last, target, scaled), SplitChange::ChangedByHand);
        }
    }

    #[test]
    fn only_the_lock_holder_moves_traffic_but_a_finished_step_may_repeat() {
        use SplitChange::*;
        for change in [Apply, AlreadyApplied, ChangedByHand] {
            assert!(may_move_traffic(Some("run-1"), "run-1", change));
            assert!(!may_move_traffic(Some("run-2"), "run-1", change));
        }
        assert!(may_move_traffic(None, "run-1", AlreadyApplied));
        assert!(!may_move_traffic(None, "run-1", Apply));
        assert!(!may_move_traffic(None, "run-1", ChangedByHand));
    }

    #[test]
    fn only_a_hand_change_keeps_a_rollback_off_the_rule() {
        assert!(!rollback_restores_split(SPLIT_CHANGED_BY_HAND));
        assert!(!rollback_restores_split(LOCK_LOST));
        for error in ["Rejected", "ApprovalTimedOut", "StackUpdateFailed", ""] {
            assert!(rollback_restores_split(error), "{error}");
        }
    }

    #[test]
    fn lock_key_ignores_arn_spelling() {
        assert_eq!(lock_key("mattctest", "myservice"), "mattctest/myservice");
        assert_eq!(
            lock_key(
                "arn:aws:ecs:us-east-1:123456789012:cluster/mattctest",
                "myservice"
            ),
            "mattctest/myservice"
        );
        assert_eq!(
            lock_key(
                "mattctest",
                "arn:aws:ecs:us-east-1:123456789012:service/mattctest/myservice"
            ),
            "mattctest/myservice"
        );
    }

    proptest! {
        #[test]
        fn the_lock_outlives_the_ready_wait_and_every_approval(now in 0u64..4_000_000_000, timeout in 1u64..=31_536_000, steps in 1usize..10, ready in 0u64..100_000) {
            let timeout = timeout.min(crate::max_approval_timeout(steps));
            let steps: Vec<i64> = (1..=steps as i64).collect();
            let request = DeploymentRequest::from_json(&json!({
                "cluster": "c", "service": "s", "stack": "st", "image": "i:1",
                "steps": steps, "approvalTimeoutSeconds": timeout
            })).unwrap();
            let expiry = lock_expiry(now, &request, ready);
            prop_assert!(expiry >= now + ready + timeout * (request.steps.len() as u64 + 1));
        }
    }
}
