use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ecs_canary_aws::{AwsClients, DeploymentLocks};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use crate::FunctionError;

/// The environment variable naming the DynamoDB table of deployment locks.
pub const LOCK_TABLE_ENV: &str = "ECS_CANARY_LOCK_TABLE";
const DEFAULT_LOCK_TABLE: &str = "ecs-canary-locks";

/// What every handler works with, built once per process.
#[derive(Debug, Clone)]
pub struct Context {
    pub clients: AwsClients,
    pub locks: DeploymentLocks,
}

impl Context {
    pub fn new(clients: AwsClients, lock_table: &str) -> Context {
        let locks = clients.locks(lock_table);
        Context { clients, locks }
    }

    /// From the standard AWS configuration chain and `ECS_CANARY_LOCK_TABLE`.
    pub async fn from_env() -> Context {
        let table =
            std::env::var(LOCK_TABLE_ENV).unwrap_or_else(|_| DEFAULT_LOCK_TABLE.to_string());
        Context::new(AwsClients::load().await, &table)
    }

    /// Seconds since the epoch.
    pub fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }
}

/// Runs a handler as a Lambda function: JSON logs, clients built once.
pub async fn run<H, F>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Arc<Context>, Value) -> F + Copy + Send + 'static,
    F: Future<Output = Result<Value, FunctionError>> + Send,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .init();
    let context = Arc::new(Context::from_env().await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let context = Arc::clone(&context);
        async move {
            let result = handler(context, event.payload).await;
            if let Err(error) = &result {
                tracing::warn!(error_type = ecs_canary_core::ErrorName::error_type(error), %error, "step failed");
            }
            result
        }
    }))
    .await
}
