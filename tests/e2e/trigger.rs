//! ECR pushes start executions: EventBridge (the rule `infra/` deploys)
//! delivers the "ECR Image Action" event to the real ecr-trigger binary.

use std::time::{Duration, Instant};

use ecs_canary_e2e::example::{create_example_app, APP_STACK, CLUSTER, SERVICE};
use ecs_canary_e2e::{Emulator, EmulatorOptions};
use serde_json::json;

const DIGEST: &str = "sha256:4e1f5b6a3c2d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";

fn mappings() -> String {
    json!([{
        "repository": "helloworld",
        "tagPattern": "1.*",
        "cluster": CLUSTER,
        "service": SERVICE,
        "stack": APP_STACK,
        "container": "mycontainer",
        "steps": [10]
    }])
    .to_string()
}

async fn push(events: &aws_sdk_eventbridge::Client, repository: &str, tag: &str, digest: &str) {
    let detail = json!({
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": "PUSH",
        "image-tag": tag
    });
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source("aws.ecr")
        .detail_type("ECR Image Action")
        .detail(detail.to_string())
        .build();
    let sent = events
        .put_events()
        .entries(entry)
        .send()
        .await
        .expect("put events");
    assert_eq!(sent.failed_entry_count(), 0);
}

async fn executions(sfn: &aws_sdk_sfn::Client, state_machine: &str) -> Vec<(String, String)> {
    let listed = sfn
        .list_executions()
        .state_machine_arn(state_machine)
        .send()
        .await
        .expect("list executions");
    let mut found = Vec::new();
    for execution in listed.executions() {
        let described = sfn
            .describe_execution()
            .execution_arn(execution.execution_arn())
            .send()
            .await
            .expect("describe");
        found.push((
            execution.name().to_string(),
            described.input().unwrap_or_default().to_string(),
        ));
    }
    found
}

/// Waits until the trigger has handled `count` events (its log says so).
fn handled(emulator: &Emulator, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = emulator.function_log();
        let seen = [
            "execution for this push",
            "already had an execution",
            "no mapping for this push",
        ]
        .iter()
        .map(|line| log.matches(line).count())
        .sum::<usize>();
        if seen >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the trigger handled {seen} of {count} events:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn an_ecr_push_starts_one_execution_per_mapped_service() {
    let emulator = Emulator::start_with(EmulatorOptions {
        functions: true,
        trigger_mappings: Some(mappings()),
        ..EmulatorOptions::default()
    });
    let config = emulator.sdk_config().await;
    create_example_app(&emulator.clients().await)
        .await
        .expect("create the example stacks");
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sfn = aws_sdk_sfn::Client::new(&config);
    let state_machine = emulator.infra_output("StateMachineArn");

    // The same push delivered twice: one execution, named from the digest.
    push(&events, "helloworld", "1.0.1", DIGEST).await;
    handled(&emulator, 1);
    push(&events, "helloworld", "1.0.1", DIGEST).await;
    handled(&emulator, 2);
    let started = executions(&sfn, &state_machine).await;
    assert_eq!(started.len(), 1, "{started:?}");
    let (name, input) = &started[0];
    assert_eq!(name, "myservice-4e1f5b6a3c2d7e8f9a0b1c2d3e4f5a6b7c8d9e0f");
    let input: serde_json::Value = serde_json::from_str(input).expect("json input");
    assert_eq!(
        input["image"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/helloworld:1.0.1"
    );
    assert_eq!(
        (input["cluster"].as_str(), input["steps"].clone()),
        (Some(CLUSTER), json!([10]))
    );
    assert_eq!(
        emulator
            .function_log()
            .matches("execution for this push")
            .count(),
        2
    );

    // A repository, or a tag, that no mapping names: nothing starts.
    push(&events, "someone-elses-app", "1.0.1", DIGEST).await;
    handled(&emulator, 3);
    push(&events, "helloworld", "2.0.0", "sha256:ffff").await;
    handled(&emulator, 4);
    assert_eq!(executions(&sfn, &state_machine).await.len(), 1);
    assert_eq!(
        emulator
            .function_log()
            .matches("no mapping for this push")
            .count(),
        2
    );
}
