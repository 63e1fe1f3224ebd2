//! The `ecs-canary` command line, run as an operator runs it: a process
//! with the emulator's environment (and, to act as someone else, other
//! credentials).

use std::process::Command;

use crate::{repo_root, Emulator};

/// What one run printed and how it ended.
#[derive(Debug, Clone)]
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// The standard output as JSON (`--json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

/// Builds the command line once per process.
pub fn build_cli() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        let status = crate::functions::clean_cargo_env(&mut command)
            .current_dir(repo_root())
            .args(["build", "--quiet", "-p", "ecs-canary-cli"])
            .status()
            .expect("cannot run cargo build");
        assert!(status.success(), "building the command line failed");
    });
}

/// The binary `cargo build` made.
fn binary() -> std::path::PathBuf {
    crate::target_dir().join("debug/ecs-canary")
}

/// Runs `ecs-canary ARGS` against `emulator`, as the caller whose
/// credentials are `credentials` (access key, secret, session token), or
/// the emulator's default caller.
pub async fn ecs_canary(
    emulator: &Emulator,
    credentials: Option<&(String, String, String)>,
    args: &[&str],
) -> CliRun {
    build_cli();
    let mut command = tokio::process::Command::new(binary());
    command
        .args(args)
        .env_remove("ECS_CANARY_STACK")
        .env_remove("ECS_CANARY_CLUSTER");
    for (name, value) in emulator.environment() {
        command.env(name, value);
    }
    if let Some((key, secret, token)) = credentials {
        command
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_SESSION_TOKEN", token);
    }
    let output = command.output().await.expect("run ecs-canary");
    CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    }
}

/// Credentials of another person: a role session (`sts:AssumeRole`) named
/// `who`, whose identity is `…:assumed-role/Deployers/<who>`.
pub async fn someone_else(emulator: &Emulator, who: &str) -> (String, String, String) {
    let config = emulator.sdk_config().await;
    let assumed = aws_sdk_sts::Client::new(&config)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{}:role/Deployers", crate::ACCOUNT))
        .role_session_name(who)
        .send()
        .await
        .expect("assume a role");
    let credentials = assumed.credentials().expect("credentials");
    (
        credentials.access_key_id().to_string(),
        credentials.secret_access_key().to_string(),
        credentials.session_token().to_string(),
    )
}
