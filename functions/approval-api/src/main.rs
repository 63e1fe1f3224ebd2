//! The `approval-api` Lambda function of ecs-canary: the approval links' endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run_http().await
}
