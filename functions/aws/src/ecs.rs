//! ECS: the `StableStack` tag, task sets, task definitions, and a release
//! registered as a new task definition revision.

use aws_sdk_ecs::types::{KeyValuePair, ServiceField, Tag, TaskDefinition, TaskDefinitionField};
use aws_sdk_ecs::Client;
use ecs_canary_core::{Colour, ContainerSpec, ReleaseChange, TaskSet, STABLE_STACK_TAG};

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

/// A task definition as ECS describes it: every container, volume, role,
/// size and setting, and its tags, kept whole so that a release can be
/// registered from it with only the release's changes.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTaskDefinition {
    arn: String,
    definition: TaskDefinition,
    tags: Vec<Tag>,
}

impl LiveTaskDefinition {
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// A task definition of these containers only (what the in-memory fake keeps).
    #[cfg(feature = "fake")]
    pub(crate) fn of_containers(arn: &str, containers: &[ContainerSpec]) -> LiveTaskDefinition {
        let definitions = containers
            .iter()
            .map(|c| {
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name(&c.name)
                    .image(&c.image)
                    .set_environment(Some(
                        c.environment
                            .iter()
                            .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                            .collect(),
                    ))
                    .build()
            })
            .collect();
        LiveTaskDefinition {
            arn: arn.to_string(),
            definition: TaskDefinition::builder()
                .task_definition_arn(arn)
                .family(
                    arn.rsplit('/')
                        .next()
                        .unwrap_or(arn)
                        .split(':')
                        .next()
                        .unwrap_or(arn),
                )
                .set_container_definitions(Some(definitions))
                .build(),
            tags: Vec::new(),
        }
    }

    /// The containers with `change` applied (what registering would keep).
    #[cfg(feature = "fake")]
    pub(crate) fn released(&self, change: &ReleaseChange) -> Vec<ContainerSpec> {
        LiveTaskDefinition {
            definition: TaskDefinition::builder()
                .set_container_definitions(Some(self.containers_with(change)))
                .build(),
            ..self.clone()
        }
        .containers()
    }

