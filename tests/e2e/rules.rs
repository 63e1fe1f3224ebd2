//! The listener rules through a real rollout: a weight change changes the
//! weights and nothing else, only marked tester rules move, a person's hand
//! on the rule wins, and an input that is not an object is refused by name.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_aws::AwsClients;
use ecs_canary_core::{Colour, TrafficSplit};
use ecs_canary_e2e::example::{
    app_lock_holder as lock_holder, app_state as state, create_example_app_from, example_template,
    set_rule_by_hand, APP_STACK,
};
use ecs_canary_e2e::flow::{example_flow, example_input, link_in, open, submit, Flow};
use ecs_canary_e2e::Emulator;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

async fn physical_id(clients: &AwsClients, logical_id: &str) -> String {
    clients
        .stacks
        .physical_id(APP_STACK, logical_id)
        .await
        .expect("a resource of the app stack")
}

async fn next_link(flow: &Flow) -> String {
    let (_, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("an approval email");
    link_in(&body)
}

async fn approve(link: &str) {
    assert_eq!(open(link).await.0, 200);
    let (status, page) = submit(link, "approve").await;
    assert_eq!(status, 200, "{page}");
}

/// The example application with the weighted rule authenticating first
/// (OIDC) and forwarding with stickiness, and one more rule: `/admin/*`
/// pinned to Blue, not marked as a tester rule.
async fn flow_with_authentication_and_an_admin_rule() -> (Emulator, AwsClients, Flow) {
    let emulator = Emulator::start_with_functions().await;
    let clients = emulator.clients().await;
    let mut template: Value =
        serde_json::from_str(&example_template("app.json")).expect("app.json");
    let resources = &mut template["Resources"];
    let forward = resources["MyListenerRule"]["Properties"]["Actions"][0].clone();
    let mut forward = forward;
    forward["Order"] = json!(2);
    forward["ForwardConfig"]["TargetGroupStickinessConfig"] =
        json!({"Enabled": true, "DurationSeconds": 600});
    resources["MyListenerRule"]["Properties"]["Actions"] = json!([
        {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {
            "Issuer": "https://idp.example.com",
            "AuthorizationEndpoint": "https://idp.example.com/authorize",
            "TokenEndpoint": "https://idp.example.com/token",
            "UserInfoEndpoint": "https://idp.example.com/userinfo",
            "ClientId": "ecs-canary-app",
            "ClientSecret": "s3cret"
        }},
        forward
    ]);
    resources["AdminListenerRule"] = json!({
        "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
        "Properties": {
            "Actions": [{"Type": "forward", "Order": 1, "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": {"Ref": "BlueTargetGroup"}, "Weight": 1}]}}],
            "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/*"]}}],
            "ListenerArn": {"Ref": "MyListener"},
            "Priority": 7
        }
    });
    create_example_app_from(&clients, &template.to_string())
        .await
        .expect("create the example stacks");
    let flow = Flow::create(&emulator).await;
    (emulator, clients, flow)
}

/// The weighted rule's actions as a person would check them: (type, order,
/// OIDC issuer, stickiness seconds).
async fn weighted_rule_shape(emulator: &Emulator, clients: &AwsClients) -> Vec<String> {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&emulator.sdk_config().await);
    let rules = elb
        .describe_rules()
        .rule_arns(physical_id(clients, "MyListenerRule").await)
        .send()
        .await
        .expect("describe the weighted rule");
    let rule = rules.rules().first().expect("the weighted rule");
    let mut shape: Vec<String> = rule
        .actions()
        .iter()
        .map(|a| {
            format!(
                "{} order={:?} issuer={:?} stickiness={:?}",
                a.r#type().map(|t| t.as_str()).unwrap_or_default(),
                a.order(),
                a.authenticate_oidc_config().and_then(|c| c.issuer()),
                a.forward_config()
                    .and_then(|c| c.target_group_stickiness_config())
                    .map(|s| (s.enabled(), s.duration_seconds())),
            )
        })
        .collect();
    shape.extend(
        rule.conditions()
            .iter()
            .map(|c| format!("condition {:?}", c.field())),
    );
    shape
}

