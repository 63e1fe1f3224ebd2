//! The `promote` Lambda function of ecs-canary (see `state-machine/README.md`).

use ecs_canary_handlers::steps::promote;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ promote::PORTS }, _, _, _>(promote::promote).await
}
