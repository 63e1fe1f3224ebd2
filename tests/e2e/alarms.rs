//! CloudWatch alarms guard a rollout, through the real state machine: one
//! that does not exist refuses the deployment before anything changes, one
//! in ALARM stops traffic moving towards the candidate and rolls back.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_core::Colour;
use ecs_canary_e2e::example::{app_state, assert_at_rest};
use ecs_canary_e2e::flow::{example_flow, example_input, link_in, submit};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(90);
const ALARM: &str = "myservice-5xx";

async fn cloudwatch(emulator: &ecs_canary_e2e::Emulator) -> aws_sdk_cloudwatch::Client {
    let client = aws_sdk_cloudwatch::Client::new(&emulator.sdk_config().await);
    client
        .put_metric_alarm()
        .alarm_name(ALARM)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(10.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("an alarm");
    client
}

#[tokio::test]
async fn an_alarm_in_alarm_stops_the_rollout_and_rolls_back() {
    let (emulator, clients, flow) = example_flow().await;
    let cloudwatch = cloudwatch(&emulator).await;
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

    cloudwatch
        .set_alarm_state()
        .alarm_name(ALARM)
        .state_value(StateValue::Alarm)
        .state_reason("5xx above 10 in one minute")
        .send()
        .await
        .expect("the alarm fires");
    // The person approves, but the next step checks the alarm first.
    let (status, _) = submit(&link_in(&body), "approve").await;
    assert_eq!(status, 200);
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("AlarmTriggered"));
    let cause = flow.cause(&execution).await;
    assert!(cause.contains(ALARM), "{cause}");
    assert_at_rest(&clients, Colour::Blue).await;
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
