//! The five deployment functions as real Lambda binaries, invoked through the
//! Lambda Invoke API of the emulator (routed to `cargo lambda watch`).

use ecs_canary_aws::AwsClients;
use ecs_canary_core::Colour;
use ecs_canary_e2e::example::{
    app_lock_holder as lock_holder, app_state as state, create_example_app, APP_STACK, CLUSTER,
    SERVICE,
};
use ecs_canary_e2e::{Emulator, FunctionFailure};
use serde_json::{json, Value};

fn input(version: &str) -> Value {
    json!({
        "cluster": CLUSTER,
        "service": SERVICE,
        "stack": APP_STACK,
        "environment": {"APPVERSION": version},
        "steps": [10, 50]
    })
}

async fn resolve(emulator: &Emulator, input: Value, owner: &str) -> Result<Value, FunctionFailure> {
    emulator
        .invoke("resolve-stable", &json!({"input": input, "owner": owner}))
        .await
}

/// render-and-deploy, then its status mode until the candidate is ready.
async fn deploy(emulator: &Emulator, deployment: &Value) -> Value {
    let mut rendered = emulator
        .invoke(
            "render-and-deploy",
            &json!({"deployment": deployment, "action": "deploy"}),
        )
        .await
        .expect("render-and-deploy");
    for _ in 0..50 {
        if rendered["rollout"]["ready"] == json!(true) {
            return rendered;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        rendered = emulator
            .invoke(
                "render-and-deploy",
                &json!({"deployment": deployment, "action": "status"}),
            )
            .await
            .expect("render-and-deploy status");
    }
    panic!("the candidate never became ready: {rendered}");
}

async fn set_step(
    emulator: &Emulator,
    deployment: &Value,
    step: usize,
) -> Result<Value, FunctionFailure> {
    emulator
        .invoke(
            "set-weights",
            &json!({"deployment": deployment, "step": step}),
        )
        .await
}

async fn promote(emulator: &Emulator, deployment: &Value) -> Value {
    emulator
        .invoke("promote", &json!({"deployment": deployment}))
        .await
        .expect("promote")
}

async fn rollback(emulator: &Emulator, deployment: &Value, why: &str) -> Value {
    emulator
        .invoke(
            "rollback",
            &json!({"deployment": deployment, "reason": {"Error": why, "Cause": "test"}}),
        )
        .await
        .expect("rollback")
}

async fn started() -> (Emulator, AwsClients) {
    let emulator = Emulator::start_with_functions().await;
    let clients = emulator.clients().await;
    create_example_app(&clients)
        .await
        .expect("create the example stacks");
    (emulator, clients)
}

#[tokio::test]
async fn the_articles_whole_cycle() {
    let (emulator, clients) = started().await;
    let created = state(&clients).await;
    assert_eq!(created.tag.as_deref(), Some("Blue"));

    // Deploy 1.0.1: Green is the candidate.
    let deployment = resolve(&emulator, input("1.0.1"), "exec-1")
        .await
        .expect("resolve-stable");
    assert_eq!(
        (
            deployment["stable"].as_str(),
            deployment["candidate"].as_str()
        ),
        (Some("Blue"), Some("Green"))
    );
    assert_eq!(deployment["stableTaskSet"]["id"], json!(created.blue.id));
    assert_eq!(deployment["split"], json!({"stable": 100, "candidate": 0}));
    assert_eq!(lock_holder(&clients).await.as_deref(), Some("exec-1"));

    let deployment = deploy(&emulator, &deployment).await;
    let rendered = state(&clients).await;
    assert_eq!(rendered.blue.id, created.blue.id);
    assert_ne!(rendered.green.id, created.green.id);
    assert_eq!(
        deployment["candidateTaskSet"]["id"],
        json!(rendered.green.id)
    );
    assert_eq!(rendered.split_towards(Colour::Blue), (100, 0));

    // 10 %, then 50 %: each read back from the rule.
    let deployment = set_step(&emulator, &deployment, 0).await.expect("step 0");
    assert_eq!(deployment["split"], json!({"stable": 90, "candidate": 10}));
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (90, 10));
    let deployment = set_step(&emulator, &deployment, 1).await.expect("step 1");
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (50, 50));

    // Promote: all to Green, tag Green, lock released.
    let promoted = promote(&emulator, &deployment).await;
    assert_eq!(promoted["outcome"], "Promoted");
    let after_promotion = state(&clients).await;
    assert_eq!(after_promotion.tag.as_deref(), Some("Green"));
    assert_eq!(after_promotion.split_towards(Colour::Green), (100, 0));
    assert_eq!(lock_holder(&clients).await, None);

    // Deploy 1.0.2: Blue is the candidate; Green keeps its id.
    let deployment = resolve(&emulator, input("1.0.2"), "exec-2")
        .await
        .expect("resolve-stable");
    assert_eq!(
        (
            deployment["stable"].as_str(),
            deployment["candidate"].as_str()
        ),
        (Some("Green"), Some("Blue"))
    );
    let deployment = deploy(&emulator, &deployment).await;
    let second = state(&clients).await;
    assert_eq!(second.green.id, after_promotion.green.id);
    assert_eq!(
        second.green.task_definition,
        after_promotion.green.task_definition
    );
    assert_ne!(second.blue.id, after_promotion.blue.id);
    assert_eq!(second.split_towards(Colour::Green), (100, 0));

    let deployment = set_step(&emulator, &deployment, 0).await.expect("step 0");
    assert_eq!(state(&clients).await.split_towards(Colour::Green), (90, 10));

    // Whoever may invoke the rollback cannot point it elsewhere: a payload
    // naming another rule, or the colours' target groups swapped (100 % to
    // the candidate), is refused and nothing changes.
    let waiting = state(&clients).await;
    let mut other_rule = deployment.clone();
    other_rule["weightedRule"] = deployment["testerRules"][0].clone();
    let mut swapped = deployment.clone();
    swapped["stableTargetGroup"] = deployment["candidateTargetGroup"].clone();
    swapped["candidateTargetGroup"] = deployment["stableTargetGroup"].clone();
    for crafted in [other_rule, swapped] {
        for stable_first in [false, true] {
            let refused = emulator
                .invoke(
                    "rollback",
                    &json!({"deployment": crafted, "stableFirst": stable_first,
                        "reason": {"Error": "SplitChangedByHand", "Cause": "crafted"}}),
                )
                .await
                .expect_err("a crafted payload is refused");
            assert_eq!(refused.error_type, "RoutesMismatch", "{}", refused.message);
            assert_eq!(state(&clients).await, waiting, "nothing changed");
            assert_eq!(lock_holder(&clients).await.as_deref(), Some("exec-2"));
        }
    }

    // Roll back: Green 100 % again, tag still Green, lock released, reason kept.
    let rolled_back = rollback(&emulator, &deployment, "Rejected").await;
    assert_eq!(rolled_back["outcome"], "RolledBack");
    assert_eq!(rolled_back["reason"]["Error"], "Rejected");
    let end = state(&clients).await;
    assert_eq!(end.split_towards(Colour::Green), (100, 0));
    assert_eq!(end.tag.as_deref(), Some("Green"));
    assert_eq!(end.green.id, after_promotion.green.id);
    assert_eq!(lock_holder(&clients).await, None);

    // At rest nobody holds the service: a crafted payload (the colours'
    // target groups swapped, a hand-changed split claimed) moves no rule.
    let mut swapped = deployment.clone();
    swapped["stableTargetGroup"] = deployment["candidateTargetGroup"].clone();
    swapped["candidateTargetGroup"] = deployment["stableTargetGroup"].clone();
    for reason in ["SplitChangedByHand", "Rejected"] {
        let _ = emulator
            .invoke(
                "rollback",
                &json!({"deployment": swapped, "reason": {"Error": reason, "Cause": "crafted"}}),
            )
            .await;
        assert_eq!(state(&clients).await, end, "nothing moved ({reason})");
    }
}

