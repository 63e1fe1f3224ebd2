//! `ecs-canary diff --input …`: a dry run — the release against stable and
//! the rendered template against the stack's; changes nothing.

use ecs_canary_handlers::operator;
use serde_json::json;

use super::{print_json, read_input, Session};
use crate::exit::Exit;
use crate::render;

pub async fn run(session: &Session, input: &str) -> Result<(), Exit> {
    let (_, request) = read_input(input)?;
    let dry = operator::dry_run(&session.context, request).await?;
    if session.json {
        print_json(&json!(dry));
    } else {
        print!("{}", render::dry_run(&dry));
    }
    Ok(())
}
