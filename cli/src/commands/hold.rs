//! `ecs-canary hold SERVICE [--for 2h]`: the step SERVICE waits on waits
//! that much longer (default an hour), with the same links; nothing moves.

use ecs_canary_core::{parse_duration, Decision};
use serde_json::json;

use super::{decide_with, Session};
use crate::exit::Exit;

pub async fn run(session: &Session, service: &str, duration: &str) -> Result<(), Exit> {
    let seconds = parse_duration(duration).ok_or_else(|| {
        Exit::new(
            2,
            format!("--for takes a duration such as 90s, 30m, 2h or 1d, not `{duration}`"),
        )
    })?;
    decide_with(
        session,
        service,
        Decision::Hold,
        json!({ "seconds": seconds }),
    )
    .await
}
