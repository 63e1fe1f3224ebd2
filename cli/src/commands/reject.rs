//! `ecs-canary reject SERVICE`: reject the step SERVICE waits on (traffic
//! back on stable first), as the caller's IAM identity.

use ecs_canary_core::Decision;

use super::{decide, Session};
use crate::exit::Exit;

pub async fn run(session: &Session, service: &str) -> Result<(), Exit> {
    decide(session, service, Decision::Reject).await
}
