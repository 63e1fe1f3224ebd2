//! The `request-approval` Lambda function of ecs-canary (see `state-machine/README.md`).

use ecs_canary_handlers::steps::request_approval;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ request_approval::PORTS }, _, _, _>(
        request_approval::request_approval,
    )
    .await
}
