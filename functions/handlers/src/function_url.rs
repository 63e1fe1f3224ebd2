//! A request to a function URL and its answer, as Lambda passes them:
//! the event of API Gateway's payload format 2.0, and the JSON answer
//! (`statusCode`, `headers`, `body`) the function URL turns into the HTTP
//! response. Only what the two endpoints read is kept: the method, the
//! path, the headers, the body, the signed IAM caller and the invocation's
//! request id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::FunctionError;

/// The event's fields the endpoints read (the rest is ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    raw_path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
    request_context: EventContext,
}

#[derive(Deserialize)]
struct EventContext {
    http: EventHttp,
    #[serde(default)]
    authorizer: Option<Authorizer>,
}

#[derive(Deserialize)]
struct EventHttp {
    method: String,
}

#[derive(Deserialize)]
struct Authorizer {
    #[serde(default)]
    iam: Option<IamCaller>,
}

#[derive(Deserialize)]
struct IamCaller {
    #[serde(default, rename = "userArn")]
    user_arn: Option<String>,
}

/// HTTP headers by lower-case name (HTTP names are case-insensitive; the
/// function URL joins repeated headers with commas).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct Headers(BTreeMap<String, String>);

impl Headers {
    fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_ascii_lowercase(), value.to_string());
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// One request to a function URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlRequest {
    method: String,
    path: String,
    headers: Headers,
    body: Vec<u8>,
    caller: Option<String>,
    request_id: String,
}

impl UrlRequest {
    /// `method` on `path`, with no headers, body or caller.
    pub fn new(method: &str, path: &str) -> UrlRequest {
        UrlRequest {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            ..UrlRequest::default()
        }
    }

    /// The request of a function URL event, in the invocation `request_id`.
    pub fn from_event(event: Value, request_id: &str) -> Result<UrlRequest, FunctionError> {
        let event: Event = serde_json::from_value(event).map_err(|error| {
            FunctionError::InvalidEvent(format!("not a function URL request: {error}"))
        })?;
        let body = match event.body {
            None => Vec::new(),
            Some(body) if event.is_base64_encoded => aws_smithy_types::base64::decode(&body)
                .map_err(|error| {
                    FunctionError::InvalidEvent(format!("the body is not base64: {error}"))
                })?,
            Some(body) => body.into_bytes(),
        };
        let mut request = UrlRequest::new(&event.request_context.http.method, &event.raw_path)
            .with_body(body)
            .with_request_id(request_id);
        for (name, value) in event.headers {
            request = request.with_header(&name, &value);
        }
        request.caller = event
            .request_context
            .authorizer
            .and_then(|authorizer| authorizer.iam)
            .and_then(|iam| iam.user_arn);
        Ok(request)
    }

    /// The same request with header `name` set to `value`.
    pub fn with_header(mut self, name: &str, value: &str) -> UrlRequest {
        self.headers.set(name, value);
        self
    }

    /// The same request with `body`.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> UrlRequest {
        self.body = body.into();
        self
    }

    /// The same request, signed by the IAM principal `arn`.
    pub fn with_caller(mut self, arn: &str) -> UrlRequest {
        self.caller = Some(arn.to_string());
        self
    }

    /// The same request in the invocation `request_id`.
    pub fn with_request_id(mut self, request_id: &str) -> UrlRequest {
        self.request_id = request_id.to_string();
        self
    }

    /// `GET`, `POST`, …
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path (without the query).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The IAM principal that signed the request, as an `AWS_IAM` function
    /// URL passes it after checking the signature (`None`: no such URL).
    pub fn caller(&self) -> Option<&str> {
        self.caller.as_deref()
    }

    /// The Lambda request id of the invocation (`""` outside one).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// What an answer and the log name the request by: its invocation's id
    /// (`none` outside one).
    pub fn reference(&self) -> &str {
        match self.request_id.as_str() {
            "" => "none",
            id => id,
        }
    }
}

/// The answer to a function URL request (every field of the payload
/// format, the empty ones too: some readers of it require them all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlResponse {
    status_code: u16,
    headers: Headers,
    multi_value_headers: BTreeMap<String, Vec<String>>,
    body: String,
    is_base64_encoded: bool,
    cookies: Vec<String>,
}

impl UrlResponse {
    /// `status` with `body` of `content_type`.
    pub fn new(status: u16, content_type: &str, body: String) -> UrlResponse {
        UrlResponse {
            status_code: status,
            headers: Headers::default(),
            multi_value_headers: BTreeMap::new(),
            body,
            is_base64_encoded: false,
            cookies: Vec::new(),
        }
        .with_header("content-type", content_type)
    }

    /// The same answer with header `name` set to `value`.
    pub fn with_header(mut self, name: &str, value: &str) -> UrlResponse {
        self.headers.set(name, value);
        self
    }

    pub fn status(&self) -> u16 {
        self.status_code
    }

    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    pub fn body(&self) -> &str {
        &self.body
    }
}
