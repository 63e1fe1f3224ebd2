//! From an ECR push to executions: which services a pushed image goes to,
//! with what input, under which (idempotent) execution name.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use thiserror::Error;

use sha2::{Digest, Sha256};

use crate::{ApprovalPolicy, ErrorKind, ErrorName, PolicyBelowFloor, StepPlan};

/// One line of the trigger's configuration: pushes to `repository` (whose tag
/// matches `tagPattern`, a glob with `*` and `?`; default any tag) deploy to
/// one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriggerMapping {
    pub repository: String,
    #[serde(default)]
    pub tag_pattern: Option<String>,
    pub cluster: String,
    pub service: String,
    pub stack: String,
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub steps: Option<StepPlan>,
    #[serde(default)]
    pub approval_timeout_seconds: Option<u64>,
    /// CloudWatch alarms that guard this service's rollouts.
    #[serde(default)]
    pub alarms: Vec<String>,
    /// Who may decide this service's steps (the input's `approvalPolicy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<ApprovalPolicy>,
}

/// The parts of an EventBridge "ECR Image Action" event the trigger uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePush {
    pub account: String,
    pub region: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: String,
    /// Who pushed it (the IAM ARN CloudTrail records), when the event says:
    /// CloudTrail's PutImage does, ECR's own "ECR Image Action" does not.
    pub pusher: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TriggerError {
    #[error("the trigger mappings are not a JSON list of mappings: {0}")]
    InvalidMappings(String),
    #[error("not an ECR image push event: {0}")]
    NotAnImagePush(String),
}

impl ErrorName for TriggerError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            TriggerError::InvalidMappings(_) => ErrorKind::InvalidTriggerMappings,
            TriggerError::NotAnImagePush(_) => ErrorKind::NotAnImagePush,
        }
    }
}

/// Parses the mappings (a JSON list).
/// The floor of any deployment of `cluster`/`service`: the stack's policy,
/// narrowed by the policy of every trigger mapping that deploys that service
/// (a push deploys under it, so a start by hand may not deploy under less).
/// A mapping whose policy would widen the stack's is [`PolicyBelowFloor`].
pub fn service_floor(
    stack: &ApprovalPolicy,
    mappings: &[TriggerMapping],
    cluster: &str,
    service: &str,
) -> Result<ApprovalPolicy, PolicyBelowFloor> {
    mappings
        .iter()
        .filter(|m| m.cluster == cluster && m.service == service)
        .filter_map(|m| m.approval_policy.as_ref())
        .try_fold(stack.clone(), |floor, policy| policy.within(&floor))
}

pub fn parse_mappings(text: &str) -> Result<Vec<TriggerMapping>, TriggerError> {
    serde_json::from_str(text).map_err(|e| TriggerError::InvalidMappings(e.to_string()))
}

/// EventBridge's detail-type of a CloudTrail-recorded API call.
pub const CLOUDTRAIL_CALL: &str = "AWS API Call via CloudTrail";

impl ImagePush {
    /// A successful PUSH from an EventBridge event; `Ok(None)` for any other
    /// ECR image action (a delete, a failed push).
    pub fn from_event(event: &Value) -> Result<Option<ImagePush>, TriggerError> {
        if event.get("source").and_then(Value::as_str) != Some("aws.ecr") {
            return Err(TriggerError::NotAnImagePush("source is not aws.ecr".into()));
        }
        let detail = event
            .get("detail")
            .ok_or_else(|| TriggerError::NotAnImagePush("no detail".into()))?;
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        if text(event, "detail-type").as_deref() == Some(CLOUDTRAIL_CALL) {
            return ImagePush::from_cloudtrail(event, detail);
        }
        if text(detail, "action-type").as_deref() != Some("PUSH")
            || text(detail, "result").as_deref() != Some("SUCCESS")
        {
            return Ok(None);
        }
        let missing = |what: &str| TriggerError::NotAnImagePush(format!("no {what}"));
        Ok(Some(ImagePush {
            account: text(event, "account").ok_or_else(|| missing("account"))?,
            region: text(event, "region").ok_or_else(|| missing("region"))?,
            repository: text(detail, "repository-name")
                .ok_or_else(|| missing("repository-name"))?,
            tag: text(detail, "image-tag").filter(|t| !t.is_empty()),
            digest: text(detail, "image-digest").ok_or_else(|| missing("image-digest"))?,
            pusher: None,
        }))
    }

