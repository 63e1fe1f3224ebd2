//! End-to-end tests against a private local AWS emulator per test.

// The soak is the longest test: named to sort first, since the test harness
// starts tests in the order of their names, so that the others run beside it
// instead of after it (`make soak` selects `soak::`).
mod a_soak;
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
mod native;
mod parity;
mod reconcile;
mod rules;
mod stack_update;
mod trigger;
