//! operator-api: the operator endpoint, a Lambda function URL with
//! `AuthType: AWS_IAM`. AWS verifies the request's SigV4 signature before
//! the function runs and passes the signer on in the request context
//! (`requestContext.authorizer.iam.userArn`): that is who acts, never
//! anything in the body. Every route is `POST /<verb>` with a JSON body;
//! the answer is JSON (`{"error", "message"}` when refused):
//!
//! * `/status` `{"services": [..]}` (none: every managed service)
//! * `/start` `{"input": {..}, "name": ".."}`
//! * `/approve`, `/reject` `{"service": "cluster/service"}` (`/approve` with
//!   `"toPromotion": true`: every remaining step at once)
//! * `/hold` `{"service", "seconds"}`: the waiting step waits longer
//! * `/back` `{"service"}`: back to the step before, asked again there
//! * `/abort` `{"service"}`, `/lock` `{"service"}`, `/unlock` `{"service", "holder"}`
//! * `/revert` `{"service"}`: the last promotion undone
//! * `/diff` `{"input": {..}}`, `/history` `{"service", "limit"}`

use std::sync::Arc;

use ecs_canary_core::{Approver, Decision, DeploymentRequest, ErrorKind, ErrorName};
use serde_json::{json, Value};

use crate::actions::decision::Choice;
use crate::function_url::{UrlRequest, UrlResponse};
use crate::operator::{self, OperatorError};
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet = Ports::ALL;

/// The IAM principal that signed the request, as the function URL passes it.
pub fn caller(request: &UrlRequest) -> Option<String> {
    request
        .caller()
        .filter(|arn| arn.starts_with("arn:"))
        .map(str::to_owned)
}

fn answer(status: u16, body: &Value) -> UrlResponse {
    UrlResponse::new(status, "application/json", body.to_string())
        .with_header("cache-control", "no-store")
        .with_header("x-content-type-options", "nosniff")
}

fn refusal(status: u16, error: &str, message: &str) -> UrlResponse {
    answer(status, &json!({"error": error, "message": message}))
}

/// Input errors the caller can fix: 400.
fn is_input(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::InvalidInput
            | ErrorKind::MissingField
            | ErrorKind::InvalidField
            | ErrorKind::UnknownField
            | ErrorKind::NothingToDeploy
            | ErrorKind::InvalidEnvironment
            | ErrorKind::InvalidSteps
            | ErrorKind::InvalidApprovalTimeout
            | ErrorKind::InvalidEvent
            | ErrorKind::PolicyBelowFloor
            | ErrorKind::ImageNotAllowed
    )
}

/// The caller may not do this (the policy says so): 403.
fn is_refusal(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::NotAnOperator
            | ErrorKind::ChannelNotAllowed
            | ErrorKind::NotAnApprover
            | ErrorKind::WrongWorkspace
            | ErrorKind::InitiatorMayNotApprove
            | ErrorKind::AnonymousApprover
    )
}

/// Not now, or not any more (the service is not as the command needs it): 409.
fn is_conflict(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::NothingToRevert
            | ErrorKind::ReleaseReplaced
            | ErrorKind::TaskSetScaledIn
            | ErrorKind::DriftDetected
            | ErrorKind::DeploymentInProgress
    )
}

/// The answer to an operator error: its status and stable name. An AWS
/// error is named, its text only logged (it may name roles and accounts).
fn failed(error: &OperatorError, correlation: &str) -> UrlResponse {
    let (status, name) = match error {
        OperatorError::NoDeployment { .. } => (404, "NoDeployment"),
        OperatorError::UnknownService { .. } => (404, "UnknownService"),
        OperatorError::NotWaiting { .. } => (409, "NotWaiting"),
        OperatorError::AlreadyStarted { .. } => (409, "ExecutionAlreadyExists"),
        OperatorError::Function(e) => {
            let kind = e.error_kind();
            if is_refusal(kind) {
                (403, kind.as_str())
            } else if is_conflict(kind) {
                (409, kind.as_str())
            } else if is_input(kind) {
                (400, kind.as_str())
            } else if let FunctionError::Aws(_) = e {
                tracing::error!(%error, %correlation, "operator-api failed");
                return refusal(
                    502,
                    kind.as_str(),
                    &format!("AWS refused or failed a call ({kind}); correlation id {correlation}"),
                );
            } else {
                (500, kind.as_str())
            }
        }
    };
    refusal(status, name, &error.to_string())
}

fn text<'a>(body: &'a Value, field: &'static str) -> Result<&'a str, OperatorError> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| FunctionError::InvalidEvent(format!("`{field}` is required")).into())
}

