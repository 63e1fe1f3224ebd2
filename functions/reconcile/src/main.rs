//! The `reconcile` Lambda function of ecs-canary (see `state-machine/README.md`):
//! subscribed to "Step Functions Execution Status Change", it puts a service
//! back at rest when its execution ended still holding it.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run(ecs_canary_handlers::reconcile).await
}
