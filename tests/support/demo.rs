//! `make demo`: the whole canary flow on the local emulator, as a person would
//! see it. `infra/` is deployed; the example application is created at 1.0.0
//! with Blue stable; an ECR push of 1.0.1 starts a deployment that is approved
//! step by step and promoted; a push of 1.0.2 is rejected at its first step and
//! rolled back. With `interactive`, each approval waits for a person to open
//! the link in a browser instead of being approved automatically.

use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::ServiceDeploymentStatus;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;

use crate::example::{
    create_example_app, live_state, read_network, LiveState, APP_STACK, CLUSTER, SERVICE,
};
use crate::flow::{link_in, open, submit, Flow};
use crate::native::{create_native_service, Native, NATIVE_SERVICE};
use crate::{Emulator, EmulatorOptions};

const REPOSITORY: &str = "helloworld";
const WAIT: Duration = Duration::from_secs(120);

/// The example service as the command line names it.
fn service_key() -> String {
    ecs_canary_core::lock_key(CLUSTER, SERVICE)
}

/// One row of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoRow {
    pub release: String,
    pub step: String,
    pub split: String,
    pub decision: String,
    pub duration: Duration,
}

/// What the demo ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub rows: Vec<DemoRow>,
    /// (execution status, error) of each deployment.
    pub outcomes: Vec<(String, Option<String>)>,
    pub final_tag: Option<String>,
    /// Weights (stable, candidate) towards the final tag.
    pub final_split: (u16, u16),
    /// The ECS-controlled service's deployment: its final status, and the
    /// production rule's weights (source revision's group, alternate).
    pub native_status: String,
    pub native_split: [i32; 2],
}

fn split_text(state: &LiveState) -> String {
    let stable = state.stable();
    let (s, c) = state.split_towards(stable);
    format!("{stable} {s} / {} {c}", stable.other())
}

async fn push(emulator: &Emulator, tag: &str, digest: &str) {
    let detail = json!({
        "result": "SUCCESS", "repository-name": REPOSITORY, "image-digest": digest,
        "action-type": "PUSH", "image-tag": tag
    });
    emulator
        .put_event("aws.ecr", "ECR Image Action", &detail)
        .await;
}

async fn execution_named(flow: &Flow, prefix: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let listed = flow
            .sfn
            .list_executions()
            .state_machine_arn(&flow.state_machine)
            .send()
            .await
            .expect("list executions");
        if let Some(found) = listed
            .executions()
            .iter()
            .find(|e| e.name().starts_with(prefix))
        {
            return found.execution_arn().to_string();
        }
        assert!(Instant::now() < deadline, "the push started no execution");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The next approval email, or `None` once the execution has ended.
async fn next_email_or_end(flow: &Flow, execution: &str) -> Option<String> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some((_, body)) = flow.next_approval_email(Duration::from_millis(500)).await {
            return Some(body);
        }
        if flow.status(execution).await.0 != ExecutionStatus::Running {
            return None;
        }
    }
    None
}

