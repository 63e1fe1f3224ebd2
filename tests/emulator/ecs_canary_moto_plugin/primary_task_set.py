"""moto 5.2.5's CloudFormation silently skips AWS::ECS::PrimaryTaskSet. Added.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.ecs import models as ecs

from ._common import _backend, _name


class CfnPrimaryTaskSet(CloudFormationModel):
    """Marks one task set of a service as PRIMARY."""

    __module__ = "ecs_canary_moto_plugin.ecs"

    def __init__(self, cluster: str, service: str, task_set_arn: str):
        self.cluster = cluster
        self.service = service
        self.task_set_arn = task_set_arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ECS::PrimaryTaskSet"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.cluster}|{self.service}|{self.task_set_arn}"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnPrimaryTaskSet":
        props = cloudformation_json["Properties"]
        backend = _backend(account_id, region_name)
        cluster, service = _name(props["Cluster"]), _name(props["Service"])
        # UpdateServicePrimaryTaskSet only acts on a full ARN: resolve an id to it.
        matches = backend.describe_task_sets(cluster, service, [props["TaskSetId"]])
        if not matches:
            raise ecs.TaskSetNotFoundException()
        arn = matches[0].task_set_arn
        backend.update_service_primary_task_set(cluster, service, arn)
        return cls(cluster, service, arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "CfnPrimaryTaskSet",
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> "CfnPrimaryTaskSet":
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        return None
