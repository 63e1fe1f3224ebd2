//! The handlers against the in-memory fake of every port: the failure paths
//! (read-back mismatch, throttling, a hand on the rule, drift, lost and late
//! callbacks) in milliseconds. The emulator tests run the real flows; these
//! add the cases that are slow or awkward to produce there.

use std::sync::Arc;

use ecs_canary_aws::fake::{throttled, Callback, FakeAws};
use ecs_canary_aws::{ApprovalRecord, AwsError, StackState};
use ecs_canary_core::{
    ApprovalFacts, ApprovalId, ApprovalStatus, Colour, ContainerSpec, ErrorName, ForwardTarget,
    HistoryKind, Reconcile, TaskSet, TrafficSplit,
};
use ecs_canary_core::{Approver, Decision};
use ecs_canary_handlers::function_url::{UrlRequest, UrlResponse};
use ecs_canary_handlers::operator;
use ecs_canary_handlers::{
    alarm_abort, approval_api, ecr_trigger, promote, reconcile, render_and_deploy,
    request_approval, resolve_stable, rollback, set_weights, Context, FunctionError, Ports,
    Settings,
};
use serde_json::{json, Value};

const RULE: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/weighted";
const TESTER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/tester";
const BLUE: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/73e2d6bc24d8a067";
const GREEN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/83e2d6bc24d8a068";
const NOW: u64 = 1_800_000_000;
const ROLLBACK: &str = "arn:function/rollback";
const LINK_SECRET: &str = "test-link-secret";

fn context(fake: &FakeAws) -> Arc<Context> {
    let ports = Ports::every(fake.clone());
    let settings = Settings {
        approval_url: "https://approve.example".into(),
        rollback_function: Some(ROLLBACK.into()),
        link_secret: Some(LINK_SECRET.into()),
        ..Settings::default()
    };
    Arc::new(Context::with_ports(ports, settings).with_clock(|| NOW))
}

/// resolve-stable as the state machine invokes it for execution `run-1`,
/// with the settings changed by `change`.
async fn resolve_under(
    fake: &FakeAws,
    change: impl FnOnce(&mut Settings),
    input: Value,
) -> Result<ecs_canary_core::Deployment, FunctionError> {
    resolve_stable(
        context_with(fake, change),
        json!({"input": input, "owner": "run-1"}),
    )
    .await
}

/// The context of `fake` with its settings changed by `change`.
fn context_with(fake: &FakeAws, change: impl FnOnce(&mut Settings)) -> Arc<Context> {
    let mut settings = context(fake).settings.clone();
    change(&mut settings);
    Arc::new(Context::with_ports(context(fake).ports.clone(), settings).with_clock(|| NOW))
}

fn split(stable: i64, candidate: i64) -> Vec<ForwardTarget> {
    TrafficSplit::new(stable, candidate)
        .expect("a split")
        .forward_targets(BLUE, GREEN)
        .to_vec()
}

fn only(target_group: &str) -> Vec<ForwardTarget> {
    vec![ForwardTarget {
        target_group_arn: target_group.into(),
        weight: 1,
    }]
}

fn task_set(id: &str, colour: Colour, task_definition: &str) -> TaskSet {
    TaskSet {
        id: id.into(),
        arn: format!("arn:task-set/{id}"),
        external_id: Some(format!("{colour}Stack")),
        task_definition: task_definition.into(),
        status: "ACTIVE".into(),
        stability_status: "STEADY_STATE".into(),
        target_groups: vec![if colour == Colour::Blue { BLUE } else { GREEN }.into()],
        scale_percent: Some(100.0),
    }
}

/// A deployment as resolve-stable hands it on: Blue stable, Green candidate,
/// steps 10 and 50, the lock held by `run-1`.
fn deployment(fake: &FakeAws) -> Value {
    // The stack the lock names: a rollback checks the routes against it.
    arrange_example(fake, (100, 0));
    let mut state = fake.state();
    state.rules.insert(RULE.into(), split(100, 0));
    state.rules.insert(TESTER.into(), only(GREEN));
    state
        .locks
        .insert("c/s".into(), ("run-1".into(), NOW + 3_600));
    json!({
        "request": {"cluster": "c", "service": "s", "stack": "st",
                    "environment": {"APPVERSION": "1.0.1"}, "steps": [10, 50],
                    "approvalTimeoutSeconds": 600},
        "owner": "run-1",
        "stable": "Blue", "candidate": "Green",
        "stableTaskSet": task_set("ts-blue", Colour::Blue, "arn:td/app:1"),
        "candidateTaskSet": task_set("ts-green", Colour::Green, "arn:td/app:2"),
        "stableTargetGroup": BLUE, "candidateTargetGroup": GREEN,
        "weightedRule": RULE, "testerRules": [TESTER],
        "split": {"stable": 100, "candidate": 0}
    })
}

fn weights(fake: &FakeAws) -> Vec<ForwardTarget> {
    fake.state().rules.get(RULE).cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_step_sets_the_weights_and_reads_them_back() {
    let fake = FakeAws::new();
    let d = deployment(&fake);
    let out = set_weights(context(&fake), json!({"deployment": d}))
        .await
        .expect("step 1");
    assert_eq!(weights(&fake), split(90, 10));
    assert_eq!((out.deployment.step, out.last_step), (Some(0), false));
    let next = serde_json::to_value(&out).expect("json");
    let out = set_weights(context(&fake), json!({"deployment": next}))
        .await
        .expect("step 2");
    assert_eq!(weights(&fake), split(50, 50));
    assert!(out.last_step);
}

#[tokio::test]
async fn a_stale_read_back_fails_and_the_retry_recognises_its_own_split() {
    let fake = FakeAws::new();
    let d = deployment(&fake);
    fake.state().stale_rule_reads = 1;
    let error = set_weights(context(&fake), json!({"deployment": d}))
        .await
        .expect_err("the read-back is stale");
    assert_eq!(error.error_type(), "WeightNotApplied");
    // Step Functions retries with the same input: the rule now holds the
    // split this very step set, which is no hand change.
    let out = set_weights(context(&fake), json!({"deployment": d}))
        .await
        .expect("the retry");
    assert_eq!(
        out.deployment.split,
        TrafficSplit::new(90, 10).expect("split")
    );
    assert_eq!(weights(&fake), split(90, 10));
}

#[tokio::test]
async fn a_throttled_modify_rule_is_throttled_and_changes_nothing() {
    let fake = FakeAws::new();
    let d = deployment(&fake);
    fake.fail_next("ModifyRule", throttled("elasticloadbalancing:ModifyRule"));
    let error = set_weights(context(&fake), json!({"deployment": d}))
        .await
        .expect_err("throttled");
    assert_eq!(error.error_type(), "Throttled");
    assert_eq!(weights(&fake), split(100, 0));
}

#[tokio::test]
async fn a_split_changed_by_hand_is_left_alone_and_the_rollback_releases_the_lock() {
    let fake = FakeAws::new();
    let d = deployment(&fake);
    fake.state().rules.insert(RULE.into(), split(97, 3));
    let error = set_weights(context(&fake), json!({"deployment": d}))
        .await
        .expect_err("a hand on the rule");
    assert!(
        matches!(error, FunctionError::SplitChangedByHand { .. }),
        "{error}"
    );
    assert_eq!(weights(&fake), split(97, 3));

    let reason = json!({"Error": "SplitChangedByHand", "Cause": error.to_string()});
    let out = rollback(context(&fake), json!({"deployment": d, "reason": reason}))
        .await
        .expect("rollback");
    assert!(out.rule_left_as_is);
    assert_eq!(out.failure.error, "SplitChangedByHand");
    assert_eq!(weights(&fake), split(97, 3), "the person's split is kept");
    assert_eq!(fake.state().rules.get(TESTER), Some(&only(BLUE)));
    assert!(fake.state().locks.is_empty());
}

#[tokio::test]
async fn a_deployment_that_lost_its_lock_moves_no_traffic() {
    let fake = FakeAws::new();
    let d = deployment(&fake);
    // Someone released the lock by hand; another deployment took it.
    fake.state()
        .locks
        .insert("c/s".into(), ("run-2".into(), NOW + 3_600));
    let error = set_weights(context(&fake), json!({"deployment": d}))
        .await
        .expect_err("the lock is gone");
    assert_eq!(error.error_type(), "LockLost");
    assert_eq!(weights(&fake), split(100, 0));
    let reason = json!({"Error": "LockLost", "Cause": error.to_string()});
    let out = rollback(context(&fake), json!({"deployment": d, "reason": reason}))
        .await
        .expect("rollback");
    assert!(out.rule_left_as_is);
    assert_eq!(
        fake.state().rules.get(TESTER),
        Some(&only(GREEN)),
        "left to run-2"
    );
    assert_eq!(
        fake.state().locks.get("c/s").map(|(h, _)| h.as_str()),
        Some("run-2")
    );
}

#[tokio::test]
async fn a_promote_repeated_after_it_released_the_lock_is_no_lock_loss() {
    let fake = FakeAws::new();
    let d = deployment(&fake);
    let first = promote(context(&fake), json!({"deployment": d}))
        .await
        .expect("promote");
    assert!(fake.state().locks.is_empty());
    // Step Functions retries it (the answer was lost): same outcome, no LockLost.
    let again = promote(context(&fake), json!({"deployment": d}))
        .await
        .expect("the repeated promote");
    assert_eq!(again, first);
    assert_eq!(weights(&fake), split(0, 100));
    assert_eq!(fake.state().tag.as_deref(), Some("Green"));
}

#[tokio::test]
async fn a_rollback_restores_stable_and_points_testers_back() {
    let fake = FakeAws::new();
    let mut d = deployment(&fake);
    fake.state().rules.insert(RULE.into(), split(50, 50));
    d["split"] = json!({"stable": 50, "candidate": 50});
    let reason = json!({"Error": "Rejected", "Cause": "rejected by email link"});
    let out = rollback(context(&fake), json!({"deployment": d, "reason": reason}))
        .await
        .expect("rollback");
    assert!(!out.rule_left_as_is);
    assert_eq!(weights(&fake), split(100, 0));
    assert_eq!(fake.state().rules.get(TESTER), Some(&only(BLUE)));
    assert!(fake.state().locks.is_empty());
}

#[tokio::test]
async fn a_rollback_for_an_execution_without_the_lock_moves_no_rule() {
    // Whoever may invoke the rollback, with a payload of their making for a
    // service at rest (no lock) or held by another execution: nothing moves,
    // whatever rules and target groups it names.
    for holder in [None, Some("run-other")] {
        let fake = FakeAws::new();
        let mut d = deployment(&fake);
        {
            let mut state = fake.state();
            state.locks.clear();
            if let Some(holder) = holder {
                state
                    .locks
                    .insert("c/s".into(), (holder.into(), NOW + 3_600));
            }
        }
        // The tester rule forwards to Green; the payload says Green is stable.
        d["stableTargetGroup"] = json!(GREEN);
        d["candidateTargetGroup"] = json!(BLUE);
        d["stable"] = json!("Green");
        d["candidate"] = json!("Blue");
        fake.state().rules.insert(TESTER.into(), only(BLUE));
        let before = fake.state().rules.clone();
        for reason in ["SplitChangedByHand", "Rejected"] {
            let _ = rollback(
                context(&fake),
                json!({"deployment": d, "reason": {"Error": reason, "Cause": "crafted"}}),
            )
            .await;
            assert_eq!(fake.state().rules, before, "{holder:?} {reason}");
        }
    }
}

// --- approvals ---------------------------------------------------------------

fn pending(fake: &FakeAws) -> ApprovalId {
    let id = ApprovalId::from_random([3; 16]);
    let facts = ApprovalFacts {
        cluster: "c".into(),
        service: "s".into(),
        release: "app: APPVERSION 1.0.0 → 1.0.1".into(),
        stable: Colour::Blue.to_string(),
        candidate: Colour::Green.to_string(),
        step: 1,
        steps: 2,
        split: TrafficSplit::new(90, 10).expect("split"),
        next_percent: Some(50),
        evidence: None,
        plan: vec![10, 50],
        started: None,
        holdable: true,
        back_at_zero: false,
        revert: false,
    };
    fake.state().approvals.insert(
        id.key().to_string(),
        ApprovalRecord {
            key: id.key(),
            task_token: "token-1".into(),
            execution: "run-1".into(),
            facts,
            expires_at: NOW + 600,
            status: ApprovalStatus::Pending,
            decided_by: None,
            decided_at: None,
            deployment: None,
            native: None,
        },
    );
    id
}

/// One request to approval-api as `context` runs it (a body is a form, as a
/// browser posts it).
async fn call_api(context: Arc<Context>, method: &str, path: &str, body: &str) -> UrlResponse {
    let mut request = UrlRequest::new(method, path).with_body(body);
    if !body.is_empty() {
        request = request.with_header("Content-Type", "application/x-www-form-urlencoded");
    }
    approval_api(context, request).await
}

/// An answer's body as text.
fn text_of(response: &UrlResponse) -> String {
    response.body().to_string()
}

/// Posts `decision` on a link's page, as `context` runs approval-api.
async fn post_with(context: Arc<Context>, id: &ApprovalId, decision: &str) -> (u16, String) {
    let path = format!("/approvals/{id}");
    let response = call_api(context, "POST", &path, &format!("decision={decision}")).await;
    (response.status(), text_of(&response))
}

async fn post(fake: &FakeAws, id: &ApprovalId, decision: &str) -> (u16, String) {
    post_with(context(fake), id, decision).await
}

fn status_of(fake: &FakeAws, id: &ApprovalId) -> ApprovalStatus {
    fake.state().approvals[id.key().as_str()].status
}

#[tokio::test]
async fn approve_and_reject_reach_step_functions_once() {
    let fake = FakeAws::new();
    let id = pending(&fake);
    let (status, page) = post(&fake, &id, "approve").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(status_of(&fake, &id), ApprovalStatus::Approved);
    assert!(
        matches!(&fake.state().callbacks[..], [Callback::Succeeded { task_token, .. }] if task_token == "token-1")
    );
    // A second click changes nothing.
    let (status, page) = post(&fake, &id, "reject").await;
    assert_eq!(status, 409, "{page}");
    assert_eq!(fake.state().callbacks.len(), 1);

    let fake = FakeAws::new();
    let id = pending(&fake);
    assert_eq!(post(&fake, &id, "reject").await.0, 200);
    assert_eq!(status_of(&fake, &id), ApprovalStatus::Rejected);
    assert!(
        matches!(&fake.state().callbacks[..], [Callback::Failed { error, .. }] if error == "Rejected")
    );
}

#[tokio::test]
async fn a_decision_step_functions_does_not_take_is_not_lost() {
    let fake = FakeAws::new();
    let id = pending(&fake);
    fake.fail_next("SendTaskSuccess", throttled("states:SendTaskSuccess"));
    let (status, page) = post(&fake, &id, "approve").await;
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("not recorded"), "{page}");
    assert_eq!(status_of(&fake, &id), ApprovalStatus::Pending);
    assert!(fake.state().callbacks.is_empty());
    // The same link decides once AWS answers.
    assert_eq!(post(&fake, &id, "approve").await.0, 200);
    assert_eq!(status_of(&fake, &id), ApprovalStatus::Approved);
}

#[tokio::test]
async fn a_request_retried_after_its_record_was_lost_stores_it_then() {
    let fake = FakeAws::new();
    let mut d = deployment(&fake);
    d["step"] = json!(0);
    d["split"] = json!({"stable": 90, "candidate": 10});
    // The first attempt claims the step, then storing the record is throttled.
    fake.fail_next("PutItem", throttled("dynamodb:PutItem"));
    let event = |token: &str| json!({"taskToken": token, "execution": "run-1", "deployment": d});
    let error = request_approval(context(&fake), event("token-1"))
        .await
        .expect_err("throttled");
    assert_eq!(error.error_type(), "Throttled");
    assert!(fake.state().approvals.is_empty());
    // Step Functions retries with a new token: the record is stored now.
    request_approval(context(&fake), event("token-2"))
        .await
        .expect("the retry");
    let state = fake.state();
    let records: Vec<_> = state.approvals.values().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].task_token, "token-2");
    assert_eq!(records[0].status, ApprovalStatus::Pending);
}

#[tokio::test]
async fn a_callback_for_a_task_that_is_gone_expires_the_link() {
    let fake = FakeAws::new();
    let id = pending(&fake);
    fake.state().gone_tasks.push("token-1".into());
    let (status, page) = post(&fake, &id, "approve").await;
    assert_eq!(status, 410, "{page}");
    assert_eq!(status_of(&fake, &id), ApprovalStatus::Expired);
    assert_eq!(post(&fake, &id, "approve").await.0, 410);
}

