//! Messages that tell the approval channels how a deployment ended when it
//! needed people's attention (no decision is asked for).

use serde_json::{json, Value};

use crate::{
    slack_escape, Colour, Deployment, DeploymentRequest, ErrorKind, ExecutionEnding, Reconcile,
    RevertTarget, TrafficSplit, LOCK_LOST,
};

/// What reconciling an ended execution found and did, for its notice.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileReport {
    pub cluster: String,
    pub service: String,
    pub execution: String,
    pub ending: ExecutionEnding,
    /// The execution's error and cause, if it had one.
    pub error: Option<(String, String)>,
    /// The stable colour (the `StableStack` tag).
    pub stable: Colour,
    /// The weighted rule as the execution left it (relative to `stable`).
    pub live: Option<TrafficSplit>,
    pub action: Reconcile,
    pub tester_rules_on_stable: bool,
    pub lock_released: bool,
    pub links_closed: usize,
    /// Why reconciling could not finish: a person is needed.
    pub failure: Option<String>,
}

/// A split in the colours' names: "Blue 50 / Green 50".
fn in_colours(stable: Colour, split: TrafficSplit) -> String {
    format!(
        "{stable} {} / {} {}",
        split.stable_weight(),
        stable.other(),
        split.candidate_weight()
    )
}

/// A message for the email topic and Slack: what happened, and what the
/// service looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    pub text: String,
}

impl Notice {
    /// A person took the deployment over during a rollout — changed the
    /// weighted rule by hand (`SplitChangedByHand`) or released its lock
    /// (`LockLost`): the deployment stopped and leaves the rule as it is.
    pub fn handed_over(deployment: &Deployment, error: &str, cause: &str) -> Notice {
        let request = &deployment.request;
        let (what, rest) = if error == LOCK_LOST {
            (
                "its deployment lock was released or taken over",
                "Someone else is in charge of the service now: tester rules and the lock are left to them.",
            )
        } else {
            (
                "the traffic split was changed by hand",
                "Tester rules point at the stable colour, the deployment lock is released and no approval link is pending.",
            )
        };
        Notice {
            subject: truncate(format!("{}: deployment stopped, {what}", request.service)),
            text: format!(
                "The canary deployment of {service} (cluster {cluster}) has stopped: {what} during the rollout.\n\n\
                 {cause}\n\n\
                 ecs-canary no longer touches the weighted listener rule: it stays exactly as it is. \
                 The StableStack tag is unchanged ({stable}). {rest}\n",
                service = request.service,
                cluster = request.cluster,
                stable = deployment.stable,
            ),
        }
    }

    /// A deployment refused before anything changed: another rollout holds
    /// the service, the rule drifted, the input is invalid …
    pub fn refused(input: &Value, execution: &str, error: &str, cause: &str) -> Notice {
        let field = |name: &str| input.get(name).and_then(Value::as_str).unwrap_or("?");
        let what = match (
            input.get("image").and_then(Value::as_str),
            input.get("imageTag").and_then(Value::as_str),
        ) {
            (Some(image), Some(tag)) => format!("{image} (tag {tag})"),
            (Some(image), None) => image.to_string(),
            (None, _) => "a configuration change".to_string(),
        };
        let service = field("service");
        let advice = if error == "DeploymentInProgress" {
            "Another deployment of this service is in progress; push again (or start the execution again) when it has ended."
        } else {
            "Nothing was changed. Fix the cause, then push again or start the execution again."
        };
        Notice {
            subject: truncate(format!("{service}: deployment refused ({error})")),
            text: format!(
                "A canary deployment of {service} (cluster {cluster}) was refused before anything changed: {error}.\n\n\
                 Release:   {what}\n\
                 Why:       {cause}\n\
                 Execution: {execution}\n\n\
                 {advice}\n",
                cluster = field("cluster"),
            ),
        }
    }

