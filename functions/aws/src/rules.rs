use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;
use ecs_canary_core::ForwardTarget;

use crate::error::Failure;
use crate::AwsError;

fn rule_error(rule_arn: &str, operation: &'static str, failure: Failure) -> AwsError {
    if failure.has_code("RuleNotFound") {
        AwsError::RuleNotFound(rule_arn.to_string())
    } else {
        failure.into_error(operation)
    }
}

/// Application Load Balancer listener rules and their forward weights.
#[derive(Debug, Clone)]
pub struct ListenerRules {
    client: Client,
}

impl ListenerRules {
    pub fn new(client: Client) -> ListenerRules {
        ListenerRules { client }
    }

    /// The target groups and weights of the rule's `forward` action.
    pub async fn forward_targets(&self, rule_arn: &str) -> Result<Vec<ForwardTarget>, AwsError> {
        let output = self
            .client
            .describe_rules()
            .rule_arns(rule_arn)
            .send()
            .await
            .map_err(|e| {
                rule_error(
                    rule_arn,
                    "elasticloadbalancing:DescribeRules",
                    Failure::of(e),
                )
            })?;
        let rule = output
            .rules()
            .iter()
            .find(|r| r.rule_arn() == Some(rule_arn))
            .ok_or_else(|| AwsError::RuleNotFound(rule_arn.to_string()))?;
        let mut targets = Vec::new();
        for action in rule
            .actions()
            .iter()
            .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        {
            match action.forward_config() {
                Some(config) => {
                    targets.extend(config.target_groups().iter().map(|t| ForwardTarget {
                        target_group_arn: t.target_group_arn().unwrap_or_default().to_string(),
                        weight: t.weight().map_or(1, i64::from),
                    }))
                }
                None => targets.extend(action.target_group_arn().map(|arn| ForwardTarget {
                    target_group_arn: arn.to_string(),
                    weight: 1,
                })),
            }
        }
        Ok(targets)
    }

    /// Replaces the rule's actions with one `forward` to these targets.
    pub async fn set_forward_targets(
        &self,
        rule_arn: &str,
        targets: &[ForwardTarget],
    ) -> Result<(), AwsError> {
        let mut config = ForwardActionConfig::builder();
        for target in targets {
            let weight = i32::try_from(target.weight).map_err(|_| AwsError::Service {
                operation: "elasticloadbalancing:ModifyRule",
                code: "ValidationError".into(),
                message: format!("weight {} does not fit", target.weight),
            })?;
            config = config.target_groups(
                TargetGroupTuple::builder()
                    .target_group_arn(&target.target_group_arn)
                    .weight(weight)
                    .build(),
            );
        }
        let action = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .order(1)
            .forward_config(config.build())
            .build();
        self.client
            .modify_rule()
            .rule_arn(rule_arn)
            .actions(action)
            .send()
            .await
            .map_err(|e| rule_error(rule_arn, "elasticloadbalancing:ModifyRule", Failure::of(e)))?;
        Ok(())
    }
}
