//! Messages that tell the approval channels how a deployment ended when it
//! needed people's attention (no decision is asked for).

use serde_json::{json, Value};

use crate::{slack_escape, Deployment, LOCK_LOST};

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
fn truncate(subject: String) -> String {
    subject.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