    /// CloudTrail's record of a successful `PutImage` (EventBridge "AWS API
    /// Call via CloudTrail"): the same push, and who made it. Any other call,
    /// or a failed one, is not a push (`None`).
    fn from_cloudtrail(event: &Value, detail: &Value) -> Result<Option<ImagePush>, TriggerError> {
        let at = |path: &[&str]| {
            path.iter()
                .try_fold(detail, |value, key| value.get(*key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if at(&["eventName"]).as_deref() != Some("PutImage") || detail.get("errorCode").is_some() {
            return Ok(None);
        }
        let missing = |what: &str| TriggerError::NotAnImagePush(format!("no {what}"));
        let image = ["responseElements", "image"];
        let field = |key: &str| at(&[image[0], image[1], key]);
        let id = |key: &str| at(&[image[0], image[1], "imageId", key]);
        let top = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_string);
        Ok(Some(ImagePush {
            account: field("registryId")
                .or_else(|| at(&["recipientAccountId"]))
                .or_else(|| top("account"))
                .ok_or_else(|| missing("account"))?,
            region: at(&["awsRegion"])
                .or_else(|| top("region"))
                .ok_or_else(|| missing("awsRegion"))?,
            repository: field("repositoryName")
                .or_else(|| at(&["requestParameters", "repositoryName"]))
                .ok_or_else(|| missing("repositoryName"))?,
            tag: id("imageTag")
                .or_else(|| at(&["requestParameters", "imageTag"]))
                .filter(|t| !t.is_empty()),
            digest: id("imageDigest").ok_or_else(|| missing("imageDigest"))?,
            pusher: at(&["userIdentity", "arn"]).filter(|arn| arn.starts_with("arn:")),
        }))
    }

    /// The image reference to deploy: exactly what was pushed, pinned by
    /// its digest (a tag can be moved to another image later).
    pub fn image(&self) -> String {
        format!(
            "{}.dkr.ecr.{}.amazonaws.com/{}@{}",
            self.account, self.region, self.repository, self.digest
        )
    }
}

/// `*` any run of characters, `?` any one character.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl TriggerMapping {
    pub fn matches(&self, push: &ImagePush) -> bool {
        if self.repository != push.repository {
            return false;
        }
        match (&self.tag_pattern, &push.tag) {
            (None, _) => true,
            (Some(pattern), Some(tag)) => glob_matches(pattern, tag),
            (Some(_), None) => false,
        }
    }

    /// The execution input for this push.
    pub fn execution_input(&self, push: &ImagePush) -> Value {
        let mut input = Map::new();
        input.insert("cluster".into(), json!(self.cluster));
        input.insert("service".into(), json!(self.service));
        input.insert("stack".into(), json!(self.stack));
        input.insert("image".into(), json!(push.image()));
        if let Some(tag) = &push.tag {
            input.insert("imageTag".into(), json!(tag));
        }
        if let Some(container) = &self.container {
            input.insert("container".into(), json!(container));
        }
        if let Some(steps) = &self.steps {
            input.insert("steps".into(), json!(steps.percentages()));
        }
        if let Some(timeout) = self.approval_timeout_seconds {
            input.insert("approvalTimeoutSeconds".into(), json!(timeout));
        }
        if !self.alarms.is_empty() {
            input.insert("alarms".into(), json!(self.alarms));
        }
        if let Some(policy) = &self.approval_policy {
            input.insert("approvalPolicy".into(), json!(policy));
        }
        Value::Object(input)
    }

    /// The execution name: the same push to the same service (cluster,
    /// service, digest) gives the same name, so a second delivery of the
    /// event cannot start a second execution, while a service of the same
    /// name in another cluster gets its own. At most 80 characters of
    /// `[A-Za-z0-9-_]`: the service name and 40 hex digits of a SHA-256 of
    /// cluster, service and digest.
    pub fn execution_name(&self, push: &ImagePush) -> String {
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        let identity = format!("{}\n{}\n{}", self.cluster, self.service, push.digest);
        let digest: String = Sha256::digest(identity.as_bytes())
            .iter()
            .take(20)
            .map(|b| format!("{b:02x}"))
            .collect();
        let service: String = clean(self.service.rsplit('/').next().unwrap_or(&self.service))
            .chars()
            .take(80 - digest.len() - 1)
            .collect();
        format!("{service}-{digest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_mapped_services_floor_is_its_mappings_policy_within_the_stacks() {
        let mappings = parse_mappings(
            r#"[{"repository": "app", "cluster": "c", "service": "s", "stack": "st",
                 "approvalPolicy": {"channels": ["slack"], "separationOfDuties": true}},
                {"repository": "other", "cluster": "c", "service": "t", "stack": "st2",
                 "approvalPolicy": {"channels": ["email"]}}]"#,
        )
        .unwrap();
        let stack =
            ApprovalPolicy::from_json(&json!({"channels": ["email", "slack", "cli"]})).unwrap();
        let floor = service_floor(&stack, &mappings, "c", "s").unwrap();
        assert_eq!(floor.channels, vec![crate::Channel::Slack]);
        assert_eq!(floor.separation_of_duties, Some(true));
        // A start by hand may narrow it, not widen it.
        let email = ApprovalPolicy::from_json(&json!({"channels": ["email"]})).unwrap();
        assert_eq!(email.within(&floor).map_err(|e| e.field), Err("channels"));
        // Unmapped services keep the stack's policy.
        assert_eq!(
            service_floor(&stack, &mappings, "c", "u"),
            Ok(stack.clone())
        );
        // A mapping wider than the stack is no floor.
        let narrow_stack = ApprovalPolicy::from_json(&json!({"channels": ["email"]})).unwrap();
        assert_eq!(
            service_floor(&narrow_stack, &mappings, "c", "s").map_err(|e| e.field),
            Err("channels")
        );
    }