    /// An execution that ended while it still held its service (stopped
    /// from the console, timed out, crashed, or a rollback that gave up):
    /// what it left, what was done about it, and whether a person is needed.
    pub fn reconciled(report: &ReconcileReport) -> Notice {
        let service = &report.service;
        let stable = report.stable;
        let needs_person =
            report.failure.is_some() || report.ending == ExecutionEnding::RollbackFailed;
        let ending = report.ending.describe();
        let subject = match (&report.failure, report.action) {
            (Some(_), _) => format!("{service}: a person is needed - the deployment {ending}"),
            (None, Reconcile::LeftByHand) => {
                format!("{service}: the deployment {ending}; the rule is left as set by hand")
            }
            (None, _) if needs_person => {
                format!("{service}: the deployment {ending}; traffic is back on {stable}")
            }
            (None, _) => format!("{service}: the deployment {ending}; traffic is on {stable}"),
        };
        let why = match &report.error {
            Some((error, cause)) => format!("Why:       {error}: {cause}\n"),
            None => String::new(),
        };
        let left = report
            .live
            .map_or("a rule ecs-canary cannot read".to_string(), |live| {
                in_colours(stable, live)
            });
        let mut done = Vec::new();
        match report.action {
            Reconcile::Restore if report.failure.is_none() => done.push(format!(
                "put 100 % of the traffic on the stable colour {stable} and read it back"
            )),
            Reconcile::Restore => {}
            Reconcile::AlreadyStable => done.push(format!(
                "found the weighted rule already sending everything to {stable}"
            )),
            Reconcile::LeftByHand => done.push(
                "left the weighted rule exactly as it is: it holds a split this deployment never set, so a person set it"
                    .to_string(),
            ),
            Reconcile::NotHeld => {}
        }
        if report.tester_rules_on_stable {
            done.push(format!("pointed the tester rules at {stable}"));
        }
        if report.lock_released {
            done.push("released the deployment lock".to_string());
        }
        if report.links_closed > 0 {
            done.push(format!(
                "closed {} pending approval link(s)",
                report.links_closed
            ));
        }
        let done = if done.is_empty() {
            "nothing yet".to_string()
        } else {
            done.iter()
                .map(|line| format!("- {line}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let now = match (&report.failure, report.action) {
            (Some(failure), _) => format!(
                "A person is needed: ecs-canary could not finish putting the service back at rest: {failure}.\n\
                 Check that the weighted rule sends 100 % to {stable} (it was {left}), that the tester rules \
                 point at {stable}, and release the lock if it is still held (README: \"A stuck lock\")."
            ),
            (None, Reconcile::LeftByHand) => format!(
                "Now: the weighted rule stays at {left}; the StableStack tag is {stable}. \
                 Whoever changed the rule is in charge of the traffic."
            ),
            (None, _) if needs_person => format!(
                "Now: 100 % on {stable}, the StableStack tag is {stable}, no lock is held. \
                 The rollback itself had failed: a person should find out why before the next deployment."
            ),
            (None, _) => format!(
                "Now: 100 % on {stable}, the StableStack tag is {stable}, no lock is held and no approval link is pending."
            ),
        };
        Notice {
            subject: truncate(subject),
            text: format!(
                "The canary deployment of {service} (cluster {cluster}) {ending} while it still held the service.\n\n\
                 {why}\
                 Left at:   {left}\n\
                 Execution: {execution}\n\n\
                 What ecs-canary did:\n{done}\n\n\
                 {now}\n",
                cluster = report.cluster,
                execution = report.execution,
            ),
        }
    }

    /// A guard rolled the deployment back without waiting for a person: a
    /// guarding alarm (`AlarmTriggered`: before a step, while the candidate
    /// started, or while a person was being asked) or the automatic analysis
    /// (`AnalysisFailed`). The rollback has read the rule back at 100 %
    /// stable.
    pub fn guard_tripped(deployment: &Deployment, error: &str, cause: &str) -> Notice {
        let request = &deployment.request;
        let stable = deployment.stable;
        let what = match ErrorKind::parse(error) {
            Some(ErrorKind::AlarmTriggered) => "a guarding alarm fired",
            Some(ErrorKind::AnalysisFailed) => "the automatic analysis failed",
            _ => "a guard tripped",
        };
        let step = deployment.step.map_or_else(
            || "before the first step".to_string(),
            |step| format!("at step {} of {}", step + 1, request.steps.len()),
        );
        let release = deployment
            .release
            .as_ref()
            .map_or_else(|| request.image_text().unwrap_or_default(), |r| r.summary());
        Notice {
            subject: truncate(format!(
                "{}: {what} - deployment rolled back to {stable}",
                request.service
            )),
            text: format!(
                "The canary deployment of {service} (cluster {cluster}) was rolled back {step}: {what}.\n\n\
                 Why:       {error}: {cause}\n\
                 Release:   {release}\n\
                 Traffic:   100 % is back on {stable} (read back); the StableStack tag is unchanged ({stable}).\n\n\
                 The deployment's approval links are void: nothing more can be approved. \
                 Tester rules point at {stable} and the deployment lock is released.\n",
                service = request.service,
                cluster = request.cluster,
            ),
        }
    }

    /// A deployment was promoted: what is stable now, the bake if any, and
    /// how to undo it while the release before still runs.
    pub fn promoted(
        request: &DeploymentRequest,
        execution: &str,
        stable: Colour,
        bake_until: Option<u64>,
        revert_link: Option<&str>,
    ) -> Notice {
        let way_back = match revert_link {
            Some(link) => {
                format!("open {link} (under the approval policy), or run: ecs-canary revert")
            }
            None => "ecs-canary revert".to_string(),
        };
        let release = request
            .image_text()
            .unwrap_or_else(|| "a configuration change".into());
        let key = crate::lock_key(&request.cluster, &request.service);
        let bake = match bake_until {
            Some(until) => format!(
                "Bake:      until {}: a guarding alarm ({}) reverts it by itself until then.\n",
                crate::iso8601(until),
                if request.alarms.is_empty() {
                    "none set".to_string()
                } else {
                    request.alarms.join(", ")
                }
            ),
            None => String::new(),
        };
        Notice {
            subject: truncate(format!(
                "{}: promoted - {stable} is stable",
                request.service
            )),
            text: format!(
                "The canary deployment of {service} (cluster {cluster}) was promoted: 100 % of traffic is on {stable} (read back), the StableStack tag says {stable}.\n\n\
                 Release:   {release}\n\
                 Execution: {execution}\n\
                 {bake}\n\
                 {other} still runs the release that was stable before, without traffic, until the next deployment replaces it. \
                 To go back to it in one step: {way_back} {key}\n",
                service = request.service,
                cluster = request.cluster,
                other = stable.other(),
            ),
        }
    }

    /// A promotion was undone: all traffic back on the colour stable before
    /// (read back), that colour stable again.
    pub fn reverted(service_key: &str, target: &RevertTarget, by: &str, promotion: &str) -> Notice {
        let (cluster, service) = service_key.split_once('/').unwrap_or(("", service_key));
        let colour = target.colour;
        Notice {
            subject: truncate(format!(
                "{service}: {colour} is stable again - promotion reverted by {by}"
            )),
            text: format!(
                "The promotion of {service} (cluster {cluster}) by {promotion} was reverted by {by}.\n\n\
                 Traffic:   100 % is back on {colour} (read back), which runs the release that was stable before ({td}).\n\
                 Stable:    the StableStack tag says {colour}; tester rules point at {colour}.\n\n\
                 The reverted release still runs on {other}, without traffic, until the next deployment replaces it.\n",
                td = target.task_definition,
                other = colour.other(),
            ),
        }
    }

    /// The Slack message: the same words, escaped for mrkdwn.
    pub fn slack_message(&self) -> Value {
        json!({
            "text": slack_escape(&self.subject),
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}*", slack_escape(&self.subject))}},
                {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(&self.text)}}
            ]
        })
    }
}

