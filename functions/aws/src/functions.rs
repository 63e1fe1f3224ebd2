//! Lambda: ecs-canary's own functions invoked directly (the rollback's
//! shortest path back to stable).

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::Client;
use serde_json::Value;

use crate::error::Failure;
use crate::AwsError;

const INVOKE: &str = "lambda:Invoke";

/// Another of ecs-canary's functions, invoked directly and waited for.
#[derive(Debug, Clone)]
pub struct FunctionInvoker {
    client: Client,
}

impl FunctionInvoker {
    pub fn new(client: Client) -> FunctionInvoker {
        FunctionInvoker { client }
    }

    /// Invokes `function` (name or ARN) with `payload` and returns its
    /// answer; a function error comes back as `AwsServiceError` whose code is
    /// the function's `errorType`.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Value, AwsError> {
        let output = self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error(INVOKE))?;
        let answer: Value = output
            .payload()
            .and_then(|blob| serde_json::from_slice(blob.as_ref()).ok())
            .unwrap_or(Value::Null);
        if output.function_error().is_some() {
            let text = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or_default();
            return Err(AwsError::Service {
                operation: INVOKE,
                code: Some(text("errorType"))
                    .filter(|t| !t.is_empty())
                    .unwrap_or("Unhandled")
                    .to_string(),
                message: text("errorMessage").to_string(),
            });
        }
        Ok(answer)
    }
}
