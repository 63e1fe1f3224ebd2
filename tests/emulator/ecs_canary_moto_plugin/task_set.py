"""moto 5.2.5's CloudFormation silently skips AWS::ECS::TaskSet (Fn::GetAtt
TaskSet.Id then answers HTTP 500). Added: create, update (replace when a
replacing property changes, Scale in place) and delete.

A replaced task set is deleted once the stack's update has set its outputs,
as CloudFormation deletes replaced resources in its clean-up, after the
update: a reader never finds an output naming a task set already deleted
(moto updates a stack in one request thread while others read).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.core.common_models import CloudFormationModel
from moto.ecs import models as ecs

from ._common import _TASK_SET_REPLACING, _backend, _camel, _name, _tags


class CfnTaskSet(CloudFormationModel):
    """A task set created through CloudFormation."""

    # moto files models by the second part of the module name: list these under ECS.
    __module__ = "ecs_canary_moto_plugin.ecs"

    def __init__(self, task_set: Any, properties: dict[str, Any]):
        self.task_set = task_set
        self.properties = copy.deepcopy(properties)

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ECS::TaskSet"

    @property
    def physical_resource_id(self) -> str:
        return self.task_set.task_set_arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Id":
            return self.task_set.id
        raise UnformattedGetAttTemplateException()

    @classmethod
    def _create(cls, props: dict[str, Any], account_id: str, region_name: str) -> "CfnTaskSet":
        scale = props.get("Scale")
        if scale is not None:
            scale = {"unit": scale.get("Unit", "PERCENT"), "value": float(scale.get("Value", 100))}
        task_set = _backend(account_id, region_name).create_task_set(
            service=_name(props["Service"]),
            cluster_str=_name(props["Cluster"]),
            task_definition=props["TaskDefinition"],
            external_id=props.get("ExternalId"),
            network_configuration=_camel(props.get("NetworkConfiguration")),
            load_balancers=_camel(props.get("LoadBalancers")),
            service_registries=_camel(props.get("ServiceRegistries")),
            launch_type=props.get("LaunchType"),
            capacity_provider_strategy=_camel(props.get("CapacityProviderStrategy")),
            platform_version=props.get("PlatformVersion"),
            scale=scale,
            tags=_tags(props.get("Tags")),
        )
        return cls(task_set, props)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnTaskSet":
        return cls._create(cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "CfnTaskSet",
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> "CfnTaskSet":
        props = cloudformation_json["Properties"]
        old = original_resource.properties
        if any(old.get(key) != props.get(key) for key in _TASK_SET_REPLACING):
            # CloudFormation creates the replacement first, and deletes the
            # old one in the clean-up, once the update has set the outputs.
            replacement = cls._create(props, account_id, region_name)
            _replaced(original_resource, account_id, region_name)
            return replacement
        if old.get("Scale") != props.get("Scale"):
            scale = props.get("Scale") or {}
            original_resource.task_set.scale = {
                "unit": scale.get("Unit", "PERCENT"),
                "value": float(scale.get("Value", 100)),
            }
        original_resource.properties = copy.deepcopy(props)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        try:
            backend.delete_task_set(
                self.task_set.cluster_arn or self.task_set.cluster,
                self.task_set.service_arn or self.task_set.service,
                self.task_set.task_set_arn,
            )
        except (ecs.TaskSetNotFoundException, KeyError):
            pass


# Task sets replaced during the stack update running in this thread.
_cleanup = threading.local()


def _replaced(resource: CfnTaskSet, account_id: str, region_name: str) -> None:
    pending = getattr(_cleanup, "pending", None)
    if pending is None:
        # Not inside a stack update: nothing to wait for.
        resource.delete(account_id, region_name)
        return
    pending.append((resource, account_id, region_name))


_original_update = cfn_models.Stack.update


def _update(self: Any, *args: Any, **kwargs: Any) -> Any:
    outer = getattr(_cleanup, "pending", None)
    _cleanup.pending = [] if outer is None else outer
    try:
        return _original_update(self, *args, **kwargs)
    finally:
        if outer is None:
            pending, _cleanup.pending = _cleanup.pending, None
            for resource, account_id, region_name in pending:
                resource.delete(account_id, region_name)


cfn_models.Stack.update = _update
