//! End-to-end tests against a private local AWS emulator per test.

mod approvals;
mod emulator;
mod functions;
mod stack_update;
