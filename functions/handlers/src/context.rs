//! What every step and the operator's commands work with: the ports (AWS,
//! or the in-memory fake in a test), the settings, a clock, and the secrets
//! read once, when first needed.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ecs_canary_aws::{
    function_sdk_config, AlarmStore, ApprovalStore, AwsError, ExecutionStarter, FunctionApi,
    HistoryStore, LazyClients, LockStore, MetricStore, NativeDeploymentApi, NotificationApi,
    RuleStore, SecretStore, ServiceStore, StackStore, TaskCallbackApi, WebhookApi,
};
use tokio::sync::OnceCell;

use crate::webhook::Webhooks;
use crate::Settings;

/// A set of [`Ports`] (their `Ports::RULES`, `Ports::LOCKS`, … bits): the
/// capabilities one function uses.
pub type PortSet = u32;

/// Declares the ports: the fields, their bits, the accessors and the
/// builders (from AWS, only the ports a function names; from one fake that
/// is every port at once, in tests).
macro_rules! ports {
    ($( $(#[$doc:meta])* $field:ident: $bit:ident = $n:literal, dyn $trait:ident; )*) => {
        /// The capabilities the deployment steps use: the adapters to AWS,
        /// or (in a test) the in-memory fake. A function holds only the
        /// ports it names (its `PORTS`), and a step sees only those, on AWS
        /// as in a test: asking for another is a defect of the function,
        /// and panics naming the port.
        #[derive(Clone, Default)]
        pub struct Ports {
            $( $field: Option<Arc<dyn $trait>>, )*
        }

        impl Ports {
            $( pub const $bit: PortSet = 1 << $n; )*
            /// Every port.
            pub const ALL: PortSet = 0 $( | (1 << $n) )*;

            $(
                $(#[$doc])*
                #[track_caller]
                pub fn $field(&self) -> &dyn $trait {
                    match &self.$field {
                        Some(port) => port.as_ref(),
                        None => missing(stringify!($field)),
                    }
                }
            )*

            /// The same ports, less those not in `set`.
            pub fn only(&self, set: PortSet) -> Ports {
                Ports {
                    $( $field: self.$field.clone().filter(|_| set & Self::$bit != 0), )*
                }
            }

            /// Every port served by one implementation of them all (the
            /// in-memory fake).
            pub fn every<T>(all: T) -> Ports
            where
                T: Clone $( + $trait )* + 'static,
            {
                Ports {
                    $( $field: Some(Arc::new(all.clone())), )*
                }
            }
        }
    };
}

ports! {
    rules: RULES = 0, dyn RuleStore;
    ecs: ECS = 1, dyn ServiceStore;
    stacks: STACKS = 2, dyn StackStore;
    locks: LOCKS = 3, dyn LockStore;
    approvals: APPROVALS = 4, dyn ApprovalStore;
    callbacks: CALLBACKS = 5, dyn TaskCallbackApi;
    alarms: ALARMS = 6, dyn AlarmStore;
    functions: FUNCTIONS = 7, dyn FunctionApi;
    metrics: METRICS = 8, dyn MetricStore;
    history: HISTORY = 9, dyn HistoryStore;
    notifications: NOTIFICATIONS = 10, dyn NotificationApi;
    starts: STARTS = 11, dyn ExecutionStarter;
    secrets: SECRETS = 12, dyn SecretStore;
    webhooks: WEBHOOKS = 13, dyn WebhookApi;
    /// ECS's own deployments (pause hooks).
    native: NATIVE = 14, dyn NativeDeploymentApi;
}

#[cold]
#[track_caller]
fn missing(port: &str) -> ! {
    panic!("this function does not hold the port `{port}`: add it to its PORTS")
}

impl Ports {
    /// The adapters in `PORTS` and no others, with the tables `settings`
    /// names: a constant set, so that a function's binary links the SDKs of
    /// its own ports only.
    pub fn aws<const PORTS: PortSet>(clients: &LazyClients, settings: &Settings) -> Ports {
        let has = |bit: PortSet| PORTS & bit != 0;
        let mut ports = Ports::default();
        if has(Ports::RULES) {
            ports.rules = Some(Arc::new(clients.rules()));
        }
        if has(Ports::ECS) {
            ports.ecs = Some(Arc::new(clients.ecs()));
        }
        if has(Ports::STACKS) {
            ports.stacks = Some(Arc::new(clients.stacks()));
        }
        if has(Ports::LOCKS) {
            ports.locks = Some(Arc::new(clients.locks(&settings.lock_table)));
        }
        if has(Ports::APPROVALS) {
            ports.approvals = Some(Arc::new(match &settings.token_key {
                Some(key) => clients.sealed_approvals(&settings.approvals_table, key),
                None => clients.approvals(&settings.approvals_table),
            }));
        }
        if has(Ports::CALLBACKS) {
            ports.callbacks = Some(Arc::new(clients.callbacks()));
        }
        if has(Ports::ALARMS) {
            ports.alarms = Some(Arc::new(clients.alarms()));
        }
        if has(Ports::FUNCTIONS) {
            ports.functions = Some(Arc::new(clients.functions()));
        }
        if has(Ports::METRICS) {
            ports.metrics = Some(Arc::new(clients.metrics()));
        }
        if has(Ports::HISTORY) {
            ports.history = Some(Arc::new(clients.history(&settings.history_table)));
        }
        if has(Ports::NOTIFICATIONS) {
            ports.notifications = Some(Arc::new(clients.notifications()));
        }
        if has(Ports::STARTS) {
            ports.starts = Some(Arc::new(clients.state_machines()));
        }
        if has(Ports::SECRETS) {
            ports.secrets = Some(Arc::new(clients.secrets()));
        }
        if has(Ports::WEBHOOKS) {
            ports.webhooks = Some(Arc::new(Webhooks::new()));
        }
        if has(Ports::NATIVE) {
            ports.native = Some(Arc::new(clients.ecs()));
        }
        ports
    }
}

/// What every handler works with, built once per process.
#[derive(Clone)]
pub struct Context {
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
    /// A context whose deployment steps use `ports` (the fake, in tests).
    pub fn with_ports(ports: Ports, settings: Settings) -> Context {
        Context {
            ports,
            settings,
            clock: None,
            slack_webhook_url: Arc::default(),
            slack_signing_secret: Arc::default(),
            link_secret: Arc::default(),
        }
    }

    /// The same context with only the ports in `set` (what a step names:
    /// a step sees no other, in a test as on AWS).
    pub fn only(&self, set: PortSet) -> Arc<Context> {
        Arc::new(Context {
            ports: self.ports.only(set),
            ..self.clone()
        })
    }

    /// The same context with its clock fixed (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Context {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// From the variables Lambda sets ([`function_sdk_config`]) and
    /// [`Settings::from_env`], with the ports in `PORTS` only.
    pub fn from_env<const PORTS: PortSet>() -> Context {
        let settings = Settings::from_env();
        let clients = LazyClients::new(function_sdk_config());
        let ports = Ports::aws::<PORTS>(&clients, &settings);
        Context::with_ports(ports, settings)
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
                Ok(Some(self.ports.secrets().value(arn).await?).filter(|v| !v.is_empty()))
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
        if let Err(error) = self.ports.history().record(&event).await {
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
