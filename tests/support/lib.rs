//! Test support: a private local AWS emulator per test, and the example
//! application stack on it.
//!
//! [`Emulator::start`] launches `tests/emulator/launcher.py` (moto + the
//! project's plugin) from the project's virtualenv on a free loopback port,
//! waits until it answers, and stops it when dropped. Tests never depend on an
//! emulator started by hand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use ecs_canary_aws::AwsClients;

pub mod browser;
pub mod demo;
pub mod example;
pub mod flow;

/// Region and credentials of the emulator: any credentials work.
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

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

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
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
    /// Fixed ports instead of free ones (for use by hand).
    pub port: Option<u16>,
    pub function_port: Option<u16>,
}

/// The DynamoDB table of deployment locks the functions use on the emulator.
pub const LOCK_TABLE: &str = "ecs-canary-locks";

/// The project's Lambda function binaries, in the order a deployment uses
/// them (the same names as [`function_directories`]; a test holds them equal).
pub const FUNCTIONS: [&str; 8] = [
    "resolve-stable",
    "render-and-deploy",
    "set-weights",
    "promote",
    "rollback",
    "request-approval",
    "approval-api",
    "ecr-trigger",
];

/// What `infra/` is deployed as on the emulator, and what it creates.
pub const INFRA_STACK: &str = "ecs-canary";
pub const FUNCTION_PREFIX: &str = "ecs-canary-";
pub const APPROVALS_TABLE: &str = "ecs-canary-approvals";
pub const SLACK_SIGNING_SECRET: &str = "local-signing-secret";

/// A running emulator, stopped when dropped.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    port: u16,
    log: PathBuf,
    functions: Option<FunctionServer>,
    function_port: Option<u16>,
    slack: Option<FakeSlack>,
    infra: Option<serde_json::Value>,
}

/// A stand-in for Slack's incoming webhook (and response URLs) on loopback:
/// it keeps every JSON message posted to it, or answers 500 while failing.
#[derive(Debug, Clone)]
pub struct FakeSlack {
    port: u16,
    messages: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FakeSlack {
    pub fn start() -> FakeSlack {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let kept = std::sync::Arc::clone(&messages);
        let down = std::sync::Arc::clone(&failing);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let kept = std::sync::Arc::clone(&kept);
                let down = std::sync::Arc::clone(&down);
                std::thread::spawn(move || {
                    let mut writer = match stream.try_clone() {
                        Ok(w) => w,
                        Err(_) => return,
                    };
                    let mut reader = BufReader::new(stream);
                    while let Some((_, body)) = read_http_request(&mut reader) {
                        if down.load(std::sync::atomic::Ordering::SeqCst) {
                            let _ = writer.write_all(
                                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\ndown",
                            );
                            continue;
                        }
                        if let Ok(value) = serde_json::from_slice(&body) {
                            kept.lock().expect("lock").push(value);
                        }
                        let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    }
                });
            }
        });
        FakeSlack {
            port,
            messages,
            failing,
        }
    }

    /// Slack is down (HTTP 500 to everything) until set back.
    pub fn set_failing(&self, failing: bool) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/services/T000/B000/XXXX", self.port)
    }

    pub fn messages(&self) -> Vec<serde_json::Value> {
        self.messages.lock().expect("lock").clone()
    }
}

/// Reads one HTTP/1.1 request from a connection: (request line, body).
pub fn read_http_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        if header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((request_line, body))
}

/// `cargo lambda watch` serving the workspace's function binaries.
#[derive(Debug)]
struct FunctionServer {
    child: Child,
}

impl Drop for FunctionServer {
    fn drop(&mut self) {
        // It runs each function as a child process: end its whole process group.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// Removes what `cargo test` sets for the test binary, so that a nested cargo
/// builds exactly what `cargo build` at the top would (and reuses it).
fn clean_cargo_env(command: &mut Command) -> &mut Command {
    let keep = [
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "CARGO_TERM_COLOR",
        "CARGO_BUILD_JOBS",
    ];
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_string();
        if (name.starts_with("CARGO_") && !keep.contains(&name.as_str()))
            || name.starts_with("RUST_TEST")
        {
            command.env_remove(&name);
        }
    }
    command
}

/// The project's Lambda functions as the repository lays them out: every
/// `functions/<name>/src/main.rs` is one (the Makefile and the emulator
/// scripts read the same directories).
pub fn function_directories() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("functions"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().join("src/main.rs").is_file())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Builds every function binary exactly as `cargo lambda watch` will run it
/// (`cargo run --bin <name>`: each binary's own feature set), once per
/// process, so that no function compiles on its first invocation.
pub fn build_functions() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        for function in function_directories() {
            let mut command = Command::new(&cargo);
            let status = clean_cargo_env(&mut command)
                .current_dir(repo_root())
                .args(["build", "--quiet", "--bin", &function])
                .status()
                .expect("cannot run cargo build");
            assert!(status.success(), "building {function} failed");
        }
    });
}

