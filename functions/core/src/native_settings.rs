//! A service's own settings for the pauses of ECS's own deployments, read
//! from its tags, so that the service's template (or `ecs-canary enroll`)
//! keeps them beside the service: how long a person may take, the alarms
//! that guard it, the automatic analysis's thresholds, and an approval
//! policy that may only narrow the stack's.
//!
//! ECS tag values take letters, digits, spaces and `+ - = . _ : / @` only
//! (no commas, no JSON): lists are space-separated. Each value is checked
//! as the same field of an execution input is; a value that is not valid
//! is named (the tag and why), and the gate asks nobody: it rolls back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use thiserror::Error;

use crate::input::{alarms, approval_timeout, max_error_rate_increase, min_requests, slo_target};
use crate::{
    AnalysisLimits, ApprovalPolicy, ErrorKind, ErrorName, InputError, PercentagePoints,
    DEFAULT_MIN_REQUESTS,
};

/// The CloudWatch alarms that guard the service's pauses (space-separated).
pub const ALARMS_TAG: &str = "ecs-canary:alarms";
/// How long a person may take at each pause, in seconds.
pub const APPROVAL_TIMEOUT_TAG: &str = "ecs-canary:approval-timeout";
/// The automatic analysis: the new revision's 5xx rate may exceed the
/// current one's by at most this many percentage points when a person approves.
pub const MAX_ERROR_RATE_INCREASE_TAG: &str = "ecs-canary:max-error-rate-increase";
/// The requests the new revision must have served before the analysis judges.
pub const MIN_REQUESTS_TAG: &str = "ecs-canary:min-requests";
/// The availability objective (percent) whose error-budget burn each
/// verdict shows (shown only).
pub const SLO_TARGET_TAG: &str = "ecs-canary:slo-target";
/// The channels a decision may come through (`email slack cli`).
pub const CHANNELS_TAG: &str = "ecs-canary:channels";
/// The IAM principals (ARNs) who may decide on the command line.
pub const CLI_PRINCIPALS_TAG: &str = "ecs-canary:cli-principals";
/// The Slack user ids who may decide.
pub const SLACK_USERS_TAG: &str = "ecs-canary:slack-users";

/// A tag whose value cannot be a setting.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the service's tag {tag} {reason}")]
pub struct SettingInvalid {
    pub tag: &'static str,
    pub reason: String,
}

impl ErrorName for SettingInvalid {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::InvalidField
    }
}

/// The settings a service's tags give its pauses (the stack's defaults
/// where a tag says nothing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NativeSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate_increase: Option<PercentagePoints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_target: Option<PercentagePoints>,
    /// The service's own policy (channels, command-line principals, Slack
    /// users), held to the stack's when it is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<ApprovalPolicy>,
}

fn words(value: &str) -> Vec<Value> {
    value.split_whitespace().map(|w| json!(w)).collect()
}

/// A tag's value as the same field of an execution input (a number when
/// it reads as one), to be checked there.
fn field(input_field: &str, value: Value) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert(input_field.to_string(), value);
    object
}

fn number(raw: &str) -> Value {
    if let Ok(whole) = raw.parse::<u64>() {
        return Value::from(whole);
    }
    match raw.parse::<f64>() {
        // (NaN and infinity have no JSON number: they stay text, and are refused.)
        Ok(number) if number.is_finite() => Value::from(number),
        _ => Value::String(raw.to_string()),
    }
}

/// The input field's defect, told of the tag.
fn named(tag: &'static str, raw: &str, error: InputError) -> SettingInvalid {
    SettingInvalid {
        tag,
        reason: match error {
            InputError::InvalidField { reason, .. } => reason,
            InputError::InvalidApprovalTimeout(_) => {
                format!("must be a whole number of seconds from 1 to a year, not `{raw}`")
            }
            other => other.to_string(),
        },
    }
}

