//! `ecs-canary unlock SERVICE [--yes]`: release SERVICE's lock after
//! showing what holds it (recorded).

use std::io::IsTerminal;

use ecs_canary_handlers::operator::{self, OperatorError};
use serde_json::json;

use super::{print_json, Session};
use crate::exit::Exit;
use crate::render;

pub async fn run(session: &Session, service: &str, yes: bool) -> Result<(), Exit> {
    let context = &session.context;
    let key = session.service_key(service)?;
    let Some(held) = operator::lock_holder(context, &key).await? else {
        return Err(OperatorError::NoDeployment { service: key }.into());
    };
    if !session.json {
        print!("{}", render::lock(&held, context.now()));
    }
    let confirmed = yes || (std::io::stdin().is_terminal() && render::confirm("release it?"));
    if !confirmed {
        return Err(Exit::new(
            5,
            "not released: run again with --yes to release it",
        ));
    }
    let identity = session.identity().await?;
    let released = operator::unlock(context, &key, &held.owner, &identity).await?;
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