    fn push_event(repository: &str, tag: &str, digest: &str) -> Value {
        json!({
            "version": "0",
            "detail-type": "ECR Image Action",
            "source": "aws.ecr",
            "account": "123456789012",
            "region": "us-east-1",
            "detail": {
                "result": "SUCCESS",
                "repository-name": repository,
                "image-digest": digest,
                "action-type": "PUSH",
                "image-tag": tag
            }
        })
    }

    fn mapping(pattern: Option<&str>) -> TriggerMapping {
        TriggerMapping {
            repository: "helloworld".into(),
            tag_pattern: pattern.map(str::to_string),
            cluster: "mattctest".into(),
            service: "myservice".into(),
            stack: "ecs-task-test-2".into(),
            container: Some("mycontainer".into()),
            steps: Some(StepPlan::new(vec![10, 50]).unwrap()),
            approval_timeout_seconds: None,
            alarms: vec!["web-5xx".into()],
            approval_policy: None,
        }
    }

    const DIGEST: &str = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678";

    /// CloudTrail's record of a PutImage, as EventBridge delivers it.
    pub(crate) fn cloudtrail_put_image(pusher: &str, tag: &str, digest: &str) -> Value {
        json!({
            "version": "0",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.ecr",
            "account": "123456789012",
            "region": "us-east-1",
            "detail": {
                "eventSource": "ecr.amazonaws.com",
                "eventName": "PutImage",
                "awsRegion": "us-east-1",
                "recipientAccountId": "123456789012",
                "userIdentity": {"type": "AssumedRole", "arn": pusher},
                "requestParameters": {"repositoryName": "helloworld", "imageTag": tag, "registryId": "123456789012"},
                "responseElements": {"image": {"registryId": "123456789012", "repositoryName": "helloworld",
                    "imageId": {"imageDigest": digest, "imageTag": tag}}}
            }
        })
    }

