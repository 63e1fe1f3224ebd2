//! `make bench`: cold-start cost of each release function binary.
//!
//! For every function: the stripped release binary's size and the AWS SDK
//! crates it links (from the symbols of the unstripped build); the time from
//! process start until it asks the Lambda Runtime API for its first event
//! (ready); the time from handing it a real event until its response, with
//! every AWS call going to a local emulator (first invoke); and its peak
//! resident memory (VmHWM). A fresh process serves each run; the medians of
//! several runs are printed as a table.
//!
//! The Runtime API here is a minimal stand-in served by this process, so that
//! nothing but the function itself is timed.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ecs_canary_e2e::example::{create_example_app, APP_STACK, CLUSTER, SERVICE};
use ecs_canary_e2e::{
    bind_loopback, function_directories, read_http_request, repo_root, Emulator, REGION,
};
use serde_json::{json, Value};

const RUNS: usize = 7;
const TIMEOUT: Duration = Duration::from_secs(30);

enum Event {
    Ready(Instant),
    Responded(Instant, bool, Vec<u8>),
}

struct Run {
    ready: Duration,
    invoke: Duration,
    peak_kib: u64,
    ok: bool,
    response: Vec<u8>,
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// Serves one connection of the stand-in Runtime API: the first `next` gets
/// the event, the response is reported, later `next`s are left waiting.
fn serve(stream: TcpStream, event: Vec<u8>, function: String, events: mpsc::Sender<Event>) {
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut served = false;
    while let Some((request_line, body)) = read_http_request(&mut reader) {
        if request_line.contains("/runtime/invocation/next") {
            if served {
                // Park the runtime: the process is measured, then killed.
                std::thread::sleep(TIMEOUT);
                return;
            }
            served = true;
            let _ = events.send(Event::Ready(Instant::now()));
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 60_000)
                .unwrap_or_default();
            respond(
                &mut writer,
                "200 OK",
                &[
                    ("Content-Type", "application/json".into()),
                    ("Lambda-Runtime-Aws-Request-Id", "bench-request".into()),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        format!("arn:aws:lambda:{REGION}:123456789012:function:{function}"),
                    ),
                    (
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-00000000-000000000000000000000000".into(),
                    ),
                ],
                &event,
            );
        } else if request_line.contains("/response") || request_line.contains("/error") {
            let ok = request_line.contains("/response");
            let _ = events.send(Event::Responded(Instant::now(), ok, body));
            respond(&mut writer, "202 Accepted", &[], b"{}");
        } else {
            respond(&mut writer, "404 Not Found", &[], b"{}");
        }
    }
}

fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn run_once(binary: &PathBuf, function: &str, event: &Value, emulator: &Emulator) -> Run {
    let listener = bind_loopback();
    let port = listener.local_addr().expect("addr").port();
    let (events_tx, events_rx) = mpsc::channel();
    let body = serde_json::to_vec(event).expect("event");
    let name = function.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let (body, name, events) = (body.clone(), name.clone(), events_tx.clone());
            std::thread::spawn(move || serve(stream, body, name, events));
        }
    });

    let mut command = Command::new(binary);
    command
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        )
        .env("RUST_LOG", "warn")
        // Lambda sets neither: the function finds the system's bundle itself.
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in emulator.environment() {
        command.env(name, value);
    }
    for (name, value) in emulator.function_environment() {
        command.env(name, value);
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("start the function");
    let ready = match events_rx.recv_timeout(TIMEOUT) {
        Ok(Event::Ready(at)) => at,
        _ => panic!("{function} never asked for an event"),
    };
    let (done, ok, response) = match events_rx.recv_timeout(TIMEOUT) {
        Ok(Event::Responded(at, ok, body)) => (at, ok, body),
        _ => panic!("{function} never answered"),
    };
    let peak = peak_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    Run {
        ready: ready - started,
        invoke: done - ready,
        peak_kib: peak,
        ok,
        response,
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    // `make bench` builds the bootstraps as `make package` does:
    // <BENCH_BIN_DIR>/<function>/bootstrap (or plain cargo: target/release/<function>).
    let dir = std::env::var("BENCH_BIN_DIR")
        .map(|dir| repo_root().join(dir))
        .unwrap_or_else(|_| repo_root().join("target/release"));
    let binary_of = |function: &str| {
        let bootstrap = dir.join(function).join("bootstrap");
        if bootstrap.is_file() {
            bootstrap
        } else {
            dir.join(function)
        }
    };
    // Every function, those of a deployment in the order it uses them (each
    // needs the deployment the ones before it produced), then the others.
    let mut functions = function_directories();
    functions.sort_by_key(|f| pipeline_rank(f));
    for function in &functions {
        assert!(
            binary_of(function).is_file(),
            "{} is missing: `make bench` builds it",
            binary_of(function).display()
        );
    }
    // infra/ deployed (tables, topic, secrets); the release binaries run with
    // the deployed functions' configuration.
    let emulator = Emulator::start_with_functions().await;
    let clients = emulator.clients().await;
    create_example_app(&clients)
        .await
        .expect("create the example stacks");

    let request = json!({
        "cluster": CLUSTER, "service": SERVICE, "stack": APP_STACK,
        "environment": {"APPVERSION": "1.0.1"}, "steps": [10, 50]
    });
    let mut deployment = Value::Null;
    let mut rows = Vec::new();
    for function in &functions {
        let function = function.as_str();
        let event = match function {
            "resolve-stable" => json!({"input": request, "owner": "bench"}),
            "render-and-deploy" => json!({"deployment": deployment, "action": "deploy"}),
            "set-weights" => json!({"deployment": deployment, "step": 0}),
            "request-approval" => {
                let mut stepped = deployment.clone();
                stepped["step"] = json!(0);
                json!({"taskToken": "bench-task-token", "execution": "bench", "deployment": stepped})
            }
            // A link that does not exist.
            "approval-api" => function_url_get("/approvals/0123456789abcdef0123456789abcdef", None),
            // An operator's request (AWS_IAM) for a path that does not
            // exist: answered 404 without a call to AWS.
            "operator-api" => function_url_get(
                "/nothing",
                Some(
                    json!({"iam": {"accessKey": "AKIA", "accountId": "123456789012",
                                    "callerId": "AIDA", "userArn": "arn:aws:iam::123456789012:user/bench",
                                    "userId": "AIDA"}}),
                ),
            ),
            "ecr-trigger" => json!({
                "source": "aws.ecr", "detail-type": "ECR Image Action",
                "account": "123456789012", "region": "us-east-1",
                "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": "unmapped",
                           "image-digest": "sha256:00", "image-tag": "1"}
            }),
            "rollback" => json!({"deployment": deployment, "reason": {"Error": "Bench"}}),
            // A deployment of a service that has no gate changed state: one
            // read of the service's history.
            "ecs-hook" => json!({
                "source": "aws.ecs", "detail-type": "ECS Deployment State Change",
                "resources": ["arn:aws:ecs:us-east-1:123456789012:service/bench/unknown"],
                "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED"}
            }),
            // An execution that ended without holding the service: its links are closed.
            "reconcile" => json!({
                "source": "aws.states", "detail-type": "Step Functions Execution Status Change",
                "detail": {"executionArn": "bench", "status": "ABORTED", "input": request.to_string()}
            }),
            // An alarm that guards no deployment enters ALARM: one scan of the lock table.
            "alarm-abort" => json!({
                "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
                "detail": {"alarmName": "bench-unguarded", "state": {"value": "ALARM"},
                           "previousState": {"value": "OK"}}
            }),
            _ => json!({"deployment": deployment}),
        };
        let (binary, sdks) = stripped_copy(&binary_of(function));
        let runs: Vec<Run> = (0..RUNS)
            .map(|_| run_once(&binary, function, &event, &emulator))
            .collect();
        let failed = runs.iter().filter(|r| !r.ok).count();
        if let Some(last) = runs.last() {
            assert!(
                last.ok,
                "{function} failed: {}",
                String::from_utf8_lossy(&last.response)
            );
            // Each step hands the deployment on, as the state machine does
            // (set-weights records the split promote then starts from).
            let answer: Value = serde_json::from_slice(&last.response).unwrap_or(Value::Null);
            if answer.get("request").is_some() {
                deployment = answer;
            }
        }
        let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
        rows.push(format!(
            "| {function} | {:.1} MB | {} | {} | {:.1} MB | {}/{RUNS} | {} | {} |",
            size as f64 / 1_000_000.0,
            millis(median(runs.iter().map(|r| r.ready).collect())),
            millis(median(runs.iter().map(|r| r.invoke).collect())),
            runs.iter().map(|r| r.peak_kib).max().unwrap_or(0) as f64 / 1024.0,
            RUNS - failed,
            sdks.len(),
            sdks.join(", "),
        ));
    }
    println!("Cold start of each release function binary, median of {RUNS} fresh processes;");
    println!("first invoke = event handed over → response, all AWS calls to the local emulator.\n");
    println!("| function | binary | start → ready | first invoke | peak RSS | ok | SDKs | SDK crates linked |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

/// A function URL's GET of `path` (payload format 2.0), signed by the
/// identity in `authorizer` if any.
fn function_url_get(path: &str, authorizer: Option<Value>) -> Value {
    let mut context = json!({
        "http": {"method": "GET", "path": path,
                 "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
        "domainName": "localhost", "requestId": "bench", "routeKey": "$default",
        "stage": "$default", "time": "26/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
        "accountId": "123456789012", "apiId": "bench"
    });
    if let Some(authorizer) = authorizer {
        context["authorizer"] = authorizer;
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "localhost"},
        "requestContext": context,
        "isBase64Encoded": false
    })
}

