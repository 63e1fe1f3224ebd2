//! `make emulator`: the local AWS emulator with `infra/` deployed and the
//! function binaries served by `cargo lambda watch`, until SIGTERM or Ctrl-C.
//!
//! Prints the environment to use (`export …` lines), then `ready`.
//! Ports: `EMULATOR_PORT` (default 4566) and `FUNCTIONS_PORT` (default 9000).

use ecs_canary_e2e::{Emulator, EmulatorOptions};

fn port(name: &str, default: u16) -> u16 {
    std::env::var(name)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let emulator = Emulator::start_with(EmulatorOptions {
        functions: true,
        port: Some(port("EMULATOR_PORT", 4566)),
        function_port: Some(port("FUNCTIONS_PORT", 9000)),
        trigger_mappings: std::env::var("TRIGGER_MAPPINGS").ok(),
        ..EmulatorOptions::default()
    })
    .await;
    for (name, value) in emulator.environment() {
        println!("export {name}={value}");
    }
    println!(
        "# state machine: {}",
        emulator.infra_output("StateMachineArn")
    );
    println!("# approval links: {}", emulator.infra_output("ApprovalUrl"));
    println!("ready");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(emulator);
}
