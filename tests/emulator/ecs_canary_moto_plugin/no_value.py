"""moto 5.2.5 keeps AWS::NoValue as null inside lists (!If [c, x, !Ref
AWS::NoValue]). Fixed: dropped, as CloudFormation does.
"""

from __future__ import annotations


from moto.cloudformation import parsing


_original_clean_json = parsing.clean_json


def _clean_json(resource_json, resources_map):  # noqa: ANN001, ANN202
    cleaned = _original_clean_json(resource_json, resources_map)
    if isinstance(resource_json, list) and isinstance(cleaned, list):
        return [item for item in cleaned if item is not None]
    return cleaned


parsing.clean_json = _clean_json