    /// The containers, as far as a release touches them.
    pub fn containers(&self) -> Vec<ContainerSpec> {
        self.definition
            .container_definitions()
            .iter()
            .map(|c| ContainerSpec {
                name: c.name().unwrap_or_default().to_string(),
                image: c.image().unwrap_or_default().to_string(),
                environment: c
                    .environment()
                    .iter()
                    .map(|v| {
                        (
                            v.name().unwrap_or_default().to_string(),
                            v.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            })
            .collect()
    }

    /// Whether this definition is exactly `stable` with `change` applied
    /// (what [`EcsServices::register_release`] would register).
    fn is_release_of(&self, stable: &LiveTaskDefinition, change: &ReleaseChange) -> bool {
        let (a, b) = (&self.definition, &stable.definition);
        a.family == b.family
            && a.task_role_arn == b.task_role_arn
            && a.execution_role_arn == b.execution_role_arn
            && a.network_mode == b.network_mode
            && a.container_definitions() == stable.containers_with(change).as_slice()
            && a.volumes == b.volumes
            && a.placement_constraints == b.placement_constraints
            && a.requires_compatibilities == b.requires_compatibilities
            && a.cpu == b.cpu
            && a.memory == b.memory
            && a.pid_mode == b.pid_mode
            && a.ipc_mode == b.ipc_mode
            && a.proxy_configuration == b.proxy_configuration
            && a.ephemeral_storage == b.ephemeral_storage
            && a.runtime_platform == b.runtime_platform
            && self.tags == stable.tags
    }

    /// The containers with `change` applied to its container; every other
    /// field of every container as it is.
    fn containers_with(
        &self,
        change: &ReleaseChange,
    ) -> Vec<aws_sdk_ecs::types::ContainerDefinition> {
        let mut containers = self.definition.container_definitions().to_vec();
        for container in containers
            .iter_mut()
            .filter(|c| c.name() == Some(change.container.as_str()))
        {
            container.image = Some(change.image_after.clone());
            container.environment = Some(
                change
                    .environment_after
                    .iter()
                    .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
                    .collect(),
            );
        }
        containers
    }
}

/// ECS services and their task sets.
#[derive(Debug, Clone)]
pub struct EcsServices {
    pub(crate) client: Client,
}

impl EcsServices {
    pub fn new(client: Client) -> EcsServices {
        EcsServices { client }
    }

    /// The service's ARN; `ServiceNotFound` if it does not exist (or is inactive).
    pub async fn service_arn(&self, cluster: &str, service: &str) -> Result<String, AwsError> {
        let found = self.described(cluster, service, false).await?;
        found
            .service_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::ServiceNotFound {
                cluster: cluster.to_string(),
                service: service.to_string(),
            })
    }

    /// The service as DescribeServices shows it; `ServiceNotFound` if it
    /// does not exist (or is inactive).
    pub(crate) async fn described(
        &self,
        cluster: &str,
        service: &str,
        with_tags: bool,
    ) -> Result<aws_sdk_ecs::types::Service, AwsError> {
        let output = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .set_include(with_tags.then(|| vec![ServiceField::Tags]))
            .send()
            .await
            .map_err(|e| service_error(cluster, service, "ecs:DescribeServices", Failure::of(e)))?;
        output
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .cloned()
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
        // One call: the tags come with the service (the way back reads
        // this tag before it moves any traffic).
        let found = self.described(cluster, service, true).await?;
        Ok(found
            .tags()
            .iter()
            .find(|tag| tag.key() == Some(STABLE_STACK_TAG))
            .and_then(|tag| tag.value())
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

    /// A task definition, whole (with its tags).
    pub async fn task_definition(&self, arn: &str) -> Result<LiveTaskDefinition, AwsError> {
        let output = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| {
                let failure = Failure::of(e);
                if failure.has_code("ClientException") {
                    AwsError::TaskDefinitionNotFound(arn.to_string())
                } else {
                    failure.into_error("ecs:DescribeTaskDefinition")
                }
            })?;
        let definition = output
            .task_definition()
            .cloned()
            .ok_or_else(|| AwsError::TaskDefinitionNotFound(arn.to_string()))?;
        Ok(LiveTaskDefinition {
            arn: arn.to_string(),
            definition,
            tags: output.tags().to_vec(),
        })
    }

    /// The task definition for the candidate: a new revision of `live`'s
    /// family, the same definition (containers, volumes, roles, network
    /// mode, cpu and memory, placement, runtime platform, storage, tags …)
    /// with only `change` applied — or `current`, the candidate's task
    /// definition now, when it is exactly that already (a repeated deploy
    /// registers nothing). Returns its ARN.
    pub async fn register_release(
        &self,
        live: &LiveTaskDefinition,
        change: &ReleaseChange,
        current: Option<&str>,
    ) -> Result<String, AwsError> {
        if let Some(current) = current.filter(|c| !c.is_empty()) {
            match self.task_definition(current).await {
                Ok(existing) if existing.is_release_of(live, change) => {
                    return Ok(current.to_string())
                }
                Ok(_) | Err(AwsError::TaskDefinitionNotFound(_)) => {}
                Err(other) => return Err(other),
            }
        }
        let d = &live.definition;
        let output = self
            .client
            .register_task_definition()
            .set_family(d.family.clone())
            .set_task_role_arn(d.task_role_arn.clone())
            .set_execution_role_arn(d.execution_role_arn.clone())
            .set_network_mode(d.network_mode.clone())
            .set_container_definitions(Some(live.containers_with(change)))
            .set_volumes(d.volumes.clone())
            .set_placement_constraints(d.placement_constraints.clone())
            .set_requires_compatibilities(d.requires_compatibilities.clone())
            .set_cpu(d.cpu.clone())
            .set_memory(d.memory.clone())
            .set_tags((!live.tags.is_empty()).then(|| live.tags.clone()))
            .set_pid_mode(d.pid_mode.clone())
            .set_ipc_mode(d.ipc_mode.clone())
            .set_proxy_configuration(d.proxy_configuration.clone())
            .set_ephemeral_storage(d.ephemeral_storage.clone())
            .set_runtime_platform(d.runtime_platform.clone())
            .set_enable_fault_injection(d.enable_fault_injection)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("ecs:RegisterTaskDefinition"))?;
        output
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .map(str::to_string)
            .ok_or_else(|| AwsError::Service {
                operation: "ecs:RegisterTaskDefinition",
                code: "NoArn".into(),
                message: "the new revision has no ARN".into(),
            })
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
                scale_percent: t.scale().map(|s| s.value()),
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

#[cfg(test)]
mod tests {
    use super::service_error;
    use crate::error::tests::service_failure;
    use ecs_canary_core::ErrorName;

    #[test]
    fn missing_clusters_and_services_are_named() {
        for (code, expected) in [
            ("ClusterNotFoundException", "ClusterNotFound"),
            ("ServiceNotFoundException", "ServiceNotFound"),
            ("ThrottlingException", "Throttled"),
            ("ClientException", "AwsServiceError"),
        ] {
            let error = service_error("c", "s", "ecs:DescribeServices", service_failure(code, "m"));
            assert_eq!(error.error_type(), expected, "{code}");
        }
    }
}
