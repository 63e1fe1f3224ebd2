//! The soak: many deployments over many services at once on one emulator,
//! each with a fate (promoted, rejected, timed out, stopped from the console,
//! a release that never stabilises, a failing stack update, Slack down, a
//! hand on the rule, its guarding alarm firing while a person is asked),
//! while AWS throttles a fifth of the calls and ELBv2 reads lag. When
//! everything has ended, every service must be at rest.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_aws::AwsClients;
use ecs_canary_core::{Colour, TrafficSplit};
use serde_json::json;
use tokio::sync::mpsc;

use crate::alarms::GuardAlarm;
use crate::example::{
    at_rest_violations, create_app, create_network, example_template, set_rule_by_hand,
    target_group, CLUSTER,
};
use crate::flow::{link_in, sort_mail, submit, Flow};
use crate::{Emulator, APPROVALS_TABLE};

/// How long one deployment may take before it counts as stuck.
const DEPLOYMENT_LIMIT: Duration = Duration::from_secs(240);
/// The split a person sets by hand (fate `HandChange`), towards stable.
const HAND_SPLIT: (i64, i64) = (33, 67);

/// What happens to one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fate {
    /// Every step approved: promoted.
    Promote,
    /// Rejected at step `n` (1-based).
    Reject(usize),
    /// Nobody answers: the approval times out.
    ApprovalTimeout,
    /// Stopped from the console while step `n` waits.
    ConsoleAbort(usize),
    /// The candidate never becomes healthy.
    NeverStabilizes,
    /// CloudFormation rolls the stack update back.
    StackUpdateFails,
    /// Slack is down for this release; approved by email: promoted.
    SlackDown,
    /// A person sets the rule by hand during step 1, then approves.
    HandChange,
    /// The service's guarding alarm fires while step `n` waits.
    AlarmFires(usize),
}

impl Fate {
    fn name(self) -> &'static str {
        match self {
            Fate::Promote => "approve to promotion",
            Fate::Reject(_) => "reject at a step",
            Fate::ApprovalTimeout => "approval timeout",
            Fate::ConsoleAbort(_) => "console abort",
            Fate::NeverStabilizes => "never stabilises",
            Fate::StackUpdateFails => "stack update fails",
            Fate::SlackDown => "Slack down",
            Fate::HandChange => "hand change",
            Fate::AlarmFires(_) => "alarm fires",
        }
    }

    /// The ending a deployment with this fate has when nothing else goes wrong.
    fn expected(self) -> (ExecutionStatus, Option<&'static str>) {
        match self {
            Fate::Promote | Fate::SlackDown => (ExecutionStatus::Succeeded, None),
            Fate::Reject(_) => (ExecutionStatus::Failed, Some("Rejected")),
            Fate::ApprovalTimeout => (ExecutionStatus::Failed, Some("ApprovalTimedOut")),
            Fate::ConsoleAbort(_) => (ExecutionStatus::Aborted, None),
            Fate::NeverStabilizes => (ExecutionStatus::Failed, Some("CandidateNotReady")),
            Fate::StackUpdateFails => (ExecutionStatus::Failed, Some("StackUpdateFailed")),
            Fate::HandChange => (ExecutionStatus::Failed, Some("SplitChangedByHand")),
            Fate::AlarmFires(_) => (ExecutionStatus::Failed, Some("AlarmTriggered")),
        }
    }
}

/// How big a soak is.
#[derive(Debug, Clone, Copy)]
pub struct SoakPlan {
    pub deployments: usize,
    pub services: usize,
    pub seed: u64,
}

