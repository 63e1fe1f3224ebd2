//! One module per subcommand: each parses nothing (clap did), calls the
//! operator's actions and prints. A command never calls another command;
//! what two of them share lives here.

pub mod abort;
pub mod approve;
pub mod confirm_subscription;
pub mod diff;
pub mod history;
pub mod reject;
pub mod start;
pub mod status;
pub mod unlock;

use std::io::Read;

use ecs_canary_aws::{caller_identity, load_sdk_config, AwsClients, SdkConfig};
use ecs_canary_core::{lock_key, Approver, Decision, DeploymentRequest, ErrorName};
use ecs_canary_handlers::{operator, Context, Settings};
use serde_json::{json, Value};

use crate::exit::Exit;

/// What every command works with: the global options, the functions'
/// context configured from the ecs-canary stack, and the SDK configuration.
pub struct Session {
    /// The ecs-canary stack whose tables and state machine are used.
    pub stack: String,
    /// The cluster of a SERVICE given without one.
    pub cluster: Option<String>,
    /// JSON for scripts instead of tables for people.
    pub json: bool,
    pub context: Context,
    pub config: SdkConfig,
}

impl Session {
    /// The context the functions use, configured from the stack's outputs.
    pub async fn open(stack: String, cluster: Option<String>, json: bool) -> Result<Session, Exit> {
        let config = load_sdk_config().await;
        let clients = AwsClients::new(&config);
        let described = clients.stacks.describe(&stack).await.map_err(|e| {
            Exit::new(
                1,
                format!(
                    "cannot read the ecs-canary stack `{stack}` ({e}); name it with --stack or ECS_CANARY_STACK"
                ),
            )
        })?;
        let output = |key: &str| described.outputs.get(key).cloned();
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
        Ok(Session {
            stack,
            cluster,
            json,
            context,
            config,
        })
    }

    /// The service key (`cluster/service`) of a SERVICE argument.
    pub fn service_key(&self, service: &str) -> Result<String, Exit> {
        if service.contains('/') {
            return Ok(service.to_string());
        }
        match &self.cluster {
            Some(cluster) => Ok(lock_key(cluster, service)),
            None => Err(Exit::new(
                2,
                format!("name the cluster: `CLUSTER/{service}`, or --cluster (ECS_CANARY_CLUSTER)"),
            )),
        }
    }

    /// The caller's IAM identity (who decides, aborts, starts, unlocks).
    pub async fn identity(&self) -> Result<String, Exit> {
        Ok(caller_identity(&self.config).await?)
    }
}

/// The execution input of `--input` (JSON text, a file, or `-` for standard
/// input), validated by the same parser as resolve-stable.
pub fn read_input(input: &str) -> Result<(Value, DeploymentRequest), Exit> {
    let text = if input.trim_start().starts_with('{') {
        input.to_string()
    } else if input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Exit::new(2, format!("reading standard input: {e}")))?;
        text
    } else {
        std::fs::read_to_string(input).map_err(|e| Exit::new(2, format!("reading {input}: {e}")))?
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Exit::new(2, format!("the input is not JSON: {e}")))?;
    let request = DeploymentRequest::from_json(&value)
        .map_err(|e| Exit::new(2, format!("the input is refused ({}): {e}", e.error_type())))?;
    Ok((value, request))
}

/// Decides the step SERVICE waits on as the caller (approve and reject).
pub async fn decide(session: &Session, service: &str, decision: Decision) -> Result<(), Exit> {
    let key = session.service_key(service)?;
    let identity = session.identity().await?;
    let outcome =
        operator::decide_waiting(&session.context, &key, decision, &Approver::cli(&identity))
            .await?;
    if session.json {
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
        403 => Err(Exit::new(3, "refused by the approval policy")),
        404 | 409 | 410 => Err(Exit::new(4, "nothing was decided")),
        _ => Err(Exit::new(1, "the decision was not passed on; try again")),
    }
}

/// Prints `value` as indented JSON.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
