//! Who is calling (sts:GetCallerIdentity), for the command line.

use crate::error::Failure;
use crate::{AwsError, SdkConfig};

/// The ARN of whoever the configuration's credentials belong to
/// (`sts:GetCallerIdentity`, which needs no permission).
pub async fn caller_identity(config: &SdkConfig) -> Result<String, AwsError> {
    let output = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| Failure::of(e).into_error("sts:GetCallerIdentity"))?;
    output.arn().map(str::to_string).ok_or(AwsError::Service {
        operation: "sts:GetCallerIdentity",
        code: "NoArn".into(),
        message: "the caller's identity has no ARN".into(),
    })
}
