//! No code: see `Cargo.toml`. Every build of the workspace resolves the
//! same features through this crate, so the dependencies compile once.
