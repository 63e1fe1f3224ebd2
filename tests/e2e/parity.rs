//! One set of port contracts, run against the in-memory fake (what the
//! handler tests use) and against the adapters on the emulator (the SDK's
//! own requests and error shapes, DynamoDB's conditional writes, ELBv2), so
//! that the fake cannot drift from what AWS does. Each test also checks the
//! adapters' conditional writes: a lock taken twice, expired, held by
//! another; a decision taken once, taken over when its decider died,
//! settled; the same history event written twice.

use std::time::Duration;

use ecs_canary_aws::fake::FakeAws;
use ecs_canary_aws::{
    ApprovalRecord, ApprovalStore, DecideOutcome, HistoryStore, LockGuard, LockStore, RuleStore,
};
use ecs_canary_core::{
    ApprovalFacts, ApprovalId, ApprovalKey, ApprovalStatus, Colour, Decision, ErrorName,
    ForwardTarget, HistoryEvent, SplitRecord, TrafficSplit, DECIDING_TAKEOVER_SECONDS,
};
use ecs_canary_e2e::example::create_example_app;
use ecs_canary_e2e::{create_table, Emulator};

const APPROVALS: &str = "parity-approvals";
const HISTORY: &str = "parity-history";
const LOCKS: &str = "parity-locks";

/// The lock: taken once, renewed by its owner, refused to another until it
/// expires, the split recorded only by its owner, released only by it.
async fn lock_contract(locks: &dyn LockStore) {
    let key = "prod/web";
    let guard = LockGuard {
        alarms: vec!["web-5xx".into()],
        steps: 2,
        stack: Some("web-stack".into()),
    };
    locks
        .acquire(key, "run-1", 100, 200, &guard)
        .await
        .expect("a free lock is taken");
    locks
        .acquire(key, "run-1", 110, 210, &guard)
        .await
        .expect("its owner renews it");
    let refused = locks
        .acquire(key, "run-2", 150, 250, &LockGuard::default())
        .await
        .expect_err("held by another");
    assert_eq!(refused.error_type(), "DeploymentInProgress");
    assert_eq!(locks.holder(key).await.expect("read"), Some("run-1".into()));

    let record = SplitRecord {
        stable: Colour::Blue,
        last_set: TrafficSplit::all_stable(),
        intended: TrafficSplit::new(90, 10).expect("a split"),
    };
    assert!(!locks
        .record_split(key, "run-2", &record)
        .await
        .expect("write"));
    assert!(locks
        .record_split(key, "run-1", &record)
        .await
        .expect("write"));
    let held = locks.held(key).await.expect("read").expect("held");
    assert_eq!(
        (
            held.owner.as_str(),
            held.expires_at,
            &held.guard,
            held.split
        ),
        ("run-1", 210, &guard, Some(record))
    );
    assert!(!held.rolling_back);
    let guarded: Vec<String> = locks
        .guarded_by("web-5xx")
        .await
        .expect("scan")
        .into_iter()
        .map(|l| l.key)
        .collect();
    assert_eq!(guarded, [key]);
    assert!(locks
        .guarded_by("other-alarm")
        .await
        .expect("scan")
        .is_empty());

    assert!(!locks.mark_rolling_back(key, "run-2").await.expect("write"));
    assert!(locks.mark_rolling_back(key, "run-1").await.expect("write"));
    assert!(
        locks
            .held(key)
            .await
            .expect("read")
            .expect("held")
            .rolling_back
    );

    assert!(!locks.release(key, "run-2").await.expect("not its lock"));
    assert!(locks.release(key, "run-1").await.expect("its lock"));
    assert!(!locks.release(key, "run-1").await.expect("gone already"));
    assert_eq!(locks.held(key).await.expect("read"), None);

    // An expired lock is another deployment's to take.
    locks
        .acquire(key, "run-3", 300, 400, &guard)
        .await
        .expect("taken");
    locks
        .acquire(key, "run-4", 401, 500, &guard)
        .await
        .expect("an expired lock is taken over");
    assert_eq!(locks.holder(key).await.expect("read"), Some("run-4".into()));
}

