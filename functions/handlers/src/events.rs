//! The events the functions take (see `state-machine/README.md`).

use ecs_canary_core::{Colour, Deployment};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::FunctionError;

/// resolve-stable: the execution input and the lock owner (the execution).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolveEvent {
    /// The execution input, validated by the function itself so that each
    /// defect gets its own error name.
    pub input: Value,
    pub owner: String,
    /// When the execution started (`$$.Execution.StartTime`, ISO 8601): the
    /// same on every retry, so resolving again gives the same deployment.
    #[serde(default)]
    pub started_at: Option<String>,
}

/// What render-and-deploy does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeployAction {
    /// Render the template and update the stack, then report progress.
    #[default]
    Deploy,
    /// Only report progress.
    Status,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderEvent {
    pub deployment: Deployment,
    #[serde(default)]
    pub action: DeployAction,
    /// Fail with `CandidateNotReady` unless the candidate is ready, so that a
    /// `Retry` on that name does the waiting.
    #[serde(default)]
    pub require_ready: bool,
    /// The execution's input as it was given (`$$.Execution.Input`): the
    /// values of secret variables, which the deployment carries hidden.
    #[serde(default)]
    pub input: Option<Value>,
}

/// set-weights: apply step `step` (0-based) of the plan; without `step`, the
/// step after the deployment's last one (the first if none).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepEvent {
    pub deployment: Deployment,
    #[serde(default)]
    pub step: Option<usize>,
}

/// promote takes `{"deployment": …}`; rollback also takes why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackEvent {
    pub deployment: Deployment,
    /// Why: a Step Functions error (`{"Error": …, "Cause": …}`) or any JSON.
    #[serde(default)]
    pub reason: Value,
    /// Only the traffic, at once: 100 % back on stable (read back), nothing
    /// else — the shortest path of a rejection or an alarm, invoked
    /// directly; the state machine's rollback follows and does the rest.
    #[serde(default)]
    pub stable_first: bool,
}

pub fn parse<T: DeserializeOwned>(event: Value) -> Result<T, FunctionError> {
    serde_json::from_value(event).map_err(|e| FunctionError::InvalidEvent(e.to_string()))
}

/// render-and-deploy's answer: the deployment (the candidate task set
/// refreshed) and how the rollout stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderOutput {
    #[serde(flatten)]
    pub deployment: Deployment,
    pub rollout: CandidateReadiness,
}

/// Whether the candidate is ready for traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateReadiness {
    pub stack_status: String,
    pub candidate_stability: String,
    /// The stack update is complete and the candidate task set is steady.
    pub ready: bool,
}

/// set-weights' answer: the deployment at its new step, whether promotion
/// comes after this step's approval (`Decided?` routes on it), and how long
/// the step's approval waits (`RequestApproval` times out on it; a hold
/// moves it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepOutput {
    #[serde(flatten)]
    pub deployment: Deployment,
    pub last_step: bool,
    pub wait_seconds: u64,
}

/// How a deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Promoted,
    RolledBack,
}

/// promote's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Promoted {
    #[serde(flatten)]
    pub deployment: Deployment,
    pub outcome: Outcome,
    pub stable_after: Colour,
}

/// rollback's answer; `failure` is what the `RolledBack` Fail state reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolledBack {
    #[serde(flatten)]
    pub deployment: Deployment,
    pub outcome: Outcome,
    pub stable_after: Colour,
    /// The weighted rule was left as a person set it by hand.
    pub rule_left_as_is: bool,
    /// Why, as the state machine passed it.
    pub reason: Value,
    pub failure: ExecutionFailure,
}

/// The error name and readable cause a failed execution reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionFailure {
    pub error: String,
    pub cause: String,
}

/// The error name and a readable cause from a Step Functions error object
/// (`{"Error": …, "Cause": …}`, where a Lambda error's cause is its JSON).
pub fn error_and_cause(reason: &Value) -> (String, String) {
    let error = reason
        .get("Error")
        .or_else(|| reason.get("error"))
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .unwrap_or("RolledBack")
        .to_string();
    let cause = match reason
        .get("Cause")
        .or_else(|| reason.get("cause"))
        .and_then(Value::as_str)
    {
        Some(text) => serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|c| {
                c.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| text.to_string()),
        None => String::new(),
    };
    let cause = if cause.is_empty() {
        format!("rolled back after {error}; traffic is 100 % on the stable colour")
    } else {
        cause
    };
    (error, cause)
}
