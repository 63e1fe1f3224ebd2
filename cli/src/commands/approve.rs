//! `ecs-canary approve SERVICE [--to-promotion]`: approve the step SERVICE
//! waits on, as the caller's IAM identity, under the approval policy; with
//! `--to-promotion`, every remaining step at once (promotion next), each
//! recorded, unless the policy wants every step on its own (`stepByStep`).

use ecs_canary_core::Decision;
use serde_json::json;

use super::{decide_with, Session};
use crate::exit::Exit;

pub async fn run(session: &Session, service: &str, to_promotion: bool) -> Result<(), Exit> {
    decide_with(
        session,
        service,
        Decision::Approve,
        json!({ "toPromotion": to_promotion }),
    )
    .await
}
