//! Undoing a promotion. After one, the colour that was stable before still
//! runs the release that was stable before: its task set is left as it was,
//! until the next deployment renders a new release onto it. A revert puts
//! all traffic back on it in one rule change and makes it stable again —
//! only while that holds. A promotion records what it leaves to revert to
//! ([`RevertTarget`], in its history event); everything else is read live.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{Colour, ErrorKind, ErrorName, HistoryEvent, HistoryKind, TaskSet, TrafficSplit};

/// What a promotion leaves to revert to: the colour stable before it, and
/// the task set and task definition that colour ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertTarget {
    pub colour: Colour,
    pub task_set: String,
    pub task_definition: String,
}

/// The detail field of a promotion's history event that holds its
/// [`RevertTarget`].
pub const REVERT_TO: &str = "revertTo";

/// Why a revert does nothing.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RevertRefused {
    #[error("{service} has nothing to revert: {why}")]
    NothingToRevert { service: String, why: String },
    #[error(
        "{colour} no longer runs the release that was stable before ({expected}): {found}; deploy that release instead"
    )]
    ReleaseReplaced {
        colour: Colour,
        expected: String,
        found: String,
    },
    #[error(
        "{colour}'s task set {task_set} is scaled in (scale {scale} %): no tasks to put traffic on"
    )]
    TaskSetScaledIn {
        colour: Colour,
        task_set: String,
        scale: f64,
    },
    #[error("the StableStack tag says {found} is stable, not {promoted} as the promotion left it: someone changed it since")]
    StableChanged { promoted: Colour, found: Colour },
    #[error("the weighted rule holds {live}, not all traffic on {promoted} as the promotion left it: someone changed it since; it is left as it is")]
    RuleChanged { promoted: Colour, live: String },
}

impl ErrorName for RevertRefused {
    fn error_kind(&self) -> ErrorKind {
        match self {
            RevertRefused::NothingToRevert { .. } => ErrorKind::NothingToRevert,
            RevertRefused::ReleaseReplaced { .. } => ErrorKind::ReleaseReplaced,
            RevertRefused::TaskSetScaledIn { .. } => ErrorKind::TaskSetScaledIn,
            RevertRefused::StableChanged { .. } | RevertRefused::RuleChanged { .. } => {
                ErrorKind::DriftDetected
            }
        }
    }
}

/// The promotion a revert would undo, from a service's history (newest
/// first): the latest promotion, unless a revert or another deployment
/// came after it.
pub fn last_promotion<'a>(
    service: &str,
    events: &'a [HistoryEvent],
) -> Result<(&'a HistoryEvent, RevertTarget), RevertRefused> {
    let nothing = |why: &str| RevertRefused::NothingToRevert {
        service: service.to_string(),
        why: why.to_string(),
    };
    let mut later_start: Option<&HistoryEvent> = None;
    for event in events {
        match event.kind {
            HistoryKind::Reverted => {
                return Err(nothing(&format!(
                    "its last promotion was reverted already ({})",
                    event.summary
                )))
            }
            HistoryKind::Started if later_start.is_none() => later_start = Some(event),
            HistoryKind::Promoted => {
                let Some(target) = event
                    .detail
                    .get(REVERT_TO)
                    .and_then(|t| serde_json::from_value::<RevertTarget>(t.clone()).ok())
                else {
                    return Err(nothing("its last promotion recorded nothing to revert to"));
                };
                if let Some(started) = later_start {
                    return Err(RevertRefused::ReleaseReplaced {
                        colour: target.colour,
                        expected: target.task_definition,
                        found: format!(
                            "a later deployment ({}) rendered its own release there",
                            started.execution
                        ),
                    });
                }
                return Ok((event, target));
            }
            _ => {}
        }
    }
    Err(nothing("no promotion in its history"))
}

/// The service as a revert finds it, read now.
#[derive(Debug, Clone, PartialEq)]
pub struct RevertReading<'a> {
    /// The colour the `StableStack` tag names.
    pub stable: Colour,
    /// The weighted rule's split (towards that colour).
    pub split: TrafficSplit,
    /// The recorded task set of the colour to go back to, and the target
    /// group of that colour.
    pub task_set: Option<&'a TaskSet>,
    pub target_group: &'a str,
}

