//! The plan: the candidate's percentages step by step, then promotion.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ErrorKind, ErrorName, TrafficSplit};

/// The candidate percentages used when a request names no steps.
pub const DEFAULT_STEPS: [u8; 3] = [10, 25, 50];

/// The traffic steps of a canary: candidate percentages, strictly increasing,
/// each 1–99. Promotion (100 %) follows the last approved step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<i64>", into = "Vec<u8>")]
pub struct StepPlan(Vec<u8>);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StepPlanError {
    #[error("steps must name at least one percentage")]
    Empty,
    #[error("step {index} is {value}; each step must be a candidate percentage from 1 to 99")]
    OutOfRange { index: usize, value: i64 },
    #[error("step {index} ({value}) does not exceed the step before it ({previous}); steps must strictly increase")]
    NotIncreasing {
        index: usize,
        value: i64,
        previous: i64,
    },
}

impl ErrorName for StepPlanError {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::InvalidSteps
    }
}

impl StepPlan {
    pub fn new(steps: Vec<i64>) -> Result<StepPlan, StepPlanError> {
        if steps.is_empty() {
            return Err(StepPlanError::Empty);
        }
        let mut percentages = Vec::with_capacity(steps.len());
        for (index, &value) in steps.iter().enumerate() {
            let percent = u8::try_from(value)
                .ok()
                .filter(|p| (1..=99).contains(p))
                .ok_or(StepPlanError::OutOfRange { index, value })?;
            if let Some(&previous) = percentages.last() {
                if percent <= previous {
                    return Err(StepPlanError::NotIncreasing {
                        index,
                        value,
                        previous: previous.into(),
                    });
                }
            }
            percentages.push(percent);
        }
        Ok(StepPlan(percentages))
    }

    pub fn percentages(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The split of step `index` (0-based), if there is such a step.
    pub fn split(&self, index: usize) -> Option<TrafficSplit> {
        self.0
            .get(index)
            .and_then(|&p| TrafficSplit::candidate_percent(p.into()).ok())
    }

    /// The split of every step, in order.
    pub fn splits(&self) -> Vec<TrafficSplit> {
        (0..self.len()).filter_map(|i| self.split(i)).collect()
    }
}

impl Default for StepPlan {
    fn default() -> Self {
        StepPlan(DEFAULT_STEPS.to_vec())
    }
}

impl TryFrom<Vec<i64>> for StepPlan {
    type Error = StepPlanError;
    fn try_from(steps: Vec<i64>) -> Result<Self, Self::Error> {
        StepPlan::new(steps)
    }
}

impl From<StepPlan> for Vec<u8> {
    fn from(plan: StepPlan) -> Self {
        plan.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_plan_is_10_25_50() {
        let plan = StepPlan::default();
        assert_eq!(plan.percentages(), &[10, 25, 50]);
        assert_eq!(
            plan.splits(),
            vec![
                TrafficSplit::new(90, 10).unwrap(),
                TrafficSplit::new(75, 25).unwrap(),
                TrafficSplit::new(50, 50).unwrap()
            ]
        );
        assert_eq!(plan.split(3), None);
    }

    #[test]
    fn each_defect_is_named() {
        assert_eq!(StepPlan::new(vec![]), Err(StepPlanError::Empty));
        assert_eq!(
            StepPlan::new(vec![10, 0]),
            Err(StepPlanError::OutOfRange { index: 1, value: 0 })
        );
        assert_eq!(
            StepPlan::new(vec![100]),
            Err(StepPlanError::OutOfRange {
                index: 0,
                value: 100
            })
        );
        assert_eq!(
            StepPlan::new(vec![-5]),
            Err(StepPlanError::OutOfRange {
                index: 0,
                value: -5
            })
        );
        assert_eq!(
            StepPlan::new(vec![10, 50, 50]),
            Err(StepPlanError::NotIncreasing {
                index: 2,
                value: 50,
                previous: 50
            })
        );
        assert_eq!(
            StepPlan::new(vec![50, 10]).unwrap_err().error_type(),
            "InvalidSteps"
        );
    }

    #[test]
    fn serde_validates() {
        let plan: StepPlan = serde_json::from_str("[10, 50]").unwrap();
        assert_eq!(plan.percentages(), &[10, 50]);
        assert!(serde_json::from_str::<StepPlan>("[50, 10]").is_err());
        assert_eq!(serde_json::to_string(&plan).unwrap(), "[10,50]");
    }

    proptest! {
        #[test]
        fn accepted_plans_are_strictly_increasing_within_1_to_99(steps in proptest::collection::vec(-10i64..120, 0..8)) {
            match StepPlan::new(steps.clone()) {
                Ok(plan) => {
                    let p = plan.percentages();
                    prop_assert!(!p.is_empty());
                    prop_assert!(p.iter().all(|&x| (1..=99).contains(&x)));
                    prop_assert!(p.windows(2).all(|w| w[0] < w[1]));
                    prop_assert_eq!(p.iter().map(|&x| i64::from(x)).collect::<Vec<_>>(), steps);
                    // Every step leaves some traffic on each side, and the candidate's share grows.
                    let splits = plan.splits();
                    prop_assert_eq!(splits.len(), p.len());
                    prop_assert!(splits.iter().all(|s| !s.is_all_stable() && !s.is_all_candidate()));
                    prop_assert!(splits.windows(2).all(|w| w[0].candidate_share() < w[1].candidate_share()));
                }
                Err(_) => prop_assert!(
                    steps.is_empty()
                        || steps.iter().any(|x| !(1..=99).contains(x))
                        || steps.windows(2).any(|w| w[0] >= w[1])
                ),
            }
        }

        #[test]
        fn any_strictly_increasing_set_is_accepted(set in proptest::collection::btree_set(1i64..=99, 1..10)) {
            let steps: Vec<i64> = set.into_iter().collect();
            prop_assert!(StepPlan::new(steps).is_ok());
        }
    }
}
