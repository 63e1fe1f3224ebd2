//! `ecs-canary start --input …`: validate an execution input, then start a
//! deployment with it through the operator endpoint, which records the
//! caller as its initiator.

use ecs_canary_handlers::operator::Started;
use serde_json::json;

use super::{print_json, read_input, Session};
use crate::exit::Exit;

pub async fn run(session: &Session, input: &str, name: Option<&str>) -> Result<(), Exit> {
    let (value, _) = read_input(input)?;
    let started: Started = session
        .call("start", json!({"input": value, "name": name}))
        .await?;
    if session.json {
        print_json(&json!(started));
    } else {
        let key = &started.service;
        println!("started {}", started.execution);
        println!("  service  {key}");
        println!("  by       {}", started.started_by);
        println!("  steps    {:?} %", started.steps);
        println!("approve each step from the email or Slack message, or:");
        println!("  ecs-canary approve {key}");
        println!("  ecs-canary status {key} --watch");
    }
    Ok(())
}
