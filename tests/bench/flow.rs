//! `make bench`, part two: the whole flow on the emulator (real state
//! machine, functions served by `cargo lambda watch`).
//!
//! * Reject → 100 % stable: from the moment the Reject POST is sent until the
//!   weighted rule reads 100/0 towards stable (median of several runs); the
//!   same from SetAlarmState(ALARM) on a guarding alarm during a wait; each
//!   also as a ratio to the way back's physical floor on the same emulator,
//!   measured in the same run: one ModifyRule and one DescribeRules through
//!   the SDK.
//! * State transitions of a 3-step canary approved to the end.
//! * ECS's own deployment, gated: UpdateService → the first pause's approval
//!   email, and Approve → ContinueServiceDeployment taken (medians).
//! * 50 deployments of 50 services at once: time from StartExecution to the
//!   first approval email (p50, p95), state transitions and Lambda
//!   invocations per deployment (each rejected at its first step).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_core::{Colour, TrafficSplit};
use ecs_canary_e2e::alarms::GuardAlarm;
use ecs_canary_e2e::example::{
    create_app, example_template, live_state, read_network, target_group, APP_STACK, CLUSTER,
};
use ecs_canary_e2e::flow::{example_flow, example_input, link_in, sort_mail, submit, Flow};
use ecs_canary_e2e::functions::RELEASE_FUNCTIONS_VARIABLE;
use ecs_canary_e2e::native::create_native_service;
use ecs_canary_e2e::{function_directories, repo_root};
use serde_json::json;

const RUNS: usize = 5;
const AT_ONCE: usize = 50;
const WAIT: Duration = Duration::from_secs(60);

fn median(values: Vec<Duration>) -> Duration {
    percentile(values, 50)
}

/// The `p`th percentile (nearest rank).
fn percentile(mut values: Vec<Duration>, p: usize) -> Duration {
    values.sort();
    let rank = (values.len() * p).div_ceil(100).max(1);
    values[rank - 1]
}

const ALARM: &str = "bench-5xx";

/// The weighted rule and the two target groups (stable first), read once so
/// that watching the rule is one DescribeRules a time.
async fn watched(clients: &ecs_canary_aws::AwsClients) -> (String, String, String) {
    let state = live_state(clients, APP_STACK).await.expect("live state");
    let stable = state.stable();
    let layout = state.template.layout().expect("the layout");
    let ids = clients
        .stacks
        .physical_ids(APP_STACK)
        .await
        .expect("resources");
    let rule = ids
        .get(&layout.weighted_rule)
        .cloned()
        .expect("the weighted rule");
    let group = |colour: Colour| async move {
        target_group(clients, APP_STACK, colour)
            .await
            .expect("a target group")
    };
    (rule, group(stable).await, group(stable.other()).await)
}

