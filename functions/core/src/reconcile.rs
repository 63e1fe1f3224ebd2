//! After an execution ends: whether it left its service mid-rollout, and what
//! putting the service back at rest means.

use serde::{Deserialize, Serialize};

use crate::{Colour, TrafficSplit};

/// What the lock records about the traffic its execution moves, written
/// before every change of the weighted rule: whoever reconciles after the
/// execution knows the rule as the execution may have left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitRecord {
    /// The stable colour the splits below are relative to.
    pub stable: Colour,
    /// The split the execution had set and read back.
    pub last_set: TrafficSplit,
    /// The split it was about to set (it may or may not be in place).
    pub intended: TrafficSplit,
}

impl SplitRecord {
    /// The recorded splits, relative to `stable` (the tag may have changed
    /// since: a promote that stopped after tagging).
    pub fn towards(&self, stable: Colour) -> [TrafficSplit; 2] {
        let turn = |split: TrafficSplit| {
            if stable == self.stable {
                split
            } else {
                split.reversed()
            }
        };
        [turn(self.last_set), turn(self.intended)]
    }
}

/// How long the reconciler waits before trying again after an error named
/// `error_type` on its `attempt`-th try (1-based): errors that pass
/// (throttling, no answer, a read-back that lags) are tried again up to
/// [`RECONCILE_ATTEMPTS`] times with a doubling pause; any other is final.
/// Asynchronous invocations get only two more tries from Lambda, so the
/// reconciler does not lean on them.
pub fn reconcile_retry_delay(error_type: &str, attempt: u32) -> Option<std::time::Duration> {
    let passes = matches!(
        error_type,
        "Throttled" | "AwsUnreachable" | "WeightNotApplied"
    );
    (passes && attempt < RECONCILE_ATTEMPTS)
        .then(|| std::time::Duration::from_millis(500 << attempt.saturating_sub(1).min(4)))
}

/// How many times the reconciler tries before a person is needed.
pub const RECONCILE_ATTEMPTS: u32 = 6;

/// How an execution ended, as Step Functions reports it — or, from the state
/// machine itself, a rollback that could not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionEnding {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    /// The Rollback state gave up: a person is needed.
    RollbackFailed,
}

impl ExecutionEnding {
    /// The ending a status names; `None` for `RUNNING` (or anything else).
    pub fn parse(status: &str) -> Option<ExecutionEnding> {
        Some(match status {
            "SUCCEEDED" => ExecutionEnding::Succeeded,
            "FAILED" => ExecutionEnding::Failed,
            "TIMED_OUT" => ExecutionEnding::TimedOut,
            "ABORTED" => ExecutionEnding::Aborted,
            "ROLLBACK_FAILED" => ExecutionEnding::RollbackFailed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionEnding::Succeeded => "SUCCEEDED",
            ExecutionEnding::Failed => "FAILED",
            ExecutionEnding::TimedOut => "TIMED_OUT",
            ExecutionEnding::Aborted => "ABORTED",
            ExecutionEnding::RollbackFailed => "ROLLBACK_FAILED",
        }
    }

    /// In words, for people.
    pub fn describe(self) -> &'static str {
        match self {
            ExecutionEnding::Succeeded => "succeeded",
            ExecutionEnding::Failed => "failed",
            ExecutionEnding::TimedOut => "timed out",
            ExecutionEnding::Aborted => "was stopped (aborted)",
            ExecutionEnding::RollbackFailed => "could not complete its rollback",
        }
    }
}

/// What reconciling an ended execution does to its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reconcile {
    /// The execution does not hold the service's lock: it ended through its
    /// own states (or someone else is in charge). Nothing to restore.
    NotHeld,
    /// The rule holds what the execution set: 100 % back to stable.
    Restore,
    /// The rule already sends everything to stable: only the tester rules,
    /// the lock and the links are left to tidy.
    AlreadyStable,
    /// The rule holds something the execution never set: a person changed
    /// it. It is left exactly as it is.
    LeftByHand,
}

impl Reconcile {
    /// Decides from who holds the lock, what the execution recorded, and the
    /// live split relative to the stable colour the tag names now (`None`:
    /// the rule does not forward to the two colours in a way ecs-canary
    /// reads — not its to touch).
    pub fn decide(
        holder: Option<&str>,
        execution: &str,
        record: Option<&SplitRecord>,
        stable: Colour,
        live: Option<TrafficSplit>,
    ) -> Reconcile {
        if holder != Some(execution) {
            return Reconcile::NotHeld;
        }
        let Some(live) = live else {
            return Reconcile::LeftByHand;
        };
        if live.is_all_stable() {
            return Reconcile::AlreadyStable;
        }
        let set_by_execution = record.is_some_and(|record| {
            record
                .towards(stable)
                .iter()
                .any(|split| split.same_share(&live))
        });
        if set_by_execution {
            Reconcile::Restore
        } else {
            Reconcile::LeftByHand
        }
    }

