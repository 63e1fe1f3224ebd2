//! How a command fails: a message and the exit code it ends with.

/// A failed command, with its exit code: 1 AWS or another failure, 2 usage
/// or invalid input, 3 refused (the approval policy, or the operator
/// endpoint refused the caller), 4 nothing to act on, 5 not confirmed.
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

impl From<ecs_canary_aws::AwsError> for Exit {
    fn from(error: ecs_canary_aws::AwsError) -> Exit {
        Exit::new(1, error.to_string())
    }
}
