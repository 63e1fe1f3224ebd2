"""moto 5.2.5's update_stack compares resources as raw text, so a resource whose
Ref/GetAtt/Sub target changed is never updated. Fixed: dependents of changed
resources are re-evaluated, in dependency order.
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudformation import parsing


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