fn facts(step: usize) -> ApprovalFacts {
    ApprovalFacts {
        cluster: "prod".into(),
        service: "web".into(),
        release: "image repo/web:1 -> repo/web:2".into(),
        stable: Colour::Blue.to_string(),
        candidate: Colour::Green.to_string(),
        step,
        steps: 2,
        split: TrafficSplit::new(90, 10).expect("a split"),
        next_percent: Some(50),
        evidence: None,
        plan: vec![10, 50],
        started: None,
        holdable: true,
        back_at_zero: false,
        revert: false,
    }
}

fn record(key: ApprovalKey, execution: &str, step: usize, expires_at: u64) -> ApprovalRecord {
    ApprovalRecord {
        key,
        task_token: format!("token-{execution}-{step}"),
        execution: execution.into(),
        facts: facts(step + 1),
        expires_at,
        status: ApprovalStatus::Pending,
        decided_by: None,
        decided_at: None,
        deployment: None,
        native: None,
    }
}

fn key(execution: &str, step: usize) -> ApprovalKey {
    ApprovalId::derive(b"parity", execution, step).key()
}

fn status(outcome: &DecideOutcome) -> &'static str {
    match outcome {
        DecideOutcome::Decided(_) => "decided",
        DecideOutcome::AlreadyDecided(_) => "already decided",
        DecideOutcome::Expired(_) => "expired",
        DecideOutcome::Unknown => "unknown",
    }
}