// --- resolve-stable ----------------------------------------------------------

/// The example application (infra/examples/app.json) deployed: Blue stable
/// at `weights`, both task sets on `arn:td/app:1`, the tester rule on Blue.
fn arrange_example(fake: &FakeAws, weights: (i64, i64)) {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/examples/app.json"),
    )
    .expect("the example template");
    let mut state = fake.state();
    state.template = template;
    state.stack = Some(StackState {
        id: "st".into(),
        status: "CREATE_COMPLETE".into(),
        status_reason: None,
        outputs: [
            ("BlueTaskSet".to_string(), "ts-blue".to_string()),
            ("GreenTaskSet".to_string(), "ts-green".to_string()),
        ]
        .into(),
        parameters: vec![],
    });
    state.physical_ids = [
        ("MyListenerRule", RULE),
        ("TesterListenerRule", TESTER),
        ("BlueTargetGroup", BLUE),
        ("GreenTargetGroup", GREEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    state.task_sets.insert(
        "ts-blue".into(),
        task_set("ts-blue", Colour::Blue, "arn:td/app:1"),
    );
    state.task_sets.insert(
        "ts-green".into(),
        task_set("ts-green", Colour::Green, "arn:td/app:1"),
    );
    state.task_definitions.insert(
        "arn:td/app:1".into(),
        vec![ContainerSpec {
            name: "mycontainer".into(),
            image: "app:1".into(),
            environment: vec![("APPVERSION".into(), "1.0.0".into())],
        }],
    );
    state.rules.insert(RULE.into(), split(weights.0, weights.1));
    state.rules.insert(TESTER.into(), only(BLUE));
}

#[tokio::test]
async fn drift_is_refused_and_the_lock_is_given_back() {
    let fake = FakeAws::new();
    arrange_example(&fake, (70, 30));
    let input = json!({"cluster": "c", "service": "s", "stack": "st", "environment": {"APPVERSION": "1.0.1"}});
    let error = resolve_stable(context(&fake), json!({"input": input, "owner": "run-1"}))
        .await
        .expect_err("drift");
    assert_eq!(error.error_type(), "DriftDetected");
    assert!(
        fake.state().locks.is_empty(),
        "a refusal gives the lock back"
    );

    // Put right, the same deployment resolves and plans the release.
    fake.state().rules.insert(RULE.into(), split(100, 0));
    let deployment = resolve_stable(context(&fake), json!({"input": input, "owner": "run-1"}))
        .await
        .expect("resolves");
    assert_eq!(deployment.stable, Colour::Blue);
    assert_eq!(deployment.tester_rules, vec![TESTER.to_string()]);
    let release = deployment.release.expect("a planned release");
    assert_eq!(release.summary(), "mycontainer: APPVERSION 1.0.0 → 1.0.1");
    assert!(fake.state().locks.contains_key("c/s"));
}

#[tokio::test]
async fn an_input_policy_below_the_stacks_is_refused_before_anything_is_taken() {
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let floor = |settings: &mut Settings| {
        settings.approval_policy =
            Some(r#"{"channels": ["slack", "cli"], "separationOfDuties": true}"#.into());
    };
    for (own, field) in [
        (json!({"separationOfDuties": false}), "separationOfDuties"),
        (json!({"channels": ["email"]}), "channels"),
    ] {
        let input = json!({"cluster": "c", "service": "s", "stack": "st",
            "environment": {"APPVERSION": "1.0.1"}, "approvalPolicy": own});
        let error = resolve_under(&fake, floor, input)
            .await
            .expect_err("below the floor");
        assert_eq!(error.error_type(), "PolicyBelowFloor");
        assert!(error.to_string().contains(field), "{error}");
        assert!(fake.state().locks.is_empty(), "no lock taken");
        assert!(
            fake.state().history.is_empty(),
            "nothing recorded as started"
        );
    }
    // Separation of duties with nobody named as the initiator (a console
    // start): refused, nothing taken.
    let input = json!({"cluster": "c", "service": "s", "stack": "st",
        "environment": {"APPVERSION": "1.0.1"}, "approvalPolicy": {"channels": ["cli"]}});
    let error = resolve_under(&fake, floor, input.clone())
        .await
        .expect_err("nobody named");
    assert_eq!(error.error_type(), "InitiatorUnknown");
    assert!(fake.state().locks.is_empty(), "no lock taken");
    // An input may not name its initiator (anyone could name anyone).
    let mut forged = input.clone();
    forged["startedBy"] = json!("arn:aws:iam::123456789012:user/alice");
    let error = resolve_under(&fake, floor, forged)
        .await
        .expect_err("startedBy is not the input's");
    assert_eq!(error.error_type(), "InvalidField");
    assert!(error.to_string().contains("startedBy"), "{error}");
    assert!(fake.state().locks.is_empty(), "no lock taken");
    // Narrower than the floor, and requested through the operator endpoint
    // by someone: it starts, and that someone is its initiator.
    fake.state()
        .history
        .push(ecs_canary_core::HistoryEvent::requested(
            "c/s".into(),
            "run-1",
            NOW * 1000,
            "arn:aws:iam::123456789012:user/alice",
            "cli",
            &input,
        ));
    let deployment = resolve_under(&fake, floor, input)
        .await
        .expect("a narrower policy starts");
    assert_eq!(
        deployment.request.started_by.as_deref(),
        Some("arn:aws:iam::123456789012:user/alice")
    );
}

#[tokio::test]
async fn the_operator_endpoint_starts_as_its_caller_and_only_operators_act() {
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let ctx = context_with(&fake, |settings| {
        settings.state_machine_arn = Some(STATE_MACHINE.into());
        settings.approval_policy = Some(format!(r#"{{"operators": ["{ALICE}"]}}"#));
    });
    let input = json!({"cluster": "c", "service": "s", "stack": "st",
        "environment": {"APPVERSION": "1.0.1"}});
    // Someone the policy does not name: refused, nothing started or recorded.
    let refused = operator::start(&ctx, &input, Some("by-bob"), BOB)
        .await
        .expect_err("bob is no operator");
    assert!(
        refused.to_string().contains("not among the operators"),
        "{refused}"
    );
    let mut forged = input.clone();
    forged["startedBy"] = json!(BOB);
    let invalid = operator::start(&ctx, &forged, Some("forged"), ALICE)
        .await
        .expect_err("startedBy is not the input's");
    assert!(invalid.to_string().contains("startedBy"), "{invalid}");
    assert!(fake.state().started.is_empty());
    assert!(fake.state().history.is_empty());
    // An operator: recorded as who asked, then started.
    let started = operator::start(&ctx, &input, Some("by-alice"), ALICE)
        .await
        .expect("alice may start");
    let execution = "arn:aws:states:us-east-1:123456789012:execution:ecs-canary:by-alice";
    assert_eq!(started.execution, execution);
    assert_eq!(started.started_by, ALICE);
    assert_eq!(fake.state().started.len(), 1);
    let events = fake.state().history.clone();
    assert_eq!(
        ecs_canary_core::request_of(&events, execution, &input).and_then(|e| e.by.as_deref()),
        Some(ALICE)
    );
    // resolve-stable finds that initiator for that execution only.
    let deployment = resolve_stable(
        Arc::clone(&ctx),
        json!({"input": input, "owner": execution}),
    )
    .await
    .expect("resolves");
    assert_eq!(deployment.request.started_by.as_deref(), Some(ALICE));
    // Abort and unlock: operators only; nothing changes for anyone else.
    let abort = operator::abort(&ctx, "c/s", BOB)
        .await
        .expect_err("bob may not abort");
    assert!(
        abort.to_string().contains("NotAnOperator")
            || abort.to_string().contains("not among the operators"),
        "{abort}"
    );
    let unlock = operator::unlock(&ctx, "c/s", execution, BOB)
        .await
        .expect_err("bob may not unlock");
    assert!(
        unlock.to_string().contains("not among the operators"),
        "{unlock}"
    );
    assert!(
        fake.state().locks.contains_key("c/s"),
        "the lock is still held"
    );
    assert!(operator::unlock(&ctx, "c/s", execution, ALICE)
        .await
        .expect("alice may"));
    assert!(!fake.state().locks.contains_key("c/s"));
}

#[tokio::test]
async fn approve_before_start_asks_at_a_gate_of_its_own_before_any_step() {
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let gated = |settings: &mut Settings| {
        settings.approval_policy = Some(r#"{"approveBeforeStart": true}"#.into());
    };
    // An input may not waive the gate the stack asks for.
    let waived = json!({"cluster": "c", "service": "s", "stack": "st",
        "environment": {"APPVERSION": "1.0.1"}, "approvalPolicy": {"approveBeforeStart": false}});
    let error = resolve_under(&fake, gated, waived)
        .await
        .expect_err("below the floor");
    assert_eq!(error.error_type(), "PolicyBelowFloor");
    let input = json!({"cluster": "c", "service": "s", "stack": "st",
        "environment": {"APPVERSION": "1.0.1"}, "steps": [10, 50]});
    let deployment = resolve_under(&fake, gated, input).await.expect("resolves");
    assert!(deployment.gate_before_start);
    assert_eq!(deployment.step, None, "nothing applied yet");
    let value = serde_json::to_value(&deployment).expect("serialises");
    assert_eq!(
        value["gateBeforeStart"],
        json!(true),
        "the state machine's choice reads it"
    );
    request_approval(
        context(&fake),
        json!({"taskToken": "token-start", "execution": "run-1", "deployment": value}),
    )
    .await
    .expect("the gate asks");
    // Its link is the gate's own (index: after every step's), gate 0 to people.
    let link = ApprovalId::derive(LINK_SECRET.as_bytes(), "run-1", 2);
    let record = fake
        .state()
        .approvals
        .get(link.key().as_str())
        .cloned()
        .expect("the gate's request");
    assert_eq!(record.facts.step, 0);
    assert_eq!(record.facts.next_percent, Some(10));
    let subject = record.facts.email_subject();
    assert!(subject.contains("step 0/2 of s? (the start"), "{subject}");
    // The operator finds it waiting and approves it: Step Functions moves on.
    fake.state().guards.insert(
        "c/s".into(),
        ecs_canary_aws::LockGuard {
            alarms: Vec::new(),
            steps: 2,
            stack: Some("st".into()),
        },
    );
    let ctx = context(&fake);
    let outcome = operator::decide_waiting(&ctx, "c/s", Decision::Approve, &Approver::cli(BOB))
        .await
        .expect("decided");
    assert_eq!(outcome.status, 200, "{}", outcome.message);
    assert!(matches!(
        fake.state().callbacks.last(),
        Some(Callback::Succeeded { task_token, .. }) if task_token == "token-start"
    ));
}

#[tokio::test]
async fn the_operator_endpoint_acts_only_for_a_signed_caller() {
    let fake = FakeAws::new();
    let ctx = context(&fake);
    let post = |body: &str, caller: Option<&str>| {
        let mut event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/history", "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {"accountId": "anonymous", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
                "domainPrefix": "x", "requestId": "r-1", "routeKey": "$default", "stage": "$default",
                "time": "06/Dec/2026:12:00:00 +0000", "timeEpoch": 0,
                "http": {"method": "POST", "path": "/history", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"}},
            "body": body, "isBase64Encoded": false
        });
        if let Some(arn) = caller {
            event["requestContext"]["authorizer"] =
                json!({"iam": {"userArn": arn, "accountId": "123456789012"}});
        }
        let request = UrlRequest::from_event(event, "r-1").expect("a function URL event");
        ecs_canary_handlers::operator_api(Arc::clone(&ctx), request)
    };
    let status = |response: UrlResponse| (response.status(), response.body().to_string());
    // No signed caller (the URL is not AWS_IAM): nothing is read.
    let (code, body) = status(post(r#"{"service": "c/s"}"#, None).await);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("NoCallerIdentity"), "{body}");
    // A caller: the route runs (an unknown service: 404, named).
    let (code, body) = status(post(r#"{"service": "c/s"}"#, Some(ALICE)).await);
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("UnknownService"), "{body}");
    let (code, body) = status(post(r#"{"service": "s"}"#, Some(ALICE)).await);
    assert_eq!(code, 400, "{body}");
}

#[tokio::test]
async fn a_trigger_mappings_policy_holds_a_start_by_hand_too() {
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let mapped = |settings: &mut Settings| {
        settings.trigger_mappings = Some(
            r#"[{"repository": "app", "cluster": "c", "service": "s", "stack": "st",
                 "approvalPolicy": {"channels": ["slack"]}}]"#
                .into(),
        );
    };
    let input = json!({"cluster": "c", "service": "s", "stack": "st",
        "environment": {"APPVERSION": "1.0.1"}, "approvalPolicy": {"channels": ["email"]}});
    let error = resolve_under(&fake, mapped, input)
        .await
        .expect_err("wider than the mapping");
    assert_eq!(error.error_type(), "PolicyBelowFloor");
    assert!(fake.state().locks.is_empty(), "no lock taken");
    // Without a policy of its own it deploys under the mapping's.
    let input = json!({"cluster": "c", "service": "s", "stack": "st",
        "environment": {"APPVERSION": "1.0.1"}});
    let deployment = resolve_under(&fake, mapped, input).await.expect("starts");
    let held = deployment
        .request
        .approval_policy
        .expect("the mapping's policy");
    assert_eq!(held.channels, vec![ecs_canary_core::Channel::Slack]);
}

#[tokio::test]
async fn an_image_the_policy_does_not_allow_is_refused_before_anything_is_taken() {
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let floor = |settings: &mut Settings| {
        settings.approval_policy = Some(r#"{"allowedImages": ["registry.example/team/*"]}"#.into());
    };
    let start = |image: &str, own: Value| {
        let mut input = json!({"cluster": "c", "service": "s", "stack": "st", "image": image});
        if !own.is_null() {
            input["approvalPolicy"] = own;
        }
        resolve_under(&fake, floor, input)
    };
    for (image, own) in [
        ("docker.io/someone/app:1.0.1", Value::Null),
        // A tag that looks like an allowed repository is still a tag.
        ("evil/app:registry.example/team/app", Value::Null),
        // A deployment's own, narrower list holds too.
        (
            "registry.example/team/other:1",
            json!({"allowedImages": ["registry.example/team/app"]}),
        ),
    ] {
        let error = start(image, own).await.expect_err("not allowed");
        assert_eq!(error.error_type(), "ImageNotAllowed", "{image}");
        assert!(error.to_string().contains(image), "{error}");
        assert!(fake.state().locks.is_empty(), "no lock taken");
        assert!(fake.state().history.is_empty(), "nothing recorded");
    }
    let error = start("x/y:1", json!({"allowedImages": ["*"]}))
        .await
        .expect_err("wider than the floor");
    assert_eq!(error.error_type(), "PolicyBelowFloor");
    start("registry.example/team/app:1.0.1", Value::Null)
        .await
        .expect("an allowed image starts");
}

#[tokio::test]
async fn slack_carries_the_link_only_where_a_link_may_decide() {
    for (policy, link_in_slack) in [
        (json!({"channels": ["email", "slack"]}), true),
        (json!({"channels": ["slack"]}), false),
        (Value::Null, true),
    ] {
        let fake = FakeAws::new();
        let stepped = stepped_with(&fake, json!({"approvalPolicy": policy})).await;
        let context = context_with(&fake, |settings| {
            settings.slack_webhook_url = Some("https://hooks.slack.test/T/B/X".into());
        });
        request_approval(
            context,
            json!({"taskToken": "token-1", "execution": "run-1", "deployment": stepped}),
        )
        .await
        .expect("the approval is requested");
        let posts = fake.state().webhook_posts.clone();
        assert_eq!(posts.len(), 1, "{policy}");
        let message = posts[0].1.to_string();
        assert!(message.contains("\"approve\""), "{message}");
        assert_eq!(
            message.contains("https://approve.example/approvals/"),
            link_in_slack,
            "{policy}: {message}"
        );
    }
}

#[tokio::test]
async fn every_answer_of_the_approval_endpoint_is_sent_with_security_headers() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    let link = ask(&fake, stepped).await;
    let requests = [
        ("GET", format!("/approvals/{link}"), ""),
        ("GET", "/approvals/unknown".to_string(), ""),
        ("POST", format!("/approvals/{link}"), "decision=maybe"),
        ("GET", "/slack/interactions".to_string(), ""),
    ];
    for (method, path, body) in requests {
        let response = call_api(context(&fake), method, &path, body).await;
        let header = |name: &str| response.header(name).unwrap_or_default().to_string();
        assert_eq!(header("cache-control"), "no-store", "{method} {path}");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("referrer-policy"), "no-referrer");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
    }
}

#[tokio::test]
async fn a_failure_behind_the_page_shows_a_reference_not_the_aws_error() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    let link = ask(&fake, stepped).await;
    fake.fail_next("GetItem", AwsError::Service {
        operation: "dynamodb:GetItem",
        code: "AccessDeniedException".into(),
        message: "User: arn:aws:sts::123456789012:assumed-role/ecs-canary-approval-api/x is not authorized".into(),
    });
    let response = call_api(context(&fake), "GET", &format!("/approvals/{link}"), "").await;
    assert_eq!(response.status(), 503);
    let page = text_of(&response);
    assert!(page.contains("Reference:"), "{page}");
    assert!(
        !page.contains("123456789012") && !page.contains("AccessDenied"),
        "{page}"
    );
}

#[tokio::test]
async fn a_policy_below_the_floor_in_a_waiting_record_decides_nothing() {
    // Written into the record by hand (or started before the floor was
    // raised): every decision is refused, nothing moves.
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({"approvalPolicy": {"channels": ["email"]}})).await;
    let link = ask(&fake, stepped).await;
    let strict = context_with(&fake, |settings| {
        settings.approval_policy = Some(r#"{"channels": ["slack"]}"#.into());
    });
    let (status, _) = post_with(strict, &link, "approve").await;
    assert_eq!(status, 403);
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Pending);
    assert!(
        fake.state().callbacks.is_empty(),
        "nothing sent to Step Functions"
    );
    assert!(fake.state().invocations.is_empty(), "no traffic moved");
}

#[tokio::test]
async fn secret_values_reach_the_task_definition_and_nothing_else() {
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    fake.state()
        .task_definitions
        .get_mut("arn:td/app:1")
        .expect("the stable task definition")[0]
        .environment
        .push(("DB_PASSWORD".into(), "old-hunter2".into()));
    let input = json!({"cluster": "c", "service": "s", "stack": "st", "environment":
        {"APPVERSION": "1.0.1", "DB_PASSWORD": "new-hunter2", "api_token": "tok-123"}});
    let deployment = resolve_stable(context(&fake), json!({"input": input, "owner": "run-1"}))
        .await
        .expect("resolves");
    let carried = serde_json::to_string(&deployment).expect("json");
    for secret in ["old-hunter2", "new-hunter2", "tok-123"] {
        assert!(!carried.contains(secret), "{carried}");
    }
    let summary = deployment.release.as_ref().expect("a release").summary();
    assert!(
        summary.contains("DB_PASSWORD changed (value hidden)"),
        "{summary}"
    );
    assert!(summary.contains("APPVERSION 1.0.0 → 1.0.1"), "{summary}");

    // Without the execution's input the hidden values cannot be deployed:
    // refused, nothing registered.
    let error = render_and_deploy(
        context(&fake),
        json!({"deployment": deployment, "action": "deploy"}),
    )
    .await
    .expect_err("no input");
    assert_eq!(error.error_type(), "InvalidEvent");
    assert_eq!(fake.state().task_definitions.len(), 1, "nothing registered");
    // Nor with another service's input.
    let mut other = input.clone();
    other["service"] = json!("other");
    let error = render_and_deploy(
        context(&fake),
        json!({"deployment": deployment, "action": "deploy", "input": other}),
    )
    .await
    .expect_err("another service's input");
    assert_eq!(error.error_type(), "InvalidEvent");

    // With it, the task definition gets the real values; the output carries none.
    let deployed = render_and_deploy(
        context(&fake),
        json!({"deployment": deployment, "action": "deploy", "input": input}),
    )
    .await
    .expect("deploys");
    let output = serde_json::to_string(&deployed).expect("json");
    assert!(
        !output.contains("hunter2") && !output.contains("tok-123"),
        "{output}"
    );
    let state = fake.state();
    let registered = state
        .task_definitions
        .iter()
        .find(|(arn, _)| arn.as_str() != "arn:td/app:1")
        .map(|(_, containers)| containers[0].environment.clone())
        .expect("a registered candidate");
    for (name, value) in [
        ("APPVERSION", "1.0.1"),
        ("DB_PASSWORD", "new-hunter2"),
        ("api_token", "tok-123"),
    ] {
        assert!(
            registered.contains(&(name.to_string(), value.to_string())),
            "{registered:?}"
        );
    }
}

#[tokio::test]
async fn a_deploy_that_changes_nothing_on_a_rolled_back_stack_is_ready() {
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let input = json!({"cluster": "c", "service": "s", "stack": "st", "environment": {"APPVERSION": "1.0.1"}});
    let deployment = resolve_stable(context(&fake), json!({"input": input, "owner": "run-1"}))
        .await
        .expect("resolves");
    let deploy = json!({"deployment": deployment, "action": "deploy"});
    let first = render_and_deploy(context(&fake), deploy.clone())
        .await
        .expect("the first deploy");
    assert_eq!(first.deployment.stack_changed, Some(true));
    assert_eq!(fake.state().stack_updates.len(), 1);
    // CloudFormation moved the candidate task set to the registered revision …
    {
        let mut state = fake.state();
        let registered = state
            .task_definitions
            .keys()
            .find(|arn| arn.as_str() != "arn:td/app:1")
            .cloned()
            .expect("a registered candidate");
        if let Some(green) = state.task_sets.get_mut("ts-green") {
            green.task_definition = registered;
        }
        // … and a later, unrelated update of the stack failed and rolled back.
        if let Some(stack) = state.stack.as_mut() {
            stack.status = "UPDATE_ROLLBACK_COMPLETE".into();
        }
    }
    // A retried deploy has nothing to change: the stack is in place, not failed.
    let again = render_and_deploy(context(&fake), deploy)
        .await
        .expect("a no-op deploy on a rolled-back stack");
    assert_eq!(again.deployment.stack_changed, Some(false));
    assert!(again.rollout.ready, "{:?}", again.rollout);
    assert_eq!(
        fake.state().stack_updates.len(),
        1,
        "nothing re-registered or updated"
    );

    // An update of our own that rolled back is a failure.
    let status = json!({"deployment": first.deployment, "action": "status"});
    let error = render_and_deploy(context(&fake), status)
        .await
        .expect_err("our update rolled back");
    assert_eq!(error.error_type(), "StackUpdateFailed");
}

// --- reconciliation ------------------------------------------------------------

/// An execution's end as EventBridge delivers it.
fn ended(status: &str, d: &Value) -> Value {
    json!({
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": "run-1",
            "status": status,
            "input": d["request"].to_string(),
        }
    })
}

/// request-approval for `run-1`'s step as `stepped` left it; the link.
async fn ask(fake: &FakeAws, stepped: Value) -> ApprovalId {
    request_approval(
        context(fake),
        json!({"taskToken": "token-1", "execution": "run-1", "deployment": stepped}),
    )
    .await
    .expect("the approval is requested");
    // The link is derived from the secret, execution and step; the fake,
    // like the table, knows only its hash.
    let step = fake
        .state()
        .approvals
        .values()
        .find(|r| r.execution == "run-1" && r.status == ApprovalStatus::Pending)
        .map(|r| r.facts.step - 1)
        .expect("a pending request");
    let link = ApprovalId::derive(LINK_SECRET.as_bytes(), "run-1", step);
    assert!(fake.state().approvals.contains_key(link.key().as_str()));
    link
}

/// The example stack mid-rollout: step 1 applied (90/10, recorded on the
/// lock), the tester rule on the candidate, the step's link pending.
async fn mid_rollout(fake: &FakeAws) -> (Value, ApprovalId) {
    arrange_example(fake, (100, 0));
    fake.state().tag = Some("Blue".into());
    let d = deployment(fake);
    let stepped = set_weights(context(fake), json!({"deployment": d}))
        .await
        .expect("step 1");
    let stepped = serde_json::to_value(&stepped).expect("json");
    let id = ask(fake, stepped).await;
    assert_eq!(weights(fake), split(90, 10));
    (d, id)
}

/// Runs the rollback function on `deployment` for `error` (`Rejected`, …).
async fn roll_back(
    fake: &FakeAws,
    deployment: &Value,
    stable_first: bool,
    error: &str,
) -> Result<ecs_canary_handlers::RolledBack, FunctionError> {
    rollback(
        context(fake),
        json!({"deployment": deployment, "stableFirst": stable_first,
            "reason": {"Error": error, "Cause": "a test"}}),
    )
    .await
}

/// A rollout at its first step (90/10), as set-weights returned it.
async fn at_first_step(fake: &FakeAws) -> Value {
    let (mut d, _link) = mid_rollout(fake).await;
    d["split"] = json!({"stable": 90, "candidate": 10});
    d["step"] = json!(0);
    d
}

#[tokio::test]
async fn the_way_back_reads_the_lock_and_the_rule_once_before_it_writes() {
    let fake = FakeAws::new();
    let stepped = at_first_step(&fake).await;
    fake.state().calls.clear();
    let rolled = roll_back(&fake, &stepped, true, "Rejected")
        .await
        .expect("traffic back on stable");
    assert!(!rolled.rule_left_as_is);
    assert_eq!(weights(&fake), split(100, 0));
    let calls = fake.state().calls.clone();
    let before_write: Vec<_> = calls
        .iter()
        .take_while(|call| **call != "ModifyRule")
        .collect();
    assert_eq!(
        before_write.iter().filter(|c| **c == &"GetItem").count(),
        1,
        "one read of the lock: {calls:?}"
    );
    assert_eq!(
        before_write
            .iter()
            .filter(|c| **c == &"DescribeRules")
            .count(),
        1,
        "one read of the rule: {calls:?}"
    );
    assert!(calls.contains(&"ModifyRule"), "{calls:?}");
    assert!(
        fake.state().locks.contains_key("c/s"),
        "stable first keeps the lock"
    );
}

#[tokio::test]
async fn a_rollback_payload_naming_other_routes_is_refused_and_changes_nothing() {
    let fake = FakeAws::new();
    let (d, _link) = mid_rollout(&fake).await;
    fake.state()
        .rules
        .insert("arn:rule/other".into(), only(BLUE));
    let mut other_rule = d.clone();
    other_rule["weightedRule"] = json!("arn:rule/other");
    let mut swapped = d.clone();
    swapped["stableTargetGroup"] = json!(GREEN);
    swapped["candidateTargetGroup"] = json!(BLUE);
    let mut other_testers = d.clone();
    other_testers["testerRules"] = json!(["arn:rule/other"]);
    let before = fake.state().rules.clone();
    let recorded = fake.state().history.len();
    for crafted in [other_rule, swapped, other_testers] {
        for stable_first in [false, true] {
            let error = roll_back(&fake, &crafted, stable_first, "SplitChangedByHand")
                .await
                .expect_err("crafted routes are refused");
            assert_eq!(error.error_type(), "RoutesMismatch");
            assert_eq!(fake.state().rules, before, "no rule changed");
            assert!(fake.state().locks.contains_key("c/s"), "the lock is kept");
            assert!(fake.state().rolling_back.is_empty());
            assert_eq!(fake.state().history.len(), recorded, "nothing recorded");
        }
    }
    // The deployment's own payload still rolls back.
    let mut stepped = d.clone();
    stepped["split"] = json!({"stable": 90, "candidate": 10});
    stepped["step"] = json!(0);
    roll_back(&fake, &stepped, false, "Rejected")
        .await
        .expect("the real rollback");
    assert_eq!(weights(&fake), split(100, 0));
}

#[tokio::test]
async fn an_execution_stopped_mid_rollout_is_put_back_at_rest() {
    let fake = FakeAws::new();
    let (d, link) = mid_rollout(&fake).await;
    let out = reconcile(context(&fake), ended("ABORTED", &d))
        .await
        .expect("reconciled");
    assert_eq!(out.action, Reconcile::Restore);
    assert_eq!(weights(&fake), split(100, 0));
    assert_eq!(fake.state().rules.get(TESTER), Some(&only(BLUE)));
    assert!(fake.state().locks.is_empty(), "the lock is released");
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Expired);
    assert_eq!((out.lock_released, out.links_closed), (true, 1));
    // The event again (EventBridge delivers at least once): nothing more.
    let again = reconcile(context(&fake), ended("ABORTED", &d))
        .await
        .expect("again");
    assert_eq!(again.action, Reconcile::NotHeld);
}

#[tokio::test]
async fn a_rule_changed_by_hand_is_left_as_it_is_when_reconciling() {
    let fake = FakeAws::new();
    let (d, _) = mid_rollout(&fake).await;
    fake.state().rules.insert(RULE.into(), split(30, 70));
    let out = reconcile(context(&fake), ended("TIMED_OUT", &d))
        .await
        .expect("reconciled");
    assert_eq!(out.action, Reconcile::LeftByHand);
    assert_eq!(weights(&fake), split(30, 70));
    assert!(fake.state().locks.is_empty());
}

#[tokio::test]
async fn an_execution_that_released_its_service_is_not_touched() {
    let fake = FakeAws::new();
    let (d, link) = mid_rollout(&fake).await;
    // Someone else holds the service now (the lock was released by hand and taken).
    fake.state()
        .locks
        .insert("c/s".into(), ("run-2".into(), NOW + 3_600));
    let out = reconcile(context(&fake), ended("FAILED", &d))
        .await
        .expect("reconciled");
    assert_eq!(out.action, Reconcile::NotHeld);
    assert_eq!(
        weights(&fake),
        split(90, 10),
        "not this execution's to move"
    );
    assert_eq!(
        status_of(&fake, &link),
        ApprovalStatus::Expired,
        "its links are void"
    );
    // A status that is no ending changes nothing.
    let running = reconcile(context(&fake), ended("RUNNING", &d))
        .await
        .expect("running");
    assert_eq!(running.action, Reconcile::NotHeld);
}

#[tokio::test]
async fn a_reconciliation_that_cannot_move_the_rule_keeps_the_lock_for_its_retry() {
    let fake = FakeAws::new();
    let (d, _) = mid_rollout(&fake).await;
    fake.fail_next(
        "ModifyRule",
        AwsError::Service {
            operation: "elasticloadbalancing:ModifyRule",
            code: "AccessDenied".into(),
            message: "not allowed".into(),
        },
    );
    let error = reconcile(context(&fake), ended("ABORTED", &d))
        .await
        .expect_err("ModifyRule is refused");
    assert_eq!(error.error_type(), "AwsServiceError");
    assert_eq!(weights(&fake), split(90, 10));
    assert!(
        !fake.state().locks.is_empty(),
        "held until the service is at rest"
    );
    // Lambda retries the asynchronous invocation.
    reconcile(context(&fake), ended("ABORTED", &d))
        .await
        .expect("the retry");
    assert_eq!(weights(&fake), split(100, 0));
    assert!(fake.state().locks.is_empty());
}

#[tokio::test]
async fn a_rollback_that_gave_up_is_reconciled_from_the_state_machine() {
    let fake = FakeAws::new();
    let (d, _) = mid_rollout(&fake).await;
    let out = reconcile(
        context(&fake),
        json!({"execution": "run-1", "status": "ROLLBACK_FAILED", "input": d["request"],
               "failure": {"Error": "WeightNotApplied", "Cause": "{\"errorMessage\": \"set 100/0, read 90/10\"}"}}),
    )
    .await
    .expect("reconciled");
    assert_eq!(out.action, Reconcile::Restore);
    assert_eq!(weights(&fake), split(100, 0));
}

#[tokio::test]
async fn a_lock_left_by_a_step_that_crashed_before_any_change_is_released() {
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let d = deployment(&fake);
    // resolve-stable took the lock, then its invocations timed out: the
    // execution failed without a rollback, nothing recorded, nothing moved.
    let out = reconcile(context(&fake), ended("FAILED", &d))
        .await
        .expect("reconciled");
    assert_eq!(out.action, Reconcile::AlreadyStable);
    assert!(out.lock_released);
    assert_eq!(weights(&fake), split(100, 0));
    assert!(fake.state().locks.is_empty());
}

// --- alarms --------------------------------------------------------------------

fn guarded(fake: &FakeAws, state: ecs_canary_core::AlarmState) -> Value {
    let mut d = deployment(fake);
    d["request"]["alarms"] = json!(["web-5xx"]);
    fake.state().alarms.insert("web-5xx".into(), state);
    d
}

#[tokio::test]
async fn a_firing_alarm_stops_traffic_moving_towards_the_candidate() {
    use ecs_canary_core::AlarmState;
    let fake = FakeAws::new();
    let d = guarded(&fake, AlarmState::Alarm);
    let error = set_weights(context(&fake), json!({"deployment": d}))
        .await
        .expect_err("the alarm fires");
    assert_eq!(error.error_type(), "AlarmTriggered");
    assert!(error.to_string().contains("web-5xx"), "{error}");
    assert_eq!(weights(&fake), split(100, 0), "nothing moved");
    // The way back is never blocked by an alarm.
    let mut mixed = d.clone();
    fake.state().rules.insert(RULE.into(), split(50, 50));
    mixed["split"] = json!({"stable": 50, "candidate": 50});
    let reason = json!({"Error": "AlarmTriggered", "Cause": "web-5xx"});
    rollback(
        context(&fake),
        json!({"deployment": mixed, "reason": reason}),
    )
    .await
    .expect("rollback");
    assert_eq!(weights(&fake), split(100, 0));
}

#[tokio::test]
async fn quiet_alarms_let_the_rollout_move_on() {
    use ecs_canary_core::AlarmState;
    for state in [AlarmState::Ok, AlarmState::InsufficientData] {
        let fake = FakeAws::new();
        let d = guarded(&fake, state);
        set_weights(context(&fake), json!({"deployment": d}))
            .await
            .expect("the step");
        assert_eq!(weights(&fake), split(90, 10), "{state:?}");
    }
}

#[tokio::test]
async fn an_alarm_that_does_not_exist_is_refused_before_anything_changes() {
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let input = json!({"cluster": "c", "service": "s", "stack": "st", "image": "app:2",
                       "alarms": ["no-such-alarm"]});
    let error = resolve_stable(context(&fake), json!({"input": input, "owner": "run-1"}))
        .await
        .expect_err("refused");
    assert_eq!(error.error_type(), "AlarmNotFound");
    assert!(error.to_string().contains("no-such-alarm"), "{error}");
    assert!(fake.state().locks.is_empty(), "the lock is given back");
}

#[tokio::test]
async fn a_reconciliation_tries_again_through_throttling_and_read_lag() {
    let fake = FakeAws::new();
    let (d, link) = mid_rollout(&fake).await;
    fake.fail_next("GetTemplate", throttled("cloudformation:GetTemplate"));
    fake.fail_next("ModifyRule", throttled("elasticloadbalancing:ModifyRule"));
    fake.state().stale_rule_reads = 2;
    let out = reconcile(context(&fake), ended("ABORTED", &d))
        .await
        .expect("reconciled despite a bad day");
    assert_eq!(out.action, Reconcile::Restore);
    assert_eq!(weights(&fake), split(100, 0));
    assert_eq!(fake.state().rules.get(TESTER), Some(&only(BLUE)));
    assert!(fake.state().locks.is_empty());
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Expired);
}

// --- the shortest path back to stable --------------------------------------------

/// What the rollback function was invoked with directly, run as Lambda
/// would run it: the traffic part only.
async fn run_invoked_rollback(fake: &FakeAws) -> Value {
    let (function, payload) = fake
        .state()
        .invocations
        .last()
        .cloned()
        .expect("the rollback function was invoked");
    assert_eq!(function, ROLLBACK);
    assert_eq!(payload["stableFirst"], json!(true));
    rollback(context(fake), payload.clone())
        .await
        .expect("traffic back on stable");
    payload
}

#[tokio::test]
async fn a_rejection_puts_traffic_back_on_stable_before_the_state_machine_hears_of_it() {
    let fake = FakeAws::new();
    let (_, link) = mid_rollout(&fake).await;
    assert_eq!(post(&fake, &link, "reject").await.0, 200);
    let payload = run_invoked_rollback(&fake).await;
    assert_eq!(payload["reason"]["Error"], json!("Rejected"));
    assert_eq!(
        payload["deployment"]["split"],
        json!({"stable": 90, "candidate": 10})
    );
    assert!(
        matches!(&fake.state().callbacks[..], [Callback::Failed { error, .. }] if error == "Rejected"),
        "the waiting step fails after the direct call"
    );
    // Only the traffic moved: the state machine's rollback does the rest …
    assert_eq!(weights(&fake), split(100, 0));
    assert_eq!(
        fake.state().split_records["c/s"].intended,
        TrafficSplit::new(90, 10).expect("split"),
        "the way back writes no record: a reconciler accepts 100 % stable from anyone"
    );
    assert_eq!(fake.state().rules.get(TESTER), Some(&only(GREEN)));
    assert!(
        fake.state().locks.contains_key("c/s"),
        "the lock is still held"
    );
    // … and finds the traffic already there.
    let mut stepped = payload["deployment"].clone();
    stepped["split"] = json!({"stable": 90, "candidate": 10});
    let done = rollback(
        context(&fake),
        json!({"deployment": stepped, "reason": {"Error": "Rejected"}}),
    )
    .await
    .expect("the state machine's rollback");
    assert!(!done.rule_left_as_is);
    assert_eq!(weights(&fake), split(100, 0));
    assert_eq!(fake.state().rules.get(TESTER), Some(&only(BLUE)));
    assert!(fake.state().locks.is_empty());
}

#[tokio::test]
async fn a_rejection_whose_direct_rollback_fails_is_still_passed_on() {
    let fake = FakeAws::new();
    let (_, link) = mid_rollout(&fake).await;
    fake.fail_next("Invoke", throttled("lambda:Invoke"));
    assert_eq!(post(&fake, &link, "reject").await.0, 200);
    assert_eq!(
        weights(&fake),
        split(90, 10),
        "the state machine's rollback will move it"
    );
    assert!(
        matches!(&fake.state().callbacks[..], [Callback::Failed { error, .. }] if error == "Rejected")
    );
}

fn alarm_event(alarm: &str, state: &str, previous: &str) -> Value {
    json!({
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": alarm,
                   "state": {"value": state, "reason": "Threshold Crossed"},
                   "previousState": {"value": previous}}
    })
}

fn guard_lock(fake: &FakeAws, alarm: &str) {
    fake.state().guards.insert(
        "c/s".into(),
        ecs_canary_aws::LockGuard {
            alarms: vec![alarm.into()],
            steps: 2,
            stack: Some("st".into()),
        },
    );
}

#[tokio::test]
async fn an_alarm_during_a_wait_puts_traffic_on_stable_then_fails_the_step() {
    let fake = FakeAws::new();
    let (_, link) = mid_rollout(&fake).await;
    guard_lock(&fake, "web-5xx");
    let out = alarm_abort(context(&fake), alarm_event("web-5xx", "ALARM", "OK"))
        .await
        .expect("aborted");
    assert!(out.fired);
    assert_eq!(out.aborted.len(), 1);
    assert_eq!(out.aborted[0].how, "failWaitingStep");
    let payload = run_invoked_rollback(&fake).await;
    assert_eq!(payload["reason"]["Error"], json!("AlarmTriggered"));
    assert_eq!(weights(&fake), split(100, 0));
    // The alarm decided the step, on record, as a person would.
    assert_eq!(
        status_of(&fake, &link),
        ApprovalStatus::Rejected,
        "the link is void"
    );
    assert_eq!(
        fake.state().approvals[link.key().as_str()]
            .decided_by
            .as_deref(),
        Some("alarm web-5xx")
    );
    assert!(
        matches!(&fake.state().callbacks[..], [Callback::Failed { error, cause, .. }]
            if error == "AlarmTriggered" && cause.contains("web-5xx")),
        "{:?}",
        fake.state().callbacks
    );
    // A click on the void link decides nothing, and says who decided.
    let (status, page) = post(&fake, &link, "approve").await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("rejected by alarm web-5xx"), "{page}");
    assert_eq!(fake.state().callbacks.len(), 1);
    // EventBridge delivers at least once, and a second alarm may fire: the
    // rollback that is running is not interrupted.
    let again = alarm_abort(context(&fake), alarm_event("web-5xx", "ALARM", "OK"))
        .await
        .expect("again");
    assert_eq!(again.aborted[0].how, "alreadyRollingBack");
    assert_eq!(fake.state().callbacks.len(), 1);
    assert!(fake.state().stopped.is_empty());
}

