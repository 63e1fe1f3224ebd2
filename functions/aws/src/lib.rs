//! Adapters from the AWS SDK for Rust to ecs-canary's domain types.
//!
//! One type per service wraps its SDK client and speaks in domain terms
//! ([`TaskSet`](ecs_canary_core::TaskSet), [`ForwardTarget`](ecs_canary_core::ForwardTarget),
//! template text, outputs); no SDK type leaves this crate. Configuration comes
//! from the standard chain, so `AWS_ENDPOINT_URL` alone points every client at
//! another endpoint (the local emulator, say): there is no "local" code path.

mod alarms;
mod approvals;
mod config;
mod ecs;
mod error;
mod executions;
#[cfg(feature = "fake")]
pub mod fake;
mod functions;
mod history;
pub mod http;
mod locks;
mod metrics;
mod native;
mod notifications;
mod ports;
mod rules;
mod secrets;
mod stacks;
mod tokens;

pub use alarms::Alarms;
pub use approvals::{own_policy, ApprovalRecord, Approvals, DecideOutcome, StepRequest};
pub use config::{
    config_loader, function_sdk_config, load_sdk_config, read_roots_from_one_bundle, AwsClients,
    LazyClients, SdkTimeouts, AWS_TIMEOUT_VARIABLE,
};
pub use ecs::{EcsServices, LiveTaskDefinition};
pub use error::AwsError;
pub use executions::{StartOutcome, StateMachines, TaskCallbacks};
pub use functions::FunctionInvoker;
pub use history::History;
pub use locks::{DeploymentLocks, HeldLock, LockGuard};
pub use metrics::{Metrics, METRICS_PER_READ};
pub use notifications::Notifications;
pub use ports::{
    AlarmStore, ApprovalStore, AwsFuture, ExecutionStarter, FunctionApi, HistoryStore, LockStore,
    MetricStore, NativeDeploymentApi, NotificationApi, RuleStore, SecretStore, ServiceStore,
    StackStore, TaskCallbackApi, WebhookApi, WebhookFuture,
};
pub use rules::{ListenerRules, LiveRule};
pub use secrets::Secrets;
pub use stacks::{StackState, Stacks, UpdateOutcome};
pub use tokens::TokenSeal;

/// The SDK configuration type, re-exported for callers that build clients.
pub use aws_config::SdkConfig;
