//! Release lineage through real executions: the candidate is always the
//! stable task set's live task definition with only the requested image and
//! environment applied — never a release that was rolled back — and every
//! approval shows the release as a difference from what is stable now.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_aws::AwsClients;
use ecs_canary_core::Colour;
use ecs_canary_e2e::example::{
    app_state as state, containers_of, create_example_app_from, example_template, APP_STACK,
    CLUSTER, SERVICE,
};
use ecs_canary_e2e::flow::{link_in, open, submit, Flow};
use ecs_canary_e2e::Emulator;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// (image, environment) of each container, by name, as ECS has it.
type Containers = BTreeMap<String, (String, BTreeMap<String, String>)>;

async fn containers(clients: &AwsClients, task_definition: &str) -> Containers {
    containers_of(clients, task_definition)
        .await
        .into_iter()
        .map(|c| (c.name, (c.image, c.environment.into_iter().collect())))
        .collect()
}

fn container(image: &str, environment: &[(&str, &str)]) -> (String, BTreeMap<String, String>) {
    (
        image.to_string(),
        environment
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

const SIDECAR_IMAGE: &str = "envoyproxy/envoy:v1.31";

/// The sidecar, which no release names: it must never change.
fn sidecar() -> (String, BTreeMap<String, String>) {
    container(SIDECAR_IMAGE, &[("ENVOY_LOG", "info")])
}

/// The example application with a sidecar next to `mycontainer`.
async fn flow_with_a_sidecar() -> (Emulator, AwsClients, Flow) {
    let emulator = Emulator::start_with_functions().await;
    let clients = emulator.clients().await;
    let mut template: Value =
        serde_json::from_str(&example_template("app.json")).expect("app.json");
    template["Resources"]["MyTask"]["Properties"]["ContainerDefinitions"]
        .as_array_mut()
        .expect("containers")
        .push(json!({
            "Name": "sidecar", "Image": SIDECAR_IMAGE, "Memory": 128, "Essential": false,
            "Environment": [{"Name": "ENVOY_LOG", "Value": "info"}]
        }));
    create_example_app_from(&clients, &template.to_string())
        .await
        .expect("create the example stacks");
    let flow = Flow::create(&emulator).await;
    (emulator, clients, flow)
}

fn input(release: Value) -> Value {
    let mut input = json!({
        "cluster": CLUSTER, "service": SERVICE, "stack": APP_STACK,
        "container": "mycontainer", "steps": [50], "approvalTimeoutSeconds": 600
    });
    if let (Some(input), Value::Object(release)) = (input.as_object_mut(), release) {
        input.extend(release);
    }
    input
}

/// Starts a release and waits for its approval email; returns the execution,
/// the email body and the link.
async fn start(flow: &Flow, name: &str, release: Value) -> (String, String, String) {
    let execution = flow.start(name, &input(release)).await;
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("an approval email");
    let link = link_in(&body);
    (execution, body, link)
}

async fn decide(flow: &Flow, execution: &str, link: &str, decision: &str) -> Option<String> {
    assert_eq!(open(link).await.0, 200);
    let (status, page) = submit(link, decision).await;
    assert_eq!(status, 200, "{page}");
    let (status, error) = flow.finished(execution, WAIT).await;
    let expected = if decision == "approve" {
        ExecutionStatus::Succeeded
    } else {
        ExecutionStatus::Failed
    };
    assert_eq!(status, expected, "{error:?}");
    error
}

#[tokio::test]
async fn a_release_never_inherits_a_rolled_back_release() {
    let (_emulator, clients, flow) = flow_with_a_sidecar().await;

    // 2.0.0 is promoted: Green is stable.
    let (execution, _, link) = start(
        &flow,
        "promote-2-0-0",
        json!({"image": "repo/app:2.0.0", "environment": {"APPVERSION": "2.0.0"}}),
    )
    .await;
    decide(&flow, &execution, &link, "approve").await;
    let promoted = state(&clients).await;
    assert_eq!(promoted.tag.as_deref(), Some("Green"));
    let stable_containers = containers(&clients, &promoted.green.task_definition).await;
    assert_eq!(
        stable_containers,
        Containers::from([
            (
                "mycontainer".to_string(),
                container("repo/app:2.0.0", &[("APPVERSION", "2.0.0")])
            ),
            ("sidecar".to_string(), sidecar()),
        ])
    );

    // 2.1.0 (with a variable of its own) is rejected.
    let (execution, body, link) = start(
        &flow,
        "reject-2-1-0",
        json!({"image": "repo/app:2.1.0", "environment": {"APPVERSION": "2.1.0", "BAD_FLAG": "1"}}),
    )
    .await;
    assert!(
        body.contains("mycontainer: image repo/app:2.0.0 → repo/app:2.1.0")
            && body.contains("mycontainer: APPVERSION 2.0.0 → 2.1.0")
            && body.contains("mycontainer: BAD_FLAG added = 1"),
        "{body}"
    );
    assert_eq!(
        decide(&flow, &execution, &link, "reject").await.as_deref(),
        Some("Rejected")
    );

    // An environment-only release starts from stable (2.0.0), not from the
    // rejected 2.1.0, and carries none of its variables.
    let (execution, body, link) = start(
        &flow,
        "environment-only",
        json!({"environment": {"FEATURE_Y": "1"}}),
    )
    .await;
    assert!(body.contains("mycontainer: FEATURE_Y added = 1"), "{body}");
    assert!(
        !body.contains("2.1.0") && !body.contains("BAD_FLAG"),
        "{body}"
    );
    let waiting = state(&clients).await;
    assert_eq!(waiting.tag.as_deref(), Some("Green"));
    assert_eq!(
        containers(&clients, &waiting.blue.task_definition).await,
        Containers::from([
            (
                "mycontainer".to_string(),
                container(
                    "repo/app:2.0.0",
                    &[("APPVERSION", "2.0.0"), ("FEATURE_Y", "1")]
                )
            ),
            ("sidecar".to_string(), sidecar()),
        ])
    );
    assert_eq!(
        containers(&clients, &waiting.green.task_definition).await,
        stable_containers,
        "the stable task set is untouched"
    );
    decide(&flow, &execution, &link, "reject").await;

    // An image-only release keeps stable's variables, and only those.
    let (execution, body, link) =
        start(&flow, "image-only", json!({"image": "repo/app:2.2.0"})).await;
    assert!(
        body.contains("mycontainer: image repo/app:2.0.0 → repo/app:2.2.0"),
        "{body}"
    );
    let waiting = state(&clients).await;
    assert_eq!(
        containers(&clients, &waiting.blue.task_definition).await,
        Containers::from([
            (
                "mycontainer".to_string(),
                container("repo/app:2.2.0", &[("APPVERSION", "2.0.0")])
            ),
            ("sidecar".to_string(), sidecar()),
        ])
    );
    decide(&flow, &execution, &link, "approve").await;
    let end = state(&clients).await;
    assert_eq!(end.tag.as_deref(), Some("Blue"));
    assert_eq!(end.split_towards(Colour::Blue), (100, 0));
}
