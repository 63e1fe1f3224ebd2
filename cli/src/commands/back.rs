//! `ecs-canary back SERVICE`: the rollout goes back to the step before the
//! one that waits (0 % before the first, the new version still running),
//! and a decision is asked there again, with new links.

use ecs_canary_core::Decision;

use super::{decide, Session};
use crate::exit::Exit;

pub async fn run(session: &Session, service: &str) -> Result<(), Exit> {
    decide(session, service, Decision::Back).await
}
