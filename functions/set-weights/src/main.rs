//! The `set-weights` Lambda function of ecs-canary (see `state-machine/README.md`).

use ecs_canary_handlers::steps::set_weights;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ set_weights::PORTS }, _, _, _>(set_weights::set_weights).await
}
