"""moto 5.2.5's CloudWatch starts a new alarm in ``OK`` and tells nobody when
an alarm changes state. In AWS a new alarm starts in ``INSUFFICIENT_DATA``,
and every change of state is put on the default event bus as "CloudWatch
Alarm State Change" (source ``aws.cloudwatch``, the alarm's ARN in
``resources``, ``detail.state`` and ``detail.previousState``). Fixed, for
``SetAlarmState`` (moto never evaluates alarms itself).
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from moto.cloudwatch import models as cw_models

DETAIL_TYPE = "CloudWatch Alarm State Change"

_original_init = cw_models.Alarm.__init__
_original_update_state = cw_models.Alarm.update_state


def _init(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN001
    _original_init(self, *args, **kwargs)
    self.state_value = "INSUFFICIENT_DATA"
    self.state_reason = "Unchecked: Initial alarm creation"


def _state(value: str, reason: str, reason_data: str | None, at: datetime.datetime) -> dict[str, Any]:
    state = {"value": value, "reason": reason, "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}
    if reason_data:
        state["reasonData"] = reason_data
    return state


def _update_state(self, reason: str, reason_data: str, state_value: str) -> None:  # noqa: ANN001
    before = (self.state_value, self.state_reason, self.state_reason_data, self.state_updated_timestamp)
    _original_update_state(self, reason, reason_data, state_value)
    if before[0] == state_value:
        return
    _, _, _, region, account, *_ = self.alarm_arn.split(":")
    detail = {
        "alarmName": self.name,
        "state": _state(state_value, reason, reason_data, self.state_updated_timestamp),
        "previousState": _state(before[0], before[1], before[2], before[3]),
        "configuration": {
            "description": self.description or "",
            "metrics": [
                {"metricStat": {"metric": {"namespace": self.namespace, "name": self.metric_name}}}
            ] if self.metric_name else [],
        },
    }
    from moto.events.models import events_backends

    try:
        events_backends[account][region].put_events(
            [
                {
                    "Source": "aws.cloudwatch",
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(detail),
                    "Resources": [self.alarm_arn],
                }
            ]
        )
    except Exception as error:  # noqa: BLE001  (an event bus problem must not break SetAlarmState)
        logging.getLogger("ecs_canary").warning("state change of %s not emitted: %s", self.name, error)


cw_models.Alarm.__init__ = _init
cw_models.Alarm.update_state = _update_state
