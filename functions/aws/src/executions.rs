//! Step Functions: starting an execution, the callbacks of a waiting task,
//! and stopping an execution.

use aws_sdk_sfn::Client;

use crate::error::Failure;
use crate::AwsError;

/// Step Functions callbacks for a waiting task.
#[derive(Debug, Clone)]
pub struct TaskCallbacks {
    client: Client,
}

/// What a call about a task or an execution that is no longer there says:
/// `TaskNotWaiting` (it has ended), else the error as it is.
fn callback_error(operation: &'static str, failure: Failure) -> AwsError {
    let gone = [
        "TaskTimedOut",
        "TaskDoesNotExist",
        "InvalidToken",
        "ExecutionDoesNotExist",
    ];
    if gone.iter().any(|code| failure.has_code(code)) {
        AwsError::TaskNotWaiting(failure.message)
    } else {
        failure.into_error(operation)
    }
}

impl TaskCallbacks {
    pub fn new(client: Client) -> TaskCallbacks {
        TaskCallbacks { client }
    }

    /// The waiting task succeeds with `output` (JSON).
    pub async fn succeed(&self, task_token: &str, output: &str) -> Result<(), AwsError> {
        self.client
            .send_task_success()
            .task_token(task_token)
            .output(output)
            .send()
            .await
            .map_err(|e| callback_error("states:SendTaskSuccess", Failure::of(e)))?;
        Ok(())
    }

    /// Stops `execution` with `error` and `cause` (it ends `ABORTED`; no
    /// `Catch` runs). An execution that has ended already is not an error.
    pub async fn stop(&self, execution: &str, error: &str, cause: &str) -> Result<(), AwsError> {
        self.client
            .stop_execution()
            .execution_arn(execution)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map_err(|e| callback_error("states:StopExecution", Failure::of(e)))?;
        Ok(())
    }

    /// The waiting task fails with `error`; its `Catch` decides what follows.
    pub async fn fail(&self, task_token: &str, error: &str, cause: &str) -> Result<(), AwsError> {
        self.client
            .send_task_failure()
            .task_token(task_token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map_err(|e| callback_error("states:SendTaskFailure", Failure::of(e)))?;
        Ok(())
    }
}

/// Whether StartExecution started one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started(String),
    /// An execution with that name exists already (the same event, again).
    AlreadyExists,
}

/// Starting executions of a state machine.
#[derive(Debug, Clone)]
pub struct StateMachines {
    client: Client,
}

impl StateMachines {
    pub fn new(client: Client) -> StateMachines {
        StateMachines { client }
    }

    pub async fn start(
        &self,
        state_machine: &str,
        name: &str,
        input: &str,
    ) -> Result<StartOutcome, AwsError> {
        match self
            .client
            .start_execution()
            .state_machine_arn(state_machine)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(output) => Ok(StartOutcome::Started(output.execution_arn().to_string())),
            Err(e) => {
                let failure = Failure::of(e);
                if failure.has_code("ExecutionAlreadyExists") {
                    Ok(StartOutcome::AlreadyExists)
                } else {
                    Err(failure.into_error("states:StartExecution"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::callback_error;
    use crate::error::tests::service_failure;
    use ecs_canary_core::ErrorName;

    #[test]
    fn a_task_that_is_gone_is_not_waiting_and_throttling_is_retried() {
        for (code, expected) in [
            ("TaskTimedOut", "TaskNotWaiting"),
            ("TaskDoesNotExist", "TaskNotWaiting"),
            ("InvalidToken", "TaskNotWaiting"),
            ("ThrottlingException", "Throttled"),
            ("InvalidOutput", "AwsServiceError"),
        ] {
            let error = callback_error("states:SendTaskSuccess", service_failure(code, "m"));
            assert_eq!(error.error_type(), expected, "{code}");
        }
    }
}
