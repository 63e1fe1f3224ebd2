"""moto 5.2.5's UpdateStack raises KeyError for UsePreviousValue on a parameter
that took its default at creation. Fixed.
"""

from __future__ import annotations


from moto.cloudformation import models as cfn_models


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
