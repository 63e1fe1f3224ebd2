"""Helpers shared by the patches."""

from __future__ import annotations

import copy
from typing import Any

from moto.core.utils import pascal_to_camelcase, remap_nested_keys
from moto.ecs import models as ecs

# Task-set properties whose change makes CloudFormation replace the task set.
_TASK_SET_REPLACING = (
    "Cluster",
    "Service",
    "TaskDefinition",
    "ExternalId",
    "LaunchType",
    "LoadBalancers",
    "NetworkConfiguration",
    "PlatformVersion",
    "ServiceRegistries",
    "CapacityProviderStrategy",
)


def _key(name: str) -> str:
    # CloudFormation spells it AwsVpcConfiguration, the ECS API awsvpcConfiguration.
    if name.lower() == "awsvpcconfiguration":
        return "awsvpcConfiguration"
    return pascal_to_camelcase(name)


def _camel(value: Any) -> Any:
    return remap_nested_keys(copy.deepcopy(value), _key)


def _tags(value: Any) -> list[dict[str, str]]:
    return [{"key": t["Key"], "value": str(t["Value"])} for t in (value or [])]


def _name(value: str) -> str:
    """Short name from a name or an ARN (cluster/name, service/cluster/name)."""
    return str(value).split("/")[-1]


def _backend(account_id: str, region_name: str) -> ecs.EC2ContainerServiceBackend:
    return ecs.ecs_backends[account_id][region_name]
