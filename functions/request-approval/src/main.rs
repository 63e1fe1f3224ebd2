//! The `request-approval` Lambda function of ecs-canary (see `state-machine/README.md`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run(ecs_canary_handlers::request_approval).await
}
