"""moto 5.2.5's CloudFormation AWS::StepFunctions::StateMachine ignores
DefinitionS3Location, Definition and DefinitionSubstitutions. Fixed.
"""

from __future__ import annotations

import json
from typing import Any

from moto.stepfunctions import models as sfn_models


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
