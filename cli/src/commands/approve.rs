//! `ecs-canary approve SERVICE`: approve the step SERVICE waits on, as the
//! caller's IAM identity, under the approval policy.

use ecs_canary_core::Decision;

use super::{decide, Session};
use crate::exit::Exit;

pub async fn run(session: &Session, service: &str) -> Result<(), Exit> {
    decide(session, service, Decision::Approve).await
}
