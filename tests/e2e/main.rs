//! End-to-end tests against a private local AWS emulator per test.

mod alarms;
mod approvals;
mod bad_day;
// The soak is the longest test: named to start among the first, so that the
// others run beside it instead of after it (`make soak` selects `soak::`).
mod bad_day_soak;
mod bad_day_traffic;
mod cli;
mod demo;
mod emulator;
mod evidence;
mod functions;
mod lineage;
mod parity;
mod reconcile;
mod rules;
mod stack_update;
mod trigger;
