//! The emulator: moto + the project's plugin behind the launcher (forked by
//! the process's [zygote](crate::zygote)), with `infra/` deployed and the
//! functions served, stopped when dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use ecs_canary_aws::AwsClients;

use crate::functions::{start_function_server, FunctionServer, PortTaken};
use crate::http::{http_request, HttpResponse};
use crate::slack::FakeSlack;
use crate::zygote::{self, Started};
use crate::{
    free_port, repo_root, FUNCTION_PREFIX, INFRA_STACK, LOCK_TABLE, REGION, SLACK_SIGNING_SECRET,
};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("ECS_CANARY_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = repo_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `make venv` (or `make test`) to install the emulator",
        venv.display()
    );
    venv
}

/// Settings of an emulator to start.
#[derive(Debug, Default, Clone)]
pub struct EmulatorOptions {
    /// Where Lambda Invoke API calls go (e.g. `cargo lambda watch`).
    pub lambda_endpoint: Option<String>,
    /// Deploy `infra/` to the emulator, serve the project's function binaries
    /// with `cargo lambda watch` (configured as the deployed functions are),
    /// and route Lambda invocations to it.
    pub functions: bool,
    /// The ECR trigger's mappings (JSON), when `functions`.
    pub trigger_mappings: Option<String>,
    /// The stack's `DefaultApprovalPolicy` (JSON), when `functions`.
    pub approval_policy: Option<String>,
    /// The stack's `PushEvents` (`ImageAction` by default, or `CloudTrail`).
    pub push_events: Option<String>,
    /// Fixed ports instead of free ones (for use by hand).
    pub port: Option<u16>,
    pub function_port: Option<u16>,
}

/// A running emulator, stopped when dropped.
#[derive(Debug)]
pub struct Emulator {
    /// The emulator's process (forked by the zygote).
    pid: u32,
    port: u16,
    log: PathBuf,
    functions: Option<FunctionServer>,
    function_port: Option<u16>,
    slack: Option<FakeSlack>,
    infra: Option<serde_json::Value>,
}
/// A function's error, as the Lambda Invoke API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFailure {
    pub error_type: String,
    pub message: String,
}

impl Emulator {
    /// Starts an emulator with no Lambda endpoint.
    pub async fn start() -> Emulator {
        Emulator::start_with(EmulatorOptions::default()).await
    }

