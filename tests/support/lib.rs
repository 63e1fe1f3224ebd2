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

/// A port nothing listens on now.
///
/// Never the same port twice in one process: the tests start emulators and
/// function servers at once, and a port one test found free must not be
/// found free by another before the first one binds it (the second server
/// would answer for the first one's functions).
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free loopback port");
        if handed_out.insert(port) {
            return port;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn every_function_bounds_its_aws_calls_below_its_own_timeout() {
        let template = std::fs::read_to_string(repo_root().join("infra/ecs-canary.yaml"))
            .expect("infra/ecs-canary.yaml");
        let mut functions = 0;
        // Top-level resources start at two spaces of indentation.
        let mut blocks: Vec<String> = Vec::new();
        for line in template.lines() {
            let top = line.starts_with("  ") && !line.starts_with("   ");
            match blocks.last_mut() {
                Some(block) if !top => {
                    block.push_str(line);
                    block.push('\n');
                }
                _ => blocks.push(format!("{line}\n")),
            }
        }
        for block in blocks
            .iter()
            .filter(|b| b.contains("Type: AWS::Lambda::Function\n"))
        {
            let value = |key: &str| -> Option<f64> {
                block
                    .lines()
                    .find_map(|l| l.trim().strip_prefix(key))
                    .map(|v| v.trim().trim_matches('"'))
                    .and_then(|v| v.parse().ok())
            };
            let name = block.lines().next().unwrap_or_default();
            let timeout = value("Timeout:").unwrap_or_else(|| panic!("{name} has no Timeout"));
            let bound = value(&format!("{}:", ecs_canary_aws::AWS_TIMEOUT_VARIABLE))
                .unwrap_or_else(|| panic!("{name} does not bound its AWS calls"));
            assert!(
                bound < timeout,
                "{name}: AWS calls bounded at {bound} s, the function at {timeout} s"
            );
            functions += 1;
        }
        assert_eq!(functions, function_directories().len());
    }
}
