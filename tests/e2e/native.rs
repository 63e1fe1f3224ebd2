//! Gates on ECS's own deployments: the example service
//! (`infra/examples/native.json`: `deploymentController: ECS`, a LINEAR
//! strategy of 25 % steps — BLUE_GREEN in the enrolment test — and a PAUSE
//! hook before each production traffic shift), enrolled by its tag.
//! UpdateService starts the rollout; every pause reaches the real ecs-hook
//! binary through EventBridge, the gate state machine asks by email (with
//! the load balancer's numbers), and the answer goes back to ECS.

use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_ecs::types::{DeploymentStrategy, ServiceDeploymentStatus};
use ecs_canary_core::{lock_key, HistoryKind};
use ecs_canary_core::{ALARMS_TAG, MAX_ERROR_RATE_INCREASE_TAG, MIN_REQUESTS_TAG};
use ecs_canary_e2e::alarms::GuardAlarm;
use ecs_canary_e2e::cli::ecs_canary;
use ecs_canary_e2e::example::{create_network, CLUSTER};
use ecs_canary_e2e::flow::{link_in, open, submit, Flow};
use ecs_canary_e2e::native::{
    create_native_service, create_native_service_as, Native, NATIVE_SERVICE as SERVICE,
};
use ecs_canary_e2e::traffic::{FAILING_NEW, FAILING_STABLE, HEALTHY_NEW, HEALTHY_STABLE};
use ecs_canary_e2e::{Emulator, EmulatorOptions, HISTORY_TABLE};
use serde_json::json;

/// An emulator with the functions, the example's network and the native
/// service.
async fn native_service() -> (Emulator, Flow, Native) {
    let emulator = Emulator::start_with(EmulatorOptions {
        functions: true,
        ..EmulatorOptions::default()
    })
    .await;
    let clients = emulator.clients().await;
    let network = create_network(&clients).await.expect("the network");
    let native = create_native_service(&emulator, &network).await;
    let flow = Flow::create(&emulator).await;
    (emulator, flow, native)
}