fn service(body: &Value) -> Result<String, OperatorError> {
    let key = text(body, "service")?;
    if !key.contains('/') {
        return Err(FunctionError::InvalidEvent(format!(
            "`service` must be `cluster/service`, not {key}"
        ))
        .into());
    }
    Ok(key.to_string())
}

fn input(body: &Value) -> Result<&Value, OperatorError> {
    body.get("input").filter(|v| v.is_object()).ok_or_else(|| {
        FunctionError::InvalidEvent("`input` must be the execution input".into()).into()
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// One route, as `by`.
async fn route(
    context: &Context,
    verb: &str,
    body: &Value,
    by: &str,
) -> Result<UrlResponse, OperatorError> {
    let ok = |value: Value| Ok(answer(200, &value));
    match verb {
        "status" => {
            let named: Vec<String> = body
                .get("services")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let keys = if named.is_empty() {
                operator::managed_services(context).await?
            } else {
                named
            };
            let mut statuses = Vec::with_capacity(keys.len());
            for key in &keys {
                statuses.push(operator::service_status(context, key).await?);
            }
            ok(to_json(&statuses))
        }
        "start" => {
            let name = body.get("name").and_then(Value::as_str);
            ok(to_json(
                &operator::start(context, input(body)?, name, by).await?,
            ))
        }
        "approve" | "reject" | "hold" | "back" => {
            let decision = Decision::parse(verb).unwrap_or(Decision::Reject);
            let key = service(body)?;
            let mut choice = Choice::of(decision);
            choice.to_promotion = body.get("toPromotion").and_then(Value::as_bool) == Some(true);
            if decision == Decision::Hold {
                choice.hold_seconds = body
                    .get("seconds")
                    .and_then(Value::as_u64)
                    .filter(|s| *s > 0)
                    .ok_or_else(|| {
                        FunctionError::InvalidEvent(
                            "`seconds` must be a whole number of seconds above 0".into(),
                        )
                    })?;
            }
            let outcome =
                operator::decide_waiting_with(context, &key, choice, &Approver::cli(by)).await?;
            Ok(answer(
                outcome.status,
                &json!({
                    "service": key,
                    "decision": decision.as_str(),
                    "by": by,
                    "status": outcome.status,
                    "title": outcome.title,
                    "message": outcome.message,
                }),
            ))
        }
        "abort" => ok(to_json(
            &operator::abort(context, &service(body)?, by).await?,
        )),
        "revert" => ok(to_json(
            &operator::revert(context, &service(body)?, &Approver::cli(by)).await?,
        )),
        "lock" => {
            let key = service(body)?;
            match operator::lock_holder(context, &key).await? {
                Some(lock) => ok(to_json(&lock)),
                None => Err(OperatorError::NoDeployment { service: key }),
            }
        }
        "unlock" => {
            let key = service(body)?;
            let holder = text(body, "holder")?;
            let released = operator::unlock(context, &key, holder, by).await?;
            ok(json!({"service": key, "holder": holder, "released": released, "by": by}))
        }
        "diff" => {
            let request = DeploymentRequest::from_execution_input(input(body)?)
                .map_err(FunctionError::from)?;
            ok(to_json(&operator::dry_run(context, request).await?))
        }
        "history" => {
            let key = service(body)?;
            let limit = body
                .get("limit")
                .and_then(Value::as_u64)
                .unwrap_or(50)
                .clamp(1, 500);
            let events = operator::history(context, &key, limit as usize).await?;
            if events.is_empty() {
                return Err(OperatorError::UnknownService { service: key });
            }
            ok(to_json(&events))
        }
        _ => Ok(refusal(404, "NotFound", &format!("no route /{verb}"))),
    }
}

/// The operator endpoint's handler.
pub async fn operator_api(context: Arc<Context>, request: UrlRequest) -> UrlResponse {
    let context = context.only(PORTS);
    let Some(by) = caller(&request) else {
        // Only a function URL with AWS_IAM auth names its caller.
        return refusal(
            403,
            "NoCallerIdentity",
            "the request names no IAM caller: call the operator URL with a SigV4-signed request",
        );
    };
    if request.method() != "POST" {
        return refusal(405, "MethodNotAllowed", "POST only");
    }
    let verb = request
        .path()
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let body: Value = match request.body() {
        [] => json!({}),
        bytes => serde_json::from_slice(bytes).unwrap_or(Value::Null),
    };
    if !body.is_object() {
        return refusal(400, "InvalidEvent", "the body must be a JSON object");
    }
    let correlation = request.reference();
    tracing::info!(%verb, caller = %by, "operator request");
    match route(&context, &verb, &body, &by).await {
        Ok(response) => response,
        Err(error) => failed(&error, correlation),
    }
}
