//! A CloudWatch alarm that guards deployments in a test: created as a real
//! alarm on the load balancer's 5xx count, its state set as CloudWatch would
//! set it (the emulator never evaluates alarms).

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};

/// One guarding alarm.
pub struct GuardAlarm {
    client: aws_sdk_cloudwatch::Client,
    pub name: String,
}

impl GuardAlarm {
    /// Creates the alarm (it starts in `INSUFFICIENT_DATA`, as in AWS).
    pub async fn create(config: &aws_config::SdkConfig, name: &str) -> GuardAlarm {
        let client = aws_sdk_cloudwatch::Client::new(config);
        client
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/ApplicationELB")
            .metric_name("HTTPCode_Target_5XX_Count")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(10.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("a guarding alarm");
        GuardAlarm {
            client,
            name: name.to_string(),
        }
    }

    /// What CloudWatch does when the numbers cross the threshold (`ALARM`)
    /// or fall back (`OK`).
    pub async fn set(&self, state: StateValue, reason: &str) {
        self.client
            .set_alarm_state()
            .alarm_name(&self.name)
            .state_value(state)
            .state_reason(reason)
            .send()
            .await
            .expect("set the alarm's state");
    }
}
