//! A bad day on the emulator, through the real state machine: slow stacks and
//! task sets are waited for, a stack update that fails and a release that
//! never becomes healthy are rolled back with their names.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_core::Colour;
use ecs_canary_e2e::example::{app_state, app_weights, assert_at_rest};
use ecs_canary_e2e::flow::{example_flow, example_input};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn a_slow_stack_and_a_slow_task_set_are_waited_for() {
    let (emulator, clients, flow) = example_flow().await;
    emulator
        .bad_day(json!({"stackUpdateSeconds": 3, "taskSetStabilizeSeconds": 4}))
        .await;
    let started = Instant::now();
    let execution = flow
        .start("slow-1-0-1", &example_input("1.0.1", json!([10, 50]), 600))
        .await;
    // While the stack updates and the candidate stabilises, users see only
    // stable (the rule alone is read: a task set is being replaced).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app_weights(&clients).await, (100, 0));
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("an approval once the candidate is ready");
    assert!(body.contains("1 of 2"), "{body}");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "asked before the candidate was ready"
    );
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );
    // The state machine waited by retrying CandidateNotReady (each poll logs it).
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    assert!(
        emulator.function_log().contains("CandidateNotReady"),
        "render-and-deploy never reported the candidate not ready"
    );
}

#[tokio::test]
async fn a_stack_update_that_fails_is_rolled_back_with_its_reason() {
    let (emulator, clients, flow) = example_flow().await;
    let before = app_state(&clients).await;
    emulator
        .bad_day(json!({"failNextStackUpdate": "Resource handler returned message: the image cannot be pulled"}))
        .await;
    let execution = flow
        .start(
            "failing-1-0-1",
            &example_input("1.0.1", json!([10, 50]), 600),
        )
        .await;
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("StackUpdateFailed"));
    let cause = flow.cause(&execution).await;
    assert!(cause.contains("cannot be pulled"), "{cause}");
    assert_at_rest(&clients, Colour::Blue).await;
    assert_eq!(app_state(&clients).await.blue.id, before.blue.id);

    // The stack is UPDATE_ROLLBACK_COMPLETE now; the next deployment renders
    // and proceeds as usual.
    let execution = flow
        .start(
            "after-failure-1-0-1",
            &example_input("1.0.1", json!([10]), 600),
        )
        .await;
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("the next deployment asks for approval");
    assert!(body.contains("1 of 1"), "{body}");
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
}

#[tokio::test]
async fn a_release_that_never_stabilises_is_rolled_back() {
    let (emulator, clients, flow) = example_flow().await;
    emulator.bad_day(json!({"neverStabilize": true})).await;
    let execution = flow
        .start(
            "unhealthy-1-0-1",
            &example_input("1.0.1", json!([10, 50]), 600),
        )
        .await;
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("CandidateNotReady"));
    assert_at_rest(&clients, Colour::Blue).await;
    assert_eq!(
        flow.next_approval_email(Duration::from_secs(1)).await,
        None,
        "nobody was asked to approve an unhealthy release"
    );
}

#[tokio::test]
async fn a_stack_update_whose_answer_was_lost_is_retried_and_recognised() {
    let (emulator, clients, flow) = example_flow().await;
    emulator.bad_day(json!({"stackUpdateSeconds": 3})).await;
    // CloudFormation takes the update, then the answer is lost: the SDK sends
    // the same request again while the stack is UPDATE_IN_PROGRESS.
    emulator
        .arm(
            json!({"service": "cloudformation", "operation": "UpdateStack",
                    "code": "InternalFailure", "status": 500, "count": 1, "afterApply": true}),
        )
        .await;
    let execution = flow
        .start(
            "lost-answer-1-0-1",
            &example_input("1.0.1", json!([10]), 600),
        )
        .await;
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("the retried update is recognised and waited for");
    assert!(body.contains("1 of 1"), "{body}");
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );
    let (status, _, listed) = emulator.http("GET", "/_ecs-canary/faults", b"").await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8_lossy(&listed), "[]", "the fault was used");
}