#[tokio::test]
async fn an_alarm_between_gates_stops_the_execution_for_the_reconciler() {
    let fake = FakeAws::new();
    deployment(&fake);
    guard_lock(&fake, "web-5xx");
    let out = alarm_abort(
        context(&fake),
        alarm_event("web-5xx", "ALARM", "INSUFFICIENT_DATA"),
    )
    .await
    .expect("aborted");
    assert_eq!(out.aborted[0].how, "stopExecution");
    let stopped = fake.state().stopped.clone();
    assert!(
        matches!(&stopped[..], [(execution, error, cause)]
            if execution == "run-1" && error == "AlarmTriggered" && cause.contains("web-5xx")),
        "{stopped:?}"
    );
    assert!(fake.state().invocations.is_empty());
}

#[tokio::test]
async fn only_an_alarm_entering_alarm_stops_and_only_what_it_guards() {
    let fake = FakeAws::new();
    deployment(&fake);
    guard_lock(&fake, "web-5xx");
    let calm = alarm_abort(context(&fake), alarm_event("web-5xx", "OK", "ALARM"))
        .await
        .expect("nothing to do");
    assert!(!calm.fired && calm.aborted.is_empty());
    let other = alarm_abort(context(&fake), alarm_event("db-cpu", "ALARM", "OK"))
        .await
        .expect("nothing to do");
    assert!(other.fired && other.aborted.is_empty());
    assert!(fake.state().stopped.is_empty() && fake.state().callbacks.is_empty());
    let error = alarm_abort(
        context(&fake),
        json!({"detail": {"state": {"value": "ALARM"}}}),
    )
    .await
    .expect_err("not an alarm's event");
    assert_eq!(error.error_type(), "InvalidEvent");
}

