//! The operator endpoint (the stack's `OperatorUrl`, a Lambda function URL
//! with AWS_IAM auth), called as the caller: every request is SigV4-signed
//! with the credentials of the usual AWS environment, and the endpoint takes
//! the caller's identity from that signature, nothing else.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use ecs_canary_aws::http::{https_client, HttpsClient};
use ecs_canary_aws::SdkConfig;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use crate::exit::Exit;

/// How long one call may take (a reject waits for traffic back on stable).
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// What the endpoint answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The body of a success; otherwise the command's failure, with the
    /// exit code its status means: 2 invalid input, 3 refused (the policy,
    /// or the endpoint refused the credentials), 4 nothing to act on, 1
    /// anything else.
    pub fn into_result(self) -> Result<Value, Exit> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        Err(self.failure())
    }

    pub fn failure(&self) -> Exit {
        let text = |field: &str| self.body.get(field).and_then(Value::as_str);
        let message = match (text("message").or(text("Message")), text("error")) {
            (Some(message), Some(name)) => format!("{message} ({name})"),
            (Some(message), None) => message.to_string(),
            _ => format!("the operator endpoint answered HTTP {}", self.status),
        };
        let code = match self.status {
            400 => 2,
            401 | 403 => 3,
            404 | 409 | 410 => 4,
            _ => 1,
        };
        if self.status == 403 && text("error").is_none() {
            return Exit::new(
                3,
                format!("{message}: the operator endpoint refused your credentials (it needs a SigV4 signature of an IAM identity allowed lambda:InvokeFunctionUrl)"),
            );
        }
        Exit::new(code, message)
    }
}

/// Calls to the operator endpoint as the caller.
pub struct Endpoint {
    url: String,
    region: String,
    credentials: SharedCredentialsProvider,
    client: HttpsClient<Full<Bytes>>,
}

impl Endpoint {
    pub fn new(url: &str, config: &SdkConfig) -> Result<Endpoint, Exit> {
        let credentials = config.credentials_provider().ok_or_else(|| {
            Exit::new(
                1,
                "no AWS credentials: the operator endpoint needs your IAM identity",
            )
        })?;
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| Exit::new(1, "no AWS region: set AWS_REGION"))?;
        let client = https_client(None).map_err(|e| Exit::new(1, e))?;
        Ok(Endpoint {
            url: url.trim_end_matches('/').to_string(),
            region,
            credentials,
            client,
        })
    }

    /// `POST <url>/<verb>` with `body`, signed.
    pub async fn call(&self, verb: &str, body: &Value) -> Result<Answer, Exit> {
        let failed = |what: &str, e: &dyn std::fmt::Display| Exit::new(1, format!("{what}: {e}"));
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| failed("cannot load your AWS credentials", &e))?;
        let identity = Identity::from(credentials);
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed("cannot sign the request", &e))?
            .into();
        let url = format!("{}/{verb}", self.url);
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| Exit::new(2, format!("the operator URL {url} is not a URL: {e}")))?;
        let host = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .ok_or_else(|| Exit::new(2, format!("the operator URL {url} names no host")))?;
        let payload = body.to_string().into_bytes();
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/json"),
        ];
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(&payload),
        )
        .map_err(|e| failed("cannot sign the request", &e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| failed("cannot sign the request", &e))?
            .into_parts();
        let mut request = hyper::Request::post(uri)
            .header("host", host.as_str())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| failed("cannot build the request", &e))?;
        instructions.apply_to_request_http1x(&mut request);
        let response = tokio::time::timeout(CALL_LIMIT, self.client.request(request))
            .await
            .map_err(|_| {
                Exit::new(
                    1,
                    format!("the operator endpoint did not answer within {CALL_LIMIT:?}"),
                )
            })?
            .map_err(|e| {
                failed(
                    &format!("cannot reach the operator endpoint {}", self.url),
                    &e,
                )
            })?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failed("the operator endpoint's answer broke off", &e))?
            .to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).to_string()));
        Ok(Answer { status, body })
    }
}
