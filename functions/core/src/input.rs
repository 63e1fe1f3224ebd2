//! The execution input: parsed and validated field by field, each defect
//! with its own error name, before anything changes.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::{
    AnalysisLimits, ApprovalPolicy, ErrorKind, ErrorName, PercentagePoints, PolicyError, StepPlan,
    StepPlanError, DEFAULT_MIN_REQUESTS, HIDDEN_VALUE,
};

/// A day: how long a person has to approve a step unless the request says otherwise.
pub const DEFAULT_APPROVAL_TIMEOUT_SECONDS: u64 = 86_400;
/// The longest a Step Functions task may wait for a task token: a year.
const MAX_APPROVAL_TIMEOUT_SECONDS: u64 = 31_536_000;
/// The longest a standard Step Functions execution may run: a year. An
/// execution that reaches it ends without its Catch, so without a rollback.
pub const EXECUTION_LIMIT_SECONDS: u64 = 31_536_000;
/// What every approval's wait must leave of that year: readiness polling,
/// retries, promotion or rollback.
pub const EXECUTION_MARGIN_SECONDS: u64 = 86_400;
/// ECS limits an image reference to 255 characters.
const MAX_IMAGE_LEN: usize = 255;

/// CloudWatch limits an alarm name to 255 characters, DescribeAlarms to 100 names.
const MAX_ALARM_NAME_LEN: usize = 255;
const MAX_ALARMS: usize = 100;

/// The most requests `minRequests` may ask for.
const MAX_MIN_REQUESTS: u64 = 1_000_000_000;

const FIELDS: [&str; 16] = [
    "cluster",
    "service",
    "stack",
    "image",
    "imageTag",
    "container",
    "environment",
    "steps",
    "approvalTimeoutSeconds",
    "alarms",
    "maxErrorRateIncrease",
    "minRequests",
    "sloTarget",
    "bakeMinutes",
    "approvalPolicy",
    "startedBy",
];

/// A validated execution input: what to deploy, where, and in which steps.
///
/// ```json
/// { "cluster": "mattctest", "service": "myservice", "stack": "ecs-task-test-2",
///   "image": "octopussamples/helloworldwithversion:1.0.1", "container": "mycontainer",
///   "environment": { "APPVERSION": "1.0.1" }, "steps": [10, 50],
///   "approvalTimeoutSeconds": 86400 }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRequest {
    pub cluster: String,
    pub service: String,
    pub stack: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The tag an image pinned by digest was pushed as, shown to approvers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    pub steps: StepPlan,
    pub approval_timeout_seconds: u64,
    /// CloudWatch alarms that guard the rollout: each must be `OK` or
    /// `INSUFFICIENT_DATA` before traffic moves towards the candidate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
    /// The automatic analysis: a gate rejects by itself when the candidate's
    /// 5xx rate exceeds stable's by more than this, on enough requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_error_rate_increase: Option<PercentagePoints>,
    /// How many requests the candidate must serve before its numbers are
    /// judged (default [`DEFAULT_MIN_REQUESTS`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<u64>,
    /// The service's availability objective in percent (e.g. 99.9): the
    /// verdict shows each version's error-budget burn rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_target: Option<PercentagePoints>,
    /// After promotion, how long the guarding alarms keep watching the new
    /// stable release (the service's lock held meanwhile): an alarm then
    /// reverts to the release before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bake_minutes: Option<u64>,
    /// Who may decide its steps (over the defaults the functions are given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<ApprovalPolicy>,
    /// Who started it: set by resolve-stable from what the operator
    /// endpoint recorded (the caller's IAM identity), never taken from an
    /// execution input; shown to approvers, recorded, and under separation
    /// of duties not allowed to approve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
}