#[tokio::test]
async fn an_alarm_abort_tries_again_through_throttling() {
    let fake = FakeAws::new();
    deployment(&fake);
    guard_lock(&fake, "web-5xx");
    fake.fail_next("StopExecution", throttled("states:StopExecution"));
    let out = alarm_abort(context(&fake), alarm_event("web-5xx", "ALARM", "OK"))
        .await
        .expect("stopped on the second try");
    assert_eq!(out.aborted.len(), 1);
    assert_eq!(fake.state().stopped.len(), 1);
}

#[tokio::test]
async fn an_alarm_while_waiting_for_the_candidate_rolls_back_at_the_next_poll() {
    use ecs_canary_core::AlarmState;
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let d = guarded(&fake, AlarmState::Alarm);
    let error = render_and_deploy(
        context(&fake),
        json!({"deployment": d, "action": "status", "requireReady": true}),
    )
    .await
    .expect_err("the alarm fires");
    assert_eq!(error.error_type(), "AlarmTriggered");
}

// --- evidence and analysis -------------------------------------------------------

fn failing_candidate(fake: &FakeAws) {
    let stats = |requests: f64, errors: f64, p99: f64| ecs_canary_core::TrafficStats {
        requests,
        target_5xx: errors,
        elb_5xx: 0.0,
        p50_ms: Some(p99 / 3.0),
        p99_ms: Some(p99),
    };
    fake.state().window = Some((stats(500.0, 50.0, 900.0), stats(5000.0, 10.0, 170.0)));
}

/// Step 1 applied (at NOW) with `limits` in the request.
async fn stepped_with(fake: &FakeAws, limits: Value) -> Value {
    arrange_example(fake, (100, 0));
    let mut d = deployment(fake);
    for (field, value) in limits.as_object().cloned().unwrap_or_default() {
        d["request"][field] = value;
    }
    let stepped = set_weights(context(fake), json!({"deployment": d}))
        .await
        .expect("step 1");
    assert_eq!(stepped.deployment.applied_at, [NOW]);
    serde_json::to_value(&stepped).expect("json")
}

#[tokio::test]
async fn a_failing_candidate_is_rejected_by_the_analysis_only_when_it_is_on() {
    let fake = FakeAws::new();
    failing_candidate(&fake);
    let stepped = stepped_with(
        &fake,
        json!({"maxErrorRateIncrease": 2, "minRequests": 100}),
    )
    .await;
    let error = set_weights(context(&fake), json!({"deployment": stepped}))
        .await
        .expect_err("the analysis rejects");
    assert_eq!(error.error_type(), "AnalysisFailed");
    assert!(
        error
            .to_string()
            .contains("by more than 2 percentage points, however often one looks (new 10.00 % 5xx vs stable 0.20 % — +9.80 points, 95 % interval +5.15 to +15.72"),
        "{error}"
    );
    assert_eq!(
        weights(&fake),
        split(90, 10),
        "nothing moved towards the candidate"
    );
    assert_eq!(
        fake.state().windows_read.last(),
        Some(&(NOW, NOW)),
        "the step's own window"
    );

    // Without the field, a person decides: traffic moves on.
    let fake = FakeAws::new();
    failing_candidate(&fake);
    let stepped = stepped_with(&fake, json!({"minRequests": 100})).await;
    set_weights(context(&fake), json!({"deployment": stepped}))
        .await
        .expect("step 2");
    assert_eq!(weights(&fake), split(50, 50));

    // Numbers that cannot be read never block.
    let fake = FakeAws::new();
    failing_candidate(&fake);
    let stepped = stepped_with(&fake, json!({"maxErrorRateIncrease": 2})).await;
    fake.fail_next("GetMetricData", throttled("cloudwatch:GetMetricData"));
    set_weights(context(&fake), json!({"deployment": stepped}))
        .await
        .expect("step 2 despite the throttling");
    assert_eq!(weights(&fake), split(50, 50));
}

/// The page a link opens.
async fn open_page(fake: &FakeAws, link: &ApprovalId) -> String {
    let response = call_api(context(fake), "GET", &format!("/approvals/{link}"), "").await;
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "not a page: {response:?}"
    );
    response.body().to_string()
}

#[tokio::test]
async fn the_page_shows_the_steps_numbers_and_the_chart() {
    let fake = FakeAws::new();
    failing_candidate(&fake);
    let (_, link) = mid_rollout(&fake).await;
    let page = open_page(&fake, &link).await;
    assert!(page.contains("<section id=\"evidence\">"), "{page}");
    assert!(page.contains("This step (10 % new, 0 min)"), "{page}");
    assert!(page.contains("new: 500 requests, 10 % 5xx, p99 900 ms · stable: 5,000 requests, 0.2 % 5xx, p99 170 ms"), "{page}");
    assert!(page.contains("<svg id=\"evidence-chart\""), "{page}");
    // Metrics that cannot be read: the page says so, and still decides.
    fake.fail_next("GetMetricData", throttled("cloudwatch:GetMetricData"));
    let page = open_page(&fake, &link).await;
    assert!(page.contains("unavailable: Throttled"), "{page}");
    assert_eq!(post(&fake, &link, "approve").await.0, 200);
}

#[tokio::test]
async fn an_approval_of_a_failing_step_is_rejected_by_the_analysis_traffic_first() {
    let fake = FakeAws::new();
    failing_candidate(&fake);
    let stepped = stepped_with(&fake, json!({"maxErrorRateIncrease": 2})).await;
    let link = ask(&fake, stepped).await;
    let (status, page) = post(&fake, &link, "approve").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Rejected by the automatic analysis"),
        "{page}"
    );
    let payload = run_invoked_rollback(&fake).await;
    assert_eq!(payload["reason"]["Error"], json!("AnalysisFailed"));
    assert_eq!(
        weights(&fake),
        split(100, 0),
        "traffic back on stable first"
    );
    assert!(
        matches!(&fake.state().callbacks[..], [Callback::Failed { error, cause, .. }]
            if error == "AnalysisFailed" && cause.contains("approved by email link")),
        "{:?}",
        fake.state().callbacks
    );
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Rejected);
}

#[tokio::test]
async fn an_alarm_and_a_person_deciding_at_once_cannot_both_win() {
    let fake = FakeAws::new();
    let (_, link) = mid_rollout(&fake).await;
    guard_lock(&fake, "web-5xx");
    // The person approves first …
    assert_eq!(post(&fake, &link, "approve").await.0, 200);
    // … the alarm finds the step decided: the execution is stopped instead,
    // and nothing moves the traffic behind the approval's back.
    let out = alarm_abort(context(&fake), alarm_event("web-5xx", "ALARM", "OK"))
        .await
        .expect("aborted");
    assert_eq!(out.aborted[0].how, "stopExecution");
    assert!(fake.state().invocations.is_empty(), "no direct rollback");
    assert_eq!(fake.state().stopped.len(), 1);
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Approved);
    assert!(fake.state().rolling_back.is_empty());
}