/// Where the tester rule and the unmarked `/admin/*` rule forward to.
async fn tester_and_admin(clients: &AwsClients) -> (String, String) {
    let only = |mut targets: Vec<String>| {
        assert_eq!(targets.len(), 1, "{targets:?}");
        targets.remove(0)
    };
    (
        only(targets_of(clients, "TesterListenerRule").await),
        only(targets_of(clients, "AdminListenerRule").await),
    )
}

async fn targets_of(clients: &AwsClients, logical_id: &str) -> Vec<String> {
    clients
        .rules
        .forward_targets(&physical_id(clients, logical_id).await)
        .await
        .expect("forward targets")
        .into_iter()
        .map(|t| t.target_group_arn)
        .collect()
}

#[tokio::test]
async fn weights_change_and_nothing_else_and_only_tester_rules_move() {
    let (emulator, clients, flow) = flow_with_authentication_and_an_admin_rule().await;
    let shape = weighted_rule_shape(&emulator, &clients).await;
    assert_eq!(
        shape,
        vec![
            "authenticate-oidc order=Some(1) issuer=Some(\"https://idp.example.com\") stickiness=None",
            "forward order=Some(2) issuer=None stickiness=Some((Some(true), Some(600)))",
            "condition Some(\"path-pattern\")",
        ]
    );
    let before = state(&clients).await;
    let (blue, green) = (
        before.blue.target_groups[0].clone(),
        before.green.target_groups[0].clone(),
    );
    assert_eq!(
        targets_of(&clients, "TesterListenerRule").await,
        vec![blue.clone()]
    );

    let execution = flow
        .start(
            "promote-1-0-1",
            &example_input("1.0.1", json!([10, 50]), 600),
        )
        .await;
    let link = next_link(&flow).await;
    // 10 %: only the weights changed; testers reach the candidate; the
    // unmarked /admin/* rule stays on Blue.
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (90, 10));
    assert_eq!(weighted_rule_shape(&emulator, &clients).await, shape);
    assert_eq!(
        tester_and_admin(&clients).await,
        (green.clone(), blue.clone())
    );
    approve(&link).await;
    let link = next_link(&flow).await;
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (50, 50));
    assert_eq!(weighted_rule_shape(&emulator, &clients).await, shape);
    approve(&link).await;
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error:?}");
    let promoted = state(&clients).await;
    assert_eq!(promoted.tag.as_deref(), Some("Green"));
    assert_eq!(promoted.split_towards(Colour::Green), (100, 0));
    assert_eq!(weighted_rule_shape(&emulator, &clients).await, shape);
    assert_eq!(
        tester_and_admin(&clients).await,
        (green.clone(), blue.clone())
    );

    // The next release is rejected: testers saw it during the rollout and
    // are back on the stable colour (Green) when it ends.
    let execution = flow
        .start(
            "reject-1-0-2",
            &example_input("1.0.2", json!([10, 50]), 600),
        )
        .await;
    let link = next_link(&flow).await;
    assert_eq!(
        targets_of(&clients, "TesterListenerRule").await,
        vec![blue.clone()]
    );
    assert_eq!(submit(&link, "reject").await.0, 200);
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("Rejected"));
    let end = state(&clients).await;
    assert_eq!(end.split_towards(Colour::Green), (100, 0));
    assert_eq!(weighted_rule_shape(&emulator, &clients).await, shape);
    assert_eq!(
        targets_of(&clients, "TesterListenerRule").await,
        vec![green]
    );
    assert_eq!(targets_of(&clients, "AdminListenerRule").await, vec![blue]);
    assert_eq!(lock_holder(&clients).await, None);
}

