//! The audit trail: one event per thing that happened to a service's
//! deployments, kept beyond Step Functions' 90 days and read newest first.
//!
//! Events are made here from the deployment and what happened; the adapters
//! only store them. Every event says when, what, which execution, who (when
//! a person or a guard acted), and one line for people.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{iso8601, Deployment, NativePause, RevertTarget, TrafficSplit, REVERT_TO};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HistoryKind {
    /// Someone asked the operator endpoint to start the execution (who,
    /// as their IAM identity); recorded before Step Functions starts it.
    Requested,
    /// The execution took the service's lock (with its input).
    Started,
    /// The deployment was refused before anything changed.
    Refused,
    /// A split was applied to the weighted rule and read back.
    SplitApplied,
    /// A person was asked to decide a step.
    ApprovalRequested,
    /// A step was decided (a person, an alarm, the analysis).
    Decided,
    /// A decision was refused by the approval policy (nothing changed).
    DecisionRefused,
    Promoted,
    RolledBack,
    /// The execution was stopped (an alarm, an operator).
    Aborted,
    /// An execution that ended elsewhere was put back at rest.
    Reconciled,
    /// An operator released a lock by hand.
    Unlocked,
    /// A pause of ECS's own deployment: gated, answered, or left alone.
    Paused,
    /// The analysis watch could not judge a waiting step (said once per step).
    Watched,
    /// A promotion was undone: all traffic back on the colour stable before.
    Reverted,
    /// The bake after a promotion ended without an alarm.
    Baked,
}

