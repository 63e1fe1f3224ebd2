use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::{tls, Builder};

use crate::{
    Approvals, DeploymentLocks, EcsServices, ListenerRules, Notifications, Secrets, Stacks,
    StateMachines, TaskCallbacks,
};

/// Loads configuration from the standard chain (environment, profile,
/// container or instance credentials; `AWS_REGION`; `AWS_ENDPOINT_URL`),
/// with one HTTPS client (hyper + rustls/ring) shared by all clients.
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
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client)
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
    dynamodb: aws_sdk_dynamodb::Client,
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
            dynamodb: aws_sdk_dynamodb::Client::new(config),
        }
    }

    /// The approval requests kept in `table`.
    pub fn approvals(&self, table: &str) -> Approvals {
        Approvals::new(self.dynamodb.clone(), table)
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