async fn until_ended(flow: &Flow, execution: &str) {
    while flow.status(execution).await.0 == ExecutionStatus::Running {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs `ecs-canary ARGS` as an operator would and shows what it printed;
/// a command that fails stops the demo.
async fn operator(out: &mut (dyn Write + Send), emulator: &Emulator, args: &[&str]) {
    let _ = writeln!(out, "\n  $ ecs-canary {}", args.join(" "));
    let run = crate::cli::ecs_canary(emulator, None, args).await;
    for line in run.stdout.lines() {
        let _ = writeln!(out, "    {line}");
    }
    assert_eq!(run.code, 0, "ecs-canary {args:?} failed: {}", run.stderr);
}

/// Follows one deployment; `reject_at` (1-based step) rejects there;
/// `show_status` shows the operator's view at the first gate.
#[allow(clippy::too_many_arguments)]
async fn follow(
    out: &mut (dyn Write + Send),
    emulator: &Emulator,
    flow: &Flow,
    release: &str,
    execution: &str,
    steps: usize,
    reject_at: Option<usize>,
    interactive: bool,
    show_status: bool,
) -> (Vec<DemoRow>, (String, Option<String>)) {
    let clients = emulator.clients().await;
    let mut rows = Vec::new();
    let mut started = Instant::now();
    for step in 1..=steps {
        let Some(body) = next_email_or_end(flow, execution).await else {
            break;
        };
        let link = link_in(&body);
        let state = live_state(&clients, APP_STACK).await.expect("live state");
        let split = split_text(&state);
        let _ = writeln!(
            out,
            "  step {step}/{steps}: traffic {split}; approval email sent, link:\n    {link}"
        );
        if show_status && step == 1 {
            operator(out, emulator, &["status", &service_key()]).await;
        }
        let decision = if interactive {
            // The execution may end (a timeout) while nobody clicks.
            let gate = decide_at(out, &link, false, true);
            tokio::select! {
                decided = gate => decided,
                _ = until_ended(flow, execution) => "ended before a decision".to_string(),
            }
        } else {
            decide_at(out, &link, reject_at == Some(step), false).await
        };
        let _ = writeln!(out, "    {decision}");
        rows.push(DemoRow {
            release: release.to_string(),
            step: format!("{step}/{steps}"),
            split,
            decision,
            duration: started.elapsed(),
        });
        started = Instant::now();
    }
    let (status, error) = flow.finished(execution, WAIT).await;
    let state = live_state(&clients, APP_STACK).await.expect("live state");
    let outcome = match &error {
        None => "promoted".to_string(),
        Some(error) => format!("rolled back ({error})"),
    };
    let _ = writeln!(
        out,
        "  execution {}: {outcome}; StableStack = {}, traffic {}",
        status.as_str(),
        state.tag.as_deref().unwrap_or("-"),
        split_text(&state)
    );
    rows.push(DemoRow {
        release: release.to_string(),
        step: "end".into(),
        split: split_text(&state),
        decision: outcome,
        duration: started.elapsed(),
    });
    (rows, (status.as_str().to_string(), error))
}

/// What a person decides at one gate: automatically (`reject` or not), or,
/// `interactive`, in a browser; `ended` says whether the gate is gone.
async fn decide_at(
    out: &mut (dyn Write + Send),
    link: &str,
    reject: bool,
    interactive: bool,
) -> String {
    if interactive {
        let _ = writeln!(
            out,
            "    open it in a browser and choose Approve or Reject …"
        );
        let deadline = Instant::now() + Duration::from_secs(3600);
        while open(link).await.0 == 200 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        return if open(link).await.1.contains("rejected") {
            "rejected in the browser"
        } else {
            "approved in the browser"
        }
        .to_string();
    }
    assert_eq!(open(link).await.0, 200);
    let (status, _) = submit(link, if reject { "reject" } else { "approve" }).await;
    assert_eq!(status, 200);
    if reject {
        "rejected (email link)"
    } else {
        "approved (email link)"
    }
    .to_string()
}

/// ECS's own LINEAR deployment of the native service, gated at each pause:
/// approved twice, rejected at the third (ECS rolls back).
async fn follow_native(
    out: &mut (dyn Write + Send),
    flow: &Flow,
    native: &Native,
    interactive: bool,
) -> (Vec<DemoRow>, String, [i32; 2]) {
    let release = "web 2.0 (ECS LINEAR)";
    native.update().await;
    let deployment = native.deployment().await;
    let _ = writeln!(out, "  service deployment {deployment}");
    let mut rows = Vec::new();
    let mut started = Instant::now();
    for step in 1..=3 {
        let Some((_, body)) = flow.next_approval_email(WAIT).await else {
            break;
        };
        let link = link_in(&body);
        let [source, target] = native.weights().await;
        let split = format!("1.0 {source} / 2.0 {target}");
        let _ = writeln!(
            out,
            "  pause {step}/4: production {split}; approval email sent, link:\n    {link}"
        );
        let decision = decide_at(out, &link, step == 3, interactive).await;
        let _ = writeln!(out, "    {decision}");
        rows.push(DemoRow {
            release: release.into(),
            step: format!("{step}/4"),
            split,
            decision,
            duration: started.elapsed(),
        });
        started = Instant::now();
        if step < 3 && !interactive {
            // ECS moves the traffic once the gate answers CONTINUE.
            let want = 25 * step;
            let deadline = Instant::now() + WAIT;
            while native.weights().await[1] != want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let deadline = Instant::now() + WAIT;
    let mut status = native.status(&deployment).await;
    while !matches!(
        status,
        ServiceDeploymentStatus::Successful
            | ServiceDeploymentStatus::RollbackSuccessful
            | ServiceDeploymentStatus::Stopped
    ) && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = native.status(&deployment).await;
    }
    let [source, target] = native.weights().await;
    let split = format!("1.0 {source} / 2.0 {target}");
    let _ = writeln!(
        out,
        "  ECS deployment {}: production {split}",
        status.as_str()
    );
    rows.push(DemoRow {
        release: release.into(),
        step: "end".into(),
        split,
        decision: status.as_str().to_lowercase(),
        duration: started.elapsed(),
    });
    (rows, status.as_str().to_string(), [source, target])
}

/// Runs the demo, writing what happens to `out`.
pub async fn run_demo(out: &mut (dyn Write + Send), interactive: bool) -> DemoSummary {
    let mappings = json!([{
        "repository": REPOSITORY, "cluster": CLUSTER, "service": SERVICE, "stack": APP_STACK,
        "container": "mycontainer", "steps": [10, 50], "approvalTimeoutSeconds": 3600
    }]);
    let _ = writeln!(
        out,
        "Starting the local AWS emulator and deploying infra/ecs-canary.yaml to it …"
    );
    let emulator = Emulator::start_with(EmulatorOptions {
        functions: true,
        trigger_mappings: Some(mappings.to_string()),
        ..EmulatorOptions::default()
    })
    .await;
    let _ = writeln!(
        out,
        "  state machine {}",
        emulator.infra_output("StateMachineArn")
    );
    let _ = writeln!(
        out,
        "  approval links under {}",
        emulator.infra_output("ApprovalUrl")
    );
    let clients = emulator.clients().await;
    let _ = writeln!(
        out,
        "Creating the example application (infra/examples) at 1.0.0, Blue stable …"
    );
    create_example_app(&clients)
        .await
        .expect("create the example stacks");
    let state = live_state(&clients, APP_STACK).await.expect("live state");
    let _ = writeln!(
        out,
        "  StableStack = {}, traffic {}",
        state.tag.as_deref().unwrap_or("-"),
        split_text(&state)
    );
    let flow = Flow::create(&emulator).await;

    // What a release would change, before anything does.
    let dry_run = json!({
        "cluster": CLUSTER, "service": SERVICE, "stack": APP_STACK, "container": "mycontainer",
        "image": format!("{REPOSITORY}@sha256:1010101010101010101010101010101010101010101010101010101010101010"),
        "steps": [10, 50]
    });
    let _ = writeln!(out, "\nWhat would 1.0.1 change? A dry run:");
    operator(out, &emulator, &["diff", "--input", &dry_run.to_string()]).await;

    let mut rows = Vec::new();
    let mut outcomes = Vec::new();
    for (tag, digest, reject_at) in [
        (
            "1.0.1",
            "sha256:1010101010101010101010101010101010101010101010101010101010101010",
            None,
        ),
        (
            "1.0.2",
            "sha256:1020202020202020202020202020202020202020202020202020202020202020",
            Some(1),
        ),
    ] {
        let _ = writeln!(out, "\nECR push: {REPOSITORY}:{tag} …");
        push(&emulator, tag, digest).await;
        // The name the trigger gives this push's execution (the core decides it).
        let push_seen = ecs_canary_core::ImagePush {
            account: crate::ACCOUNT.into(),
            region: crate::REGION.into(),
            repository: REPOSITORY.into(),
            tag: Some(tag.into()),
            digest: digest.into(),
            pusher: None,
        };
        let mapping = &ecs_canary_core::parse_mappings(&mappings.to_string())
            .expect("the demo's mappings")[0];
        let execution = execution_named(&flow, &mapping.execution_name(&push_seen)).await;
        let _ = writeln!(out, "  execution {execution}");
        let (mut followed, outcome) = follow(
            out,
            &emulator,
            &flow,
            tag,
            &execution,
            2,
            reject_at,
            interactive,
            tag == "1.0.1",
        )
        .await;
        rows.append(&mut followed);
        outcomes.push(outcome);
    }

    let _ = writeln!(
        out,
        "\nECS's own deployments, gated: {NATIVE_SERVICE} deploys with ECS's LINEAR strategy (25 % steps) and a pause hook before each step; it is tagged {}=true …",
        ecs_canary_core::GATE_TAG
    );
    let network = read_network(&clients).await.expect("the example's network");
    let native = create_native_service(&emulator, &network).await;
    let _ = writeln!(
        out,
        "  aws ecs update-service --service {NATIVE_SERVICE} --task-definition {NATIVE_SERVICE}:2 …"
    );
    let (mut native_rows, native_status, native_split) =
        follow_native(out, &flow, &native, interactive).await;
    rows.append(&mut native_rows);

    let _ = writeln!(out, "\nThe audit trail of {}:", service_key());
    operator(
        out,
        &emulator,
        &["history", &service_key(), "--limit", "20"],
    )
    .await;
    operator(out, &emulator, &["status"]).await;

    let end = live_state(&clients, APP_STACK).await.expect("live state");
    let final_stable = end.stable();
    let _ = writeln!(out, "\n| release | step | split | decision | duration |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for row in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} s |",
            row.release,
            row.step,
            row.split,
            row.decision,
            row.duration.as_secs_f64()
        );
    }
    let _ = writeln!(out, "\nStopping everything the demo started.");
    DemoSummary {
        rows,
        outcomes,
        final_tag: end.tag.clone(),
        final_split: end.split_towards(final_stable),
        native_status,
        native_split,
    }
}
