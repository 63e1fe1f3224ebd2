//! The SDK configuration from the standard chain (`AWS_ENDPOINT_URL` alone
//! points it elsewhere), each call bounded below the function's timeout, and
//! the clients built once, each only when a function uses it.

use std::sync::OnceLock;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

use crate::http::SdkHttpClient;
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
/// with one HTTP client ([`crate::http`]) shared by all clients and
/// every call bounded by [`SdkTimeouts::from_env`].
pub async fn load_sdk_config() -> SdkConfig {
    config_loader().load().await
}

/// The standard-chain loader with the project's HTTPS client, for callers
/// that set something explicitly (a test's endpoint and credentials).
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(SdkHttpClient::shared())
        .timeout_config(SdkTimeouts::from_env().config())
}

/// Where systems keep their one bundle of trusted root certificates
/// (Debian and Ubuntu, Amazon Linux and RHEL, Alpine, SUSE).
const ROOT_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// The bundle of root certificates to read, when neither `SSL_CERT_FILE`
/// nor `SSL_CERT_DIR` says where they are: the first of [`ROOT_BUNDLES`]
/// that `exists`.
fn root_bundle(
    lookup: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&str) -> bool,
) -> Option<&'static str> {
    if lookup("SSL_CERT_FILE").is_some() || lookup("SSL_CERT_DIR").is_some() {
        return None;
    }
    ROOT_BUNDLES.into_iter().find(|bundle| exists(bundle))
}

/// Has the TLS clients read the trusted roots from the system's one bundle
/// (`SSL_CERT_FILE`), unless a variable already says where they are.
/// Otherwise they read the bundle and then every file of the certificates'
/// directory (the same roots again: 292 files on a Debian machine, half a
/// function's start). Call it first thing in `main`, while the process has
/// one thread.
pub fn read_roots_from_one_bundle() {
    let lookup = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    if let Some(bundle) = root_bundle(lookup, |path| std::path::Path::new(path).is_file()) {
        std::env::set_var("SSL_CERT_FILE", bundle);
    }
}

/// The configuration a Lambda function runs with, from the variables Lambda
/// sets: credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), `AWS_REGION`, and `AWS_ENDPOINT_URL` when it is set;
/// the project's HTTPS client, every call bounded by
/// [`SdkTimeouts::from_env`], standard retries. Not the whole standard chain
/// (profiles, SSO, web identity, container and instance metadata): a
/// function never finds those, and the chain would link the STS SDK and
/// itself into every function's binary.
pub fn function_sdk_config() -> SdkConfig {
    function_sdk_config_from(|name| std::env::var(name).ok())
}

/// [`function_sdk_config`] with the variables `lookup` gives (an empty one
/// is unset).
fn function_sdk_config_from(lookup: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let variable = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(
            variable("AWS_REGION")
                .or_else(|| variable("AWS_DEFAULT_REGION"))
                .map(aws_config::Region::new),
        )
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        )
        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
        .http_client(SdkHttpClient::shared())
        .timeout_config(SdkTimeouts::from_env().config())
        .retry_config(aws_config::retry::RetryConfig::standard());
    config.set_endpoint_url(variable("AWS_ENDPOINT_URL"));
    config.build()
}

/// The adapters of one process, each built only when asked for: a function
/// that asks for some links and initialises only their SDKs. A service's SDK
/// client is created once and shared by its adapters (DynamoDB by the locks,
/// the approvals and the history; CloudWatch by the alarms and the metrics;
/// Step Functions by the callbacks and the starts; ECS by the services and
/// ECS's own deployments).
#[derive(Debug)]
pub struct LazyClients {
    config: SdkConfig,
    ecs: OnceLock<aws_sdk_ecs::Client>,
    sfn: OnceLock<aws_sdk_sfn::Client>,
    cloudwatch: OnceLock<aws_sdk_cloudwatch::Client>,
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
}

impl LazyClients {
    pub fn new(config: SdkConfig) -> LazyClients {
        LazyClients {
            config,
            ecs: OnceLock::new(),
            sfn: OnceLock::new(),
            cloudwatch: OnceLock::new(),
            dynamodb: OnceLock::new(),
        }
    }

    fn ecs_client(&self) -> aws_sdk_ecs::Client {
        self.ecs
            .get_or_init(|| aws_sdk_ecs::Client::new(&self.config))
            .clone()
    }

    fn sfn_client(&self) -> aws_sdk_sfn::Client {
        self.sfn
            .get_or_init(|| aws_sdk_sfn::Client::new(&self.config))
            .clone()
    }

    fn cloudwatch_client(&self) -> aws_sdk_cloudwatch::Client {
        self.cloudwatch
            .get_or_init(|| aws_sdk_cloudwatch::Client::new(&self.config))
            .clone()
    }

    fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        self.dynamodb
            .get_or_init(|| aws_sdk_dynamodb::Client::new(&self.config))
            .clone()
    }

    pub fn ecs(&self) -> EcsServices {
        EcsServices::new(self.ecs_client())
    }

    pub fn rules(&self) -> ListenerRules {
        ListenerRules::new(aws_sdk_elasticloadbalancingv2::Client::new(&self.config))
    }

    pub fn stacks(&self) -> Stacks {
        Stacks::new(aws_sdk_cloudformation::Client::new(&self.config))
    }

    pub fn callbacks(&self) -> TaskCallbacks {
        TaskCallbacks::new(self.sfn_client())
    }

    pub fn state_machines(&self) -> StateMachines {
        StateMachines::new(self.sfn_client())
    }

    pub fn secrets(&self) -> Secrets {
        Secrets::new(aws_sdk_secretsmanager::Client::new(&self.config))
    }

    pub fn notifications(&self) -> Notifications {
        Notifications::new(aws_sdk_sns::Client::new(&self.config))
    }

    pub fn alarms(&self) -> Alarms {
        Alarms::new(self.cloudwatch_client())
    }

    pub fn metrics(&self) -> Metrics {
        Metrics::new(self.cloudwatch_client())
    }

    pub fn functions(&self) -> FunctionInvoker {
        FunctionInvoker::new(aws_sdk_lambda::Client::new(&self.config))
    }

    /// The approval requests kept in `table`.
    pub fn approvals(&self, table: &str) -> Approvals {
        Approvals::new(self.dynamodb_client(), table)
    }

    /// The approvals in `table`, task tokens sealed with KMS key `key`.
    pub fn sealed_approvals(&self, table: &str, key: &str) -> Approvals {
        self.approvals(table).sealed_by(crate::TokenSeal::new(
            aws_sdk_kms::Client::new(&self.config),
            key,
        ))
    }

    /// The audit trail kept in `table`.
    pub fn history(&self, table: &str) -> History {
        History::new(self.dynamodb_client(), table)
    }

    /// The deployment locks kept in `table`.
    pub fn locks(&self, table: &str) -> DeploymentLocks {
        DeploymentLocks::new(self.dynamodb_client(), table)
    }
}

/// Every adapter, built at once from one configuration (the command line
/// and the tests; a function builds only its own, from [`LazyClients`]).
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
    lazy: std::sync::Arc<LazyClients>,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> AwsClients {
        let lazy = LazyClients::new(config.clone());
        AwsClients {
            ecs: lazy.ecs(),
            rules: lazy.rules(),
            stacks: lazy.stacks(),
            callbacks: lazy.callbacks(),
            state_machines: lazy.state_machines(),
            secrets: lazy.secrets(),
            notifications: lazy.notifications(),
            alarms: lazy.alarms(),
            metrics: lazy.metrics(),
            functions: lazy.functions(),
            lazy: std::sync::Arc::new(lazy),
        }
    }

    /// The approval requests kept in `table`.
    pub fn approvals(&self, table: &str) -> Approvals {
        self.lazy.approvals(table)
    }

    /// The approvals in `table`, task tokens sealed with KMS key `key`.
    pub fn sealed_approvals(&self, table: &str, key: &str) -> Approvals {
        self.lazy.sealed_approvals(table, key)
    }

    /// The audit trail kept in `table`.
    pub fn history(&self, table: &str) -> History {
        self.lazy.history(table)
    }

    /// The deployment locks kept in `table`.
    pub fn locks(&self, table: &str) -> DeploymentLocks {
        self.lazy.locks(table)
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
    fn the_roots_come_from_the_first_bundle_there_is_unless_a_variable_says_where() {
        let none = |_: &str| None;
        let amazon = |path: &str| path == "/etc/pki/tls/certs/ca-bundle.crt";
        assert_eq!(
            root_bundle(none, amazon),
            Some("/etc/pki/tls/certs/ca-bundle.crt")
        );
        assert_eq!(
            root_bundle(none, |_| true),
            Some("/etc/ssl/certs/ca-certificates.crt")
        );
        assert_eq!(root_bundle(none, |_| false), None);
        for set in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
            let given = move |name: &str| (name == set).then(|| "/mine".to_string());
            assert_eq!(root_bundle(given, |_| true), None, "{set}");
        }
    }

    #[test]
    fn a_function_is_configured_from_the_variables_lambda_sets() {
        let variables = |set: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                set.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let config = function_sdk_config_from(variables(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(config.credentials_provider().is_some());
        assert!(config.http_client().is_some());
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(3));
        assert!(config
            .timeout_config()
            .and_then(|t| t.operation_timeout())
            .is_some());

        let bare = function_sdk_config_from(variables(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", ""),
        ]));
        assert_eq!(bare.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert_eq!(bare.endpoint_url(), None, "an empty variable is unset");
        assert_eq!(function_sdk_config_from(|_| None).region(), None);
    }

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
