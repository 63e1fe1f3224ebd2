//! Who may decide a step: the approval policy, and the people and guards
//! that decide.
//!
//! A policy names the channels a decision may come through, the Slack users
//! (and the workspace) and the IAM principals allowed, and whether whoever
//! started a deployment may approve it. It is set per deployment (input
//! `approvalPolicy`, or a trigger mapping) over defaults the deployment
//! template gives every function.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::{glob_matches, ErrorKind, ErrorName};

/// A way to decide a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// The link in an email (whoever holds the link).
    Email,
    /// A button in Slack (a Slack user, signature verified).
    Slack,
    /// The command line (the caller's IAM identity).
    Cli,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Slack, Channel::Cli];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Slack => "slack",
            Channel::Cli => "cli",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// Who is deciding, as far as the channel can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approver {
    pub channel: Channel,
    /// What people are shown and the history records.
    pub identity: String,
    /// The Slack user id or the IAM principal ARN (none for an email link).
    pub principal: Option<String>,
    /// The Slack workspace (team id).
    pub team: Option<String>,
}

/// Who decides through a link in an email.
pub const EMAIL_LINK: &str = "email link";

impl Approver {
    pub fn email_link() -> Approver {
        Approver {
            channel: Channel::Email,
            identity: EMAIL_LINK.into(),
            principal: None,
            team: None,
        }
    }

    pub fn slack(user_id: &str, user_name: Option<&str>, team: Option<&str>) -> Approver {
        Approver {
            channel: Channel::Slack,
            identity: match user_name {
                Some(name) => format!("Slack user @{name} ({user_id})"),
                None => format!("Slack user {user_id}"),
            },
            principal: Some(user_id.to_string()),
            team: team.map(str::to_string),
        }
    }

    /// An IAM caller (`sts:GetCallerIdentity`'s ARN).
    pub fn cli(principal_arn: &str) -> Approver {
        Approver {
            channel: Channel::Cli,
            identity: principal_arn.to_string(),
            principal: Some(principal_arn.to_string()),
            team: None,
        }
    }
}

/// The approval policy. Empty lists allow everyone the channel can identify.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalPolicy {
    /// The channels a decision may come through (none given: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
    /// Slack user ids allowed to decide (none: any member of the workspace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack_users: Vec<String>,
    /// The Slack workspace (team id) decisions must come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_team: Option<String>,
    /// IAM principal ARNs (or `*` patterns) allowed on the command line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cli_principals: Vec<String>,
    /// Whoever started the deployment may not approve it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separation_of_duties: Option<bool>,
    /// Image repositories (or `*` patterns, e.g.
    /// `123456789012.dkr.ecr.*.amazonaws.com/payments/*`) a deployment may
    /// run; none: any. Checked before anything changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_images: Vec<String>,
    /// Under separation of duties, a deployment whose initiator is unknown
    /// (started from the console, or by a push whose pusher is not known)
    /// is refused at the start unless this is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_unknown_initiator: Option<bool>,
    /// IAM principal ARNs (or `*` patterns) allowed to start, abort and
    /// unlock through the operator endpoint (none: whoever may call it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operators: Vec<String>,
    /// One person's identities across channels, so that separation of
    /// duties holds whichever channel they start and approve from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Person>,
    /// A person approves the plan and the release before anything runs:
    /// no task definition, stack update or candidate task set until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_before_start: Option<bool>,
    /// Every step is approved on its own: `approve --to-promotion`, which
    /// approves every remaining step at once, is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_by_step: Option<bool>,
}

/// One person: their IAM principals (ARNs or `*` patterns) and Slack user ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Person {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iam: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack: Vec<String>,
}

impl Person {
    /// Whether `principal` (an IAM ARN or a Slack user id) is this person.
    pub fn is(&self, principal: &str) -> bool {
        self.slack.iter().any(|id| id == principal)
            || self
                .iam
                .iter()
                .any(|pattern| glob_matches(pattern, principal))
    }
}

/// An approval to promotion under a policy that wants every step approved
/// on its own.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the approval policy wants every step approved on its own (`stepByStep`): approve this step, not all the rest at once")]
pub struct SkipNotAllowed;

impl ErrorName for SkipNotAllowed {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::SkipNotAllowed
    }
}

/// Someone the policy does not let start, abort or unlock.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{identity} is not among the operators of {service} (`approvalPolicy.operators`)")]
pub struct NotAnOperator {
    pub identity: String,
    pub service: String,
}

impl ErrorName for NotAnOperator {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::NotAnOperator
    }
}

/// Separation of duties without a known initiator: nobody could be kept from
/// approving their own release.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("separation of duties needs to know who started a deployment, and nobody is named (`startedBy`): start it with `ecs-canary start`, or set `allowUnknownInitiator` in the stack's policy")]
pub struct InitiatorUnknown;