impl SoakPlan {
    /// `ECS_CANARY_SOAK_DEPLOYMENTS`, `ECS_CANARY_SOAK_SERVICES` and
    /// `ECS_CANARY_SOAK_SEED` (default: from the clock), else the defaults given.
    pub fn from_env(deployments: usize, services: usize) -> SoakPlan {
        let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let seed = number("ECS_CANARY_SOAK_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
        SoakPlan {
            deployments: number("ECS_CANARY_SOAK_DEPLOYMENTS").map_or(deployments, |n| n as usize),
            services: number("ECS_CANARY_SOAK_SERVICES")
                .map_or(services, |n| n as usize)
                .max(1),
            seed,
        }
    }

    /// Every deployment's service and fate: the first nine cover every fate
    /// once (in a random order), the rest are drawn at random.
    fn fates(&self) -> Vec<(usize, Fate)> {
        let mut random = Random(self.seed.max(1));
        let step = |random: &mut Random| 1 + random.below(2);
        let mut all: Vec<Fate> = vec![
            Fate::Promote,
            Fate::Reject(step(&mut random)),
            Fate::ApprovalTimeout,
            Fate::ConsoleAbort(step(&mut random)),
            Fate::NeverStabilizes,
            Fate::StackUpdateFails,
            Fate::SlackDown,
            Fate::HandChange,
            Fate::AlarmFires(step(&mut random)),
        ];
        for i in (1..all.len()).rev() {
            all.swap(i, random.below(i + 1));
        }
        while all.len() < self.deployments {
            let fate = match random.below(9) {
                0 => Fate::Promote,
                1 => Fate::Reject(step(&mut random)),
                2 => Fate::ApprovalTimeout,
                3 => Fate::ConsoleAbort(step(&mut random)),
                4 => Fate::NeverStabilizes,
                5 => Fate::StackUpdateFails,
                6 => Fate::SlackDown,
                7 => Fate::AlarmFires(step(&mut random)),
                _ => Fate::HandChange,
            };
            all.push(fate);
        }
        all.truncate(self.deployments);
        all.into_iter()
            .enumerate()
            .map(|(n, fate)| (n % self.services, fate))
            .collect()
    }
}

/// xorshift64: enough randomness for choosing fates, reproducible by seed.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// How one deployment went.
#[derive(Debug, Clone)]
struct Ended {
    fate: Fate,
    execution: String,
    status: Option<ExecutionStatus>,
    error: Option<String>,
    violations: Vec<String>,
}

impl Ended {
    fn as_expected(&self) -> bool {
        let (status, error) = self.fate.expected();
        self.status.as_ref() == Some(&status) && self.error.as_deref() == error
    }
}

/// fate → (deployments, as expected, invariant violations), and every violation.
#[derive(Debug, Default)]
pub struct SoakReport {
    pub seed: u64,
    pub rows: BTreeMap<&'static str, (usize, usize, usize)>,
    pub outcomes: Vec<String>,
    pub violations: Vec<String>,
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "soak (seed {})", self.seed)?;
        writeln!(
            f,
            "{:<22} {:>11} {:>12} {:>11}",
            "fate", "deployments", "as expected", "violations"
        )?;
        for (fate, (count, expected, violations)) in &self.rows {
            writeln!(f, "{fate:<22} {count:>11} {expected:>12} {violations:>11}")?;
        }
        for outcome in &self.outcomes {
            writeln!(f, "  other outcome: {outcome}")?;
        }
        for violation in &self.violations {
            writeln!(f, "  VIOLATION: {violation}")?;
        }
        Ok(())
    }
}

/// One service of the soak.
struct Service {
    name: String,
    stack: String,
    stable: Colour,
    mail: mpsc::UnboundedReceiver<(String, String)>,
}

/// What every driver shares.
struct Soak {
    emulator: Emulator,
    clients: AwsClients,
    sfn: aws_sdk_sfn::Client,
    /// Each service's guarding alarm.
    alarms: BTreeMap<String, GuardAlarm>,
    never_stabilize: Mutex<Vec<String>>,
}