#[tokio::test]
async fn an_email_decision_on_a_slack_only_deployment_is_refused_and_changes_nothing() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({"approvalPolicy": {"channels": ["slack"]}})).await;
    let link = ask(&fake, stepped).await;
    for decision in ["approve", "reject"] {
        fake.state().history.clear();
        let (status, page) = post(&fake, &link, decision).await;
        assert_eq!(status, 403, "{page}");
        assert!(
            page.contains("decisions through email are not allowed"),
            "{page}"
        );
    }
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Pending);
    assert!(
        fake.state().callbacks.is_empty(),
        "nothing reached Step Functions"
    );
    assert!(
        fake.state().invocations.is_empty(),
        "no rollback was invoked"
    );
    let refused: Vec<_> = fake
        .state()
        .history
        .iter()
        .filter(|e| e.kind == HistoryKind::DecisionRefused)
        .map(|e| (e.by.clone(), e.channel.clone()))
        .collect();
    assert_eq!(
        refused,
        vec![(Some("email link".into()), Some("email".into()))]
    );
}

#[tokio::test]
async fn a_malformed_default_policy_refuses_every_decision() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    let link = ask(&fake, stepped).await;
    let strict = context_with(&fake, |settings| {
        settings.approval_policy = Some("{\"channels\": [\"fax\"]}".into());
    });
    let (status, _) = post_with(strict, &link, "approve").await;
    assert_eq!(status, 403);
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Pending);
}

#[tokio::test]
async fn the_history_holds_every_event_of_a_promoted_deployment() {
    let fake = FakeAws::new();
    let (d, link) = mid_rollout(&fake).await;
    let (status, _) = post(&fake, &link, "approve").await;
    assert_eq!(status, 200);
    let mut last: Value = d.clone();
    last["split"] = json!({"stable": 90, "candidate": 10});
    last["step"] = json!(0);
    promote(context(&fake), json!({"deployment": last}))
        .await
        .expect("promote");
    let kinds: Vec<HistoryKind> = fake.state().history.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            HistoryKind::SplitApplied,
            HistoryKind::ApprovalRequested,
            HistoryKind::Decided,
            HistoryKind::Promoted
        ]
    );
    let decided = fake.state().history[2].clone();
    assert_eq!(decided.by.as_deref(), Some("email link"));
    assert_eq!(decided.step, Some(1));
    assert!(decided.summary.contains("approved"), "{}", decided.summary);
    // The history is the service's, newest first, and no link id is in it.
    let text = serde_json::to_string(&fake.state().history).expect("json");
    assert!(!text.contains(link.as_str()));
}

const ALICE: &str = "arn:aws:sts::123456789012:assumed-role/Deployers/alice";
const BOB: &str = "arn:aws:sts::123456789012:assumed-role/Deployers/bob";

/// A deployment started by alice on the command line, separation of
/// duties on, waiting at step 1; its lock carries its step count.
async fn started_by_alice(fake: &FakeAws) -> ApprovalId {
    let stepped = stepped_with(
        fake,
        json!({"startedBy": ALICE, "approvalPolicy": {"separationOfDuties": true}}),
    )
    .await;
    let link = ask(fake, stepped).await;
    fake.state().guards.insert(
        "c/s".into(),
        ecs_canary_aws::LockGuard {
            alarms: Vec::new(),
            steps: 2,
            stack: Some("st".into()),
        },
    );
    link
}

#[tokio::test]
async fn on_the_command_line_the_initiator_may_not_approve_but_someone_else_may() {
    let fake = FakeAws::new();
    let link = started_by_alice(&fake).await;
    let ctx = context(&fake);
    let own = operator::decide_waiting(&ctx, "c/s", Decision::Approve, &Approver::cli(ALICE))
        .await
        .expect("an answer");
    assert_eq!(own.status, 403, "{own:?}");
    assert!(own.message.contains("started this deployment"), "{own:?}");
    assert!(fake.state().callbacks.is_empty());
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Pending);

    let bob = operator::decide_waiting(&ctx, "c/s", Decision::Approve, &Approver::cli(BOB))
        .await
        .expect("an answer");
    assert_eq!(bob.status, 200, "{bob:?}");
    assert!(matches!(
        &fake.state().callbacks[..],
        [Callback::Succeeded { .. }]
    ));
    let decided = fake
        .state()
        .history
        .iter()
        .find(|e| e.kind == HistoryKind::Decided)
        .cloned()
        .expect("the decision is in the history");
    assert_eq!(
        (decided.by.as_deref(), decided.channel.as_deref()),
        (Some(BOB), Some("cli"))
    );
    // Nothing waits any more.
    let again = operator::decide_waiting(&ctx, "c/s", Decision::Reject, &Approver::cli(BOB)).await;
    assert!(
        matches!(again, Err(operator::OperatorError::NotWaiting { .. })),
        "{again:?}"
    );
    fake.state().locks.clear();
    let gone = operator::decide_waiting(&ctx, "c/s", Decision::Reject, &Approver::cli(BOB)).await;
    assert!(
        matches!(gone, Err(operator::OperatorError::NoDeployment { .. })),
        "{gone:?}"
    );
}

#[tokio::test]
async fn an_abort_puts_traffic_on_stable_first_then_stops_the_execution() {
    let fake = FakeAws::new();
    let link = started_by_alice(&fake).await;
    let aborted = operator::abort(&context(&fake), "c/s", BOB)
        .await
        .expect("aborted");
    assert!(
        aborted.links_closed == 1 && aborted.execution == "run-1",
        "{aborted:?}"
    );
    let payload = run_invoked_rollback(&fake).await;
    assert_eq!(payload["reason"]["Error"], json!("Aborted"));
    assert_eq!(weights(&fake), split(100, 0));
    assert_eq!(
        fake.state().stopped,
        vec![(
            "run-1".to_string(),
            "Aborted".to_string(),
            format!("aborted by {BOB} from the command line")
        )]
    );
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Expired);
    assert!(fake
        .state()
        .history
        .iter()
        .any(|e| e.kind == HistoryKind::Aborted && e.by.as_deref() == Some(BOB)));
}

#[tokio::test]
async fn unlock_releases_only_the_holder_shown_and_records_who_did() {
    let fake = FakeAws::new();
    fake.state()
        .locks
        .insert("c/s".into(), ("run-9".into(), NOW + 60));
    let ctx = context(&fake);
    let other = operator::unlock(&ctx, "c/s", "run-8", BOB)
        .await
        .expect("an answer");
    assert!(!other, "a lock that changed hands is left alone");
    assert!(fake.state().locks.contains_key("c/s"));
    assert!(operator::unlock(&ctx, "c/s", "run-9", BOB)
        .await
        .expect("released"));
    assert!(fake.state().locks.is_empty());
    let event = fake.state().history.last().cloned().expect("recorded");
    assert_eq!(
        (event.kind, event.by.as_deref()),
        (HistoryKind::Unlocked, Some(BOB))
    );
}

#[tokio::test]
async fn a_reconciliation_closes_the_links_before_it_frees_the_service() {
    let fake = FakeAws::new();
    let (d, link) = mid_rollout(&fake).await;
    // Closing the links fails for good this time: the lock stays, so the
    // service does not look at rest with a link still open.
    fake.fail_next(
        "UpdateItem",
        AwsError::Service {
            operation: "dynamodb:UpdateItem",
            code: "InternalServerError".into(),
            message: "down".into(),
        },
    );
    let failed = reconcile(context(&fake), ended("ABORTED", &d)).await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(
        fake.state().locks.contains_key("c/s"),
        "the lock waits for the retry"
    );
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Pending);
    // Lambda's retry finishes the job.
    let out = reconcile(context(&fake), ended("ABORTED", &d))
        .await
        .expect("reconciled");
    assert_eq!((out.lock_released, out.links_closed), (true, 1));
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Expired);
}

// --- request-approval's delivery, through the ports (SNS, Slack's webhook) ---

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ecs-canary-approvals";
const SLACK_WEBHOOK: &str = "https://hooks.slack.example/services/T1/B1/x";

/// The context with both channels on: email (SNS) and Slack (a webhook).
fn with_channels(fake: &FakeAws) -> Arc<Context> {
    context_with(fake, |settings| {
        settings.topic_arn = Some(TOPIC.into());
        settings.slack_webhook_url = Some(SLACK_WEBHOOK.into());
    })
}

async fn request(fake: &FakeAws, stepped: &Value, token: &str) -> Result<Value, FunctionError> {
    request_approval(
        with_channels(fake),
        json!({"taskToken": token, "execution": "run-1", "deployment": stepped}),
    )
    .await
}

#[tokio::test]
async fn an_approval_goes_out_on_every_channel_with_the_same_link() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    let answer = request(&fake, &stepped, "token-1").await.expect("sent");
    assert_eq!(
        answer,
        json!({"channels": ["email", "slack"], "failedChannels": 0})
    );
    let link = ApprovalId::derive(LINK_SECRET.as_bytes(), "run-1", 0);
    let url = format!("https://approve.example/approvals/{link}");
    let state = fake.state();
    let [(topic, subject, body)] = state.published.as_slice() else {
        panic!("one email: {:?}", state.published)
    };
    assert_eq!(topic, TOPIC);
    assert!(subject.contains('s'), "{subject}");
    assert!(body.contains(&url), "the email carries the link: {body}");
    let [(webhook, message)] = state.webhook_posts.as_slice() else {
        panic!("one Slack message: {:?}", state.webhook_posts)
    };
    assert_eq!(webhook, SLACK_WEBHOOK);
    assert!(message.to_string().contains(&link.to_string()));
    // The token is stored, never sent.
    assert!(!body.contains("token-1") && !message.to_string().contains("token-1"));
}

#[tokio::test]
async fn one_channel_down_still_asks_on_the_other() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    fake.fail_next("Publish", throttled("sns:Publish"));
    let answer = request(&fake, &stepped, "token-1")
        .await
        .expect("sent on Slack");
    assert_eq!(answer, json!({"channels": ["slack"], "failedChannels": 1}));
    assert!(fake.state().published.is_empty());
    assert_eq!(fake.state().webhook_posts.len(), 1);
    let requested: Vec<_> = fake
        .state()
        .history
        .iter()
        .filter(|e| e.kind == HistoryKind::ApprovalRequested)
        .map(|e| e.detail.clone())
        .collect();
    assert_eq!(requested.len(), 1, "recorded once: {requested:?}");
}

#[tokio::test]
async fn both_channels_down_fail_the_step_and_a_retry_sends_on_both() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    fake.fail_next("Publish", throttled("sns:Publish"));
    fake.fail_next(
        "PostWebhook",
        AwsError::Unreachable {
            operation: "slack",
            message: "connection refused".into(),
        },
    );
    let failed = request(&fake, &stepped, "token-1")
        .await
        .expect_err("nothing delivered");
    assert_eq!(failed.error_type(), "NoChannelDelivered");
    assert!(failed.to_string().contains("email") && failed.to_string().contains("slack"));
    assert!(fake.state().published.is_empty() && fake.state().webhook_posts.is_empty());
    // Step Functions retries with a new token: the same link, on both channels.
    request(&fake, &stepped, "token-2").await.expect("sent");
    let link = ApprovalId::derive(LINK_SECRET.as_bytes(), "run-1", 0);
    let state = fake.state();
    assert_eq!((state.published.len(), state.webhook_posts.len()), (1, 1));
    let record = state
        .approvals
        .get(link.key().as_str())
        .expect("the request");
    assert_eq!(record.task_token, "token-2");
}

#[tokio::test]
async fn a_retry_after_a_partial_delivery_sends_only_what_did_not_go_out() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    fake.fail_next("PostWebhook", throttled("slack"));
    let first = request(&fake, &stepped, "token-1")
        .await
        .expect("the email went out");
    assert_eq!(first, json!({"channels": ["email"], "failedChannels": 1}));
    // The attempt is retried (it timed out, say) with a new token.
    let again = request(&fake, &stepped, "token-2").await.expect("sent");
    assert_eq!(
        again,
        json!({"channels": ["email", "slack"], "failedChannels": 0})
    );
    let link = ApprovalId::derive(LINK_SECRET.as_bytes(), "run-1", 0);
    let state = fake.state();
    assert_eq!(state.published.len(), 1, "the email is not sent twice");
    assert_eq!(state.webhook_posts.len(), 1);
    assert_eq!(
        state
            .approvals
            .get(link.key().as_str())
            .map(|r| r.task_token.as_str()),
        Some("token-2"),
        "the link now answers the retry's token"
    );
}

#[tokio::test]
async fn the_slack_webhook_is_read_from_its_secret_once() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    fake.state()
        .secrets
        .insert("arn:secret/slack".into(), SLACK_WEBHOOK.into());
    let context = context_with(&fake, |settings| {
        settings.slack_webhook_secret_arn = Some("arn:secret/slack".into());
    });
    let ask_in = |execution: &'static str| {
        request_approval(
            Arc::clone(&context),
            json!({"taskToken": "t", "execution": execution, "deployment": stepped}),
        )
    };
    ask_in("run-1").await.expect("sent");
    // Gone from Secrets Manager now: the value read once is kept.
    fake.state().secrets.clear();
    let answer = ask_in("run-2").await.expect("sent again");
    assert_eq!(answer["channels"], json!(["slack"]));
    let posted = fake.state().webhook_posts.clone();
    assert_eq!(posted.len(), 2);
    assert!(posted.iter().all(|(url, _)| url == SLACK_WEBHOOK));
}

// --- ecr-trigger, through the ExecutionStarter port ---

const STATE_MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:ecs-canary";
const DIGEST: &str = "sha256:4f6a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd";

fn trigger_context(fake: &FakeAws) -> Arc<Context> {
    context_with(fake, |settings| {
        settings.state_machine_arn = Some(STATE_MACHINE.into());
        settings.trigger_mappings = Some(
            json!([
                {"repository": "web", "tagPattern": "1.*", "cluster": "prod", "service": "web",
                 "stack": "web-app", "steps": [10, 50]},
                {"repository": "web", "tagPattern": "1.*", "cluster": "staging", "service": "web",
                 "stack": "web-staging"},
                {"repository": "other", "cluster": "prod", "service": "other", "stack": "other-app"}
            ])
            .to_string(),
        );
    })
}

fn pushed(repository: &str, tag: &str, digest: &str) -> Value {
    json!({
        "source": "aws.ecr", "detail-type": "ECR Image Action",
        "account": "123456789012", "region": "us-east-1",
        "detail": {"result": "SUCCESS", "action-type": "PUSH", "repository-name": repository,
                   "image-tag": tag, "image-digest": digest}
    })
}

#[tokio::test]
async fn a_push_cloudtrail_recorded_is_started_in_its_pushers_name() {
    let fake = FakeAws::new();
    let ci = "arn:aws:sts::123456789012:assumed-role/CI/build-42";
    let event = json!({
        "source": "aws.ecr", "detail-type": "AWS API Call via CloudTrail",
        "account": "123456789012", "region": "us-east-1",
        "detail": {"eventSource": "ecr.amazonaws.com", "eventName": "PutImage",
            "awsRegion": "us-east-1", "userIdentity": {"type": "AssumedRole", "arn": ci},
            "requestParameters": {"repositoryName": "other", "imageTag": "2.0.0"},
            "responseElements": {"image": {"registryId": "123456789012", "repositoryName": "other",
                "imageId": {"imageDigest": DIGEST, "imageTag": "2.0.0"}}}}
    });
    let answer = ecr_trigger(trigger_context(&fake), event)
        .await
        .expect("started");
    let started = answer["started"].as_array().cloned().unwrap_or_default();
    assert_eq!(started.len(), 1, "{answer}");
    let execution = started[0].as_str().unwrap_or_default();
    // Recorded first, as who asked for that execution: resolve-stable's
    // initiator, whom separation of duties keeps from approving it.
    let history = fake.state().history.clone();
    let input: Value = serde_json::from_str(&fake.state().started[0].2).expect("its input");
    assert_eq!(
        ecs_canary_core::request_of(&history, execution, &input).and_then(|e| e.by.as_deref()),
        Some(ci)
    );
    assert_eq!(history[0].channel.as_deref(), Some("ecr"));
    // ECR's own event names nobody: nothing recorded.
    let before = fake.state().history.len();
    ecr_trigger(trigger_context(&fake), pushed("web", "1.4.2", DIGEST))
        .await
        .expect("started");
    assert_eq!(fake.state().history.len(), before);
}

