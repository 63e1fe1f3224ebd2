//! ECS's own deployments: a service's tags, a service deployment as
//! DescribeServiceDeployments (and DescribeServiceRevisions, for the
//! images) shows it, and the answer to a paused one.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    DeploymentLifecycleHook, DeploymentLifecycleHookAction, DeploymentLifecycleHookStage,
    DeploymentLifecycleHookTargetType, DeploymentLifecycleHookTimeoutConfiguration,
    ServiceDeployment, ServiceRevisionSummary, Tag,
};
use ecs_canary_core::{
    EnrolmentPlan, EnrolmentReading, HookAction, HookReading, ProductionRoutes, RevisionReading,
    ServiceDeploymentReading, GATE_TAG,
};

use crate::error::Failure;
use crate::{AwsError, EcsServices};

fn revision(summary: &ServiceRevisionSummary) -> Option<RevisionReading> {
    Some(RevisionReading {
        arn: summary.arn()?.to_string(),
        production_weight: summary.requested_production_traffic_weight(),
        images: Vec::new(),
    })
}

fn reading(deployment: &ServiceDeployment) -> ServiceDeploymentReading {
    let configuration = deployment.deployment_configuration();
    ServiceDeploymentReading {
        arn: deployment
            .service_deployment_arn()
            .unwrap_or_default()
            .to_string(),
        service_arn: deployment.service_arn().unwrap_or_default().to_string(),
        cluster_arn: deployment.cluster_arn().unwrap_or_default().to_string(),
        status: deployment
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        strategy: configuration
            .and_then(|c| c.strategy())
            .map(|s| s.as_str().to_string()),
        linear_step_percent: configuration
            .and_then(|c| c.linear_configuration())
            .and_then(|l| l.step_percent()),
        canary_percent: configuration
            .and_then(|c| c.canary_configuration())
            .and_then(|c| c.canary_percent()),
        target: deployment.target_service_revision().and_then(revision),
        sources: deployment
            .source_service_revisions()
            .iter()
            .filter_map(revision)
            .collect(),
        hooks: deployment
            .lifecycle_hook_details()
            .iter()
            .map(|hook| HookReading {
                hook_id: hook.hook_id().unwrap_or_default().to_string(),
                target_type: hook
                    .target_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                status: hook
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                expires_at: hook
                    .expires_at()
                    .and_then(|at| u64::try_from(at.secs()).ok()),
                timeout_action: hook.timeout_action().map(|a| a.as_str().to_string()),
            })
            .collect(),
        started_at: deployment
            .started_at()
            .or(deployment.created_at())
            .and_then(|at| u64::try_from(at.secs()).ok()),
        production: None,
    }
}

/// The production rule and target groups of a revision's load balancer
/// (the first with an alternate target group).
fn production(balancers: &[aws_sdk_ecs::types::LoadBalancer]) -> Option<ProductionRoutes> {
    balancers.iter().find_map(|balancer| {
        let advanced = balancer.advanced_configuration()?;
        Some(ProductionRoutes {
            rule: advanced.production_listener_rule()?.to_string(),
            primary_group: balancer.target_group_arn()?.to_string(),
            alternate_group: advanced.alternate_target_group_arn()?.to_string(),
        })
    })
}

impl EcsServices {
    /// A resource's tags (a service's, by its ARN).
    pub async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let output = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("ecs:ListTagsForResource"))?;
        Ok(output
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect())
    }

    /// A service deployment with its revisions' images; `None` if ECS does
    /// not know it.
    pub async fn service_deployment(
        &self,
        arn: &str,
    ) -> Result<Option<ServiceDeploymentReading>, AwsError> {
        let output = self
            .client
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("ecs:DescribeServiceDeployments"))?;
        let Some(mut found) = output.service_deployments().first().map(reading) else {
            return Ok(None);
        };
        let arns: Vec<String> = found
            .target
            .iter()
            .chain(found.sources.iter())
            .map(|r| r.arn.clone())
            .collect();
        if arns.is_empty() {
            return Ok(Some(found));
        }
        let revisions = self
            .client
            .describe_service_revisions()
            .set_service_revision_arns(Some(arns))
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("ecs:DescribeServiceRevisions"))?;
        for described in revisions.service_revisions() {
            let images: Vec<String> = described
                .container_images()
                .iter()
                .map(|c| {
                    format!(
                        "{}: {}",
                        c.container_name().unwrap_or("?"),
                        c.image().unwrap_or("?")
                    )
                })
                .collect();
            let arn = described.service_revision_arn().unwrap_or_default();
            if found.target.as_ref().is_some_and(|t| t.arn == arn) {
                found.production = production(described.load_balancers());
            }
            for revision in found.target.iter_mut().chain(found.sources.iter_mut()) {
                if revision.arn == arn {
                    revision.images = images.clone();
                }
            }
        }
        Ok(Some(found))
    }

    /// Answers a paused deployment's hook; a hook no longer awaiting action
    /// is `TaskNotWaiting`.
    pub async fn answer_hook(
        &self,
        service_deployment: &str,
        hook_id: &str,
        action: HookAction,
    ) -> Result<(), AwsError> {
        self.client
            .continue_service_deployment()
            .service_deployment_arn(service_deployment)
            .hook_id(hook_id)
            .action(DeploymentLifecycleHookAction::from(action.as_str()))
            .send()
            .await
            .map_err(|e| {
                let failure = Failure::of(e);
                if failure.has_code("InvalidParameterException")
                    || failure.has_code("ServiceDeploymentNotFoundException")
                {
                    AwsError::TaskNotWaiting(format!("{service_deployment} hook {hook_id}"))
                } else {
                    failure.into_error("ecs:ContinueServiceDeployment")
                }
            })?;
        Ok(())
    }
}

