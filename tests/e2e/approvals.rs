//! The state machine, executed for real by the emulator's interpreter,
//! invoking the real binaries; approvals given over HTTP the way a person does.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_aws::AwsClients;
use ecs_canary_core::{slack_signature, Colour};
use ecs_canary_e2e::cli::{ecs_canary, someone_else, user_arn, OPERATOR};
use ecs_canary_e2e::example::{app_lock_holder as lock_holder, app_state as state};
use ecs_canary_e2e::flow::{
    example_flow, example_flow_with, example_input, link_in, open, port_and_path, submit, Flow,
};
use ecs_canary_e2e::{
    form_encode, http_request_with, Emulator, EmulatorOptions, APPROVALS_TABLE, HISTORY_TABLE,
    SLACK_SIGNING_SECRET,
};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// A value that must stay in the task definition.
const SECRET_VALUE: &str = "e2e-hunter2-db-password";

fn input(version: &str, timeout: u64) -> Value {
    example_input(version, json!([10, 50]), timeout)
}

async fn started() -> (Emulator, AwsClients, Flow) {
    example_flow().await
}

/// The approval link of the next email; asserts the email says what a person needs.
async fn next_link(flow: &Flow) -> (String, String) {
    let (subject, body) = flow
        .next_approval_email(WAIT)
        .await
        .expect("an approval email");
    assert!(subject.contains("myservice"), "{subject}");
    // The release as a difference from stable: 1.0.0 → the new version.
    assert!(body.contains("APPVERSION 1.0.0 → "), "{body}");
    (link_in(&body), body)
}

/// Approves the way a person does: open the link, then press Approve.
async fn approve(link: &str) {
    let (status, page) = open(link).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("id=\"approve\"") && page.contains("id=\"reject\""),
        "{page}"
    );
    let (status, page) = submit(link, "approve").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Approved"), "{page}");
}

