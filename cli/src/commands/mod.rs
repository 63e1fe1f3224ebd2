//! One module per subcommand: each parses nothing (clap did), calls the
//! operator's actions and prints. A command never calls another command;
//! what two of them share lives here.

pub mod abort;
pub mod approve;
pub mod back;
pub mod confirm_subscription;
pub mod diff;
pub mod enroll;
pub mod history;
pub mod hold;
pub mod reject;
pub mod revert;
pub mod start;
pub mod status;
pub mod unlock;

use std::io::Read;

use ecs_canary_aws::{load_sdk_config, AwsClients, SdkConfig};
use ecs_canary_core::{lock_key, Decision, DeploymentRequest, ErrorName};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::endpoint::Endpoint;
use crate::exit::Exit;

/// What every command works with: the global options, the operator
/// endpoint, and the SDK configuration (the caller's credentials).
pub struct Session {
    /// The ecs-canary stack (where the operator URL is found).
    pub stack: String,
    /// The cluster of a SERVICE given without one.
    pub cluster: Option<String>,
    /// JSON for scripts instead of tables for people.
    pub json: bool,
    pub config: SdkConfig,
    /// `--url`, when given (otherwise the stack's `OperatorUrl`).
    url: Option<String>,
    endpoint: tokio::sync::OnceCell<Endpoint>,
}

impl Session {
    pub async fn open(
        stack: String,
        cluster: Option<String>,
        json: bool,
        url: Option<String>,
    ) -> Session {
        Session {
            stack,
            cluster,
            json,
            config: load_sdk_config().await,
            url,
            endpoint: tokio::sync::OnceCell::new(),
        }
    }

    /// The AWS clients, for what goes to AWS directly (confirming the
    /// email subscription, reading the stack's outputs).
    pub fn clients(&self) -> AwsClients {
        AwsClients::new(&self.config)
    }

    /// The stack output `key`.
    pub async fn stack_output(&self, key: &str) -> Result<Option<String>, Exit> {
        let described = self.clients().stacks.describe(&self.stack).await.map_err(|e| {
            Exit::new(
                1,
                format!(
                    "cannot read the ecs-canary stack `{}` ({e}); name it with --stack or ECS_CANARY_STACK, or give the operator URL with --url (ECS_CANARY_URL)",
                    self.stack
                ),
            )
        })?;
        Ok(described.outputs.get(key).cloned())
    }

    /// The operator endpoint: `--url`, or the stack's `OperatorUrl`.
    async fn endpoint(&self) -> Result<&Endpoint, Exit> {
        self.endpoint
            .get_or_try_init(|| async {
                let url = match &self.url {
                    Some(url) => url.clone(),
                    None => self.stack_output("OperatorUrl").await?.ok_or_else(|| {
                        Exit::new(
                            1,
                            format!("the stack `{}` has no OperatorUrl output", self.stack),
                        )
                    })?,
                };
                Endpoint::new(&url, &self.config)
            })
            .await
    }

    /// `verb` on the operator endpoint, as the caller: the answer's body,
    /// or the command's failure.
    pub async fn call<T: DeserializeOwned>(&self, verb: &str, body: Value) -> Result<T, Exit> {
        let body = self
            .endpoint()
            .await?
            .call(verb, &body)
            .await?
            .into_result()?;
        serde_json::from_value(body).map_err(|e| {
            Exit::new(
                1,
                format!("the operator endpoint's answer to {verb} is not what this command line reads ({e}): is the stack of another version?"),
            )
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
    let request = DeploymentRequest::from_execution_input(&value)
        .map_err(|e| Exit::new(2, format!("the input is refused ({}): {e}", e.error_type())))?;
    Ok((value, request))
}

/// Decides the step SERVICE waits on as the caller (approve and reject):
/// the endpoint applies the approval policy and answers as a link would.
pub async fn decide(session: &Session, service: &str, decision: Decision) -> Result<(), Exit> {
    decide_with(session, service, decision, json!({})).await
}

/// [`decide`] with more of the request's fields (`toPromotion`, `seconds`).
pub async fn decide_with(
    session: &Session,
    service: &str,
    decision: Decision,
    mut body: Value,
) -> Result<(), Exit> {
    let key = session.service_key(service)?;
    body["service"] = json!(key);
    let answer = session
        .endpoint()
        .await?
        .call(decision.as_str(), &body)
        .await?;
    // A refusal by the policy or a closed step still says what happened.
    let Some(title) = answer.body.get("title").and_then(Value::as_str) else {
        return Err(answer.failure());
    };
    if session.json {
        print_json(&answer.body);
    } else {
        let message = answer.body["message"].as_str().unwrap_or_default();
        println!("{title}: {message}");
    }
    match answer.status {
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
