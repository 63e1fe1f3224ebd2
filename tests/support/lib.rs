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

pub mod example;

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

fn free_port() -> u16 {
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
}

/// A running emulator, stopped when dropped.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    port: u16,
    log: PathBuf,
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
            let port = free_port();
            let log = logs.join(format!("emulator-{port}.log"));
            let log_file = std::fs::File::create(&log).expect("cannot create the emulator log");
            let mut command = Command::new(python());
            command
                .arg(repo_root().join("tests/emulator/launcher.py"))
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log_file));
            if let Some(endpoint) = &options.lambda_endpoint {
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
            let emulator = Emulator { child, port, log };
            match ready_rx.recv_timeout(READY_TIMEOUT) {
                Ok(()) => return emulator,
                Err(_) => {
                    last_error = std::fs::read_to_string(&emulator.log).unwrap_or_default();
                    drop(emulator);
                }
            }
        }
        panic!("the emulator did not start; its log:\n{last_error}");
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

    /// A raw HTTP/1.1 request to the emulator: (status, headers, body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        http_request(self.port, method, path, body)
    }

    /// Whether anything still accepts connections on the emulator's port.
    pub fn is_listening(port: u16) -> bool {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 client for loopback tests.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body).expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}
