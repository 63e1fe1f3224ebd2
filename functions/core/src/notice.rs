//! Messages that tell the approval channels how a deployment ended when it
//! needed people's attention (no decision is asked for).

use serde_json::{json, Value};

use crate::{slack_escape, Deployment};

/// A message for the email topic and Slack: what happened, and what the
/// service looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    pub text: String,
}

impl Notice {
    /// A person changed the weighted rule by hand during a rollout: the
    /// deployment stopped, the rule is left as they set it.
    pub fn split_changed_by_hand(deployment: &Deployment, cause: &str) -> Notice {
        let request = &deployment.request;
        Notice {
            subject: truncate(format!(
                "{}: deployment stopped, the traffic split was changed by hand",
                request.service
            )),
            text: format!(
                "The canary deployment of {service} (cluster {cluster}) has stopped: \
                 the weighted listener rule was changed by hand during the rollout.\n\n\
                 {cause}\n\n\
                 ecs-canary no longer touches that rule: it stays exactly as it was set by hand. \
                 Tester rules point at the stable colour ({stable}), the StableStack tag is unchanged \
                 ({stable}), the deployment lock is released and no approval link is pending.\n",
                service = request.service,
                cluster = request.cluster,
                stable = deployment.stable,
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
