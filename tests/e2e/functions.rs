//! The five deployment functions as real Lambda binaries, invoked through the
//! Lambda Invoke API of the emulator (routed to `cargo lambda watch`).

use ecs_canary_e2e::example::{create_example_app, live_state, APP_STACK, CLUSTER, SERVICE};
use ecs_canary_e2e::Emulator;
use serde_json::{json, Value};

fn input(version: &str) -> Value {
    json!({
        "cluster": CLUSTER,
        "service": SERVICE,
        "stack": APP_STACK,
        "environment": {"APPVERSION": version},
        "steps": [10, 50]
    })
}

#[tokio::test]
async fn smoke() {
    let t = std::time::Instant::now();
    let emulator = Emulator::start_with_functions().await;
    eprintln!("started {:?}", t.elapsed());
    let clients = emulator.clients().await;
    create_example_app(&clients).await.expect("example");
    let started = std::time::Instant::now();
    let deployment = emulator
        .invoke(
            "resolve-stable",
            &json!({"input": input("1.0.1"), "owner": "exec-1"}),
        )
        .expect("resolve");
    eprintln!("first invoke {:?}", started.elapsed());
    assert_eq!(deployment["candidate"], "Green");
    let _ = live_state(&clients, APP_STACK).await;
    let t = std::time::Instant::now();
    drop(emulator);
    eprintln!("dropped {:?}", t.elapsed());
}