#[tokio::test]
async fn approving_every_step_promotes_the_candidate() {
    let (emulator, clients, flow) = started().await;
    // A variable whose name looks secret: its value reaches the task
    // definition and nothing else.
    let mut deployment = input("1.0.1", 600);
    deployment["environment"]["DB_PASSWORD"] = json!(SECRET_VALUE);
    let execution = flow.start("deploy-1-0-1", &deployment).await;

    // Step 1: 10 % on Green, waiting for a person.
    let (link, first_email) = next_link(&flow).await;
    assert!(first_email.contains("1 of 2"), "{first_email}");
    assert!(
        first_email.contains("DB_PASSWORD added (value hidden)"),
        "{first_email}"
    );
    let (_, page) = open(&link).await;
    assert!(page.contains("DB_PASSWORD added (value hidden)"), "{page}");
    for text in [&first_email, &page] {
        assert!(!text.contains(SECRET_VALUE), "{text}");
    }
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (90, 10));
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    approve(&link).await;
    let first_link = link.clone();

    // Step 2: 50 %.
    let (link, second_email) = next_link(&flow).await;
    assert!(
        second_email.contains("2 of 2") && second_email.contains("promote"),
        "{second_email}"
    );
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (50, 50));
    approve(&link).await;

    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error:?}");
    let end = state(&clients).await;
    assert_eq!(end.tag.as_deref(), Some("Green"));
    assert_eq!(end.split_towards(Colour::Green), (100, 0));
    assert_eq!(lock_holder(&clients).await, None);

    // The secret value is in the candidate's task definition …
    let config = emulator.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let arns = ecs
        .list_task_definitions()
        .send()
        .await
        .expect("task definitions")
        .task_definition_arns()
        .to_vec();
    let mut with_secret = Vec::new();
    for arn in arns {
        let described = ecs
            .describe_task_definition()
            .task_definition(&arn)
            .send()
            .await
            .expect("a task definition");
        // (The SDK's Debug of a whole task definition redacts it.)
        let has_secret = described.task_definition().is_some_and(|definition| {
            definition
                .container_definitions()
                .iter()
                .flat_map(|container| container.environment())
                .any(|variable| variable.value() == Some(SECRET_VALUE))
        });
        if has_secret {
            with_secret.push(arn);
        }
    }
    assert_eq!(
        with_secret.len(),
        1,
        "the candidate's task definition has it"
    );
    // … and in no state's output, history item or email.
    for event in flow.history(&execution).await {
        let outputs = [
            event.state_exited_event_details().and_then(|d| d.output()),
            event
                .task_succeeded_event_details()
                .and_then(|d| d.output()),
            event
                .lambda_function_succeeded_event_details()
                .and_then(|d| d.output()),
            event
                .execution_succeeded_event_details()
                .and_then(|d| d.output()),
        ];
        for output in outputs.into_iter().flatten() {
            assert!(!output.contains(SECRET_VALUE), "{output}");
        }
    }
    assert!(!second_email.contains(SECRET_VALUE), "{second_email}");

    // The link ids are stored only hashed, and appear in no log and nowhere
    // in the execution history (which keeps every payload).
    let keys: Vec<String> = aws_sdk_dynamodb::Client::new(&config)
        .scan()
        .table_name(APPROVALS_TABLE)
        .send()
        .await
        .expect("scan approvals")
        .items()
        .iter()
        .map(|item| format!("{item:?}"))
        .collect();
    let history = format!("{:?}", flow.history(&execution).await);
    let logs = emulator.function_log();
    for url in [&first_link, &link] {
        let id = url.rsplit('/').next().expect("an id");
        let id = ecs_canary_core::ApprovalId::parse(id).expect("a link id");
        assert!(
            keys.iter().any(|item| item.contains(id.key().as_str())),
            "the table knows the link by its SHA-256"
        );
        for (place, text) in [
            ("table", keys.join("\n")),
            ("history", history.clone()),
            ("logs", logs.clone()),
        ] {
            assert!(!text.contains(id.as_str()), "the link id is in the {place}");
        }
    }

    // The audit trail: every event of the deployment, newest first.
    let trail = ecs_canary_aws::History::new(aws_sdk_dynamodb::Client::new(&config), HISTORY_TABLE)
        .list("mattctest/myservice", 100)
        .await
        .expect("the history");
    assert!(!format!("{trail:?}").contains(SECRET_VALUE), "{trail:#?}");
    let kinds: Vec<&str> = trail.iter().rev().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "started",
            "splitApplied",
            "approvalRequested",
            "decided",
            "splitApplied",
            "approvalRequested",
            "decided",
            "promoted"
        ],
        "{trail:#?}"
    );
    assert!(trail.iter().all(|e| e.execution == execution));
    let decided = trail
        .iter()
        .find(|e| e.kind.as_str() == "decided")
        .expect("a decision");
    assert_eq!(
        (decided.by.as_deref(), decided.channel.as_deref()),
        (Some("email link"), Some("email"))
    );

    // The task token is in none of the links, emails, Slack messages or logs.
    let tokens: Vec<String> = {
        let config = emulator.sdk_config().await;
        let scan = aws_sdk_dynamodb::Client::new(&config)
            .scan()
            .table_name(APPROVALS_TABLE)
            .send()
            .await
            .expect("scan approvals");
        // (The promotion's revert link answers no task: its token is a
        // placeholder.)
        scan.items()
            .iter()
            .filter(|item| {
                !item
                    .get("facts")
                    .and_then(|f| f.as_s().ok())
                    .is_some_and(|f| f.contains("\"revert\":true"))
            })
            .filter_map(|item| item.get("taskToken").and_then(|t| t.as_s().ok()).cloned())
            .collect()
    };
    assert_eq!(tokens.len(), 2);
    let slack = serde_json::to_string(&emulator.slack().messages()).expect("json");
    // (And the promotion's notice.)
    let asked = emulator
        .slack()
        .messages()
        .iter()
        .filter(|m| m.to_string().contains("Approval needed"))
        .count();
    assert_eq!(asked, 2, "one Slack message per step");
    let logs = emulator.function_log();
    assert!(
        logs.contains("approval requested"),
        "function logs are captured"
    );
    for token in &tokens {
        assert!(token.len() > 8);
        for (place, text) in [
            ("email", &first_email),
            ("email", &second_email),
            ("link", &link),
            ("slack", &slack),
            ("logs", &logs),
        ] {
            assert!(
                !text.contains(token.as_str()),
                "the task token leaked into the {place}"
            );
        }
    }
}