impl NativeSettings {
    /// The settings `tags` give; the first tag that is not valid, named.
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Result<NativeSettings, SettingInvalid> {
        let tag = |name: &str| tags.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut settings = NativeSettings::default();
        if let Some(raw) = tag(APPROVAL_TIMEOUT_TAG) {
            let object = field("approvalTimeoutSeconds", number(raw));
            settings.approval_timeout_seconds =
                Some(approval_timeout(&object).map_err(|e| named(APPROVAL_TIMEOUT_TAG, raw, e))?);
        }
        if let Some(raw) = tag(ALARMS_TAG) {
            let object = field("alarms", Value::Array(words(raw)));
            settings.alarms = alarms(&object).map_err(|e| named(ALARMS_TAG, raw, e))?;
        }
        if let Some(raw) = tag(MAX_ERROR_RATE_INCREASE_TAG) {
            let object = field("maxErrorRateIncrease", number(raw));
            settings.max_error_rate_increase = max_error_rate_increase(&object)
                .map_err(|e| named(MAX_ERROR_RATE_INCREASE_TAG, raw, e))?;
        }
        if let Some(raw) = tag(MIN_REQUESTS_TAG) {
            let object = field("minRequests", number(raw));
            settings.min_requests =
                min_requests(&object).map_err(|e| named(MIN_REQUESTS_TAG, raw, e))?;
        }
        if let Some(raw) = tag(SLO_TARGET_TAG) {
            let object = field("sloTarget", number(raw));
            settings.slo_target = slo_target(&object).map_err(|e| named(SLO_TARGET_TAG, raw, e))?;
        }
        let mut policy = Map::new();
        for (tag_name, policy_field) in [
            (CHANNELS_TAG, "channels"),
            (CLI_PRINCIPALS_TAG, "cliPrincipals"),
            (SLACK_USERS_TAG, "slackUsers"),
        ] {
            if let Some(raw) = tag(tag_name) {
                policy.insert(policy_field.to_string(), Value::Array(words(raw)));
            }
        }
        if !policy.is_empty() {
            let parsed = ApprovalPolicy::from_json(&Value::Object(policy.clone()));
            settings.approval_policy = Some(parsed.map_err(|error| {
                let tag = match error.field {
                    "channels" => CHANNELS_TAG,
                    "cliPrincipals" => CLI_PRINCIPALS_TAG,
                    _ => SLACK_USERS_TAG,
                };
                SettingInvalid {
                    tag,
                    reason: error.reason,
                }
            })?);
        }
        Ok(settings)
    }

    /// The automatic analysis's limits.
    pub fn analysis_limits(&self) -> AnalysisLimits {
        AnalysisLimits {
            max_error_rate_increase: self.max_error_rate_increase,
            min_requests: self.min_requests.unwrap_or(DEFAULT_MIN_REQUESTS),
            slo_target: self.slo_target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Channel;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_tags_are_the_stacks_defaults() {
        let settings = NativeSettings::from_tags(&BTreeMap::new()).expect("valid");
        assert_eq!(settings, NativeSettings::default());
        assert_eq!(
            settings.analysis_limits().min_requests,
            DEFAULT_MIN_REQUESTS
        );
    }

    #[test]
    fn every_tag_is_read_as_the_same_input_field() {
        let settings = NativeSettings::from_tags(&tags(&[
            (APPROVAL_TIMEOUT_TAG, "3600"),
            (ALARMS_TAG, " web-5xx  web-p99 "),
            (MAX_ERROR_RATE_INCREASE_TAG, "0.5"),
            (MIN_REQUESTS_TAG, "500"),
            (SLO_TARGET_TAG, "99.9"),
            (CHANNELS_TAG, "cli slack"),
            (CLI_PRINCIPALS_TAG, "arn:aws:iam::1:role/releasers"),
            ("Team", "payments"),
        ]))
        .expect("valid");
        assert_eq!(settings.approval_timeout_seconds, Some(3600));
        assert_eq!(settings.alarms, vec!["web-5xx", "web-p99"]);
        assert_eq!(
            settings.max_error_rate_increase.map(|p| p.points()),
            Some(0.5)
        );
        assert_eq!(settings.analysis_limits().min_requests, 500);
        assert_eq!(
            settings.analysis_limits().slo_target.map(|t| t.points()),
            Some(99.9)
        );
        let policy = settings.approval_policy.clone().expect("a policy");
        assert_eq!(policy.channels, vec![Channel::Cli, Channel::Slack]);
        assert_eq!(policy.cli_principals, vec!["arn:aws:iam::1:role/releasers"]);
    }

    #[test]
    fn a_value_that_is_no_setting_names_its_tag() {
        for (tag, value) in [
            (APPROVAL_TIMEOUT_TAG, "1h"),
            (APPROVAL_TIMEOUT_TAG, "0"),
            (MAX_ERROR_RATE_INCREASE_TAG, "-1"),
            (MAX_ERROR_RATE_INCREASE_TAG, "lots"),
            (MAX_ERROR_RATE_INCREASE_TAG, "NaN"),
            (MIN_REQUESTS_TAG, "0"),
            (SLO_TARGET_TAG, "100"),
            (SLO_TARGET_TAG, "99.9%"),
            (CHANNELS_TAG, "email carrier-pigeon"),
        ] {
            let error = NativeSettings::from_tags(&tags(&[(tag, value)]))
                .expect_err(&format!("{tag}={value} is not valid"));
            assert_eq!(error.tag, tag);
            assert_eq!(error.error_type(), "InvalidField");
            assert!(error.to_string().contains(tag), "{error}");
        }
    }
}
