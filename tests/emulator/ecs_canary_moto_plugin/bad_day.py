"""moto 5.2.5 completes every stack update at once and reports every task set
STEADY_STATE at once, so no waiting or polling code ever runs against it.
Added, on request at run time (the launcher's ``/_ecs-canary/bad-day``):

* ``stackUpdateSeconds``: a stack update stays ``UPDATE_IN_PROGRESS`` that long;
* ``failNextStackUpdate``: the next stack update changes nothing and ends
  ``UPDATE_ROLLBACK_COMPLETE`` with this reason (as a failed update does);
  ``{"stack name": "reason", …}``: the next update of each of those stacks;
* ``taskSetStabilizeSeconds``: a new task set stays ``STABILIZING`` that long;
* ``neverStabilize``: new task sets stay ``STABILIZING`` (a release that never
  becomes healthy); a list of service names: only those services' new task sets;
* ``ruleReadLagSeconds``: moto's listener rules read back what was written at
  once; with this, a rule reads back its previous actions for that long after
  a change (ELBv2's read-after-write lag).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.ecs import models as ecs
from moto.elbv2 import models as elbv2

DEFAULTS: dict[str, Any] = {
    "stackUpdateSeconds": 0.0,
    "failNextStackUpdate": None,
    "taskSetStabilizeSeconds": 0.0,
    "neverStabilize": False,
    "ruleReadLagSeconds": 0.0,
    "nativeStepSeconds": 0.0,
    "nativeMinuteSeconds": 60.0,
    "scheduleMinuteSeconds": 60.0,
}
_lock = threading.Lock()
_settings: dict[str, Any] = dict(DEFAULTS)


def configure(changes: dict[str, Any]) -> dict[str, Any]:
    """Merges `changes` into the settings; returns them."""
    with _lock:
        for key, value in changes.items():
            if key not in DEFAULTS:
                raise ValueError(f"unknown bad-day setting {key!r} (known: {sorted(DEFAULTS)})")
            if isinstance(value, dict) and isinstance(_settings.get(key), dict):
                # Per-stack failures add up: another caller's armed ones stay.
                _settings[key] = {**_settings[key], **value}
                continue
            _settings[key] = value
        return dict(_settings)


def reset() -> dict[str, Any]:
    with _lock:
        _settings.clear()
        _settings.update(DEFAULTS)
        return dict(_settings)


def settings() -> dict[str, Any]:
    with _lock:
        return dict(_settings)


def _take_failure(stack_name: str) -> str | None:
    with _lock:
        armed = _settings.get("failNextStackUpdate")
        if isinstance(armed, dict):
            reason = armed.pop(stack_name, None)
            if not armed:
                _settings["failNextStackUpdate"] = None
            return reason
        _settings["failNextStackUpdate"] = None
        return armed


def _never_stabilizes(service: str) -> bool:
    never = settings()["neverStabilize"]
    if isinstance(never, list):
        name = str(service).rsplit("/", 1)[-1]
        return name in never
    return bool(never)


# --- stacks ------------------------------------------------------------------


def _get_status(self: Any) -> str:
    if time.time() < self.__dict__.get("_busy_until", 0.0):
        return "UPDATE_IN_PROGRESS"
    return self.__dict__.get("_status", "")


def _set_status(self: Any, value: str) -> None:
    self.__dict__["_status"] = value


cfn_models.Stack.status = property(_get_status, _set_status)
_original_update = cfn_models.Stack.update


def _update(self: Any, template: str, role_arn: str | None = None, parameters: Any = None, tags: Any = None) -> None:
    reason = _take_failure(self.name)
    if reason is not None:
        self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        self._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
        self._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        self.status = "UPDATE_ROLLBACK_COMPLETE"
        self.stack_status_reason = reason
        return
    _original_update(self, template, role_arn=role_arn, parameters=parameters, tags=tags)
    self.stack_status_reason = None
    seconds = float(settings()["stackUpdateSeconds"] or 0)
    if seconds > 0:
        self.__dict__["_busy_until"] = time.time() + seconds


cfn_models.Stack.update = _update

# --- task sets ----------------------------------------------------------------


def _stability(self: Any) -> str:
    return "STEADY_STATE" if time.time() >= self.__dict__.get("_steady_after", 0.0) else "STABILIZING"


def _set_stability(self: Any, value: str) -> None:
    if value == "STEADY_STATE" and "_steady_after" not in self.__dict__:
        current = settings()
        never = _never_stabilizes(getattr(self, "service", ""))
        seconds = math.inf if never else float(current["taskSetStabilizeSeconds"] or 0)
        self.__dict__["_steady_after"] = time.time() + seconds


ecs.TaskSet.stabilityStatus = property(_stability, _set_stability)

# --- listener rules ----------------------------------------------------------


def _actions(self: Any) -> Any:
    lag = float(settings()["ruleReadLagSeconds"] or 0)
    changed_at = self.__dict__.get("_actions_changed_at")
    if lag > 0 and changed_at is not None and time.time() < changed_at + lag:
        return self.__dict__.get("_actions_before")
    return self.__dict__.get("_actions")


def _set_actions(self: Any, value: Any) -> None:
    if "_actions" in self.__dict__:
        self.__dict__["_actions_before"] = self.__dict__["_actions"]
        self.__dict__["_actions_changed_at"] = time.time()
    self.__dict__["_actions"] = value


for _rule_class in (elbv2.FakeRule, elbv2.FakeListenerRule):
    _rule_class.actions = property(_actions, _set_actions)