/// Whether `hook` pauses before production traffic shifts.
fn pauses_before_shifts(hook: &DeploymentLifecycleHook) -> bool {
    hook.target_type() == Some(&DeploymentLifecycleHookTargetType::Pause)
        && hook
            .lifecycle_stages()
            .contains(&DeploymentLifecycleHookStage::PreProductionTrafficShift)
}

impl EcsServices {
    /// What enrolling the service looks at.
    pub async fn enrolment(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<EnrolmentReading, AwsError> {
        let found = self.described(cluster, service, false).await?;
        let configuration = found.deployment_configuration();
        let tags = self.tags(found.service_arn().unwrap_or_default()).await?;
        Ok(EnrolmentReading {
            service_arn: found.service_arn().unwrap_or_default().to_string(),
            controller: found
                .deployment_controller()
                .map(|c| c.r#type().as_str().to_string())
                .unwrap_or_else(|| "ECS".into()),
            strategy: configuration
                .and_then(|c| c.strategy())
                .map(|s| s.as_str().to_string()),
            pause_hook_minutes: configuration
                .map(|c| c.lifecycle_hooks())
                .unwrap_or_default()
                .iter()
                .filter(|h| pauses_before_shifts(h))
                .find_map(|h| h.timeout_configuration()?.timeout_in_minutes()),
            tags,
        })
    }

    /// Applies an enrolment plan: the tag, and the pause hook before every
    /// production traffic shift (the rest of the deployment configuration
    /// as it is).
    pub async fn enroll(
        &self,
        cluster: &str,
        service: &str,
        plan: &EnrolmentPlan,
    ) -> Result<(), AwsError> {
        if let Some(minutes) = plan.hook_minutes {
            let found = self.described(cluster, service, false).await?;
            let timeout = DeploymentLifecycleHookTimeoutConfiguration::builder()
                .timeout_in_minutes(minutes)
                .action(DeploymentLifecycleHookAction::Rollback)
                .build();
            let mut configuration = found
                .deployment_configuration()
                .cloned()
                .unwrap_or_else(|| aws_sdk_ecs::types::DeploymentConfiguration::builder().build());
            let mut hooks: Vec<DeploymentLifecycleHook> = configuration
                .lifecycle_hooks()
                .iter()
                .filter(|h| !pauses_before_shifts(h))
                .cloned()
                .collect();
            hooks.push(
                DeploymentLifecycleHook::builder()
                    .target_type(DeploymentLifecycleHookTargetType::Pause)
                    .lifecycle_stages(DeploymentLifecycleHookStage::PreProductionTrafficShift)
                    .timeout_configuration(timeout)
                    .build(),
            );
            configuration.lifecycle_hooks = Some(hooks);
            self.client
                .update_service()
                .cluster(cluster)
                .service(service)
                .deployment_configuration(configuration)
                .send()
                .await
                .map_err(|e| Failure::of(e).into_error("ecs:UpdateService"))?;
        }
        let mut tags: Vec<Tag> = plan
            .settings
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect();
        if plan.tag {
            tags.push(Tag::builder().key(GATE_TAG).value("true").build());
        }
        if !tags.is_empty() {
            self.client
                .tag_resource()
                .resource_arn(&plan.service_arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Failure::of(e).into_error("ecs:TagResource"))?;
        }
        Ok(())
    }
}
