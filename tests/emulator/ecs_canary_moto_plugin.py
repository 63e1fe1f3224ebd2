"""CloudFormation support that moto 5.2.5 lacks for an ECS blue/green stack.

Imported by the launcher before the server starts. It:

* adds ``AWS::ECS::TaskSet`` and ``AWS::ECS::PrimaryTaskSet`` resources;
* makes ``AWS::ECS::Service`` honour ``DeploymentController``, ``Tags`` and a
  missing ``TaskDefinition``;
* makes ``AWS::ECS::TaskDefinition`` keep Cpu, Memory, NetworkMode,
  RequiresCompatibilities and roles, and register a complete new revision on
  update (keeping the old one with ``UpdateReplacePolicy: Retain``);
* ``AWS::StepFunctions::StateMachine``: ``DefinitionS3Location``, ``Definition``
  and ``DefinitionSubstitutions``;
* ``AWS::Lambda::Url``, whose ``FunctionUrl`` is the function's URL on the local
  Lambda endpoint (``cargo lambda watch`` serves ``/lambda-url/<function>/``);
* EventBridge rules deliver to Lambda targets (asynchronously, through the
  launcher's Lambda routing), as they do in AWS;
* drops ``AWS::NoValue`` from lists (``!If [c, x, !Ref AWS::NoValue]`` in a list);
* lets UpdateStack use ``UsePreviousValue`` for a parameter that took its
  default at creation (moto raised KeyError);
* re-evaluates resources whose ``Ref``/``Fn::GetAtt``/``Fn::Sub`` targets changed
  during a stack update, in dependency order, as CloudFormation does.

Resources compare their *resolved* properties on update, so a property that
changes from ``{"Ref": "MyTask"}`` to the same literal ARN changes nothing.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import threading
import urllib.parse
import urllib.request
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.core.utils import pascal_to_camelcase, remap_nested_keys
from moto.ecs import models as ecs
from moto.events import models as events_models
from moto.stepfunctions import models as sfn_models

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


# --------------------------------------------------------------------------
# AWS::ECS::TaskDefinition
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# AWS::ECS::Service
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# AWS::ECS::TaskSet
# --------------------------------------------------------------------------


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
            # CloudFormation creates the replacement first, then deletes the old one.
            replacement = cls._create(props, account_id, region_name)
            original_resource.delete(account_id, region_name)
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


# --------------------------------------------------------------------------
# AWS::ECS::PrimaryTaskSet
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Stack updates: re-evaluate dependents of changed resources, in order
# --------------------------------------------------------------------------

_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _references(node: Any) -> set[str]:
    """Logical ids a resource's JSON refers to by Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    found.update(_SUB_REFERENCE.findall(text))
                found |= _references(value)
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _updatable(resource_type: str) -> bool:
    model = parsing.get_model_map().get(resource_type)
    if model is None:
        return False
    return not hasattr(model.update_from_cloudformation_json, "__isabstractmethod__")


_original_build_resource_diff = parsing.ResourceMap.build_resource_diff


def _build_resource_diff(self, other_template, parameters=None):  # noqa: ANN001
    diff = _original_build_resource_diff(self, other_template, parameters)
    new = other_template.get("Resources", {})
    references = {name: _references(body) & set(new) for name, body in new.items()}
    changed = set(diff["Modify"]) | set(diff["Add"])
    grew = True
    while grew:
        grew = False
        for name, refs in references.items():
            if name in changed or name not in self._resource_json_map:
                continue
            if refs & changed and _updatable(new[name].get("Type", "")):
                changed.add(name)
                diff["Modify"].append(name)
                grew = True
    # Dependencies first, so that a Ref resolves to the updated resource.
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for dependency in sorted(references.get(name, ())):
            visit(dependency)
        order.append(name)

    for name in new:
        visit(name)
    diff["Modify"] = sorted(set(diff["Modify"]), key=order.index)
    return diff


parsing.ResourceMap.build_resource_diff = _build_resource_diff


# --------------------------------------------------------------------------
# UpdateStack: UsePreviousValue for parameters that took their default
# --------------------------------------------------------------------------

_original_resolve_update_parameters = cfn_models.CloudFormationBackend._resolve_update_parameters


