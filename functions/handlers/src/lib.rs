//! The handlers of ecs-canary's Lambda functions.
//!
//! Each function binary is a few lines: [`run`] with one of the handlers
//! below. A handler takes the JSON event Step Functions sends, does one step
//! that is safe to repeat, and returns the deployment for the next state.
//! Errors carry stable names (the Lambda `errorType`); `state-machine/README.md`
//! lists them and the payloads.

mod context;
mod error;
mod events;
mod finish;
mod render;
mod resolve;
mod weights;

pub use context::{run, Context, LOCK_TABLE_ENV};
pub use error::FunctionError;
pub use events::{DeployAction, RenderEvent, ResolveEvent, RollbackEvent, StepEvent};
pub use finish::{promote, rollback};
pub use render::render_and_deploy;
pub use resolve::resolve_stable;
pub use weights::set_weights;
