"""moto 5.2.5 keeps an EventBridge rule's ``ScheduleExpression`` but never
fires it, and the empty event pattern of a scheduled rule matches every event
put on the bus. In AWS ("Creating a rule that runs on a schedule in Amazon
EventBridge") a ``rate(N minutes)`` rule invokes its targets every N minutes
with a "Scheduled Event" (source ``aws.events``, the rule's ARN in
``resources``, ``detail`` empty) and matches no events. Fixed for rate
expressions, delivered to Lambda targets as the other rules' events are; how
long a minute lasts is the bad-day setting ``scheduleMinuteSeconds`` (60;
tests make it short, or long to stop the clock). ``fire_now`` (the
launcher's ``POST /_ecs-canary/schedules``) runs every enabled scheduled rule
once at once and returns when its targets have answered: a test counts the
scheduled runs it gives.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import threading
import time
import uuid
from typing import Any, Iterator

from moto.events import models as events_models

from . import bad_day
from .eventbridge_lambda import invoke_async

RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
MINUTES = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}

_original_send_to_targets = events_models.Rule.send_to_targets


def _send_to_targets(self, original_event, transform_input=True):  # noqa: ANN001
    """A scheduled rule without an event pattern matches no events."""
    if self.scheduled_expression and not self.event_pattern._pattern:  # noqa: SLF001
        return None
    return _original_send_to_targets(self, original_event, transform_input)


events_models.Rule.send_to_targets = _send_to_targets


def _scheduled_rules() -> Iterator[Any]:
    for account in list(events_models.events_backends.keys()):
        for region, backend in list(events_models.events_backends[account].items()):
            bus = backend.event_buses.get("default")
            if bus is not None:
                yield from list(bus.rules.values())


def _event(rule: Any) -> dict[str, Any]:
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": rule.account_id, "region": rule.region_name, "resources": [rule.arn], "detail": {},
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _lambda_targets(rule: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    event = _event(rule)
    for target in rule.targets:
        if str(target.get("Arn", "")).startswith("arn:aws:lambda:"):
            yield target["Arn"], json.loads(target["Input"]) if target.get("Input") else event


def fire(rule: Any) -> None:
    """Invokes `rule`'s Lambda targets with a Scheduled Event, as its schedule does."""
    for arn, payload in _lambda_targets(rule):
        threading.Thread(target=invoke_async, args=(arn, payload), daemon=True).start()


def fire_now() -> list[str]:
    """Runs every enabled rate rule once, now, and waits for its targets to
    answer; the ARNs of the rules it ran."""
    ran = []
    for rule in _scheduled_rules():
        if RATE.match(rule.scheduled_expression or "") is None or rule.state != "ENABLED":
            continue
        for arn, payload in _lambda_targets(rule):
            invoke_async(arn, payload)
        ran.append(rule.arn)
    return ran


# rule ARN → (when it fires next, its period in seconds)
_due: dict[str, tuple[float, float]] = {}


def tick(now: float) -> None:
    """Fires every enabled rate rule that is due at `now` (the first time one
    period after it was first seen; a change of period starts it anew)."""
    minute = float(bad_day.settings().get("scheduleMinuteSeconds") or 60.0)
    seen = set()
    for rule in _scheduled_rules():
        match = RATE.match(rule.scheduled_expression or "")
        if match is None or rule.state != "ENABLED":
            continue
        period = int(match.group(1)) * MINUTES[match.group(2)] * minute
        seen.add(rule.arn)
        due, known = _due.get(rule.arn, (now + period, period))
        if known != period:
            due = now + period
        if now >= due:
            fire(rule)
            due = now + period
        _due[rule.arn] = (due, period)
    for arn in set(_due) - seen:
        del _due[arn]


def _clock() -> None:
    while True:
        time.sleep(0.1)
        try:
            tick(time.time())
        except Exception:  # noqa: BLE001  (the clock must keep running)
            logging.getLogger("ecs_canary").exception("the schedule clock failed a tick")


# The process whose clock runs: the emulator forks from a zygote that must
# start no thread, so the clock starts with the first scheduled rule.
_clock_pid: int | None = None
_clock_lock = threading.Lock()


def _ensure_clock() -> None:
    global _clock_pid
    with _clock_lock:
        if _clock_pid != os.getpid():
            _clock_pid = os.getpid()
            threading.Thread(target=_clock, name="eventbridge-schedules", daemon=True).start()


_original_put_rule = events_models.EventsBackend.put_rule


def _put_rule(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
    rule = _original_put_rule(self, *args, **kwargs)
    if rule.scheduled_expression:
        _ensure_clock()
    return rule


events_models.EventsBackend.put_rule = _put_rule
