//! Where the functions find their tables, topic, links and Slack settings.

/// Where the functions find their tables, topic, links and Slack settings
/// (environment variables set by `infra/`, or by hand).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `ECS_CANARY_LOCK_TABLE` (default `ecs-canary-locks`).
    pub lock_table: String,
    /// `ECS_CANARY_APPROVALS_TABLE` (default `ecs-canary-approvals`).
    pub approvals_table: String,
    /// `ECS_CANARY_HISTORY_TABLE` (default `ecs-canary-history`): the audit trail.
    pub history_table: String,
    /// `ECS_CANARY_APPROVAL_URL`: the approval-api's base URL (its function URL).
    pub approval_url: String,
    /// `ECS_CANARY_TOPIC_ARN`: email through SNS; unset or empty: no email.
    pub topic_arn: Option<String>,
    /// `ECS_CANARY_SLACK_WEBHOOK_URL`: unset or empty: no Slack message.
    pub slack_webhook_url: Option<String>,
    /// `ECS_CANARY_SLACK_SIGNING_SECRET`: unset: Slack interactions are refused.
    pub slack_signing_secret: Option<String>,
    /// `ECS_CANARY_SLACK_WEBHOOK_SECRET_ARN`: read the webhook URL from Secrets Manager.
    pub slack_webhook_secret_arn: Option<String>,
    /// `ECS_CANARY_SLACK_SIGNING_SECRET_ARN`: read the signing secret from Secrets Manager.
    pub slack_signing_secret_arn: Option<String>,
    /// `ECS_CANARY_STACK_ROLE_ARN`: the service role CloudFormation uses for stack updates.
    pub stack_role_arn: Option<String>,
    /// `ECS_CANARY_STATE_MACHINE_ARN`: what the ECR trigger starts.
    pub state_machine_arn: Option<String>,
    /// The state machine that gates the pauses of ECS's own deployments.
    pub gate_state_machine_arn: Option<String>,
    /// `ECS_CANARY_TRIGGER_MAPPINGS`: the ECR trigger's mappings (a JSON list).
    pub trigger_mappings: Option<String>,
    /// The longest wait for a candidate to become ready:
    /// `ECS_CANARY_READY_POLL_SECONDS` × `ECS_CANARY_READY_POLL_ATTEMPTS`
    /// (the state machine's polling; default 15 × 80). The lock outlives it.
    pub ready_wait_seconds: u64,
    /// `ECS_CANARY_LINK_SECRET`: the key approval links are derived with
    /// (request-approval only).
    pub link_secret: Option<String>,
    /// `ECS_CANARY_LINK_SECRET_ARN`: read it from Secrets Manager.
    pub link_secret_arn: Option<String>,
    /// `ECS_CANARY_APPROVAL_POLICY`: the default approval policy (JSON, as
    /// the input's `approvalPolicy`); unset: anyone with a link, any channel.
    pub approval_policy: Option<String>,
    /// `ECS_CANARY_ROLLBACK_FUNCTION`: the rollback function (name or ARN)
    /// that approval-api and alarm-abort invoke directly to put traffic back
    /// on stable first; unset: the state machine's rollback alone does it.
    pub rollback_function: Option<String>,
    /// `ECS_CANARY_SECRET_NAMES`: comma-separated name fragments whose
    /// variables' values are shown and recorded as hidden (default
    /// `SECRET,TOKEN,PASSWORD,KEY,CREDENTIAL`).
    pub secret_names: ecs_canary_core::SecretNames,
    /// `ECS_CANARY_TOKEN_KEY`: the KMS key (id, ARN or alias) task tokens
    /// are sealed with before they are stored; unset: stored as they are.
    pub token_key: Option<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number(name: &str, default: u64) -> u64 {
    var(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

impl Settings {
    pub fn from_env() -> Settings {
        Settings {
            lock_table: var("ECS_CANARY_LOCK_TABLE").unwrap_or_else(|| "ecs-canary-locks".into()),
            approvals_table: var("ECS_CANARY_APPROVALS_TABLE")
                .unwrap_or_else(|| "ecs-canary-approvals".into()),
            history_table: var("ECS_CANARY_HISTORY_TABLE")
                .unwrap_or_else(|| "ecs-canary-history".into()),
            approval_url: var("ECS_CANARY_APPROVAL_URL").unwrap_or_default(),
            topic_arn: var("ECS_CANARY_TOPIC_ARN"),
            slack_webhook_url: var("ECS_CANARY_SLACK_WEBHOOK_URL"),
            slack_signing_secret: var("ECS_CANARY_SLACK_SIGNING_SECRET"),
            slack_webhook_secret_arn: var("ECS_CANARY_SLACK_WEBHOOK_SECRET_ARN"),
            slack_signing_secret_arn: var("ECS_CANARY_SLACK_SIGNING_SECRET_ARN"),
            stack_role_arn: var("ECS_CANARY_STACK_ROLE_ARN"),
            state_machine_arn: var("ECS_CANARY_STATE_MACHINE_ARN"),
            gate_state_machine_arn: var("ECS_CANARY_GATE_STATE_MACHINE_ARN"),
            trigger_mappings: var("ECS_CANARY_TRIGGER_MAPPINGS"),
            ready_wait_seconds: number("ECS_CANARY_READY_POLL_SECONDS", 15)
                .saturating_mul(number("ECS_CANARY_READY_POLL_ATTEMPTS", 80)),
            rollback_function: var("ECS_CANARY_ROLLBACK_FUNCTION"),
            link_secret: var("ECS_CANARY_LINK_SECRET"),
            link_secret_arn: var("ECS_CANARY_LINK_SECRET_ARN"),
            approval_policy: var("ECS_CANARY_APPROVAL_POLICY"),
            secret_names: var("ECS_CANARY_SECRET_NAMES")
                .map(|names| ecs_canary_core::SecretNames::parse(&names))
                .unwrap_or_default(),
            token_key: var("ECS_CANARY_TOKEN_KEY"),
        }
    }

    /// The default approval policy; a malformed one refuses every decision
    /// (it fails closed) with the reason.
    pub fn default_policy(&self) -> Result<ecs_canary_core::ApprovalPolicy, String> {
        let Some(text) = &self.approval_policy else {
            return Ok(ecs_canary_core::ApprovalPolicy::default());
        };
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("ECS_CANARY_APPROVAL_POLICY is not JSON: {e}"))?;
        ecs_canary_core::ApprovalPolicy::from_json(&value)
            .map_err(|e| format!("ECS_CANARY_APPROVAL_POLICY: {e}"))
    }

    /// The link a person opens for one approval.
    pub fn approval_link(&self, id: &ecs_canary_core::ApprovalId) -> String {
        format!("{}/approvals/{id}", self.approval_url.trim_end_matches('/'))
    }
}