/// How long the warm-up waits for each function's first answer.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(300);

/// Invokes every function once (an empty event: each answers with an error
/// of its own, which is all a warm-up needs), so the server is ready only
/// when every binary runs.
fn warm_up(port: u16, log: &Path) {
    for function in function_directories() {
        let (method, path, body) = if function == "approval-api" {
            ("GET", format!("/lambda-url/{function}/"), "")
        } else {
            (
                "POST",
                format!("/2015-03-31/functions/{function}/invocations"),
                "{}",
            )
        };
        let answered = try_http_request(
            port,
            method,
            &path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
            WARM_UP_TIMEOUT,
        );
        if let Err(error) = answered {
            panic!(
                "{function} did not answer its warm-up invocation ({error}); the function server's log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

fn start_function_server(
    port: u16,
    emulator_port: u16,
    function_env: &[(String, String)],
    log: &Path,
) -> FunctionServer {
    use std::os::unix::process::CommandExt;
    build_functions();
    let cargo_lambda = repo_root().join(".venv/bin/cargo-lambda");
    assert!(
        cargo_lambda.exists(),
        "{} is missing: run `make venv` (or `make test`)",
        cargo_lambda.display()
    );
    let log_file = std::fs::File::create(log).expect("cannot create the function server log");
    let log_err = log_file.try_clone().expect("log");
    let mut env = vec![
        format!("AWS_ENDPOINT_URL=http://127.0.0.1:{emulator_port}"),
        format!("AWS_REGION={REGION}"),
        "AWS_ACCESS_KEY_ID=testing".to_string(),
        "AWS_SECRET_ACCESS_KEY=testing".to_string(),
        "RUST_LOG=info".to_string(),
    ];
    env.extend(function_env.iter().map(|(k, v)| format!("{k}={v}")));
    let mut command = Command::new(cargo_lambda);
    clean_cargo_env(&mut command)
        .current_dir(repo_root())
        .args(["lambda", "watch", "--ignore-changes", "--quiet"])
        .args(["-A", "127.0.0.1", "-P", &port.to_string()]);
    // The functions inherit this process's environment (`--env-var` would
    // split values such as JSON at their commas).
    for variable in &env {
        if let Some((name, value)) = variable.split_once('=') {
            command.env(name, value);
        }
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .process_group(0)
        .spawn()
        .expect("cannot start cargo lambda watch");
    let server = FunctionServer { child };
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            warm_up(port, log);
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "cargo lambda watch did not listen on {port}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A function's error, as the Lambda Invoke API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFailure {
    pub error_type: String,
    pub message: String,
}

impl Emulator {
    /// Starts an emulator with no Lambda endpoint.
    pub fn start() -> Emulator {
        Emulator::start_with(EmulatorOptions::default())
    }

    pub fn start_with(options: EmulatorOptions) -> Emulator {
        let logs = repo_root().join("target/emulator-logs");
        std::fs::create_dir_all(&logs).expect("cannot create target/emulator-logs");
        let mut last_error = String::new();
        // A port found free can be taken before the launcher binds it: try a few.
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
            let log_file = std::fs::File::create(&log).expect("cannot create the emulator log");
            let mut command = Command::new(python());
            command
                .arg(repo_root().join("tests/emulator/launcher.py"))
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--function-prefix", FUNCTION_PREFIX])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log_file));
            if let Some(endpoint) = &lambda_endpoint {
                command.args(["--lambda-endpoint", endpoint]);
            }
            let mut child = command.spawn().expect("cannot start the emulator launcher");
            let stdout = child.stdout.take().expect("launcher stdout");
            let (ready_tx, ready_rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line.starts_with("ready ") {
                        let _ = ready_tx.send(());
                    }
                }
            });
            let mut emulator = Emulator {
                child,
                port,
                log,
                functions: None,
                function_port,
                slack: None,
                infra: None,
            };
            if ready_rx.recv_timeout(READY_TIMEOUT).is_err() {
                last_error = std::fs::read_to_string(&emulator.log).unwrap_or_default();
                drop(emulator);
                continue;
            }
            if let Some(function_port) = function_port {
                // Deploy infra/ as to an account, then serve the binaries with
                // the configuration the deployed functions were given.
                let slack = FakeSlack::start();
                let mappings = options.trigger_mappings.as_deref().unwrap_or("[]");
                emulator.infra = Some(emulator.deploy_infra(&slack, mappings));
                emulator.functions = Some(start_function_server(
                    function_port,
                    port,
                    &emulator.function_environment(),
                    &logs.join(format!("functions-{port}.log")),
                ));
                emulator.slack = Some(slack);
            }
            return emulator;
        }
        panic!("the emulator did not start; its log:\n{last_error}");
    }

    /// Deploys `infra/ecs-canary.yaml` (stack `ecs-canary`) as `make deploy` would.
    fn deploy_infra(&self, slack: &FakeSlack, trigger_mappings: &str) -> serde_json::Value {
        let output = Command::new(python())
            .arg(repo_root().join("tests/emulator/deploy_infra.py"))
            .args(["--stack", INFRA_STACK, "--function-prefix", FUNCTION_PREFIX])
            .args(["--slack-webhook-url", &slack.webhook_url()])
            .args(["--slack-signing-secret", SLACK_SIGNING_SECRET])
            .args(["--trigger-mappings", trigger_mappings])
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

    pub fn port(&self) -> u16 {
        self.port
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
    pub fn invoke(
        &self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, FunctionFailure> {
        let body = serde_json::to_vec(payload).expect("payload serialises");
        let path = format!("/2015-03-31/functions/{function}/invocations");
        let (status, headers, body) = self.http("POST", &path, &body);
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

    /// A raw HTTP/1.1 request to the emulator: (status, headers, body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        http_request(self.port, method, path, body)
    }

    /// Makes the next `count` calls of `operation` on `service` (its SigV4
    /// signing name: `states`, `ecs`, `elasticloadbalancing` …) fail with the
    /// AWS error `code`, as the launcher's fault controls do.
    pub fn arm_fault(&self, service: &str, operation: &str, code: &str, count: u32) {
        let body = serde_json::json!({
            "service": service, "operation": operation, "code": code, "count": count
        });
        let (status, _, answer) =
            self.http("POST", "/_ecs-canary/faults", body.to_string().as_bytes());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }

    /// Disarms every fault.
    pub fn disarm_faults(&self) {
        let (status, _, _) = self.http("DELETE", "/_ecs-canary/faults", b"");
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
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// A minimal HTTP/1.1 client for loopback tests (JSON body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    http_request_with(
        port,
        method,
        path,
        &[("Content-Type", "application/json")],
        body,
    )
}

/// A minimal HTTP/1.1 client for loopback tests: (status, headers, body).
pub fn http_request_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    try_http_request(port, method, path, headers, body, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"))
}

/// An HTTP answer: status, headers (lower-case names), body.
pub type HttpResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 request on loopback, waiting up to `timeout` for the answer.
pub fn try_http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(timeout))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    // Read by length (the server may keep the connection open), else by chunks, else to the end.
    let body = if let Some(length) = header("content-length").and_then(|l| l.parse::<usize>().ok())
    {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
        body
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    Ok((status, headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_list_is_the_function_directories() {
        let mut listed: Vec<String> = FUNCTIONS.iter().map(|f| f.to_string()).collect();
        listed.sort();
        assert_eq!(listed, function_directories());
    }

    #[test]
    fn the_template_defines_one_function_per_directory() {
        let template = std::fs::read_to_string(repo_root().join("infra/ecs-canary.yaml"))
            .expect("infra/ecs-canary.yaml");
        let mut defined: Vec<String> = template
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("FunctionName: !Sub \"${FunctionNamePrefix}")
            })
            .filter_map(|rest| rest.strip_suffix('"'))
            .map(str::to_string)
            .collect();
        defined.sort();
        assert_eq!(defined, function_directories());
    }
}
