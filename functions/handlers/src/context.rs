//! What every step and the operator's commands work with: the ports (AWS,
//! or the in-memory fake in a test), the settings, a clock, and the secrets
//! read once, when first needed.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ecs_canary_aws::{
    AlarmStore, ApprovalStore, AwsClients, AwsError, ExecutionStarter, FunctionApi, HistoryStore,
    LockStore, MetricStore, NativeDeploymentApi, NotificationApi, RuleStore, SecretStore,
    ServiceStore, StackStore, TaskCallbackApi, WebhookApi,
};
use tokio::sync::OnceCell;

use crate::webhook::Webhooks;
use crate::{FunctionError, Settings};

/// The capabilities the deployment steps use: the adapters to AWS, or
/// (in a test) the in-memory fake.
#[derive(Clone)]
pub struct Ports {
    pub rules: Arc<dyn RuleStore>,
    pub ecs: Arc<dyn ServiceStore>,
    pub stacks: Arc<dyn StackStore>,
    pub locks: Arc<dyn LockStore>,
    pub approvals: Arc<dyn ApprovalStore>,
    pub callbacks: Arc<dyn TaskCallbackApi>,
    pub alarms: Arc<dyn AlarmStore>,
    pub functions: Arc<dyn FunctionApi>,
    pub metrics: Arc<dyn MetricStore>,
    pub history: Arc<dyn HistoryStore>,
    pub notifications: Arc<dyn NotificationApi>,
    pub starts: Arc<dyn ExecutionStarter>,
    pub secrets: Arc<dyn SecretStore>,
    pub webhooks: Arc<dyn WebhookApi>,
    /// ECS's own deployments (pause hooks).
    pub native: Arc<dyn NativeDeploymentApi>,
}

impl Ports {
    /// The adapters, with the tables `settings` names.
    pub fn aws(clients: &AwsClients, settings: &Settings) -> Result<Ports, FunctionError> {
        Ok(Ports {
            rules: Arc::new(clients.rules.clone()),
            ecs: Arc::new(clients.ecs.clone()),
            stacks: Arc::new(clients.stacks.clone()),
            locks: Arc::new(clients.locks(&settings.lock_table)),
            approvals: Arc::new(match &settings.token_key {
                Some(key) => clients.sealed_approvals(&settings.approvals_table, key),
                None => clients.approvals(&settings.approvals_table),
            }),
            callbacks: Arc::new(clients.callbacks.clone()),
            alarms: Arc::new(clients.alarms.clone()),
            functions: Arc::new(clients.functions.clone()),
            metrics: Arc::new(clients.metrics.clone()),
            history: Arc::new(clients.history(&settings.history_table)),
            notifications: Arc::new(clients.notifications.clone()),
            starts: Arc::new(clients.state_machines.clone()),
            secrets: Arc::new(clients.secrets.clone()),
            webhooks: Arc::new(Webhooks::new()?),
            native: Arc::new(clients.ecs.clone()),
        })
    }
}

/// What every handler works with, built once per process.
#[derive(Clone)]
pub struct Context {
    /// The clients, for what only the command line does (confirming a
    /// subscription, reading the ecs-canary stack); the steps use the ports.
    pub clients: AwsClients,
    /// What the deployment steps call.
    pub ports: Ports,
    pub settings: Settings,
    clock: Option<Arc<dyn Fn() -> u64 + Send + Sync>>,
    slack_webhook_url: Arc<OnceCell<Option<String>>>,
    slack_signing_secret: Arc<OnceCell<Option<String>>>,
    link_secret: Arc<OnceCell<Option<String>>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub fn new(clients: AwsClients, settings: Settings) -> Result<Context, FunctionError> {
        let ports = Ports::aws(&clients, &settings)?;
        Context::with_ports(clients, ports, settings)
    }

    /// A context whose deployment steps use `ports` (the fake, in tests).
    pub fn with_ports(
        clients: AwsClients,
        ports: Ports,
        settings: Settings,
    ) -> Result<Context, FunctionError> {
        Ok(Context {
            ports,
            clients,
            settings,
            clock: None,
            slack_webhook_url: Arc::default(),
            slack_signing_secret: Arc::default(),
            link_secret: Arc::default(),
        })
    }

    /// The same context with its clock fixed (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Context {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// From the standard AWS configuration chain and [`Settings::from_env`].
    pub async fn from_env() -> Result<Context, FunctionError> {
        Context::new(AwsClients::load().await, Settings::from_env())
    }

    /// A value given directly, else the Secrets Manager secret named by `arn`.
    async fn setting_or_secret(
        &self,
        direct: &Option<String>,
        arn: &Option<String>,
    ) -> Result<Option<String>, AwsError> {
        match (direct, arn) {
            (Some(value), _) => Ok(Some(value.clone())),
            (None, Some(arn)) => {
                Ok(Some(self.ports.secrets.value(arn).await?).filter(|v| !v.is_empty()))
            }
            (None, None) => Ok(None),
        }
    }

    /// Slack's incoming webhook URL, if Slack messages are on; a secret is
    /// read once, when first needed (not at every cold start).
    pub async fn slack_webhook_url(&self) -> Result<Option<String>, AwsError> {
        let settings = &self.settings;
        self.slack_webhook_url
            .get_or_try_init(|| {
                self.setting_or_secret(
                    &settings.slack_webhook_url,
                    &settings.slack_webhook_secret_arn,
                )
            })
            .await
            .cloned()
    }

    /// Slack's signing secret, if Slack interactions are on; read once, when first needed.
    pub async fn slack_signing_secret(&self) -> Result<Option<String>, AwsError> {
        let settings = &self.settings;
        self.slack_signing_secret
            .get_or_try_init(|| {
                self.setting_or_secret(
                    &settings.slack_signing_secret,
                    &settings.slack_signing_secret_arn,
                )
            })
            .await
            .cloned()
    }

    /// The key approval links are derived with; read once, when first needed.
    pub async fn link_secret(&self) -> Result<Option<String>, AwsError> {
        let settings = &self.settings;
        self.link_secret
            .get_or_try_init(|| {
                self.setting_or_secret(&settings.link_secret, &settings.link_secret_arn)
            })
            .await
            .cloned()
    }

    /// Milliseconds since the epoch (a fixed clock's seconds × 1000).
    pub fn now_millis(&self) -> u64 {
        if let Some(clock) = &self.clock {
            return clock().saturating_mul(1000);
        }
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default()
    }

    /// Adds an event to the audit trail, best effort: a trail that cannot
    /// be written is logged, and never stops a deployment or its rollback.
    pub async fn record(&self, event: ecs_canary_core::HistoryEvent) {
        if let Err(error) = self.ports.history.record(&event).await {
            tracing::error!(%error, kind = event.kind.as_str(), service = %event.service, "could not add to the history");
        }
    }

    /// Seconds since the epoch.
    pub fn now(&self) -> u64 {
        if let Some(clock) = &self.clock {
            return clock();
        }
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }
}