#[tokio::test]
async fn rejecting_the_second_step_rolls_back() {
    let (_emulator, clients, flow) = started().await;
    let before = state(&clients).await;
    let execution = flow.start("deploy-1-0-1", &input("1.0.1", 600)).await;
    let (link, _) = next_link(&flow).await;
    approve(&link).await;
    let (link, _) = next_link(&flow).await;
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (50, 50));

    let (status, page) = submit(&link, "reject").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Rejected"), "{page}");
    // The shortest path: traffic is back on stable before the page answers.
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (100, 0));

    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("Rejected"));
    let end = state(&clients).await;
    assert_eq!(end.split_towards(Colour::Blue), (100, 0));
    assert_eq!(end.tag.as_deref(), Some("Blue"));
    assert_eq!(end.blue.id, before.blue.id);
    assert_eq!(lock_holder(&clients).await, None);
}

#[tokio::test]
async fn a_gate_before_the_start_runs_nothing_until_approved() {
    let (_emulator, clients, flow) = started().await;
    let at_rest = state(&clients).await;
    let mut gated = input("1.0.1", 600);
    gated["approvalPolicy"] = json!({"approveBeforeStart": true});

    // Rejected at the start: nothing ever ran.
    let rejected = flow.start("gated-reject", &gated).await;
    let (link, body) = next_link(&flow).await;
    assert!(
        body.contains(
            "Step:      the start (nothing runs yet; 2 steps): start (now) → 10 % → 50 % → promote"
        ),
        "{body}"
    );
    assert_eq!(
        state(&clients).await,
        at_rest,
        "nothing runs before the gate"
    );
    let (status, page) = submit(&link, "reject").await;
    assert_eq!(status, 200, "{page}");
    let (status, error) = flow.finished(&rejected, WAIT).await;
    assert_eq!(
        (status, error.as_deref()),
        (ExecutionStatus::Failed, Some("Rejected"))
    );
    assert_eq!(state(&clients).await, at_rest);
    assert_eq!(lock_holder(&clients).await, None);

    // Approved at the start: the candidate is deployed, the first step applied.
    let approved = flow.start("gated-approve", &gated).await;
    let (link, _) = next_link(&flow).await;
    assert_eq!(state(&clients).await, at_rest);
    approve(&link).await;
    let (link, body) = next_link(&flow).await;
    assert!(body.contains("Step:      step 1 of 2"), "{body}");
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (90, 10));
    let (status, page) = submit(&link, "reject").await;
    assert_eq!(status, 200, "{page}");
    let (status, error) = flow.finished(&approved, WAIT).await;
    assert_eq!(
        (status, error.as_deref()),
        (ExecutionStatus::Failed, Some("Rejected"))
    );
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (100, 0));
    assert_eq!(lock_holder(&clients).await, None);
}

#[tokio::test]
async fn an_unanswered_approval_times_out_and_rolls_back() {
    let (_emulator, clients, flow) = started().await;
    let execution = flow.start("deploy-1-0-1", &input("1.0.1", 2)).await;
    let (link, _) = next_link(&flow).await;

    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("ApprovalTimedOut"));
    let end = state(&clients).await;
    assert_eq!(end.split_towards(Colour::Blue), (100, 0));
    assert_eq!(end.tag.as_deref(), Some("Blue"));
    assert_eq!(lock_holder(&clients).await, None);

    // The link no longer decides anything.
    let (status, page) = open(&link).await;
    assert_eq!(status, 410, "{page}");
    let (status, _) = submit(&link, "approve").await;
    assert_eq!(status, 410);
}

