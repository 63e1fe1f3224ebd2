//! The Lambda runtime around the steps: JSON logs, the context built once
//! per process, a step's error reported with its stable `errorType`.

use std::future::Future;
use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::function_url::{UrlRequest, UrlResponse};
use crate::panic_report;
use crate::steps::approval_api::approval_api;
use crate::steps::operator_api::operator_api;
use crate::{Context, FunctionError, PortSet};

/// JSON log lines at the level `RUST_LOG` names (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_max_level(log_level(std::env::var("RUST_LOG").ok().as_deref()))
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .init();
}

/// The level of `RUST_LOG`: its bare level (`warn`; in `info,hyper=warn`
/// the `info`), else `info`. Per-module directives are not read: a
/// function logs its own events, and the filter that would read them links
/// a regular expression engine into every binary.
pub fn log_level(value: Option<&str>) -> tracing_subscriber::filter::LevelFilter {
    value
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .find_map(|part| part.parse().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO)
}

/// A handler's future behind a pointer: the runtime's own future types stay
/// shallow however deep a handler's calls nest (a release build computes
/// every layout, and a deep enough one exceeds the compiler's query depth).
type HandlerFuture<O> = std::pin::Pin<Box<dyn Future<Output = Result<O, FunctionError>> + Send>>;

/// What every function does first, while its process has one thread: the
/// trusted roots from one bundle, JSON logs, a panic reported as the
/// invocation's error, and its context with the ports in `PORTS`.
fn start<const PORTS: PortSet>() -> Arc<Context> {
    ecs_canary_aws::read_roots_from_one_bundle();
    init_logging();
    panic_report::install();
    Arc::new(Context::from_env::<PORTS>())
}

/// Runs `handler` on each event: the invocation in progress is known to the
/// panic report while it runs.
async fn serve<H, F, O>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Value, &str) -> F + Send + 'static,
    F: Future<Output = Result<O, FunctionError>> + Send + 'static,
    O: serde::Serialize + Send,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let request_id = event.context.request_id;
        panic_report::set_invocation(Some(&request_id));
        let handled = handler(event.payload, &request_id);
        async move {
            let result = handled.await;
            panic_report::set_invocation(None);
            result
        }
    }))
    .await
}

/// Runs a handler as a Lambda function: JSON logs, the ports in `PORTS`
/// built once (and no others: the binary links their SDKs only). The
/// functions' mains run it on tokio's current-thread runtime: Lambda hands a
/// process one event at a time, and worker threads would only cost start-up
/// time and memory.
pub async fn run<const PORTS: PortSet, H, F, O>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Arc<Context>, Value) -> F + Copy + Send + 'static,
    F: Future<Output = Result<O, FunctionError>> + Send + 'static,
    O: serde::Serialize + Send + 'static,
{
    let context = start::<PORTS>();
    serve(move |event: Value, _: &str| {
        let handled: HandlerFuture<O> = Box::pin(handler(Arc::clone(&context), event));
        async move {
            let result = handled.await;
            if let Err(error) = &result {
                tracing::warn!(error_type = ecs_canary_core::ErrorName::error_type(error), %error, "step failed");
            }
            result
        }
    })
    .await
}

/// Runs approval-api as a Lambda function behind a function URL.
pub async fn run_http() -> Result<(), lambda_runtime::Error> {
    serve_http::<{ crate::steps::approval_api::PORTS }, _, _>(approval_api).await
}

/// Runs operator-api as a Lambda function behind an AWS_IAM function URL.
pub async fn run_operator_http() -> Result<(), lambda_runtime::Error> {
    serve_http::<{ crate::steps::operator_api::PORTS }, _, _>(operator_api).await
}

/// Runs an endpoint behind a function URL: each event is read as a
/// [`UrlRequest`] (anything else fails as `InvalidEvent`), and the handler's
/// [`UrlResponse`] is the answer.
async fn serve_http<const PORTS: PortSet, H, F>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Arc<Context>, UrlRequest) -> F + Copy + Send + 'static,
    F: Future<Output = UrlResponse> + Send + 'static,
{
    let context = start::<PORTS>();
    serve(move |event: Value, request_id: &str| {
        let request = UrlRequest::from_event(event, request_id);
        let context = Arc::clone(&context);
        async move { Ok(handler(context, request?).await) }
    })
    .await
}

impl From<FunctionError> for Diagnostic {
    fn from(error: FunctionError) -> Diagnostic {
        Diagnostic {
            error_type: ecs_canary_core::ErrorName::error_type(&error).to_string(),
            error_message: error.to_string(),
        }
    }
}
