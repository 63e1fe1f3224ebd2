//! The operator's command line against a running deployment on the
//! emulator: every command, its output and its exit code.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_aws::LockGuard;
use ecs_canary_core::Colour;
use ecs_canary_e2e::cli::{build_cli, ecs_canary, iam_user, someone_else, user_arn, OPERATOR};
use ecs_canary_e2e::example::{app_lock_holder, app_state, assert_at_rest, until_app_unlocked};
use ecs_canary_e2e::flow::{example_flow, example_input, link_in, open};
use ecs_canary_e2e::{repo_root, APPROVALS_TABLE, LOCK_TABLE};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(90);
const SERVICE: &str = "mattctest/myservice";
/// Who the command line acts as unless a test names someone else.
fn default_caller() -> String {
    user_arn(OPERATOR)
}

fn input_file(name: &str, input: &Value) -> String {
    let dir = repo_root().join("target/tmp");
    std::fs::create_dir_all(&dir).expect("target/tmp");
    let path = dir.join(format!("{name}-{}.json", std::process::id()));
    std::fs::write(&path, input.to_string()).expect("write the input");
    path.to_string_lossy().to_string()
}

async fn until_unlocked(clients: &ecs_canary_aws::AwsClients) {
    until_app_unlocked(clients, WAIT).await;
}

