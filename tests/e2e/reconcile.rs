//! Every ending reconciled, through the real state machine and EventBridge:
//! an execution stopped from the console mid-rollout, and a rollback that
//! cannot complete, leave the service at rest and tell people.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_core::Colour;
use ecs_canary_e2e::example::{app_state, assert_at_rest, until_app_unlocked};
use ecs_canary_e2e::flow::{example_flow, example_input, link_in, open, submit};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(90);

async fn until_unlocked(clients: &ecs_canary_aws::AwsClients) {
    until_app_unlocked(clients, WAIT).await;
}

#[tokio::test]
async fn an_execution_stopped_from_the_console_is_put_back_at_rest() {
    let (_emulator, clients, flow) = example_flow().await;
    let execution = flow
        .start(
            "stopped-1-0-1",
            &example_input("1.0.1", json!([10, 50]), 600),
        )
        .await;
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("step 1 asks for approval");
    let link = link_in(&body);
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );

    // A person stops the execution from the console: no Catch runs.
    flow.sfn
        .stop_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect("stop");
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Aborted);

    // The end reaches the reconciler through EventBridge.
    until_unlocked(&clients).await;
    assert_at_rest(&clients, Colour::Blue).await;
    let (subject, text) = flow
        .next_email_where(WAIT, |subject| subject.contains("stopped (aborted)"))
        .await
        .expect("the approval channels are told");
    assert!(subject.contains("traffic is on Blue"), "{subject}");
    assert!(text.contains("Left at:   Blue 90 / Green 10"), "{text}");
    assert!(text.contains("closed 1 pending approval link"), "{text}");
    let (status, page) = open(&link).await;
    assert_eq!(status, 410, "the link is void: {page}");

    // The service is free: the next deployment proceeds.
    flow.start(
        "after-stop-1-0-1",
        &example_input("1.0.1", json!([10]), 600),
    )
    .await;
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("the next deployment asks for approval");
    assert!(body.contains("1 of 1"), "{body}");
}

#[tokio::test]
async fn a_rollback_that_cannot_complete_asks_for_a_person_and_is_reconciled() {
    let (emulator, clients, flow) = example_flow().await;
    let execution = flow
        .start("stuck-1-0-1", &example_input("1.0.1", json!([10, 50]), 600))
        .await;
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("step 1 asks for approval");
    // The load balancer refuses the next three rule changes: the rejection's
    // direct rollback, the state machine's rollback, then its own
    // reconciliation's.
    emulator
        .arm_fault("elasticloadbalancing", "ModifyRule", "AccessDenied", 3)
        .await;
    let (status, _) = submit(&link_in(&body), "reject").await;
    assert_eq!(status, 200);

    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("RollbackFailed"));
    let (subject, text) = flow
        .next_email_where(WAIT, |subject| subject.contains("a person is needed"))
        .await
        .expect("a person is asked for");
    assert!(subject.starts_with("myservice: "), "{subject}");
    assert!(text.contains("AccessDenied"), "{text}");
    assert!(text.contains("it was Blue 90 / Green 10"), "{text}");

    // The execution's FAILED status reaches the reconciler, which finishes
    // the job once the load balancer takes changes again.
    until_unlocked(&clients).await;
    assert_at_rest(&clients, Colour::Blue).await;
}
