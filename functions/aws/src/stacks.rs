//! CloudFormation: a stack's template, status, outputs and physical ids, and
//! an update (idempotent through its client request token).

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::{Capability, Parameter, TemplateStage};
use aws_sdk_cloudformation::Client;
use ecs_canary_core::StackProgress;

use crate::error::Failure;
use crate::AwsError;

/// What DescribeStacks says of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackState {
    pub id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: Vec<String>,
}

impl StackState {
    pub fn progress(&self) -> StackProgress {
        StackProgress::of(&self.status)
    }
}

/// Whether UpdateStack started an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    Started,
    /// The template and parameters equal the stack's: nothing to do.
    NoChange,
}

/// CloudFormation stacks.
#[derive(Debug, Clone)]
pub struct Stacks {
    client: Client,
}

fn stack_error(stack: &str, operation: &'static str, failure: Failure) -> AwsError {
    if failure.has_code("ValidationError") && failure.message.contains("does not exist") {
        AwsError::StackNotFound(stack.to_string())
    } else {
        failure.into_error(operation)
    }
}

impl Stacks {
    pub fn new(client: Client) -> Stacks {
        Stacks { client }
    }

    pub async fn describe(&self, stack: &str) -> Result<StackState, AwsError> {
        let output = self
            .client
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| stack_error(stack, "cloudformation:DescribeStacks", Failure::of(e)))?;
        let found = output
            .stacks()
            .first()
            .ok_or_else(|| AwsError::StackNotFound(stack.to_string()))?;
        Ok(StackState {
            id: found.stack_id().unwrap_or_default().to_string(),
            status: found
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_reason: found.stack_status_reason().map(str::to_string),
            outputs: found
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect(),
            parameters: found
                .parameters()
                .iter()
                .filter_map(|p| p.parameter_key())
                .map(str::to_string)
                .collect(),
        })
    }

    /// The stack's template as it was submitted (JSON or YAML).
    pub async fn template(&self, stack: &str) -> Result<String, AwsError> {
        let output = self
            .client
            .get_template()
            .stack_name(stack)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|e| stack_error(stack, "cloudformation:GetTemplate", Failure::of(e)))?;
        Ok(output.template_body().unwrap_or_default().to_string())
    }

    /// Logical id → physical id of every resource in the stack.
    pub async fn physical_ids(&self, stack: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let output = self
            .client
            .describe_stack_resources()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| {
                stack_error(
                    stack,
                    "cloudformation:DescribeStackResources",
                    Failure::of(e),
                )
            })?;
        Ok(output
            .stack_resources()
            .iter()
            .filter_map(|r| {
                Some((
                    r.logical_resource_id()?.to_string(),
                    r.physical_resource_id()?.to_string(),
                ))
            })
            .collect())
    }

    /// The physical id of one resource.
    pub async fn physical_id(&self, stack: &str, logical_id: &str) -> Result<String, AwsError> {
        self.physical_ids(stack)
            .await?
            .remove(logical_id)
            .ok_or_else(|| AwsError::StackResourceNotFound {
                stack: stack.to_string(),
                logical_id: logical_id.to_string(),
            })
    }

    /// The capabilities `template` needs acknowledged (IAM resources,
    /// named ones, transforms), as CloudFormation's GetTemplateSummary says:
    /// a stack update acknowledges those and no more.
    async fn capabilities_needed(&self, template: &str) -> Result<Vec<Capability>, AwsError> {
        let summary = self
            .client
            .get_template_summary()
            .template_body(template)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("cloudformation:GetTemplateSummary"))?;
        Ok(summary.capabilities().to_vec())
    }

    /// Creates a stack; returns its id.
    pub async fn create(
        &self,
        stack: &str,
        template: &str,
        parameters: &[(&str, &str)],
    ) -> Result<String, AwsError> {
        let capabilities = self.capabilities_needed(template).await?;
        let mut request = self
            .client
            .create_stack()
            .stack_name(stack)
            .template_body(template)
            .set_capabilities(Some(capabilities));
        for (key, value) in parameters {
            request = request.parameters(
                Parameter::builder()
                    .parameter_key(*key)
                    .parameter_value(*value)
                    .build(),
            );
        }
        let output = request
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("cloudformation:CreateStack"))?;
        Ok(output.stack_id().unwrap_or_default().to_string())
    }

    /// Updates the stack with a new template, keeping every parameter's value;
    /// with `role_arn`, CloudFormation acts with that service role. Only the
    /// capabilities the template needs (IAM resources, macros) are
    /// acknowledged; `token` (the same for a retried update) lets
    /// CloudFormation recognise a retry of an update it already accepted.
    pub async fn update(
        &self,
        stack: &str,
        template: &str,
        role_arn: Option<&str>,
        token: Option<&str>,
    ) -> Result<UpdateOutcome, AwsError> {
        let current = self.describe(stack).await?;
        let capabilities = self.capabilities_needed(template).await?;
        let mut request = self
            .client
            .update_stack()
            .stack_name(stack)
            .template_body(template)
            .set_role_arn(role_arn.map(str::to_string))
            .set_client_request_token(token.map(str::to_string))
            .set_capabilities(Some(capabilities));
        for key in &current.parameters {
            request = request.parameters(
                Parameter::builder()
                    .parameter_key(key)
                    .use_previous_value(true)
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(UpdateOutcome::Started),
            Err(e) => {
                let failure = Failure::of(e);
                if failure.has_code("ValidationError")
                    && failure.message.contains("No updates are to be performed")
                {
                    Ok(UpdateOutcome::NoChange)
                } else {
                    Err(stack_error(stack, "cloudformation:UpdateStack", failure))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stack_error;
    use crate::error::tests::service_failure;
    use ecs_canary_core::ErrorName;

    #[test]
    fn a_missing_stack_is_named_and_other_validation_errors_are_not() {
        for (code, message, expected) in [
            (
                "ValidationError",
                "Stack with id app does not exist",
                "StackNotFound",
            ),
            (
                "ValidationError",
                "Template format error",
                "AwsServiceError",
            ),
            ("Throttling", "Rate exceeded", "Throttled"),
        ] {
            let error = stack_error(
                "app",
                "cloudformation:DescribeStacks",
                service_failure(code, message),
            );
            assert_eq!(error.error_type(), expected, "{code}: {message}");
        }
    }
}
