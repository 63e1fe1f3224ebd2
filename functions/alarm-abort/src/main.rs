//! The `alarm-abort` Lambda function of ecs-canary (see `state-machine/README.md`):
//! subscribed to "CloudWatch Alarm State Change", it stops every deployment
//! the alarm guards when the alarm enters ALARM — traffic back on stable first;
//! on a schedule, once a minute, the analysis watch rolls back a waiting step
//! whose numbers are wholly over its tolerance.

use ecs_canary_handlers::steps::alarm_abort;

/// Serves the step with the ports it names, and no others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run::<{ alarm_abort::PORTS }, _, _, _>(alarm_abort::guard).await
}