#[tokio::test]
async fn links_are_single_use_and_slack_requests_must_be_signed() {
    let (emulator, clients, flow) = started().await;
    let execution = flow.start("deploy-1-0-1", &input("1.0.1", 600)).await;
    let (link, _) = next_link(&flow).await;
    let waiting = state(&clients).await;

    // Opening the link (as a mail scanner would) decides nothing.
    for _ in 0..3 {
        assert_eq!(open(&link).await.0, 200);
    }
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    assert_eq!(state(&clients).await, waiting);

    // A made-up id is unknown.
    let made_up = format!(
        "{}/approvals/{}",
        emulator.approval_url(),
        "0123456789abcdef0123456789abcdef"
    );
    assert_eq!(open(&made_up).await.0, 404);
    assert_eq!(submit(&made_up, "approve").await.0, 404);

    // Slack: a wrong signature, or one made six minutes ago, is refused.
    let id = link.rsplit('/').next().expect("id").to_string();
    // Its response_url is not Slack's: nothing is ever posted there.
    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U123", "username": "alice"},
        "actions": [{"action_id": "approve", "value": format!("approve:{id}")}],
        "response_url": emulator.slack().webhook_url()
    });
    let slack_messages_before = emulator.slack().messages().len();
    let body = format!("payload={}", form_encode(&payload.to_string()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let endpoint = &emulator;
    let slack = |timestamp: u64, secret: &'static str| {
        let body = body.clone();
        async move {
            post_to_slack_endpoint(endpoint, &body, timestamp, secret)
                .await
                .0
        }
    };
    assert_eq!(slack(now, "not-the-secret").await, 401);
    assert_eq!(slack(now - 360, SLACK_SIGNING_SECRET).await, 401);
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    assert_eq!(state(&clients).await, waiting);

    // A properly signed Slack approval decides, as alice.
    assert_eq!(slack(now, SLACK_SIGNING_SECRET).await, 200);
    let (link2, _) = next_link(&flow).await;
    let updates: Vec<_> = emulator.slack().messages()[slack_messages_before..]
        .iter()
        .filter(|m| m.get("replace_original").is_some())
        .cloned()
        .collect();
    assert!(
        updates.is_empty(),
        "posted to a response_url that is not Slack's: {updates:?}"
    );
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (50, 50));

    // The first link is used now: 409, and no second decision.
    let (status, page) = submit(&link, "reject").await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("alice"), "the page says who decided: {page}");
    let (status, _) = open(&link).await;
    assert_eq!(status, 409);
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (50, 50));
    // The refused Reject reached nothing: no task of the execution has failed.
    let history = flow.history(&execution).await;
    assert!(history
        .iter()
        .any(|e| e.r#type().as_str() == "TaskSucceeded"));
    assert!(!history.iter().any(|e| e.r#type().as_str() == "TaskFailed"));

    approve(&link2).await;
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error:?}");
}

#[tokio::test]
async fn two_executions_for_one_service_one_proceeds() {
    let (_emulator, clients, flow) = started().await;
    let first = flow.start("deploy-a", &input("1.0.1", 600)).await;
    let second = flow.start("deploy-b", &input("1.0.2", 600)).await;

    // Exactly one gets to ask for an approval; the other is refused.
    let (link, body) = next_link(&flow).await;
    let (winner, loser) = if body.contains("1.0.1") {
        (first, second)
    } else {
        (second, first)
    };
    let (status, error) = flow.finished(&loser, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("DeploymentInProgress"));
    // The refusal is announced, not only logged.
    let (subject, notice) = flow
        .next_email_where(WAIT, |s| s.contains("refused"))
        .await
        .expect("a refusal notice");
    assert!(subject.contains("DeploymentInProgress"), "{subject}");
    assert!(notice.contains("push again"), "{notice}");
    assert_eq!(flow.status(&winner).await.0, ExecutionStatus::Running);
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (90, 10));

    let (status, _) = submit(&link, "reject").await;
    assert_eq!(status, 200);
    let (status, error) = flow.finished(&winner, WAIT).await;
    assert_eq!(
        (status, error.as_deref()),
        (ExecutionStatus::Failed, Some("Rejected"))
    );
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (100, 0));
}

