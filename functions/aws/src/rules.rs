//! ELBv2 listener rules: read one whole, change only its forward targets
//! (every other part of the rule is carried as it is), read back.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, Rule, RuleCondition, TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;
use ecs_canary_core::ForwardTarget;

use crate::error::Failure;
use crate::AwsError;

const DESCRIBE_RULES: &str = "elasticloadbalancing:DescribeRules";
const MODIFY_RULE: &str = "elasticloadbalancing:ModifyRule";

fn rule_error(rule_arn: &str, operation: &'static str, failure: Failure) -> AwsError {
    if failure.has_code("RuleNotFound") {
        AwsError::RuleNotFound(rule_arn.to_string())
    } else {
        failure.into_error(operation)
    }
}

/// A listener rule as the load balancer describes it: every action (in
/// order, with its authentication and stickiness settings) and condition.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRule {
    arn: String,
    actions: Vec<Action>,
    conditions: Vec<RuleCondition>,
}

impl LiveRule {
    fn from_sdk(arn: &str, rule: &Rule) -> LiveRule {
        let mut actions = rule.actions().to_vec();
        actions.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
        LiveRule {
            arn: arn.to_string(),
            actions,
            conditions: rule.conditions().to_vec(),
        }
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// A rule that only forwards to `targets` (what the in-memory fake keeps).
    #[cfg(feature = "fake")]
    pub(crate) fn forwarding(arn: &str, targets: &[ForwardTarget]) -> LiveRule {
        let rule = LiveRule {
            arn: arn.to_string(),
            actions: vec![Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(1)
                .forward_config(ForwardActionConfig::builder().build())
                .build()],
            conditions: Vec::new(),
        };
        match rule.with_forward_targets(targets) {
            Ok(changed) => changed,
            Err(_) => rule,
        }
    }

    /// The target groups and weights of the rule's `forward` action.
    pub fn forward_targets(&self) -> Vec<ForwardTarget> {
        let mut targets = Vec::new();
        for action in self.actions.iter().filter(|a| is_forward(a)) {
            match action
                .forward_config()
                .filter(|c| !c.target_groups().is_empty())
            {
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
        targets
    }

    /// The rule with its forward action sending to `targets`; every other
    /// action, the forward action's stickiness and the conditions as they are.
    fn with_forward_targets(&self, targets: &[ForwardTarget]) -> Result<LiveRule, AwsError> {
        let mut tuples = Vec::with_capacity(targets.len());
        for target in targets {
            let weight = i32::try_from(target.weight).map_err(|_| AwsError::Service {
                operation: MODIFY_RULE,
                code: "ValidationError".into(),
                message: format!("weight {} does not fit", target.weight),
            })?;
            tuples.push(
                TargetGroupTuple::builder()
                    .target_group_arn(&target.target_group_arn)
                    .weight(weight)
                    .build(),
            );
        }
        let mut rule = self.clone();
        let forward = rule.actions.iter_mut().find(|a| is_forward(a));
        let Some(forward) = forward else {
            return Err(AwsError::Service {
                operation: MODIFY_RULE,
                code: "ValidationError".into(),
                message: format!("rule {} has no forward action", self.arn),
            });
        };
        // One target may stay in the simple form; several need ForwardConfig only.
        forward.target_group_arn = match (&forward.target_group_arn, targets) {
            (Some(_), [only]) => Some(only.target_group_arn.clone()),
            _ => None,
        };
        let stickiness = forward
            .forward_config
            .as_ref()
            .and_then(|c| c.target_group_stickiness_config.clone());
        if forward.forward_config.is_some() || forward.target_group_arn.is_none() {
            forward.forward_config = Some(
                ForwardActionConfig::builder()
                    .set_target_groups(Some(tuples))
                    .set_target_group_stickiness_config(stickiness)
                    .build(),
            );
        }
        Ok(rule)
    }

    /// The actions as ModifyRule must receive them: an OIDC action keeps its
    /// client secret (which DescribeRules does not return) by saying so.
    fn actions_to_send(&self) -> Vec<Action> {
        let mut actions = self.actions.clone();
        for action in &mut actions {
            if let Some(oidc) = action.authenticate_oidc_config.as_mut() {
                oidc.client_secret = None;
                oidc.use_existing_client_secret = Some(true);
            }
        }
        actions
    }

    /// Everything but the forward targets (and the OIDC secret, which is
    /// never read back), for comparing a rule before and after a change.
    fn without_forward_targets(&self) -> LiveRule {
        let mut rule = self.clone();
        for action in &mut rule.actions {
            if let Some(oidc) = action.authenticate_oidc_config.as_mut() {
                oidc.client_secret = None;
                oidc.use_existing_client_secret = None;
            }
            if is_forward(action) {
                action.target_group_arn = None;
                if let Some(config) = action.forward_config.as_mut() {
                    config.target_groups = None;
                }
            }
        }
        rule
    }
}

fn is_forward(action: &Action) -> bool {
    action.r#type() == Some(&ActionTypeEnum::Forward)
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

    /// The rule as it is now.
    pub async fn rule(&self, rule_arn: &str) -> Result<LiveRule, AwsError> {
        let output = self
            .client
            .describe_rules()
            .rule_arns(rule_arn)
            .send()
            .await
            .map_err(|e| rule_error(rule_arn, DESCRIBE_RULES, Failure::of(e)))?;
        output
            .rules()
            .iter()
            .find(|r| r.rule_arn() == Some(rule_arn))
            .map(|r| LiveRule::from_sdk(rule_arn, r))
            .ok_or_else(|| AwsError::RuleNotFound(rule_arn.to_string()))
    }

    /// The target groups and weights of the rule's `forward` action.
    pub async fn forward_targets(&self, rule_arn: &str) -> Result<Vec<ForwardTarget>, AwsError> {
        Ok(self.rule(rule_arn).await?.forward_targets())
    }

    /// Changes only the forward action's targets of `rule` (as described
    /// just before): ModifyRule carries every action in its order, with its
    /// settings. Returns the rule read back; `RuleNotPreserved` if anything
    /// but the forward targets differs from what was there.
    pub async fn set_forward_targets(
        &self,
        rule: &LiveRule,
        targets: &[ForwardTarget],
    ) -> Result<LiveRule, AwsError> {
        let changed = rule.with_forward_targets(targets)?;
        self.client
            .modify_rule()
            .rule_arn(&rule.arn)
            .set_actions(Some(changed.actions_to_send()))
            .send()
            .await
            .map_err(|e| rule_error(&rule.arn, MODIFY_RULE, Failure::of(e)))?;
        let after = self.rule(&rule.arn).await?;
        if after.without_forward_targets() != rule.without_forward_targets() {
            return Err(AwsError::RuleNotPreserved {
                rule: rule.arn.clone(),
                before: format!("{:?}", rule.without_forward_targets()),
                after: format!("{:?}", after.without_forward_targets()),
            });
        }
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::types::{
        AuthenticateOidcActionConfig, TargetGroupStickinessConfig,
    };

    fn target(arn: &str, weight: i64) -> ForwardTarget {
        ForwardTarget {
            target_group_arn: arn.into(),
            weight,
        }
    }

    fn authenticated_rule() -> LiveRule {
        let oidc = Action::builder()
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .order(1)
            .authenticate_oidc_config(
                AuthenticateOidcActionConfig::builder()
                    .issuer("https://idp")
                    .client_id("id")
                    .client_secret("secret")
                    .build(),
            )
            .build();
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .order(2)
            .forward_config(
                ForwardActionConfig::builder()
                    .target_groups(
                        TargetGroupTuple::builder()
                            .target_group_arn("blue")
                            .weight(100)
                            .build(),
                    )
                    .target_groups(
                        TargetGroupTuple::builder()
                            .target_group_arn("green")
                            .weight(0)
                            .build(),
                    )
                    .target_group_stickiness_config(
                        TargetGroupStickinessConfig::builder()
                            .enabled(true)
                            .duration_seconds(300)
                            .build(),
                    )
                    .build(),
            )
            .build();
        LiveRule {
            arn: "rule".into(),
            actions: vec![oidc, forward],
            conditions: vec![],
        }
    }

    #[test]
    fn only_the_forward_targets_change() {
        let rule = authenticated_rule();
        let changed = rule
            .with_forward_targets(&[target("blue", 90), target("green", 10)])
            .unwrap();
        assert_eq!(
            changed.forward_targets(),
            vec![target("blue", 90), target("green", 10)]
        );
        assert_eq!(
            changed.without_forward_targets(),
            rule.without_forward_targets()
        );
        let stickiness = changed.actions[1]
            .forward_config()
            .and_then(|c| c.target_group_stickiness_config())
            .and_then(|s| s.duration_seconds());
        assert_eq!(stickiness, Some(300));
    }

    #[test]
    fn an_oidc_action_is_sent_without_its_secret() {
        let sent = authenticated_rule().actions_to_send();
        let oidc = sent[0].authenticate_oidc_config().unwrap();
        assert_eq!(oidc.client_secret(), None);
        assert_eq!(oidc.use_existing_client_secret(), Some(true));
        assert_eq!(oidc.issuer(), Some("https://idp"));
    }

    #[test]
    fn a_simple_forward_keeps_its_form_for_one_target() {
        let rule = LiveRule {
            arn: "tester".into(),
            actions: vec![Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn("blue")
                .build()],
            conditions: vec![],
        };
        let changed = rule.with_forward_targets(&[target("green", 1)]).unwrap();
        assert_eq!(changed.actions[0].target_group_arn(), Some("green"));
        assert_eq!(changed.forward_targets(), vec![target("green", 1)]);
        let weighted = rule
            .with_forward_targets(&[target("blue", 1), target("green", 1)])
            .unwrap();
        assert_eq!(weighted.actions[0].target_group_arn(), None);
        assert_eq!(weighted.forward_targets().len(), 2);
    }

    #[test]
    fn a_missing_rule_is_named() {
        use crate::error::tests::service_failure;
        use ecs_canary_core::ErrorName;
        for (code, expected) in [
            ("RuleNotFound", "RuleNotFound"),
            ("Throttling", "Throttled"),
            ("ValidationError", "AwsServiceError"),
        ] {
            let error = rule_error("arn:rule", MODIFY_RULE, service_failure(code, "m"));
            assert_eq!(error.error_type(), expected, "{code}");
        }
    }

    #[test]
    fn a_rule_without_forward_cannot_take_weights() {
        let rule = LiveRule {
            arn: "fixed".into(),
            actions: vec![Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .build()],
            conditions: vec![],
        };
        assert!(rule.with_forward_targets(&[target("blue", 1)]).is_err());
    }
}
