"""moto 5.2.5's CloudFormation has no AWS::Lambda::Url. Added: its FunctionUrl is
the function's URL on the local Lambda endpoint (/lambda-url/<function>/), or,
with ``AuthType: AWS_IAM``, on the emulator itself (/lambda-url-iam/<function>/),
where the launcher verifies each request's SigV4 signature first.
"""

from __future__ import annotations

import os
from typing import Any

from moto.core.common_models import CloudFormationModel

from .local_lambda import local_function_name


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
        properties = cloudformation_json["Properties"]
        arn = properties["TargetFunctionArn"]
        endpoint = os.environ.get("ECS_CANARY_LAMBDA_ENDPOINT", "").rstrip("/")
        name = local_function_name(arn)
        if not endpoint:
            url = f"https://{name}.lambda-url.{region_name}.on.aws/"
        elif properties.get("AuthType") == "AWS_IAM":
            url = f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '4566')}/lambda-url-iam/{name}/"
        else:
            url = f"{endpoint}/lambda-url/{name}/"
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