impl HistoryKind {
    pub const ALL: [HistoryKind; 16] = [
        HistoryKind::Requested,
        HistoryKind::Started,
        HistoryKind::Refused,
        HistoryKind::SplitApplied,
        HistoryKind::ApprovalRequested,
        HistoryKind::Decided,
        HistoryKind::DecisionRefused,
        HistoryKind::Promoted,
        HistoryKind::RolledBack,
        HistoryKind::Aborted,
        HistoryKind::Reconciled,
        HistoryKind::Unlocked,
        HistoryKind::Paused,
        HistoryKind::Watched,
        HistoryKind::Reverted,
        HistoryKind::Baked,
    ];

    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Requested => "requested",
            HistoryKind::Started => "started",
            HistoryKind::Refused => "refused",
            HistoryKind::SplitApplied => "splitApplied",
            HistoryKind::ApprovalRequested => "approvalRequested",
            HistoryKind::Decided => "decided",
            HistoryKind::DecisionRefused => "decisionRefused",
            HistoryKind::Promoted => "promoted",
            HistoryKind::RolledBack => "rolledBack",
            HistoryKind::Aborted => "aborted",
            HistoryKind::Reconciled => "reconciled",
            HistoryKind::Unlocked => "unlocked",
            HistoryKind::Paused => "paused",
            HistoryKind::Watched => "watched",
            HistoryKind::Reverted => "reverted",
            HistoryKind::Baked => "baked",
        }
    }

    pub fn parse(text: &str) -> Option<HistoryKind> {
        HistoryKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// `family:revision` of a task definition ARN (the ARN itself otherwise).
fn short_task_definition(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Who the analysis watch is, in the history and on a decision.
pub const WATCH: &str = "the analysis watch";

/// One event of a service's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// The service, as its lock key (`cluster/service`).
    pub service: String,
    /// When, in milliseconds since the epoch.
    pub at_millis: u64,
    pub kind: HistoryKind,
    /// The execution ARN (empty for an operator's act outside one).
    #[serde(default)]
    pub execution: String,
    /// The step (1-based), when the event is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// Who acted: a Slack user, an IAM identity, "email link", an alarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Through what: `email`, `slack`, `cli`, `alarm`, `analysis`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// One line for people.
    pub summary: String,
    /// The structured rest (the input, a split, the evidence …).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

/// The last part of an execution ARN (its name).
pub fn execution_name(execution: &str) -> &str {
    execution.rsplit(':').next().unwrap_or(execution)
}

/// The ARN Step Functions gives execution `name` of `state_machine` (known
/// before it starts, so that who asked for it can be recorded first).
pub fn execution_arn(state_machine: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// What a decision is about, for the audit trail: a gate of one of
/// ecs-canary's own rollouts, or a pause of one of ECS's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// The service's lock key (`cluster/service`).
    pub service: String,
    pub execution: String,
    /// 1-based (0: the start).
    pub number: usize,
    /// "step 2 of 3", "the start".
    pub label: String,
}

impl Gate {
    pub fn of(deployment: &Deployment) -> Gate {
        Gate {
            service: deployment.lock_key(),
            execution: deployment.owner.clone(),
            number: gate_number(deployment),
            label: gate_label(deployment),
        }
    }

    pub fn of_pause(pause: &NativePause) -> Gate {
        Gate {
            service: pause.lock_key(),
            execution: pause.execution.clone(),
            number: pause.step,
            label: format!("{} (ECS {} deployment)", pause.label(), pause.strategy),
        }
    }
}

impl HistoryEvent {
    fn at_gate(gate: &Gate, kind: HistoryKind, at_millis: u64, summary: String) -> Self {
        HistoryEvent {
            service: gate.service.clone(),
            at_millis,
            kind,
            execution: gate.execution.clone(),
            step: Some(gate.number),
            by: None,
            channel: None,
            summary,
            detail: Value::Null,
        }
    }

    fn of(deployment: &Deployment, kind: HistoryKind, at_millis: u64, summary: String) -> Self {
        HistoryEvent {
            service: deployment.lock_key(),
            at_millis,
            kind,
            execution: deployment.owner.clone(),
            step: None,
            by: None,
            channel: None,
            summary,
            detail: Value::Null,
        }
    }

    /// The sort key: time first (newest first when read backwards), then
    /// what, which execution and step, and who, so that the same event
    /// written twice in the same millisecond is one.
    pub fn sort_key(&self) -> String {
        format!(
            "{:013}#{}#{}#{}#{}",
            self.at_millis,
            self.kind.as_str(),
            execution_name(&self.execution),
            self.step.unwrap_or(0),
            self.by.as_deref().unwrap_or_default()
        )
    }

    /// When, as ISO 8601 (whole seconds).
    pub fn when(&self) -> String {
        iso8601(self.at_millis / 1000)
    }

    /// The execution took the service: what it deploys, by whom (the
    /// command line's caller, an ECR push, or an execution started by hand).
    pub fn started(deployment: &Deployment, at_millis: u64) -> Self {
        let request = &deployment.request;
        let who = match (&request.started_by, &request.image_tag) {
            (Some(who), _) => who.clone(),
            (None, Some(_)) => "an ECR push".into(),
            (None, None) => "an execution started by hand".into(),
        };
        let release = deployment
            .release
            .as_ref()
            .map(|r| r.summary())
            .or_else(|| request.image_text())
            .unwrap_or_default();
        let mut event = HistoryEvent::of(
            deployment,
            HistoryKind::Started,
            at_millis,
            format!(
                "started by {who} on {} (stable {}): {release}",
                deployment.candidate, deployment.stable
            ),
        );
        event.by = request.started_by.clone();
        event.detail = json!({
            "input": request,
            "steps": request.steps.percentages(),
            "release": release,
        });
        event
    }

    pub fn refused(
        service: String,
        execution: &str,
        at_millis: u64,
        input: &Value,
        error: &str,
        cause: &str,
    ) -> Self {
        HistoryEvent {
            service,
            at_millis,
            kind: HistoryKind::Refused,
            execution: execution.to_string(),
            step: None,
            by: None,
            channel: None,
            summary: format!("refused: {error}: {cause}"),
            detail: json!({"input": input, "error": error, "cause": cause}),
        }
    }

    pub fn split_applied(deployment: &Deployment, at_millis: u64, split: TrafficSplit) -> Self {
        let mut event = HistoryEvent::of(
            deployment,
            HistoryKind::SplitApplied,
            at_millis,
            format!(
                "traffic {:.0} % {} (stable) / {:.0} % {} (new)",
                100.0 - split.candidate_share(),
                deployment.stable,
                split.candidate_share(),
                deployment.candidate
            ),
        );
        event.step = deployment.step.map(|s| s + 1);
        event.detail =
            json!({"stable": split.stable_weight(), "candidate": split.candidate_weight()});
        event
    }

    pub fn approval_requested(gate: &Gate, at_millis: u64, channels: &[&str]) -> Self {
        let mut event = HistoryEvent::at_gate(
            gate,
            HistoryKind::ApprovalRequested,
            at_millis,
            format!(
                "approval of {} requested ({})",
                gate.label,
                if channels.is_empty() {
                    "no channel".to_string()
                } else {
                    channels.join(", ")
                }
            ),
        );
        event.detail = json!({"channels": channels});
        event
    }

    /// A step decided: by whom, through what, and the evidence as it was.
    pub fn decided(
        gate: &Gate,
        at_millis: u64,
        decision: &str,
        by: &str,
        channel: &str,
        evidence: Option<&str>,
    ) -> Self {
        let mut event = HistoryEvent::at_gate(
            gate,
            HistoryKind::Decided,
            at_millis,
            format!("{} {decision} by {by} ({channel})", gate.label),
        );
        event.by = Some(by.to_string());
        event.channel = Some(channel.to_string());
        event.detail = json!({"decision": decision, "evidence": evidence});
        event
    }

    /// A decision the approval policy refused.
    pub fn decision_refused(
        gate: &Gate,
        at_millis: u64,
        by: &str,
        channel: &str,
        why: &str,
    ) -> Self {
        let mut event = HistoryEvent::at_gate(
            gate,
            HistoryKind::DecisionRefused,
            at_millis,
            format!("{by} ({channel}) may not decide {}: {why}", gate.label),
        );
        event.by = Some(by.to_string());
        event.channel = Some(channel.to_string());
        event
    }

    /// What happened to a pause a gate holds: its step, in its execution.
    pub fn about_pause(pause: &NativePause, at_millis: u64, what: &str, detail: Value) -> Self {
        HistoryEvent::pause(
            pause.lock_key(),
            &pause.execution,
            at_millis,
            Some(pause.step),
            what,
            detail,
        )
    }

    /// What ecs-canary did with a pause of ECS's own deployment: gated it,
    /// answered it (`CONTINUE`, `ROLLBACK`) or left it alone, and why.
    pub fn pause(
        service: String,
        execution: &str,
        at_millis: u64,
        step: Option<usize>,
        what: &str,
        detail: Value,
    ) -> Self {
        HistoryEvent {
            service,
            at_millis,
            kind: HistoryKind::Paused,
            execution: execution.to_string(),
            step,
            by: None,
            channel: None,
            summary: what.to_string(),
            detail,
        }
    }

    /// The promotion, with what it leaves to revert to: the colour stable
    /// before, its task set and the task definition it runs.
    pub fn promoted(deployment: &Deployment, at_millis: u64) -> Self {
        let mut event = HistoryEvent::of(
            deployment,
            HistoryKind::Promoted,
            at_millis,
            format!(
                "promoted: {} is stable, lock released",
                deployment.candidate
            ),
        );
        let target = RevertTarget {
            colour: deployment.stable,
            task_set: deployment.stable_task_set.id.clone(),
            task_definition: deployment.stable_task_set.task_definition.clone(),
        };
        event.detail = json!({ REVERT_TO: target });
        event
    }

    /// The bake after `execution`'s promotion ended without an alarm: the
    /// service's lock is let go.
    pub fn baked(service: String, execution: &str, at_millis: u64) -> Self {
        HistoryEvent {
            service,
            at_millis,
            kind: HistoryKind::Baked,
            execution: execution.to_string(),
            step: None,
            by: None,
            channel: None,
            summary: "baked: no guarding alarm fired; lock released".into(),
            detail: Value::Null,
        }
    }

    /// `by` reverted the promotion `execution` made: all traffic back on
    /// `target`'s colour, stable again.
    pub fn reverted(
        service: String,
        execution: &str,
        at_millis: u64,
        by: &str,
        channel: Option<&str>,
        target: &RevertTarget,
    ) -> Self {
        HistoryEvent {
            service,
            at_millis,
            kind: HistoryKind::Reverted,
            execution: execution.to_string(),
            step: None,
            by: Some(by.to_string()),
            channel: channel.map(str::to_string),
            summary: format!(
                "reverted by {by}: all traffic back on {} ({}), stable again",
                target.colour,
                short_task_definition(&target.task_definition)
            ),
            detail: json!({ REVERT_TO: target }),
        }
    }

    pub fn rolled_back(deployment: &Deployment, at_millis: u64, error: &str, cause: &str) -> Self {
        let mut event = HistoryEvent::of(
            deployment,
            HistoryKind::RolledBack,
            at_millis,
            format!(
                "rolled back to {} ({error}: {cause}), lock released",
                deployment.stable
            ),
        );
        event.detail = json!({"error": error, "cause": cause});
        event
    }

    /// The analysis watch could not judge `step` of `execution`: why.
    pub fn watched(
        service: String,
        execution: &str,
        step: usize,
        at_millis: u64,
        why: &str,
    ) -> Self {
        HistoryEvent {
            service,
            at_millis,
            kind: HistoryKind::Watched,
            execution: execution.to_string(),
            step: Some(step),
            by: Some(WATCH.to_string()),
            channel: None,
            summary: format!("the analysis watch cannot judge step {step}: {why}"),
            detail: Value::Null,
        }
    }

    /// An execution stopped from outside (an alarm, an operator).
    pub fn aborted(service: String, execution: &str, at_millis: u64, by: &str, why: &str) -> Self {
        HistoryEvent {
            service,
            at_millis,
            kind: HistoryKind::Aborted,
            execution: execution.to_string(),
            step: None,
            by: Some(by.to_string()),
            channel: None,
            summary: format!("aborted by {by}: {why}"),
            detail: Value::Null,
        }
    }

    pub fn reconciled(
        service: String,
        execution: &str,
        at_millis: u64,
        summary: &str,
        detail: Value,
    ) -> Self {
        HistoryEvent {
            service,
            at_millis,
            kind: HistoryKind::Reconciled,
            execution: execution.to_string(),
            step: None,
            by: None,
            channel: None,
            summary: format!("reconciled: {summary}"),
            detail,
        }
    }

    /// `by` asked for `execution` — through the operator endpoint (`cli`),
    /// or by an image push CloudTrail recorded (`ecr`): the only source of a
    /// deployment's `startedBy` (see [`request_of`]).
    pub fn requested(
        service: String,
        execution: &str,
        at_millis: u64,
        by: &str,
        channel: &str,
        input: &Value,
    ) -> Self {
        HistoryEvent {
            service,
            at_millis,
            kind: HistoryKind::Requested,
            execution: execution.to_string(),
            step: None,
            by: Some(by.to_string()),
            channel: Some(channel.to_string()),
            summary: format!("{} requested by {by}", execution_name(execution)),
            detail: json!({"input": input_digest(input)}),
        }
    }

    pub fn unlocked(service: String, at_millis: u64, by: &str, holder: &str) -> Self {
        HistoryEvent {
            service,
            at_millis,
            kind: HistoryKind::Unlocked,
            execution: holder.to_string(),
            step: None,
            by: Some(by.to_string()),
            channel: Some("cli".into()),
            summary: format!("lock of {} released by {by}", execution_name(holder)),
            detail: Value::Null,
        }
    }
}

/// The gate a deployment waits at, 1-based; 0 before the start (no step
/// applied yet: policy `approveBeforeStart`).
fn gate_number(deployment: &Deployment) -> usize {
    deployment.step.map_or(0, |step| step + 1)
}

/// "step 2 of 3", or "the start".
fn gate_label(deployment: &Deployment) -> String {
    match deployment.step {
        Some(step) => format!(
            "step {} of {}",
            step + 1,
            deployment.request.steps.percentages().len()
        ),
        None => "the start".into(),
    }
}

/// The record of who asked for `execution` to be started with `input`, as
/// the operator endpoint (or the ECR trigger) wrote it; none when nobody
/// did (a console start), or when the execution runs another input than the
/// one asked for (someone started an execution of that name themselves).
pub fn request_of<'a>(
    events: &'a [HistoryEvent],
    execution: &str,
    input: &Value,
) -> Option<&'a HistoryEvent> {
    let digest = input_digest(input);
    events.iter().find(|e| {
        e.kind == HistoryKind::Requested
            && e.execution == execution
            && e.detail.get("input").and_then(Value::as_str) == Some(digest.as_str())
    })
}