/// What is wrong with an execution input. Nothing is changed when one is found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    #[error("the execution input must be a JSON object")]
    NotAnObject,
    #[error("`{0}` is required")]
    MissingField(&'static str),
    #[error("`{field}` {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("`{0}` is not a field of the execution input (expected one of: {fields})", fields = FIELDS.join(", "))]
    UnknownField(String),
    #[error("nothing to deploy: give `image`, `environment`, or both")]
    NothingToDeploy,
    #[error("`steps`: {0}")]
    InvalidSteps(#[from] StepPlanError),
    #[error("`approvalTimeoutSeconds` must be a whole number from 1 to {MAX_APPROVAL_TIMEOUT_SECONDS}, not {0}")]
    InvalidApprovalTimeout(String),
    #[error("{steps} approvals of up to {timeout} s each could outlast Step Functions' one-year limit on an execution (which would end without rolling back): at most {max} s per approval for {steps} steps")]
    ApprovalsOutlastExecution {
        timeout: u64,
        steps: usize,
        max: u64,
    },
    #[error("`environment.{name}` {reason}")]
    InvalidEnvironment { name: String, reason: &'static str },
    #[error(transparent)]
    InvalidPolicy(#[from] PolicyError),
}

impl ErrorName for InputError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            InputError::NotAnObject => ErrorKind::InvalidInput,
            InputError::MissingField(_) => ErrorKind::MissingField,
            InputError::InvalidField { .. } | InputError::InvalidPolicy(_) => {
                ErrorKind::InvalidField
            }
            InputError::UnknownField(_) => ErrorKind::UnknownField,
            InputError::NothingToDeploy => ErrorKind::NothingToDeploy,
            InputError::InvalidSteps(_) => ErrorKind::InvalidSteps,
            InputError::InvalidApprovalTimeout(_)
            | InputError::ApprovalsOutlastExecution { .. } => ErrorKind::InvalidApprovalTimeout,
            InputError::InvalidEnvironment { .. } => ErrorKind::InvalidEnvironment,
        }
    }
}

fn optional_text(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, InputError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let text = text.trim();
            if text.is_empty() {
                Err(InputError::InvalidField {
                    field,
                    reason: "must not be empty".into(),
                })
            } else if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                Err(InputError::InvalidField {
                    field,
                    reason: "must not contain spaces or control characters".into(),
                })
            } else {
                Ok(Some(text.to_string()))
            }
        }
        Some(other) => Err(InputError::InvalidField {
            field,
            reason: format!("must be a string, not {}", kind(other)),
        }),
    }
}

fn required_text(object: &Map<String, Value>, field: &'static str) -> Result<String, InputError> {
    optional_text(object, field)?.ok_or(InputError::MissingField(field))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn environment(object: &Map<String, Value>) -> Result<BTreeMap<String, String>, InputError> {
    let entries = match object.get("environment") {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(entries)) => entries,
        Some(other) => {
            return Err(InputError::InvalidField {
                field: "environment",
                reason: format!(
                    "must be an object of names to string values, not {}",
                    kind(other)
                ),
            })
        }
    };
    let mut variables = BTreeMap::new();
    for (name, value) in entries {
        let valid_name = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(InputError::InvalidEnvironment {
                name: name.clone(),
                reason: "is not a valid variable name (letters, digits and _, not starting with a digit)",
            });
        }
        match value {
            Value::String(text) => {
                variables.insert(name.clone(), text.clone());
            }
            _ => {
                return Err(InputError::InvalidEnvironment {
                    name: name.clone(),
                    reason: "must be a string (quote numbers and booleans)",
                })
            }
        }
    }
    Ok(variables)
}

fn steps(object: &Map<String, Value>) -> Result<StepPlan, InputError> {
    let items = match object.get("steps") {
        None | Some(Value::Null) => return Ok(StepPlan::default()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(InputError::InvalidField {
                field: "steps",
                reason: format!("must be an array of percentages, not {}", kind(other)),
            })
        }
    };
    let mut numbers = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let number = item.as_i64().ok_or_else(|| InputError::InvalidField {
            field: "steps",
            reason: format!("item {index} must be a whole number, not {item}"),
        })?;
        numbers.push(number);
    }
    Ok(StepPlan::new(numbers)?)
}

/// The longest each approval may wait so that `steps` approvals, and the
/// margin, fit in one execution.
pub fn max_approval_timeout(steps: usize) -> u64 {
    (EXECUTION_LIMIT_SECONDS - EXECUTION_MARGIN_SECONDS) / (steps.max(1) as u64)
}

