//! The handlers' tests, one test binary (each binary links every AWS SDK):
//! the steps against the in-memory fake, and the contract between the code,
//! the state machines and the template.

mod contract;
mod runtime;
mod steps;