#[tokio::test]
async fn drift_is_refused_and_nothing_changes() {
    let (emulator, clients) = started().await;
    let created = state(&clients).await;
    // Someone moved traffic by hand: 70/30.
    let rule = clients
        .stacks
        .physical_id(APP_STACK, "MyListenerRule")
        .await
        .expect("rule");
    let blue = created.blue.target_groups[0].clone();
    let green = created.green.target_groups[0].clone();
    let by_hand = ecs_canary_core::TrafficSplit::new(70, 30)
        .expect("split")
        .forward_targets(&blue, &green);
    ecs_canary_e2e::example::set_rule_by_hand(&clients, &rule, &by_hand)
        .await
        .expect("modify rule");
    let before = state(&clients).await;
    assert_eq!(before.split_towards(Colour::Blue), (70, 30));

    let failure = resolve(&emulator, input("1.0.1"), "exec-1")
        .await
        .unwrap_err();
    assert_eq!(failure.error_type, "DriftDetected", "{}", failure.message);
    assert!(failure.message.contains("70"), "{}", failure.message);
    // Template, tag, task sets and weights are as they were; no lock is left.
    assert_eq!(state(&clients).await, before);
    assert_eq!(lock_holder(&clients).await, None);
}

#[tokio::test]
async fn one_deployment_per_service_at_a_time() {
    let (emulator, clients) = started().await;
    let first = resolve(&emulator, input("1.0.1"), "exec-A")
        .await
        .expect("A takes the lock");
    let failure = resolve(&emulator, input("1.0.1"), "exec-B")
        .await
        .unwrap_err();
    assert_eq!(
        failure.error_type, "DeploymentInProgress",
        "{}",
        failure.message
    );
    assert!(failure.message.contains("exec-A"), "{}", failure.message);
    // The same owner again (a retry) is fine.
    resolve(&emulator, input("1.0.1"), "exec-A")
        .await
        .expect("A again");
    assert_eq!(lock_holder(&clients).await.as_deref(), Some("exec-A"));

    // Even after A moved traffic, B is told a deployment is in progress (not drift).
    let first = deploy(&emulator, &first).await;
    let first = set_step(&emulator, &first, 0).await.expect("step 0");
    let failure = resolve(&emulator, input("1.0.1"), "exec-B")
        .await
        .unwrap_err();
    assert_eq!(failure.error_type, "DeploymentInProgress");

    rollback(&emulator, &first, "Rejected").await;
    assert_eq!(lock_holder(&clients).await, None);
    let second = resolve(&emulator, input("1.0.2"), "exec-B")
        .await
        .expect("B proceeds after the rollback");
    deploy(&emulator, &second).await;
    promote(
        &emulator,
        &set_step(&emulator, &second, 0).await.expect("step"),
    )
    .await;
    resolve(&emulator, input("1.0.3"), "exec-C")
        .await
        .expect("C proceeds after the promotion");
}