#[tokio::test]
async fn diff_start_status_approve_reject_and_history_from_the_command_line() {
    // Built before anything is timed (a clean clone builds it here).
    build_cli();
    let (emulator, clients, flow) = example_flow().await;
    let mut input = example_input("1.0.1", json!([10, 50]), 600);
    input["approvalPolicy"] = json!({"separationOfDuties": true});
    let path = input_file("cli", &input);

    // diff: the release against stable and the rendered template; nothing changes.
    let before = app_state(&clients).await;
    let diff = ecs_canary(&emulator, None, &["diff", "--input", &path]).await;
    assert_eq!(diff.code, 0, "{diff:?}");
    assert!(
        diff.stdout.contains("APPVERSION 1.0.0 → 1.0.1"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("+") && diff.stdout.contains("<new task definition revision>"),
        "{}",
        diff.stdout
    );
    assert!(diff.stdout.contains("nothing was changed"));
    assert_eq!(app_state(&clients).await, before);
    assert_eq!(app_lock_holder(&clients).await, None);

    // A bad input is refused with its name, before Step Functions hears of it.
    let bad = ecs_canary(&emulator, None, &["start", "--input", r#"{"cluster": "mattctest", "service": "myservice", "stack": "s", "image": "x", "steps": [150]}"#]).await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("InvalidSteps"), "{}", bad.stderr);

    // The same input started from the console names nobody: under
    // separation of duties it is refused, and nothing changes.
    let console = flow.start("console-1-0-1", &input).await;
    let (status, error) = flow.finished(&console, WAIT).await;
    assert_eq!(
        (status, error.as_deref()),
        (ExecutionStatus::Failed, Some("InitiatorUnknown"))
    );
    assert_eq!(app_state(&clients).await, before);
    assert_eq!(app_lock_holder(&clients).await, None);

    // start: as the caller, who is recorded as the initiator.
    let started = ecs_canary(
        &emulator,
        None,
        &["--json", "start", "--input", &path, "--name", "cli-1-0-1"],
    )
    .await;
    assert_eq!(started.code, 0, "{started:?}");
    let execution = started.json()["execution"]
        .as_str()
        .expect("execution")
        .to_string();
    assert_eq!(started.json()["startedBy"], json!(default_caller()));
    let (_, email) = flow.next_approval_email(WAIT).await.expect("step 1 asks");
    assert!(
        email.contains(&default_caller()),
        "the email says who started it: {email}"
    );

    // Whoever can read the approvals table finds no token that decides:
    // each is sealed with the stack's KMS key, which only the functions use.
    let config = emulator.sdk_config().await;
    let items = aws_sdk_dynamodb::Client::new(&config)
        .scan()
        .table_name(APPROVALS_TABLE)
        .send()
        .await
        .expect("read the approvals table");
    let tokens: Vec<String> = items
        .items()
        .iter()
        .filter_map(|item| item.get("taskToken")?.as_s().ok().cloned())
        .collect();
    assert_eq!(tokens.len(), 1, "one step waits: {tokens:?}");
    for token in &tokens {
        assert!(token.starts_with("kms:"), "sealed: {token}");
        let used = aws_sdk_sfn::Client::new(&config)
            .send_task_success()
            .task_token(token)
            .output("{}")
            .send()
            .await;
        assert!(used.is_err(), "a sealed token decides nothing");
    }
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);

    // status: for people and for scripts.
    let status = ecs_canary(&emulator, None, &["status", SERVICE]).await;
    assert_eq!(status.code, 0, "{status:?}");
    for expected in [
        "stable    Blue",
        "90 % Blue / 10 % Green",
        "step      1 of 2 — waiting for a decision",
        "cli-1-0-1",
    ] {
        assert!(
            status.stdout.contains(expected),
            "{expected}: {}",
            status.stdout
        );
    }
    let all = ecs_canary(&emulator, None, &["--json", "status"]).await;
    let rollout = &all.json()[0]["rollout"];
    assert_eq!(
        (rollout["step"].clone(), rollout["steps"].clone()),
        (json!(1), json!(2))
    );

    // A dry run now shows the release and what would refuse it.
    let busy = ecs_canary(&emulator, None, &["diff", "--input", &path]).await;
    assert_eq!(busy.code, 0, "{busy:?}");
    for expected in [
        "APPVERSION 1.0.0 → 1.0.1",
        "it would be refused",
        "DeploymentInProgress (cli-1-0-1 is deploying this service)",
        "DriftDetected",
    ] {
        assert!(
            busy.stdout.contains(expected),
            "{expected}: {}",
            busy.stdout
        );
    }

    // The initiator may not approve (separation of duties): exit 3, nothing moves.
    let own = ecs_canary(&emulator, None, &["approve", SERVICE]).await;
    assert_eq!(own.code, 3, "{own:?}");
    assert!(
        own.stdout
            .contains("started this deployment and may not approve it"),
        "{}",
        own.stdout
    );
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );

    // Someone else may.
    let bob = someone_else(&emulator, "bob").await;
    let approved = ecs_canary(&emulator, Some(&bob), &["approve", SERVICE]).await;
    assert_eq!(approved.code, 0, "{approved:?}");
    assert!(
        approved.stdout.starts_with("Approved"),
        "{}",
        approved.stdout
    );
    flow.next_approval_email(WAIT).await.expect("step 2 asks");
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (50, 50)
    );

    // The initiator may reject their own release: traffic back on stable at once.
    let rejected = ecs_canary(&emulator, None, &["reject", SERVICE]).await;
    assert_eq!(rejected.code, 0, "{rejected:?}");
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (100, 0)
    );
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(
        (status, error.as_deref()),
        (ExecutionStatus::Failed, Some("Rejected"))
    );

    // Nothing waits any more: exit 4.
    let nothing = ecs_canary(&emulator, None, &["approve", SERVICE]).await;
    assert_eq!(nothing.code, 4, "{nothing:?}");
    assert!(
        nothing.stderr.contains("no deployment in progress"),
        "{}",
        nothing.stderr
    );

    // history: who did what, newest first.
    let history = ecs_canary(&emulator, None, &["history", SERVICE]).await;
    assert_eq!(history.code, 0, "{history:?}");
    assert!(history.stdout.starts_with("WHEN"), "{}", history.stdout);
    let events = ecs_canary(&emulator, None, &["--json", "history", SERVICE])
        .await
        .json();
    // The console start's refusal, and the command line's deployment.
    let (refusals, rest): (Vec<&Value>, Vec<&Value>) = events
        .as_array()
        .expect("events")
        .iter()
        .partition(|e| e["kind"] == json!("refused"));
    assert_eq!(refusals.len(), 1, "{events:#}");
    assert!(
        refusals[0]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("InitiatorUnknown")),
        "{:#}",
        refusals[0]
    );
    let trail: Vec<(String, String)> = rest
        .iter()
        .rev()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let bob_arn = "arn:aws:sts::123456789012:assumed-role/Deployers/bob";
    let kinds: Vec<&str> = trail.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "requested",
            "started",
            "splitApplied",
            "approvalRequested",
            "decisionRefused",
            "decided",
            "splitApplied",
            "approvalRequested",
            "decided",
            "rolledBack"
        ],
        "{events:#}"
    );
    assert_eq!(trail[0].1, default_caller());
    assert_eq!(trail[1].1, default_caller());
    assert_eq!(trail[4].1, default_caller());
    assert_eq!(trail[5].1, bob_arn);
    assert_eq!(trail[8].1, default_caller());
    assert_eq!(rest[1]["channel"], json!("cli"));
    let unknown = ecs_canary(&emulator, None, &["history", "mattctest/nothing"]).await;
    assert_eq!(unknown.code, 4, "{unknown:?}");
    let no_cluster = ecs_canary(&emulator, None, &["history", "myservice"]).await;
    assert_eq!(no_cluster.code, 2, "{no_cluster:?}");
}

