//! The project's function binaries, built exactly as `cargo lambda watch`
//! runs them, served by it, and warmed up before anyone invokes them.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::http::try_http_request;
use crate::{repo_root, target_dir, REGION};

/// `cargo lambda watch` serving the workspace's function binaries.
#[derive(Debug)]
pub(crate) struct FunctionServer {
    child: Child,
    /// Its working directory (empty: it is watched).
    base: PathBuf,
}

impl Drop for FunctionServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir(&self.base);
    }
}

impl FunctionServer {
    /// `cargo lambda watch`'s process (the leader of its process group).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
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
/// builds exactly what `cargo build` at the top would (and reuses it). That
/// includes `CARGO` (the path of the cargo running the tests): `cargo lambda`
/// runs that cargo instead of the first one on its PATH, so the function
/// server's shim (tests/support/run-built) would be passed over, and every
/// function of every server would go through `cargo run` and its own feature
/// resolution (a rebuild of every function at the first server of a clean
/// run, seconds of cargo per function and server after it).
pub(crate) fn clean_cargo_env(command: &mut Command) -> &mut Command {
    command.env_remove("CARGO");
    let keep = [
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "CARGO_TERM_COLOR",
        "CARGO_BUILD_JOBS",
        "CARGO_INCREMENTAL",
    ];
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_string();
        if (name.starts_with("CARGO_") && !keep.contains(&name.as_str()))
            || name.starts_with("RUST_TEST")
            || name == "RUSTC_BOOTSTRAP"
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

/// Where the function servers of this process keep the workspace's `cargo
/// metadata` (tests/support/run-built/cargo): emptied once per process, as
/// the functions are built, so a changed workspace is read again.
fn metadata_cache() -> PathBuf {
    target_dir()
        .join("function-servers")
        .join(format!("metadata-{}", std::process::id()))
}

/// Builds every function binary exactly as `cargo lambda watch` will run it
/// (`cargo run --bin <name>`: each binary's own feature set), once per
/// process, so that no function compiles on its first invocation.
pub fn build_functions() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let _ = std::fs::remove_dir_all(metadata_cache());
        // One build of them all (every build resolves the same features, so
        // each is the binary `cargo build --bin NAME` makes): cargo checks
        // the workspace once, not once per function (seconds each).
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(&cargo);
        clean_cargo_env(&mut command)
            .current_dir(repo_root())
            .args(["build", "--quiet"]);
        for function in function_directories() {
            command.args(["-p", &function]);
        }
        let status = command.status().expect("cannot run cargo build");
        assert!(status.success(), "building the functions failed");
    });
}

/// How long the warm-up waits for each function's first answer.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(300);

/// Invokes every function once, all at once (an empty event: each answers
/// with an error of its own, which is all a warm-up needs), so the server is
/// ready only when every binary runs.
fn warm_up(port: u16, log: &Path) {
    // On the fixture's blocking thread: drive the clients on the runtime.
    let runtime = tokio::runtime::Handle::current();
    let calls: Vec<_> = function_directories()
        .into_iter()
        .map(|function| {
            let (method, path, body) = if function == "approval-api" {
                ("GET", format!("/lambda-url/{function}/"), "")
            } else {
                (
                    "POST",
                    format!("/2015-03-31/functions/{function}/invocations"),
                    "{}",
                )
            };
            let call = runtime.spawn(async move {
                try_http_request(
                    port,
                    method,
                    &path,
                    &[("Content-Type", "application/json")],
                    body.as_bytes(),
                    WARM_UP_TIMEOUT,
                )
                .await
            });
            (function, call)
        })
        .collect();
    for (function, call) in calls {
        let answered = runtime
            .block_on(call)
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        if let Err(error) = answered {
            panic!(
                "{function} did not answer its warm-up invocation ({error}); the function server's log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

/// A directory of function binaries by name for the function servers to
/// run instead of the tests' debug build (`make bench`: the release ones).
pub const RELEASE_FUNCTIONS_VARIABLE: &str = "ECS_CANARY_RELEASE_FUNCTIONS";

/// Another process bound the function server's port between the moment it
/// was found free and the moment the server tried it; the log says so.
#[derive(Debug)]
pub(crate) struct PortTaken(pub(crate) String);

pub(crate) fn start_function_server(
    port: u16,
    emulator_port: u16,
    function_env: &[(String, String)],
    log: &Path,
) -> Result<FunctionServer, PortTaken> {
    use std::os::unix::process::CommandExt;
    // `make bench` serves the release binaries it built (a directory of
    // them by function name); the tests serve their own debug build.
    let built = match std::env::var_os(RELEASE_FUNCTIONS_VARIABLE) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            build_functions();
            target_dir().join("debug")
        }
    };
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
    // It watches its working directory for changes (all of it, whatever
    // `--ignore-changes` says): an empty one of its own, not the workspace
    // with its target directory.
    let target = target_dir();
    let base = target.join("function-servers").join(port.to_string());
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("cannot create the function server's directory");
    let mut command = Command::new(cargo_lambda);
    clean_cargo_env(&mut command)
        .current_dir(&base)
        .args(["lambda", "watch", "--ignore-changes", "--quiet"])
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"))
        .args(["-A", "127.0.0.1", "-P", &port.to_string()]);
    // Its `cargo run --bin NAME` runs the binary build_functions made
    // (tests/support/run-built/cargo), without cargo checking the workspace again.
    let path = std::env::var("PATH").unwrap_or_default();
    // The real cargo (the shim's directory comes first on the server's PATH).
    let cargo = std::env::var("CARGO").ok().unwrap_or_else(|| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("cargo"))
            .find(|candidate| candidate.is_file())
            .map_or_else(|| "cargo".into(), |found| found.display().to_string())
    });
    let shim = repo_root().join("tests/support/run-built");
    command
        .env("PATH", format!("{}:{path}", shim.display()))
        .env("ECS_CANARY_CARGO", cargo)
        .env("ECS_CANARY_BUILT_FUNCTIONS", built)
        .env("ECS_CANARY_METADATA_CACHE", metadata_cache());
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
    let mut server = FunctionServer { child, base };
    for _ in 0..300 {
        // Something answers: it must be this server, not another process
        // that took the port first (this one then exits).
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(100));
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(log).unwrap_or_default();
                if log.contains("Address in use") {
                    return Err(PortTaken(log));
                }
                panic!("cargo lambda watch exited ({status}) although port {port} answers; its log:\n{log}");
            }
            warm_up(port, log);
            // Every function answered: through the shim, which cached the
            // workspace's metadata (a server that ran its own cargo would
            // rebuild and re-check the functions at every start).
            assert!(
                metadata_cache().is_dir(),
                "the function server on port {port} did not run tests/support/run-built/cargo"
            );
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "cargo lambda watch did not listen on {port}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
