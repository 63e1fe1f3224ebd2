use aws_sdk_sns::Client;

use crate::error::Failure;
use crate::AwsError;

/// Email (and any other subscription) through an SNS topic.
#[derive(Debug, Clone)]
pub struct Notifications {
    client: Client,
}

impl Notifications {
    pub fn new(client: Client) -> Notifications {
        Notifications { client }
    }

    /// Publishes a message; returns its id.
    pub async fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("sns:Publish"))?;
        Ok(output.message_id().unwrap_or_default().to_string())
    }
}
