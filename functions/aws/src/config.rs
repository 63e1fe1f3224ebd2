//! The SDK configuration from the standard chain (`AWS_ENDPOINT_URL` alone
//! points it elsewhere), each call bounded below the function's timeout, and
//! the clients built once.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::{tls, Builder};

use crate::{
    Alarms, Approvals, DeploymentLocks, EcsServices, FunctionInvoker, History, ListenerRules,
    Metrics, Notifications, Secrets, Stacks, StateMachines, TaskCallbacks,
};

/// The environment variable that bounds every AWS call, in seconds: set below
/// the function's own timeout, so that a call AWS never answers ends as
/// `AwsUnreachable` (which the state machine retries) instead of the whole
/// invocation being killed.
pub const AWS_TIMEOUT_VARIABLE: &str = "ECS_CANARY_AWS_TIMEOUT_SECONDS";

/// How long one AWS call may take, all attempts included, when
/// [`AWS_TIMEOUT_VARIABLE`] is not set.
const DEFAULT_OPERATION_SECONDS: f64 = 20.0;

/// Time limits for every AWS call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SdkTimeouts {
    /// One call, every retry included.
    pub operation: Duration,
    /// One attempt: half of the call's, so that a retry still fits.
    pub attempt: Duration,
    /// Opening a connection.
    pub connect: Duration,
}

impl SdkTimeouts {
    /// From the variable's value (seconds, > 0); the default otherwise.
    pub fn from_value(value: Option<&str>) -> SdkTimeouts {
        let seconds = value
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(DEFAULT_OPERATION_SECONDS);
        let operation = Duration::from_secs_f64(seconds);
        SdkTimeouts {
            operation,
            attempt: operation / 2,
            connect: operation.min(Duration::from_secs(3)),
        }
    }

    pub fn from_env() -> SdkTimeouts {
        SdkTimeouts::from_value(std::env::var(AWS_TIMEOUT_VARIABLE).ok().as_deref())
    }

    pub fn config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .operation_timeout(self.operation)
            .operation_attempt_timeout(self.attempt)
            .connect_timeout(self.connect)
            .build()
    }
}

/// Loads configuration from the standard chain (environment, profile,
/// container or instance credentials; `AWS_REGION`; `AWS_ENDPOINT_URL`),
/// with one HTTPS client (hyper + rustls/ring) shared by all clients and
/// every call bounded by [`SdkTimeouts::from_env`].
pub async fn load_sdk_config() -> SdkConfig {
    config_loader().load().await
}

/// The standard-chain loader with the project's HTTPS client, for callers
/// that set something explicitly (a test's endpoint and credentials).
pub fn config_loader() -> ConfigLoader {
    let http_client = Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(SdkTimeouts::from_env().config())
}

/// Every adapter, built once per process from one configuration.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub ecs: EcsServices,
    pub rules: ListenerRules,
    pub stacks: Stacks,
    pub callbacks: TaskCallbacks,
    pub state_machines: StateMachines,
    pub secrets: Secrets,
    pub notifications: Notifications,
    pub alarms: Alarms,
    pub metrics: Metrics,
    pub functions: FunctionInvoker,
    dynamodb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> AwsClients {
        AwsClients {
            ecs: EcsServices::new(aws_sdk_ecs::Client::new(config)),
            rules: ListenerRules::new(aws_sdk_elasticloadbalancingv2::Client::new(config)),
            stacks: Stacks::new(aws_sdk_cloudformation::Client::new(config)),
            callbacks: TaskCallbacks::new(aws_sdk_sfn::Client::new(config)),
            state_machines: StateMachines::new(aws_sdk_sfn::Client::new(config)),
            secrets: Secrets::new(aws_sdk_secretsmanager::Client::new(config)),
            notifications: Notifications::new(aws_sdk_sns::Client::new(config)),
            alarms: Alarms::new(aws_sdk_cloudwatch::Client::new(config)),
            metrics: Metrics::new(aws_sdk_cloudwatch::Client::new(config)),
            functions: FunctionInvoker::new(aws_sdk_lambda::Client::new(config)),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
        }
    }

    /// The approval requests kept in `table`.
    pub fn approvals(&self, table: &str) -> Approvals {
        Approvals::new(self.dynamodb.clone(), table)
    }

    /// The approvals in `table`, task tokens sealed with KMS key `key`.
    pub fn sealed_approvals(&self, table: &str, key: &str) -> Approvals {
        self.approvals(table)
            .sealed_by(crate::TokenSeal::new(self.kms.clone(), key))
    }

    /// The audit trail kept in `table`.
    pub fn history(&self, table: &str) -> History {
        History::new(self.dynamodb.clone(), table)
    }

    /// The deployment locks kept in `table`.
    pub fn locks(&self, table: &str) -> DeploymentLocks {
        DeploymentLocks::new(self.dynamodb.clone(), table)
    }

    /// [`load_sdk_config`] then [`AwsClients::new`].
    pub async fn load() -> AwsClients {
        AwsClients::new(&load_sdk_config().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_is_bounded_and_an_attempt_leaves_room_for_a_retry() {
        let set = SdkTimeouts::from_value(Some("6"));
        assert_eq!(set.operation, Duration::from_secs(6));
        assert_eq!(set.attempt, Duration::from_secs(3));
        assert_eq!(set.connect, Duration::from_secs(3));
        let config = set.config();
        assert_eq!(config.operation_timeout(), Some(Duration::from_secs(6)));
        assert_eq!(
            config.operation_attempt_timeout(),
            Some(Duration::from_secs(3))
        );
        for nonsense in [None, Some(""), Some("0"), Some("-1"), Some("soon")] {
            assert_eq!(
                SdkTimeouts::from_value(nonsense).operation,
                Duration::from_secs(20),
                "{nonsense:?}"
            );
        }
        assert_eq!(
            SdkTimeouts::from_value(Some("1.5")).connect,
            Duration::from_millis(1500)
        );
    }
}