#[tokio::test]
async fn abort_and_unlock_from_the_command_line() {
    build_cli();
    let (emulator, clients, flow) = example_flow().await;
    let execution = flow
        .start("abort-1-0-1", &example_input("1.0.1", json!([10, 50]), 600))
        .await;
    let (_, email) = flow.next_approval_email(WAIT).await.expect("step 1 asks");
    let link = link_in(&email);
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );

    // abort: traffic on stable first, the execution stopped, the rest
    // reconciled — while `status --watch` follows it to the end.
    let watch = tokio::time::timeout(
        WAIT,
        ecs_canary(
            &emulator,
            None,
            &["status", SERVICE, "--watch", "--interval", "1"],
        ),
    );
    let abort = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        ecs_canary(&emulator, None, &["--json", "abort", SERVICE]).await
    };
    let (watched, aborted) = tokio::join!(watch, abort);
    let watched = watched.expect("--watch ends with the rollout");
    assert_eq!(watched.code, 0, "{watched:?}");
    assert!(
        watched.stdout.contains("step      1 of 2"),
        "{}",
        watched.stdout
    );
    assert!(watched.stdout.contains("watching"), "{}", watched.stdout);
    let last_frame = watched
        .stdout
        .rsplit("mattctest/myservice\n")
        .next()
        .unwrap_or_default();
    assert!(
        last_frame.contains("rollout   none (at rest)"),
        "the last frame is at rest: {}",
        watched.stdout
    );
    assert_eq!(aborted.code, 0, "{aborted:?}");
    assert_eq!(aborted.json()["trafficOnStableFirst"], json!(true));
    assert_eq!(aborted.json()["linksClosed"], json!(1));
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (100, 0)
    );
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Aborted);
    until_unlocked(&clients).await;
    assert_at_rest(&clients, Colour::Blue).await;
    assert_eq!(open(&link).await.0, 410, "its link is closed");
    let again = ecs_canary(&emulator, None, &["abort", SERVICE]).await;
    assert_eq!(again.code, 4, "{again:?}");

    // unlock: a lock left by an execution that is gone.
    let ghost = "arn:aws:states:us-east-1:123456789012:execution:ecs-canary:ghost";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    clients
        .locks(LOCK_TABLE)
        .acquire(SERVICE, ghost, now, now + 3_600, &LockGuard::default())
        .await
        .expect("a stuck lock");
    let asked = ecs_canary(&emulator, None, &["unlock", SERVICE]).await;
    assert_eq!(asked.code, 5, "{asked:?}");
    assert!(
        asked.stdout.contains("is held by") && asked.stdout.contains("ghost"),
        "{}",
        asked.stdout
    );
    assert_eq!(app_lock_holder(&clients).await.as_deref(), Some(ghost));
    let released = ecs_canary(&emulator, None, &["unlock", SERVICE, "--yes"]).await;
    assert_eq!(released.code, 0, "{released:?}");
    assert_eq!(app_lock_holder(&clients).await, None);
    let history = ecs_canary(
        &emulator,
        None,
        &["--json", "history", SERVICE, "--limit", "3"],
    )
    .await
    .json();
    assert_eq!(history[0]["kind"], json!("unlocked"));
    assert_eq!(history[0]["by"], json!(default_caller()));

    // Signed with a key the emulator's IAM does not know, or the wrong
    // secret: the endpoint refuses before anything runs (exit 3).
    let (key, _, _) = iam_user(&emulator, OPERATOR).await;
    for credentials in [
        (key, "not-the-secret".to_string(), String::new()),
        (
            "AKIAUNKNOWNUNKNOWN00".to_string(),
            "x".to_string(),
            String::new(),
        ),
    ] {
        let refused = ecs_canary(&emulator, Some(&credentials), &["status", SERVICE]).await;
        assert_eq!(refused.code, 3, "{refused:?}");
        assert!(
            refused.stderr.contains("refused your credentials"),
            "{}",
            refused.stderr
        );
    }
    assert!(history
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["kind"] == json!("aborted") || e["kind"] == json!("reconciled")));
    let none = ecs_canary(&emulator, None, &["unlock", SERVICE, "--yes"]).await;
    assert_eq!(none.code, 4, "{none:?}");

    // The approval email's subscription, confirmed with authentication on
    // unsubscribe from the link SNS mails (rather than by clicking it).
    let config = emulator.sdk_config().await;
    let topic = emulator.infra_output("ApprovalTopicArn");
    let subscription = aws_sdk_sns::Client::new(&config)
        .subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("oncall@example.com")
        .send()
        .await
        .expect("subscribe");
    let confirmations: Value = serde_json::from_slice(
        &emulator
            .http("GET", "/_ecs-canary/sns-confirmations", b"")
            .await
            .2,
    )
    .expect("the confirmations SNS mailed");
    let link = confirmations
        .as_array()
        .and_then(|all| all.iter().find(|c| c["topicArn"] == json!(topic)))
        .and_then(|c| c["url"].as_str())
        .expect("a confirmation link")
        .to_string();
    let wrong = ecs_canary(
        &emulator,
        None,
        &[
            "confirm-subscription",
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=0000",
        ],
    )
    .await;
    assert_eq!(wrong.code, 1, "{wrong:?}");
    let confirmed = ecs_canary(&emulator, None, &["confirm-subscription", &link]).await;
    assert_eq!(confirmed.code, 0, "{confirmed:?}");
    assert!(
        confirmed
            .stdout
            .contains("only the account can unsubscribe it"),
        "{}",
        confirmed.stdout
    );
    let attributes = aws_sdk_sns::Client::new(&config)
        .get_subscription_attributes()
        .subscription_arn(subscription.subscription_arn().unwrap_or_default())
        .send()
        .await
        .expect("attributes");
    let attributes = attributes.attributes().cloned().unwrap_or_default();
    assert_eq!(
        attributes
            .get("ConfirmationWasAuthenticated")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        attributes.get("PendingConfirmation").map(String::as_str),
        Some("false")
    );
}