    #[test]
    fn a_push_cloudtrail_recorded_names_its_pusher_and_ecrs_own_event_does_not() {
        let ci = "arn:aws:sts::123456789012:assumed-role/CI/build-42";
        let push = ImagePush::from_event(&cloudtrail_put_image(ci, "1.0.2", DIGEST))
            .unwrap()
            .expect("a push");
        assert_eq!(push.pusher.as_deref(), Some(ci));
        assert_eq!(push.repository, "helloworld");
        assert_eq!(push.tag.as_deref(), Some("1.0.2"));
        assert_eq!(
            push.image(),
            format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/helloworld@{DIGEST}")
        );
        // The same push as ECR reports it: the same image, nobody named.
        let plain = ImagePush::from_event(&push_event("helloworld", "1.0.2", DIGEST))
            .unwrap()
            .expect("a push");
        assert_eq!((plain.image(), plain.pusher), (push.image(), None));
        // A failed or other call is no push.
        let mut failed = cloudtrail_put_image(ci, "1.0.2", DIGEST);
        failed["detail"]["errorCode"] = json!("ImageAlreadyExistsException");
        assert_eq!(ImagePush::from_event(&failed), Ok(None));
        let mut other = cloudtrail_put_image(ci, "1.0.2", DIGEST);
        other["detail"]["eventName"] = json!("BatchGetImage");
        assert_eq!(ImagePush::from_event(&other), Ok(None));
        let mut broken = cloudtrail_put_image(ci, "1.0.2", DIGEST);
        broken["detail"]["responseElements"] = json!({});
        assert!(ImagePush::from_event(&broken).is_err());
    }

    #[test]
    fn a_push_becomes_an_execution_input() {
        let push = ImagePush::from_event(&push_event("helloworld", "1.0.1", DIGEST))
            .unwrap()
            .unwrap();
        // What was pushed, pinned: a tag can be moved later, a digest cannot.
        assert_eq!(
            push.image(),
            format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/helloworld@{DIGEST}")
        );
        let input = mapping(None).execution_input(&push);
        assert_eq!(input["image"], json!(push.image()));
        assert_eq!(input["imageTag"], json!("1.0.1"));
        assert_eq!(input["steps"], json!([10, 50]));
        assert_eq!(input["container"], json!("mycontainer"));
        assert_eq!(input["alarms"], json!(["web-5xx"]));
        // It is a valid execution input.
        assert!(crate::DeploymentRequest::from_json(&input).is_ok());
    }

    #[test]
    fn other_image_actions_are_not_pushes() {
        let mut delete = push_event("helloworld", "1.0.1", DIGEST);
        delete["detail"]["action-type"] = json!("DELETE");
        assert_eq!(ImagePush::from_event(&delete), Ok(None));
        let mut failed = push_event("helloworld", "1.0.1", DIGEST);
        failed["detail"]["result"] = json!("FAILURE");
        assert_eq!(ImagePush::from_event(&failed), Ok(None));
        let err = ImagePush::from_event(&json!({"source": "aws.s3"})).unwrap_err();
        assert_eq!(err.error_type(), "NotAnImagePush");
    }

    #[test]
    fn tag_patterns_select_pushes() {
        let push = |tag: &str| {
            ImagePush::from_event(&push_event("helloworld", tag, DIGEST))
                .unwrap()
                .unwrap()
        };
        assert!(mapping(None).matches(&push("anything")));
        assert!(mapping(Some("1.*")).matches(&push("1.0.1")));
        assert!(!mapping(Some("1.*")).matches(&push("2.0.0")));
        assert!(mapping(Some("v?.?")).matches(&push("v1.2")));
        let other_repo = ImagePush::from_event(&push_event("other", "1.0.1", DIGEST))
            .unwrap()
            .unwrap();
        assert!(!mapping(None).matches(&other_repo));
    }

