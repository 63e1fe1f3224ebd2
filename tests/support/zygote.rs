//! The emulator's zygote: `tests/emulator/launcher.py --zygote`, started once
//! per test process, loads moto and the plugin once and forks one emulator per
//! request. Each emulator is a process of its own with state of its own; only
//! the seconds of importing are shared.
//!
//! It ends when this process does (its stdin closes), and its emulators end
//! with it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

/// What the emulator forked for a request answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    /// It accepts requests on its port.
    Ready { pid: u32 },
    /// It could not start (its log says why, e.g. the port was taken).
    Failed,
}

type Waiting = Arc<Mutex<HashMap<u16, mpsc::Sender<Started>>>>;

struct Zygote {
    stdin: Mutex<ChildStdin>,
    waiting: Waiting,
    log: PathBuf,
    _child: Child,
}

/// A request to start one emulator.
pub(crate) struct Request<'a> {
    pub port: u16,
    pub log: &'a Path,
    pub lambda_endpoint: Option<&'a str>,
    pub function_prefix: &'a str,
}

fn zygote(python: &Path, logs: &Path, timeout: Duration) -> Result<&'static Zygote, String> {
    static ZYGOTE: OnceLock<Result<Zygote, String>> = OnceLock::new();
    ZYGOTE
        .get_or_init(|| Zygote::start(python, logs, timeout))
        .as_ref()
        .map_err(Clone::clone)
}

/// Starts an emulator (forked by this process's zygote, started on first use)
/// and waits until it answers or `timeout` passes.
pub(crate) fn start_emulator(
    python: &Path,
    logs: &Path,
    request: &Request<'_>,
    timeout: Duration,
) -> Result<Started, String> {
    let zygote = zygote(python, logs, timeout)?;
    let (sender, receiver) = mpsc::channel();
    lock(&zygote.waiting).insert(request.port, sender);
    let line = serde_json::json!({
        "port": request.port,
        "log": request.log,
        "lambdaEndpoint": request.lambda_endpoint,
        "functionPrefix": request.function_prefix,
    });
    let sent = {
        let mut stdin = lock(&zygote.stdin);
        writeln!(stdin, "{line}").and_then(|()| stdin.flush())
    };
    let answer = match sent {
        Ok(()) => receiver.recv_timeout(timeout).map_err(|_| {
            format!(
                "no answer from the emulator on port {} in {timeout:?}; the zygote's log:\n{}",
                request.port,
                std::fs::read_to_string(&zygote.log).unwrap_or_default()
            )
        }),
        Err(error) => Err(format!("the emulator zygote is gone ({error})")),
    };
    lock(&zygote.waiting).remove(&request.port);
    answer
}

/// Ends an emulator the zygote forked, and waits until it is gone (its port
/// free again). The zygote has the system reap its children.
pub(crate) fn stop_emulator(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
    let proc = PathBuf::from(format!("/proc/{pid}"));
    for _ in 0..100 {
        if !proc.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Zygote {
    fn start(python: &Path, logs: &Path, timeout: Duration) -> Result<Zygote, String> {
        let log = logs.join(format!("zygote-{}.log", std::process::id()));
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(python)
            .arg(crate::repo_root().join("tests/emulator/launcher.py"))
            .arg("--zygote")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|e| format!("cannot start the emulator zygote: {e}"))?;
        let stdin = child.stdin.take().ok_or("the zygote's stdin")?;
        let stdout = child.stdout.take().ok_or("the zygote's stdout")?;
        let waiting: Waiting = Arc::default();
        let (loaded_tx, loaded_rx) = mpsc::channel();
        let dispatch = Arc::clone(&waiting);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let words: Vec<&str> = line.split_whitespace().collect();
                let started = match words.as_slice() {
                    ["ready", "zygote"] => {
                        let _ = loaded_tx.send(());
                        continue;
                    }
                    ["ready", port, pid] => {
                        pid.parse().ok().map(|pid| (port, Started::Ready { pid }))
                    }
                    ["failed", port, _] => Some((port, Started::Failed)),
                    _ => None,
                };
                if let Some((port, started)) = started {
                    let sender = port
                        .parse()
                        .ok()
                        .and_then(|p: u16| lock(&dispatch).remove(&p));
                    if let Some(sender) = sender {
                        let _ = sender.send(started);
                    }
                }
            }
        });
        if loaded_rx.recv_timeout(timeout).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the emulator zygote did not load; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        Ok(Zygote {
            stdin: Mutex::new(stdin),
            waiting,
            log,
            _child: child,
        })
    }
}
