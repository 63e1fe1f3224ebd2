//! The `ecr-trigger` Lambda function of ecs-canary: ECR pushes start executions.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run(ecs_canary_handlers::ecr_trigger).await
}
