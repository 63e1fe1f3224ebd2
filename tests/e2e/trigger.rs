//! ECR pushes start executions: EventBridge (the rule `infra/` deploys)
//! delivers the "ECR Image Action" event to the real ecr-trigger binary.

use std::time::{Duration, Instant};

use ecs_canary_e2e::cli::{ecs_canary, someone_else, user_arn, OPERATOR};
use ecs_canary_e2e::example::{create_example_app, APP_STACK, CLUSTER, SERVICE};
use ecs_canary_e2e::flow::Flow;
use ecs_canary_e2e::{Emulator, EmulatorOptions};
use serde_json::json;

const DIGEST: &str = "sha256:4e1f5b6a3c2d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";

/// The example service, and a service of the same name in another cluster.
fn mappings() -> String {
    json!([{
        "repository": "helloworld",
        "tagPattern": "1.*",
        "cluster": CLUSTER,
        "service": SERVICE,
        "stack": APP_STACK,
        "container": "mycontainer",
        "steps": [10]
    }, {
        "repository": "helloworld",
        "tagPattern": "1.*",
        "cluster": "staging",
        "service": SERVICE,
        "stack": "staging-app",
        "steps": [50],
        "approvalPolicy": {"channels": ["slack"]}
    }])
    .to_string()
}

async fn push(emulator: &Emulator, repository: &str, tag: &str, digest: &str) {
    let detail = json!({
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": "PUSH",
        "image-tag": tag
    });
    emulator
        .put_event("aws.ecr", "ECR Image Action", &detail)
        .await;
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
async fn handled(emulator: &Emulator, count: usize) {
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_ecr_push_starts_one_execution_per_mapped_service() {
    let emulator = Emulator::start_with(EmulatorOptions {
        functions: true,
        trigger_mappings: Some(mappings()),
        ..EmulatorOptions::default()
    })
    .await;
    let config = emulator.sdk_config().await;
    create_example_app(&emulator.clients().await)
        .await
        .expect("create the example stacks");
    let sfn = aws_sdk_sfn::Client::new(&config);
    let state_machine = emulator.infra_output("StateMachineArn");

    // The same push delivered twice: one execution per mapped service (the
    // same service name in two clusters is two services), named from
    // cluster, service and digest.
    push(&emulator, "helloworld", "1.0.1", DIGEST).await;
    handled(&emulator, 2).await;
    push(&emulator, "helloworld", "1.0.1", DIGEST).await;
    handled(&emulator, 4).await;
    let started = executions(&sfn, &state_machine).await;
    assert_eq!(started.len(), 2, "{started:?}");
    assert_ne!(started[0].0, started[1].0);
    let inputs: Vec<serde_json::Value> = started
        .iter()
        .map(|(name, input)| {
            assert!(name.starts_with("myservice-") && name.len() == 50, "{name}");
            serde_json::from_str(input).expect("json input")
        })
        .collect();
    let input = inputs
        .iter()
        .find(|i| i["cluster"] == CLUSTER)
        .expect("an execution for the example cluster");
    // What was pushed, pinned by digest; the tag beside it for people.
    assert_eq!(
        input["image"],
        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/helloworld@{DIGEST}")
    );
    assert_eq!(input["imageTag"], "1.0.1");
    assert_eq!(input["steps"], json!([10]));
    assert!(inputs.iter().any(|i| i["cluster"] == "staging"));
    // Both deliveries were answered for both services (the second one finds
    // the running execution, or one already ended: staging has no such cluster).
    let log = emulator.function_log();
    assert_eq!(
        log.matches("execution for this push").count()
            + log.matches("already had an execution").count(),
        4
    );

    // A repository, or a tag, that no mapping names: nothing starts.
    push(&emulator, "someone-elses-app", "1.0.1", DIGEST).await;
    handled(&emulator, 5).await;
    push(&emulator, "helloworld", "2.0.0", "sha256:ffff").await;
    handled(&emulator, 6).await;
    assert_eq!(executions(&sfn, &state_machine).await.len(), 2);
    assert_eq!(
        emulator
            .function_log()
            .matches("no mapping for this push")
            .count(),
        2
    );

    let flow = Flow::create(&emulator).await;
    // A mapping's policy holds a start by hand of its service too: a wider
    // one is refused at once; none of its own gets past the policy (and on,
    // to the cluster staging does not have here).
    for (name, policy, expected) in [
        (
            "by-hand-wider",
            json!({"channels": ["email"]}),
            "PolicyBelowFloor",
        ),
        ("by-hand", serde_json::Value::Null, "ClusterNotFound"),
    ] {
        let mut input = json!({"cluster": "staging", "service": SERVICE,
            "stack": "staging-app", "image": "helloworld:1.0.2"});
        if !policy.is_null() {
            input["approvalPolicy"] = policy;
        }
        let execution = flow.start(name, &input).await;
        let (_, error) = flow.finished(&execution, Duration::from_secs(60)).await;
        assert_eq!(error.as_deref(), Some(expected), "{name}");
    }
}

#[tokio::test]
async fn a_push_cloudtrail_recorded_is_deployed_in_its_pushers_name() {
    // The pusher is the operator: under separation of duties they may not
    // approve their own image, from any channel.
    let pusher = user_arn(OPERATOR);
    let emulator = Emulator::start_with(EmulatorOptions {
        functions: true,
        trigger_mappings: Some(mappings()),
        approval_policy: Some(json!({"separationOfDuties": true}).to_string()),
        push_events: Some("CloudTrail".into()),
        ..EmulatorOptions::default()
    })
    .await;
    create_example_app(&emulator.clients().await)
        .await
        .expect("create the example stacks");
    let flow = Flow::create(&emulator).await;
    // ECR's own event no longer starts anything: CloudTrail's record does.
    push(&emulator, "helloworld", "1.0.1", DIGEST).await;
    emulator
        .put_event(
            "aws.ecr",
            "AWS API Call via CloudTrail",
            &json!({
                "eventSource": "ecr.amazonaws.com", "eventName": "PutImage",
                "awsRegion": "us-east-1", "recipientAccountId": "123456789012",
                "userIdentity": {"type": "IAMUser", "arn": pusher},
                "requestParameters": {"repositoryName": "helloworld", "imageTag": "1.0.1"},
                "responseElements": {"image": {"registryId": "123456789012",
                    "repositoryName": "helloworld",
                    "imageId": {"imageDigest": DIGEST, "imageTag": "1.0.1"}}}
            }),
        )
        .await;
    let (_, email) = flow
        .next_approval_email(Duration::from_secs(90))
        .await
        .expect("the pushed image asks for step 1");
    assert!(
        email.contains(&pusher),
        "the email names the pusher: {email}"
    );
    let key = format!("{CLUSTER}/{SERVICE}");
    let own = ecs_canary(&emulator, None, &["approve", &key]).await;
    assert_eq!(own.code, 3, "{own:?}");
    assert!(own.stdout.contains("may not approve it"), "{}", own.stdout);
    let bob = someone_else(&emulator, "bob").await;
    let approved = ecs_canary(&emulator, Some(&bob), &["approve", &key]).await;
    assert_eq!(approved.code, 0, "{approved:?}");
    let history = ecs_canary(&emulator, None, &["--json", "history", &key]).await;
    let events = history.json();
    let requested: Vec<&serde_json::Value> = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == json!("requested"))
        .collect();
    assert_eq!(requested.len(), 1, "{events:#}");
    assert_eq!(requested[0]["by"], json!(pusher));
    assert_eq!(requested[0]["channel"], json!("ecr"));
}
