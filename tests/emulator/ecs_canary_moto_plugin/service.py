"""moto 5.2.5's CloudFormation AWS::ECS::Service fails without TaskDefinition
(KeyError) and ignores DeploymentController, DeploymentConfiguration and Tags.
Fixed; and, as CloudFormation does for a service on ECS's own deployments
(AWS::ECS::Service, "Amazon ECS linear deployments"), a changed TaskDefinition
starts a service deployment (native_deployments) instead of replacing the task
definition at once.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.ecs import models as ecs

from . import native_deployments
from ._common import _backend, _camel, _name, _tags


def _create_service(resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> Any:
    task_definition = props.get("TaskDefinition")
    service = _backend(account_id, region_name).create_service(
        cluster_str=_name(props.get("Cluster", "default")),
        service_name=props.get("ServiceName") or resource_name,
        desired_count=int(props.get("DesiredCount", 0)),
        task_definition_str=task_definition if task_definition else None,
        load_balancers=_camel(props.get("LoadBalancers")),
        tags=_tags(props.get("Tags")),
        deployment_controller=_camel(props.get("DeploymentController")),
        launch_type=props.get("LaunchType"),
        platform_version=props.get("PlatformVersion"),
        propagate_tags=props.get("PropagateTags", "NONE"),
        network_configuration=_camel(props.get("NetworkConfiguration")),
        role_arn=props.get("Role"),
    )
    native_deployments.adopt(service, _camel(props.get("DeploymentConfiguration")))
    service._cfn_properties = copy.deepcopy(props)
    return service


def _service_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001
    return _create_service(resource_name, cloudformation_json["Properties"], account_id, region_name)


def _service_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # noqa: ANN001
    props = cloudformation_json["Properties"]
    old = getattr(original_resource, "_cfn_properties", {})
    if old == props:
        return original_resource
    backend = _backend(account_id, region_name)
    replacing = ("Cluster", "ServiceName", "DeploymentController", "LaunchType", "Role")
    if any(old.get(key) != props.get(key) for key in replacing):
        backend.delete_service(original_resource.cluster_name, original_resource.name, force=True)
        return _create_service(new_resource_name, props, account_id, region_name)
    if old.get("Tags") != props.get("Tags"):
        new_tags = {t["key"]: t["value"] for t in _tags(props.get("Tags"))}
        removed = [t["key"] for t in _tags(old.get("Tags")) if t["key"] not in new_tags]
        if removed:
            backend.untag_resource(original_resource.arn, removed)
        if new_tags:
            backend.tag_resource(original_resource.arn, new_tags)
    if old.get("DeploymentConfiguration") != props.get("DeploymentConfiguration"):
        original_resource.deployment_configuration = _camel(props.get("DeploymentConfiguration")) or {}
    if old.get("TaskDefinition") != props.get("TaskDefinition") and props.get("TaskDefinition"):
        if native_deployments.is_native(original_resource):
            native_deployments.refuse_if_deploying(original_resource)
            native_deployments.start(original_resource, props["TaskDefinition"])
        else:
            original_resource.task_definition = props["TaskDefinition"]
    if old.get("DesiredCount") != props.get("DesiredCount"):
        original_resource.desired_count = int(props.get("DesiredCount", 0))
    original_resource._cfn_properties = copy.deepcopy(props)
    return original_resource


def _service_delete(self, account_id: str, region_name: str) -> None:  # noqa: ANN001
    backend = _backend(account_id, region_name)
    for task_set in list(self.task_sets):
        backend.delete_task_set(self.cluster_name, self.name, task_set.task_set_arn)
    backend.delete_service(self.cluster_name, self.name, force=True)


ecs.Service.create_from_cloudformation_json = classmethod(_service_create)
ecs.Service.update_from_cloudformation_json = classmethod(_service_update)
ecs.Service.delete = _service_delete
