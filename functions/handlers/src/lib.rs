//! The handlers of ecs-canary's Lambda functions.
//!
//! Each function binary is a few lines: [`run`] with one of the handlers
//! below. A handler takes the JSON event Step Functions sends, does one step
//! that is safe to repeat, and returns the deployment for the next state.
//! Errors carry stable names (the Lambda `errorType`); `state-machine/README.md`
//! lists them and the payloads.

/// Evaluates `$attempt` (an expression giving `Result<_, FunctionError>`)
/// again through errors that pass — AWS throttling, slow or lagging — pausing
/// as `reconcile_retry_delay` says: an asynchronous invocation gets only two
/// more tries from Lambda itself. (A macro, not a function taking a closure:
/// an attempt borrows what the caller keeps using.)
macro_rules! retry_passing {
    ($again:literal, $attempt:expr) => {{
        let mut tries = 1;
        loop {
            match $attempt {
                Err(error) => match ecs_canary_core::reconcile_retry_delay(
                    ecs_canary_core::ErrorName::error_type(&error),
                    tries,
                ) {
                    Some(pause) => {
                        tracing::warn!(%error, attempt = tries, $again);
                        tokio::time::sleep(pause).await;
                        tries += 1;
                    }
                    None => break Err(error),
                },
                done => break done,
            }
        }
    }};
}

mod alarm_abort;
mod approval;
mod approval_api;
mod context;
mod error;
mod events;
mod evidence;
mod finish;
pub mod operator;
mod reconcile;
mod render;
mod resolve;
mod settings;
mod trigger;
mod webhook;
mod weights;

pub use alarm_abort::{alarm_abort, Aborted, AlarmAborts};
pub use approval::{approval_facts, request_approval, ApprovalEvent, NoticeEvent, NoticeKind};
pub use approval_api::{approval_api, run_http, DecisionOutcome};
pub use context::{init_logging, run, Context, Ports};
pub use error::FunctionError;
pub use events::{
    DeployAction, Failure, Outcome, Promoted, RenderEvent, RenderOutput, ResolveEvent,
    RollbackEvent, RolledBack, Rollout, StepEvent, StepOutput,
};
pub use finish::{promote, rollback};
pub use reconcile::{reconcile, ExecutionEnd, Reconciled};
pub use render::render_and_deploy;
pub use resolve::resolve_stable;
pub use settings::Settings;
pub use trigger::ecr_trigger;
pub use webhook::Webhooks;
pub use weights::set_weights;