#[tokio::test]
async fn a_split_changed_by_hand_stops_the_deployment_and_is_left_alone() {
    let (emulator, clients, flow) = example_flow().await;
    let execution = flow
        .start("hand-1-0-1", &example_input("1.0.1", json!([10, 50]), 600))
        .await;
    let link = next_link(&flow).await;
    let waiting = state(&clients).await;
    assert_eq!(waiting.split_towards(Colour::Blue), (90, 10));
    let (blue, green) = (
        waiting.blue.target_groups[0].clone(),
        waiting.green.target_groups[0].clone(),
    );

    // On-call takes most of the traffic off the candidate by hand …
    let by_hand = TrafficSplit::new(97, 3)
        .expect("split")
        .forward_targets(&blue, &green);
    set_rule_by_hand(
        &clients,
        &physical_id(&clients, "MyListenerRule").await,
        &by_hand,
    )
    .await
    .expect("change the rule by hand");
    // … and then someone approves the step.
    approve(&link).await;

    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("SplitChangedByHand"));
    let end = state(&clients).await;
    assert_eq!(
        end.split_towards(Colour::Blue),
        (97, 3),
        "the person's split is kept"
    );
    assert_eq!(end.tag.as_deref(), Some("Blue"));
    assert_eq!(targets_of(&clients, "TesterListenerRule").await, vec![blue]);
    assert_eq!(lock_holder(&clients).await, None);

    // The approvers are told, by email and on Slack.
    let (subject, body) = flow.next_email(WAIT).await.expect("a notice email");
    assert!(subject.contains("changed by hand"), "{subject}");
    assert!(body.contains("stable 97 / candidate 3"), "{body}");
    assert!(body.contains("lock is released"), "{body}");
    let slack = serde_json::to_string(&emulator.slack().messages()).expect("json");
    assert!(slack.contains("changed by hand"), "{slack}");
}

#[tokio::test]
async fn an_input_that_is_not_an_object_is_invalid_input() {
    let (_emulator, clients, flow) = example_flow().await;
    let before = state(&clients).await;
    for (name, input) in [
        ("list", json!([1, 2, 3])),
        ("string", json!("deploy")),
        ("null", Value::Null),
        ("number", json!(42)),
    ] {
        let execution = flow.start(name, &input).await;
        let (status, error) = flow.finished(&execution, WAIT).await;
        assert_eq!(status, ExecutionStatus::Failed, "{name}");
        assert_eq!(error.as_deref(), Some("InvalidInput"), "{name}");
    }
    assert_eq!(state(&clients).await, before);
    assert_eq!(lock_holder(&clients).await, None);
}

#[tokio::test]
async fn a_deployment_whose_lock_was_released_by_hand_stops_and_leaves_the_rule() {
    let (emulator, clients, flow) = example_flow().await;
    let execution = flow
        .start(
            "unlocked-1-0-1",
            &example_input("1.0.1", json!([10, 50]), 600),
        )
        .await;
    let link = next_link(&flow).await;
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (90, 10));
    // On-call releases the lock as the README says (the item is deleted).
    aws_sdk_dynamodb::Client::new(&emulator.sdk_config().await)
        .delete_item()
        .table_name(ecs_canary_e2e::LOCK_TABLE)
        .key(
            "lockKey",
            aws_sdk_dynamodb::types::AttributeValue::S("mattctest/myservice".into()),
        )
        .send()
        .await
        .expect("release the lock by hand");
    approve(&link).await;

    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("LockLost"));
    assert_eq!(
        state(&clients).await.split_towards(Colour::Blue),
        (90, 10),
        "the rule is left to whoever holds the service now"
    );
    assert_eq!(lock_holder(&clients).await, None);
    let (subject, body) = flow
        .next_email_where(WAIT, |s| s.contains("deployment stopped"))
        .await
        .expect("a notice email");
    assert!(subject.contains("lock"), "{subject}");
    assert!(body.contains("in charge"), "{body}");
}