#[tokio::test]
async fn a_push_starts_one_execution_per_mapped_service_pinned_to_its_digest() {
    let fake = FakeAws::new();
    let answer = ecr_trigger(trigger_context(&fake), pushed("web", "1.4.2", DIGEST))
        .await
        .expect("started");
    assert_eq!(
        answer["started"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );
    let started = fake.state().started.clone();
    let services: Vec<Value> = started
        .iter()
        .map(|(machine, _, input)| {
            assert_eq!(machine, STATE_MACHINE);
            serde_json::from_str(input).expect("JSON input")
        })
        .collect();
    assert_eq!(services[0]["cluster"], "prod");
    assert_eq!(services[1]["cluster"], "staging");
    for input in &services {
        assert_eq!(
            input["image"],
            format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{DIGEST}"),
            "pinned to the digest, not the tag"
        );
        assert_eq!(input["imageTag"], "1.4.2");
    }
    assert_eq!(services[0]["steps"], json!([10, 50]));
    // Nothing matches another tag or repository.
    let ignored = ecr_trigger(trigger_context(&fake), pushed("web", "2.0.0", DIGEST))
        .await
        .expect("ignored");
    assert_eq!(ignored["ignored"], true);
    assert_eq!(fake.state().started.len(), 2);
}

#[tokio::test]
async fn the_same_push_delivered_twice_starts_one_execution_each() {
    let fake = FakeAws::new();
    let first = ecr_trigger(trigger_context(&fake), pushed("other", "latest", DIGEST))
        .await
        .expect("started");
    // EventBridge delivers again while the execution runs: Step Functions
    // answers the running one.
    let again = ecr_trigger(trigger_context(&fake), pushed("other", "latest", DIGEST))
        .await
        .expect("the running execution");
    assert_eq!(first["started"], again["started"]);
    // After it ended: a duplicate, not a second deployment.
    let name = fake.state().started[0].1.clone();
    fake.state().ended_executions.push(name.clone());
    let late = ecr_trigger(trigger_context(&fake), pushed("other", "latest", DIGEST))
        .await
        .expect("a duplicate");
    assert_eq!(late["duplicates"], json!([name]));
    assert_eq!(late["started"], json!([]));
    assert_eq!(fake.state().started.len(), 1, "one execution in all");
    // Another digest is another release.
    ecr_trigger(
        trigger_context(&fake),
        pushed("other", "latest", &DIGEST.replace('4', "5")),
    )
    .await
    .expect("started");
    assert_eq!(fake.state().started.len(), 2);
}

#[tokio::test]
async fn a_throttled_start_fails_the_trigger_so_that_it_is_retried() {
    let fake = FakeAws::new();
    fake.fail_next("StartExecution", throttled("states:StartExecution"));
    let failed = ecr_trigger(trigger_context(&fake), pushed("other", "latest", DIGEST))
        .await
        .expect_err("throttled");
    assert_eq!(failed.error_type(), "Throttled");
    assert!(fake.state().started.is_empty());
}

// --- gates on ECS's own deployments ---------------------------------------------

const NATIVE_SERVICE: &str = "arn:aws:ecs:us-east-1:123456789012:service/c/native";
const NATIVE_DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/native/d1";
const GATES: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:ecs-canary-gate";

/// A LINEAR 25 % deployment paused before its second step (25 % now):
/// started 10 minutes ago, its production rule (`RULE`) sends 25 % to the
/// new revision's target group (`GREEN`, the service's alternate).
fn paused(fake: &FakeAws, enrolled: bool) {
    use ecs_canary_core::{
        HookReading, ProductionRoutes, RevisionReading, ServiceDeploymentReading, GATE_TAG,
    };
    let mut state = fake.state();
    state.rules.insert(RULE.into(), split(75, 25));
    if enrolled {
        state.resource_tags.insert(
            NATIVE_SERVICE.into(),
            [(GATE_TAG.to_string(), "true".to_string())].into(),
        );
    }
    state.service_deployments.insert(
        NATIVE_DEPLOYMENT.into(),
        ServiceDeploymentReading {
            arn: NATIVE_DEPLOYMENT.into(),
            service_arn: NATIVE_SERVICE.into(),
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/c".into(),
            status: "IN_PROGRESS".into(),
            strategy: Some("LINEAR".into()),
            linear_step_percent: Some(25.0),
            canary_percent: None,
            target: Some(RevisionReading {
                arn: "rev/new".into(),
                production_weight: Some(25.0),
                images: vec!["web: repo/web:2".into()],
            }),
            sources: vec![],
            hooks: vec![HookReading {
                hook_id: "ecs-pause-1".into(),
                target_type: "PAUSE".into(),
                status: "AWAITING_ACTION".into(),
                expires_at: Some(NOW + 7_200),
                timeout_action: Some("ROLLBACK".into()),
            }],
            started_at: Some(NOW - 600),
            production: Some(ProductionRoutes {
                rule: RULE.into(),
                primary_group: BLUE.into(),
                alternate_group: GREEN.into(),
            }),
        },
    );
}

/// The paused service's tag `tag` set to `value`.
fn tag_paused(fake: &FakeAws, tag: &str, value: &str) {
    fake.state()
        .resource_tags
        .entry(NATIVE_SERVICE.into())
        .or_default()
        .insert(tag.into(), value.into());
}

fn hook_event() -> Value {
    json!({
        "detail-type": "ECS Hook State Change",
        "source": "aws.ecs",
        "resources": [NATIVE_SERVICE],
        "detail": {"eventName": "HOOK_AWAITING_ACTION", "serviceDeploymentArn": NATIVE_DEPLOYMENT, "hookId": "ecs-pause-1"}
    })
}

fn gate_context(fake: &FakeAws) -> Arc<Context> {
    context_with(fake, |s| s.gate_state_machine_arn = Some(GATES.into()))
}

/// The gate's first state for `hook`, in gate execution `execution`.
async fn read_pause(fake: &FakeAws, hook: &str, execution: &str) -> Result<Value, FunctionError> {
    ecs_canary_handlers::ecs_hook(
        gate_context(fake),
        json!({"read": {"serviceDeploymentArn": NATIVE_DEPLOYMENT, "hookId": hook}, "execution": execution}),
    )
    .await
}

/// request-approval asked for the pause `read` found, in gate `arn:gate:1`.
/// Bob's approval of the native service's waiting pause on the command line.
async fn approve_native_on_cli(
    fake: &FakeAws,
) -> Result<ecs_canary_handlers::actions::decision::DecisionOutcome, operator::OperatorError> {
    operator::decide_waiting(
        &context(fake),
        "c/native",
        Decision::Approve,
        &Approver::cli(BOB),
    )
    .await
}

/// The enrolled service's pause, read and asked for by the gate
/// `arn:gate:1`: what its first read returned.
async fn asked_pause(fake: &FakeAws) -> Value {
    paused(fake, true);
    let read = read_pause(fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause");
    ask_pause(context(fake), &read).await;
    read
}

async fn ask_pause(context: Arc<Context>, read: &Value) {
    request_approval(
        context,
        json!({"taskToken": "gate-token", "execution": "arn:gate:1", "pause": read["pause"]}),
    )
    .await
    .expect("asked");
}

#[tokio::test]
async fn a_pause_of_an_enrolled_service_starts_one_gate_and_a_repeated_event_no_other() {
    let fake = FakeAws::new();
    paused(&fake, true);
    let first = ecs_canary_handlers::ecs_hook(gate_context(&fake), hook_event())
        .await
        .expect("a gate");
    let again = ecs_canary_handlers::ecs_hook(gate_context(&fake), hook_event())
        .await
        .expect("the same gate");
    assert_eq!(first, again);
    let started = fake.state().started.clone();
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0].1, "gate-ecs-pause-1");
    assert!(
        fake.state().hook_answers.is_empty(),
        "nothing is answered before a decision"
    );
}

#[tokio::test]
async fn a_pause_that_cannot_be_gated_is_recorded_and_left_alone() {
    for (enrolled, hook, status, outcome) in [
        (false, "ecs-pause-1", "IN_PROGRESS", "NotEnrolled"),
        (true, "ecs-pause-unknown", "IN_PROGRESS", "UnknownHook"),
        (true, "ecs-pause-1", "STOPPED", "DeploymentNotInProgress"),
    ] {
        let fake = FakeAws::new();
        paused(&fake, enrolled);
        if let Some(d) = fake.state().service_deployments.get_mut(NATIVE_DEPLOYMENT) {
            d.status = status.into();
        }
        let mut event = hook_event();
        event["detail"]["hookId"] = json!(hook);
        let answer = ecs_canary_handlers::ecs_hook(gate_context(&fake), event)
            .await
            .expect("left alone");
        assert_eq!(answer["ignored"], outcome);
        let state = fake.state();
        assert!(
            state.started.is_empty() && state.hook_answers.is_empty() && state.published.is_empty()
        );
        assert!(
            state
                .history
                .iter()
                .any(|e| e.kind == HistoryKind::Paused && e.summary.contains(outcome)),
            "{:?}",
            state.history
        );
    }
}

#[tokio::test]
async fn the_gate_reads_the_pause_again_and_answers_ecs_once() {
    let fake = FakeAws::new();
    paused(&fake, true);
    let read = read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause");
    assert_eq!(read["ask"], true);
    assert_eq!(read["pause"]["step"], 2);
    assert_eq!(read["pause"]["execution"], "arn:gate:1");
    let pause = read["pause"].clone();
    let continued = ecs_canary_handlers::ecs_hook(
        gate_context(&fake),
        json!({"answer": "CONTINUE", "pause": pause}),
    )
    .await
    .expect("answered");
    assert_eq!(continued["outcome"], "answered");
    // The hook no longer waits: a second answer (a retry, a late rollback)
    // is recorded and changes nothing.
    let late = ecs_canary_handlers::ecs_hook(
        gate_context(&fake),
        json!({"answer": "ROLLBACK", "pause": pause, "failure": {"Error": "States.Timeout", "Cause": ""}}),
    )
    .await
    .expect("recorded");
    assert_eq!(late["outcome"], "no longer waiting");
    let answers = fake.state().hook_answers.clone();
    assert_eq!(
        answers,
        vec![(
            NATIVE_DEPLOYMENT.to_string(),
            "ecs-pause-1".to_string(),
            ecs_canary_core::HookAction::Continue
        )]
    );
    // Reading a pause that has ended fails by name.
    let ended = read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .unwrap_err();
    assert_eq!(ended.error_type(), "UnknownHook");
}

#[tokio::test]
async fn a_pause_is_asked_for_like_a_step_and_a_rejection_reaches_step_functions() {
    let fake = FakeAws::new();
    asked_pause(&fake).await;
    let id = ApprovalId::derive(LINK_SECRET.as_bytes(), "arn:gate:1", 2);
    let record = fake
        .state()
        .approvals
        .get(id.key().as_str())
        .cloned()
        .expect("a record");
    assert!(record.native.is_some() && record.deployment.is_none());
    assert_eq!(record.facts.step_label(), "step 2 of 4");
    let (status, _) = post(&fake, &id, "reject").await;
    assert_eq!(status, 200);
    let callbacks = fake.state().callbacks.clone();
    assert!(
        matches!(&callbacks[..], [Callback::Failed { error, .. }] if error == "Rejected"),
        "{callbacks:?}"
    );
    let history = fake.state().history.clone();
    assert!(
        history
            .iter()
            .any(|e| e.kind == HistoryKind::Decided && e.execution == "arn:gate:1"),
        "{history:?}"
    );
    assert_eq!(
        fake.state().rules.get(RULE),
        Some(&split(75, 25)),
        "ECS moves the traffic, not ecs-canary"
    );
}

#[tokio::test]
async fn a_decision_for_a_pause_that_ended_in_ecs_is_refused_and_closes_its_gate() {
    let fake = FakeAws::new();
    asked_pause(&fake).await;
    if let Some(d) = fake.state().service_deployments.get_mut(NATIVE_DEPLOYMENT) {
        d.status = "STOPPED".into();
    }
    let id = ApprovalId::derive(LINK_SECRET.as_bytes(), "arn:gate:1", 2);
    let (status, page) = post(&fake, &id, "approve").await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("ECS no longer waits"), "{page}");
    let state = fake.state();
    assert!(
        state.callbacks.is_empty(),
        "nothing is passed on: {:?}",
        state.callbacks
    );
    assert!(state.hook_answers.is_empty());
    assert_eq!(state.stopped.len(), 1, "the gate is stopped");
    assert_eq!(state.stopped[0].1, "PauseEnded");
    assert_eq!(status_of_record(&state, &id), ApprovalStatus::Expired);
}

fn status_of_record(state: &ecs_canary_aws::fake::FakeState, id: &ApprovalId) -> ApprovalStatus {
    state.approvals[id.key().as_str()].status
}

#[test]
fn failure_names_the_error_and_a_readable_cause() {
    use ecs_canary_handlers::events::error_and_cause as failure;
    let lambda_error = json!({
        "Error": "WeightNotApplied",
        "Cause": "{\"errorType\":\"WeightNotApplied\",\"errorMessage\":\"set 90/10, read 100/0\"}"
    });
    assert_eq!(
        failure(&lambda_error),
        ("WeightNotApplied".into(), "set 90/10, read 100/0".into())
    );
    let rejected = json!({"Error": "Rejected", "Cause": "rejected by email link"});
    assert_eq!(failure(&rejected).1, "rejected by email link");
    let (error, cause) = failure(&json!({"Error": "Rejected"}));
    assert_eq!(error, "Rejected");
    assert!(cause.contains("Rejected"));
    assert_eq!(failure(&json!(null)).0, "RolledBack");
}

#[test]
fn approval_routes_come_from_the_method_and_the_path() {
    use ecs_canary_handlers::steps::approval_api::Route;
    let id = ApprovalId::from_random([9; 16]);
    let link = format!("/lambda-url/approval-api/approvals/{id}");
    assert_eq!(Route::parse("GET", &link), Route::Show(id.clone()));
    assert_eq!(
        Route::parse("HEAD", &format!("/approvals/{id}/")),
        Route::Show(id.clone())
    );
    assert_eq!(Route::parse("POST", &link), Route::Decide(id.clone()));
    assert_eq!(
        Route::parse("PUT", &link),
        Route::MethodNotAllowed { slack: false }
    );
    assert_eq!(
        Route::parse("GET", "/approvals/../../etc"),
        Route::UnknownApproval
    );
    assert_eq!(Route::parse("GET", "/approvals/"), Route::UnknownApproval);
    assert_eq!(
        Route::parse("POST", "/x/slack/interactions/"),
        Route::SlackInteraction
    );
    assert_eq!(
        Route::parse("GET", "/slack/interactions"),
        Route::MethodNotAllowed { slack: true }
    );
    assert_eq!(Route::parse("GET", "/"), Route::NotFound);
    assert_eq!(Route::parse("GET", "/slack"), Route::NotFound);
}

#[tokio::test]
async fn a_guarding_alarm_fails_the_waiting_pause_and_an_alarm_already_firing_asks_nobody() {
    use ecs_canary_core::{AlarmState, ALARMS_TAG};
    let fake = FakeAws::new();
    paused(&fake, true);
    tag_paused(&fake, ALARMS_TAG, "web-5xx");
    fake.state().alarms.insert("web-5xx".into(), AlarmState::Ok);
    let read = read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause");
    assert_eq!(read["ask"], true, "{read}");
    assert_eq!(
        fake.state()
            .locks
            .get("c/native")
            .map(|(owner, _)| owner.clone()),
        Some("arn:gate:1".to_string()),
        "the gate holds the service while it waits"
    );
    ask_pause(context(&fake), &read).await;
    fake.state()
        .alarms
        .insert("web-5xx".into(), AlarmState::Alarm);
    let out = alarm_abort(context(&fake), alarm_event("web-5xx", "ALARM", "OK"))
        .await
        .expect("aborted");
    assert_eq!(out.aborted.len(), 1, "{out:?}");
    assert_eq!(out.aborted[0].how, "failWaitingStep");
    let callbacks = fake.state().callbacks.clone();
    assert!(
        matches!(&callbacks[..], [Callback::Failed { error, .. }] if error == "AlarmTriggered"),
        "{callbacks:?}"
    );
    assert_eq!(
        fake.state().rules.get(RULE),
        Some(&split(75, 25)),
        "ECS moves the traffic back"
    );
    // The gate answers ROLLBACK and gives the service back.
    ecs_canary_handlers::ecs_hook(
        gate_context(&fake),
        json!({"answer": "ROLLBACK", "pause": read["pause"], "failure": {"Error": "AlarmTriggered", "Cause": "web-5xx"}}),
    )
    .await
    .expect("answered");
    assert!(!fake.state().locks.contains_key("c/native"));

    // The next pause, the alarm still in ALARM: nobody is asked.
    if let Some(d) = fake.state().service_deployments.get_mut(NATIVE_DEPLOYMENT) {
        d.hooks[0].hook_id = "ecs-pause-2".into();
        d.hooks[0].status = "AWAITING_ACTION".into();
    }
    let read = read_pause(&fake, "ecs-pause-2", "arn:gate:2")
        .await
        .expect("the pause");
    assert_eq!(read["ask"], false);
    assert_eq!(read["failure"]["Error"], "AlarmTriggered");
}

