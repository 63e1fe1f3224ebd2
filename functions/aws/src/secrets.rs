//! Secrets Manager: a secret's value (Slack's webhook and signing secret,
//! the link key), read when first needed.

use aws_sdk_secretsmanager::Client;

use crate::error::Failure;
use crate::AwsError;

/// Secrets Manager: Slack's webhook URL and signing secret live there, never
/// in a template or an environment variable in clear.
#[derive(Debug, Clone)]
pub struct Secrets {
    client: Client,
}

impl Secrets {
    pub fn new(client: Client) -> Secrets {
        Secrets { client }
    }

    /// The secret's string value.
    pub async fn value(&self, secret_id: &str) -> Result<String, AwsError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("secretsmanager:GetSecretValue"))?;
        Ok(output
            .secret_string()
            .unwrap_or_default()
            .trim()
            .to_string())
    }
}
