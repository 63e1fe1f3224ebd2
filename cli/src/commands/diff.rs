//! `ecs-canary diff --input …`: a dry run — the release against stable and
//! the rendered template against the stack's; changes nothing.

use ecs_canary_handlers::operator::DryRun;
use serde_json::json;

use super::{print_json, read_input, Session};
use crate::exit::Exit;
use crate::render;

pub async fn run(session: &Session, input: &str) -> Result<(), Exit> {
    let (value, _) = read_input(input)?;
    let dry: DryRun = session.call("diff", json!({ "input": value })).await?;
    if session.json {
        print_json(&json!(dry));
    } else {
        print!("{}", render::dry_run(&dry));
    }
    Ok(())
}