/// Runs a soak on a fresh emulator and reports.
pub async fn run_soak(plan: SoakPlan) -> SoakReport {
    let emulator = Emulator::start_with_functions().await;
    // The soak's own calls are patient: AWS throttles them too.
    let config = emulator
        .sdk_config()
        .await
        .to_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(12))
        .build();
    let clients = AwsClients::new(&config);
    let mut flow = Flow::create(&emulator).await;
    flow.sfn = aws_sdk_sfn::Client::new(&config);
    let network = create_network(&clients).await.expect("the network stack");
    let template = example_template("app.json");
    let names: Vec<String> = (0..plan.services).map(|i| format!("soak-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let stack = format!("soak-app-{i}");
        create_app(&clients, &network, &stack, name, 8000 + i as u16, &template)
            .await
            .expect("an application stack");
    }
    let sfn = flow.sfn.clone();
    // Every deployment is guarded by its service's alarm.
    let mut alarms = BTreeMap::new();
    for name in &names {
        alarms.insert(
            name.clone(),
            GuardAlarm::create(&config, &alarm_of(name)).await,
        );
    }
    let (postman, mut mailboxes) = sort_mail(Arc::new(flow), &names);
    let services: Vec<Service> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Service {
            name: name.clone(),
            stack: format!("soak-app-{i}"),
            stable: Colour::Blue,
            mail: mailboxes.remove(name).expect("a mailbox"),
        })
        .collect();
    let soak = Arc::new(Soak {
        clients,
        sfn,
        alarms,
        never_stabilize: Mutex::new(Vec::new()),
        emulator,
    });

    // A bad day: a fifth of the calls throttled, rule reads lagging.
    for (service, code) in [
        ("ecs", "ThrottlingException"),
        ("elasticloadbalancing", "Throttling"),
        ("cloudformation", "Throttling"),
        ("dynamodb", "ProvisionedThroughputExceededException"),
        ("states", "ThrottlingException"),
    ] {
        soak.emulator
            .arm(json!({"service": service, "operation": "*", "code": code,
                        "count": 1_000_000, "rate": 0.2}))
            .await;
    }
    soak.emulator
        .bad_day(json!({"ruleReadLagSeconds": 1.0}))
        .await;

    let fates = plan.fates();
    let mut drivers = Vec::new();
    for (index, mut service) in services.into_iter().enumerate() {
        let mine: Vec<(usize, Fate)> = fates
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| *s == index)
            .map(|(n, (_, fate))| (n, *fate))
            .collect();
        let soak = Arc::clone(&soak);
        drivers.push(tokio::spawn(async move {
            let mut ended = Vec::new();
            for (n, fate) in mine {
                ended.push(deploy(&soak, &mut service, n, fate).await);
            }
            (service, ended)
        }));
    }
    let mut results = Vec::new();
    for driver in drivers {
        results.push(driver.await.expect("a driver"));
    }
    soak.emulator.disarm_faults().await;
    soak.emulator
        .http("DELETE", "/_ecs-canary/bad-day", b"")
        .await;
    postman.abort();

    let mut report = SoakReport {
        seed: plan.seed,
        ..SoakReport::default()
    };
    // Every execution has ended; the reconciler closes the links of one
    // that ended through its own states (an approval that timed out) when
    // EventBridge delivers the end, moments after: wait for that, as for
    // the locks above, and report what is still pending then.
    let config = soak.emulator.sdk_config().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pending = pending_links(&config).await;
    while !pending.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        pending = pending_links(&config).await;
    }
    for (service, ended) in results {
        let at_rest =
            at_rest_violations(&soak.clients, &service.stack, &service.name, service.stable).await;
        let last = ended.len().saturating_sub(1);
        for (i, mut one) in ended.into_iter().enumerate() {
            if i == last {
                one.violations.extend(
                    at_rest
                        .iter()
                        .map(|v| format!("{} at rest: {v}", service.name)),
                );
            }
            one.violations.extend(
                pending
                    .iter()
                    .filter(|(execution, _)| *execution == one.execution)
                    .map(|(execution, link)| format!("{execution}: link {link} still pending")),
            );
            let row = report.rows.entry(one.fate.name()).or_default();
            row.0 += 1;
            if one.as_expected() {
                row.1 += 1;
            } else {
                report.outcomes.push(format!(
                    "{} ({:?}): {:?} {:?}",
                    one.execution, one.fate, one.status, one.error
                ));
            }
            row.2 += one.violations.len();
            report.violations.extend(one.violations);
        }
    }
    report
}

/// The approval links still pending: (execution, link id).
async fn pending_links(config: &aws_config::SdkConfig) -> Vec<(String, String)> {
    let config = config
        .to_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(12))
        .build();
    let items = aws_sdk_dynamodb::Client::new(&config)
        .scan()
        .table_name(APPROVALS_TABLE)
        .send()
        .await
        .expect("scan the approvals");
    let text =
        |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
         key: &str| {
            item.get(key)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
    items
        .items()
        .iter()
        .filter(|item| text(item, "status") == "PENDING")
        // A promotion's revert link is an offer, not an approval waiting
        // for a decision: it stays open a day by design.
        .filter(|item| !text(item, "facts").contains("\"revert\":true"))
        .map(|item| (text(item, "execution"), text(item, "approvalId")))
        .collect()
}

