"""Where the launcher sends Lambda invocations (cargo lambda watch), and the
function name it serves for a deployed name or ARN.
"""

from __future__ import annotations

import os


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
