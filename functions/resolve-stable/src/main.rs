//! The `resolve-stable` Lambda function of ecs-canary (see `state-machine/README.md`).

use ecs_canary_handlers::steps::resolve_stable;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ resolve_stable::PORTS }, _, _, _>(resolve_stable::resolve_stable)
        .await
}
