//! `ecs-canary`: the operator's command line.
//!
//! Every command is a call to the stack's operator endpoint (`OperatorUrl`,
//! a Lambda function URL with AWS_IAM auth, or `--url`), signed with the
//! usual AWS environment's credentials (`AWS_PROFILE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` for the local emulator): the endpoint acts as the
//! caller's IAM identity, under the approval policy, and records it.
//! Only `confirm-subscription` (SNS) and `enroll` (ECS, the caller's own
//! service) call AWS directly.
//!
//! Exit codes: 0 done; 1 AWS or another failure; 2 usage or invalid input;
//! 3 refused by the approval policy; 4 nothing to act on (no deployment,
//! not waiting, already decided); 5 not confirmed (`unlock` without `--yes`).

mod commands;
mod endpoint;
mod exit;
mod render;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use commands::Session;
use exit::Exit;

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
    /// The operator endpoint (default: the stack's `OperatorUrl` output).
    #[arg(long, global = true, env = "ECS_CANARY_URL")]
    url: Option<String>,
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
    Approve {
        service: String,
        /// Approve every remaining step at once: promotion is next.
        #[arg(long)]
        to_promotion: bool,
    },
    /// Go back to the step before the one SERVICE waits on (0 % before the
    /// first) and decide there again, with new links.
    Back { service: String },
    /// Let the step SERVICE waits on wait longer (same links; nothing moves).
    Hold {
        service: String,
        /// How much longer: 90s, 30m, 2h, 1d.
        #[arg(long = "for", value_name = "DURATION", default_value = "1h")]
        duration: String,
    },
    /// Reject the step SERVICE waits on (traffic back on stable first).
    Reject { service: String },
    /// Stop SERVICE's deployment: traffic to stable first, then the
    /// execution is stopped and the service reconciled.
    Abort { service: String },
    /// Undo SERVICE's last promotion: all traffic back on the colour that
    /// was stable before (it still runs that release), stable again.
    Revert { service: String },
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
    /// Show what gates SERVICE's own ECS deployments (the tag, a pause hook
    /// before every traffic shift, the service's own settings as tags); with
    /// --yes, set it (with your own ECS permissions).
    Enroll {
        service: String,
        #[command(flatten)]
        settings: EnrolSettings,
        /// Change the service without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Release SERVICE's lock after showing what holds it (recorded).
    Unlock {
        service: String,
        /// Release without asking.
        #[arg(long)]
        yes: bool,
    },
}

/// A service's own settings for its pauses (kept as its tags).
#[derive(Args, Debug, Default)]
pub struct EnrolSettings {
    /// How long a person may take at each pause (seconds; default a day).
    #[arg(long, value_name = "SECONDS")]
    pub approval_timeout: Option<String>,
    /// A CloudWatch alarm that rolls the deployment back (repeat for more).
    #[arg(long = "alarm", value_name = "NAME")]
    pub alarms: Vec<String>,
    /// Roll back (on approval, or by the watch between clicks) when the
    /// new revision's 5xx rate exceeds the current one's by more than this
    /// many percentage points (the 95 % interval wholly above it).
    #[arg(long, value_name = "POINTS")]
    pub max_error_rate_increase: Option<String>,
    /// The requests the new revision must have served before that is judged.
    #[arg(long, value_name = "N")]
    pub min_requests: Option<String>,
    /// An availability objective in percent (e.g. 99.9): each verdict shows
    /// both revisions' error-budget burn rates (shown only).
    #[arg(long, value_name = "PERCENT")]
    pub slo_target: Option<String>,
    /// A channel a decision may come through: email, slack, cli (repeat);
    /// the stack's policy still applies.
    #[arg(long = "channel", value_name = "CHANNEL")]
    pub channels: Vec<String>,
    /// An IAM principal (ARN) who may decide on the command line (repeat).
    #[arg(long = "cli-principal", value_name = "ARN")]
    pub cli_principals: Vec<String>,
    /// A Slack user id who may decide (repeat).
    #[arg(long = "slack-user", value_name = "ID")]
    pub slack_users: Vec<String>,
}

#[derive(Args, Debug)]
struct InputArg {
    /// The execution input: JSON text, a file, or `-` for standard input.
    #[arg(long, short)]
    input: String,
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
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

async fn run(cli: Cli) -> Result<(), Exit> {
    let session = Session::open(cli.stack, cli.cluster, cli.json, cli.url).await;
    let session = &session;
    match &cli.command {
        Command::Status {
            services,
            watch,
            interval,
        } => commands::status::run(session, services, *watch, *interval).await,
        Command::Start { input, name } => {
            commands::start::run(session, &input.input, name.as_deref()).await
        }
        Command::Approve {
            service,
            to_promotion,
        } => commands::approve::run(session, service, *to_promotion).await,
        Command::Back { service } => commands::back::run(session, service).await,
        Command::Hold { service, duration } => {
            commands::hold::run(session, service, duration).await
        }
        Command::Reject { service } => commands::reject::run(session, service).await,
        Command::Abort { service } => commands::abort::run(session, service).await,
        Command::Revert { service } => commands::revert::run(session, service).await,
        Command::Diff { input } => commands::diff::run(session, &input.input).await,
        Command::History { service, limit } => {
            commands::history::run(session, service, *limit).await
        }
        Command::ConfirmSubscription { link, topic } => {
            commands::confirm_subscription::run(session, link, topic.as_deref()).await
        }
        Command::Unlock { service, yes } => commands::unlock::run(session, service, *yes).await,
        Command::Enroll {
            service,
            settings,
            yes,
        } => commands::enroll::run(session, service, settings, *yes).await,
    }
}