#[tokio::test]
async fn a_person_approves_in_a_browser() {
    let (_emulator, clients, flow) = started().await;
    let mut one_step = input("1.0.1", 600);
    one_step["steps"] = json!([25]);
    let execution = flow.start("deploy-in-browser", &one_step).await;
    let (link, _) = next_link(&flow).await;
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (75, 25));

    let browser = ecs_canary_e2e::browser::Browser::start().await;
    browser.open(&link).await;
    let page = browser.source().await;
    assert!(
        page.contains("1 of 1") && page.contains("promote"),
        "{page}"
    );
    browser.click("#approve").await;
    // The click submits the form; wait for the answer page to load.
    let page = browser
        .wait_for_source("Approved", Duration::from_secs(30))
        .await;
    assert!(page.contains("Approved"), "{page}");
    browser.close().await;

    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{error:?}");
    let end = state(&clients).await;
    assert_eq!(end.tag.as_deref(), Some("Green"));
    assert_eq!(end.split_towards(Colour::Green), (100, 0));
}

#[tokio::test]
async fn a_decision_that_cannot_be_passed_on_is_not_lost() {
    let (emulator, clients, flow) = started().await;
    let execution = flow.start("deploy-1-0-1", &input("1.0.1", 600)).await;
    let (link, _) = next_link(&flow).await;

    // Step Functions throttles every SendTaskSuccess for a while.
    emulator
        .arm_fault("states", "SendTaskSuccess", "ThrottlingException", 20)
        .await;
    assert_eq!(open(&link).await.0, 200);
    let (status, page) = submit(&link, "approve").await;
    assert_eq!(status, 503, "{page}");
    assert!(
        page.contains("not recorded") && page.contains("still waiting"),
        "{page}"
    );
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (90, 10));

    // The step waits again: the same link can decide once AWS answers.
    emulator.disarm_faults().await;
    let (status, page) = open(&link).await;
    assert_eq!(status, 200, "the link is pending again: {page}");
    approve(&link).await;
    let (_, second) = next_link(&flow).await;
    assert!(second.contains("2 of 2"), "{second}");
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (50, 50));
}

#[tokio::test]
async fn slack_down_still_asks_by_email_and_a_retry_sends_nothing_twice() {
    let (emulator, clients, flow) = started().await;
    emulator.slack().set_failing(true);
    let execution = flow.start("deploy-1-0-1", &input("1.0.1", 600)).await;

    // Email delivered: the step waits for a person, nothing is rolled back.
    let (link, _) = next_link(&flow).await;
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (90, 10));
    assert!(emulator.slack().messages().is_empty());

    // Step Functions retries request-approval for the same step (a new
    // token): no second email; Slack, which did not deliver, now does, with
    // the same link.
    emulator.slack().set_failing(false);
    // What RequestApproval was given, from the execution history.
    let history = flow.history(&execution).await;
    let deployment = history
        .iter()
        .filter_map(|e| e.task_scheduled_event_details())
        .filter_map(|d| serde_json::from_str::<Value>(d.parameters()).ok())
        .filter(|p| p["Payload"].get("taskToken").is_some())
        .map(|p| p["Payload"]["deployment"].clone())
        .next_back()
        .expect("RequestApproval was scheduled");
    assert_eq!(deployment["step"], json!(0));
    emulator
        .invoke(
            "request-approval",
            &json!({"taskToken": "a-retried-task-token", "execution": execution, "deployment": deployment}),
        ).await
        .expect("a retried request-approval");
    assert_eq!(
        flow.next_email(Duration::from_secs(3)).await,
        None,
        "no second email"
    );
    let messages = emulator.slack().messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0]
            .to_string()
            .contains(link.rsplit('/').next().expect("id")),
        "the same link: {}",
        messages[0]
    );
}

/// A Slack interaction body posted to the approval endpoint as Slack posts
/// it, signed with `secret` at `timestamp`: the status and the answer.
async fn post_to_slack_endpoint(
    emulator: &Emulator,
    body: &str,
    timestamp: u64,
    secret: &str,
) -> (u16, Vec<u8>) {
    let ts = timestamp.to_string();
    let signature = slack_signature(secret, &ts, body.as_bytes());
    let (port, path) = port_and_path(&format!("{}/slack/interactions", emulator.approval_url()));
    let (status, _, answer) = http_request_with(
        port,
        "POST",
        &path,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Slack-Request-Timestamp", &ts),
            ("X-Slack-Signature", &signature),
        ],
        body.as_bytes(),
    )
    .await;
    (status, answer)
}

