use aws_sdk_ecs::types::Tag;
use aws_sdk_ecs::Client;
use ecs_canary_core::{Colour, TaskSet, STABLE_STACK_TAG};

use crate::error::Failure;
use crate::AwsError;

fn service_error(
    cluster: &str,
    service: &str,
    operation: &'static str,
    failure: Failure,
) -> AwsError {
    if failure.has_code("ClusterNotFoundException") {
        AwsError::ClusterNotFound(cluster.to_string())
    } else if failure.has_code("ServiceNotFoundException") {
        AwsError::ServiceNotFound {
            cluster: cluster.to_string(),
            service: service.to_string(),
        }
    } else {
        failure.into_error(operation)
    }
}

/// ECS services and their task sets.
#[derive(Debug, Clone)]
pub struct EcsServices {
    client: Client,
}

impl EcsServices {
    pub fn new(client: Client) -> EcsServices {
        EcsServices { client }
    }

    /// The service's ARN; `ServiceNotFound` if it does not exist (or is inactive).
    pub async fn service_arn(&self, cluster: &str, service: &str) -> Result<String, AwsError> {
        let output = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| service_error(cluster, service, "ecs:DescribeServices", Failure::of(e)))?;
        output
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .and_then(|s| s.service_arn())
            .map(str::to_string)
            .ok_or_else(|| AwsError::ServiceNotFound {
                cluster: cluster.to_string(),
                service: service.to_string(),
            })
    }

    /// The value of the service's `StableStack` tag, if it has one.
    pub async fn stable_stack_tag(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<String>, AwsError> {
        let arn = self.service_arn(cluster, service).await?;
        let output = self
            .client
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("ecs:ListTagsForResource"))?;
        Ok(output
            .tags()
            .iter()
            .find(|t| t.key() == Some(STABLE_STACK_TAG))
            .and_then(|t| t.value())
            .map(str::to_string))
    }

    /// Sets the service's `StableStack` tag to `colour`.
    pub async fn tag_stable(
        &self,
        cluster: &str,
        service: &str,
        colour: Colour,
    ) -> Result<(), AwsError> {
        let arn = self.service_arn(cluster, service).await?;
        self.client
            .tag_resource()
            .resource_arn(&arn)
            .tags(
                Tag::builder()
                    .key(STABLE_STACK_TAG)
                    .value(colour.as_str())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("ecs:TagResource"))?;
        Ok(())
    }

    /// The service's task sets, or only those named (by id or ARN).
    pub async fn task_sets(
        &self,
        cluster: &str,
        service: &str,
        only: &[&str],
    ) -> Result<Vec<TaskSet>, AwsError> {
        let mut request = self
            .client
            .describe_task_sets()
            .cluster(cluster)
            .service(service);
        for id in only {
            request = request.task_sets(*id);
        }
        let output = request
            .send()
            .await
            .map_err(|e| service_error(cluster, service, "ecs:DescribeTaskSets", Failure::of(e)))?;
        Ok(output
            .task_sets()
            .iter()
            .map(|t| TaskSet {
                id: t.id().unwrap_or_default().to_string(),
                arn: t.task_set_arn().unwrap_or_default().to_string(),
                external_id: t.external_id().map(str::to_string),
                task_definition: t.task_definition().unwrap_or_default().to_string(),
                status: t.status().unwrap_or_default().to_string(),
                stability_status: t
                    .stability_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                target_groups: t
                    .load_balancers()
                    .iter()
                    .filter_map(|lb| lb.target_group_arn())
                    .map(str::to_string)
                    .collect(),
            })
            .collect())
    }

    /// One task set by id or ARN; `None` if the service has no such task set.
    pub async fn task_set(
        &self,
        cluster: &str,
        service: &str,
        id: &str,
    ) -> Result<Option<TaskSet>, AwsError> {
        Ok(self
            .task_sets(cluster, service, &[id])
            .await?
            .into_iter()
            .next())
    }
}