/// Waits until the weighted rule sends 100 % to the stable target group; the
/// time since `since`, and how many DescribeRules that took.
async fn until_stable(
    clients: &ecs_canary_aws::AwsClients,
    (rule, stable, candidate): &(String, String, String),
    since: Instant,
) -> (Duration, usize) {
    let mut reads = 0;
    loop {
        let targets = clients.rules.forward_targets(rule).await.expect("the rule");
        reads += 1;
        if TrafficSplit::from_forward_targets(&targets, stable, candidate)
            .is_ok_and(|split| split.same_share(&TrafficSplit::all_stable()))
        {
            return (since.elapsed(), reads);
        }
        assert!(
            since.elapsed() < WAIT,
            "the rule never returned to 100 % stable"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// What many deployments at once measured.
struct Concurrent {
    first_approval: Vec<Duration>,
    transitions: usize,
    invocations: usize,
}

/// `AT_ONCE` services, one deployment each, all started together; each is
/// rejected at its first approval.
async fn concurrent(clients: &ecs_canary_aws::AwsClients, flow: Flow) -> Concurrent {
    let network = read_network(clients).await.expect("the network stack");
    let template = example_template("app.json");
    let names: Vec<String> = (0..AT_ONCE).map(|i| format!("bench-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        create_app(
            clients,
            &network,
            &format!("bench-app-{i}"),
            name,
            8100 + i as u16,
            &template,
        )
        .await
        .expect("an application stack");
    }
    let flow = Arc::new(flow);
    let (postman, mut mailboxes) = sort_mail(Arc::clone(&flow), &names);
    let mut runs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut mail = mailboxes.remove(name).expect("a mailbox");
        let flow = Arc::clone(&flow);
        let input = json!({
            "cluster": CLUSTER, "service": name, "stack": format!("bench-app-{i}"),
            "environment": {"APPVERSION": "3.0.0"}, "steps": [10, 50],
            "approvalTimeoutSeconds": 600
        });
        runs.push(tokio::spawn(async move {
            let started = Instant::now();
            let execution = flow.start(&format!("at-once-{i}"), &input).await;
            let (_, body) = tokio::time::timeout(Duration::from_secs(600), mail.recv())
                .await
                .ok()
                .flatten()
                .expect("an approval email");
            let waited = started.elapsed();
            let (status, page) = submit(&link_in(&body), "reject").await;
            assert_eq!(status, 200, "{page}");
            flow.finished(&execution, Duration::from_secs(600)).await;
            let history = flow.history(&execution).await;
            let count = |wanted: &dyn Fn(&str) -> bool| {
                history
                    .iter()
                    .filter(|e| wanted(e.r#type().as_str()))
                    .count()
            };
            (
                waited,
                count(&|t| t.ends_with("StateEntered")),
                count(&|t| t == "TaskScheduled" || t == "LambdaFunctionScheduled"),
            )
        }));
    }
    let mut measured = Concurrent {
        first_approval: Vec::new(),
        transitions: 0,
        invocations: 0,
    };
    for run in runs {
        let (waited, transitions, invocations) = run.await.expect("a deployment");
        measured.first_approval.push(waited);
        measured.transitions += transitions;
        measured.invocations += invocations;
    }
    postman.abort();
    measured
}

/// Serves the release functions `make bench` built (target/lambda-bench/
/// <function>/bootstrap), as AWS would run them; the debug build of the
/// tests when there are none (`cargo run --bin bench-flow` alone). Which
/// one ran is printed.
fn serve_release_functions() -> &'static str {
    let built = repo_root().join("target/lambda-bench");
    let by_name = built.join("by-name");
    let functions = function_directories();
    if !functions
        .iter()
        .all(|f| built.join(f).join("bootstrap").is_file())
    {
        return "debug functions (no release build in target/lambda-bench: `make bench` makes one)";
    }
    let _ = std::fs::remove_dir_all(&by_name);
    std::fs::create_dir_all(&by_name).expect("target/lambda-bench/by-name");
    for function in &functions {
        std::os::unix::fs::symlink(
            built.join(function).join("bootstrap"),
            by_name.join(function),
        )
        .expect("a link to a release function");
    }
    std::env::set_var(RELEASE_FUNCTIONS_VARIABLE, &by_name);
    "release functions (target/lambda-bench)"
}

/// The requests the emulator answers from now on: lines its log gains (one
/// per request answered, with its status).
struct Requests {
    log: std::path::PathBuf,
    from: u64,
}

impl Requests {
    fn from_now(emulator: &ecs_canary_e2e::Emulator) -> Requests {
        let log = emulator.log_path().to_path_buf();
        let from = std::fs::metadata(&log).map_or(0, |m| m.len());
        Requests { log, from }
    }

    /// Requests answered since [`Requests::from_now`].
    fn since(&self) -> usize {
        use std::io::{Read, Seek};
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.seek(std::io::SeekFrom::Start(self.from));
            let _ = file.read_to_string(&mut text);
        }
        text.lines()
            .filter(|line| line.contains(" HTTP/1.1\" "))
            .count()
    }
}

fn median_count(mut counts: Vec<usize>) -> usize {
    counts.sort_unstable();
    counts.get(counts.len() / 2).copied().unwrap_or(0)
}

/// AWS prices (us-east-1): Step Functions Standard per state transition,
/// Lambda per request and per GB-second (x86).
const SFN_DOLLARS_PER_TRANSITION: f64 = 0.000_025;
const LAMBDA_DOLLARS_PER_REQUEST: f64 = 0.000_000_2;
const LAMBDA_DOLLARS_PER_GB_SECOND: f64 = 0.000_016_666_7;
/// The billed duration taken for each invocation on AWS.
const ASSUMED_SECONDS: f64 = 0.1;

/// CPU seconds used so far: by the emulator's process, by `cargo lambda
/// watch`, and by the function processes it runs (its process group).
#[derive(Debug, Default)]
struct Cpu {
    emulator: f64,
    server: f64,
    functions: f64,
}

impl Cpu {
    fn of(emulator: &ecs_canary_e2e::Emulator) -> Cpu {
        let (emulator_pid, server_pid) = emulator.processes();
        let mut cpu = Cpu {
            emulator: process_cpu(emulator_pid).map_or(0.0, |(seconds, _)| seconds),
            ..Cpu::default()
        };
        let Some(server_pid) = server_pid else {
            return cpu;
        };
        // Every process and its parent: the functions are the server's
        // descendants (it starts them through `cargo run`).
        let processes: std::collections::BTreeMap<u32, (f64, u32)> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
            .filter_map(|pid| Some((pid, process_cpu(pid)?)))
            .collect();
        let descends = |mut pid: u32| {
            for _ in 0..32 {
                match processes.get(&pid) {
                    Some((_, parent)) if *parent == server_pid => return true,
                    Some((_, parent)) if *parent > 1 => pid = *parent,
                    _ => return false,
                }
            }
            false
        };
        for (pid, (seconds, _)) in &processes {
            if *pid == server_pid {
                cpu.server += seconds;
            } else if descends(*pid) {
                cpu.functions += seconds;
            }
        }
        cpu
    }

    fn since(&self, before: &Cpu) -> Cpu {
        Cpu {
            emulator: self.emulator - before.emulator,
            server: self.server - before.server,
            functions: self.functions - before.functions,
        }
    }
}

/// A process's CPU seconds (user + system, all its threads) and its parent.
fn process_cpu(pid: u32) -> Option<(f64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's name (in parentheses): state, ppid, …, utime
    // (the 12th), stime (the 13th), in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let parent = fields.get(1)?.parse().ok()?;
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((ticks / clock_ticks(), parent))
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

#[tokio::main]
async fn main() {
    let served = serve_release_functions();
    let (emulator, clients, flow) = example_flow().await;
    let input = |steps: serde_json::Value| example_input("2.0.0", steps, 600);

    // The floor: the least any way back can take here — one ModifyRule (the
    // rule at 100 % stable) and one DescribeRules reading it back.
    let mut floor = Vec::new();
    {
        let (rule_arn, stable, candidate) = watched(&clients).await;
        for _ in 0..RUNS {
            let rule = clients.rules.rule(&rule_arn).await.expect("the rule");
            let targets = ecs_canary_core::Routing {
                stable: Colour::Blue,
                candidate: Colour::Green,
                stable_target_group: stable.clone(),
                candidate_target_group: candidate.clone(),
            }
            .targets_with_split(&rule.forward_targets(), TrafficSplit::all_stable());
            let started = Instant::now();
            clients
                .rules
                .set_forward_targets(&rule, &targets)
                .await
                .expect("ModifyRule");
            let read = clients
                .rules
                .forward_targets(&rule_arn)
                .await
                .expect("DescribeRules");
            floor.push(started.elapsed());
            assert!(
                TrafficSplit::from_forward_targets(&read, &stable, &candidate)
                    .is_ok_and(|split| split.same_share(&TrafficSplit::all_stable()))
            );
        }
    }
    let floor = median(floor);

    // Reject → rule back at 100 % stable.
    let mut latencies = Vec::new();
    let mut reject_requests = Vec::new();
    for run in 0..RUNS {
        let execution = flow
            .start(&format!("reject-{run}"), &input(json!([10])))
            .await;
        let (_, body) = flow
            .next_approval_email(WAIT)
            .await
            .expect("an approval email");
        let link = link_in(&body);
        // The rule is watched while the POST is in flight: the page answers
        // only after the state machine has the decision too.
        let rule = watched(&clients).await;
        let requests = Requests::from_now(&emulator);
        let sent = Instant::now();
        let post = tokio::spawn(async move { submit(&link, "reject").await });
        let (took, reads) = until_stable(&clients, &rule, sent).await;
        latencies.push(took);
        reject_requests.push(requests.since().saturating_sub(reads));
        let (status, page) = post.await.expect("the POST");
        assert_eq!(status, 200, "{page}");
        flow.finished(&execution, WAIT).await;
    }

    // A guarding alarm fires while a person is asked → rule back at 100 % stable.
    let alarm = GuardAlarm::create(&emulator.sdk_config().await, ALARM).await;
    let mut alarm_latencies = Vec::new();
    let mut alarm_requests = Vec::new();
    for run in 0..RUNS {
        alarm.set(StateValue::Ok, "bench").await;
        let mut guarded = input(json!([10]));
        guarded["alarms"] = json!([ALARM]);
        let execution = flow.start(&format!("alarm-{run}"), &guarded).await;
        flow.next_approval_email(WAIT)
            .await
            .expect("an approval email");
        let rule = watched(&clients).await;
        let requests = Requests::from_now(&emulator);
        let fired = Instant::now();
        alarm.set(StateValue::Alarm, "bench").await;
        let (took, reads) = until_stable(&clients, &rule, fired).await;
        alarm_latencies.push(took);
        alarm_requests.push(requests.since().saturating_sub(reads));
        flow.finished(&execution, WAIT).await;
        // The notice of the abort.
        flow.next_email(WAIT).await.expect("the abort is announced");
    }

    // A 3-step canary approved to the end: how many state transitions.
    let execution = flow.start("three-steps", &input(json!([10, 25, 50]))).await;
    for _ in 0..3 {
        let (_, body) = flow
            .next_approval_email(WAIT)
            .await
            .expect("an approval email");
        let link = link_in(&body);
        let (status, _) = submit(&link, "approve").await;
        assert_eq!(status, 200);
    }
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error:?}");
    let history = flow.history(&execution).await;
    let transitions = history
        .iter()
        .filter(|e| e.r#type().as_str().ends_with("StateEntered"))
        .count();
    let lambda_calls = history
        .iter()
        .filter(|e| {
            e.r#type().as_str() == "TaskScheduled"
                || e.r#type().as_str() == "LambdaFunctionScheduled"
        })
        .count();

    // ECS's own deployment gated: UpdateService → the first pause's
    // approval email (ECS's hook event, the gate, request-approval), and an
    // approval → ContinueServiceDeployment taken (the hook no longer waits).
    let native = create_native_service(
        &emulator,
        &read_network(&clients).await.expect("the network"),
    )
    .await;
    let (mut to_email, mut to_continue) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let updated = Instant::now();
        native.update().await;
        let deployment = native.deployment().await;
        let (_, body) = flow
            .next_approval_email(WAIT)
            .await
            .expect("an approval email");
        to_email.push(updated.elapsed());
        let link = link_in(&body);
        let hook = native.awaiting(&deployment).await;
        assert!(hook.is_some(), "the pause awaits action");
        let sent = Instant::now();
        let post = tokio::spawn(async move { submit(&link, "approve").await });
        // Until that hook no longer waits (the next pause's may, at once).
        while native.awaiting(&deployment).await == hook {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        to_continue.push(sent.elapsed());
        assert_eq!(post.await.expect("the POST").0, 200);
        // The next pause is rejected: ECS rolls back, ready for the next run.
        let (_, body) = flow
            .next_approval_email(WAIT)
            .await
            .expect("the next pause");
        assert_eq!(submit(&link_in(&body), "reject").await.0, 200);
        native.until_rolled_back(&deployment).await;
    }

    let cpu_before = Cpu::of(&emulator);
    let started = Instant::now();
    let at_once = concurrent(&clients, flow).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = Cpu::of(&emulator).since(&cpu_before);

    println!("\nThe whole flow on the local emulator (real state machine, {served} via cargo lambda watch):\n");
    println!("| measure | value |");
    println!("|---|---|");
    let to_floor = |d: Duration| d.as_secs_f64() / floor.as_secs_f64().max(1e-6);
    println!(
        "| the way back's floor: one ModifyRule + one DescribeRules through the SDK (median of {RUNS}) | {:.1} ms |",
        floor.as_secs_f64() * 1000.0
    );
    // The emulator answers one request at a time (one Python process):
    // each way back costs about as many of the floor's halves as it makes
    // requests, however many of them the functions send at once.
    let reject = median(latencies);
    println!(
        "| Reject POST sent → rule at 100 % stable (median of {RUNS}); emulator requests meanwhile, the watch's own reads left out | {:.0} ms ({:.1} × the floor); {} requests (the floor: 2) |",
        reject.as_secs_f64() * 1000.0,
        to_floor(reject),
        median_count(reject_requests)
    );
    let alarm_back = median(alarm_latencies);
    println!(
        "| guarding alarm set to ALARM during an approval wait → rule at 100 % stable (median of {RUNS}); emulator requests meanwhile | {:.0} ms ({:.1} × the floor); {} requests |",
        alarm_back.as_secs_f64() * 1000.0,
        to_floor(alarm_back),
        median_count(alarm_requests)
    );
    println!("| state transitions, 3-step canary approved to promotion | {transitions} |");
    println!(
        "| ECS's own deployment: UpdateService → first pause's approval email (median of {RUNS}) | {:.0} ms |",
        median(to_email).as_secs_f64() * 1000.0
    );
    println!(
        "| ECS's own deployment: Approve POST sent → ContinueServiceDeployment taken (median of {RUNS}) | {:.0} ms |",
        median(to_continue).as_secs_f64() * 1000.0
    );
    println!("| Lambda invocations in that execution | {lambda_calls} |");
    println!("| history events in that execution | {} |", history.len());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {AT_ONCE} deployments started at once: StartExecution → first approval email, p50 / p95 | {:.0} ms / {:.0} ms |",
        ms(percentile(at_once.first_approval.clone(), 50)),
        ms(percentile(at_once.first_approval, 95))
    );
    println!(
        "| per deployment rejected at step 1 (of {AT_ONCE} at once): state transitions / Lambda invocations | {:.1} / {:.1} |",
        at_once.transitions as f64 / AT_ONCE as f64,
        at_once.invocations as f64 / AT_ONCE as f64
    );
    println!(
        "| {AT_ONCE} at once, where the time goes: wall / CPU of the emulator (one Python process) / of cargo lambda watch / of the functions | {wall:.1} s / {:.1} s ({:.0} % of one core) / {:.1} s / {:.1} s |",
        cpu.emulator,
        100.0 * cpu.emulator / wall.max(1e-6),
        cpu.server,
        cpu.functions
    );
    // On AWS the same deployment costs its transitions (Standard
    // workflows), its Lambda requests and their billed duration at 128 MB:
    // each invocation taken as ASSUMED_SECONDS (a few AWS calls of tens of
    // milliseconds; the functions' own CPU, measured above, is a fraction).
    let transitions = at_once.transitions as f64 / AT_ONCE as f64;
    let invocations = at_once.invocations as f64 / AT_ONCE as f64;
    let lambda_dollars = invocations
        * (LAMBDA_DOLLARS_PER_REQUEST + 0.125 * LAMBDA_DOLLARS_PER_GB_SECOND * ASSUMED_SECONDS);
    let dollars = transitions * SFN_DOLLARS_PER_TRANSITION + lambda_dollars;
    println!(
        "| on AWS, per deployment rejected at step 1: transitions + Lambda requests + duration (128 MB, {:.0} ms each) | ${dollars:.5} (${:.2} per 1,000 deployments; {:.0} % of it transitions) |",
        ASSUMED_SECONDS * 1000.0,
        dollars * 1000.0,
        100.0 * transitions * SFN_DOLLARS_PER_TRANSITION / dollars.max(1e-12)
    );
    // The analysis watch reads each waiting step with a tolerance once a
    // minute: one GetMetricData call of METRICS_PER_READ metrics.
    let metrics_per_hour = 60 * ecs_canary_aws::METRICS_PER_READ;
    let dollars_per_hour = metrics_per_hour as f64 * CLOUDWATCH_DOLLARS_PER_METRIC;
    println!(
        "| the analysis watch, per deployment waiting with a tolerance: GetMetricData calls / metrics per hour | 60 / {metrics_per_hour} |"
    );
    println!(
        "| its CloudWatch cost (${:.2} per 1,000 metrics): per waiting hour / per month always waiting | ${dollars_per_hour:.4} / ${:.2} |",
        CLOUDWATCH_DOLLARS_PER_METRIC * 1000.0,
        dollars_per_hour * 730.0
    );
}

/// CloudWatch's published price of GetMetricData (us-east-1): $0.01 per
/// 1,000 metrics requested.
const CLOUDWATCH_DOLLARS_PER_METRIC: f64 = 0.01 / 1000.0;
