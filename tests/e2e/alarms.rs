//! CloudWatch alarms guard a rollout, through the real state machine: one
//! that does not exist refuses the deployment before anything changes, one
//! in ALARM stops traffic moving towards the candidate and rolls back, and
//! one that fires while a person is being asked (or while the candidate
//! starts) stops the deployment at once — traffic on stable first.

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_core::Colour;
use ecs_canary_e2e::alarms::GuardAlarm;
use ecs_canary_e2e::example::{app_state, assert_at_rest, at_rest_violations, APP_STACK, SERVICE};
use ecs_canary_e2e::flow::{example_flow, example_input, link_in, open, submit};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(90);
const ALARM: &str = "myservice-5xx";

/// The example service's guarding alarm, quiet.
async fn guard(emulator: &ecs_canary_e2e::Emulator) -> GuardAlarm {
    GuardAlarm::create(&emulator.sdk_config().await, ALARM).await
}

#[tokio::test]
async fn an_alarm_in_alarm_stops_the_rollout_and_rolls_back() {
    let (emulator, clients, flow) = example_flow().await;
    let alarm = guard(&emulator).await;
    let mut input = example_input("1.0.1", json!([10, 50]), 600);
    input["alarms"] = json!([ALARM]);
    let execution = flow.start("guarded-1-0-1", &input).await;
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("step 1 asks for approval while the alarm is quiet");
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );

    fire(&alarm).await;
    // The person approves at that very moment: whichever is first — the
    // alarm's event, or the next step's own check — the rollout stops.
    let (status, _) = submit(&link_in(&body), "approve").await;
    // (200: the person was first; 409: the alarm decided the step first.)
    assert!(matches!(status, 200 | 409 | 410), "{status}");
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert!(
        matches!(status, ExecutionStatus::Failed | ExecutionStatus::Aborted),
        "{status:?}"
    );
    assert_eq!(error.as_deref(), Some("AlarmTriggered"));
    let cause = flow.cause(&execution).await;
    assert!(cause.contains(ALARM), "{cause}");
    until_at_rest(&clients).await;
    told_about_the_alarm(&flow).await;
}

#[tokio::test]
async fn an_alarm_that_does_not_exist_refuses_the_deployment() {
    let (_emulator, clients, flow) = example_flow().await;
    let mut input = example_input("1.0.1", json!([10]), 600);
    input["alarms"] = json!(["no-such-alarm"]);
    let execution = flow.start("unguarded-1-0-1", &input).await;
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("AlarmNotFound"));
    assert_at_rest(&clients, Colour::Blue).await;
    let (subject, _) = flow
        .next_email_where(WAIT, |s| s.contains("refused"))
        .await
        .expect("the refusal is announced");
    assert!(subject.contains("AlarmNotFound"), "{subject}");
}

async fn fire(alarm: &GuardAlarm) {
    alarm
        .set(StateValue::Alarm, "5xx above 10 in one minute")
        .await;
}

#[tokio::test]
async fn an_alarm_while_a_person_is_asked_puts_traffic_on_stable_at_once() {
    let (emulator, clients, flow) = example_flow().await;
    let alarm = guard(&emulator).await;
    let mut input = example_input("1.0.1", json!([10, 50]), 600);
    input["alarms"] = json!([ALARM]);
    let execution = flow.start("aborted-1-0-1", &input).await;
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("step 1 asks for approval");
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );

    // Nobody clicks: the alarm alone stops the deployment.
    let fired = Instant::now();
    fire(&alarm).await;
    loop {
        if app_state(&clients).await.split_towards(Colour::Blue) == (100, 0) {
            break;
        }
        assert!(
            fired.elapsed() < Duration::from_secs(10),
            "traffic still on the candidate {:?} after the alarm",
            fired.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("AlarmTriggered"));
    let cause = flow.cause(&execution).await;
    assert!(cause.contains(ALARM), "{cause}");
    assert_at_rest(&clients, Colour::Blue).await;

    // The approval channels say which alarm fired and that the links are void.
    let (subject, text) = flow
        .next_email_where(WAIT, |s| s.contains("fired"))
        .await
        .expect("the abort is announced");
    assert_eq!(
        subject,
        "myservice: a guarding alarm fired - deployment rolled back to Blue"
    );
    assert!(
        text.contains(&format!(
            "the alarm {ALARM} is in ALARM (5xx above 10 in one minute)"
        )),
        "{text}"
    );
    assert!(text.contains("100 % is back on Blue (read back)"), "{text}");
    assert!(text.contains("are void"), "{text}");
    // The alarm decided the step, on record: the link is void and says so.
    let (status, page) = open(&link_in(&body)).await;
    assert_eq!(status, 409, "the link is void: {page}");
    assert!(
        page.contains(&format!("rejected by alarm {ALARM}")),
        "{page}"
    );
    assert_eq!(submit(&link_in(&body), "approve").await.0, 409);
}