pub(crate) fn alarms(object: &Map<String, Value>) -> Result<Vec<String>, InputError> {
    let invalid = |reason: String| InputError::InvalidField {
        field: "alarms",
        reason,
    };
    let items = match object.get("alarms") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(invalid(format!(
                "must be an array of CloudWatch alarm names, not {}",
                kind(other)
            )))
        }
    };
    if items.len() > MAX_ALARMS {
        return Err(invalid(format!("may name at most {MAX_ALARMS} alarms")));
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let name = item
            .as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= MAX_ALARM_NAME_LEN)
            .filter(|n| !n.chars().any(char::is_control))
            .ok_or_else(|| {
                invalid(format!(
                    "item {index} must be an alarm name (1 to {MAX_ALARM_NAME_LEN} characters), not {item}"
                ))
            })?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

pub(crate) fn max_error_rate_increase(
    object: &Map<String, Value>,
) -> Result<Option<PercentagePoints>, InputError> {
    match object.get("maxErrorRateIncrease") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_f64()
            .and_then(PercentagePoints::new)
            .map(Some)
            .ok_or_else(|| InputError::InvalidField {
                field: "maxErrorRateIncrease",
                reason: format!("must be a number of percentage points from 0 to 100, not {value}"),
            }),
    }
}

pub(crate) fn min_requests(object: &Map<String, Value>) -> Result<Option<u64>, InputError> {
    match object.get("minRequests") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=MAX_MIN_REQUESTS).contains(n))
            .map(Some)
            .ok_or_else(|| InputError::InvalidField {
                field: "minRequests",
                reason: format!("must be a whole number from 1 to {MAX_MIN_REQUESTS}, not {value}"),
            }),
    }
}

/// The longest bake after a promotion: a day.
const MAX_BAKE_MINUTES: u64 = 1_440;

fn bake_minutes(object: &Map<String, Value>) -> Result<Option<u64>, InputError> {
    match object.get("bakeMinutes") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=MAX_BAKE_MINUTES).contains(n))
            .map(Some)
            .ok_or_else(|| InputError::InvalidField {
                field: "bakeMinutes",
                reason: format!(
                    "must be a whole number of minutes from 1 to {MAX_BAKE_MINUTES}, not {value}"
                ),
            }),
    }
}

pub(crate) fn slo_target(
    object: &Map<String, Value>,
) -> Result<Option<PercentagePoints>, InputError> {
    match object.get("sloTarget") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_f64()
            .filter(|t| *t > 0.0 && *t < 100.0)
            .and_then(PercentagePoints::new)
            .map(Some)
            .ok_or_else(|| InputError::InvalidField {
                field: "sloTarget",
                reason: format!(
                    "must be a percentage above 0 and below 100 (e.g. 99.9), not {value}"
                ),
            }),
    }
}

