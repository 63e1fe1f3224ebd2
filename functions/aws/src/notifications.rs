//! SNS: the approval email published to the topic, and a subscription
//! confirmed with authentication on unsubscribe.

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

    /// Confirms a subscription from its confirmation link's token, signed
    /// by the caller and with `AuthenticateOnUnsubscribe`: only the topic's
    /// or the subscription's owner may unsubscribe it from then on (a mail
    /// scanner following an unsubscribe link cannot). Returns the
    /// subscription and whether SNS records the confirmation as authenticated.
    pub async fn confirm_authenticated(
        &self,
        topic_arn: &str,
        token: &str,
    ) -> Result<(String, bool), AwsError> {
        let confirmed = self
            .client
            .confirm_subscription()
            .topic_arn(topic_arn)
            .token(token)
            .authenticate_on_unsubscribe("true")
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("sns:ConfirmSubscription"))?;
        let arn = confirmed.subscription_arn().unwrap_or_default().to_string();
        let attributes = self
            .client
            .get_subscription_attributes()
            .subscription_arn(&arn)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("sns:GetSubscriptionAttributes"))?;
        let authenticated = attributes
            .attributes()
            .and_then(|a| a.get("ConfirmationWasAuthenticated"))
            .is_some_and(|v| v == "true");
        Ok((arn, authenticated))
    }
}