/// Runs a one-step deployment of `version` to its end, the step decided
/// through its link (`decision`).
async fn deploy(
    flow: &ecs_canary_e2e::flow::Flow,
    version: &str,
    decision: &str,
) -> ExecutionStatus {
    let execution = flow
        .start(
            &format!("revert-{}", version.replace('.', "-")),
            &example_input(version, json!([50]), 600),
        )
        .await;
    let (_, email) = flow.next_approval_email(WAIT).await.expect("the step asks");
    assert_eq!(
        ecs_canary_e2e::flow::submit(&link_in(&email), decision)
            .await
            .0,
        200
    );
    flow.finished(&execution, WAIT).await.0
}

#[tokio::test]
async fn a_promotion_is_reverted_from_the_command_line_while_the_release_before_still_runs() {
    build_cli();
    let (emulator, clients, flow) = example_flow().await;
    assert_eq!(
        deploy(&flow, "1.0.1", "approve").await,
        ExecutionStatus::Succeeded
    );
    assert_at_rest(&clients, Colour::Green).await;
    let (subject, body) = flow
        .next_email_where(WAIT, |s| s.contains("promoted - Green is stable"))
        .await
        .expect("the promotion is announced");
    assert!(subject.starts_with("myservice: "), "{subject}");
    assert!(
        body.contains(&format!("ecs-canary revert {SERVICE}")),
        "the way back: {body}"
    );

    // revert: all traffic back on Blue, which still runs the release that
    // was stable before; Blue stable again; recorded and announced.
    let reverted = ecs_canary(&emulator, None, &["revert", SERVICE]).await;
    assert_eq!(reverted.code, 0, "{reverted:?}");
    assert!(
        reverted
            .stdout
            .contains("100 % on Blue (read back), stable again"),
        "{}",
        reverted.stdout
    );
    assert_at_rest(&clients, Colour::Blue).await;
    let history = ecs_canary(&emulator, None, &["--json", "history", SERVICE]).await;
    let newest = &history.json()[0];
    assert_eq!(newest["kind"], json!("reverted"), "{newest}");
    assert_eq!(newest["by"], json!(default_caller()));
    let (subject, body) = flow
        .next_email_where(WAIT, |s| s.contains("promotion reverted by"))
        .await
        .expect("the channels are told");
    assert!(subject.contains("Blue is stable again"), "{subject}");
    assert!(body.contains("100 % is back on Blue (read back)"), "{body}");

    // Once only: nothing left to revert, nothing changes.
    let again = ecs_canary(&emulator, None, &["revert", SERVICE]).await;
    assert_eq!(again.code, 4, "{again:?}");
    assert!(again.stderr.contains("NothingToRevert"), "{}", again.stderr);
    assert_at_rest(&clients, Colour::Blue).await;

    // The link in a promotion's notice reverts it as well, once.
    assert_eq!(
        deploy(&flow, "1.0.2", "approve").await,
        ExecutionStatus::Succeeded
    );
    let (_, notice) = flow
        .next_email_where(WAIT, |s| s.contains("promoted - Green is stable"))
        .await
        .expect("the promotion is announced");
    let revert = link_in(&notice);
    let (status, page) = open(&revert).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"revert\""), "{page}");
    let (status, page) = ecs_canary_e2e::flow::submit(&revert, "revert").await;
    assert_eq!(status, 200, "{page}");
    assert_at_rest(&clients, Colour::Blue).await;
    assert_eq!(
        ecs_canary_e2e::flow::submit(&revert, "revert").await.0,
        409,
        "once"
    );

    // A promotion, then a rejected deployment that rendered its release
    // onto the colour stable before: that release is gone, so is the way
    // back by traffic alone.
    assert_eq!(
        deploy(&flow, "1.0.3", "approve").await,
        ExecutionStatus::Succeeded
    );
    assert_eq!(
        deploy(&flow, "1.0.4", "reject").await,
        ExecutionStatus::Failed
    );
    let replaced = ecs_canary(&emulator, None, &["revert", SERVICE]).await;
    assert_eq!(replaced.code, 4, "{replaced:?}");
    assert!(
        replaced.stderr.contains("ReleaseReplaced"),
        "{}",
        replaced.stderr
    );
    assert_at_rest(&clients, Colour::Green).await;
}

