//! `ecs-canary status [SERVICE…] [--watch]`: every managed service (or
//! those named) — stable colour, live split, the rollout in progress.

use std::io::IsTerminal;
use std::time::Duration;

use ecs_canary_handlers::operator::ServiceStatus;
use serde_json::json;

use super::{print_json, Session};
use crate::exit::Exit;
use crate::render;

pub async fn run(
    session: &Session,
    services: &[String],
    watch: bool,
    interval: u64,
) -> Result<(), Exit> {
    let keys = services
        .iter()
        .map(|s| session.service_key(s))
        .collect::<Result<Vec<_>, _>>()?;
    let redraw = watch && std::io::stdout().is_terminal() && !session.json;
    let mut frame = 0usize;
    loop {
        let statuses: Vec<ServiceStatus> =
            session.call("status", json!({ "services": keys })).await?;
        if session.json {
            print_json(&json!(statuses));
        } else {
            if redraw {
                print!("\x1b[2J\x1b[H");
            }
            print!("{}", render::status_table(&statuses, crate::now()));
            if watch {
                println!("{} watching (Ctrl-C to stop)", render::spinner(frame));
            }
        }
        let running = statuses.iter().any(|s| s.rollout.is_some());
        if !watch || !running {
            return Ok(());
        }
        frame += 1;
        tokio::time::sleep(Duration::from_secs(interval.max(1))).await;
    }
}
