//! The deployment handed from state to state, and the pure decisions the
//! functions make about it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{
    Colour, DeploymentRequest, ErrorName, ForwardTarget, SplitError, TaskSet, TrafficSplit,
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
    /// Index in `request.steps` of the step last applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
}

impl Deployment {
    /// The forward targets that apply `split` to this deployment's target groups.
    pub fn forward_targets(&self, split: TrafficSplit) -> [ForwardTarget; 2] {
        split.forward_targets(&self.stable_target_group, &self.candidate_target_group)
    }

    /// Reads a split back from a rule's targets, relative to this deployment.
    pub fn split_of(&self, targets: &[ForwardTarget]) -> Result<TrafficSplit, SplitError> {
        TrafficSplit::from_forward_targets(
            targets,
            &self.stable_target_group,
            &self.candidate_target_group,
        )
    }

    /// The key of the per-service lock.
    pub fn lock_key(&self) -> String {
        lock_key(&self.request.cluster, &self.request.service)
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
    fn error_type(&self) -> &'static str {
        match self {
            ResolveError::DriftDetected { .. } | ResolveError::RuleDrift(_) => "DriftDetected",
            ResolveError::StableTaskSetMissing { .. } => "StableTaskSetMissing",
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

/// When a lock taken at `now` (seconds since the epoch) expires: after every
/// approval could have timed out, plus a margin, so an abandoned deployment
/// does not block the service for ever.
pub fn lock_expiry(now: u64, request: &DeploymentRequest) -> u64 {
    let approvals = request.steps.len() as u64 + 1;
    now.saturating_add(request.approval_timeout_seconds.saturating_mul(approvals))
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
        fn the_lock_outlives_every_approval(now in 0u64..4_000_000_000, timeout in 1u64..=31_536_000, steps in 1usize..10) {
            let steps: Vec<i64> = (1..=steps as i64).collect();
            let request = DeploymentRequest::from_json(&json!({
                "cluster": "c", "service": "s", "stack": "st", "image": "i:1",
                "steps": steps, "approvalTimeoutSeconds": timeout
            })).unwrap();
            let expiry = lock_expiry(now, &request);
            prop_assert!(expiry >= now + timeout * (request.steps.len() as u64 + 1));
        }
    }
}