/// SNS subjects: at most 100 characters.
pub(crate) fn truncate(subject: String) -> String {
    subject.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_notice_names_what_tripped_why_and_where_the_traffic_is() {
        let deployment: Deployment = serde_json::from_value(json!({
            "request": {"cluster": "c", "service": "web", "stack": "st", "image": "repo:2", "steps": [10, 50, 75]},
            "owner": "run-1", "stable": "Blue", "candidate": "Green",
            "stableTaskSet": {"id": "b", "arn": "arn:b", "taskDefinition": "td:1", "status": "ACTIVE",
                              "stabilityStatus": "STEADY_STATE", "targetGroups": ["tg-b"]},
            "candidateTaskSet": null,
            "stableTargetGroup": "tg-b", "candidateTargetGroup": "tg-g",
            "weightedRule": "arn:rule", "split": {"stable": 50, "candidate": 50}, "step": 1
        }))
        .unwrap();
        let notice = Notice::guard_tripped(
            &deployment,
            "AlarmTriggered",
            "the alarm web-5xx is in ALARM (Threshold Crossed): traffic goes back to the stable colour",
        );
        assert_eq!(
            notice.subject,
            "web: a guarding alarm fired - deployment rolled back to Blue"
        );
        for part in [
            "was rolled back at step 2 of 3: a guarding alarm fired",
            "Why:       AlarmTriggered: the alarm web-5xx is in ALARM (Threshold Crossed)",
            "Release:   repo:2",
            "100 % is back on Blue (read back)",
            "approval links are void",
        ] {
            assert!(notice.text.contains(part), "{part}\n{}", notice.text);
        }
        let analysis = Notice::guard_tripped(&deployment, "AnalysisFailed", "9.8 points");
        assert_eq!(
            analysis.subject,
            "web: the automatic analysis failed - deployment rolled back to Blue"
        );
    }

    #[test]
    fn a_refusal_says_what_was_refused_and_why() {
        let input = json!({"cluster": "c", "service": "web", "image": "repo@sha256:ab", "imageTag": "1.2.3"});
        let notice = Notice::refused(
            &input,
            "arn:exec",
            "DeploymentInProgress",
            "lock held by arn:other",
        );
        assert_eq!(
            notice.subject,
            "web: deployment refused (DeploymentInProgress)"
        );
        assert!(
            notice.text.contains("repo@sha256:ab (tag 1.2.3)"),
            "{}",
            notice.text
        );
        assert!(notice.text.contains("lock held by arn:other"));
        assert!(notice.text.contains("push again"));
        // Not even an object: still a readable notice.
        let odd = Notice::refused(&json!([1, 2]), "arn:exec", "InvalidInput", "not an object");
        assert!(odd
            .subject
            .starts_with("?: deployment refused (InvalidInput)"));
    }

    fn report(action: Reconcile) -> ReconcileReport {
        ReconcileReport {
            cluster: "c".into(),
            service: "web".into(),
            execution: "arn:exec".into(),
            ending: ExecutionEnding::Aborted,
            error: None,
            stable: Colour::Blue,
            live: TrafficSplit::new(50, 50).ok(),
            action,
            tester_rules_on_stable: true,
            lock_released: true,
            links_closed: 1,
            failure: None,
        }
    }

    #[test]
    fn a_reconciliation_says_what_was_left_and_what_was_done() {
        let notice = Notice::reconciled(&report(Reconcile::Restore));
        assert_eq!(
            notice.subject,
            "web: the deployment was stopped (aborted); traffic is on Blue"
        );
        for expected in [
            "Left at:   Blue 50 / Green 50",
            "put 100 % of the traffic on the stable colour Blue",
            "released the deployment lock",
            "closed 1 pending approval link(s)",
        ] {
            assert!(
                notice.text.contains(expected),
                "{expected}: {}",
                notice.text
            );
        }
        let by_hand = Notice::reconciled(&report(Reconcile::LeftByHand));
        assert!(by_hand.subject.contains("left as set by hand"));
        assert!(by_hand.text.contains("stays at Blue 50 / Green 50"));
        assert!(!by_hand.text.contains("put 100 %"));
    }

    #[test]
    fn a_failed_rollback_or_reconciliation_asks_for_a_person() {
        let mut failed = report(Reconcile::Restore);
        failed.ending = ExecutionEnding::RollbackFailed;
        failed.error = Some(("Throttled".into(), "Rate exceeded".into()));
        let restored = Notice::reconciled(&failed);
        assert!(restored
            .text
            .contains("Why:       Throttled: Rate exceeded"));
        assert!(restored.text.contains("a person should find out why"));
        failed.failure = Some("elasticloadbalancing:ModifyRule failed".into());
        failed.lock_released = false;
        let stuck = Notice::reconciled(&failed);
        assert!(
            stuck.subject.starts_with("web: a person is needed"),
            "{}",
            stuck.subject
        );
        assert!(stuck.text.contains("could not finish"), "{}", stuck.text);
        assert!(stuck.text.contains("it was Blue 50 / Green 50"));
        assert!(!stuck.text.contains("released the deployment lock"));
    }

    #[test]
    fn slack_notices_are_escaped() {
        let notice = Notice::refused(
            &json!({"service": "<!channel>"}),
            "e",
            "X",
            "<https://evil|click>",
        );
        let text = notice.slack_message().to_string();
        assert!(
            !text.contains("<!channel>") && !text.contains("<https://evil"),
            "{text}"
        );
    }
}