#[tokio::test]
async fn the_approval_policy_holds_at_a_pause_as_at_a_step() {
    let fake = FakeAws::new();
    paused(&fake, true);
    let read = read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause");
    // The stack decides only on Slack: the email link is refused, and the
    // Slack message carries no link that could decide.
    let slack_only = context_with(&fake, |settings| {
        settings.approval_policy = Some(r#"{"channels": ["slack"]}"#.into());
    });
    ask_pause(slack_only.clone(), &read).await;
    let id = ApprovalId::derive(LINK_SECRET.as_bytes(), "arn:gate:1", 2);
    let (status, page) = post_with(slack_only, &id, "approve").await;
    assert_eq!(status, 403, "{page}");
    let state = fake.state();
    assert!(state.callbacks.is_empty() && state.hook_answers.is_empty());
    assert!(
        state
            .history
            .iter()
            .any(|e| e.kind == HistoryKind::DecisionRefused && e.execution == "arn:gate:1"),
        "{:?}",
        state.history
    );
    assert_eq!(
        state.approvals[id.key().as_str()].status,
        ApprovalStatus::Pending
    );
}

#[tokio::test]
async fn an_operators_abort_of_a_gate_rolls_ecs_back_and_gives_the_service_back() {
    let fake = FakeAws::new();
    asked_pause(&fake).await;
    let aborted = operator::abort(
        &context(&fake),
        "c/native",
        "arn:aws:iam::123456789012:user/ops",
    )
    .await
    .expect("aborted");
    assert_eq!(aborted.links_closed, 1);
    let state = fake.state();
    assert_eq!(
        state.hook_answers,
        vec![(
            NATIVE_DEPLOYMENT.to_string(),
            "ecs-pause-1".to_string(),
            ecs_canary_core::HookAction::Rollback
        )],
        "ECS is told to roll back before the gate stops"
    );
    assert_eq!(state.stopped.len(), 1);
    assert!(
        !state.locks.contains_key("c/native"),
        "the service is given back"
    );
}

#[tokio::test]
async fn between_pauses_the_command_line_is_told_nothing_waits_yet_and_after_the_deployment_that_none_runs(
) {
    let fake = FakeAws::new();
    let read = asked_pause(&fake).await;
    let approved = approve_native_on_cli(&fake).await.expect("approved");
    assert_eq!(approved.status, 200, "{approved:?}");
    ecs_canary_handlers::ecs_hook(
        context(&fake),
        json!({"answer": "CONTINUE", "pause": read["pause"]}),
    )
    .await
    .expect("answered");
    // ECS moves traffic: its deployment goes on, no pause waits.
    fake.state()
        .service_deployments
        .get_mut(NATIVE_DEPLOYMENT)
        .expect("the deployment")
        .hooks[0]
        .status = "SUCCEEDED".into();
    let between = approve_native_on_cli(&fake).await;
    match between {
        Err(operator::OperatorError::NotWaiting { execution, .. }) => {
            assert_eq!(execution, NATIVE_DEPLOYMENT)
        }
        other => panic!("not NotWaiting: {other:?}"),
    }
    fake.state()
        .service_deployments
        .get_mut(NATIVE_DEPLOYMENT)
        .expect("the deployment")
        .status = "SUCCESSFUL".into();
    let after = approve_native_on_cli(&fake).await;
    assert!(
        matches!(after, Err(operator::OperatorError::NoDeployment { .. })),
        "{after:?}"
    );
    assert_eq!(
        fake.state().hook_answers.len(),
        1,
        "only the approval reached ECS"
    );
}

#[tokio::test]
async fn a_pause_shows_the_new_revisions_numbers_and_its_own_threshold_rolls_back_an_approval() {
    use ecs_canary_core::{MAX_ERROR_RATE_INCREASE_TAG, MIN_REQUESTS_TAG};
    let fake = FakeAws::new();
    paused(&fake, true);
    tag_paused(&fake, MAX_ERROR_RATE_INCREASE_TAG, "1");
    tag_paused(&fake, MIN_REQUESTS_TAG, "200");
    failing_candidate(&fake);
    let read = read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause");
    assert_eq!(read["pause"]["routes"]["candidateGroup"], GREEN, "{read}");
    assert_eq!(read["pause"]["routes"]["stableGroup"], BLUE);
    ask_pause(with_channels(&fake), &read).await;
    // The email carries the rollout's numbers so far, from ECS's start.
    let published = fake.state().published.clone();
    let email = &published.first().expect("an email").2;
    assert!(
        email.contains("the rollout so far (10 min; the new revision now at 25 %)")
            && email.contains("new: 500 requests, 10 % 5xx"),
        "{email}"
    );
    assert_eq!(
        fake.state().windows_read.first(),
        Some(&(NOW - 600, NOW)),
        "the rollout so far"
    );
    // A person approves; the numbers are over the service's threshold: ECS
    // is told to roll back, and the channels are told why.
    let answered = ecs_canary_handlers::ecs_hook(
        with_channels(&fake),
        json!({"answer": "CONTINUE", "pause": read["pause"]}),
    )
    .await
    .expect("answered");
    assert_eq!(answered["action"], "ROLLBACK", "{answered}");
    assert_eq!(
        fake.state().hook_answers.last().map(|a| a.2),
        Some(ecs_canary_core::HookAction::Rollback)
    );
    let published = fake.state().published.clone();
    assert!(
        published.iter().any(|(_, subject, text)| subject
            .contains("the automatic analysis failed")
            && text.contains("AnalysisFailed")),
        "{published:?}"
    );
}

#[tokio::test]
async fn at_half_and_half_an_earlier_pause_tells_which_group_is_new() {
    let fake = FakeAws::new();
    paused(&fake, true);
    read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause at 25 %");
    // That gate answered (the service is given back); ECS moved on to 50 %.
    fake.state().locks.remove("c/native");
    fake.state().rules.insert(RULE.into(), split(50, 50));
    if let Some(d) = fake.state().service_deployments.get_mut(NATIVE_DEPLOYMENT) {
        if let Some(target) = d.target.as_mut() {
            target.production_weight = Some(50.0);
        }
        d.hooks[0].hook_id = "ecs-pause-2".into();
    }
    let read = read_pause(&fake, "ecs-pause-2", "arn:gate:2")
        .await
        .expect("the pause at 50 %");
    assert_eq!(read["pause"]["step"], 3);
    assert_eq!(read["pause"]["routes"]["candidateGroup"], GREEN, "{read}");
}

#[tokio::test]
async fn a_services_tag_that_is_no_setting_asks_nobody_and_rolls_back() {
    use ecs_canary_core::APPROVAL_TIMEOUT_TAG;
    let fake = FakeAws::new();
    paused(&fake, true);
    tag_paused(&fake, APPROVAL_TIMEOUT_TAG, "soon");
    let read = read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause");
    assert_eq!(read["ask"], false);
    assert_eq!(read["failure"]["Error"], "InvalidField");
    assert!(
        read["failure"]["Cause"]
            .as_str()
            .is_some_and(|c| c.contains(APPROVAL_TIMEOUT_TAG)),
        "{read}"
    );
    // A valid one is the pause's approval timeout.
    tag_paused(&fake, APPROVAL_TIMEOUT_TAG, "1800");
    let read = read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause");
    assert_eq!(read["pause"]["approvalTimeoutSeconds"], 1800);
}

#[tokio::test]
async fn a_services_own_policy_narrows_who_may_decide_its_pauses() {
    use ecs_canary_core::CHANNELS_TAG;
    let fake = FakeAws::new();
    paused(&fake, true);
    tag_paused(&fake, CHANNELS_TAG, "cli");
    let read = read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause");
    ask_pause(context(&fake), &read).await;
    let id = ApprovalId::derive(LINK_SECRET.as_bytes(), "arn:gate:1", 2);
    let (status, page) = post(&fake, &id, "approve").await;
    assert_eq!(status, 403, "{page}");
    assert!(
        fake.state().callbacks.is_empty(),
        "the link may not decide this service's pauses"
    );
    assert_eq!(status_of(&fake, &id), ApprovalStatus::Pending);
}

/// Step 1 applied with `limits` in the request and waiting for a person,
/// its lock guarded; the link.
async fn waiting_with(fake: &FakeAws, limits: Value) -> ApprovalId {
    let stepped = stepped_with(fake, limits).await;
    fake.state().tag = Some("Blue".into());
    guard_lock(fake, "web-5xx");
    ask(fake, stepped).await
}

#[tokio::test]
async fn the_watch_rolls_back_a_step_wholly_over_its_tolerance_with_nobody_clicking() {
    let fake = FakeAws::new();
    failing_candidate(&fake);
    let link = waiting_with(
        &fake,
        json!({"maxErrorRateIncrease": 2, "minRequests": 100}),
    )
    .await;
    let out = ecs_canary_handlers::watch(context(&fake))
        .await
        .expect("watched");
    assert_eq!((out.judged, out.rolled_back.len()), (1, 1), "{out:?}");
    let payload = run_invoked_rollback(&fake).await;
    assert_eq!(payload["reason"]["Error"], json!("AnalysisFailed"));
    assert_eq!(weights(&fake), split(100, 0), "stable first");
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Rejected);
    assert_eq!(
        fake.state().approvals[link.key().as_str()]
            .decided_by
            .as_deref(),
        Some("the analysis watch")
    );
    assert!(
        matches!(&fake.state().callbacks[..], [Callback::Failed { error, cause, .. }]
            if error == "AnalysisFailed" && cause.contains("95 % interval +")),
        "{:?}",
        fake.state().callbacks
    );
    // The next run finds the rollback running and leaves it be.
    let again = ecs_canary_handlers::watch(context(&fake))
        .await
        .expect("again");
    assert_eq!(again.judged, 0);
    assert_eq!(fake.state().callbacks.len(), 1);
}

#[tokio::test]
async fn the_watch_leaves_alone_a_step_without_a_tolerance_or_within_it() {
    for limits in [
        json!({}),
        // 10 % against 0.2 %, but a tolerance of 20 points.
        json!({"maxErrorRateIncrease": 20}),
    ] {
        let fake = FakeAws::new();
        failing_candidate(&fake);
        let link = waiting_with(&fake, limits.clone()).await;
        let out = ecs_canary_handlers::watch(context(&fake))
            .await
            .expect("watched");
        assert!(out.rolled_back.is_empty(), "{limits}: {out:?}");
        assert_eq!(
            out.judged,
            usize::from(!limits.as_object().unwrap().is_empty())
        );
        assert_eq!(weights(&fake), split(90, 10), "{limits}");
        assert_eq!(status_of(&fake, &link), ApprovalStatus::Pending);
        assert!(fake.state().callbacks.is_empty());
    }
}

/// Whoever may invoke the function can send it a "Scheduled Event" of their
/// own, limits and all: it runs the watch as the schedule does, on the
/// limits each deployment was started with, and decides nothing else.
#[tokio::test]
async fn a_forged_scheduled_event_runs_only_the_watch_on_each_deployments_own_limits() {
    let fake = FakeAws::new();
    failing_candidate(&fake);
    let link = waiting_with(&fake, json!({"maxErrorRateIncrease": 20})).await;
    let forged = json!({
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "detail": {"maxErrorRateIncrease": 0.1, "decision": "reject", "approvalId": link.key().as_str()},
    });
    let out = ecs_canary_handlers::guard(context(&fake), forged)
        .await
        .expect("watched");
    assert!(
        matches!(&out, ecs_canary_handlers::Guarded::Watch(w) if w.judged == 1 && w.rolled_back.is_empty()),
        "{out:?}"
    );
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Pending);
    assert_eq!(weights(&fake), split(90, 10));
    assert!(fake.state().callbacks.is_empty());
}

#[tokio::test]
async fn numbers_the_watch_cannot_read_change_nothing_and_are_said_once() {
    let fake = FakeAws::new();
    failing_candidate(&fake);
    let link = waiting_with(&fake, json!({"maxErrorRateIncrease": 2})).await;
    for _ in 0..2 {
        fake.fail_next(
            "GetMetricData",
            AwsError::Service {
                operation: "cloudwatch:GetMetricData",
                code: "Throttling".into(),
                message: "Rate exceeded".into(),
            },
        );
        let out = ecs_canary_handlers::watch(context(&fake))
            .await
            .expect("watched");
        assert_eq!(out.unavailable.len(), 1, "{out:?}");
    }
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Pending);
    assert_eq!(weights(&fake), split(90, 10));
    let said: Vec<_> = fake
        .state()
        .history
        .iter()
        .filter(|e| e.kind == HistoryKind::Watched)
        .map(|e| e.summary.clone())
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("the analysis watch cannot judge step 1:"),
        "{said:?}"
    );
}

#[tokio::test]
async fn the_watch_rolls_back_a_pause_of_ecs_own_deployment_over_its_services_tolerance() {
    use ecs_canary_core::MAX_ERROR_RATE_INCREASE_TAG;
    let fake = FakeAws::new();
    paused(&fake, true);
    tag_paused(&fake, MAX_ERROR_RATE_INCREASE_TAG, "1");
    failing_candidate(&fake);
    let read = read_pause(&fake, "ecs-pause-1", "arn:gate:1")
        .await
        .expect("the pause");
    ask_pause(context(&fake), &read).await;
    let out = ecs_canary_handlers::watch(context(&fake))
        .await
        .expect("watched");
    assert_eq!(out.rolled_back.len(), 1, "{out:?}");
    assert!(
        matches!(&fake.state().callbacks[..], [Callback::Failed { error, .. }] if error == "AnalysisFailed"),
        "the gate fails, and answers ECS ROLLBACK: {:?}",
        fake.state().callbacks
    );
    assert!(
        fake.state().invocations.is_empty(),
        "ECS moves the traffic back itself"
    );
}

/// The context (with an email topic), its clock at `at` (epoch seconds).
fn context_at(fake: &FakeAws, at: u64) -> Arc<Context> {
    let mut settings = context(fake).settings.clone();
    settings.topic_arn = Some(TOPIC.into());
    Arc::new(Context::with_ports(context(fake).ports.clone(), settings).with_clock(move || at))
}

/// The example deployment (with `extra` in its request) started 100 s
/// before `NOW` and promoted at `NOW`: Green stable, all traffic on it.
async fn promoted_with(fake: &FakeAws, extra: Value) -> Value {
    let mut d = deployment(fake);
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        d["request"][key] = value;
    }
    let typed: ecs_canary_core::Deployment = serde_json::from_value(d.clone()).expect("typed");
    fake.state()
        .history
        .push(ecs_canary_core::HistoryEvent::started(
            &typed,
            (NOW - 100) * 1000,
        ));
    let mut last = d.clone();
    last["split"] = json!({"stable": 50, "candidate": 50});
    last["step"] = json!(1);
    fake.state().rules.insert(RULE.into(), split(50, 50));
    promote(context(fake), json!({"deployment": last}))
        .await
        .expect("promoted");
    assert_eq!(weights(fake), split(0, 100));
    d
}

#[tokio::test]
async fn a_promotion_is_reverted_in_one_rule_change_and_only_once() {
    let fake = FakeAws::new();
    promoted_with(&fake, json!({})).await;
    let reverted = operator::revert(&context_at(&fake, NOW + 60), "c/s", &Approver::cli(BOB))
        .await
        .expect("reverted");
    assert_eq!(reverted.target.colour, Colour::Blue);
    assert_eq!(reverted.target.task_definition, "arn:td/app:1");
    assert_eq!(weights(&fake), split(100, 0), "all traffic back on Blue");
    assert_eq!(fake.state().tag.as_deref(), Some("Blue"));
    assert_eq!(fake.state().rules[TESTER], only(BLUE));
    assert!(
        !fake.state().locks.contains_key("c/s"),
        "the lock is let go"
    );
    let last = fake.state().history.last().cloned().expect("recorded");
    assert_eq!(last.kind, HistoryKind::Reverted);
    assert_eq!(last.by.as_deref(), Some(BOB));
    assert!(
        fake.state()
            .published
            .iter()
            .any(|(_, subject, _)| subject.contains("promotion reverted by")),
        "announced: {:?}",
        fake.state().published
    );
    // Once: the promotion is undone already.
    let again = operator::revert(&context_at(&fake, NOW + 120), "c/s", &Approver::cli(BOB))
        .await
        .expect_err("nothing to revert");
    assert_eq!(refused_name(&again), "NothingToRevert");
    assert_eq!(weights(&fake), split(100, 0));
}