#[tokio::test]
async fn an_alarm_while_the_candidate_starts_stops_the_deployment() {
    let (emulator, clients, flow) = example_flow().await;
    let alarm = guard(&emulator).await;
    // The candidate never becomes ready: the deployment waits for it.
    emulator.bad_day(json!({"neverStabilize": true})).await;
    let mut input = example_input("1.0.1", json!([10, 50]), 600);
    input["alarms"] = json!([ALARM]);
    let execution = flow.start("starting-1-0-1", &input).await;
    let deadline = Instant::now() + WAIT;
    while !flow
        .history(&execution)
        .await
        .iter()
        .any(|e| format!("{e:?}").contains("WaitUntilReady"))
    {
        assert!(Instant::now() < deadline, "never waited for the candidate");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let fired = Instant::now();
    fire(&alarm).await;
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert!(
        fired.elapsed() < Duration::from_secs(10),
        "stopped only after {:?}",
        fired.elapsed()
    );
    // Stopped by the alarm's event, or failed by the next readiness poll,
    // whichever comes first: either way it ends AlarmTriggered.
    assert!(
        matches!(status, ExecutionStatus::Aborted | ExecutionStatus::Failed),
        "{status:?}"
    );
    assert_eq!(error.as_deref(), Some("AlarmTriggered"));
    until_at_rest(&clients).await;
    told_about_the_alarm(&flow).await;
}

/// Nobody clicked anything: the approval channels are told which alarm
/// rolled the deployment back.
async fn told_about_the_alarm(flow: &ecs_canary_e2e::flow::Flow) {
    let (subject, text) = flow
        .next_email_where(WAIT, |s| !s.starts_with("Approve"))
        .await
        .expect("a notice");
    assert!(subject.starts_with("myservice: "), "{subject}");
    assert!(
        text.contains("AlarmTriggered") && text.contains(ALARM),
        "{text}"
    );
}

/// Waits for the service to be at rest on Blue (the reconciler of a
/// stopped execution runs after it ended).
async fn until_at_rest(clients: &ecs_canary_aws::AwsClients) {
    let deadline = Instant::now() + WAIT;
    loop {
        let violations = at_rest_violations(clients, APP_STACK, SERVICE, Colour::Blue).await;
        if violations.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never back at rest: {violations:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_alarm_during_the_bake_after_promotion_reverts_to_the_release_before() {
    ecs_canary_e2e::cli::build_cli();
    let (emulator, clients, flow) = example_flow().await;
    let alarm = guard(&emulator).await;
    let mut input = example_input("1.0.1", json!([50]), 600);
    input["alarms"] = json!([ALARM]);
    input["bakeMinutes"] = json!(30);
    let execution = flow.start("baked-1-0-1", &input).await;
    let (_, body) = flow.next_approval_email(WAIT).await.expect("step 1 asks");
    assert_eq!(submit(&link_in(&body), "approve").await.0, 200);
    assert_eq!(
        flow.finished(&execution, WAIT).await.0,
        ExecutionStatus::Succeeded
    );
    // Promoted, and baking: Green serves everything, the lock stays.
    let state = app_state(&clients).await;
    assert_eq!(state.split_towards(Colour::Green), (100, 0));
    assert_eq!(state.tag.as_deref(), Some("Green"));
    let held = ecs_canary_e2e::example::app_lock_holder(&clients).await;
    assert_eq!(
        held.as_deref(),
        Some(execution.as_str()),
        "the bake holds the lock"
    );
    let status =
        ecs_canary_e2e::cli::ecs_canary(&emulator, None, &["status", "mattctest/myservice"]).await;
    assert!(
        status.stdout.contains("bake      until ") && status.stdout.contains(ALARM),
        "{}",
        status.stdout
    );

    // The alarm fires an hour's fraction later: back on Blue, which still
    // runs 1.0.0, stable again; the bake is over; the channels are told.
    fire(&alarm).await;
    until_at_rest(&clients).await;
    let (subject, body) = flow
        .next_email_where(WAIT, |s| s.contains("promotion reverted by"))
        .await
        .expect("the channels are told");
    assert!(subject.contains("Blue is stable again"), "{subject}");
    assert!(body.contains(ALARM), "{body}");
}