pub(crate) fn approval_timeout(object: &Map<String, Value>) -> Result<u64, InputError> {
    match object.get("approvalTimeoutSeconds") {
        None | Some(Value::Null) => Ok(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
        Some(value) => value
            .as_u64()
            .filter(|s| (1..=MAX_APPROVAL_TIMEOUT_SECONDS).contains(s))
            .ok_or_else(|| InputError::InvalidApprovalTimeout(value.to_string())),
    }
}

impl DeploymentRequest {
    /// Validates an execution input. The first defect found is returned.
    pub fn from_json(input: &Value) -> Result<DeploymentRequest, InputError> {
        let object = input.as_object().ok_or(InputError::NotAnObject)?;
        if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(InputError::UnknownField(unknown.clone()));
        }
        let cluster = required_text(object, "cluster")?;
        let service = required_text(object, "service")?;
        let stack = required_text(object, "stack")?;
        let image = optional_text(object, "image")?;
        if image.as_ref().is_some_and(|i| i.len() > MAX_IMAGE_LEN) {
            return Err(InputError::InvalidField {
                field: "image",
                reason: format!("must be at most {MAX_IMAGE_LEN} characters"),
            });
        }
        let image_tag = optional_text(object, "imageTag")?;
        if image_tag.is_some() && image.is_none() {
            return Err(InputError::InvalidField {
                field: "imageTag",
                reason: "names the tag of `image`, which is absent".into(),
            });
        }
        let container = optional_text(object, "container")?;
        let environment = environment(object)?;
        if image.is_none() && environment.is_empty() {
            return Err(InputError::NothingToDeploy);
        }
        let steps = steps(object)?;
        let approval_timeout_seconds = approval_timeout(object)?;
        let max = max_approval_timeout(steps.len());
        if approval_timeout_seconds > max {
            return Err(InputError::ApprovalsOutlastExecution {
                timeout: approval_timeout_seconds,
                steps: steps.len(),
                max,
            });
        }
        let alarms = alarms(object)?;
        let max_error_rate_increase = max_error_rate_increase(object)?;
        let min_requests = min_requests(object)?;
        let slo_target = slo_target(object)?;
        let bake_minutes = bake_minutes(object)?;
        let approval_policy = match object.get("approvalPolicy") {
            None | Some(Value::Null) => None,
            Some(value) => Some(ApprovalPolicy::from_json(value)?),
        };
        let started_by = optional_text(object, "startedBy")?;
        Ok(DeploymentRequest {
            cluster,
            service,
            stack,
            image,
            image_tag,
            container,
            environment,
            steps,
            approval_timeout_seconds,
            alarms,
            max_error_rate_increase,
            min_requests,
            slo_target,
            bake_minutes,
            approval_policy,
            started_by,
        })
    }

    /// What the evidence is judged against (the analysis is off without
    /// `maxErrorRateIncrease`).
    pub fn analysis_limits(&self) -> AnalysisLimits {
        AnalysisLimits {
            max_error_rate_increase: self.max_error_rate_increase,
            min_requests: self.min_requests.unwrap_or(DEFAULT_MIN_REQUESTS),
            slo_target: self.slo_target,
        }
    }

    /// Validates an execution input as a caller gives it: as
    /// [`DeploymentRequest::from_json`], and without `startedBy`, which
    /// only ecs-canary sets (a caller could name someone else).
    pub fn from_execution_input(input: &Value) -> Result<DeploymentRequest, InputError> {
        if input.get("startedBy").is_some() {
            return Err(InputError::InvalidField {
                field: "startedBy",
                reason: "is set by ecs-canary from the caller's identity (`ecs-canary start`), never by the input".into(),
            });
        }
        DeploymentRequest::from_json(input)
    }

    /// The image and the tag it was pushed as, for people.
    pub fn image_text(&self) -> Option<String> {
        let image = self.image.as_ref()?;
        Some(match &self.image_tag {
            Some(tag) => format!("{image} (tag {tag})"),
            None => image.clone(),
        })
    }

    /// This request, whose secret values travel hidden (see
    /// [`crate::SecretNames`]), with each hidden value taken from
    /// `original`: the execution's input as it was given. `None` when the
    /// input is another service's or lacks a value the request hides.
    pub fn with_hidden_values_from(
        &self,
        original: &DeploymentRequest,
    ) -> Option<DeploymentRequest> {
        let same = (&self.cluster, &self.service, &self.stack)
            == (&original.cluster, &original.service, &original.stack);
        if !same {
            return None;
        }
        let mut environment = self.environment.clone();
        for (name, value) in environment.iter_mut() {
            if value == HIDDEN_VALUE {
                *value = original.environment.get(name)?.clone();
            }
        }
        Some(DeploymentRequest {
            environment,
            ..self.clone()
        })
    }

    pub fn from_json_str(text: &str) -> Result<DeploymentRequest, InputError> {
        let value: Value = serde_json::from_str(text).map_err(|_| InputError::NotAnObject)?;
        DeploymentRequest::from_json(&value)
    }
}

impl TryFrom<Value> for DeploymentRequest {
    type Error = InputError;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        DeploymentRequest::from_json(&value)
    }
}

