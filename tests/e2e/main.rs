//! End-to-end tests against a private local AWS emulator per test.

mod approvals;
mod bad_day;
mod demo;
mod emulator;
mod functions;
mod lineage;
mod rules;
mod stack_update;
mod trigger;