def _resolve_update_parameters(self, instance, incoming_params):  # noqa: ANN001
    resolved = getattr(getattr(instance, "resource_map", None), "resolved_parameters", {})
    for parameter in incoming_params:
        key = parameter.get("ParameterKey")
        if parameter.get("UsePreviousValue") and key not in instance.parameters and key in resolved:
            value = resolved[key]
            instance.parameters[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return _original_resolve_update_parameters(self, instance, incoming_params)


cfn_models.CloudFormationBackend._resolve_update_parameters = _resolve_update_parameters

# --------------------------------------------------------------------------
# Local Lambda endpoint (set by the launcher)
# --------------------------------------------------------------------------


def local_function_name(name_or_arn: str) -> str:
    """`prefix-name`, an ARN, or `name:qualifier` -> the binary's name."""
    name = name_or_arn
    if name.startswith("arn:"):
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else parts[-1]
    name = name.split(":")[0]
    prefix = os.environ.get("ECS_CANARY_FUNCTION_PREFIX", "")
    if prefix and name.startswith(prefix):
        name = name[len(prefix):]
    return name


# --------------------------------------------------------------------------
# AWS::StepFunctions::StateMachine: S3 definitions and substitutions
# --------------------------------------------------------------------------


def _definition(properties: dict[str, Any], account_id: str) -> None:
    if "DefinitionS3Location" in properties:
        from moto.s3.models import s3_backends

        location = properties.pop("DefinitionS3Location")
        backend = s3_backends[account_id]["aws"]
        key = backend.get_object(location["Bucket"], location["Key"])
        properties["DefinitionString"] = key.value.decode("utf-8")
    if "Definition" in properties:
        properties["DefinitionString"] = json.dumps(properties.pop("Definition"))
    for name, value in (properties.pop("DefinitionSubstitutions", None) or {}).items():
        properties["DefinitionString"] = properties["DefinitionString"].replace("${" + name + "}", str(value))


def _sfn_backend(account_id: str, region_name: str) -> Any:
    # With execution switched on, the API serves the interpreter's backend:
    # state machines made by CloudFormation must live there too.
    from moto.stepfunctions.responses import get_backend

    return get_backend(account_id, region_name)


def _sm_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001
    properties = cloudformation_json["Properties"]
    _definition(properties, account_id)
    return _sfn_backend(account_id, region_name).create_state_machine(
        properties.get("StateMachineName", resource_name),
        properties.get("DefinitionString", ""),
        properties.get("RoleArn", ""),
        tags=sfn_models.cfn_to_api_tags(properties.get("Tags", [])),
    )


def _sm_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # noqa: ANN001
    properties = cloudformation_json.get("Properties", {})
    _definition(properties, account_id)
    return _sfn_backend(account_id, region_name).update_state_machine(
        original_resource.arn,
        definition=properties.get("DefinitionString"),
        role_arn=properties.get("RoleArn"),
    )


sfn_models.StateMachine.create_from_cloudformation_json = classmethod(_sm_create)
sfn_models.StateMachine.update_from_cloudformation_json = classmethod(_sm_update)


# --------------------------------------------------------------------------
# AWS::Lambda::Url
# --------------------------------------------------------------------------


class CfnFunctionUrl(CloudFormationModel):
    """A function URL; locally, the function's path on the Lambda endpoint."""

    __module__ = "ecs_canary_moto_plugin.awslambda"

    def __init__(self, function_arn: str, url: str):
        self.function_arn = function_arn
        self.url = url

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Url"

    @property
    def physical_resource_id(self) -> str:
        return self.function_arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("FunctionUrl", "FunctionArn")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "FunctionUrl":
            return self.url
        if attribute_name == "FunctionArn":
            return self.function_arn
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnFunctionUrl":
        arn = cloudformation_json["Properties"]["TargetFunctionArn"]
        endpoint = os.environ.get("ECS_CANARY_LAMBDA_ENDPOINT", "").rstrip("/")
        name = local_function_name(arn)
        url = f"{endpoint}/lambda-url/{name}/" if endpoint else f"https://{name}.lambda-url.{region_name}.on.aws/"
        return cls(arn, url)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "CfnFunctionUrl",
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> "CfnFunctionUrl":
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        return None


# --------------------------------------------------------------------------
# EventBridge → Lambda targets
# --------------------------------------------------------------------------


def _invoke_async(function_arn: str, event: dict[str, Any]) -> None:
    port = os.environ.get("MOTO_PORT", "5000")
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/{urllib.parse.quote(function_arn, safe='')}/invocations"
    request = urllib.request.Request(url, data=json.dumps(event, default=str).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Amz-Invocation-Type", "Event")
    try:
        urllib.request.urlopen(request, timeout=60).read()
    except Exception as error:  # noqa: BLE001  (asynchronous: nobody waits for it)
        logging.getLogger("ecs_canary").warning("EventBridge → %s failed: %s", function_arn, error)


_original_send_to_targets = events_models.Rule.send_to_targets


def _send_to_targets(self, original_event, transform_input=True):  # noqa: ANN001
    is_lambda = [t for t in self.targets if str(t.get("Arn", "")).startswith("arn:aws:lambda:")]
    if is_lambda and self.event_pattern.matches_event(original_event):
        for target in is_lambda:
            event = json.loads(target["Input"]) if target.get("Input") else dict(original_event)
            threading.Thread(target=_invoke_async, args=(target["Arn"], event), daemon=True).start()
    saved = self.targets
    self.targets = [t for t in saved if t not in is_lambda]
    try:
        return _original_send_to_targets(self, original_event, transform_input)
    finally:
        self.targets = saved


events_models.Rule.send_to_targets = _send_to_targets

# --------------------------------------------------------------------------
# AWS::NoValue in lists
# --------------------------------------------------------------------------

_original_clean_json = parsing.clean_json


def _clean_json(resource_json, resources_map):  # noqa: ANN001, ANN202
    cleaned = _original_clean_json(resource_json, resources_map)
    if isinstance(resource_json, list) and isinstance(cleaned, list):
        return [item for item in cleaned if item is not None]
    return cleaned


parsing.clean_json = _clean_json

# The model map is cached: rebuild it so that the new resource types are found.
parsing.get_model_list.cache_clear()
parsing.get_model_map.cache_clear()
parsing.get_name_type_map.cache_clear()
