//! The `ecs-hook` Lambda function of ecs-canary: the pauses of ECS's own deployments.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run(ecs_canary_handlers::ecs_hook).await
}