/// One deployment of `service` with `fate`, driven as the people involved
/// would; returns how it ended and what it left that it should not have.
async fn deploy(soak: &Soak, service: &mut Service, n: usize, fate: Fate) -> Ended {
    while service.mail.try_recv().is_ok() {}
    let version = format!("2.{n}.0");
    match fate {
        Fate::NeverStabilizes => {
            let mut never = soak.never_stabilize.lock().expect("lock").clone();
            never.push(service.name.clone());
            *soak.never_stabilize.lock().expect("lock") = never.clone();
            soak.emulator
                .bad_day(json!({"neverStabilize": never}))
                .await;
        }
        Fate::StackUpdateFails => {
            soak.emulator
                .bad_day(json!({"failNextStackUpdate": {service.stack.clone(): "Resource handler returned message: soak"}}))
                .await;
        }
        Fate::SlackDown => soak.emulator.slack().fail_messages_containing(&version),
        _ => {}
    }
    let timeout = if fate == Fate::ApprovalTimeout {
        4
    } else {
        600
    };
    let input = json!({
        "cluster": CLUSTER, "service": service.name, "stack": service.stack,
        "environment": {"APPVERSION": version}, "steps": [10, 50],
        "approvalTimeoutSeconds": timeout, "alarms": [alarm_of(&service.name)]
    });
    let execution = soak
        .sfn
        .start_execution()
        .state_machine_arn(soak.emulator.infra_output("StateMachineArn"))
        .name(format!("soak-{n}"))
        .input(input.to_string())
        .send()
        .await
        .expect("start the execution")
        .execution_arn()
        .to_string();
    let mut ended = Ended {
        fate,
        execution: execution.clone(),
        status: None,
        error: None,
        violations: Vec::new(),
    };
    let started = Instant::now();

    let decide_at = match fate {
        Fate::Reject(step) | Fate::ConsoleAbort(step) | Fate::AlarmFires(step) => step,
        Fate::Promote | Fate::SlackDown => 3,
        Fate::HandChange => 1,
        _ => 0,
    };
    for step in 1..=decide_at.min(2) {
        let Some(link) = approval_link(service, step, &version, started).await else {
            break;
        };
        let last = step == decide_at;
        match fate {
            Fate::Reject(_) if last => decide(&link, "reject").await,
            Fate::ConsoleAbort(_) if last => stop(soak, &execution).await,
            Fate::AlarmFires(_) if last => set_alarm(soak, service, StateValue::Alarm).await,
            Fate::HandChange => {
                hand_change(soak, service).await;
                decide(&link, "approve").await;
            }
            _ => decide(&link, "approve").await,
        }
    }

    // How it ended.
    loop {
        let described = soak
            .sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await;
        if let Ok(d) = described {
            if d.status() != &ExecutionStatus::Running {
                ended.status = Some(d.status().clone());
                ended.error = d.error().map(str::to_string);
                break;
            }
        }
        if started.elapsed() > DEPLOYMENT_LIMIT {
            ended.violations.push(format!(
                "{execution} still running after {DEPLOYMENT_LIMIT:?}"
            ));
            stop(soak, &execution).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    match (&ended.status, ended.error.as_deref()) {
        (Some(ExecutionStatus::Failed), None) => ended
            .violations
            .push(format!("{execution} failed without an error name")),
        (Some(ExecutionStatus::Failed), Some(error))
            if error.starts_with("States.") || error.starts_with("Lambda.") =>
        {
            ended.violations.push(format!(
                "{execution} failed with {error}, not a named outcome"
            ))
        }
        _ => {}
    }
    if ended.status == Some(ExecutionStatus::Succeeded) {
        service.stable = service.stable.other();
    }
    // An execution that ended holding the service is reconciled through
    // EventBridge: wait for its lock to go.
    let key = ecs_canary_core::lock_key(CLUSTER, &service.name);
    let locks = soak.clients.locks(crate::LOCK_TABLE);
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(Some(holder)) = locks.holder(&key).await {
        if Instant::now() > deadline {
            ended
                .violations
                .push(format!("{}: lock still held by {holder}", service.name));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if ended.error.as_deref() == Some("SplitChangedByHand") {
        // The rule stays exactly as the person set it; then they put it back.
        let live = live_split(soak, service).await;
        if live != TrafficSplit::new(HAND_SPLIT.0, HAND_SPLIT.1).ok() {
            ended.violations.push(format!(
                "{}: the rule was {live:?} after a hand change to {HAND_SPLIT:?}",
                service.name
            ));
        }
        set_split(soak, service, TrafficSplit::all_stable()).await;
        // Visible to the next deployment's reads (past ELBv2's read lag).
        tokio::time::sleep(Duration::from_millis(1_200)).await;
    }
    if let Fate::AlarmFires(_) = fate {
        set_alarm(soak, service, StateValue::Ok).await;
    }
    if fate == Fate::NeverStabilizes {
        let mut never = soak.never_stabilize.lock().expect("lock").clone();
        never.retain(|s| s != &service.name);
        *soak.never_stabilize.lock().expect("lock") = never.clone();
        soak.emulator
            .bad_day(json!({"neverStabilize": never}))
            .await;
    }
    ended
}

/// The alarm that guards `service`'s deployments.
fn alarm_of(service: &str) -> String {
    format!("{service}-5xx")
}

/// What CloudWatch does when the service's errors cross (and fall back
/// below) the threshold.
async fn set_alarm(soak: &Soak, service: &Service, state: StateValue) {
    if let Some(alarm) = soak.alarms.get(&service.name) {
        alarm.set(state, "soak: 5xx above 10 in one minute").await;
    }
}

/// What a person does in the console: stops the execution.
async fn stop(soak: &Soak, execution: &str) {
    let _ = soak
        .sfn
        .stop_execution()
        .execution_arn(execution)
        .send()
        .await;
}

/// The link of step `step`'s approval email for this release, if it comes.
async fn approval_link(
    service: &mut Service,
    step: usize,
    version: &str,
    started: Instant,
) -> Option<String> {
    let wanted = format!("Approve step {step}/2 of {}?", service.name);
    loop {
        let left = DEPLOYMENT_LIMIT.saturating_sub(started.elapsed());
        let (subject, body) = tokio::time::timeout(left, service.mail.recv())
            .await
            .ok()??;
        if subject.starts_with(&wanted) && body.contains(version) {
            return Some(link_in(&body));
        }
    }
}

/// Approves or rejects through the link, as the page's form does; a 503
/// ("not recorded, try again") is tried again.
async fn decide(link: &str, decision: &str) {
    for _ in 0..20 {
        let (status, _) = submit(link, decision).await;
        if status != 503 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn rule_and_groups(soak: &Soak, service: &Service) -> (String, String, String) {
    let ids = soak
        .clients
        .stacks
        .physical_ids(&service.stack)
        .await
        .expect("stack resources");
    let rule = ids.get("MyListenerRule").cloned().unwrap_or_default();
    let stable = target_group(&soak.clients, &service.stack, service.stable)
        .await
        .expect("a target group");
    let candidate = target_group(&soak.clients, &service.stack, service.stable.other())
        .await
        .expect("a target group");
    (rule, stable, candidate)
}

async fn set_split(soak: &Soak, service: &Service, split: TrafficSplit) {
    let (rule, stable, candidate) = rule_and_groups(soak, service).await;
    let targets = split.forward_targets(&stable, &candidate);
    set_rule_by_hand(&soak.clients, &rule, &targets)
        .await
        .expect("a person sets the rule");
}

async fn live_split(soak: &Soak, service: &Service) -> Option<TrafficSplit> {
    let (rule, stable, candidate) = rule_and_groups(soak, service).await;
    // Past ELBv2's read lag.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let targets = soak.clients.rules.forward_targets(&rule).await.ok()?;
    TrafficSplit::from_forward_targets(&targets, &stable, &candidate).ok()
}

/// A person moves the rule by hand during the rollout.
async fn hand_change(soak: &Soak, service: &Service) {
    let split = TrafficSplit::new(HAND_SPLIT.0, HAND_SPLIT.1).expect("a split");
    set_split(soak, service, split).await;
    // Let the change be visible before the approval is acted on.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
}