/// Approvals: a step claimed once (a retry finds its link and what was
/// delivered; a new link — a new round — starts it over), a decision taken once (`PENDING → DECIDING`), taken over
/// when its decider died, settled, sent back to pending; links expired.
async fn approval_contract(approvals: &dyn ApprovalStore) {
    let (execution, step) = ("run-1", 0);
    let link = key(execution, step);
    let first = approvals
        .claim_step(execution, step, &link, 1_000)
        .await
        .expect("claim");
    assert!(first.first && first.delivered.is_empty() && first.key == link);
    approvals
        .mark_delivered(execution, step, "email")
        .await
        .expect("mark");
    let again = approvals
        .claim_step(execution, step, &link, 1_000)
        .await
        .expect("claim again");
    assert!(!again.first);
    assert_eq!(
        (again.key, again.delivered),
        (link.clone(), vec!["email".into()])
    );
    // Asked again with a new link (the rollout was sent back a step): the
    // step's request starts over, and follows the new link.
    let round = key(execution, 9);
    let anew = approvals
        .claim_step(execution, step, &round, 1_000)
        .await
        .expect("claim in a new round");
    assert!(anew.first && anew.delivered.is_empty() && anew.key == round);
    // (Back to the first link for the rest of the contract.)
    approvals
        .claim_step(execution, step, &link, 1_000)
        .await
        .expect("claim the first link again");

    let stored = record(link.clone(), execution, step, 1_000);
    approvals.put(&stored).await.expect("put");
    assert_eq!(
        approvals.get(&link).await.expect("get"),
        Some(stored.clone())
    );
    assert_eq!(
        approvals.pending(execution, 2).await.expect("pending"),
        Some(stored.clone())
    );

    // A decision is taken once.
    let decided = approvals
        .decide(&link, Decision::Approve, "alice", "t1", 100)
        .await
        .expect("decide");
    assert_eq!(decided, DecideOutcome::Decided(stored.clone()));
    let deciding = approvals.get(&link).await.expect("get").expect("stored");
    assert_eq!(deciding.status, ApprovalStatus::Deciding);
    assert_eq!(deciding.decided_by.as_deref(), Some("alice"));
    let second = approvals
        .decide(&link, Decision::Reject, "bob", "t2", 101)
        .await
        .expect("decide");
    assert_eq!(status(&second), "already decided");
    // Its decider died: taken over after DECIDING_TAKEOVER_SECONDS.
    let late = 100 + DECIDING_TAKEOVER_SECONDS + 1;
    let taken_over = approvals
        .decide(&link, Decision::Reject, "bob", "t3", late)
        .await
        .expect("decide");
    assert_eq!(status(&taken_over), "decided");
    // Not passed on: pending again, nobody's.
    approvals
        .settle(&link, ApprovalStatus::Pending)
        .await
        .expect("settle");
    let pending = approvals.get(&link).await.expect("get").expect("stored");
    assert_eq!(
        (pending.status, pending.decided_by),
        (ApprovalStatus::Pending, None)
    );
    approvals
        .decide(&link, Decision::Approve, "carol", "t4", late + 1)
        .await
        .expect("decide");
    approvals
        .settle(&link, ApprovalStatus::Approved)
        .await
        .expect("settle");
    let approved = approvals.get(&link).await.expect("get").expect("stored");
    assert_eq!(
        (approved.status, approved.decided_by.as_deref()),
        (ApprovalStatus::Approved, Some("carol"))
    );
    let after = approvals
        .decide(&link, Decision::Reject, "dave", "t5", late + 2)
        .await
        .expect("decide");
    assert_eq!(status(&after), "already decided");
    assert_eq!(
        approvals.pending(execution, 2).await.expect("pending"),
        None
    );

    // A retried request renews the link with its new token.
    let mut renewed = record(link.clone(), execution, step, 2_000);
    renewed.task_token = "token-retry".into();
    approvals.renew(&renewed).await.expect("renew");
    let found = approvals.get(&link).await.expect("get").expect("stored");
    assert_eq!(
        (found.task_token.as_str(), found.status, found.expires_at),
        ("token-retry", ApprovalStatus::Pending, 2_000)
    );

    // Past its expiry a link decides nothing; an unknown one is unknown.
    let old = key("run-2", 0);
    approvals
        .put(&record(old.clone(), "run-2", 0, 50))
        .await
        .expect("put");
    let expired = approvals
        .decide(&old, Decision::Approve, "alice", "t6", 100)
        .await
        .expect("decide");
    assert_eq!(status(&expired), "expired");
    let unknown = approvals
        .decide(&key("run-9", 0), Decision::Approve, "alice", "t7", 100)
        .await
        .expect("decide");
    assert_eq!(status(&unknown), "unknown");

    // Closing an execution's pending links (each step's request claimed
    // first, as request-approval does).
    let second_step = key(execution, 1);
    approvals
        .claim_step(execution, 1, &second_step, 3_000)
        .await
        .expect("claim");
    approvals
        .put(&record(second_step.clone(), execution, 1, 3_000))
        .await
        .expect("put");
    assert_eq!(
        approvals
            .expire_pending(execution, 2)
            .await
            .expect("expire"),
        2
    );
    assert_eq!(
        approvals.pending(execution, 2).await.expect("pending"),
        None
    );
    assert_eq!(
        approvals
            .get(&second_step)
            .await
            .expect("get")
            .map(|r| r.status),
        Some(ApprovalStatus::Expired)
    );
    assert_eq!(
        approvals
            .expire_pending(execution, 2)
            .await
            .expect("expire"),
        0
    );
}

/// The history: newest first, the same event written twice is one event,
/// and an event once written is never overwritten.
async fn history_contract(history: &dyn HistoryStore) {
    let first = HistoryEvent::unlocked("prod/web".into(), 1_000, "alice", "run-1");
    let second = HistoryEvent::aborted("prod/web".into(), "run-2", 2_000, "bob", "aborted");
    let other = HistoryEvent::unlocked("prod/api".into(), 1_500, "alice", "run-3");
    let mut rewritten = first.clone();
    rewritten.summary = "nothing happened here".into();
    assert_eq!(rewritten.sort_key(), first.sort_key());
    for event in [&first, &second, &first, &other, &rewritten] {
        history.record(event).await.expect("record");
    }
    let listed = history.list("prod/web", 10).await.expect("list");
    assert_eq!(listed, [second.clone(), first.clone()]);
    assert_eq!(history.list("prod/web", 1).await.expect("list"), [second]);
    let mut services = history.services().await.expect("services");
    services.sort();
    assert_eq!(services, ["prod/api", "prod/web"]);
}

