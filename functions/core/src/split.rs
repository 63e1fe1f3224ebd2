//! A traffic split between the stable and the candidate colour, as the
//! weighted rule's forward targets hold it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ErrorKind, ErrorName};

/// The largest weight an Application Load Balancer accepts for a target group.
pub const MAX_WEIGHT: i64 = 999;

/// How a weighted listener rule shares traffic between the stable and the
/// candidate target group. Always a valid ALB forward configuration: both
/// weights in `0..=999`, not both zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSplit", into = "RawSplit")]
pub struct TrafficSplit {
    stable: u16,
    candidate: u16,
}

#[derive(Serialize, Deserialize)]
struct RawSplit {
    stable: i64,
    candidate: i64,
}

impl TryFrom<RawSplit> for TrafficSplit {
    type Error = SplitError;
    fn try_from(raw: RawSplit) -> Result<Self, Self::Error> {
        TrafficSplit::new(raw.stable, raw.candidate)
    }
}

impl From<TrafficSplit> for RawSplit {
    fn from(split: TrafficSplit) -> Self {
        RawSplit {
            stable: split.stable.into(),
            candidate: split.candidate.into(),
        }
    }
}

/// One target group of a `forward` action, as the load balancer reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardTarget {
    pub target_group_arn: String,
    pub weight: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SplitError {
    #[error("weight {0} is outside 0..={MAX_WEIGHT}")]
    WeightOutOfRange(i64),
    #[error("stable and candidate weights are both zero: no target group would receive traffic")]
    AllZero,
    #[error("a step must send 0 to 100 percent to the candidate, not {0}")]
    PercentOutOfRange(i64),
    #[error("the rule does not forward to target group {0}")]
    TargetGroupMissing(String),
    #[error("the rule forwards to target group {0}, which is neither the blue nor the green one")]
    UnexpectedTargetGroup(String),
}

impl ErrorName for SplitError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            SplitError::WeightOutOfRange(_)
            | SplitError::AllZero
            | SplitError::PercentOutOfRange(_) => ErrorKind::InvalidTrafficSplit,
            SplitError::TargetGroupMissing(_) | SplitError::UnexpectedTargetGroup(_) => {
                ErrorKind::UnexpectedForwardTargets
            }
        }
    }
}

fn weight(value: i64) -> Result<u16, SplitError> {
    if (0..=MAX_WEIGHT).contains(&value) {
        // In range 0..=999, so the conversion cannot fail.
        u16::try_from(value).map_err(|_| SplitError::WeightOutOfRange(value))
    } else {
        Err(SplitError::WeightOutOfRange(value))
    }
}

impl TrafficSplit {
    /// A split from raw weights, validated as the ALB requires.
    pub fn new(stable: i64, candidate: i64) -> Result<TrafficSplit, SplitError> {
        let split = TrafficSplit {
            stable: weight(stable)?,
            candidate: weight(candidate)?,
        };
        if split.stable == 0 && split.candidate == 0 {
            return Err(SplitError::AllZero);
        }
        Ok(split)
    }

    /// `percent` of the traffic to the candidate, the rest to stable
    /// (weights out of 100).
    pub fn candidate_percent(percent: i64) -> Result<TrafficSplit, SplitError> {
        if !(0..=100).contains(&percent) {
            return Err(SplitError::PercentOutOfRange(percent));
        }
        TrafficSplit::new(100 - percent, percent)
    }

    /// Everything to the stable colour: before a deployment and after a rollback.
    pub fn all_stable() -> TrafficSplit {
        TrafficSplit {
            stable: 100,
            candidate: 0,
        }
    }

    /// Everything to the candidate: a promotion.
    pub fn all_candidate() -> TrafficSplit {
        TrafficSplit {
            stable: 0,
            candidate: 100,
        }
    }

    /// Whether two splits send the same share of traffic to each colour
    /// (100/0 and 1/0 do).
    pub fn same_share(&self, other: &TrafficSplit) -> bool {
        u32::from(self.stable) * u32::from(other.candidate)
            == u32::from(self.candidate) * u32::from(other.stable)
    }

    pub fn stable_weight(&self) -> u16 {
        self.stable
    }

    pub fn candidate_weight(&self) -> u16 {
        self.candidate
    }

    /// The candidate's share of traffic, 0.0 to 100.0.
    pub fn candidate_share(&self) -> f64 {
        f64::from(self.candidate) * 100.0 / f64::from(self.stable + self.candidate)
    }

    /// The same weights with the roles swapped: the split as seen from the
    /// other colour being stable.
    pub fn reversed(&self) -> TrafficSplit {
        TrafficSplit {
            stable: self.candidate,
            candidate: self.stable,
        }
    }

    pub fn is_all_stable(&self) -> bool {
        self.candidate == 0
    }

    pub fn is_all_candidate(&self) -> bool {
        self.stable == 0
    }

    /// The `forward` targets that apply this split, stable first.
    pub fn forward_targets(
        &self,
        stable_target_group: &str,
        candidate_target_group: &str,
    ) -> [ForwardTarget; 2] {
        [
            ForwardTarget {
                target_group_arn: stable_target_group.to_string(),
                weight: self.stable.into(),
            },
            ForwardTarget {
                target_group_arn: candidate_target_group.to_string(),
                weight: self.candidate.into(),
            },
        ]
    }

