//! `make bench`, part two: the whole flow on the emulator (real state
//! machine, functions served by `cargo lambda watch`).
//!
//! * Reject → 100 % stable: from the moment the Reject POST is sent until the
//!   weighted rule reads 100/0 towards stable (median of several runs).
//! * State transitions of a 3-step canary approved to the end.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_core::Colour;
use ecs_canary_e2e::example::{live_state, APP_STACK};
use ecs_canary_e2e::flow::{example_flow, example_input, link_in, submit};
use serde_json::json;

const RUNS: usize = 5;
const WAIT: Duration = Duration::from_secs(60);

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let (_emulator, clients, flow) = example_flow().await;
    let input = |steps: serde_json::Value| example_input("2.0.0", steps, 600);

    // Reject → rule back at 100 % stable.
    let mut latencies = Vec::new();
    for run in 0..RUNS {
        let execution = flow
            .start(&format!("reject-{run}"), &input(json!([10])))
            .await;
        let (_, body) = flow.next_email(WAIT).await.expect("an approval email");
        let link = link_in(&body);
        let sent = Instant::now();
        let (status, page) = submit(&link, "reject").await;
        assert_eq!(status, 200, "{page}");
        loop {
            let state = live_state(&clients, APP_STACK).await.expect("live state");
            let stable = state
                .tag
                .as_deref()
                .unwrap_or("Blue")
                .parse()
                .unwrap_or(Colour::Blue);
            if state.split_towards(stable) == (100, 0) {
                latencies.push(sent.elapsed());
                break;
            }
            assert!(
                sent.elapsed() < WAIT,
                "the rule never returned to 100 % stable"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        flow.finished(&execution, WAIT).await;
    }

    // A 3-step canary approved to the end: how many state transitions.
    let execution = flow.start("three-steps", &input(json!([10, 25, 50]))).await;
    for _ in 0..3 {
        let (_, body) = flow.next_email(WAIT).await.expect("an approval email");
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

    println!("\nThe whole flow on the local emulator (real state machine, debug functions via cargo lambda watch):\n");
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| Reject POST sent → rule at 100 % stable (median of {RUNS}) | {:.0} ms |",
        median(latencies).as_secs_f64() * 1000.0
    );
    println!("| state transitions, 3-step canary approved to promotion | {transitions} |");
    println!("| Lambda invocations in that execution | {lambda_calls} |");
    println!("| history events in that execution | {} |", history.len());
}