/// A stripped copy of `binary` (what `make package` ships), and the AWS SDK
/// service crates (`aws_sdk_*`) named in the symbols of `binary` itself:
/// those the linker kept (none from a binary without symbols).
fn stripped_copy(binary: &std::path::Path) -> (PathBuf, Vec<String>) {
    let copy = binary.with_extension("stripped");
    std::fs::copy(binary, &copy).expect("copy the binary");
    let stripped = Command::new("strip")
        .arg(&copy)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(stripped, "strip {} failed (binutils)", copy.display());
    // Symbol sizes (`nm -S`) per crate a symbol names: a crate counts as
    // linked with at least a kilobyte of code of its own (not, say, the drop
    // of an empty client slot).
    let symbols = Command::new("nm")
        .args(["--defined-only", "--demangle", "-S"])
        .arg(binary)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    let mut bytes: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for line in symbols.lines() {
        let mut fields = line.splitn(4, ' ');
        let (Some(_), Some(size), Some(_), Some(name)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let size = u64::from_str_radix(size, 16).unwrap_or(0);
        let mut named: Vec<&str> = name
            .match_indices("aws_sdk_")
            .map(|(at, _)| {
                let rest = &name[at..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect();
        named.sort_unstable();
        named.dedup();
        for krate in named {
            *bytes.entry(krate).or_default() += size;
        }
    }
    let crates: Vec<&str> = bytes
        .into_iter()
        .filter(|(_, size)| *size >= 1024)
        .map(|(krate, _)| krate)
        .collect();
    let names = crates
        .iter()
        .map(|c| c.trim_start_matches("aws_sdk_").to_string())
        .collect();
    (copy, names)
}

/// Where a function comes in a deployment (others after).
fn pipeline_rank(function: &str) -> usize {
    [
        "resolve-stable",
        "render-and-deploy",
        "set-weights",
        "promote",
        "rollback",
        "request-approval",
    ]
    .iter()
    .position(|f| *f == function)
    .unwrap_or(usize::MAX)
}