#[tokio::test]
async fn invalid_input_gets_its_named_error_and_changes_nothing() {
    let (emulator, clients) = started().await;
    // A stack whose template has no task sets.
    clients
        .stacks
        .create(
            "no-task-sets",
            r#"{"Resources": {"OnlyTask": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"Family": "lonely", "ContainerDefinitions": [{"Name": "app", "Image": "nginx", "Memory": 128}]}}}}"#,
            &[],
        )
        .await
        .expect("create the stack without task sets");
    let before = state(&clients).await;

    let with = |field: &str, value: Value| {
        let mut input = input("1.0.1");
        input[field] = value;
        input
    };
    let without = |field: &str| {
        let mut input = input("1.0.1");
        input.as_object_mut().expect("object").remove(field);
        input
    };
    let cases = [
        (json!("not an object"), "InvalidInput"),
        (without("cluster"), "MissingField"),
        (without("service"), "MissingField"),
        (without("stack"), "MissingField"),
        (without("environment"), "NothingToDeploy"),
        (with("steps", json!([50, 10])), "InvalidSteps"),
        (with("steps", json!([0, 10])), "InvalidSteps"),
        (with("steps", json!([10, 100])), "InvalidSteps"),
        (with("steps", json!([])), "InvalidSteps"),
        (
            with("approvalTimeoutSeconds", json!(0)),
            "InvalidApprovalTimeout",
        ),
        // Two approvals of half a year each would outlast the execution.
        (
            with("approvalTimeoutSeconds", json!(15_768_000)),
            "InvalidApprovalTimeout",
        ),
        (
            with("environment", json!({"APPVERSION": 101})),
            "InvalidEnvironment",
        ),
        (with("imgae", json!("x")), "UnknownField"),
        (with("cluster", json!("no-such-cluster")), "ClusterNotFound"),
        (with("service", json!("no-such-service")), "ServiceNotFound"),
        (with("stack", json!("no-such-stack")), "StackNotFound"),
        (with("stack", json!("no-task-sets")), "TaskSetNotFound"),
        (
            with("container", json!("no-such-container")),
            "ContainerNotFound",
        ),
    ];
    for (input, expected) in cases {
        let failure = resolve(&emulator, input.clone(), "exec-1")
            .await
            .unwrap_err();
        assert_eq!(failure.error_type, expected, "{input}: {}", failure.message);
        assert!(!failure.message.is_empty());
    }
    let failure = emulator
        .invoke("resolve-stable", &json!({"input": input("1.0.1")}))
        .await
        .unwrap_err();
    assert_eq!(failure.error_type, "InvalidEvent");
    for function in ["render-and-deploy", "set-weights", "promote", "rollback"] {
        let failure = emulator
            .invoke(function, &json!({"deployment": {"nope": 1}}))
            .await
            .unwrap_err();
        assert_eq!(failure.error_type, "InvalidEvent", "{function}");
    }

    // Nothing changed, and no lock is left behind.
    assert_eq!(state(&clients).await, before);
    assert_eq!(lock_holder(&clients).await, None);

    // A step the plan does not have.
    let deployment = resolve(&emulator, input("1.0.1"), "exec-1")
        .await
        .expect("resolve");
    let failure = set_step(&emulator, &deployment, 2).await.unwrap_err();
    assert_eq!(failure.error_type, "InvalidStep", "{}", failure.message);
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (100, 0));
}