#[tokio::test]
async fn a_revert_is_refused_by_name_and_changes_nothing() {
    type Arrange = fn(&FakeAws);
    let cases: [(&str, Value, Arrange); 5] = [
        (
            "NotAnApprover",
            json!({"approvalPolicy": {"cliPrincipals": [ALICE]}}),
            |_| {},
        ),
        ("ReleaseReplaced", json!({}), |fake| {
            let mut state = fake.state();
            let blue = state.task_sets.get_mut("ts-blue").expect("blue");
            blue.task_definition = "arn:td/app:3".into();
        }),
        ("TaskSetScaledIn", json!({}), |fake| {
            let mut state = fake.state();
            let blue = state.task_sets.get_mut("ts-blue").expect("blue");
            blue.scale_percent = Some(0.0);
        }),
        ("DeploymentInProgress", json!({}), |fake| {
            fake.state()
                .locks
                .insert("c/s".into(), ("run-2".into(), NOW + 3_600));
        }),
        ("DriftDetected", json!({}), |fake| {
            fake.state().rules.insert(RULE.into(), split(10, 90));
        }),
    ];
    for (name, extra, arrange) in cases {
        let fake = FakeAws::new();
        promoted_with(&fake, extra).await;
        arrange(&fake);
        let before = (weights(&fake), fake.state().tag.clone());
        let refused = operator::revert(&context_at(&fake, NOW + 60), "c/s", &Approver::cli(BOB))
            .await
            .expect_err(name);
        assert_eq!(refused_name(&refused), name, "{refused}");
        assert_eq!((weights(&fake), fake.state().tag.clone()), before, "{name}");
        assert!(
            fake.state()
                .history
                .iter()
                .all(|e| e.kind != HistoryKind::Reverted),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_revert_that_cannot_finish_puts_the_traffic_back_as_the_promotion_left_it() {
    let fake = FakeAws::new();
    promoted_with(&fake, json!({})).await;
    fake.fail_next("TagResource", throttled("ecs:TagResource"));
    let failed = operator::revert(&context_at(&fake, NOW + 60), "c/s", &Approver::cli(BOB))
        .await
        .expect_err("the tag fails");
    assert_eq!(refused_name(&failed), "Throttled");
    assert_eq!(weights(&fake), split(0, 100), "all traffic on Green again");
    assert_eq!(fake.state().tag.as_deref(), Some("Green"));
    assert!(!fake.state().locks.contains_key("c/s"));
}

fn refused_name(error: &operator::OperatorError) -> &'static str {
    match error {
        operator::OperatorError::Function(e) => e.error_type(),
        other => panic!("not a function error: {other}"),
    }
}

/// The only callback Step Functions got: a success's output.
fn succeeded_output(fake: &FakeAws) -> Value {
    match &fake.state().callbacks[..] {
        [Callback::Succeeded { output, .. }] => serde_json::from_str(output).expect("JSON"),
        other => panic!("one success, not {other:?}"),
    }
}

fn hold_for(seconds: u64) -> ecs_canary_handlers::actions::decision::Choice {
    let mut choice = ecs_canary_handlers::actions::decision::Choice::of(Decision::Hold);
    choice.hold_seconds = seconds;
    choice
}

#[tokio::test]
async fn a_held_step_waits_longer_with_the_same_link_and_its_lock_lasts_as_long() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    let link = ask(&fake, stepped.clone()).await;
    let outcome =
        operator::decide_waiting_with(&context(&fake), "c/s", hold_for(7_200), &Approver::cli(BOB))
            .await
            .expect("held");
    assert_eq!(outcome.status, 200, "{outcome:?}");
    // Step Functions is told to wait again, until the new deadline.
    let output = succeeded_output(&fake);
    assert_eq!(output["decision"], json!("hold"));
    assert_eq!(output["toPromotion"], json!(false));
    assert_eq!(output["heldUntil"], json!(NOW + 600 + 7_200));
    assert_eq!(output["waitSeconds"], json!(600 + 7_200));
    // The lock outlasts the step by as much as it did before.
    assert_eq!(fake.state().locks["c/s"].1, NOW + 3_600 + 7_200);
    // Until the step is asked again, a click is told a decision is being
    // recorded; nothing moved.
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Deciding);
    assert_eq!(weights(&fake), split(90, 10));
    // The state machine asks again (Held → RequestApproval, a new token):
    // the same link, pending until the new deadline, told on every channel.
    let mut held = stepped.clone();
    held["approval"] = output.clone();
    held["waitSeconds"] = output["waitSeconds"].clone();
    request_approval(
        context_at(&fake, NOW),
        json!({"taskToken": "token-2", "execution": "run-1", "deployment": held}),
    )
    .await
    .expect("asked again");
    let record = fake.state().approvals[link.key().as_str()].clone();
    assert_eq!(
        (record.status, record.expires_at, record.task_token.as_str()),
        (ApprovalStatus::Pending, NOW + 7_800, "token-2")
    );
    assert!(
        fake.state()
            .published
            .iter()
            .any(|(_, subject, body)| subject.starts_with("Held until ") && body.contains(BOB)),
        "{:?}",
        fake.state().published
    );
    let decided = fake.state().history.last().cloned().expect("recorded");
    assert!(
        fake.state()
            .history
            .iter()
            .any(|e| e.kind == HistoryKind::Decided && e.summary.contains("held until")),
        "{decided:?}"
    );
}

#[tokio::test]
async fn a_hold_that_does_not_apply_is_refused_by_name_and_changes_nothing() {
    // Beyond the execution's year (it started 364 days ago).
    let fake = FakeAws::new();
    let mut stepped = stepped_with(&fake, json!({})).await;
    stepped["startedAt"] = json!(NOW - 364 * 86_400);
    ask(&fake, stepped).await;
    let outcome = operator::decide_waiting_with(
        &context(&fake),
        "c/s",
        hold_for(2 * 86_400),
        &Approver::cli(BOB),
    )
    .await
    .expect("answered");
    assert_eq!(outcome.status, 409, "{outcome:?}");
    assert!(outcome.message.contains("HoldTooLong"), "{outcome:?}");
    assert!(fake.state().callbacks.is_empty());
    assert_eq!(fake.state().locks["c/s"].1, NOW + 3_600);

    // The gate before the start: approve or reject it.
    let fake = FakeAws::new();
    arrange_example(&fake, (100, 0));
    let gate = deployment(&fake);
    request_approval(
        context(&fake),
        json!({"taskToken": "token-1", "execution": "run-1", "deployment": gate}),
    )
    .await
    .expect("the gate before the start asks");
    fake.state().guards.insert(
        "c/s".into(),
        ecs_canary_aws::LockGuard {
            alarms: Vec::new(),
            steps: 2,
            stack: Some("st".into()),
        },
    );
    let outcome =
        operator::decide_waiting_with(&context(&fake), "c/s", hold_for(600), &Approver::cli(BOB))
            .await
            .expect("answered");
    assert_eq!(outcome.status, 409, "{outcome:?}");
    assert!(outcome.message.contains("NotHoldable"), "{outcome:?}");
    assert!(fake.state().callbacks.is_empty());
}

#[tokio::test]
async fn an_approval_to_promotion_approves_every_remaining_step_unless_the_policy_wants_each() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    ask(&fake, stepped).await;
    let mut choice = ecs_canary_handlers::actions::decision::Choice::of(Decision::Approve);
    choice.to_promotion = true;
    let outcome =
        operator::decide_waiting_with(&context(&fake), "c/s", choice, &Approver::cli(BOB))
            .await
            .expect("approved");
    assert_eq!(outcome.status, 200, "{outcome:?}");
    assert_eq!(succeeded_output(&fake)["toPromotion"], json!(true));
    let skipped: Vec<_> = fake
        .state()
        .history
        .iter()
        .filter(|e| e.kind == HistoryKind::Decided && e.summary.contains("skipped"))
        .map(|e| e.step)
        .collect();
    assert_eq!(skipped, vec![Some(2)], "step 2 of 2 is recorded as skipped");

    // Under `stepByStep`: refused by the policy, nothing passed on.
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({"approvalPolicy": {"stepByStep": true}})).await;
    let link = ask(&fake, stepped).await;
    let outcome =
        operator::decide_waiting_with(&context(&fake), "c/s", choice, &Approver::cli(BOB))
            .await
            .expect("answered");
    assert_eq!(outcome.status, 403, "{outcome:?}");
    assert!(outcome.message.contains("SkipNotAllowed"), "{outcome:?}");
    assert!(fake.state().callbacks.is_empty());
    assert_eq!(status_of(&fake, &link), ApprovalStatus::Pending);
    // One step at a time is still allowed.
    let one = operator::decide_waiting(
        &context(&fake),
        "c/s",
        Decision::Approve,
        &Approver::cli(BOB),
    )
    .await
    .expect("approved");
    assert_eq!(one.status, 200, "{one:?}");
    assert_eq!(succeeded_output(&fake)["toPromotion"], json!(false));
}

#[tokio::test]
async fn a_release_baking_after_promotion_is_reverted_by_its_alarm() {
    let fake = FakeAws::new();
    fake.state()
        .alarms
        .insert("web-5xx".into(), ecs_canary_core::AlarmState::Ok);
    promoted_with(&fake, json!({"bakeMinutes": 30, "alarms": ["web-5xx"]})).await;
    guard_lock(&fake, "web-5xx");
    // The lock stays, baking; the execution's end leaves it be.
    assert_eq!(fake.state().baking.get("c/s"), Some(&(NOW + 1_800)));
    assert_eq!(
        fake.state().locks["c/s"],
        ("run-1".to_string(), NOW + 1_800)
    );
    let ended = reconcile(
        context(&fake),
        json!({"executionArn": "run-1", "status": "SUCCEEDED",
               "input": deployment(&FakeAws::new())["request"].clone()}),
    )
    .await
    .expect("reconciled");
    assert!(!ended.lock_released);
    assert!(fake.state().locks.contains_key("c/s"), "still baking");
    // The alarm fires during the bake: back to the release before.
    let out = alarm_abort(
        context_at(&fake, NOW + 600),
        alarm_event("web-5xx", "ALARM", "OK"),
    )
    .await
    .expect("reverted");
    assert_eq!(out.aborted[0].how, "revertedBake", "{out:?}");
    assert_eq!(weights(&fake), split(100, 0), "all traffic back on Blue");
    assert_eq!(fake.state().tag.as_deref(), Some("Blue"));
    assert!(!fake.state().locks.contains_key("c/s"), "the bake is over");
    let last = fake.state().history.last().cloned().expect("recorded");
    assert_eq!(last.kind, HistoryKind::Reverted);
    assert!(
        last.summary
            .contains("the guarding alarm web-5xx during the bake"),
        "{}",
        last.summary
    );
}

#[tokio::test]
async fn a_bake_without_an_alarm_ends_at_its_time_and_frees_the_service() {
    let fake = FakeAws::new();
    promoted_with(&fake, json!({"bakeMinutes": 30})).await;
    // Before its end the watch leaves it; after, it lets it go.
    let early = ecs_canary_handlers::watch(context_at(&fake, NOW + 60))
        .await
        .expect("watched");
    assert!(early.baked.is_empty());
    assert!(fake.state().locks.contains_key("c/s"));
    let done = ecs_canary_handlers::watch(context_at(&fake, NOW + 1_800))
        .await
        .expect("watched");
    assert_eq!(done.baked, vec!["c/s".to_string()]);
    assert!(!fake.state().locks.contains_key("c/s"));
    assert_eq!(
        fake.state().history.last().map(|e| e.kind),
        Some(HistoryKind::Baked)
    );
    assert_eq!(weights(&fake), split(0, 100), "the new release stays");
}

#[tokio::test]
async fn a_step_sent_back_applies_the_one_before_in_a_new_round_with_a_new_link() {
    let fake = FakeAws::new();
    let stepped = stepped_with(&fake, json!({})).await;
    let first = ask(&fake, stepped.clone()).await;
    // Approved to step 2 (50 %), then sent back.
    let mut at_two = stepped.clone();
    at_two["approval"] = json!({"decision": "approve", "toPromotion": false});
    let two = set_weights(context(&fake), json!({"deployment": at_two}))
        .await
        .expect("step 2");
    assert_eq!(weights(&fake), split(50, 50));
    let mut sent_back = serde_json::to_value(&two).expect("json");
    sent_back["approval"] = json!({"decision": "back", "toPromotion": false});
    let back = set_weights(context(&fake), json!({"deployment": sent_back.clone()}))
        .await
        .expect("back to step 1");
    assert_eq!(weights(&fake), split(90, 10));
    assert_eq!((back.deployment.step, back.deployment.round), (Some(0), 1));
    assert!(!back.last_step);
    // A retry of the same state does the same (no second round).
    let retried = set_weights(context(&fake), json!({"deployment": sent_back}))
        .await
        .expect("the retry");
    assert_eq!(
        (retried.deployment.step, retried.deployment.round),
        (Some(0), 1)
    );
    // Step 1 is asked again with a new link; the old one no longer leads there.
    request_approval(
        context(&fake),
        json!({"taskToken": "token-2", "execution": "run-1",
               "deployment": serde_json::to_value(&back).expect("json")}),
    )
    .await
    .expect("asked again");
    let again = ApprovalId::derive(LINK_SECRET.as_bytes(), "run-1#round1", 0);
    assert_ne!(again, first);
    assert_eq!(status_of(&fake, &again), ApprovalStatus::Pending);
    // Back from step 1: 0 %, then nothing before it.
    let mut from_one = serde_json::to_value(&back).expect("json");
    from_one["approval"] = json!({"decision": "back", "toPromotion": false});
    let zero = set_weights(context(&fake), json!({"deployment": from_one}))
        .await
        .expect("back to 0 %");
    assert_eq!(weights(&fake), split(100, 0));
    assert_eq!((zero.deployment.step, zero.deployment.round), (None, 2));
    assert!(zero.deployment.applied_at.is_empty());
}

#[tokio::test]
async fn a_promotion_is_announced_with_the_way_back() {
    let fake = FakeAws::new();
    promoted_with(&fake, json!({"bakeMinutes": 30})).await;
    let ended = reconcile(
        context_at(&fake, NOW),
        json!({"executionArn": "run-1", "status": "SUCCEEDED",
               "input": {"cluster": "c", "service": "s", "stack": "st",
                         "environment": {"APPVERSION": "1.0.1"}, "steps": [10, 50],
                         "bakeMinutes": 30}}),
    )
    .await
    .expect("reconciled");
    assert_eq!(ended.channels, vec!["email".to_string()]);
    let published = fake.state().published.clone();
    let [(_, subject, body)] = published.as_slice() else {
        panic!("one email: {published:?}")
    };
    assert_eq!(subject, "s: promoted - Green is stable");
    assert!(body.contains("ecs-canary revert c/s"), "{body}");
    assert!(body.contains("Bake:      until "), "{body}");
    assert!(fake.state().locks.contains_key("c/s"), "still baking");
}

#[tokio::test]
async fn the_link_in_a_promotions_notice_reverts_it_once_and_decides_nothing_else() {
    let fake = FakeAws::new();
    promoted_with(&fake, json!({})).await;
    reconcile(
        context_at(&fake, NOW),
        json!({"executionArn": "run-1", "status": "SUCCEEDED",
               "input": {"cluster": "c", "service": "s", "stack": "st",
                         "environment": {"APPVERSION": "1.0.1"}, "steps": [10, 50]}}),
    )
    .await
    .expect("reconciled");
    let body = fake.state().published[0].2.clone();
    let url = body
        .split_whitespace()
        .find(|w| w.contains("/approvals/"))
        .unwrap_or_else(|| panic!("a revert link: {body}"))
        .to_string();
    let id = ApprovalId::parse(url.rsplit('/').next().unwrap_or_default()).expect("an id");
    // It approves nothing.
    let (status, page) = post(&fake, &id, "approve").await;
    assert_eq!(status, 400, "{page}");
    assert_eq!(weights(&fake), split(0, 100));
    // It reverts, once.
    let (status, page) = post_with(context_at(&fake, NOW + 60), &id, "revert").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(weights(&fake), split(100, 0));
    assert_eq!(fake.state().tag.as_deref(), Some("Blue"));
    assert_eq!(status_of(&fake, &id), ApprovalStatus::Approved);
    let reverted = fake.state().history.last().cloned().expect("recorded");
    assert_eq!(
        (reverted.kind, reverted.by.as_deref()),
        (HistoryKind::Reverted, Some("email link"))
    );
    let (status, _) = post_with(context_at(&fake, NOW + 120), &id, "revert").await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_steps_link_reverts_nothing() {
    let fake = FakeAws::new();
    let id = pending(&fake);
    let (status, page) = post(&fake, &id, "revert").await;
    assert_eq!(status, 400, "{page}");
    assert_eq!(status_of(&fake, &id), ApprovalStatus::Pending);
    assert!(fake.state().callbacks.is_empty());
}