    /// Reads a split back from a rule's `forward` targets. The rule must
    /// forward to exactly the two given target groups (in any order).
    pub fn from_forward_targets(
        targets: &[ForwardTarget],
        stable_target_group: &str,
        candidate_target_group: &str,
    ) -> Result<TrafficSplit, SplitError> {
        if let Some(other) = targets.iter().find(|t| {
            t.target_group_arn != stable_target_group
                && t.target_group_arn != candidate_target_group
        }) {
            return Err(SplitError::UnexpectedTargetGroup(
                other.target_group_arn.clone(),
            ));
        }
        let weight_of = |arn: &str| -> Result<i64, SplitError> {
            let mut matching = targets.iter().filter(|t| t.target_group_arn == arn);
            match (matching.next(), matching.next()) {
                (Some(target), None) => Ok(target.weight),
                (Some(_), Some(_)) => Err(SplitError::UnexpectedTargetGroup(arn.to_string())),
                (None, _) => Err(SplitError::TargetGroupMissing(arn.to_string())),
            }
        };
        TrafficSplit::new(
            weight_of(stable_target_group)?,
            weight_of(candidate_target_group)?,
        )
    }
}

impl std::fmt::Display for TrafficSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stable {} / candidate {}", self.stable, self.candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1";
    const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2";

    #[test]
    fn invalid_weights_are_named() {
        assert_eq!(
            TrafficSplit::new(-1, 100),
            Err(SplitError::WeightOutOfRange(-1))
        );
        assert_eq!(
            TrafficSplit::new(100, 1000),
            Err(SplitError::WeightOutOfRange(1000))
        );
        assert_eq!(TrafficSplit::new(0, 0), Err(SplitError::AllZero));
        assert_eq!(
            TrafficSplit::new(0, 0).unwrap_err().error_type(),
            "InvalidTrafficSplit"
        );
        assert_eq!(
            TrafficSplit::candidate_percent(101),
            Err(SplitError::PercentOutOfRange(101))
        );
    }

    #[test]
    fn reading_back_needs_exactly_the_two_colours() {
        let split = TrafficSplit::candidate_percent(10).unwrap();
        let targets = split.forward_targets(BLUE, GREEN);
        assert_eq!(
            TrafficSplit::from_forward_targets(&targets, BLUE, GREEN),
            Ok(split)
        );
        // Reversed roles read the weights the other way round.
        assert_eq!(
            TrafficSplit::from_forward_targets(&targets, GREEN, BLUE),
            Ok(TrafficSplit::new(10, 90).unwrap())
        );
        let only_blue = [targets[0].clone()];
        assert_eq!(
            TrafficSplit::from_forward_targets(&only_blue, BLUE, GREEN),
            Err(SplitError::TargetGroupMissing(GREEN.into()))
        );
        let mut stranger = targets.to_vec();
        stranger.push(ForwardTarget {
            target_group_arn: "arn:other".into(),
            weight: 1,
        });
        let err = TrafficSplit::from_forward_targets(&stranger, BLUE, GREEN).unwrap_err();
        assert_eq!(err.error_type(), "UnexpectedForwardTargets");
    }

    #[test]
    fn serde_rejects_invalid_splits() {
        let ok: TrafficSplit = serde_json::from_str(r#"{"stable":90,"candidate":10}"#).unwrap();
        assert_eq!(ok, TrafficSplit::candidate_percent(10).unwrap());
        assert!(serde_json::from_str::<TrafficSplit>(r#"{"stable":0,"candidate":0}"#).is_err());
        assert!(serde_json::from_str::<TrafficSplit>(r#"{"stable":1000,"candidate":0}"#).is_err());
    }

    proptest! {
        #[test]
        fn every_accepted_split_is_a_valid_alb_forward_config(stable in -2000i64..2000, candidate in -2000i64..2000) {
            match TrafficSplit::new(stable, candidate) {
                Ok(split) => {
                    let targets = split.forward_targets(BLUE, GREEN);
                    prop_assert!(targets.iter().all(|t| (0..=MAX_WEIGHT).contains(&t.weight)));
                    prop_assert!(targets.iter().any(|t| t.weight > 0));
                    prop_assert_eq!(targets[0].weight, stable);
                    prop_assert_eq!(targets[1].weight, candidate);
                    prop_assert_eq!(TrafficSplit::from_forward_targets(&targets, BLUE, GREEN), Ok(split));
                }
                Err(_) => prop_assert!(
                    !(0..=MAX_WEIGHT).contains(&stable) || !(0..=MAX_WEIGHT).contains(&candidate) || (stable == 0 && candidate == 0)
                ),
            }
        }

        #[test]
        fn percent_splits_sum_to_100_and_give_the_candidate_its_share(percent in 0i64..=100) {
            let split = TrafficSplit::candidate_percent(percent).unwrap();
            prop_assert_eq!(i64::from(split.stable_weight()) + i64::from(split.candidate_weight()), 100);
            prop_assert!((split.candidate_share() - percent as f64).abs() < 1e-9);
            prop_assert_eq!(split.is_all_stable(), percent == 0);
            prop_assert_eq!(split.is_all_candidate(), percent == 100);
        }
    }
}
