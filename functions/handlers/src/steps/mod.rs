//! One module per Lambda function, named as its binary: glue that parses
//! the event, calls the shared [`actions`](crate::actions), and answers the
//! state machine. A step never imports another step (`make lint` checks).

pub mod alarm_abort;
pub mod approval_api;
pub mod ecr_trigger;
pub mod ecs_hook;
pub mod operator_api;
pub mod promote;
pub mod reconcile;
pub mod render_and_deploy;
pub mod request_approval;
pub mod resolve_stable;
pub mod rollback;
pub mod set_weights;