/// A rule's forward targets changed, and read back — at once, or after a
/// read lag during which a read shows what the rule was before, never
/// anything else.
async fn rule_contract(rules: &dyn RuleStore, rule_arn: &str, lagging: bool) {
    let before = rules.rule(rule_arn).await.expect("read").forward_targets();
    let groups: Vec<String> = before.iter().map(|t| t.target_group_arn.clone()).collect();
    assert_eq!(groups.len(), 2, "two target groups: {before:?}");
    // Another split than the rule holds, so that a stale read shows.
    let first = if before[0].weight == 90 { 20 } else { 90 };
    let targets = vec![
        ForwardTarget {
            target_group_arn: groups[0].clone(),
            weight: first,
        },
        ForwardTarget {
            target_group_arn: groups[1].clone(),
            weight: 100 - first,
        },
    ];
    let live = rules.rule(rule_arn).await.expect("read");
    rules
        .set_forward_targets(&live, &targets)
        .await
        .expect("modify");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut stale_reads = 0;
    loop {
        let read = rules.rule(rule_arn).await.expect("read").forward_targets();
        if read == targets {
            break;
        }
        assert_eq!(read, before, "a lagging read shows the rule as it was");
        stale_reads += 1;
        assert!(tokio::time::Instant::now() < deadline, "never read back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        stale_reads > 0,
        lagging,
        "{stale_reads} stale reads; before {before:?}, set {targets:?}"
    );
    let unknown = rules
        .rule(&format!("{rule_arn}-gone"))
        .await
        .expect_err("no such rule");
    assert_eq!(unknown.error_type(), "RuleNotFound");
}

#[tokio::test]
async fn locks_behave_alike_in_the_fake_and_on_the_emulator() {
    lock_contract(&FakeAws::new()).await;
    let emulator = Emulator::start().await;
    let config = emulator.sdk_config().await;
    create_table(&config, LOCKS, "lockKey").await;
    lock_contract(&emulator.clients().await.locks(LOCKS)).await;
}

#[tokio::test]
async fn approvals_behave_alike_in_the_fake_and_on_the_emulator() {
    approval_contract(&FakeAws::new()).await;
    let emulator = Emulator::start().await;
    create_table(&emulator.sdk_config().await, APPROVALS, "approvalId").await;
    approval_contract(&emulator.clients().await.approvals(APPROVALS)).await;
}

#[tokio::test]
async fn the_history_behaves_alike_in_the_fake_and_on_the_emulator() {
    history_contract(&FakeAws::new()).await;
    let emulator = Emulator::start().await;
    create_history_table(&emulator).await;
    history_contract(&emulator.clients().await.history(HISTORY)).await;
}

#[tokio::test]
async fn rules_behave_alike_in_the_fake_and_on_the_emulator() {
    let rule = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/2/3";
    let groups = ["arn:tg/blue", "arn:tg/green"].map(|arn| ForwardTarget {
        target_group_arn: arn.into(),
        weight: 50,
    });
    let fake = FakeAws::new();
    fake.state().rules.insert(rule.into(), groups.to_vec());
    rule_contract(&fake, rule, false).await;
    fake.state().stale_rule_reads = 2;
    rule_contract(&fake, rule, true).await;

    let emulator = Emulator::start().await;
    let clients = emulator.clients().await;
    let stack = create_example_app(&clients).await.expect("the example app");
    let rule = clients
        .stacks
        .physical_id(stack, "MyListenerRule")
        .await
        .expect("the weighted rule");
    rule_contract(&clients.rules, &rule, false).await;
    emulator
        .bad_day(serde_json::json!({"ruleReadLagSeconds": 1.0}))
        .await;
    // The lag counts from a rule's last change: let the first run's pass.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    rule_contract(&clients.rules, &rule, true).await;
}

/// The history table as `infra/` creates it: `service` + `at`.
async fn create_history_table(emulator: &Emulator) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key schema")
    };
    aws_sdk_dynamodb::Client::new(&emulator.sdk_config().await)
        .create_table()
        .table_name(HISTORY)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("service"))
        .attribute_definitions(attribute("at"))
        .key_schema(key("service", KeyType::Hash))
        .key_schema(key("at", KeyType::Range))
        .send()
        .await
        .expect("create the history table");
}
