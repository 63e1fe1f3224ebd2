"""moto 5.2.5's Step Functions interpreter: StopExecution did not stop an
execution waiting for a task token (it stayed RUNNING and its token still
worked), and no execution status change reached EventBridge. Fixed:

* StopExecution ends the execution at once: ``ABORTED`` with its stop date
  and the ``error`` and ``cause`` it was given (moto dropped them), every
  waiting task is released (its token no longer works, as in AWS), and no
  further state runs;
* every change of an execution's status (``RUNNING``, ``SUCCEEDED``,
  ``FAILED``, ``TIMED_OUT``, ``ABORTED``) is put on the account's default
  event bus as AWS does: source ``aws.states``, detail-type "Step Functions
  Execution Status Change", the execution in ``resources`` and ``detail``.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from typing import Any

from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackConsumerLeft
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.stepfunctions import responses
from moto.stepfunctions.parser.backend import execution as execution_module

DETAIL_TYPE = "Step Functions Execution Status Change"

_emitted_lock = threading.Lock()


def _millis(moment: datetime.datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def detail(execution: Any) -> dict[str, Any]:
    """The event's ``detail``, shaped as AWS sends it."""
    status = execution.exec_status.value if execution.exec_status else "RUNNING"
    output = None
    if status == "SUCCEEDED" and execution.output is not None:
        output = json.dumps(execution.output, separators=(",", ":"))
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": _millis(execution.stop_date),
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "output": output,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
    }


def emit(execution: Any) -> None:
    """Puts the execution's current status on the default bus, once per status."""
    status = execution.exec_status.value if execution.exec_status else "RUNNING"
    with _emitted_lock:
        emitted = getattr(execution, "_ecs_canary_emitted", set())
        if status in emitted:
            return
        emitted.add(status)
        execution._ecs_canary_emitted = emitted
    from moto.events.models import events_backends

    try:
        events_backends[execution.account_id][execution.region_name].put_events(
            [
                {
                    "Source": "aws.states",
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(detail(execution)),
                    "Resources": [execution.exec_arn],
                    "Time": datetime.datetime.now(tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ]
        )
    except Exception as error:  # noqa: BLE001  (an event bus problem must not break the execution)
        logging.getLogger("ecs_canary").warning("status change of %s not emitted: %s", execution.exec_arn, error)


_original_start = execution_module.Execution.start
_original_stop = execution_module.Execution.stop
_original_terminated = execution_module.BaseExecutionWorkerCommunication.terminated


def _start(self) -> None:  # noqa: ANN001
    # As moto's start, with RUNNING put on the bus before the execution can end.
    if self.exec_worker:
        _original_start(self)  # raises, as moto does
        return
    self.exec_worker = self._get_start_execution_worker()
    self.exec_status = ExecutionStatus.RUNNING
    emit(self)
    self.exec_worker.start()


def _stop(self, stop_date, error, cause) -> None:  # noqa: ANN001
    if self.exec_status != ExecutionStatus.RUNNING:
        return
    _original_stop(self, stop_date=stop_date, error=error or None, cause=cause or None)
    self.error = error or None
    self.cause = cause or None
    self.exec_status = ExecutionStatus.ABORTED
    self.stop_date = stop_date
    worker = self.exec_worker
    env = worker.env if worker else None
    if env is not None:
        # Release every task waiting for a token: the token no longer works.
        for endpoint in list(env.callback_pool_manager._pool.values()):
            endpoint.report(CallbackConsumerLeft())
            endpoint.interrupt_all()
    emit(self)


def _terminated(self) -> None:  # noqa: ANN001
    if self.execution.exec_status == ExecutionStatus.ABORTED:
        # Stopped: the status and the event were set by StopExecution.
        return
    _original_terminated(self)
    emit(self.execution)


def _stop_execution(self: Any) -> ActionResult:  # noqa: ANN401
    # As moto's, with the request's error and cause passed on.
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    execution.stop(stop_date=utcnow(), error=self._get_param("error") or "", cause=self._get_param("cause") or "")
    return ActionResult({"stopDate": execution.stop_date})


responses.StepFunctionResponse.stop_execution = _stop_execution
execution_module.Execution.start = _start
execution_module.Execution.stop = _stop
execution_module.BaseExecutionWorkerCommunication.terminated = _terminated
