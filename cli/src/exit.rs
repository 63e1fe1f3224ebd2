//! How a command fails: a message and the exit code it ends with.

use ecs_canary_core::{ErrorKind, ErrorName};
use ecs_canary_handlers::operator::OperatorError;

/// A failed command, with its exit code: 1 AWS or another failure, 2 usage
/// or invalid input, 3 refused by the approval policy, 4 nothing to act on,
/// 5 not confirmed.
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn new(code: u8, message: impl Into<String>) -> Exit {
        Exit {
            code,
            message: message.into(),
        }
    }
}

/// An input error: the execution input, or a value in it, is refused.
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
    )
}

impl From<OperatorError> for Exit {
    fn from(error: OperatorError) -> Exit {
        let code = match &error {
            OperatorError::NoDeployment { .. }
            | OperatorError::NotWaiting { .. }
            | OperatorError::UnknownService { .. } => 4,
            OperatorError::Function(e) if is_input(e.error_kind()) => 2,
            OperatorError::Function(_) => 1,
        };
        Exit::new(code, error.to_string())
    }
}

impl From<ecs_canary_handlers::FunctionError> for Exit {
    fn from(error: ecs_canary_handlers::FunctionError) -> Exit {
        OperatorError::from(error).into()
    }
}

impl From<ecs_canary_aws::AwsError> for Exit {
    fn from(error: ecs_canary_aws::AwsError) -> Exit {
        OperatorError::from(error).into()
    }
}
