//! `ecs-canary history SERVICE`: the service's audit trail, newest first.

use ecs_canary_core::HistoryEvent;
use serde_json::json;

use super::{print_json, Session};
use crate::exit::Exit;
use crate::render;

pub async fn run(session: &Session, service: &str, limit: usize) -> Result<(), Exit> {
    let key = session.service_key(service)?;
    let events: Vec<HistoryEvent> = session
        .call("history", json!({ "service": key, "limit": limit }))
        .await?;
    if session.json {
        print_json(&json!(events));
    } else {
        print!("{}", render::history_table(&events));
    }
    Ok(())
}