impl ErrorName for InitiatorUnknown {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::InitiatorUnknown
    }
}

/// The repository of an image reference: without its digest (`@sha256:…`)
/// and its tag (`:1.0.1`, the last `:` after the last `/`, so that a
/// registry's port stays), e.g. `registry:5000/team/app` for
/// `registry:5000/team/app:1.0.1`.
pub fn image_repository(image: &str) -> &str {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let last_part = image.rfind('/').map_or(0, |slash| slash + 1);
    match image[last_part..].rfind(':') {
        Some(colon) => &image[..last_part + colon],
        None => image,
    }
}

/// An image whose repository no pattern of `allowedImages` matches.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("image {image} is not allowed: its repository {repository} matches none of the policy's `allowedImages` ({allowed})")]
pub struct ImageNotAllowed {
    pub image: String,
    pub repository: String,
    pub allowed: String,
}

impl ErrorName for ImageNotAllowed {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::ImageNotAllowed
    }
}

/// Why a decision is refused. Nothing changes when one is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyRefusal {
    #[error(
        "decisions through {channel} are not allowed for this deployment (allowed: {allowed})"
    )]
    ChannelNotAllowed {
        channel: &'static str,
        allowed: String,
    },
    #[error("{identity} is not among the approvers of this deployment")]
    NotAnApprover { identity: String },
    #[error("the decision comes from Slack workspace {found}, not {expected}")]
    WrongWorkspace { found: String, expected: String },
    #[error("{identity} started this deployment and may not approve it (separation of duties); ask someone else")]
    InitiatorMayNotApprove { identity: String },
    #[error("separation of duties needs a known approver: approve from Slack or the command line")]
    AnonymousApprover,
}

impl ErrorName for PolicyRefusal {
    fn error_kind(&self) -> ErrorKind {
        match self {
            PolicyRefusal::ChannelNotAllowed { .. } => ErrorKind::ChannelNotAllowed,
            PolicyRefusal::NotAnApprover { .. } => ErrorKind::NotAnApprover,
            PolicyRefusal::WrongWorkspace { .. } => ErrorKind::WrongWorkspace,
            PolicyRefusal::InitiatorMayNotApprove { .. } => ErrorKind::InitiatorMayNotApprove,
            PolicyRefusal::AnonymousApprover => ErrorKind::AnonymousApprover,
        }
    }
}

/// Whether a list of `*` patterns admits `text`: an empty list admits
/// everything (the policy says nothing), otherwise one pattern must match.
fn admitted(patterns: &[String], text: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|pattern| glob_matches(pattern, text))
}

/// The first of `own` that no item of a non-empty `floor` covers (an empty
/// floor allows everything).
fn outside<'a, T>(own: &'a [T], floor: &[T], covers: impl Fn(&T, &T) -> bool) -> Option<&'a T> {
    own.iter()
        .find(|item| !floor.is_empty() && !floor.iter().any(|f| covers(f, item)))
}

/// An execution's policy that would let in more than the stack's policy.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`approvalPolicy.{field}` {reason}: a deployment's policy may only narrow the stack's")]
pub struct PolicyBelowFloor {
    pub field: &'static str,
    pub reason: String,
}

impl ErrorName for PolicyBelowFloor {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::PolicyBelowFloor
    }
}

/// A policy field that is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`approvalPolicy.{field}` {reason}")]
pub struct PolicyError {
    pub field: &'static str,
    pub reason: String,
}

const POLICY_FIELDS: [&str; 11] = [
    "channels",
    "slackUsers",
    "slackTeam",
    "cliPrincipals",
    "separationOfDuties",
    "allowedImages",
    "allowUnknownInitiator",
    "operators",
    "people",
    "approveBeforeStart",
    "stepByStep",
];

fn people(object: &Map<String, Value>) -> Result<Vec<Person>, PolicyError> {
    let invalid = |reason: String| PolicyError {
        field: "people",
        reason,
    };
    let Some(value) = object.get("people").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| invalid(format!("must be an array of people, not {value}")))?;
    items
        .iter()
        .map(|item| {
            let entry = item
                .as_object()
                .ok_or_else(|| invalid(format!("must hold objects, not {item}")))?;
            if let Some(unknown) = entry
                .keys()
                .find(|k| !["name", "iam", "slack"].contains(&k.as_str()))
            {
                return Err(invalid(format!(
                    "has a person with field `{unknown}` (expected name, iam, slack)"
                )));
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid(format!("has a person without a `name`: {item}")))?;
            let list = |field: &'static str| {
                texts(entry, field).map_err(|e| invalid(format!("{name}: `{field}` {}", e.reason)))
            };
            let person = Person {
                name: name.to_string(),
                iam: list("iam")?,
                slack: list("slack")?,
            };
            if person.iam.is_empty() && person.slack.is_empty() {
                return Err(invalid(format!("{name} has no `iam` or `slack` identity")));
            }
            Ok(person)
        })
        .collect()
}

