//! HTTPS posts to Slack (incoming webhooks, response URLs), with the HTTP
//! client the AWS calls use (`ecs_canary_aws::http`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ecs_canary_aws::http::{https_client, HttpsClient};
use ecs_canary_aws::{WebhookApi, WebhookFuture};
use serde_json::Value;

use crate::FunctionError;

/// Posts JSON to a webhook (Slack's incoming webhooks and response URLs).
/// The client (and the system's TLS roots it reads) is made at the first
/// post, not at every cold start of a function that may never post.
#[derive(Debug, Clone, Default)]
pub struct Webhooks {
    client: Arc<OnceLock<Result<HttpsClient<Full<Bytes>>, String>>>,
}

impl Webhooks {
    pub fn new() -> Webhooks {
        Webhooks::default()
    }

    fn client(&self) -> Result<&HttpsClient<Full<Bytes>>, FunctionError> {
        self.client
            .get_or_init(|| https_client(None))
            .as_ref()
            .map_err(|e| FunctionError::Webhook(e.clone()))
    }

    /// Posts `body` to `url`, giving up after `limit` (the whole request and answer).
    pub async fn post_json_within(
        &self,
        url: &str,
        body: &Value,
        limit: Duration,
    ) -> Result<(), FunctionError> {
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| FunctionError::Webhook(format!("bad webhook URL: {e}")))?;
        let call = self.client()?.request(request);
        let response = tokio::time::timeout(limit, call)
            .await
            .map_err(|_| {
                FunctionError::Webhook(format!("the webhook did not answer within {limit:?}"))
            })?
            .map_err(|e| FunctionError::Webhook(format!("webhook unreachable: {e}")))?;
        let status = response.status();
        // Drain the body so the connection can be reused.
        let _ = response.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(FunctionError::Webhook(format!(
                "the webhook answered HTTP {status}"
            )))
        }
    }
}

impl WebhookApi for Webhooks {
    fn post_json<'a>(
        &'a self,
        url: &'a str,
        body: &'a Value,
        limit: Duration,
    ) -> WebhookFuture<'a> {
        Box::pin(async move {
            self.post_json_within(url, body, limit)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
