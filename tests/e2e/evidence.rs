//! Evidence at every gate, through the real state machine: synthetic traffic
//! written to CloudWatch for both target groups (as the load balancer would)
//! reaches the approval email, the Slack message and the page (with its
//! chart, as a browser sees it); a failing candidate is rejected by the
//! automatic analysis only when its thresholds are set.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_core::Colour;
use ecs_canary_e2e::example::{assert_at_rest, target_group, APP_STACK};
use ecs_canary_e2e::flow::{example_flow, example_input, link_in, open, submit, Flow};
use ecs_canary_e2e::traffic::{
    write_minutes, Minute, EQUAL, FAILING_NEW, FAILING_STABLE, HEALTHY_NEW, HEALTHY_STABLE,
};
use ecs_canary_e2e::Emulator;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(90);
/// A minute of the schedules' clock so long that the watch runs only when a
/// test runs it.
const STOPPED: f64 = 86_400.0;

/// Writes a minute of traffic for the example's two target groups.
async fn traffic(
    emulator: &Emulator,
    clients: &ecs_canary_aws::AwsClients,
    new: &Minute,
    stable: &Minute,
) {
    let green = target_group(clients, APP_STACK, Colour::Green)
        .await
        .expect("green");
    let blue = target_group(clients, APP_STACK, Colour::Blue)
        .await
        .expect("blue");
    let rule = clients
        .stacks
        .physical_ids(APP_STACK)
        .await
        .expect("resources")
        .into_values()
        .find(|arn| arn.contains(":listener-rule/"))
        .expect("a listener rule");
    write_minutes(emulator, &rule, &[(&green, new), (&blue, stable)]).await;
}

async fn approval(flow: &Flow) -> (String, String) {
    flow.next_approval_email(WAIT)
        .await
        .expect("an approval email")
}

#[tokio::test]
async fn every_approval_carries_the_numbers_and_the_page_a_chart() {
    let (emulator, clients, flow) = example_flow().await;
    let execution = flow
        .start(
            "evidence-1-0-1",
            &example_input("1.0.1", json!([10, 50]), 600),
        )
        .await;
    let (_, body) = approval(&flow).await;
    assert!(
        body.contains("Evidence:  no traffic has reached the new version yet"),
        "{body}"
    );
    // When the execution started (Step Functions' own start time) and which.
    let started = body
        .lines()
        .find_map(|line| line.strip_prefix("Started:   "))
        .expect("a Started line");
    assert!(
        started.starts_with("20") && started.ends_with("Z, execution evidence-1-0-1"),
        "{started}"
    );
    traffic(&emulator, &clients, &HEALTHY_NEW, &HEALTHY_STABLE).await;

    // The page, as a browser sees it: the numbers of this step and the chart.
    let link = link_in(&body);
    let browser = ecs_canary_e2e::browser::Browser::start().await;
    browser.open(&link).await;
    let page = browser.source().await;
    assert!(page.contains("id=\"evidence\""), "{page}");
    assert!(
        page.contains("new: 1,204 requests, 0.4 % 5xx, p99 180 ms · stable: 10,877 requests, 0.3 % 5xx, p99 170 ms"),
        "{page}"
    );
    assert!(page.contains("id=\"evidence-chart\""), "{page}");
    assert!(
        page.contains("data-series=\"new\"") && page.contains("data-series=\"stable\""),
        "{page}"
    );
    assert!(page.contains("class=\"step-mark\""), "{page}");
    // The verdict beside the chart: too little yet to tell, and how long
    // this traffic takes to tell (no tolerance set: the advice's default).
    assert!(
        page.contains("<p id=\"verdict\" data-recommendation=\"wait\">")
            && page.contains("95 % interval −")
            && page.contains("(valid however often you look)")
            && page.contains("wait for more traffic: at this traffic, enough to rule out an increase of +1.00 points, the advice")
            && page.contains("default in about"),
        "{page}"
    );
    // Where the rollout is, at a glance: the track, the bar, the chart — on
    // a phone too, without scrolling sideways. The screenshot is kept.
    browser.resize(390, 844).await;
    for part in [
        "#track",
        "#split-bar",
        "#evidence-chart",
        "#approve",
        "#reject",
    ] {
        let (width, height) = browser.size(part).await;
        assert!(width > 100.0 && height > 20.0, "{part} is {width}x{height}");
    }
    let (page_width, viewport) = browser.widths().await;
    assert!(
        page_width <= viewport,
        "the page scrolls sideways: {page_width} > {viewport}"
    );
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let shots = ecs_canary_e2e::repo_root().join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("a screenshot directory");
    std::fs::write(shots.join("approval-page-phone.png"), &png).expect("keep the screenshot");
    browser.close().await;

    // Numbers that cannot be read (no permission) never block: the page says
    // why, and the decision goes through. (The page reads twice: this
    // step's numbers, and the minutes for the chart.)
    emulator
        .arm_fault("monitoring", "GetMetricData", "AccessDenied", 2)
        .await;
    let (status, page) = open(&link).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("unavailable: AwsServiceError") && page.contains("AccessDenied"),
        "{page}"
    );
    assert!(
        page.contains("Chart unavailable: AwsServiceError"),
        "{page}"
    );

    // Step 2's email and Slack message carry step 1's numbers.
    assert_eq!(submit(&link, "approve").await.0, 200);
    let (_, body) = approval(&flow).await;
    assert!(
        body.contains("Evidence:  step 1 (10 %): new: 1,204 requests, 0.4 % 5xx, p99 180 ms · stable: 10,877 requests, 0.3 % 5xx, p99 170 ms"),
        "{body}"
    );
    // The Slack message goes out after the email: wait for it.
    let deadline = std::time::Instant::now() + WAIT;
    let slack = loop {
        let step_2 = emulator
            .slack()
            .messages()
            .iter()
            .map(|m| m.to_string())
            .find(|m| m.contains("step 2/2"));
        match step_2 {
            Some(message) => break message,
            None if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            None => panic!("no Slack message for step 2"),
        }
    };
    assert!(
        slack.contains("*Evidence*") && slack.contains("1,204 requests"),
        "{slack}"
    );
    assert_eq!(submit(&link_in(&body), "reject").await.0, 200);
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(
        (status, error.as_deref()),
        (ExecutionStatus::Failed, Some("Rejected"))
    );
}

