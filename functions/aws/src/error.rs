//! Every way a call to AWS can fail, sorted into the names the state machine
//! retries on (`Throttled`, `AwsUnreachable`) and the ones it does not.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use ecs_canary_core::{ErrorKind, ErrorName};
use thiserror::Error;

/// Error codes AWS uses when a caller is going too fast.
const THROTTLING_CODES: [&str; 7] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "ProvisionedThroughputExceededException",
];

/// What went wrong talking to AWS, with a stable name for each case.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AwsError {
    #[error("ECS cluster {0:?} does not exist")]
    ClusterNotFound(String),
    #[error("ECS service {service:?} does not exist in cluster {cluster:?}")]
    ServiceNotFound { cluster: String, service: String },
    #[error("CloudFormation stack {0:?} does not exist")]
    StackNotFound(String),
    #[error("stack {stack:?} has no resource {logical_id:?}")]
    StackResourceNotFound { stack: String, logical_id: String },
    #[error("task definition {0} does not exist")]
    TaskDefinitionNotFound(String),
    #[error("listener rule {0} does not exist")]
    RuleNotFound(String),
    #[error("listener rule {rule} changed beyond its forward targets when its weights were set: before {before}, after {after}")]
    RuleNotPreserved {
        rule: String,
        before: String,
        after: String,
    },
    #[error("another deployment of {key} is in progress (lock held by {owner})")]
    LockHeld { key: String, owner: String },
    #[error("the step is no longer waiting for a decision: {0}")]
    TaskNotWaiting(String),
    #[error("{operation} was throttled: {message}")]
    Throttled {
        operation: &'static str,
        message: String,
    },
    #[error("{operation} did not reach AWS: {message}")]
    Unreachable {
        operation: &'static str,
        message: String,
    },
    #[error("{operation} failed ({code}): {message}")]
    Service {
        operation: &'static str,
        code: String,
        message: String,
    },
}

impl ErrorName for AwsError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            AwsError::ClusterNotFound(_) => ErrorKind::ClusterNotFound,
            AwsError::ServiceNotFound { .. } => ErrorKind::ServiceNotFound,
            AwsError::StackNotFound(_) => ErrorKind::StackNotFound,
            AwsError::StackResourceNotFound { .. } => ErrorKind::StackResourceNotFound,
            AwsError::RuleNotFound(_) => ErrorKind::RuleNotFound,
            AwsError::TaskDefinitionNotFound(_) => ErrorKind::TaskDefinitionNotFound,
            AwsError::RuleNotPreserved { .. } => ErrorKind::RuleNotPreserved,
            AwsError::LockHeld { .. } => ErrorKind::DeploymentInProgress,
            AwsError::TaskNotWaiting(_) => ErrorKind::TaskNotWaiting,
            AwsError::Throttled { .. } => ErrorKind::Throttled,
            AwsError::Unreachable { .. } => ErrorKind::AwsUnreachable,
            AwsError::Service { .. } => ErrorKind::AwsServiceError,
        }
    }
}

/// The parts of an SDK error this crate decides on.
pub(crate) struct Failure {
    pub code: Option<String>,
    pub message: String,
    /// No answer from the service: a timeout, a connection or DNS failure.
    pub unreachable: bool,
}

impl Failure {
    pub fn of<E, R>(error: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        use aws_smithy_runtime_api::client::result::SdkError;
        let unreachable = matches!(
            error,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
        );
        let code = error.code().map(str::to_string);
        let message = error
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| DisplayErrorContext(&error).to_string());
        Failure {
            code,
            message,
            unreachable,
        }
    }

    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// A DynamoDB conditional write whose condition did not hold: the lock
    /// is someone else's, the approval is no longer pending.
    pub fn is_condition_failed(&self) -> bool {
        self.has_code("ConditionalCheckFailedException")
    }

    /// A conditional write's result: `true` when it was applied, `false`
    /// when its condition did not hold, an error otherwise.
    pub fn applied<T, E, R>(
        result: Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
        operation: &'static str,
    ) -> Result<bool, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match result {
            Ok(_) => Ok(true),
            Err(e) => {
                let failure = Failure::of(e);
                if failure.is_condition_failed() {
                    Ok(false)
                } else {
                    Err(failure.into_error(operation))
                }
            }
        }
    }

    /// The general classification, once the caller has matched its own cases.
    pub fn into_error(self, operation: &'static str) -> AwsError {
        if self.unreachable {
            return AwsError::Unreachable {
                operation,
                message: self.message,
            };
        }
        match self.code {
            Some(code) if THROTTLING_CODES.contains(&code.as_str()) => AwsError::Throttled {
                operation,
                message: self.message,
            },
            code => AwsError::Service {
                operation,
                code: code.unwrap_or_else(|| "Unknown".into()),
                message: self.message,
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    /// A service error as the SDK hands it over (any operation's error type
    /// carries the same metadata).
    pub(crate) fn service_failure(code: &str, message: &str) -> Failure {
        let error = SendTaskSuccessError::generic(
            ErrorMetadata::builder().code(code).message(message).build(),
        );
        let raw = Response::new(
            StatusCode::try_from(400).expect("a status"),
            SdkBody::empty(),
        );
        Failure::of(SdkError::service_error(error, raw))
    }

    /// No answer at all: a timeout.
    pub(crate) fn timeout_failure() -> Failure {
        Failure::of(SdkError::<SendTaskSuccessError, Response>::timeout_error(
            "operation timed out",
        ))
    }

    #[test]
    fn every_throttling_shape_is_throttled_and_the_rest_is_named() {
        for code in THROTTLING_CODES {
            let error = service_failure(code, "Rate exceeded").into_error("x:Op");
            assert_eq!(error.error_type(), "Throttled", "{code}");
        }
        assert_eq!(
            timeout_failure().into_error("x:Op").error_type(),
            "AwsUnreachable"
        );
        assert!(service_failure("ConditionalCheckFailedException", "c").is_condition_failed());
        assert!(
            !service_failure("ProvisionedThroughputExceededException", "c").is_condition_failed()
        );
        let other = service_failure("AccessDeniedException", "no").into_error("x:Op");
        assert_eq!(other.error_type(), "AwsServiceError");
        assert!(
            other.to_string().contains("AccessDeniedException"),
            "{other}"
        );
    }
}