/// The next approval email's subject and link.
async fn next_approval(flow: &Flow) -> (String, String) {
    let (subject, body) = flow
        .next_approval_email(Duration::from_secs(60))
        .await
        .expect("an approval email");
    (subject, link_in(&body))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linear_rollout_is_approved_pause_by_pause_to_completion() {
    let (emulator, flow, native) = native_service().await;
    native.update().await;
    let deployment = native.deployment().await;
    let mut seen = Vec::new();
    for (step, after) in [(1, [75, 25]), (2, [50, 50]), (3, [25, 75]), (4, [0, 100])] {
        let (subject, body) = flow
            .next_approval_email(Duration::from_secs(60))
            .await
            .expect("an approval email");
        let link = link_in(&body);
        assert!(
            subject.contains(&format!("step {step}/4 of {SERVICE}")),
            "{subject}"
        );
        assert!(!seen.contains(&link), "every pause has a link of its own");
        seen.push(link.clone());
        let before = native.weights().await;
        assert_eq!(
            before[1],
            after[1] - 25,
            "nothing moves before the approval"
        );
        if step == 1 {
            assert!(
                body.contains("Evidence:  no numbers yet: the new revision has served no production traffic yet"),
                "{body}"
            );
            // A bad day: ECS holds the traffic step after this approval.
            emulator.bad_day(json!({"nativeStepSeconds": 600})).await;
        }
        if step == 2 {
            // The numbers of the rollout so far, from the target group ECS
            // put the new revision on (the alternate) against production's.
            assert!(body.contains("Evidence:  the rollout so far ("), "{body}");
            native
                .traffic(&emulator, &HEALTHY_NEW, &HEALTHY_STABLE)
                .await;
            let (status, page) = open(&link).await;
            assert_eq!(status, 200, "{page}");
            assert!(
                page.contains("new: 1,204 requests, 0.4 % 5xx, p99 180 ms · stable: 10,877 requests, 0.3 % 5xx, p99 170 ms")
                    && page.contains("id=\"evidence-chart\""),
                "{page}"
            );
            // The command line sees the pause and decides it, as a click would.
            let key = lock_key(CLUSTER, SERVICE);
            let status = ecs_canary(&emulator, None, &["status", &key]).await;
            assert_eq!(status.code, 0, "{}", status.stderr);
            assert!(
                status.stdout.contains("LINEAR strategy")
                    && status.stdout.contains("pause     2 of 4"),
                "{}",
                status.stdout
            );
            let approved = ecs_canary(&emulator, None, &["approve", &key]).await;
            assert_eq!(approved.code, 0, "{}", approved.stderr);
        } else {
            if step == 3 {
                // A bad day: ECS throttles the answer more than the SDK
                // retries; the gate's own retry still gets it through.
                emulator
                    .arm_fault("ecs", "ContinueServiceDeployment", "ThrottlingException", 4)
                    .await;
            }
            let (status, page) = submit(&link, "approve").await;
            assert_eq!(status, 200, "{page}");
            if step == 1 {
                // While ECS moves traffic, nothing waits: the command line
                // says so by name, and nothing is decided ahead.
                let key = lock_key(CLUSTER, SERVICE);
                let early = ecs_canary(&emulator, None, &["approve", &key]).await;
                assert_eq!(early.code, 4, "{}{}", early.stdout, early.stderr);
                assert!(
                    early.stderr.contains("NotWaiting")
                        && early
                            .stderr
                            .contains("not waiting for a decision right now"),
                    "{}",
                    early.stderr
                );
                let status = ecs_canary(&emulator, None, &["status", &key]).await;
                assert!(
                    status.stdout.contains("no pause waiting"),
                    "{}",
                    status.stdout
                );
                assert_eq!(native.weights().await, [100, 0], "the step is held");
                emulator.bad_day(json!({"nativeStepSeconds": 0})).await;
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while native.weights().await != after {
            assert!(
                std::time::Instant::now() < deadline,
                "the split is {:?}, not {after:?}, after approving step {step}",
                native.weights().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    native
        .until_status(&deployment, ServiceDeploymentStatus::Successful)
        .await;
    // An old link no longer decides anything.
    let (status, _) = submit(&seen[0], "reject").await;
    assert_eq!(status, 409, "a decided pause stays decided");
    let config = emulator.sdk_config().await;
    let history =
        ecs_canary_aws::History::new(aws_sdk_dynamodb::Client::new(&config), HISTORY_TABLE)
            .list(&lock_key(CLUSTER, SERVICE), 100)
            .await
            .expect("the history");
    let decided: Vec<&str> = history
        .iter()
        .rev()
        .filter(|e| e.kind == HistoryKind::Decided)
        .filter_map(|e| e.channel.as_deref())
        .collect();
    assert_eq!(decided, ["email", "cli", "email", "email"], "{history:#?}");
    assert!(
        history
            .iter()
            .any(|e| e.kind == HistoryKind::Paused && e.summary.contains("ECS continues")),
        "{history:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_at_step_two_ecs_rolls_back_and_a_repeated_hook_event_starts_nothing() {
    let (emulator, flow, native) = native_service().await;
    native.update().await;
    let deployment = native.deployment().await;
    let (_, first) = next_approval(&flow).await;
    assert_eq!(submit(&first, "approve").await.0, 200);
    let (subject, second) = next_approval(&flow).await;
    assert!(subject.contains("step 2/4"), "{subject}");
    assert_eq!(native.weights().await, [75, 25]);

    // EventBridge delivers at least once: the same pause again starts no
    // second gate and sends no second email.
    let gates = emulator.infra_output("GateStateMachineArn");
    let gate_count = || async {
        flow.sfn
            .list_executions()
            .state_machine_arn(&gates)
            .send()
            .await
            .expect("list the gates")
            .executions()
            .len()
    };
    let before = gate_count().await;
    let hook = native
        .awaiting(&deployment)
        .await
        .expect("the pause awaits action");
    emulator
        .put_event(
            "aws.ecs",
            "ECS Hook State Change",
            &json!({"eventName": "HOOK_AWAITING_ACTION", "serviceDeploymentArn": deployment, "hookId": hook,
                    "serviceArn": format!("arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}")}),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        before,
        gate_count().await,
        "a repeated event starts no second gate"
    );

    let (status, page) = submit(&second, "reject").await;
    assert_eq!(status, 200, "{page}");
    native
        .until_status(&deployment, ServiceDeploymentStatus::RollbackSuccessful)
        .await;
    assert_eq!(
        native.weights().await,
        [100, 0],
        "production traffic is back on the source revision"
    );
    assert!(
        flow.next_approval_email(Duration::from_secs(3))
            .await
            .is_none(),
        "no pause after the rollback"
    );

    // Guarded by an alarm (the service's tag): the alarm fires while the next
    // deployment's first pause waits, and ECS rolls back with nobody clicking.
    let config = emulator.sdk_config().await;
    let alarm = GuardAlarm::create(&config, "native-5xx").await;
    native
        .ecs
        .tag_resource()
        .resource_arn(format!(
            "arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}"
        ))
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key(ALARMS_TAG)
                .value(&alarm.name)
                .build(),
        )
        .send()
        .await
        .expect("tag the service's guarding alarm");
    native.update().await;
    let guarded = native.deployment().await;
    assert_ne!(guarded, deployment);
    let (subject, _) = next_approval(&flow).await;
    assert!(subject.contains("step 1/4"), "{subject}");
    let fired = std::time::Instant::now();
    alarm.set(StateValue::Alarm, "5xx over the threshold").await;
    native
        .until_status(&guarded, ServiceDeploymentStatus::RollbackSuccessful)
        .await;
    // Not the approval's 25 minutes: the alarm decided.
    assert!(
        fired.elapsed() < Duration::from_secs(60),
        "rolled back {:?} after the alarm",
        fired.elapsed()
    );
    assert_eq!(native.weights().await, [100, 0]);

    // Guarded by the analysis instead (the service's tags): at the second
    // pause the new revision fails; within two of the watch's scheduled
    // runs (no more are given), ECS is told to roll back, nobody clicking.
    emulator
        .bad_day(json!({"scheduleMinuteSeconds": 86_400.0}))
        .await;
    let service_arn = format!("arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}");
    native
        .ecs
        .untag_resource()
        .resource_arn(&service_arn)
        .tag_keys(ALARMS_TAG)
        .send()
        .await
        .expect("untag the alarm");
    for (key, value) in [
        (MAX_ERROR_RATE_INCREASE_TAG, "2"),
        (MIN_REQUESTS_TAG, "100"),
    ] {
        native
            .ecs
            .tag_resource()
            .resource_arn(&service_arn)
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .expect("tag the service's analysis");
    }
    native.update().await;
    let analysed = native.deployment().await;
    let (_, first) = next_approval(&flow).await;
    assert_eq!(submit(&first, "approve").await.0, 200);
    let (subject, _) = next_approval(&flow).await;
    assert!(subject.contains("step 2/4"), "{subject}");
    native
        .traffic(&emulator, &FAILING_NEW, &FAILING_STABLE)
        .await;
    emulator.run_schedules().await;
    emulator.run_schedules().await;
    native
        .until_status(&analysed, ServiceDeploymentStatus::RollbackSuccessful)
        .await;
    assert_eq!(
        native.status_reason(&analysed).await,
        "Rolled back: a lifecycle hook asked for it."
    );
    assert_eq!(native.weights().await, [100, 0]);
    let (subject, body) = flow
        .next_email_where(Duration::from_secs(30), |s| {
            s.contains("the automatic analysis failed")
        })
        .await
        .expect("the channels are told");
    assert!(
        subject.contains("ECS rolls the deployment back"),
        "{subject}"
    );
    assert!(body.contains("95 % interval +"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_enrolled_from_the_command_line_is_gated_by_its_own_policy_and_every_ending_is_closed(
) {
    let emulator = Emulator::start_with(EmulatorOptions {
        functions: true,
        ..EmulatorOptions::default()
    })
    .await;
    let network = create_network(&emulator.clients().await)
        .await
        .expect("the network");
    let native =
        create_native_service_as(&emulator, &network, false, DeploymentStrategy::BlueGreen).await;
    let flow = Flow::create(&emulator).await;
    let key = lock_key(CLUSTER, SERVICE);
    // A setting that is none is refused by name, and nothing changes.
    let refused = ecs_canary(
        &emulator,
        None,
        &["enroll", &key, "--approval-timeout", "15m", "--yes"],
    )
    .await;
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("InvalidField")
            && refused.stderr.contains("ecs-canary:approval-timeout"),
        "{}",
        refused.stderr
    );
    // Shown first, with the service's own settings; changed only when
    // confirmed. Its policy: decisions from the command line only.
    let settings = [
        "--approval-timeout",
        "900",
        "--max-error-rate-increase",
        "5",
        "--channel",
        "cli",
    ];
    let shown = ecs_canary(
        &emulator,
        None,
        &[&["enroll", key.as_str()][..], &settings].concat(),
    )
    .await;
    assert_eq!(shown.code, 5, "{}{}", shown.stdout, shown.stderr);
    assert!(
        shown.stdout.contains("BLUE_GREEN strategy")
            && shown
                .stdout
                .contains("ecs-canary:approval-timeout = 900 (missing)")
            && shown.stdout.contains("ecs-canary:channels = cli (missing)")
            && shown.stdout.contains("timeout 17 min"),
        "{}",
        shown.stdout
    );
    let enrolled = ecs_canary(
        &emulator,
        None,
        &[&["enroll", key.as_str()][..], &settings, &["--yes"]].concat(),
    )
    .await;
    assert_eq!(enrolled.code, 0, "{}", enrolled.stderr);
    let again = ecs_canary(&emulator, None, &["enroll", &key]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("enrolled: tagged"),
        "{}",
        again.stdout
    );
    // The hook's 17 minutes: 68 s here, time enough for what a person does.
    emulator.bad_day(json!({"nativeMinuteSeconds": 4.0})).await;
    native.update().await;
    let deployment = native.deployment().await;
    // Blue/green: one pause, before all traffic moves.
    let (subject, link) = next_approval(&flow).await;
    assert!(subject.contains("step 1/1"), "{subject}");
    // The link is not a channel its policy allows: refused, nothing moves.
    let (status, page) = submit(&link, "approve").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Not allowed"), "{page}");
    assert!(
        native.awaiting(&deployment).await.is_some(),
        "the pause still waits"
    );
    assert_eq!(native.weights().await, [100, 0]);
    native
        .ecs
        .stop_service_deployment()
        .service_deployment_arn(&deployment)
        .send()
        .await
        .expect("stop the deployment");
    native
        .until_status(&deployment, ServiceDeploymentStatus::RollbackSuccessful)
        .await;
    let (subject, body) = flow
        .next_email_where(Duration::from_secs(30), |s| {
            s.contains("ECS deployment ended")
        })
        .await
        .expect("the channels are told");
    assert!(subject.contains(SERVICE), "{subject}");
    assert!(body.contains("links are closed"), "{body}");
    let (status, page) = submit(&link, "approve").await;
    assert_eq!(status, 410, "{page}");
    let gates = flow
        .sfn
        .list_executions()
        .state_machine_arn(emulator.infra_output("GateStateMachineArn"))
        .send()
        .await
        .expect("list the gates");
    assert!(
        gates
            .executions()
            .iter()
            .all(|e| e.status() != &aws_sdk_sfn::types::ExecutionStatus::Running),
        "no gate is left waiting: {gates:?}"
    );
    assert_eq!(native.weights().await, [100, 0]);

    // The next deployment, aborted from the command line at its first
    // pause: ECS is told to roll back, the service is free again.
    native.update().await;
    let aborted_deployment = native.deployment().await;
    assert_ne!(aborted_deployment, deployment);
    next_approval(&flow).await;
    let aborted = ecs_canary(&emulator, None, &["abort", &key]).await;
    assert_eq!(aborted.code, 0, "{}", aborted.stderr);
    native
        .until_status(
            &aborted_deployment,
            ServiceDeploymentStatus::RollbackSuccessful,
        )
        .await;
    assert_eq!(native.weights().await, [100, 0]);
    let status = ecs_canary(&emulator, None, &["status", &key]).await;
    assert!(
        status.stdout.contains("no pause waiting"),
        "{}",
        status.stdout
    );

    // Nobody decides, and the hook's own timeout comes close (17 minutes:
    // 25.5 s here): ecs-canary rolls back first; ECS's timeout action never
    // runs.
    emulator.bad_day(json!({"nativeMinuteSeconds": 1.5})).await;
    native.update().await;
    let unanswered = native.deployment().await;
    next_approval(&flow).await;
    let (subject, body) = flow
        .next_email_where(Duration::from_secs(60), |s| {
            s.contains("nobody decided in time")
        })
        .await
        .expect("the channels are told");
    assert!(
        subject.contains("ECS rolls the deployment back"),
        "{subject}"
    );
    assert!(body.contains("States.Timeout"), "{body}");
    native
        .until_status(&unanswered, ServiceDeploymentStatus::RollbackSuccessful)
        .await;
    assert_eq!(
        native.status_reason(&unanswered).await,
        "Rolled back: a lifecycle hook asked for it.",
        "ecs-canary answered; ECS's own timeout action did not run"
    );
    assert_eq!(native.weights().await, [100, 0]);

    // The command line is a channel the policy allows: its approval lets
    // ECS move all traffic.
    emulator.bad_day(json!({"nativeMinuteSeconds": 4.0})).await;
    native.update().await;
    let approved_deployment = native.deployment().await;
    next_approval(&flow).await;
    let approved = ecs_canary(&emulator, None, &["approve", &key]).await;
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    native
        .until_status(&approved_deployment, ServiceDeploymentStatus::Successful)
        .await;
    assert_eq!(native.weights().await, [0, 100]);
}
