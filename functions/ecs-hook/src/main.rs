//! The `ecs-hook` Lambda function of ecs-canary: the pauses of ECS's own deployments.

use ecs_canary_handlers::steps::ecs_hook;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ ecs_hook::PORTS }, _, _, _>(ecs_hook::ecs_hook).await
}
