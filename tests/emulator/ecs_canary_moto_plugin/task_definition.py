"""moto 5.2.5's CloudFormation AWS::ECS::TaskDefinition ignores Cpu, Memory,
NetworkMode, RequiresCompatibilities and roles, and on update registers a revision
with empty containers. Fixed: complete revisions; the old one kept with
UpdateReplacePolicy: Retain; an unchanged definition is not re-registered.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.ecs import models as ecs

from ._common import _backend, _camel, _tags


def _register_task_definition(props: dict[str, Any], account_id: str, region_name: str) -> Any:
    family = props.get("Family") or f"task-definition-{abs(hash(repr(props))) % 10**6}"
    task_definition = _backend(account_id, region_name).register_task_definition(
        family=family,
        container_definitions=_camel(props.get("ContainerDefinitions", [])),
        volumes=_camel(props.get("Volumes", [])),
        network_mode=props.get("NetworkMode"),
        tags=_tags(props.get("Tags")),
        placement_constraints=_camel(props.get("PlacementConstraints")),
        requires_compatibilities=props.get("RequiresCompatibilities"),
        cpu=None if props.get("Cpu") is None else str(props.get("Cpu")),
        memory=None if props.get("Memory") is None else str(props.get("Memory")),
        task_role_arn=props.get("TaskRoleArn"),
        execution_role_arn=props.get("ExecutionRoleArn"),
        runtime_platform=_camel(props.get("RuntimePlatform")),
        ephemeral_storage=_camel(props.get("EphemeralStorage")),
    )
    task_definition._cfn_properties = copy.deepcopy(props)
    return task_definition


def _task_definition_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001
    return _register_task_definition(cloudformation_json["Properties"], account_id, region_name)


def _task_definition_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # noqa: ANN001
    props = cloudformation_json["Properties"]
    if getattr(original_resource, "_cfn_properties", None) == props:
        return original_resource
    replacement = _register_task_definition(props, account_id, region_name)
    if cloudformation_json.get("UpdateReplacePolicy") != "Retain":
        _backend(account_id, region_name).deregister_task_definition(original_resource.arn)
    return replacement


ecs.TaskDefinition.create_from_cloudformation_json = classmethod(_task_definition_create)
ecs.TaskDefinition.update_from_cloudformation_json = classmethod(_task_definition_update)
