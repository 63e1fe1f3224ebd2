//! The `ecr-trigger` Lambda function of ecs-canary: ECR pushes start executions.

use ecs_canary_handlers::steps::ecr_trigger;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ ecr_trigger::PORTS }, _, _, _>(ecr_trigger::ecr_trigger).await
}