#[tokio::test]
async fn a_step_is_held_past_its_timeout_and_a_hotfix_approved_to_promotion() {
    build_cli();
    let (emulator, clients, flow) = example_flow().await;
    // An approval that would time out after 8 s is held 12 s more at once.
    let execution = flow
        .start("held-1-0-1", &example_input("1.0.1", json!([10, 50]), 8))
        .await;
    let (_, email) = flow.next_approval_email(WAIT).await.expect("step 1 asks");
    let link = link_in(&email);
    let (status, page) = open(&link).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"hold\""),
        "the page offers a hold: {page}"
    );
    let held = ecs_canary(&emulator, None, &["hold", SERVICE, "--for", "12s"]).await;
    assert_eq!(held.code, 0, "{held:?}");
    assert!(held.stdout.starts_with("Held:"), "{}", held.stdout);
    // The channels are told, with the same link and the new deadline.
    let (subject, body) = flow
        .next_email_where(WAIT, |s| s.starts_with("Held until "))
        .await
        .expect("the hold is told");
    assert!(subject.len() <= 100, "{subject}");
    assert!(body.contains(&default_caller()), "{body}");
    assert_eq!(link_in(&body), link, "the same link");
    // Past the original timeout it still waits, nothing moved…
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(flow.status(&execution).await.0, ExecutionStatus::Running);
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );
    let status = ecs_canary(&emulator, None, &["status", SERVICE]).await;
    assert!(
        status
            .stdout
            .contains("step      1 of 2 — waiting for a decision"),
        "{}",
        status.stdout
    );
    // …and times out at the new deadline, rolled back.
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(
        (status, error.as_deref()),
        (ExecutionStatus::Failed, Some("ApprovalTimedOut"))
    );
    until_unlocked(&clients).await;
    assert_at_rest(&clients, Colour::Blue).await;
    let history = ecs_canary(&emulator, None, &["history", SERVICE]).await;
    assert!(history.stdout.contains("held until"), "{}", history.stdout);

    // A hotfix everyone has looked at: approved to promotion from step 1
    // of 3, every skipped step recorded.
    let hotfix = flow
        .start(
            "hotfix-1-0-2",
            &example_input("1.0.2", json!([10, 50, 80]), 600),
        )
        .await;
    flow.next_approval_email(WAIT).await.expect("step 1 asks");
    let skipped = ecs_canary(&emulator, None, &["approve", SERVICE, "--to-promotion"]).await;
    assert_eq!(skipped.code, 0, "{skipped:?}");
    let (status, _) = flow.finished(&hotfix, WAIT).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    assert_at_rest(&clients, Colour::Green).await;
    let events = ecs_canary(&emulator, None, &["--json", "history", SERVICE]).await;
    let skipped: Vec<Value> = events
        .json()
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| {
            e["kind"] == json!("decided")
                && e["summary"].as_str().is_some_and(|s| s.contains("skipped"))
        })
        .cloned()
        .collect();
    assert_eq!(skipped.len(), 2, "steps 2 and 3 of 3: {skipped:?}");
}

