//! The `alarm-abort` Lambda function of ecs-canary (see `state-machine/README.md`):
//! subscribed to "CloudWatch Alarm State Change", it stops every deployment
//! the alarm guards when the alarm enters ALARM — traffic back on stable first;
//! on a schedule, once a minute, the analysis watch rolls back a waiting step
//! whose numbers are wholly over its tolerance.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ecs_canary_handlers::run(ecs_canary_handlers::guard).await
}
