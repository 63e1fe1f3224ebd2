//! The `operator-api` Lambda function of ecs-canary: the operator endpoint,
//! behind a function URL with AWS_IAM auth.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run_operator_http().await
}