/// Whether the service still is as the promotion left it (the other colour
/// stable, all traffic on it) and the target colour's task set still runs
/// the release that was stable before, behind that colour's target group,
/// with tasks to serve it.
pub fn check_revert(target: &RevertTarget, now: &RevertReading) -> Result<(), RevertRefused> {
    let promoted = target.colour.other();
    if now.stable != promoted {
        return Err(RevertRefused::StableChanged {
            promoted,
            found: now.stable,
        });
    }
    if !now.split.is_all_stable() {
        return Err(RevertRefused::RuleChanged {
            promoted,
            live: now.split.to_string(),
        });
    }
    let Some(task_set) = now.task_set else {
        return Err(RevertRefused::ReleaseReplaced {
            colour: target.colour,
            expected: target.task_definition.clone(),
            found: format!("its task set {} no longer exists", target.task_set),
        });
    };
    if !task_set.target_groups.iter().any(|t| t == now.target_group) {
        return Err(RevertRefused::ReleaseReplaced {
            colour: target.colour,
            expected: target.task_definition.clone(),
            found: format!(
                "its task set {} no longer serves its target group",
                task_set.id
            ),
        });
    }
    if task_set.task_definition != target.task_definition {
        return Err(RevertRefused::ReleaseReplaced {
            colour: target.colour,
            expected: target.task_definition.clone(),
            found: format!("its task set runs {}", task_set.task_definition),
        });
    }
    match task_set.scale_percent {
        Some(scale) if scale <= 0.0 => Err(RevertRefused::TaskSetScaledIn {
            colour: target.colour,
            task_set: task_set.id.clone(),
            scale,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: HistoryKind, execution: &str, detail: serde_json::Value) -> HistoryEvent {
        HistoryEvent {
            service: "c/web".into(),
            at_millis: 1,
            kind,
            execution: execution.into(),
            step: None,
            by: None,
            channel: None,
            summary: format!("{kind:?}"),
            detail,
        }
    }

    fn target() -> RevertTarget {
        RevertTarget {
            colour: Colour::Blue,
            task_set: "ts-blue".into(),
            task_definition: "arn:td/web:3".into(),
        }
    }

    fn promoted(execution: &str) -> HistoryEvent {
        event(
            HistoryKind::Promoted,
            execution,
            json!({REVERT_TO: target()}),
        )
    }

    fn blue(task_definition: &str, scale: Option<f64>) -> TaskSet {
        TaskSet {
            id: "ts-blue".into(),
            arn: "arn:ts-blue".into(),
            external_id: None,
            task_definition: task_definition.into(),
            status: "ACTIVE".into(),
            stability_status: "STEADY_STATE".into(),
            target_groups: vec!["tg-blue".into()],
            scale_percent: scale,
        }
    }

    #[test]
    fn the_latest_promotion_is_what_a_revert_undoes() {
        let events = [
            promoted("e2"),
            event(HistoryKind::SplitApplied, "e2", json!(null)),
            event(HistoryKind::Started, "e2", json!(null)),
            event(HistoryKind::Promoted, "e1", json!(null)),
        ];
        let (event, found) = last_promotion("c/web", &events).expect("a promotion");
        assert_eq!((event.execution.as_str(), found), ("e2", target()));
    }

    #[test]
    fn a_revert_after_a_revert_or_another_deployment_or_none_is_refused_by_name() {
        let reverted = [
            event(HistoryKind::Reverted, "e2", json!(null)),
            promoted("e2"),
        ];
        let later = [
            event(HistoryKind::RolledBack, "e3", json!(null)),
            event(HistoryKind::Started, "e3", json!(null)),
            promoted("e2"),
        ];
        let unrecorded = [event(HistoryKind::Promoted, "e1", json!(null))];
        for (events, name) in [
            (&reverted[..], "NothingToRevert"),
            (&later[..], "ReleaseReplaced"),
            (&unrecorded[..], "NothingToRevert"),
            (&[][..], "NothingToRevert"),
        ] {
            let refused = last_promotion("c/web", events).expect_err("refused");
            assert_eq!(refused.error_type(), name, "{refused}");
        }
        let refused = last_promotion("c/web", &later).expect_err("refused");
        assert!(refused.to_string().contains("e3"), "{refused}");
    }

    fn reading(
        stable: Colour,
        split: TrafficSplit,
        task_set: Option<&TaskSet>,
    ) -> RevertReading<'_> {
        RevertReading {
            stable,
            split,
            task_set,
            target_group: "tg-blue",
        }
    }

    #[test]
    fn only_the_release_that_was_stable_before_with_tasks_is_reverted_to() {
        let all_green = TrafficSplit::all_stable();
        let ok = blue("arn:td/web:3", Some(100.0));
        assert_eq!(
            check_revert(&target(), &reading(Colour::Green, all_green, Some(&ok))),
            Ok(())
        );
        let unknown_scale = blue("arn:td/web:3", None);
        assert_eq!(
            check_revert(
                &target(),
                &reading(Colour::Green, all_green, Some(&unknown_scale))
            ),
            Ok(())
        );
        let mut elsewhere = ok.clone();
        elsewhere.target_groups = vec!["tg-other".into()];
        for (stable, split, task_set, name) in [
            (Colour::Blue, all_green, Some(ok.clone()), "DriftDetected"),
            (
                Colour::Green,
                TrafficSplit::all_candidate(),
                Some(ok.clone()),
                "DriftDetected",
            ),
            (Colour::Green, all_green, None, "ReleaseReplaced"),
            (Colour::Green, all_green, Some(elsewhere), "ReleaseReplaced"),
            (
                Colour::Green,
                all_green,
                Some(blue("arn:td/web:4", Some(100.0))),
                "ReleaseReplaced",
            ),
            (
                Colour::Green,
                all_green,
                Some(blue("arn:td/web:3", Some(0.0))),
                "TaskSetScaledIn",
            ),
        ] {
            let refused = check_revert(&target(), &reading(stable, split, task_set.as_ref()))
                .expect_err("refused");
            assert_eq!(refused.error_type(), name, "{refused}");
        }
    }
}