/// A click on a Slack button, signed as Slack signs it, by `user` of
/// workspace `team`; Slack's answer (the function's JSON).
async fn slack_click(
    emulator: &Emulator,
    link: &str,
    decision: &str,
    user: &str,
    team: &str,
) -> Value {
    let id = link.rsplit('/').next().expect("id");
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": user.to_lowercase()},
        "team": {"id": team},
        "actions": [{"action_id": decision, "value": format!("{decision}:{id}")}],
    });
    let body = format!("payload={}", form_encode(&payload.to_string()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let (status, answer) = post_to_slack_endpoint(emulator, &body, now, SLACK_SIGNING_SECRET).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert_eq!(status, 200, "{answer}");
    serde_json::from_str(&answer).expect("Slack gets JSON")
}

#[tokio::test]
async fn the_approval_policy_refuses_whoever_it_does_not_name_and_nothing_moves() {
    // The stack's policy is the floor: email or Slack, one workspace, the
    // example's images only, separation of duties; only `operator` may
    // start, and Slack's UOPS1 is the same person.
    let operator = user_arn(OPERATOR);
    let (emulator, clients, flow) = example_flow_with(EmulatorOptions {
        approval_policy: Some(
            json!({"channels": ["email", "slack"], "slackTeam": "T0001",
                "allowedImages": ["octopussamples/*"], "separationOfDuties": true,
                "operators": [operator],
                "people": [{"name": "Ops One", "iam": [operator], "slack": ["UOPS1"]}]})
            .to_string(),
        ),
        ..EmulatorOptions::default()
    })
    .await;
    let at_rest = state(&clients).await;
    // An input that would widen it, or an image from elsewhere, is refused
    // before anything changes.
    for (name, changed, expected) in [
        (
            "deploy-wider-cli",
            json!({"approvalPolicy": {"channels": ["cli"]}}),
            "PolicyBelowFloor",
        ),
        (
            "deploy-wider-team",
            json!({"approvalPolicy": {"slackTeam": "T9999"}}),
            "PolicyBelowFloor",
        ),
        (
            "deploy-other-image",
            json!({"image": "docker.io/mallory/helloworldwithversion:1.0.1"}),
            "ImageNotAllowed",
        ),
        (
            "deploy-wider-images",
            json!({"image": "docker.io/mallory/app:1", "approvalPolicy": {"allowedImages": ["*"]}}),
            "PolicyBelowFloor",
        ),
        // Started from the console, it names nobody who could be kept from
        // approving it.
        ("deploy-from-console", json!({}), "InitiatorUnknown"),
    ] {
        let mut deployment = input("1.0.1", 600);
        for (field, value) in changed.as_object().expect("fields") {
            deployment[field] = value.clone();
        }
        let execution = flow.start(name, &deployment).await;
        let (status, error) = flow.finished(&execution, WAIT).await;
        assert_eq!(status, ExecutionStatus::Failed, "{name}");
        assert_eq!(error.as_deref(), Some(expected), "{name}");
        assert_eq!(state(&clients).await, at_rest, "nothing changed");
        assert_eq!(lock_holder(&clients).await, None, "the lock is free");
    }

    // A narrower policy than the floor holds the deployment. Someone the
    // policy does not name as an operator may not start it (exit 3), nor
    // may an input name its own initiator (exit 2); the operator may.
    let mut deployment = input("1.0.1", 600);
    deployment["approvalPolicy"] =
        json!({"channels": ["slack"], "slackUsers": ["UOPS1", "UOPS2"], "slackTeam": "T0001"});
    let text = deployment.to_string();
    let mallory = someone_else(&emulator, "mallory").await;
    let start = ["start", "--input", text.as_str(), "--name", "deploy-policy"];
    let refused = ecs_canary(&emulator, Some(&mallory), &start).await;
    assert_eq!(refused.code, 3, "{refused:?}");
    assert!(
        refused.stderr.contains("NotAnOperator"),
        "{}",
        refused.stderr
    );
    let mut forged = deployment.clone();
    forged["startedBy"] = json!("arn:aws:iam::123456789012:user/someone-else");
    let forged = ecs_canary(&emulator, None, &["start", "--input", &forged.to_string()]).await;
    assert_eq!(forged.code, 2, "{forged:?}");
    assert_eq!(state(&clients).await, at_rest, "nothing changed");
    let started = ecs_canary(
        &emulator,
        None,
        &[
            "--json",
            "start",
            "--input",
            &text,
            "--name",
            "deploy-policy",
        ],
    )
    .await;
    assert_eq!(started.code, 0, "{started:?}");
    let execution = started.json()["execution"]
        .as_str()
        .expect("execution")
        .to_string();
    let (link, _) = next_link(&flow).await;
    // Slack gets the buttons but not the link, which may not decide here.
    let asked = emulator.slack().messages();
    let asked = asked.last().expect("a Slack message").to_string();
    assert!(asked.contains("\"approve\""), "{asked}");
    assert!(!asked.contains("/approvals/"), "{asked}");
    let waiting = state(&clients).await;
    assert_eq!(waiting.split_towards(Colour::Blue), (90, 10));

    // The email link is not a channel of this deployment.
    let (status, page) = submit(&link, "approve").await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("decisions through email are not allowed"),
        "{page}"
    );
    // A member of the workspace who is not on the list, and the listed user
    // from another workspace.
    let outsider = slack_click(&emulator, &link, "approve", "UGUEST", "T0001").await;
    assert_eq!(outsider["status"], json!(403), "{outsider}");
    assert!(outsider["text"]
        .as_str()
        .unwrap_or_default()
        .contains("not among the approvers"));
    let elsewhere = slack_click(&emulator, &link, "reject", "UOPS1", "T9999").await;
    assert_eq!(elsewhere["status"], json!(403), "{elsewhere}");
    // Nothing moved.
    assert_eq!(state(&clients).await, waiting);
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    assert_eq!(open(&link).await.0, 200, "the link still waits");

    // UOPS1 is the operator who started it: on Slack too, they may not
    // approve their own release (separation of duties across channels).
    let own = slack_click(&emulator, &link, "approve", "UOPS1", "T0001").await;
    assert_eq!(own["status"], json!(403), "{own}");
    assert_eq!(state(&clients).await, waiting);
    // Another listed user decides; the initiator may still reject.
    let allowed = slack_click(&emulator, &link, "approve", "UOPS2", "T0001").await;
    assert_eq!(allowed["status"], json!(200), "{allowed}");
    let (link, _) = next_link(&flow).await;
    assert_eq!(state(&clients).await.split_towards(Colour::Blue), (50, 50));
    let rejected = slack_click(&emulator, &link, "reject", "UOPS1", "T0001").await;
    assert_eq!(rejected["status"], json!(200), "{rejected}");
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(error.as_deref(), Some("Rejected"));

    // The history records the refusals and the decisions, by whom and how.
    let config = emulator.sdk_config().await;
    let trail = ecs_canary_aws::History::new(aws_sdk_dynamodb::Client::new(&config), HISTORY_TABLE)
        .list("mattctest/myservice", 100)
        .await
        .expect("the history");
    let who = |kind: &str| -> Vec<(String, String)> {
        trail
            .iter()
            .rev()
            .filter(|e| e.kind.as_str() == kind)
            .map(|e| {
                (
                    e.by.clone().unwrap_or_default(),
                    e.channel.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    assert_eq!(
        who("decisionRefused"),
        [
            ("email link".to_string(), "email".to_string()),
            ("Slack user @uguest (UGUEST)".into(), "slack".into()),
            ("Slack user @uops1 (UOPS1)".into(), "slack".into()),
            ("Slack user @uops1 (UOPS1)".into(), "slack".into()),
        ]
    );
    assert_eq!(
        who("decided"),
        [
            ("Slack user @uops2 (UOPS2)".to_string(), "slack".to_string()),
            ("Slack user @uops1 (UOPS1)".to_string(), "slack".to_string()),
        ]
    );
    assert_eq!(who("requested"), [(operator.clone(), "cli".to_string())]);
    let kinds: Vec<&str> = trail.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"rolledBack"), "{trail:#?}");
}
