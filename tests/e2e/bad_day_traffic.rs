//! A rollout on a bad day for the control plane: a fifth of the calls to ECS,
//! ELBv2, CloudFormation and DynamoDB throttled, and listener rules that read
//! back late. The deployment still reaches promotion and leaves the service
//! at rest.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_core::Colour;
use ecs_canary_e2e::example::assert_at_rest;
use ecs_canary_e2e::flow::{example_flow, example_input, link_in, open, submit, Flow};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(120);
const SHORT: Duration = Duration::from_secs(40);

/// Approves as a person does on a bad day: when the page says the decision
/// was not recorded, choose again.
async fn approve_next(flow: &Flow) {
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("an approval email");
    let link = link_in(&body);
    for _ in 0..10 {
        let (status, _) = open(&link).await;
        if status == 200 {
            let (status, page) = submit(&link, "approve").await;
            if status == 200 {
                return;
            }
            assert_eq!(status, 503, "{page}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the approval never went through: {link}");
}

#[tokio::test]
async fn a_rollout_under_throttling_and_read_lag_still_promotes_and_rests() {
    let (emulator, clients, flow) = example_flow().await;
    for service in ["ecs", "elasticloadbalancing", "cloudformation", "dynamodb"] {
        let code = match service {
            "dynamodb" => "ProvisionedThroughputExceededException",
            "ecs" => "ThrottlingException",
            _ => "Throttling",
        };
        emulator
            .arm(json!({"service": service, "operation": "*", "code": code,
                        "rate": 0.2, "count": 100_000}))
            .await;
    }
    emulator.bad_day(json!({"ruleReadLagSeconds": 1.5})).await;

    let execution = flow
        .start(
            "bad-day-1-0-1",
            &example_input("1.0.1", json!([10, 50]), 600),
        )
        .await;
    approve_next(&flow).await;
    approve_next(&flow).await;
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error:?}");

    // Let the read-back lag pass, then look at the service as a person would.
    emulator.disarm_faults().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_at_rest(&clients, Colour::Green).await;
    // The bad day really happened: calls were throttled and retried.
    let log = emulator.function_log();
    assert!(
        log.contains("Throttled") || log.contains("WeightNotApplied"),
        "no function met a throttled call or a late read-back"
    );
}

#[tokio::test]
async fn lambda_throttling_its_invocations_is_retried_by_the_state_machine() {
    let (emulator, _clients, flow) = example_flow().await;
    // The Lambda service refuses the next invocations, as it does when a
    // function's concurrency is exhausted.
    emulator
        .arm(
            json!({"service": "lambda", "operation": "*", "code": "TooManyRequestsException",
                    "message": "Rate Exceeded.", "status": 429, "count": 2}),
        )
        .await;
    let execution = flow
        .start(
            "lambda-busy-1-0-1",
            &example_input("1.0.1", json!([10]), 600),
        )
        .await;
    let email = flow.next_approval_email(SHORT).await;
    let history = flow.history(&execution).await;
    let status = flow.status(&execution).await;
    let causes: Vec<String> = history
        .iter()
        .map(|e| {
            format!(
                "{} {:?}",
                e.r#type().as_str(),
                e.execution_failed_event_details().and_then(|d| d.cause())
            )
        })
        .collect();
    let refused: Vec<String> = history
        .iter()
        .filter_map(|e| e.task_failed_event_details())
        .filter_map(|d| d.error().map(str::to_string))
        .collect();
    let (_, body) = email.unwrap_or_else(|| {
        panic!(
            "the rollout did not go on once Lambda took invocations again: {status:?}, {causes:#?}"
        )
    });
    assert!(body.contains("1 of 1"), "{body}");
    assert!(
        refused.iter().any(|e| e.contains("TooManyRequests")),
        "the throttled invocations were not retried as such: {refused:?}"
    );
}
