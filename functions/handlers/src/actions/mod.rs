//! The verbs the steps and the operator's commands share. An action takes
//! the [`Context`](crate::Context) and domain values, calls the ports, and
//! leaves every decision to the core; it never imports a step.

pub mod abort;
pub mod authority;
pub mod decision;
pub mod evidence;
pub mod native;
pub mod notify;
pub mod revert;
pub mod routes;
pub mod traffic;
