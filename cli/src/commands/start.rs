//! `ecs-canary start --input …`: validate an execution input, then start a
//! deployment with it, as the caller.

use ecs_canary_aws::StartOutcome;
use ecs_canary_core::{lock_key, DeploymentRequest};
use serde_json::{json, Value};

use super::{print_json, read_input, Session};
use crate::exit::Exit;

/// Step Functions takes at most 80 characters of `[A-Za-z0-9-_]`: the
/// service's name (at most 60 of them) and the time.
fn execution_name(request: &DeploymentRequest, now_millis: u64) -> String {
    let service: String = request
        .service
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(60)
        .collect();
    format!("{service}-{now_millis}")
}

pub async fn run(session: &Session, input: &str, name: Option<&str>) -> Result<(), Exit> {
    let context = &session.context;
    let (mut value, request) = read_input(input)?;
    let identity = session.identity().await?;
    if let Some(object) = value.as_object_mut() {
        object
            .entry("startedBy")
            .or_insert_with(|| Value::String(identity.clone()));
    }
    let state_machine = context
        .settings
        .state_machine_arn
        .clone()
        .ok_or_else(|| Exit::new(1, "the stack has no StateMachineArn output"))?;
    let name = name.map_or_else(
        || execution_name(&request, context.now_millis()),
        str::to_string,
    );
    let started = context
        .ports
        .starts
        .start(&state_machine, &name, &value.to_string())
        .await?;
    let execution = match started {
        StartOutcome::Started(arn) => arn,
        StartOutcome::AlreadyExists => {
            return Err(Exit::new(
                4,
                format!("an execution named {name} exists already"),
            ))
        }
    };
    let key = lock_key(&request.cluster, &request.service);
    if session.json {
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
