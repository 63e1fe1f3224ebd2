//! The `render-and-deploy` Lambda function of ecs-canary (see `state-machine/README.md`).

use ecs_canary_handlers::steps::render_and_deploy;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ render_and_deploy::PORTS }, _, _, _>(
        render_and_deploy::render_and_deploy,
    )
    .await
}
