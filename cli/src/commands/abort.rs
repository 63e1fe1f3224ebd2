//! `ecs-canary abort SERVICE`: traffic to stable first, then the execution
//! is stopped and the service reconciled.

use ecs_canary_handlers::operator::Aborted;
use serde_json::json;

use super::{print_json, Session};
use crate::exit::Exit;

pub async fn run(session: &Session, service: &str) -> Result<(), Exit> {
    let key = session.service_key(service)?;
    let aborted: Aborted = session.call("abort", json!({ "service": key })).await?;
    if session.json {
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
