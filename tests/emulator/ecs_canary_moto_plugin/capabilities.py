"""moto 5.2.5 ignores capabilities. CloudFormation refuses to create or update
a stack whose template holds IAM resources (``CAPABILITY_IAM``; with a name
of their own, ``CAPABILITY_NAMED_IAM``) or a transform
(``CAPABILITY_AUTO_EXPAND``) unless the request acknowledges it
(``InsufficientCapabilitiesException``), and GetTemplateSummary says which a
template needs. Both done here, so that a client that acknowledges only what
a template needs is held to it.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.utils import yaml_tag_constructor

# The properties that give an IAM resource a name of its own.
IAM_NAMES = ("RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName")


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"


def _template(body: str | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        yaml.add_multi_constructor("", yaml_tag_constructor)
        parsed = yaml.load(body, Loader=yaml.Loader)
    return parsed if isinstance(parsed, dict) else {}


def required_capabilities(body: str | None) -> list[str]:
    """What a template needs acknowledged, as CloudFormation reports it."""
    template = _template(body)
    iam = [
        resource
        for resource in (template.get("Resources") or {}).values()
        if isinstance(resource, dict) and str(resource.get("Type", "")).startswith("AWS::IAM::")
    ]
    needed = []
    if any(any(name in (r.get("Properties") or {}) for name in IAM_NAMES) for r in iam):
        needed.append("CAPABILITY_NAMED_IAM")
    elif iam:
        needed.append("CAPABILITY_IAM")
    if "Transform" in template:
        needed.append("CAPABILITY_AUTO_EXPAND")
    return needed


def _check(self, body: str | None) -> None:  # noqa: ANN001
    given = set(self._get_param("Capabilities", []) or [])
    # NAMED_IAM covers IAM, as in CloudFormation.
    if "CAPABILITY_NAMED_IAM" in given:
        given.add("CAPABILITY_IAM")
    missing = [c for c in required_capabilities(body) if c not in given]
    if missing:
        raise InsufficientCapabilities(f"Requires capabilities : [{', '.join(missing)}]")


_original_create_stack = cfn_responses.CloudFormationResponse.create_stack
_original_update_stack = cfn_responses.CloudFormationResponse.update_stack
_original_summary = cfn_responses.get_template_summary_response_from_template


def _create_stack(self):  # noqa: ANN001, ANN202
    _check(self, self._get_param("TemplateBody"))
    return _original_create_stack(self)


def _update_stack(self):  # noqa: ANN001, ANN202
    body = self._get_param("TemplateBody")
    if self._get_bool_param("UsePreviousTemplate", False):
        body = self.cloudformation_backend.get_stack(self._get_param("StackName")).template
    _check(self, body)
    return _original_update_stack(self)


def _summary(template_body: str) -> dict[str, Any]:
    summary = _original_summary(template_body)
    needed = required_capabilities(template_body)
    if needed:
        summary["Capabilities"] = needed
        summary["CapabilitiesReason"] = "The following resource(s) require capabilities: " + ", ".join(needed)
    return summary


cfn_responses.CloudFormationResponse.create_stack = _create_stack
cfn_responses.CloudFormationResponse.update_stack = _update_stack
cfn_responses.get_template_summary_response_from_template = _summary