/// The SHA-256 (hex) of an execution input in a canonical form — object
/// keys sorted at every level — so that the input asked for and the input
/// Step Functions passes on compare equal whatever order it keeps keys in.
pub fn input_digest(input: &Value) -> String {
    use sha2::{Digest, Sha256};
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (index, key) in keys.into_iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(input, &mut text);
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initiator_is_whoever_requested_that_execution_with_that_input() {
        let execution = "arn:aws:states:us-east-1:1:execution:sm:one";
        let input = json!({"cluster": "c", "service": "s", "steps": [10, 50]});
        let events = vec![
            HistoryEvent::requested(
                "c/s".into(),
                "arn:aws:states:us-east-1:1:execution:sm:two",
                2,
                "bob",
                "cli",
                &input,
            ),
            HistoryEvent::requested("c/s".into(), execution, 1, "alice", "cli", &input),
        ];
        assert_eq!(
            request_of(&events, execution, &input).and_then(|e| e.by.as_deref()),
            Some("alice")
        );
        // The same input with its keys in another order is the same input.
        let reordered = json!({"steps": [10, 50], "service": "s", "cluster": "c"});
        assert_eq!(
            request_of(&events, execution, &reordered).and_then(|e| e.by.as_deref()),
            Some("alice")
        );
        // Another input under that name (someone started it themselves): nobody.
        let other = json!({"cluster": "c", "service": "s", "steps": [50]});
        assert_eq!(request_of(&events, execution, &other), None);
        assert_eq!(
            request_of(
                &events,
                "arn:aws:states:us-east-1:1:execution:sm:three",
                &input
            ),
            None
        );
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in HistoryKind::ALL {
            assert_eq!(HistoryKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(Value::String(kind.as_str().into()))
            );
        }
        assert_eq!(HistoryKind::parse("other"), None);
    }

    #[test]
    fn sort_keys_order_by_time_across_digit_counts() {
        let event = |at_millis| HistoryEvent {
            service: "c/s".into(),
            at_millis,
            kind: HistoryKind::Started,
            execution: "arn:aws:states:us-east-1:1:execution:sm:run-1".into(),
            step: None,
            by: None,
            channel: None,
            summary: String::new(),
            detail: Value::Null,
        };
        let early = event(999_999_999_999);
        let late = event(1_000_000_000_000);
        assert!(early.sort_key() < late.sort_key());
        assert!(late.sort_key().ends_with("#started#run-1#0#"));
        assert_eq!(late.when(), "2001-09-09T01:46:40Z");
    }

    #[test]
    fn execution_names_are_the_last_part_of_the_arn() {
        assert_eq!(
            execution_name("arn:aws:states:us-east-1:1:execution:sm:run-1"),
            "run-1"
        );
        assert_eq!(execution_name("plain"), "plain");
    }
}
