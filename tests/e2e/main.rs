//! End-to-end tests against a private local AWS emulator per test.

mod alarms;
mod approvals;
mod bad_day;
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
mod soak;
mod stack_update;
mod trigger;
