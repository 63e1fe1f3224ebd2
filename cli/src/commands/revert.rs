//! `ecs-canary revert SERVICE`: undo the last promotion — all traffic back
//! on the colour stable before (it still runs the release that was stable
//! then), that colour stable again — under the approval policy.

use ecs_canary_handlers::actions::revert::Reverted;
use serde_json::json;

use super::{print_json, Session};
use crate::exit::Exit;

pub async fn run(session: &Session, service: &str) -> Result<(), Exit> {
    let key = session.service_key(service)?;
    let reverted: Reverted = session.call("revert", json!({ "service": key })).await?;
    if session.json {
        print_json(&json!(reverted));
    } else {
        println!("reverted the promotion of {}", reverted.promotion);
        println!(
            "  traffic  100 % on {} (read back), stable again",
            reverted.target.colour
        );
        println!("  release  {}", reverted.target.task_definition);
        println!("  told     {}", list(&reverted.channels));
    }
    Ok(())
}

fn list(channels: &[String]) -> String {
    if channels.is_empty() {
        "no channel".into()
    } else {
        channels.join(", ")
    }
}