#[tokio::test]
async fn a_failing_candidate_is_rejected_by_the_analysis_only_when_it_is_on() {
    let (emulator, clients, flow) = example_flow().await;
    // The watch's schedule runs only when this test runs it: it counts.
    emulator
        .bad_day(json!({"scheduleMinuteSeconds": STOPPED}))
        .await;
    let mut guarded = example_input("1.0.1", json!([10, 50]), 600);
    guarded["maxErrorRateIncrease"] = json!(2);
    guarded["minRequests"] = json!(100);
    let execution = flow.start("analysed-1-0-1", &guarded).await;
    let (_, body) = approval(&flow).await;
    traffic(&emulator, &clients, &FAILING_NEW, &FAILING_STABLE).await;
    let (status, page) = open(&link_in(&body)).await;
    assert_eq!(status, 200);
    // The verdict beside the chart: the interval lies wholly above the
    // tolerance.
    assert!(
        page.contains("<p id=\"verdict\" data-recommendation=\"reject\">")
            && page
                .contains("reject: the interval lies wholly above the tolerance of +2.00 points"),
        "{page}"
    );

    // Nobody clicks: within two of the watch's scheduled runs (and no
    // more are given) the step is rejected by itself, traffic to stable
    // first, and a link clicked afterwards decides nothing.
    emulator.run_schedules().await;
    emulator.run_schedules().await;
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(
        ecs_canary_e2e::example::app_state(&clients)
            .await
            .split_towards(Colour::Blue),
        (100, 0),
        "traffic is back on stable"
    );
    let (status_late, page) = submit(&link_in(&body), "approve").await;
    assert_eq!(status_late, 409, "{page}");
    assert!(page.contains("the analysis watch"), "{page}");
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("AnalysisFailed"));
    let cause = flow.cause(&execution).await;
    assert!(
        cause.contains("by more than 2 percentage points, however often one looks"),
        "{cause}"
    );
    assert_at_rest(&clients, Colour::Blue).await;
    let (_, text) = flow
        .next_email_where(WAIT, |s| s.contains("the automatic analysis failed"))
        .await
        .expect("the approval channels are told");
    assert!(text.contains("+9.80 points, 95 % interval +"), "{text}");

    // The same numbers without the thresholds: the watch leaves it to a
    // person; traffic moves on.
    let execution = flow
        .start(
            "unanalysed-1-0-1",
            &example_input("1.0.1", json!([10, 50]), 600),
        )
        .await;
    let (_, body) = approval(&flow).await;
    traffic(&emulator, &clients, &FAILING_NEW, &FAILING_STABLE).await;
    emulator.run_schedules().await;
    emulator.run_schedules().await;
    assert_eq!(
        flow.sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .expect("the execution")
            .status(),
        &ExecutionStatus::Running,
        "no threshold: the watch decides nothing"
    );
    assert_eq!(submit(&link_in(&body), "approve").await.0, 200);
    let (_, body) = approval(&flow).await;
    assert!(body.contains("2 of 2"), "{body}");
    assert!(
        body.contains("+9.80 points, 95 % interval +")
            && body.contains("reject: the interval lies wholly above the tolerance of +1.00 points, the advice's default"),
        "{body}"
    );
    assert_eq!(submit(&link_in(&body), "reject").await.0, 200);
    flow.finished(&execution, WAIT).await;
}

#[tokio::test]
async fn an_equal_candidate_with_enough_traffic_may_continue() {
    let (emulator, clients, flow) = example_flow().await;
    emulator
        .bad_day(json!({"scheduleMinuteSeconds": STOPPED}))
        .await;
    let mut guarded = example_input("1.0.1", json!([10, 50]), 600);
    guarded["maxErrorRateIncrease"] = json!(1);
    guarded["minRequests"] = json!(1000);
    let execution = flow.start("equal-1-0-1", &guarded).await;
    let (_, body) = approval(&flow).await;
    traffic(&emulator, &clients, &EQUAL, &EQUAL).await;
    let (status, page) = open(&link_in(&body)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<p id=\"verdict\" data-recommendation=\"continue\">")
            && page.contains("continue: the interval rules out an increase of +1.00 points"),
        "{page}"
    );
    // The watch leaves it alone, and the analysis on approval lets traffic
    // move on.
    emulator.run_schedules().await;
    assert_eq!(submit(&link_in(&body), "approve").await.0, 200);
    let (_, body) = approval(&flow).await;
    assert!(body.contains("2 of 2"), "{body}");
    assert!(
        body.contains("step 1 (10 %): new: 40,000 requests, 0.3 % 5xx")
            && body.contains("continue: the interval rules out an increase of +1.00 points"),
        "{body}"
    );
    assert_eq!(submit(&link_in(&body), "reject").await.0, 200);
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(
        (status, error.as_deref()),
        (ExecutionStatus::Failed, Some("Rejected"))
    );
}
