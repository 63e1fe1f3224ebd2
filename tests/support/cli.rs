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

/// Credentials: access key, secret, session token (empty for an IAM user).
pub type Credentials = (String, String, String);

/// The IAM user every test and the demo operate as, unless they name
/// someone else.
pub const OPERATOR: &str = "operator";

/// The ARN of IAM user `name` in the emulator's account.
pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{}:user/{name}", crate::ACCOUNT)
}

/// What an operator's IAM identity is allowed: calling function URLs.
const OPERATOR_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunctionUrl","Resource":"*"}]}"#;

/// One IAM API call (query protocol) on the emulator, as the set-up's own
/// caller (the emulator checks signatures only on AWS_IAM function URLs).
async fn iam(emulator: &Emulator, params: &[(&str, &str)]) -> (u16, String) {
    let mut form = String::from("Version=2010-05-08");
    for (name, value) in params {
        form.push_str(&format!("&{name}={}", crate::http::form_encode(value)));
    }
    let (status, body) = emulator
        .aws_call(
            "iam",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .await;
    (status, String::from_utf8_lossy(&body).to_string())
}

fn xml_text(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    xml.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
        .map(|(text, _)| text.to_string())
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
}

/// IAM user `name` on `emulator`, allowed to call the operator endpoint,
/// and an access key of theirs (made once per emulator and user).
pub async fn iam_user(emulator: &Emulator, name: &str) -> Credentials {
    type Made = std::collections::HashMap<(u16, u32, String), Credentials>;
    static MADE: std::sync::OnceLock<std::sync::Mutex<Made>> = std::sync::OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let key = (emulator.port(), emulator.pid(), name.to_string());
    if let Some(credentials) = made.lock().expect("lock").get(&key) {
        return credentials.clone();
    }
    iam(emulator, &[("Action", "CreateUser"), ("UserName", name)]).await;
    let (status, _) = iam(
        emulator,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "ecs-canary-operator"),
            ("PolicyDocument", OPERATOR_POLICY),
        ],
    )
    .await;
    assert_eq!(status, 200, "PutUserPolicy for {name}");
    let (status, xml) = iam(
        emulator,
        &[("Action", "CreateAccessKey"), ("UserName", name)],
    )
    .await;
    assert_eq!(status, 200, "CreateAccessKey for {name}: {xml}");
    let credentials = (
        xml_text(&xml, "AccessKeyId"),
        xml_text(&xml, "SecretAccessKey"),
        String::new(),
    );
    made.lock().expect("lock").insert(key, credentials.clone());
    credentials
}

/// Runs `ecs-canary ARGS` against `emulator`, as the caller whose
/// credentials are `credentials` (access key, secret, session token), or
/// the IAM user [`OPERATOR`].
pub async fn ecs_canary(
    emulator: &Emulator,
    credentials: Option<&Credentials>,
    args: &[&str],
) -> CliRun {
    build_cli();
    let credentials = match credentials {
        Some(given) => given.clone(),
        None => iam_user(emulator, OPERATOR).await,
    };
    let mut command = tokio::process::Command::new(binary());
    command
        .args(args)
        .env_remove("ECS_CANARY_STACK")
        .env_remove("ECS_CANARY_CLUSTER");
    for (name, value) in emulator.environment() {
        command.env(name, value);
    }
    let (key, secret, token) = &credentials;
    command
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret);
    if token.is_empty() {
        command.env_remove("AWS_SESSION_TOKEN");
    } else {
        command.env("AWS_SESSION_TOKEN", token);
    }
    let output = command.output().await.expect("run ecs-canary");
    CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    }
}

/// Credentials of another person: a role session (`sts:AssumeRole`) named
/// `who`, whose identity is `…:assumed-role/Deployers/<who>`; the role may
/// call the operator endpoint.
pub async fn someone_else(emulator: &Emulator, who: &str) -> Credentials {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
    iam(
        emulator,
        &[
            ("Action", "CreateRole"),
            ("RoleName", "Deployers"),
            ("AssumeRolePolicyDocument", trust),
        ],
    )
    .await;
    let (status, _) = iam(
        emulator,
        &[
            ("Action", "PutRolePolicy"),
            ("RoleName", "Deployers"),
            ("PolicyName", "ecs-canary-operator"),
            ("PolicyDocument", OPERATOR_POLICY),
        ],
    )
    .await;
    assert_eq!(status, 200, "PutRolePolicy for Deployers");
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