#[tokio::test]
async fn a_rollout_goes_back_a_step_and_is_decided_there_again_with_new_links() {
    build_cli();
    let (emulator, clients, flow) = example_flow().await;
    let execution = flow
        .start("back-1-0-1", &example_input("1.0.1", json!([10, 50]), 600))
        .await;
    let (_, first) = flow.next_approval_email(WAIT).await.expect("step 1 asks");
    let first = link_in(&first);
    assert_eq!(ecs_canary_e2e::flow::submit(&first, "approve").await.0, 200);
    let (subject, second) = flow.next_approval_email(WAIT).await.expect("step 2 asks");
    assert!(subject.contains("step 2/2"), "{subject}");
    let second = link_in(&second);
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (50, 50)
    );

    // Back from step 2: the rule at step 1's split, asked again there with
    // a new link; step 2's link decides nothing any more.
    let back = ecs_canary(&emulator, None, &["back", SERVICE]).await;
    assert_eq!(back.code, 0, "{back:?}");
    assert!(back.stdout.starts_with("Sent back:"), "{}", back.stdout);
    let (subject, again) = flow
        .next_approval_email(WAIT)
        .await
        .expect("step 1 asks again");
    assert!(subject.contains("step 1/2"), "{subject}");
    let again = link_in(&again);
    assert_ne!(again, first, "a new link");
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );
    let (status, page) = ecs_canary_e2e::flow::submit(&second, "approve").await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("sent back"), "{page}");

    // Back from step 1: 0 %, the new version still running; nothing before.
    let back = ecs_canary(&emulator, None, &["back", SERVICE]).await;
    assert_eq!(back.code, 0, "{back:?}");
    let (_, zero) = flow.next_approval_email(WAIT).await.expect("0 % asks");
    assert!(
        zero.contains("0 % (sent back before step 1 of 2; the new version still runs)"),
        "{zero}"
    );
    let state = app_state(&clients).await;
    assert_eq!(state.split_towards(Colour::Blue), (100, 0));
    let none = ecs_canary(&emulator, None, &["back", SERVICE]).await;
    assert_eq!(none.code, 4, "{none:?}");
    assert!(none.stdout.contains("CannotGoBack"), "{}", none.stdout);

    // Approved from 0 %: step 1 again; then rejected to the end.
    assert_eq!(
        ecs_canary_e2e::flow::submit(&link_in(&zero), "approve")
            .await
            .0,
        200
    );
    let (subject, last) = flow.next_approval_email(WAIT).await.expect("step 1 asks");
    assert!(subject.contains("step 1/2"), "{subject}");
    assert_eq!(
        app_state(&clients).await.split_towards(Colour::Blue),
        (90, 10)
    );
    assert_eq!(
        ecs_canary_e2e::flow::submit(&link_in(&last), "reject")
            .await
            .0,
        200
    );
    let (status, error) = flow.finished(&execution, WAIT).await;
    assert_eq!(
        (status, error.as_deref()),
        (ExecutionStatus::Failed, Some("Rejected"))
    );
    until_unlocked(&clients).await;
    assert_at_rest(&clients, Colour::Blue).await;
}
