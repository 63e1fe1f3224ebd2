//! The deployment core and the adapters against CloudFormation, ECS and ELBv2
//! on the emulator: the article's process, in both colour directions.

use ecs_canary_aws::{AwsClients, UpdateOutcome};
use ecs_canary_core::{CandidateRelease, Colour, ReleaseChange, StackProgress, TrafficSplit};
use ecs_canary_e2e::example::{
    containers_of, create_example_app, live_state, target_group, LiveState, CLUSTER, SERVICE,
};
use ecs_canary_e2e::Emulator;

fn app_version(version: &str) -> CandidateRelease {
    CandidateRelease {
        image: None,
        environment: vec![("APPVERSION".into(), version.into())],
        container: None,
    }
}

/// The container's APPVERSION in a task-definition revision, as ECS has it.
async fn app_version_of(emulator: &Emulator, task_definition: &str) -> String {
    let clients = emulator.clients().await;
    containers_of(&clients, task_definition).await[0]
        .environment
        .iter()
        .find(|(name, _)| name == "APPVERSION")
        .map(|(_, value)| value.clone())
        .unwrap_or_default()
}

/// Renders the stack for a deployment the way the article's steps 1–4 do,
/// and applies it.
async fn deploy(
    clients: &AwsClients,
    stack: &str,
    before: &LiveState,
    version: &str,
) -> UpdateOutcome {
    let stable: Colour = before
        .tag
        .as_deref()
        .unwrap_or("Blue")
        .parse()
        .expect("tag names a colour");
    // The candidate: stable's live task definition with only the release applied.
    let live_task_definition = &before.task_set(stable).task_definition;
    let live = clients
        .ecs
        .task_definition(live_task_definition)
        .await
        .expect("describe the stable task definition");
    let change = ReleaseChange::plan(&live.containers(), &app_version(version), None)
        .expect("the release applies");
    let current = &before.task_set(stable.other()).task_definition;
    let candidate = clients
        .ecs
        .register_release(&live, &change, Some(current))
        .await
        .expect("register the candidate");
    let patched = before
        .template
        .patch(stable, live_task_definition, &candidate)
        .expect("the example template patches");
    let outcome = clients
        .stacks
        .update(stack, &patched.template.to_json_string(), None, None)
        .await
        .expect("update stack");
    let status = clients
        .stacks
        .describe(stack)
        .await
        .expect("describe stack");
    assert_eq!(
        status.progress(),
        StackProgress::Complete,
        "stack status {}",
        status.status
    );
    outcome
}

#[tokio::test]
async fn new_version_goes_to_the_candidate_and_the_stable_task_set_is_untouched() {
    let emulator = Emulator::start().await;
    let clients = emulator.clients().await;
    let stack = create_example_app(&clients)
        .await
        .expect("create the example stacks");

    // The example stack as created: Blue stable, 100/0, both task sets on :1.
    let created = live_state(&clients, stack).await.expect("read the stack");
    assert_eq!(created.tag.as_deref(), Some("Blue"));
    assert_eq!(created.split_towards(Colour::Blue), (100, 0));
    assert_eq!(
        created.blue.external_id.as_deref(),
        Some("OctopusBlueStack")
    );
    assert_eq!(
        created.green.external_id.as_deref(),
        Some("OctopusGreenStack")
    );
    assert!(created
        .blue
        .task_definition
        .ends_with("task-definition/mytask:1"));
    assert_eq!(created.green.task_definition, created.blue.task_definition);
    assert!(created.blue.is_steady() && created.green.is_steady());
    assert_eq!(
        app_version_of(&emulator, &created.blue.task_definition).await,
        "1.0.0"
    );

    // Deploy 1.0.1: Green is the candidate.
    assert_eq!(
        deploy(&clients, stack, &created, "1.0.1").await,
        UpdateOutcome::Started
    );
    let deployed = live_state(&clients, stack).await.expect("read the stack");

    // The stable task set kept its id and its task definition.
    assert_eq!(deployed.blue.id, created.blue.id);
    assert_eq!(deployed.blue.task_definition, created.blue.task_definition);
    // The candidate task set was replaced and runs the new revision.
    assert_ne!(deployed.green.id, created.green.id);
    assert!(deployed
        .green
        .task_definition
        .ends_with("task-definition/mytask:2"));
    assert_eq!(
        app_version_of(&emulator, &deployed.green.task_definition).await,
        "1.0.1"
    );
    assert_eq!(
        app_version_of(&emulator, &deployed.blue.task_definition).await,
        "1.0.0"
    );
    // Users still see only the stable version; the tag is unchanged.
    assert_eq!(deployed.split_towards(Colour::Blue), (100, 0));
    assert_eq!(deployed.tag.as_deref(), Some("Blue"));
    // The stack renders the tester rule where it is live, on stable (the
    // functions point it at the candidate once it is ready).
    let blue_group = target_group(&clients, stack, Colour::Blue)
        .await
        .expect("outputs");
    assert_eq!(deployed.tester_targets.len(), 1);
    assert_eq!(deployed.tester_targets[0].target_group_arn, blue_group);

    // Rendering the same deployment again changes nothing.
    assert_eq!(
        deploy(&clients, stack, &deployed, "1.0.1").await,
        UpdateOutcome::NoChange
    );
    assert_eq!(
        live_state(&clients, stack).await.expect("read the stack"),
        deployed
    );
}

