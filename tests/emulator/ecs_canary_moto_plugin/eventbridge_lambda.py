"""moto 5.2.5's EventBridge does not deliver to Lambda targets. Fixed: events go
to the local Lambda endpoint, asynchronously, as AWS does — and, as Lambda
does with an asynchronous invocation that fails, it is retried twice (after 1
and 2 seconds here; about 1 and 2 minutes in AWS).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

from moto.events import models as events_models


RETRY_DELAYS = (1.0, 2.0)


def _invoke_once(function_arn: str, event: dict[str, Any]) -> bool:
    """One invocation; whether the function succeeded."""
    port = os.environ.get("MOTO_PORT", "5000")
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/{urllib.parse.quote(function_arn, safe='')}/invocations"
    request = urllib.request.Request(url, data=json.dumps(event, default=str).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Amz-Invocation-Type", "Event")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return not response.headers.get("X-Amz-Function-Error")
    except Exception as error:  # noqa: BLE001  (asynchronous: nobody waits for it)
        logging.getLogger("ecs_canary").warning("EventBridge → %s failed: %s", function_arn, error)
        return False


def invoke_async(function_arn: str, event: dict[str, Any]) -> None:
    if _invoke_once(function_arn, event):
        return
    for delay in RETRY_DELAYS:
        time.sleep(delay)
        if _invoke_once(function_arn, event):
            return
    logging.getLogger("ecs_canary").warning("EventBridge → %s: failed after %d retries", function_arn, len(RETRY_DELAYS))


_original_send_to_targets = events_models.Rule.send_to_targets


def _send_to_targets(self, original_event, transform_input=True):  # noqa: ANN001
    is_lambda = [t for t in self.targets if str(t.get("Arn", "")).startswith("arn:aws:lambda:")]
    if is_lambda and self.event_pattern.matches_event(original_event):
        for target in is_lambda:
            event = json.loads(target["Input"]) if target.get("Input") else dict(original_event)
            threading.Thread(target=invoke_async, args=(target["Arn"], event), daemon=True).start()
    saved = self.targets
    self.targets = [t for t in saved if t not in is_lambda]
    try:
        return _original_send_to_targets(self, original_event, transform_input)
    finally:
        self.targets = saved


events_models.Rule.send_to_targets = _send_to_targets
