//! `ecs-canary`: the operator's command line.
//!
//! It talks to AWS (or to the local emulator) through the usual environment
//! — `AWS_ENDPOINT_URL`, `AWS_PROFILE`, `AWS_REGION` — and finds its tables,
//! state machine and rollback function in the outputs of the ecs-canary
//! stack (`--stack`, default `ecs-canary`). Decisions are made as the
//! caller's IAM identity, under the same approval policy as the links.
//!
//! Exit codes: 0 done; 1 AWS or another failure; 2 usage or invalid input;
//! 3 refused by the approval policy; 4 nothing to act on (no deployment,
//! not waiting, already decided); 5 not confirmed (`unlock` without `--yes`).

mod render;

use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ecs_canary_aws::{caller_identity, load_sdk_config, AwsClients, StartOutcome};
use ecs_canary_core::{lock_key, Approver, Decision, DeploymentRequest, ErrorName};
use ecs_canary_handlers::operator::{self, OperatorError};
use ecs_canary_handlers::{Context, Settings};
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(
    name = "ecs-canary",
    version,
    about = "Manually gated canary deployments on Amazon ECS: see and steer them.",
    after_help = "Exit codes: 0 done, 1 failure, 2 usage or invalid input, 3 refused by the approval policy, 4 nothing to act on, 5 not confirmed."
)]
struct Cli {
    /// The ecs-canary stack whose tables and state machine to use.
    #[arg(
        long,
        global = true,
        env = "ECS_CANARY_STACK",
        default_value = "ecs-canary"
    )]
    stack: String,
    /// The cluster of a SERVICE given without one (`cluster/service` needs none).
    #[arg(long, global = true, env = "ECS_CANARY_CLUSTER")]
    cluster: Option<String>,
    /// JSON for scripts instead of tables for people.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every managed service (or those named): stable colour, live split, the
    /// rollout in progress, its step, since when it waits, its alarms.
    Status {
        services: Vec<String>,
        /// Redraw until every rollout shown has ended.
        #[arg(long)]
        watch: bool,
        /// Seconds between redraws.
        #[arg(long, default_value_t = 2)]
        interval: u64,
    },
    /// Validate an execution input, then start a deployment with it.
    Start {
        #[command(flatten)]
        input: InputArg,
        /// The execution's name (default: the service and the time).
        #[arg(long)]
        name: Option<String>,
    },
    /// Approve the step SERVICE waits on, as your IAM identity.
    Approve { service: String },
    /// Reject the step SERVICE waits on (traffic back on stable first).
    Reject { service: String },
    /// Stop SERVICE's deployment: traffic to stable first, then the
    /// execution is stopped and the service reconciled.
    Abort { service: String },
    /// A dry run: the release against stable and the rendered template
    /// against the stack's; changes nothing.
    Diff {
        #[command(flatten)]
        input: InputArg,
    },
    /// SERVICE's audit trail, newest first.
    History {
        service: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Confirm the approval email's subscription with authentication on
    /// unsubscribe, from the link in SNS's confirmation email (do not click
    /// it: a click confirms without authentication).
    ConfirmSubscription {
        /// The confirmation link (or just its token, with --topic).
        link: String,
        /// The topic (default: the stack's approval topic).
        #[arg(long)]
        topic: Option<String>,
    },
    /// Release SERVICE's lock after showing what holds it (recorded).
    Unlock {
        service: String,
        /// Release without asking.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args, Debug)]
struct InputArg {
    /// The execution input: JSON text, a file, or `-` for standard input.
    #[arg(long, short)]
    input: String,
}

/// A failure, with the exit code it ends with.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<OperatorError> for Failure {
    fn from(error: OperatorError) -> Failure {
        let code = match &error {
            OperatorError::NoDeployment { .. }
            | OperatorError::NotWaiting { .. }
            | OperatorError::UnknownService { .. } => 4,
            OperatorError::Function(e) if is_input(e.error_type()) => 2,
            OperatorError::Function(_) => 1,
        };
        Failure::new(code, error.to_string())
    }
}

impl From<ecs_canary_handlers::FunctionError> for Failure {
    fn from(error: ecs_canary_handlers::FunctionError) -> Failure {
        OperatorError::from(error).into()
    }
}

impl From<ecs_canary_aws::AwsError> for Failure {
    fn from(error: ecs_canary_aws::AwsError) -> Failure {
        OperatorError::from(error).into()
    }
}

fn is_input(error_type: &str) -> bool {
    matches!(
        error_type,
        "InvalidInput"
            | "MissingField"
            | "InvalidField"
            | "UnknownField"
            | "NothingToDeploy"
            | "InvalidEnvironment"
            | "InvalidSteps"
            | "InvalidApprovalTimeout"
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("ecs-canary: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// The service key of a SERVICE argument.
fn service_key(cli: &Cli, service: &str) -> Result<String, Failure> {
    if service.contains('/') {
        return Ok(service.to_string());
    }
    match &cli.cluster {
        Some(cluster) => Ok(lock_key(cluster, service)),
        None => Err(Failure::new(
            2,
            format!("name the cluster: `CLUSTER/{service}`, or --cluster (ECS_CANARY_CLUSTER)"),
        )),
    }
}

/// The execution input of `--input`, validated by the same parser as resolve-stable.
fn read_input(arg: &InputArg) -> Result<(Value, DeploymentRequest), Failure> {
    let text = if arg.input.trim_start().starts_with('{') {
        arg.input.clone()
    } else if arg.input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::new(2, format!("reading standard input: {e}")))?;
        text
    } else {
        std::fs::read_to_string(&arg.input)
            .map_err(|e| Failure::new(2, format!("reading {}: {e}", arg.input)))?
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::new(2, format!("the input is not JSON: {e}")))?;
    let request = DeploymentRequest::from_json(&value)
        .map_err(|e| Failure::new(2, format!("the input is refused ({}): {e}", e.error_type())))?;
    Ok((value, request))
}

/// The context the functions use, configured from the stack's outputs.
async fn context(cli: &Cli) -> Result<(Context, ecs_canary_aws::SdkConfig), Failure> {
    let config = load_sdk_config().await;
    let clients = AwsClients::new(&config);
    let stack = clients.stacks.describe(&cli.stack).await.map_err(|e| {
        Failure::new(
            1,
            format!(
                "cannot read the ecs-canary stack `{}` ({e}); name it with --stack or ECS_CANARY_STACK",
                cli.stack
            ),
        )
    })?;
    let output = |key: &str| stack.outputs.get(key).cloned();
    let table = |key: &str, default: &str| output(key).unwrap_or_else(|| default.to_string());
    let settings = Settings {
        lock_table: table("LockTableName", "ecs-canary-locks"),
        approvals_table: table("ApprovalsTableName", "ecs-canary-approvals"),
        history_table: table("HistoryTableName", "ecs-canary-history"),
        state_machine_arn: output("StateMachineArn"),
        rollback_function: output("RollbackFunctionArn"),
        approval_policy: output("DefaultApprovalPolicy"),
        ..Settings::default()
    };
    let context = Context::new(clients, settings)?;
    Ok((context, config))
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let (context, config) = context(&cli).await?;
    match &cli.command {
        Command::Status {
            services,
            watch,
            interval,
        } => {
            let keys = if services.is_empty() {
                operator::managed_services(&context).await?
            } else {
                services
                    .iter()
                    .map(|s| service_key(&cli, s))
                    .collect::<Result<_, _>>()?
            };
            let redraw = *watch && std::io::stdout().is_terminal() && !cli.json;
            let mut frame = 0usize;
            loop {
                let mut statuses = Vec::with_capacity(keys.len());
                for key in &keys {
                    statuses.push(operator::service_status(&context, key).await?);
                }
                if cli.json {
                    print_json(&json!(statuses));
                } else {
                    if redraw {
                        print!("\x1b[2J\x1b[H");
                    }
                    print!("{}", render::status_table(&statuses, context.now()));
                    if *watch {
                        println!("{} watching (Ctrl-C to stop)", render::spinner(frame));
                    }
                }
                let running = statuses.iter().any(|s| s.rollout.is_some());
                if !*watch || !running {
                    return Ok(());
                }
                frame += 1;
                tokio::time::sleep(Duration::from_secs((*interval).max(1))).await;
            }
        }
        Command::Start { input, name } => {
            let (mut value, request) = read_input(input)?;
            let identity = caller_identity(&config).await?;
            if let Some(object) = value.as_object_mut() {
                object
                    .entry("startedBy")
                    .or_insert_with(|| Value::String(identity.clone()));
            }
            let state_machine = context
                .settings
                .state_machine_arn
                .clone()
                .ok_or_else(|| Failure::new(1, "the stack has no StateMachineArn output"))?;
            // Step Functions takes at most 80 characters of [A-Za-z0-9-_].
            let name = name.clone().unwrap_or_else(|| {
                let service: String = request
                    .service
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .take(60)
                    .collect();
                format!("{service}-{}", context.now_millis())
            });
            let started = context
                .clients
                .state_machines
                .start(&state_machine, &name, &value.to_string())
                .await?;
            let execution = match started {
                StartOutcome::Started(arn) => arn,
                StartOutcome::AlreadyExists => {
                    return Err(Failure::new(
                        4,
                        format!("an execution named {name} exists already"),
                    ))
                }
            };
            let key = lock_key(&request.cluster, &request.service);
            if cli.json {
                print_json(&json!({"execution": execution, "service": key, "startedBy": identity}));
            } else {
                println!("started {execution}");
                println!("  service  {key}");
                println!("  by       {identity}");
                println!("  steps    {:?} %", request.steps.percentages());
                println!("approve each step from the email or Slack message, or:");
                println!("  ecs-canary approve {key}");
                println!("  ecs-canary status {key} --watch");
            }
            Ok(())
        }
        Command::Approve { service } | Command::Reject { service } => {
            let decision = match cli.command {
                Command::Approve { .. } => Decision::Approve,
                _ => Decision::Reject,
            };
            let key = service_key(&cli, service)?;
            let identity = caller_identity(&config).await?;
            let outcome =
                operator::decide_waiting(&context, &key, decision, &Approver::cli(&identity))
                    .await?;
            if cli.json {
                print_json(&json!({
                    "service": key,
                    "decision": decision.as_str(),
                    "by": identity,
                    "status": outcome.status,
                    "title": outcome.title,
                    "message": outcome.message,
                }));
            } else {
                println!("{}: {}", outcome.title, outcome.message);
            }
            match outcome.status {
                200 => Ok(()),
                403 => Err(Failure::new(3, "refused by the approval policy")),
                404 | 409 | 410 => Err(Failure::new(4, "nothing was decided")),
                _ => Err(Failure::new(1, "the decision was not passed on; try again")),
            }
        }
        Command::Abort { service } => {
            let key = service_key(&cli, service)?;
            let identity = caller_identity(&config).await?;
            let aborted = operator::abort(&context, &key, &identity).await?;
            if cli.json {
                print_json(&json!(aborted));
            } else {
                println!("aborted {}", aborted.execution);
                println!(
                    "  traffic  {}",
                    if aborted.traffic_on_stable_first {
                        "back on stable before the stop"
                    } else {
                        "back on stable by the reconciler, right after the stop"
                    }
                );
                println!("  links    {} closed", aborted.links_closed);
            }
            Ok(())
        }
        Command::Diff { input } => {
            let (_, request) = read_input(input)?;
            let dry = operator::dry_run(&context, request).await?;
            if cli.json {
                print_json(&json!(dry));
            } else {
                print!("{}", render::dry_run(&dry));
            }
            Ok(())
        }
        Command::History { service, limit } => {
            let key = service_key(&cli, service)?;
            let events = operator::history(&context, &key, *limit).await?;
            if events.is_empty() {
                return Err(OperatorError::UnknownService { service: key }.into());
            }
            if cli.json {
                print_json(&json!(events));
            } else {
                print!("{}", render::history_table(&events));
            }
            Ok(())
        }
        Command::ConfirmSubscription { link, topic } => {
            let (topic, token) = confirmation(link, topic.clone(), &cli).await?;
            let (arn, authenticated) = context
                .clients
                .notifications
                .confirm_authenticated(&topic, &token)
                .await?;
            if cli.json {
                print_json(
                    &json!({"subscription": arn, "authenticatedUnsubscribe": authenticated}),
                );
            } else {
                println!("confirmed {arn}");
            }
            if authenticated {
                if !cli.json {
                    println!("only the account can unsubscribe it: an unsubscribe link followed by a mail scanner does nothing");
                }
                Ok(())
            } else {
                Err(Failure::new(
                    1,
                    "SNS does not record the confirmation as authenticated: unsubscribing stays open to anyone with the link",
                ))
            }
        }
        Command::Unlock { service, yes } => {
            let key = service_key(&cli, service)?;
            let Some(held) = operator::lock_holder(&context, &key).await? else {
                return Err(OperatorError::NoDeployment { service: key }.into());
            };
            if !cli.json {
                print!("{}", render::lock(&held, context.now()));
            }
            let confirmed =
                *yes || (std::io::stdin().is_terminal() && render::confirm("release it?"));
            if !confirmed {
                return Err(Failure::new(
                    5,
                    "not released: run again with --yes to release it",
                ));
            }
            let identity = caller_identity(&config).await?;
            let released = operator::unlock(&context, &key, &held.owner, &identity).await?;
            if cli.json {
                print_json(&json!({"service": key, "holder": held.owner, "released": released}));
            } else if released {
                println!("released (recorded as {identity})");
            } else {
                println!("the lock had changed hands already; nothing released");
            }
            if released {
                Ok(())
            } else {
                Err(Failure::new(4, "nothing released"))
            }
        }
    }
}

/// The topic and token of a confirmation link (`…?Action=ConfirmSubscription&TopicArn=…&Token=…`).
async fn confirmation(
    link: &str,
    topic: Option<String>,
    cli: &Cli,
) -> Result<(String, String), Failure> {
    let query = link.split_once('?').map_or("", |(_, q)| q);
    let field = |name: &str| ecs_canary_core::form_field(query, name);
    let token = field("Token").unwrap_or_else(|| link.trim().to_string());
    if token.is_empty() || token.contains(['/', ' ', '?']) {
        return Err(Failure::new(
            2,
            "give the confirmation link from SNS's email (or its token)",
        ));
    }
    let topic = match topic.or_else(|| field("TopicArn")) {
        Some(topic) => topic,
        None => {
            let clients = AwsClients::new(&load_sdk_config().await);
            clients
                .stacks
                .describe(&cli.stack)
                .await?
                .outputs
                .get("ApprovalTopicArn")
                .cloned()
                .ok_or_else(|| Failure::new(2, "name the topic with --topic"))?
        }
    };
    Ok((topic, token))
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