fn flag(object: &Map<String, Value>, field: &'static str) -> Result<Option<bool>, PolicyError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(on)) => Ok(Some(*on)),
        Some(other) => Err(PolicyError {
            field,
            reason: format!("must be true or false, not {other}"),
        }),
    }
}

fn texts(object: &Map<String, Value>, field: &'static str) -> Result<Vec<String>, PolicyError> {
    let invalid = |reason: String| PolicyError { field, reason };
    match object.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::trim)
                    .filter(|t| !t.is_empty() && t.len() <= 2048)
                    .map(str::to_string)
                    .ok_or_else(|| invalid(format!("must hold non-empty strings, not {item}")))
            })
            .collect(),
        Some(other) => Err(invalid(format!("must be an array of strings, not {other}"))),
    }
}

impl ApprovalPolicy {
    /// Validates `approvalPolicy` as given in an execution input.
    pub fn from_json(value: &Value) -> Result<ApprovalPolicy, PolicyError> {
        let object = value.as_object().ok_or_else(|| PolicyError {
            field: "",
            reason: "must be an object".into(),
        })?;
        if let Some(unknown) = object.keys().find(|k| !POLICY_FIELDS.contains(&k.as_str())) {
            return Err(PolicyError {
                field: "",
                reason: format!(
                    "has no field `{unknown}` (expected one of: {})",
                    POLICY_FIELDS.join(", ")
                ),
            });
        }
        let channels = texts(object, "channels")?
            .iter()
            .map(|c| {
                Channel::parse(c).ok_or_else(|| PolicyError {
                    field: "channels",
                    reason: format!("names `{c}`; the channels are email, slack and cli"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let slack_team = match object.get("slackTeam") {
            None | Some(Value::Null) => None,
            Some(Value::String(team)) if !team.trim().is_empty() => Some(team.trim().to_string()),
            Some(other) => {
                return Err(PolicyError {
                    field: "slackTeam",
                    reason: format!("must be a Slack team id, not {other}"),
                })
            }
        };
        let separation_of_duties = flag(object, "separationOfDuties")?;
        Ok(ApprovalPolicy {
            channels,
            slack_users: texts(object, "slackUsers")?,
            slack_team,
            cli_principals: texts(object, "cliPrincipals")?,
            separation_of_duties,
            allowed_images: texts(object, "allowedImages")?,
            allow_unknown_initiator: flag(object, "allowUnknownInitiator")?,
            operators: texts(object, "operators")?,
            people: people(object)?,
            approve_before_start: flag(object, "approveBeforeStart")?,
            step_by_step: flag(object, "stepByStep")?,
        })
    }

    /// This policy where it says something, `defaults` elsewhere.
    pub fn over(&self, defaults: &ApprovalPolicy) -> ApprovalPolicy {
        fn pick<T: Clone>(own: &[T], default: &[T]) -> Vec<T> {
            if own.is_empty() { default } else { own }.to_vec()
        }
        ApprovalPolicy {
            channels: pick(&self.channels, &defaults.channels),
            slack_users: pick(&self.slack_users, &defaults.slack_users),
            slack_team: self.slack_team.clone().or(defaults.slack_team.clone()),
            cli_principals: pick(&self.cli_principals, &defaults.cli_principals),
            separation_of_duties: self.separation_of_duties.or(defaults.separation_of_duties),
            allowed_images: pick(&self.allowed_images, &defaults.allowed_images),
            allow_unknown_initiator: self
                .allow_unknown_initiator
                .or(defaults.allow_unknown_initiator),
            operators: pick(&self.operators, &defaults.operators),
            // Both lists: a person named anywhere is one person everywhere
            // (more people can only keep more initiators from approving).
            people: defaults
                .people
                .iter()
                .chain(self.people.iter().filter(|p| !defaults.people.contains(p)))
                .cloned()
                .collect(),
            approve_before_start: self.approve_before_start.or(defaults.approve_before_start),
            step_by_step: self.step_by_step.or(defaults.step_by_step),
        }
    }

    /// This policy (an execution's own) held to `floor` (the stack's
    /// default): it may only narrow it — fewer channels, fewer Slack users,
    /// narrower principal patterns, separation of duties on but never off,
    /// the same workspace — and says what the floor says wherever it says
    /// nothing. Anything wider is [`PolicyBelowFloor`], naming the field.
    pub fn within(&self, floor: &ApprovalPolicy) -> Result<ApprovalPolicy, PolicyBelowFloor> {
        let below = |field: &'static str, reason: String| PolicyBelowFloor { field, reason };
        if let Some(extra) = outside(&self.channels, &floor.channels, |f, c| f == c) {
            return Err(below(
                "channels",
                format!(
                    "adds {}, which the stack's policy does not allow",
                    extra.as_str()
                ),
            ));
        }
        if let Some(extra) = outside(&self.slack_users, &floor.slack_users, |f, u| f == u) {
            return Err(below(
                "slackUsers",
                format!("adds {extra}, who is not among the stack's Slack approvers"),
            ));
        }
        // A pattern is within a floor pattern when the floor pattern matches
        // it as text: its `*` can then only stand where the floor's does.
        if let Some(extra) = outside(&self.cli_principals, &floor.cli_principals, |f, p| {
            glob_matches(f, p)
        }) {
            return Err(below(
                "cliPrincipals",
                format!("adds {extra}, which no principal pattern of the stack's policy covers"),
            ));
        }
        if let (Some(own), Some(stack)) = (&self.slack_team, &floor.slack_team) {
            if own != stack {
                return Err(below(
                    "slackTeam",
                    format!("names {own}; the stack's policy names {stack}"),
                ));
            }
        }
        if let Some(extra) = outside(&self.allowed_images, &floor.allowed_images, |f, p| {
            glob_matches(f, p)
        }) {
            return Err(below(
                "allowedImages",
                format!("adds {extra}, which no image pattern of the stack's policy covers"),
            ));
        }
        if let Some(extra) = outside(&self.operators, &floor.operators, |f, p| glob_matches(f, p)) {
            return Err(below(
                "operators",
                format!("adds {extra}, which no operator pattern of the stack's policy covers"),
            ));
        }
        if self.allow_unknown_initiator == Some(true) && floor.allow_unknown_initiator != Some(true)
        {
            return Err(below(
                "allowUnknownInitiator",
                "may not allow what the stack's policy does not".into(),
            ));
        }
        if floor.approve_before_start == Some(true) && self.approve_before_start == Some(false) {
            return Err(below(
                "approveBeforeStart",
                "may not turn off what the stack's policy turns on".into(),
            ));
        }
        if floor.step_by_step == Some(true) && self.step_by_step == Some(false) {
            return Err(below(
                "stepByStep",
                "may not turn off what the stack's policy turns on".into(),
            ));
        }
        if floor.separation_of_duties == Some(true) && self.separation_of_duties == Some(false) {
            return Err(below(
                "separationOfDuties",
                "may not turn off what the stack's policy turns on".into(),
            ));
        }
        Ok(self.over(floor))
    }

    /// Whether one approval may approve every remaining step at once
    /// (`approve --to-promotion`): not under `stepByStep`.
    pub fn admits_skip(&self) -> Result<(), SkipNotAllowed> {
        if self.step_by_step == Some(true) {
            return Err(SkipNotAllowed);
        }
        Ok(())
    }

    /// Whether decisions may come through `channel` (no channels named: any).
    pub fn allows_channel(&self, channel: Channel) -> bool {
        self.channels.is_empty() || self.channels.contains(&channel)
    }

    /// Whether a deployment started by `initiator` (when known) may start:
    /// under separation of duties, only a known one, unless the policy
    /// allows an unknown one.
    pub fn admits_initiator(&self, initiator: Option<&str>) -> Result<(), InitiatorUnknown> {
        let known = initiator.is_some_and(|who| !who.trim().is_empty());
        if self.separation_of_duties == Some(true)
            && !known
            && self.allow_unknown_initiator != Some(true)
        {
            return Err(InitiatorUnknown);
        }
        Ok(())
    }

    /// Whether `identity` (an IAM principal ARN) may start, abort or unlock
    /// deployments of `service` (no operators named: anyone who may call
    /// the operator endpoint).
    pub fn admits_operator(&self, identity: &str, service: &str) -> Result<(), NotAnOperator> {
        if admitted(&self.operators, identity) {
            return Ok(());
        }
        Err(NotAnOperator {
            identity: identity.to_string(),
            service: service.to_string(),
        })
    }

    /// Whether two principals (IAM ARNs, Slack user ids) are one person:
    /// the same principal, or both identities of one of `people`.
    pub fn same_person(&self, one: &str, other: &str) -> bool {
        one == other || self.people.iter().any(|p| p.is(one) && p.is(other))
    }

    /// Whether a deployment may run `image`: its repository matches one of
    /// `allowedImages` (an empty list allows any).
    pub fn admits_image(&self, image: &str) -> Result<(), ImageNotAllowed> {
        let repository = image_repository(image);
        if admitted(&self.allowed_images, repository) {
            return Ok(());
        }
        Err(ImageNotAllowed {
            image: image.to_string(),
            repository: repository.to_string(),
            allowed: self.allowed_images.join(", "),
        })
    }

    /// Whether `approver` may decide (`approve`: approve rather than reject)
    /// a deployment started by `initiator` (when known). Rejecting is never
    /// refused for being the initiator: anyone allowed may stop their own
    /// release.
    pub fn check(
        &self,
        approver: &Approver,
        approve: bool,
        initiator: Option<&str>,
    ) -> Result<(), PolicyRefusal> {
        if !self.allows_channel(approver.channel) {
            return Err(PolicyRefusal::ChannelNotAllowed {
                channel: approver.channel.as_str(),
                allowed: self
                    .channels
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let principal = approver.principal.as_deref().unwrap_or_default();
        match approver.channel {
            Channel::Slack => {
                if let Some(expected) = &self.slack_team {
                    let found = approver.team.as_deref().unwrap_or("unknown");
                    if found != expected {
                        return Err(PolicyRefusal::WrongWorkspace {
                            found: found.into(),
                            expected: expected.clone(),
                        });
                    }
                }
                if !self.slack_users.is_empty() && !self.slack_users.iter().any(|u| u == principal)
                {
                    return Err(PolicyRefusal::NotAnApprover {
                        identity: approver.identity.clone(),
                    });
                }
            }
            Channel::Cli => {
                if !admitted(&self.cli_principals, principal) {
                    return Err(PolicyRefusal::NotAnApprover {
                        identity: approver.identity.clone(),
                    });
                }
            }
            Channel::Email => {}
        }
        if approve && self.separation_of_duties == Some(true) {
            if approver.principal.is_none() {
                return Err(PolicyRefusal::AnonymousApprover);
            }
            if initiator
                .is_some_and(|who| self.same_person(who, principal) || who == approver.identity)
            {
                return Err(PolicyRefusal::InitiatorMayNotApprove {
                    identity: approver.identity.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ALICE: &str = "arn:aws:sts::123456789012:assumed-role/Deployers/alice";
    const BOB: &str = "arn:aws:sts::123456789012:assumed-role/Deployers/bob";

    fn policy(value: Value) -> ApprovalPolicy {
        ApprovalPolicy::from_json(&value).expect("a valid policy")
    }

    #[test]
    fn an_empty_policy_allows_every_channel() {
        let open = ApprovalPolicy::default();
        for approver in [
            Approver::email_link(),
            Approver::slack("U1", Some("ann"), Some("T1")),
            Approver::cli(ALICE),
        ] {
            assert_eq!(open.check(&approver, true, Some(ALICE)), Ok(()));
        }
    }

    #[test]
    fn channels_users_workspace_and_principals_are_checked() {
        let strict = policy(json!({
            "channels": ["slack", "cli"],
            "slackUsers": ["U1"],
            "slackTeam": "T1",
            "cliPrincipals": ["arn:aws:sts::123456789012:assumed-role/Deployers/*"]
        }));
        let email = strict.check(&Approver::email_link(), false, None);
        assert_eq!(email.map_err(|e| e.error_type()), Err("ChannelNotAllowed"));
        assert_eq!(
            strict.check(&Approver::slack("U1", None, Some("T1")), true, None),
            Ok(())
        );
        assert_eq!(
            strict
                .check(&Approver::slack("U2", Some("eve"), Some("T1")), true, None)
                .map_err(|e| e.to_string()),
            Err("Slack user @eve (U2) is not among the approvers of this deployment".into())
        );
        assert_eq!(
            strict
                .check(&Approver::slack("U1", None, Some("T9")), true, None)
                .map_err(|e| e.error_type()),
            Err("WrongWorkspace")
        );
        assert_eq!(strict.check(&Approver::cli(BOB), true, None), Ok(()));
        let outsider = Approver::cli("arn:aws:iam::123456789012:user/mallory");
        assert_eq!(
            strict
                .check(&outsider, false, None)
                .map_err(|e| e.error_type()),
            Err("NotAnApprover")
        );
    }

    #[test]
    fn the_initiator_may_reject_but_not_approve_under_separation_of_duties() {
        let separated = policy(json!({"separationOfDuties": true}));
        let alice = Approver::cli(ALICE);
        assert_eq!(
            separated
                .check(&alice, true, Some(ALICE))
                .map_err(|e| e.error_type()),
            Err("InitiatorMayNotApprove")
        );
        assert_eq!(separated.check(&alice, false, Some(ALICE)), Ok(()));
        assert_eq!(
            separated.check(&Approver::cli(BOB), true, Some(ALICE)),
            Ok(())
        );
        assert_eq!(
            separated
                .check(&Approver::email_link(), true, Some(ALICE))
                .map_err(|e| e.error_type()),
            Err("AnonymousApprover")
        );
    }

    #[test]
    fn a_deployment_policy_overrides_the_defaults_field_by_field() {
        let defaults = policy(
            json!({"channels": ["email", "slack"], "slackTeam": "T1", "separationOfDuties": true}),
        );
        let own = policy(json!({"channels": ["slack"], "separationOfDuties": false}));
        let merged = own.over(&defaults);
        assert_eq!(merged.channels, vec![Channel::Slack]);
        assert_eq!(merged.slack_team.as_deref(), Some("T1"));
        assert_eq!(merged.separation_of_duties, Some(false));
    }

    #[test]
    fn a_deployment_policy_may_narrow_the_floor_but_not_widen_it() {
        let floor = policy(json!({
            "channels": ["slack", "cli"],
            "slackUsers": ["U1", "U2"],
            "slackTeam": "T1",
            "cliPrincipals": ["arn:aws:sts::123456789012:assumed-role/Deployers/*"],
            "separationOfDuties": true,
            "allowedImages": ["123456789012.dkr.ecr.*.amazonaws.com/payments/*"]
        }));
        let narrower = policy(json!({
            "channels": ["cli"],
            "slackUsers": ["U2"],
            "cliPrincipals": ["arn:aws:sts::123456789012:assumed-role/Deployers/b*"],
            "separationOfDuties": true
        }));
        let held = narrower.within(&floor).expect("narrower is within");
        assert_eq!(
            held.allowed_images, floor.allowed_images,
            "the floor's images hold"
        );
        let one_region = policy(json!({
            "allowedImages": ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/*"]
        }));
        assert!(one_region.within(&floor).is_ok());
        assert_eq!(held.channels, vec![Channel::Cli]);
        assert_eq!(held.slack_team.as_deref(), Some("T1"));
        assert_eq!(held.separation_of_duties, Some(true));
        for (own, field) in [
            (json!({"channels": ["email"]}), "channels"),
            (json!({"slackUsers": ["U9"]}), "slackUsers"),
            (json!({"slackTeam": "T9"}), "slackTeam"),
            (json!({"cliPrincipals": ["*"]}), "cliPrincipals"),
            (
                json!({"cliPrincipals": ["arn:aws:iam::123456789012:user/mallory"]}),
                "cliPrincipals",
            ),
            (json!({"separationOfDuties": false}), "separationOfDuties"),
            (json!({"allowedImages": ["*"]}), "allowedImages"),
            (
                json!({"allowUnknownInitiator": true}),
                "allowUnknownInitiator",
            ),
        ] {
            assert_eq!(
                policy(own.clone()).within(&floor).map_err(|e| e.field),
                Err(field),
                "{own}"
            );
        }
        // An open floor lets a deployment say anything; an empty own policy is the floor.
        assert!(policy(json!({"separationOfDuties": false}))
            .within(&ApprovalPolicy::default())
            .is_ok());
        assert_eq!(ApprovalPolicy::default().within(&floor), Ok(floor.clone()));
    }

    #[test]
    fn separation_of_duties_needs_a_known_initiator_unless_allowed() {
        let separated = policy(json!({"separationOfDuties": true}));
        assert_eq!(separated.admits_initiator(None), Err(InitiatorUnknown));
        assert_eq!(
            separated.admits_initiator(Some("  ")),
            Err(InitiatorUnknown)
        );
        assert_eq!(separated.admits_initiator(Some(ALICE)), Ok(()));
        assert_eq!(InitiatorUnknown.error_kind(), ErrorKind::InitiatorUnknown);
        let lenient = policy(json!({"separationOfDuties": true, "allowUnknownInitiator": true}));
        assert_eq!(lenient.admits_initiator(None), Ok(()));
        assert_eq!(ApprovalPolicy::default().admits_initiator(None), Ok(()));
        // A deployment may turn it off under a floor that allows it, not on.
        let own = policy(json!({"allowUnknownInitiator": false}));
        assert_eq!(
            own.within(&lenient).map(|p| p.admits_initiator(None)),
            Ok(Err(InitiatorUnknown))
        );
    }

    #[test]
    fn one_person_across_channels_may_not_approve_their_own_release() {
        let strict = policy(json!({
            "separationOfDuties": true,
            "people": [{"name": "Alice", "iam": [ALICE, "arn:aws:iam::123456789012:user/alice"], "slack": ["UALICE"]}]
        }));
        // Alice started it from the command line; Slack knows her as UALICE.
        let from_slack = Approver::slack("UALICE", Some("alice"), None);
        assert!(matches!(
            strict.check(&from_slack, true, Some(ALICE)),
            Err(PolicyRefusal::InitiatorMayNotApprove { .. })
        ));
        assert!(matches!(
            strict.check(
                &Approver::cli("arn:aws:iam::123456789012:user/alice"),
                true,
                Some(ALICE)
            ),
            Err(PolicyRefusal::InitiatorMayNotApprove { .. })
        ));
        // She may still reject; someone else may approve.
        assert_eq!(strict.check(&from_slack, false, Some(ALICE)), Ok(()));
        assert_eq!(
            strict.check(&Approver::slack("UBOB", None, None), true, Some(ALICE)),
            Ok(())
        );
        assert_eq!(strict.check(&Approver::cli(BOB), true, Some(ALICE)), Ok(()));
        // Without the people section, the two are strangers to the policy.
        let plain = policy(json!({"separationOfDuties": true}));
        assert_eq!(plain.check(&from_slack, true, Some(ALICE)), Ok(()));
    }

    #[test]
    fn operators_are_iam_patterns_and_may_only_narrow() {
        let floor =
            policy(json!({"operators": ["arn:aws:sts::123456789012:assumed-role/Deployers/*"]}));
        assert_eq!(floor.admits_operator(ALICE, "c/s"), Ok(()));
        let refused = floor
            .admits_operator("arn:aws:iam::123456789012:user/mallory", "c/s")
            .unwrap_err();
        assert_eq!(refused.error_type(), "NotAnOperator");
        assert!(refused.to_string().contains("mallory"), "{refused}");
        assert_eq!(
            ApprovalPolicy::default().admits_operator("anyone", "c/s"),
            Ok(())
        );
        let narrower = policy(json!({"operators": [ALICE]}));
        assert_eq!(
            narrower.within(&floor).map(|p| p.operators),
            Ok(vec![ALICE.to_string()])
        );
        let wider = policy(json!({"operators": ["*"]}));
        assert_eq!(wider.within(&floor).unwrap_err().field, "operators");
        // Step by step may be asked for, never waived; it forbids skipping.
        let strict = policy(json!({"stepByStep": true}));
        assert_eq!(
            policy(json!({"stepByStep": false}))
                .within(&strict)
                .unwrap_err()
                .field,
            "stepByStep"
        );
        let held = ApprovalPolicy::default().within(&strict).expect("within");
        assert_eq!(
            held.admits_skip().unwrap_err().error_type(),
            "SkipNotAllowed"
        );
        assert_eq!(ApprovalPolicy::default().admits_skip(), Ok(()));
        // A gate before the start may be asked for, never waived.
        let gated = policy(json!({"approveBeforeStart": true}));
        let waived = policy(json!({"approveBeforeStart": false}));
        assert_eq!(
            waived.within(&gated).unwrap_err().field,
            "approveBeforeStart"
        );
        assert_eq!(
            ApprovalPolicy::default()
                .within(&gated)
                .map(|p| p.approve_before_start),
            Ok(Some(true))
        );
        assert_eq!(
            gated
                .within(&ApprovalPolicy::default())
                .map(|p| p.approve_before_start),
            Ok(Some(true))
        );
        // People named by the stack stay named whatever the input says.
        let stack =
            policy(json!({"people": [{"name": "Alice", "iam": [ALICE], "slack": ["UALICE"]}]}));
        let own = policy(json!({"people": [{"name": "Bob", "slack": ["UBOB"], "iam": [BOB]}]}));
        let names: Vec<String> = own
            .within(&stack)
            .unwrap()
            .people
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["Alice", "Bob"]);
        for bad in [
            json!({"people": [{"iam": [ALICE]}]}),
            json!({"people": [{"name": "A"}]}),
            json!({"people": [{"name": "A", "email": "a@x"}]}),
            json!({"people": "alice"}),
            json!({"operators": "alice"}),
        ] {
            assert!(ApprovalPolicy::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_image_is_judged_by_its_repository() {
        for (image, repository) in [
            ("app", "app"),
            ("app:1.0.1", "app"),
            ("team/app:1.0.1", "team/app"),
            ("registry:5000/team/app", "registry:5000/team/app"),
            ("registry:5000/team/app:2", "registry:5000/team/app"),
            ("team/app@sha256:abc", "team/app"),
            ("team/app:1.0.1@sha256:abc", "team/app"),
        ] {
            assert_eq!(image_repository(image), repository, "{image}");
        }
        let payments = policy(json!({
            "allowedImages": ["123456789012.dkr.ecr.*.amazonaws.com/payments/*", "library/nginx"]
        }));
        for allowed in [
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:1.0.1",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments/worker@sha256:00",
            "library/nginx:1.27",
        ] {
            assert_eq!(payments.admits_image(allowed), Ok(()), "{allowed}");
        }
        for refused in [
            "docker.io/evil/payments/api:1",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/other/api:1",
            "library/nginx-debug:1",
            // A tag cannot smuggle a repository past a pattern.
            "evil/app:123456789012.dkr.ecr.x.amazonaws.com/payments/x",
        ] {
            let error = payments.admits_image(refused).expect_err(refused);
            assert_eq!(error.error_kind(), ErrorKind::ImageNotAllowed);
            assert!(error.to_string().contains("allowedImages"), "{error}");
        }
        assert_eq!(ApprovalPolicy::default().admits_image("anything:1"), Ok(()));
    }

    #[test]
    fn malformed_policies_name_the_field() {
        for (value, field) in [
            (json!({"channels": ["fax"]}), "channels"),
            (json!({"slackUsers": "U1"}), "slackUsers"),
            (json!({"slackTeam": 7}), "slackTeam"),
            (json!({"separationOfDuties": "yes"}), "separationOfDuties"),
            (json!({"allowedImages": "payments/*"}), "allowedImages"),
            (
                json!({"allowUnknownInitiator": "yes"}),
                "allowUnknownInitiator",
            ),
            (json!({"approvers": []}), ""),
            (json!([]), ""),
        ] {
            assert_eq!(
                ApprovalPolicy::from_json(&value).map_err(|e| e.field),
                Err(field),
                "{value}"
            );
        }
    }

    fn arbitrary_policy() -> impl Strategy<Value = ApprovalPolicy> {
        let channels = proptest::sample::subsequence(Channel::ALL.to_vec(), 0..=3);
        let users = proptest::collection::vec("U[12345]", 0..3);
        let principals = proptest::collection::vec(
            prop_oneof![
                Just("*".to_string()),
                "arn:aws:sts::1:assumed-role/(Ops|Dev)/[ab]",
                "arn:aws:sts::1:assumed-role/(Ops|Dev)/\\*",
            ],
            0..3,
        );
        let team =
            proptest::option::of(prop_oneof![Just("T1".to_string()), Just("T2".to_string())]);
        let separation = proptest::option::of(any::<bool>());
        let images = proptest::collection::vec(
            prop_oneof![Just("*".to_string()), "(ops|dev)/[ab\\*]"],
            0..3,
        );
        (channels, users, principals, team, separation, images).prop_map(
            |(
                channels,
                slack_users,
                cli_principals,
                slack_team,
                separation_of_duties,
                allowed_images,
            )| {
                ApprovalPolicy {
                    channels,
                    slack_users,
                    slack_team,
                    separation_of_duties,
                    allowed_images,
                    allow_unknown_initiator: None,
                    operators: cli_principals.clone(),
                    cli_principals,
                    people: Vec::new(),
                    approve_before_start: None,
                    step_by_step: None,
                }
            },
        )
    }

    fn approvers() -> Vec<Approver> {
        let mut all = vec![Approver::email_link()];
        for user in ["U1", "U2", "U3", "U4", "U5"] {
            for team in ["T1", "T2"] {
                all.push(Approver::slack(user, None, Some(team)));
            }
        }
        for role in ["Ops", "Dev"] {
            for who in ["a", "b", "c"] {
                all.push(Approver::cli(&format!(
                    "arn:aws:sts::1:assumed-role/{role}/{who}"
                )));
            }
        }
        all
    }

    proptest! {
        /// Whatever a deployment's policy says, once held to the floor it
        /// lets no one decide whom the floor alone would refuse.
        #[test]
        fn a_policy_within_the_floor_admits_no_one_the_floor_refuses(
            floor in arbitrary_policy(),
            own in arbitrary_policy(),
            approve in any::<bool>(),
        ) {
            if let Ok(held) = own.within(&floor) {
                let initiator = "arn:aws:sts::1:assumed-role/Ops/a";
                for approver in approvers() {
                    if held.check(&approver, approve, Some(initiator)).is_ok() {
                        prop_assert!(
                            floor.check(&approver, approve, Some(initiator)).is_ok(),
                            "{:?} admitted by {:?} within {:?}", approver, held, floor
                        );
                    }
                    let principal = approver.principal.clone().unwrap_or_default();
                    if held.admits_operator(&principal, "c/s").is_ok() {
                        prop_assert!(floor.admits_operator(&principal, "c/s").is_ok());
                    }
                }
            }
        }

        /// Held to the floor, a deployment's policy admits no image the
        /// floor refuses.
        #[test]
        fn a_policy_within_the_floor_admits_no_image_the_floor_refuses(
            floor in arbitrary_policy(),
            own in arbitrary_policy(),
            image in "(ops|dev)/[abc](:[0-9])?",
        ) {
            if let Ok(held) = own.within(&floor) {
                if held.admits_image(&image).is_ok() {
                    prop_assert!(floor.admits_image(&image).is_ok(), "{} within {:?}", image, floor);
                }
            }
        }

        /// A Slack allowlist lets in exactly its members.
        #[test]
        fn a_slack_allowlist_admits_exactly_its_members(
            users in proptest::collection::vec("U[A-Z0-9]{3}", 1..5),
            candidate in "U[A-Z0-9]{3}",
        ) {
            let allow = ApprovalPolicy { slack_users: users.clone(), ..ApprovalPolicy::default() };
            let verdict = allow.check(&Approver::slack(&candidate, None, None), true, None);
            prop_assert_eq!(verdict.is_ok(), users.contains(&candidate));
        }
    }
}
