//! `ecs-canary unlock SERVICE [--yes]`: release SERVICE's lock after
//! showing what holds it (recorded).

use std::io::IsTerminal;

use ecs_canary_handlers::operator::LockView;
use serde_json::{json, Value};

use super::{print_json, Session};
use crate::exit::Exit;
use crate::render;

pub async fn run(session: &Session, service: &str, yes: bool) -> Result<(), Exit> {
    let key = session.service_key(service)?;
    let held: LockView = session.call("lock", json!({ "service": key })).await?;
    if !session.json {
        print!("{}", render::lock(&held, crate::now()));
    }
    let confirmed = yes || (std::io::stdin().is_terminal() && render::confirm("release it?"));
    if !confirmed {
        return Err(Exit::new(
            5,
            "not released: run again with --yes to release it",
        ));
    }
    let answer: Value = session
        .call("unlock", json!({ "service": key, "holder": held.owner }))
        .await?;
    let released = answer["released"].as_bool().unwrap_or(false);
    let identity = answer["by"].as_str().unwrap_or_default();
    if session.json {
        print_json(&json!({"service": key, "holder": held.owner, "released": released}));
    } else if released {
        println!("released (recorded as {identity})");
    } else {
        println!("the lock had changed hands already; nothing released");
    }
    if released {
        Ok(())
    } else {
        Err(Exit::new(4, "nothing released"))
    }
}
