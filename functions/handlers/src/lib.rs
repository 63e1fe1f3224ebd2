//! The steps of ecs-canary's Lambda functions and the actions they share.
//!
//! * [`actions`]: the verbs — move traffic, decide a waiting step, resolve a
//!   service's routes, tell the channels, read the evidence — on the ports of
//!   a [`Context`].
//! * [`steps`] (feature `lambda`): one module per Lambda function, named as
//!   its binary. Each function binary is a few lines: `run` with its step. A
//!   step takes the JSON event Step Functions sends, does one thing that is
//!   safe to repeat, and returns the deployment for the next state.
//! * [`operator`]: what the operator's command line does, on actions only —
//!   built without the Lambda runtime (`default-features = false`).
//!
//! Errors carry stable names (the Lambda `errorType`, [`ecs_canary_core::ErrorKind`]);
//! `state-machine/README.md` lists them and the payloads.

/// Evaluates `$attempt` (an expression giving `Result<_, FunctionError>`)
/// again through errors that pass — AWS throttling, slow or lagging — pausing
/// as `reconcile_retry_delay` says: an asynchronous invocation gets only two
/// more tries from Lambda itself. (A macro, not a function taking a closure:
/// an attempt borrows what the caller keeps using.)
#[cfg(feature = "lambda")]
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

pub mod actions;
mod context;
mod error;
pub mod events;
#[cfg(feature = "lambda")]
pub mod function_url;
#[cfg(feature = "lambda")]
mod lambda;
pub mod operator;
#[cfg(feature = "lambda")]
pub mod panic_report;
mod settings;
#[cfg(feature = "lambda")]
pub mod steps;
mod webhook;

pub use context::{Context, PortSet, Ports};
pub use error::FunctionError;
pub use events::{
    CandidateReadiness, DeployAction, ExecutionFailure, Outcome, Promoted, RenderEvent,
    RenderOutput, ResolveEvent, RollbackEvent, RolledBack, StepEvent, StepOutput,
};
#[cfg(feature = "lambda")]
pub use lambda::{init_logging, log_level, run, run_http, run_operator_http};
pub use settings::Settings;
#[cfg(feature = "lambda")]
pub use steps::{
    alarm_abort::{alarm_abort, guard, watch, Aborted, AlarmAborts, Guarded, Watched},
    approval_api::approval_api,
    ecr_trigger::ecr_trigger,
    ecs_hook::ecs_hook,
    operator_api::operator_api,
    promote::promote,
    reconcile::{reconcile, ExecutionEnd, Reconciled},
    render_and_deploy::render_and_deploy,
    request_approval::{
        request_approval, ApprovalEvent, NoticeEvent, NoticeKind, PauseApprovalEvent,
    },
    resolve_stable::resolve_stable,
    rollback::rollback,
    set_weights::set_weights,
};
pub use webhook::Webhooks;
