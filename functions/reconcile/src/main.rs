//! The `reconcile` Lambda function of ecs-canary (see `state-machine/README.md`):
//! subscribed to "Step Functions Execution Status Change", it puts a service
//! back at rest when its execution ended still holding it.

use ecs_canary_handlers::steps::reconcile;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ reconcile::PORTS }, _, _, _>(reconcile::reconcile).await
}