    /// Starts an emulator; the processes are started and waited for on a
    /// blocking thread, never on the test's runtime.
    pub async fn start_with(options: EmulatorOptions) -> Emulator {
        tokio::task::spawn_blocking(move || Emulator::start_blocking(options))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    fn start_blocking(options: EmulatorOptions) -> Emulator {
        let logs = repo_root().join("target/emulator-logs");
        std::fs::create_dir_all(&logs).expect("cannot create target/emulator-logs");
        let mut last_error = String::new();
        // A port found free can be taken by another process before the
        // emulator or the function server binds it: try a few.
        for _ in 0..3 {
            let port = options.port.unwrap_or_else(free_port);
            let function_port = options
                .functions
                .then(|| options.function_port.unwrap_or_else(free_port));
            let lambda_endpoint = match function_port {
                Some(function_port) => Some(format!("http://127.0.0.1:{function_port}")),
                None => options.lambda_endpoint.clone(),
            };
            let log = logs.join(format!("emulator-{port}.log"));
            let request = zygote::Request {
                port,
                log: &log,
                lambda_endpoint: lambda_endpoint.as_deref(),
                function_prefix: FUNCTION_PREFIX,
            };
            let pid = match zygote::start_emulator(&python(), &logs, &request, READY_TIMEOUT) {
                Ok(Started::Ready { pid }) => pid,
                Ok(Started::Failed) => {
                    last_error = std::fs::read_to_string(&log).unwrap_or_default();
                    continue;
                }
                Err(error) => panic!("the emulator did not start: {error}"),
            };
            let mut emulator = Emulator {
                pid,
                port,
                log,
                functions: None,
                function_port,
                slack: None,
                infra: None,
            };
            if let Some(function_port) = function_port {
                // Deploy infra/ as to an account, then serve the binaries with
                // the configuration the deployed functions were given.
                let slack = FakeSlack::start();
                let mappings = options.trigger_mappings.as_deref().unwrap_or("[]");
                let policy = options.approval_policy.as_deref().unwrap_or("");
                let pushes = options.push_events.as_deref().unwrap_or("ImageAction");
                emulator.infra = Some(emulator.deploy_infra(&slack, mappings, policy, pushes));
                match start_function_server(
                    function_port,
                    port,
                    &emulator.function_environment(),
                    &logs.join(format!("functions-{port}.log")),
                ) {
                    Ok(functions) => emulator.functions = Some(functions),
                    // Another process took the port first: this emulator
                    // (dropped here) routes to it, so start anew elsewhere.
                    Err(PortTaken(log)) => {
                        last_error = log;
                        continue;
                    }
                }
                emulator.slack = Some(slack);
            }
            return emulator;
        }
        panic!("the emulator did not start; its log:\n{last_error}");
    }

    /// Deploys `infra/ecs-canary.yaml` (stack `ecs-canary`) as `make deploy` would.
    fn deploy_infra(
        &self,
        slack: &FakeSlack,
        trigger_mappings: &str,
        approval_policy: &str,
        push_events: &str,
    ) -> serde_json::Value {
        let output = Command::new(python())
            .arg(repo_root().join("tests/emulator/deploy_infra.py"))
            .args(["--stack", INFRA_STACK, "--function-prefix", FUNCTION_PREFIX])
            .args(["--slack-webhook-url", &slack.webhook_url()])
            .args(["--slack-signing-secret", SLACK_SIGNING_SECRET])
            .args(["--trigger-mappings", trigger_mappings])
            .args(["--approval-policy", approval_policy])
            .args(["--push-events", push_events])
            .envs(self.environment())
            .output()
            .expect("run deploy_infra.py");
        assert!(
            output.status.success(),
            "deploying infra/ to the emulator failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        serde_json::from_slice(&output.stdout).expect("deploy_infra.py prints JSON")
    }

    /// The environment the deployed functions were given (an empty value
    /// means "unset" to the functions, so those are left out).
    pub fn function_environment(&self) -> Vec<(String, String)> {
        self.infra
            .as_ref()
            .and_then(|infra| infra["environment"].as_object())
            .map(|vars| {
                vars.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .filter(|(_, v)| !v.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An output of the deployed `infra/` stack.
    pub fn infra_output(&self, key: &str) -> String {
        self.infra.as_ref().expect("started with functions")["outputs"][key]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The emulator's process, and the function server's (`cargo lambda
    /// watch`, whose functions run in its process group): what a benchmark
    /// reads the CPU time of.
    pub fn processes(&self) -> (u32, Option<u32>) {
        (self.pid, self.functions.as_ref().map(FunctionServer::pid))
    }

    /// The emulator's log: one line per request it answered.
    pub fn log_path(&self) -> &std::path::Path {
        &self.log
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The emulator's process: with the port, which emulator this is.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The value for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a process needs to use this emulator.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ]
    }

    /// SDK configuration for this emulator: what the standard chain builds
    /// from [`Emulator::environment`].
    pub async fn sdk_config(&self) -> SdkConfig {
        ecs_canary_aws::config_loader()
            .endpoint_url(self.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "testing", "testing", None, None, "emulator",
            ))
            .load()
            .await
    }

    pub async fn clients(&self) -> AwsClients {
        AwsClients::new(&self.sdk_config().await)
    }

    /// Starts an emulator with `infra/` deployed, whose Lambda invocations run
    /// the project's function binaries (`cargo lambda watch`).
    pub async fn start_with_functions() -> Emulator {
        Emulator::start_with(EmulatorOptions {
            functions: true,
            ..EmulatorOptions::default()
        })
        .await
    }

    /// The log of `cargo lambda watch` and the functions it ran.
    pub fn function_log(&self) -> String {
        let path = repo_root()
            .join("target/emulator-logs")
            .join(format!("functions-{}.log", self.port));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// The port `cargo lambda watch` serves on (function URLs: `/lambda-url/<function>/…`).
    pub fn function_port(&self) -> u16 {
        self.function_port.expect("started with functions")
    }

    /// The stand-in Slack webhook.
    pub fn slack(&self) -> &FakeSlack {
        self.slack.as_ref().expect("started with functions")
    }

    /// Invokes a function through the Lambda Invoke API, as Step Functions does.
    pub async fn invoke(
        &self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, FunctionFailure> {
        let body = serde_json::to_vec(payload).expect("payload serialises");
        let path = format!("/2015-03-31/functions/{function}/invocations");
        let (status, headers, body) = self.http("POST", &path, &body).await;
        assert_eq!(
            status,
            200,
            "invoke {function}: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "invoke {function}: not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        if headers.iter().any(|(k, _)| k == "x-amz-function-error") {
            Err(FunctionFailure {
                error_type: value["errorType"].as_str().unwrap_or_default().to_string(),
                message: value["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            })
        } else {
            Ok(value)
        }
    }

    /// A raw HTTP request to the emulator: (status, headers, body).
    pub async fn http(&self, method: &str, path: &str, body: &[u8]) -> HttpResponse {
        http_request(self.port, method, path, body).await
    }

    /// A call to the emulator's AWS API for `service` (its signing name),
    /// unsigned: the emulator routes by the signature's scope and checks
    /// signatures only on AWS_IAM function URLs. For set-up and for events
    /// AWS itself would emit, without a client crate per service.
    pub async fn aws_call(
        &self,
        service: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let scope = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let mut all = vec![("Authorization", scope.as_str())];
        all.extend_from_slice(headers);
        let (status, _, answer) =
            crate::http::http_request_with(self.port, "POST", "/", &all, body).await;
        (status, answer)
    }

    /// Puts one event on the default event bus (EventBridge's PutEvents), as
    /// an AWS service puts its own.
    pub async fn put_event(&self, source: &str, detail_type: &str, detail: &serde_json::Value) {
        let body = serde_json::json!({"Entries": [{
            "Source": source, "DetailType": detail_type, "Detail": detail.to_string()
        }]});
        let (status, answer) = self
            .aws_call(
                "events",
                &[
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", "AWSEvents.PutEvents"),
                ],
                body.to_string().as_bytes(),
            )
            .await;
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        assert_eq!(
            (status, answer["FailedEntryCount"].as_u64()),
            (200, Some(0)),
            "PutEvents: {answer}"
        );
    }

    /// Arms a fault of the launcher's `/_ecs-canary/faults` (see the README:
    /// `service`, `operation`, `code`, `count`, `rate`, `status`,
    /// `delaySeconds`, `afterApply`).
    pub async fn arm(&self, fault: serde_json::Value) {
        let (status, _, answer) = self
            .http("POST", "/_ecs-canary/faults", fault.to_string().as_bytes())
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }

    /// Makes the next `count` calls of `operation` on `service` (its SigV4
    /// signing name: `states`, `ecs`, `elasticloadbalancing` …) fail with the
    /// AWS error `code`, as the launcher's fault controls do.
    pub async fn arm_fault(&self, service: &str, operation: &str, code: &str, count: u32) {
        self.arm(serde_json::json!({
            "service": service, "operation": operation, "code": code, "count": count
        }))
        .await;
    }

    /// Makes the next `count` calls of `operation` on `service` answer
    /// `seconds` late (AWS slow to answer).
    pub async fn arm_delay(&self, service: &str, operation: &str, seconds: f64, count: u32) {
        self.arm(serde_json::json!({
            "service": service, "operation": operation, "delaySeconds": seconds, "count": count
        }))
        .await;
    }

    /// Slow or failing stacks and task sets from now on (the launcher's
    /// `/_ecs-canary/bad-day`: `stackUpdateSeconds`, `failNextStackUpdate`,
    /// `taskSetStabilizeSeconds`, `neverStabilize`).
    pub async fn bad_day(&self, settings: serde_json::Value) {
        let (status, _, answer) = self
            .http(
                "POST",
                "/_ecs-canary/bad-day",
                settings.to_string().as_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }

    /// Runs every scheduled rule once, now (the watch, in the infrastructure),
    /// and returns when its targets have answered: a test counts the runs it
    /// gives. Make the schedule's own clock slow first
    /// (`scheduleMinuteSeconds`) so that no other run comes between.
    pub async fn run_schedules(&self) {
        let (status, _, answer) = self.http("POST", "/_ecs-canary/schedules", b"").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        assert_ne!(
            answer.as_slice(),
            b"[]",
            "no scheduled rule is enabled to run"
        );
    }

    /// Disarms every fault.
    pub async fn disarm_faults(&self) {
        let (status, _, _) = self.http("DELETE", "/_ecs-canary/faults", b"").await;
        assert_eq!(status, 200);
    }

    /// Whether anything still accepts connections on the emulator's port.
    pub fn is_listening(port: u16) -> bool {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.functions.take();
        zygote::stop_emulator(self.pid);
    }
}

/// The lock table, as `infra/` creates it: partition key `lockKey` (string).
pub async fn create_lock_table(config: &SdkConfig) {
    create_table(config, LOCK_TABLE, "lockKey").await;
}

/// A pay-per-request table with a string partition key.
pub async fn create_table(config: &SdkConfig, table: &str, key: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {table}: {e:?}"));
}
