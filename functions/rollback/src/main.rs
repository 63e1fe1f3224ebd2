//! The `rollback` Lambda function of ecs-canary (see `state-machine/README.md`).

use ecs_canary_handlers::steps::rollback;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ rollback::PORTS }, _, _, _>(rollback::rollback).await
}
