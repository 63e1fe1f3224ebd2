//! The pauses of ECS's own deployments, as the gate, the approval page and
//! the command line see them: whether ECS still waits, and closing a gate
//! whose pause ended without it.

use ecs_canary_aws::AwsError;
use ecs_canary_core::{ErrorKind, HistoryEvent, NativePause};
use serde_json::json;

use crate::Context;

/// The pauses the service's gates read, newest first (each gate records
/// the pause it holds in the history).
pub async fn recorded_pauses(context: &Context, key: &str) -> Result<Vec<NativePause>, AwsError> {
    let events = context.ports.history().list(key, 50).await?;
    Ok(events.iter().filter_map(NativePause::recorded_in).collect())
}

/// ECS's status of `pause`'s deployment when it no longer waits on it;
/// `None` while it does.
pub async fn ended(context: &Context, pause: &NativePause) -> Result<Option<String>, AwsError> {
    let now = context
        .ports
        .native()
        .service_deployment(&pause.service_deployment)
        .await?;
    Ok(match now {
        Some(now) if pause.still_waits(&now) => None,
        Some(now) => Some(now.status),
        None => Some("UNKNOWN".into()),
    })
}

/// Closes the gate of a pause that ended in ECS (`status`): its links
/// expire, its execution stops (`PauseEnded`), the history is told (the
/// channels are ecs-hook's to tell, when ECS reports the end). Returns how many links were closed (none: already closed, and
/// nothing more is done).
pub async fn close_ended(
    context: &Context,
    pause: &NativePause,
    status: &str,
) -> Result<usize, AwsError> {
    let closed = context
        .ports
        .approvals()
        .expire_pending(&pause.execution, pause.plan.len())
        .await?;
    if closed == 0 {
        return Ok(0);
    }
    let cause = format!(
        "the ECS deployment is {status}: {} no longer waits",
        pause.label()
    );
    match context
        .ports
        .callbacks()
        .stop(&pause.execution, ErrorKind::PauseEnded.as_str(), &cause)
        .await
    {
        Ok(()) | Err(AwsError::TaskNotWaiting(_)) => {}
        Err(other) => return Err(other),
    }
    tracing::info!(service = %pause.service, %status, closed, "a pause ended in ECS: its gate is closed");
    context
        .ports
        .locks()
        .release(&pause.lock_key(), &pause.execution)
        .await?;
    context
        .record(HistoryEvent::about_pause(
            pause,
            context.now_millis(),
            &format!(
                "{} ended in ECS ({status}) before a decision: links closed, the gate stopped",
                pause.label()
            ),
            json!({"status": status, "closed": closed}),
        ))
        .await;
    Ok(closed)
}