#[tokio::test]
async fn every_function_is_safe_to_repeat() {
    let (emulator, clients) = started().await;
    let once = resolve(&emulator, input("1.0.1"), "exec-1")
        .await
        .expect("resolve");
    let twice = resolve(&emulator, input("1.0.1"), "exec-1")
        .await
        .expect("resolve again");
    assert_eq!(once, twice);

    let rendered = deploy(&emulator, &once).await;
    let after_render = state(&clients).await;
    assert_eq!(
        deploy(&emulator, &once).await["candidateTaskSet"],
        rendered["candidateTaskSet"]
    );
    assert_eq!(state(&clients).await, after_render);

    let stepped = set_step(&emulator, &rendered, 0).await.expect("step");
    let after_step = state(&clients).await;
    // The same answer, but for when the step was applied: the time of the
    // call (a retry's is seconds later, nothing at the chart's minutes).
    let without_time = |mut d: Value| {
        assert_eq!(d["appliedAt"].as_array().map(Vec::len), Some(1), "{d}");
        d["appliedAt"] = Value::Null;
        d
    };
    assert_eq!(
        without_time(set_step(&emulator, &rendered, 0).await.expect("step again")),
        without_time(stepped.clone())
    );
    assert_eq!(state(&clients).await, after_step);

    let promoted = promote(&emulator, &stepped).await;
    let after_promotion = state(&clients).await;
    assert_eq!(promote(&emulator, &stepped).await, promoted);
    assert_eq!(state(&clients).await, after_promotion);
    assert_eq!(after_promotion.tag.as_deref(), Some("Green"));

    let next = deploy(
        &emulator,
        &resolve(&emulator, input("1.0.2"), "exec-2")
            .await
            .expect("resolve"),
    )
    .await;
    let next = set_step(&emulator, &next, 1).await.expect("step");
    let rolled_back = rollback(&emulator, &next, "Rejected").await;
    let after_rollback = state(&clients).await;
    assert_eq!(rollback(&emulator, &next, "Rejected").await, rolled_back);
    assert_eq!(state(&clients).await, after_rollback);
    assert_eq!(after_rollback.split_towards(Colour::Green), (100, 0));
    assert_eq!(lock_holder(&clients).await, None);
}