    /// Whether the weighted rule ends at 100 % stable.
    pub fn restores_split(self) -> bool {
        matches!(self, Reconcile::Restore | Reconcile::AlreadyStable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXECUTION: &str = "arn:aws:states:us-east-1:1:execution:m:x";

    fn split(stable: i64, candidate: i64) -> TrafficSplit {
        TrafficSplit::new(stable, candidate).unwrap()
    }

    fn record(last_set: TrafficSplit, intended: TrafficSplit) -> SplitRecord {
        SplitRecord {
            stable: Colour::Blue,
            last_set,
            intended,
        }
    }

    #[test]
    fn only_errors_that_pass_are_tried_again_with_a_growing_pause() {
        use std::time::Duration;
        assert_eq!(
            reconcile_retry_delay("Throttled", 1),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            reconcile_retry_delay("AwsUnreachable", 2),
            Some(Duration::from_millis(1000))
        );
        assert_eq!(
            reconcile_retry_delay("WeightNotApplied", 5),
            Some(Duration::from_millis(8000))
        );
        assert_eq!(reconcile_retry_delay("Throttled", RECONCILE_ATTEMPTS), None);
        assert_eq!(reconcile_retry_delay("AwsServiceError", 1), None);
        let total: Duration = (1..RECONCILE_ATTEMPTS)
            .filter_map(|a| reconcile_retry_delay("Throttled", a))
            .sum();
        assert!(
            total < Duration::from_secs(30),
            "{total:?} leaves room in a 60-s function"
        );
    }

    #[test]
    fn endings_parse_from_step_functions_statuses() {
        for ending in [
            ExecutionEnding::Succeeded,
            ExecutionEnding::Failed,
            ExecutionEnding::TimedOut,
            ExecutionEnding::Aborted,
            ExecutionEnding::RollbackFailed,
        ] {
            assert_eq!(ExecutionEnding::parse(ending.as_str()), Some(ending));
        }
        assert_eq!(ExecutionEnding::parse("RUNNING"), None);
    }

    #[test]
    fn only_the_lock_holder_is_reconciled() {
        let r = record(split(50, 50), split(0, 100));
        let live = Some(split(50, 50));
        assert_eq!(
            Reconcile::decide(None, EXECUTION, Some(&r), Colour::Blue, live),
            Reconcile::NotHeld
        );
        assert_eq!(
            Reconcile::decide(Some("arn:other"), EXECUTION, Some(&r), Colour::Blue, live),
            Reconcile::NotHeld
        );
        assert_eq!(
            Reconcile::decide(Some(EXECUTION), EXECUTION, Some(&r), Colour::Blue, live),
            Reconcile::Restore
        );
    }

    #[test]
    fn a_split_the_execution_never_set_is_left_to_the_person_who_set_it() {
        let r = record(split(90, 10), split(75, 25));
        let held = Some(EXECUTION);
        assert_eq!(
            Reconcile::decide(held, EXECUTION, Some(&r), Colour::Blue, Some(split(30, 70))),
            Reconcile::LeftByHand
        );
        // The intended split may be in place (the change went through).
        assert_eq!(
            Reconcile::decide(held, EXECUTION, Some(&r), Colour::Blue, Some(split(75, 25))),
            Reconcile::Restore
        );
        // Nothing recorded: nothing was ever moved, so any mix is a person's.
        assert_eq!(
            Reconcile::decide(held, EXECUTION, None, Colour::Blue, Some(split(50, 50))),
            Reconcile::LeftByHand
        );
        assert_eq!(
            Reconcile::decide(held, EXECUTION, None, Colour::Blue, Some(split(100, 0))),
            Reconcile::AlreadyStable
        );
        // A rule ecs-canary cannot read is not its to touch.
        assert_eq!(
            Reconcile::decide(held, EXECUTION, Some(&r), Colour::Blue, None),
            Reconcile::LeftByHand
        );
    }

    #[test]
    fn a_record_is_read_against_the_colour_stable_now() {
        // A promote stopped after tagging Green: its intended 0/100 (Blue
        // stable) is everything on Green, which is now the stable colour.
        let r = record(split(50, 50), split(0, 100));
        assert_eq!(r.towards(Colour::Green)[1], split(100, 0));
        assert_eq!(
            Reconcile::decide(
                Some(EXECUTION),
                EXECUTION,
                Some(&r),
                Colour::Green,
                Some(split(100, 0))
            ),
            Reconcile::AlreadyStable
        );
    }

    proptest! {
        /// Whatever the execution recorded, a live split it set is restored
        /// and one it never set is left alone.
        #[test]
        fn restores_exactly_what_the_execution_set(
            last in 0i64..=100, intended in 0i64..=100, live in 1i64..=100,
        ) {
            let r = record(split(100 - last, last), split(100 - intended, intended));
            let live_split = split(100 - live, live);
            let decision = Reconcile::decide(Some(EXECUTION), EXECUTION, Some(&r), Colour::Blue, Some(live_split));
            if live == last || live == intended {
                prop_assert_eq!(decision, Reconcile::Restore);
            } else {
                prop_assert_eq!(decision, Reconcile::LeftByHand);
            }
        }
    }
}