#[tokio::test]
async fn after_a_promotion_the_next_version_goes_to_blue_and_green_keeps_serving() {
    let emulator = Emulator::start().await;
    let clients = emulator.clients().await;
    let stack = create_example_app(&clients)
        .await
        .expect("create the example stacks");
    let created = live_state(&clients, stack).await.expect("read the stack");
    deploy(&clients, stack, &created, "1.0.1").await;

    // Promote Green by hand, as the article does: rule 0/100, tag Green.
    let blue_group = target_group(&clients, stack, Colour::Blue)
        .await
        .expect("outputs");
    let green_group = target_group(&clients, stack, Colour::Green)
        .await
        .expect("outputs");
    let rule = clients
        .stacks
        .physical_id(stack, "MyListenerRule")
        .await
        .expect("weighted rule");
    let promoted = TrafficSplit::all_stable().forward_targets(&green_group, &blue_group);
    ecs_canary_e2e::example::set_rule_by_hand(&clients, &rule, &promoted)
        .await
        .expect("modify rule");
    clients
        .ecs
        .tag_stable(CLUSTER, SERVICE, Colour::Green)
        .await
        .expect("tag");
    let before = live_state(&clients, stack).await.expect("read the stack");
    assert_eq!(before.tag.as_deref(), Some("Green"));
    assert_eq!(before.split_towards(Colour::Green), (100, 0));

    // Deploy 1.0.2: Blue is the candidate now; Green keeps its id and revision.
    assert_eq!(
        deploy(&clients, stack, &before, "1.0.2").await,
        UpdateOutcome::Started
    );
    let after = live_state(&clients, stack).await.expect("read the stack");
    assert_eq!(after.green.id, before.green.id);
    assert_eq!(after.green.task_definition, before.green.task_definition);
    assert_eq!(
        app_version_of(&emulator, &after.green.task_definition).await,
        "1.0.1"
    );
    assert_ne!(after.blue.id, before.blue.id);
    assert!(after
        .blue
        .task_definition
        .ends_with("task-definition/mytask:3"));
    assert_eq!(
        app_version_of(&emulator, &after.blue.task_definition).await,
        "1.0.2"
    );
    // The live split was rendered as it was: Green 100, Blue 0; the tag stays Green.
    assert_eq!(after.split_towards(Colour::Green), (100, 0));
    assert_eq!(after.tag.as_deref(), Some("Green"));
    // The tester rule is rendered on Green, the stable colour.
    assert_eq!(after.tester_targets.len(), 1);
    assert_eq!(after.tester_targets[0].target_group_arn, green_group);
}

#[tokio::test]
async fn adapters_name_missing_resources() {
    let emulator = Emulator::start().await;
    let clients = emulator.clients().await;
    use ecs_canary_core::ErrorName;

    let err = clients.stacks.describe("no-such-stack").await.unwrap_err();
    assert_eq!(err.error_type(), "StackNotFound", "{err}");
    let err = clients.stacks.template("no-such-stack").await.unwrap_err();
    assert_eq!(err.error_type(), "StackNotFound", "{err}");
    let err = clients
        .ecs
        .stable_stack_tag("no-such-cluster", SERVICE)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ClusterNotFound", "{err}");

    create_example_app(&clients)
        .await
        .expect("create the example stacks");
    let err = clients
        .ecs
        .stable_stack_tag(CLUSTER, "no-such-service")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ServiceNotFound", "{err}");
    let missing = clients
        .ecs
        .task_set(CLUSTER, SERVICE, "ecs-svc/0")
        .await
        .expect("describe");
    assert_eq!(missing, None);
    let err = clients
        .stacks
        .physical_id(ecs_canary_e2e::example::APP_STACK, "NoSuchResource")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "StackResourceNotFound", "{err}");

    // A template with a named IAM role needs CAPABILITY_NAMED_IAM (the
    // emulator, as CloudFormation, refuses it otherwise): the adapters
    // acknowledge what GetTemplateSummary says the template needs.
    let template = |topic: &str| {
        serde_json::json!({"Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": topic}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {
                "RoleName": "capabilities-check",
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}}
        }})
        .to_string()
    };
    clients
        .stacks
        .create("capabilities-check", &template("first"), &[])
        .await
        .expect("created with the capabilities it needs");
    let outcome = clients
        .stacks
        .update("capabilities-check", &template("second"), None, None)
        .await
        .expect("updated with the capabilities it needs");
    assert_eq!(outcome, UpdateOutcome::Started);
}
