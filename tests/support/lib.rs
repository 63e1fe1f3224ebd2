//! Test support: a private local AWS emulator per test, and the example
//! application stack on it.
//!
//! [`Emulator::start`] starts `tests/emulator/launcher.py` (moto + the
//! project's plugin) from the project's virtualenv on a free loopback port,
//! waits until it answers, and stops it when dropped. The launcher loads once
//! per test process and forks each emulator (`zygote`). Tests never depend on an
//! emulator started by hand.
//!
//! Modules: [`emulator`] (the emulator and its fixture), [`functions`] (the
//! function binaries served by `cargo lambda watch`), [`http`] (a loopback
//! HTTP client and request reader), [`slack`] (a stand-in Slack), and the
//! scenarios built on them: [`example`], [`flow`], [`demo`], [`browser`].

use std::net::TcpListener;
use std::path::{Path, PathBuf};

pub mod alarms;
pub mod browser;
pub mod cli;
pub mod demo;
pub mod emulator;
pub mod example;
pub mod flow;
pub mod functions;
pub mod http;
pub mod native;
pub mod slack;
pub mod soak;
pub mod traffic;
mod zygote;

pub use emulator::{create_lock_table, create_table, Emulator, EmulatorOptions, FunctionFailure};
pub use functions::{build_functions, function_directories};
pub use http::{
    form_encode, http_request, http_request_with, read_http_request, try_http_request, HttpResponse,
};
pub use slack::FakeSlack;

/// Region and credentials of the emulator: any credentials work.
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, or the workspace's).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The ports this process has handed out or listens on.
///
/// Never the same port twice in one process: the tests start emulators,
/// function servers and fakes at once, and a port one test found free must
/// not be found free (or bound) by another before the first one binds it
/// (the second server would answer for the first one's functions).
static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// A loopback listener on a port no other part of this process was given.
pub fn bind_loopback() -> TcpListener {
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Ports already handed out stay bound while looking further, so the
    // kernel does not offer them again.
    let mut refused = Vec::new();
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("no free loopback port");
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        if handed_out.insert(port) {
            return listener;
        }
        refused.push(listener);
    }
}

/// A port nothing listens on now, for another process to bind.
pub fn free_port() -> u16 {
    bind_loopback()
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// The DynamoDB table of deployment locks the functions use on the emulator.
pub const LOCK_TABLE: &str = "ecs-canary-locks";

/// What `infra/` is deployed as on the emulator, and what it creates.
pub const INFRA_STACK: &str = "ecs-canary";
pub const FUNCTION_PREFIX: &str = "ecs-canary-";
pub const APPROVALS_TABLE: &str = "ecs-canary-approvals";
/// The audit trail's table, as the deployed template names it.
pub const HISTORY_TABLE: &str = "ecs-canary-history";
pub const SLACK_SIGNING_SECRET: &str = "local-signing-secret";
