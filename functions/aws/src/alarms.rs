//! CloudWatch alarms read by name (DescribeAlarms): the guards of a rollout.

use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use aws_sdk_cloudwatch::Client;
use ecs_canary_core::{AlarmReading, AlarmState};

use crate::error::Failure;
use crate::AwsError;

/// CloudWatch alarms, read by name (metric and composite alarms alike).
#[derive(Debug, Clone)]
pub struct Alarms {
    client: Client,
}

impl Alarms {
    pub fn new(client: Client) -> Alarms {
        Alarms { client }
    }

    /// The alarms among `names` that exist, with their states; a name that
    /// does not exist is simply absent.
    pub async fn read(&self, names: &[String]) -> Result<Vec<AlarmReading>, AwsError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .max_records(100)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("cloudwatch:DescribeAlarms"))?;
        let state = |value: Option<&StateValue>| {
            value
                .and_then(|v| AlarmState::parse(v.as_str()))
                .unwrap_or(AlarmState::InsufficientData)
        };
        let metric = output.metric_alarms().iter().map(|a| AlarmReading {
            name: a.alarm_name().unwrap_or_default().to_string(),
            state: state(a.state_value()),
            reason: a.state_reason().unwrap_or_default().to_string(),
        });
        let composite = output.composite_alarms().iter().map(|a| AlarmReading {
            name: a.alarm_name().unwrap_or_default().to_string(),
            state: state(a.state_value()),
            reason: a.state_reason().unwrap_or_default().to_string(),
        });
        Ok(metric.chain(composite).collect())
    }
}