impl<'de> serde::Deserialize<'de> for DeploymentRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        DeploymentRequest::from_json(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_analysis_fields_are_a_limit_in_points_and_a_number_of_requests() {
        let base = json!({"cluster": "c", "service": "s", "stack": "st", "image": "i:1"});
        let plain = DeploymentRequest::from_json(&base).unwrap();
        assert_eq!(plain.analysis_limits().max_error_rate_increase, None);
        assert_eq!(plain.analysis_limits().min_requests, DEFAULT_MIN_REQUESTS);
        let mut input = base.clone();
        input["maxErrorRateIncrease"] = json!(1.5);
        input["minRequests"] = json!(500);
        let request = DeploymentRequest::from_json(&input).unwrap();
        let limits = request.analysis_limits();
        assert_eq!(
            limits.max_error_rate_increase.map(|p| p.points()),
            Some(1.5)
        );
        assert_eq!(limits.min_requests, 500);
        assert_eq!(limits.slo_target, None);
        input["sloTarget"] = json!(99.9);
        let request = DeploymentRequest::from_json(&input).unwrap();
        assert_eq!(
            request.analysis_limits().slo_target.map(|t| t.points()),
            Some(99.9)
        );
        for wrong in [json!(100), json!(0), json!("99.9"), json!(-1)] {
            let mut bad = input.clone();
            bad["sloTarget"] = wrong.clone();
            let error = DeploymentRequest::from_json(&bad).unwrap_err();
            assert!(error.to_string().contains("sloTarget"), "{wrong}: {error}");
        }
        let round = serde_json::to_value(&request).unwrap();
        assert_eq!(round["maxErrorRateIncrease"], json!(1.5));
        assert_eq!(round["sloTarget"], json!(99.9));
        assert_eq!(DeploymentRequest::from_json(&round).unwrap(), request);
        for (field, bad) in [
            ("maxErrorRateIncrease", json!(-1)),
            ("maxErrorRateIncrease", json!(101)),
            ("maxErrorRateIncrease", json!("2")),
            ("minRequests", json!(0)),
            ("minRequests", json!(1.5)),
            ("minRequests", json!("100")),
            ("bakeMinutes", json!(0)),
            ("bakeMinutes", json!(1441)),
            ("bakeMinutes", json!("30")),
        ] {
            let mut input = base.clone();
            input[field] = bad.clone();
            let error = DeploymentRequest::from_json(&input).unwrap_err();
            assert_eq!(error.error_type(), "InvalidField", "{field} {bad}");
            assert!(error.to_string().contains(field), "{error}");
        }
    }

    #[test]
    fn an_execution_input_may_not_name_its_initiator() {
        let base = json!({"cluster": "c", "service": "s", "stack": "st", "image": "i:1"});
        assert!(DeploymentRequest::from_execution_input(&base).is_ok());
        let mut forged = base.clone();
        forged["startedBy"] = json!("arn:aws:iam::123456789012:user/someone-else");
        let error = DeploymentRequest::from_execution_input(&forged).unwrap_err();
        assert_eq!(error.error_type(), "InvalidField");
        assert!(error.to_string().contains("startedBy"), "{error}");
        // A deployment's own serialized request still carries it.
        let request = DeploymentRequest::from_json(&forged).unwrap();
        assert_eq!(
            request.started_by.as_deref(),
            Some("arn:aws:iam::123456789012:user/someone-else")
        );
    }

    #[test]
    fn alarms_are_names_of_cloudwatch_alarms() {
        let base = json!({"cluster": "c", "service": "s", "stack": "st", "image": "i:1"});
        let with = |alarms: Value| {
            let mut input = base.clone();
            input["alarms"] = alarms;
            DeploymentRequest::from_json(&input)
        };
        let request = with(json!(["web-5xx", " web-latency ", "web-5xx"])).unwrap();
        assert_eq!(request.alarms, ["web-5xx", "web-latency"]);
        assert!(DeploymentRequest::from_json(&base)
            .unwrap()
            .alarms
            .is_empty());
        for bad in [
            json!("web-5xx"),
            json!([""]),
            json!([1]),
            json!(["a".repeat(256)]),
        ] {
            let error = with(bad.clone()).unwrap_err();
            assert_eq!(error.error_type(), "InvalidField", "{bad}");
            assert!(error.to_string().contains("`alarms`"), "{error}");
        }
        let too_many: Vec<String> = (0..101).map(|i| format!("a{i}")).collect();
        assert_eq!(
            with(json!(too_many)).unwrap_err().error_type(),
            "InvalidField"
        );
        // It round-trips through the deployment handed between states.
        let round = serde_json::to_value(&request).unwrap();
        assert_eq!(DeploymentRequest::from_json(&round).unwrap(), request);
    }

    fn design_example() -> Value {
        json!({
            "cluster": "mattctest",
            "service": "myservice",
            "stack": "ecs-task-test-2",
            "image": "octopussamples/helloworldwithversion:1.0.1",
            "container": "mycontainer",
            "environment": { "APPVERSION": "1.0.1" },
            "steps": [10, 50],
            "approvalTimeoutSeconds": 86400
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut input = design_example();
        input[field] = value;
        input
    }

    fn without(field: &str) -> Value {
        let mut input = design_example();
        input.as_object_mut().unwrap().remove(field);
        input
    }

    fn error_type(input: Value) -> &'static str {
        DeploymentRequest::from_json(&input)
            .unwrap_err()
            .error_type()
    }

    #[test]
    fn the_design_example_is_valid() {
        let request = DeploymentRequest::from_json(&design_example()).unwrap();
        assert_eq!(request.cluster, "mattctest");
        assert_eq!(
            request.image.as_deref(),
            Some("octopussamples/helloworldwithversion:1.0.1")
        );
        assert_eq!(request.container.as_deref(), Some("mycontainer"));
        assert_eq!(
            request.environment.get("APPVERSION").map(String::as_str),
            Some("1.0.1")
        );
        assert_eq!(request.steps.percentages(), &[10, 50]);
        assert_eq!(request.approval_timeout_seconds, 86400);
    }

    #[test]
    fn defaults_apply() {
        let input = json!({"cluster": "c", "service": "s", "stack": "st", "image": "repo/app:2"});
        let request = DeploymentRequest::from_json(&input).unwrap();
        assert_eq!(request.steps, StepPlan::default());
        assert_eq!(
            request.approval_timeout_seconds,
            DEFAULT_APPROVAL_TIMEOUT_SECONDS
        );
        assert_eq!(request.container, None);
        assert!(request.environment.is_empty());
    }

    #[test]
    fn hidden_values_come_back_only_from_the_same_services_input() {
        let input = json!({"cluster": "c", "service": "s", "stack": "st",
            "environment": {"APPVERSION": "2", "DB_PASSWORD": "hunter2"}});
        let original = DeploymentRequest::from_json(&input).unwrap();
        let mut carried = original.clone();
        carried.environment = crate::SecretNames::default().hide(&original.environment);
        assert_eq!(carried.environment["DB_PASSWORD"], HIDDEN_VALUE);
        assert_eq!(
            carried.with_hidden_values_from(&original),
            Some(original.clone())
        );
        let mut elsewhere = original.clone();
        elsewhere.service = "other".into();
        assert_eq!(carried.with_hidden_values_from(&elsewhere), None);
        let mut without = original.clone();
        without.environment.remove("DB_PASSWORD");
        assert_eq!(carried.with_hidden_values_from(&without), None);
    }

    #[test]
    fn environment_alone_is_enough() {
        let request = DeploymentRequest::from_json(&without("image")).unwrap();
        assert_eq!(request.image, None);
    }

    #[test]
    fn round_trips_through_json() {
        let request = DeploymentRequest::from_json(&design_example()).unwrap();
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(DeploymentRequest::from_json_str(&text).unwrap(), request);
    }

    #[test]
    fn every_defect_has_its_name() {
        assert_eq!(error_type(json!([1, 2])), "InvalidInput");
        assert_eq!(
            DeploymentRequest::from_json_str("{not json")
                .unwrap_err()
                .error_type(),
            "InvalidInput"
        );
        for field in ["cluster", "service", "stack"] {
            assert_eq!(
                DeploymentRequest::from_json(&without(field)),
                Err(InputError::MissingField(field))
            );
            assert_eq!(error_type(with(field, json!(""))), "InvalidField");
            assert_eq!(error_type(with(field, json!("  "))), "InvalidField");
            assert_eq!(error_type(with(field, json!(7))), "InvalidField");
            assert_eq!(error_type(with(field, json!("two words"))), "InvalidField");
        }
        let mut neither = without("image");
        neither.as_object_mut().unwrap().remove("environment");
        assert_eq!(
            DeploymentRequest::from_json(&neither),
            Err(InputError::NothingToDeploy)
        );
        assert!(DeploymentRequest::from_json(&with("environment", json!({}))).is_ok());
        assert_eq!(
            error_type(with("image", json!("x".repeat(256)))),
            "InvalidField"
        );
        assert_eq!(error_type(with("container", json!(["a"]))), "InvalidField");
        assert_eq!(
            error_type(with("environment", json!("APPVERSION=1"))),
            "InvalidField"
        );
        assert_eq!(
            error_type(with("environment", json!({"APPVERSION": 1}))),
            "InvalidEnvironment"
        );
        assert_eq!(
            error_type(with("environment", json!({"1X": "a"}))),
            "InvalidEnvironment"
        );
        assert_eq!(
            error_type(with("environment", json!({"A-B": "a"}))),
            "InvalidEnvironment"
        );
        assert_eq!(error_type(with("steps", json!([50, 10]))), "InvalidSteps");
        assert_eq!(error_type(with("steps", json!([]))), "InvalidSteps");
        assert_eq!(error_type(with("steps", json!([0, 10]))), "InvalidSteps");
        assert_eq!(error_type(with("steps", json!([10, 100]))), "InvalidSteps");
        assert_eq!(error_type(with("steps", json!([10.5]))), "InvalidField");
        assert_eq!(error_type(with("steps", json!("10,50"))), "InvalidField");
        assert_eq!(
            error_type(with("approvalTimeoutSeconds", json!(0))),
            "InvalidApprovalTimeout"
        );
        assert_eq!(
            error_type(with("approvalTimeoutSeconds", json!(-1))),
            "InvalidApprovalTimeout"
        );
        assert_eq!(
            error_type(with("approvalTimeoutSeconds", json!("60"))),
            "InvalidApprovalTimeout"
        );
        assert_eq!(
            error_type(with(
                "approvalTimeoutSeconds",
                json!(MAX_APPROVAL_TIMEOUT_SECONDS + 1)
            )),
            "InvalidApprovalTimeout"
        );
        assert_eq!(
            DeploymentRequest::from_json(&with("imgae", json!("x"))),
            Err(InputError::UnknownField("imgae".into()))
        );
    }

    #[test]
    fn approvals_must_fit_in_one_execution() {
        let input = |timeout: u64, steps: Value| {
            json!({"cluster": "c", "service": "s", "stack": "st", "image": "i:1",
                   "steps": steps, "approvalTimeoutSeconds": timeout})
        };
        // One step may wait almost a year; three steps a third of that.
        let one = max_approval_timeout(1);
        assert!(DeploymentRequest::from_json(&input(one, json!([50]))).is_ok());
        let err = DeploymentRequest::from_json(&input(one, json!([10, 25, 50]))).unwrap_err();
        assert_eq!(err.error_type(), "InvalidApprovalTimeout");
        assert!(err.to_string().contains("one-year limit"), "{err}");
        let three = max_approval_timeout(3);
        assert!(DeploymentRequest::from_json(&input(three, json!([10, 25, 50]))).is_ok());
        assert!(DeploymentRequest::from_json(&input(three + 1, json!([10, 25, 50]))).is_err());
    }

    #[test]
    fn an_image_tag_goes_with_an_image() {
        let mut input = json!({"cluster": "c", "service": "s", "stack": "st",
            "image": "repo/app@sha256:abcd", "imageTag": "1.0.1"});
        let request = DeploymentRequest::from_json(&input).unwrap();
        assert_eq!(
            request.image_text().as_deref(),
            Some("repo/app@sha256:abcd (tag 1.0.1)")
        );
        input.as_object_mut().unwrap().remove("image");
        input["environment"] = json!({"A": "1"});
        assert_eq!(
            DeploymentRequest::from_json(&input)
                .unwrap_err()
                .error_type(),
            "InvalidField"
        );
    }

    #[test]
    fn an_empty_environment_without_image_is_nothing_to_deploy() {
        let mut input = without("image");
        input["environment"] = json!({});
        assert_eq!(
            DeploymentRequest::from_json(&input),
            Err(InputError::NothingToDeploy)
        );
    }

    #[test]
    fn messages_name_the_field() {
        let err = DeploymentRequest::from_json(&without("stack")).unwrap_err();
        assert_eq!(err.to_string(), "`stack` is required");
        let err = DeploymentRequest::from_json(&with("steps", json!([50, 10]))).unwrap_err();
        assert!(err.to_string().contains("strictly increase"), "{err}");
    }
}
