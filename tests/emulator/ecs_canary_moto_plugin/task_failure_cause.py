"""moto 5.2.5's SendTaskFailure drops ``cause``: the waiting task fails with
the error alone, so a ``Catch`` sees no ``Cause`` and a Fail state reports
none. AWS keeps it. Fixed.
"""

from __future__ import annotations

import inspect
from typing import Any

from moto.stepfunctions import responses


def _send_task_failure(self: Any) -> Any:  # noqa: ANN401
    task_token = self._get_param("taskToken")
    error = self._get_param("error")
    cause = self._get_param("cause")
    backend = self.stepfunction_backend
    # The interpreter's backend takes a cause; the plain one (no execution) does not.
    if "cause" in inspect.signature(backend.send_task_failure).parameters:
        backend.send_task_failure(task_token, error=error, cause=cause)
    else:
        backend.send_task_failure(task_token, error=error)
    return responses.EmptyResult()


responses.StepFunctionResponse.send_task_failure = _send_task_failure