    #[test]
    fn names_are_stable_per_push_and_valid() {
        let push = ImagePush::from_event(&push_event("helloworld", "1.0.1", DIGEST))
            .unwrap()
            .unwrap();
        let name = mapping(None).execution_name(&push);
        assert_eq!(name, "myservice-f277122afe5235ccde40c000b440d4c5b7717a74");
        assert_eq!(name, mapping(None).execution_name(&push.clone()));
        let mut other_service = mapping(None);
        other_service.service = "arn:aws:ecs:us-east-1:1:service/c/other.svc".into();
        assert!(other_service
            .execution_name(&push)
            .starts_with("other-svc-"));
        // The same service name in another cluster is another deployment.
        let mut other_cluster = mapping(None);
        other_cluster.cluster = "staging".into();
        assert_ne!(other_cluster.execution_name(&push), name);
        // Another digest is another deployment.
        let mut repushed = push.clone();
        repushed.digest = "sha256:0000".into();
        assert_ne!(mapping(None).execution_name(&repushed), name);
    }

    #[test]
    fn mappings_parse_with_named_errors() {
        let parsed = parse_mappings(
            r#"[{"repository": "helloworld", "tagPattern": "1.*", "cluster": "c", "service": "s", "stack": "st", "steps": [10, 50]}]"#,
        )
        .unwrap();
        assert_eq!(parsed[0].steps.as_ref().unwrap().percentages(), &[10, 50]);
        assert_eq!(
            parse_mappings("{}").unwrap_err().error_type(),
            "InvalidTriggerMappings"
        );
        assert!(parse_mappings(r#"[{"repository": "r", "cluster": "c", "service": "s", "stack": "st", "steps": [50, 10]}]"#).is_err());
        assert!(parse_mappings(r#"[{"repo": "r"}]"#).is_err());
    }

    proptest! {
        #[test]
        fn execution_names_fit_step_functions(service in ".{0,120}", digest in "[0-9a-f]{64}") {
            let mut m = mapping(None);
            m.service = service;
            let push = ImagePush { account: "1".into(), region: "r".into(), repository: "helloworld".into(), tag: None, digest: format!("sha256:{digest}"), pusher: None };
            let name = m.execution_name(&push);
            prop_assert!(name.len() <= 80);
            prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
            prop_assert!(name.len() >= 41);
            prop_assert!(name[name.len() - 40..].chars().all(|c| c.is_ascii_hexdigit()));
        }

        #[test]
        fn star_matches_everything_and_literals_match_themselves(text in "[a-z0-9.]{0,20}") {
            prop_assert!(glob_matches("*", &text));
            prop_assert!(glob_matches(&text, &text));
        }
    }

    #[test]
    fn a_mapping_carries_its_approval_policy_into_the_input() {
        let mappings = parse_mappings(
            r#"[{"repository": "helloworld", "cluster": "c", "service": "s", "stack": "st",
                 "approvalPolicy": {"channels": ["slack"], "slackUsers": ["U1"]}}]"#,
        )
        .expect("valid mappings");
        let push = ImagePush::from_event(&push_event("helloworld", "1.0.1", DIGEST))
            .unwrap()
            .unwrap();
        let input = mappings[0].execution_input(&push);
        let request = crate::DeploymentRequest::from_json(&input).expect("a valid input");
        let policy = request.approval_policy.expect("a policy");
        assert_eq!(policy.channels, vec![crate::Channel::Slack]);
        assert_eq!(policy.slack_users, vec!["U1".to_string()]);
        let wrong = parse_mappings(
            r#"[{"repository": "r", "cluster": "c", "service": "s", "stack": "st",
                 "approvalPolicy": {"approvers": ["U1"]}}]"#,
        );
        assert!(wrong.is_err(), "an unknown policy field is refused");
    }
}
