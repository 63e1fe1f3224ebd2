"""moto 5.2.5 has none of ECS's own rollouts: it accepts a service's
``deploymentConfiguration`` (``strategy``, ``linearConfiguration``,
``canaryConfiguration``, ``lifecycleHooks``) and drops it, and
ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions,
ContinueServiceDeployment and StopServiceDeployment raise NotImplementedError.
Modelled here, after the AWS documentation:

* Amazon ECS Developer Guide, "Amazon ECS linear deployments" and "canary
  deployments": an UpdateService that changes the task definition of a service
  with ``deploymentController`` ``ECS`` and strategy ``LINEAR``, ``CANARY`` (or
  ``BLUE_GREEN``, below)
  starts a *service deployment* from the current *service revision* (source) to
  a new one (target); production traffic moves to the target in steps of
  ``stepPercent`` (linear) or ``canaryPercent`` then the rest (canary) on the
  load balancer's ``productionListenerRule``, between the service's target
  group and its ``alternateTargetGroupArn``; each step bakes
  ``stepBakeTimeInMinutes`` / ``canaryBakeTimeInMinutes``, the whole
  ``bakeTimeInMinutes`` after the last, then the deployment is SUCCESSFUL.
* "Amazon ECS blue/green deployments": strategy ``BLUE_GREEN`` moves all
  production traffic to the target at once (one shift, one
  ``PRE_PRODUCTION_TRAFFIC_SHIFT`` stage), then bakes ``bakeTimeInMinutes``.
* "Pause hooks for Amazon ECS service deployments": a ``PAUSE`` hook at
  ``PRE_PRODUCTION_TRAFFIC_SHIFT`` (which runs before every linear and canary
  step) gets a new ``hookId``, shows ``AWAITING_ACTION`` with ``expiresAt`` and
  ``timeoutAction`` in DescribeServiceDeployments' ``lifecycleHookDetails``,
  and puts an ``ECS Hook State Change`` event (``HOOK_AWAITING_ACTION``) on the
  default bus; the deployment waits for ContinueServiceDeployment
  (``CONTINUE``: the step goes ahead; ``ROLLBACK``: traffic back on the source)
  or for ``expiresAt`` (then the ``timeoutAction``, the hook ``TIMED_OUT``). A
  hook that is not awaiting action refuses ContinueServiceDeployment.
* API reference, StopServiceDeployment: ``ROLLBACK`` (the default) puts traffic
  back on the source and ends ``ROLLBACK_SUCCESSFUL``; ``ABORT`` ends
  ``STOPPED`` where it stands.
* "Amazon ECS service deployment state change events": ``ECS Deployment State
  Change`` with ``SERVICE_DEPLOYMENT_IN_PROGRESS`` / ``_COMPLETED`` /
  ``_FAILED``.

Set at run time through the launcher's ``/_ecs-canary/bad-day`` (the
``bad_day`` module's settings): ``nativeMinuteSeconds``, how long an ECS minute
lasts (60; tests make bake times and hook timeouts short), and, on a bad day,
``nativeStepSeconds``, how much slower every traffic step is (read again while
a step waits: setting it lower lets a held step go on; a stop still ends it).
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
import uuid
from typing import Any

from moto.ecs import models as ecs
from moto.ecs import responses as ecs_responses
from moto.ecs.exceptions import ECSException, InvalidParameterException, ServiceNotFoundException

from . import bad_day

log = logging.getLogger("ecs_canary")

HOOK_DETAIL_TYPE = "ECS Hook State Change"
DEPLOYMENT_DETAIL_TYPE = "ECS Deployment State Change"
ENDED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")


def minute() -> float:
    """How long an ECS minute lasts here."""
    return float(bad_day.settings().get("nativeMinuteSeconds") or 60.0)


def _now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.timezone.utc)


class ServiceDeploymentNotFound(ECSException):
    def __init__(self, message: str) -> None:
        super().__init__("ServiceDeploymentNotFoundException", message)


def _put_event(service: Any, detail_type: str, detail: dict[str, Any]) -> None:
    from moto.events.models import events_backends

    try:
        events_backends[service._account_id][service.region_name].put_events([{
            "Source": "aws.ecs",
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str),
            "Resources": [service.arn],
            "Time": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }])
    except Exception as error:  # noqa: BLE001  (an event bus problem must not break the deployment)
        log.warning("%s of %s not emitted: %s", detail_type, service.arn, error)


def _elbv2(service: Any) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[service._account_id][service.region_name]


def _rule_weights(service: Any, rule_arn: str) -> dict[str, int]:
    rule = _elbv2(service).describe_rules(listener_arn=None, rule_arns=[rule_arn])[0]
    for action in rule.actions or []:
        data = action.data if hasattr(action, "data") else action
        if data.get("Type") == "forward" and data.get("ForwardConfig"):
            return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in data["ForwardConfig"]["TargetGroups"]}
    return {}


def _set_rule_weights(service: Any, rule_arn: str, weights: dict[str, int]) -> None:
    groups = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()]
    _elbv2(service).modify_rule(rule_arn, [], [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}])


class Revision:
    def __init__(self, service: Any, task_definition: str | None) -> None:
        self.arn = (f"arn:aws:ecs:{service.region_name}:{service._account_id}:service-revision/"
                    f"{service.cluster_name}/{service.name}/{uuid.uuid4().int % 10**19}")
        self.service_arn = service.arn
        self.cluster_arn = service.cluster_arn
        self.task_definition = task_definition
        self.load_balancers = json.loads(json.dumps(service.load_balancers or []))
        self.created_at = _now()
        self.images: list[dict[str, str]] = []
        if task_definition:
            try:
                definition = service._backend.describe_task_definition(task_definition)
                self.images = [{"containerName": c.get("name"), "image": c.get("image")}
                               for c in definition.container_definitions]
            except Exception:  # noqa: BLE001
                self.images = []

    def describe(self) -> dict[str, Any]:
        return {
            "serviceRevisionArn": self.arn, "serviceArn": self.service_arn, "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition, "loadBalancers": self.load_balancers,
            "containerImages": self.images, "createdAt": self.created_at, "launchType": "FARGATE",
        }


class Deployment:
    """One service deployment, driven by a thread of its own."""

    def __init__(self, service: Any, source: Revision | None, target: Revision, configuration: dict[str, Any]) -> None:
        self.service = service
        self.arn = (f"arn:aws:ecs:{service.region_name}:{service._account_id}:service-deployment/"
                    f"{service.cluster_name}/{service.name}/{uuid.uuid4().hex[:22]}")
        self.source, self.target = source, target
        self.configuration = json.loads(json.dumps(configuration))
        self.status = "PENDING"
        self.status_reason = ""
        self.stage = "RECONCILE_SERVICE"
        self.created_at = self.started_at = _now()
        self.updated_at = self.created_at
        self.finished_at: datetime.datetime | None = None
        self.hooks: list[dict[str, Any]] = []
        self.target_weight = 0
        self._cond = threading.Condition()
        self._answer: tuple[str, str] | None = None  # (hook id or "stop", action)

    # --- what DescribeServiceDeployments shows --------------------------------

    def describe(self) -> dict[str, Any]:
        with self._cond:
            source_weight = 100 - self.target_weight
            shown = {
                "serviceDeploymentArn": self.arn, "serviceArn": self.service.arn,
                "clusterArn": self.service.cluster_arn, "createdAt": self.created_at,
                "startedAt": self.started_at, "updatedAt": self.updated_at,
                "status": self.status, "statusReason": self.status_reason,
                "lifecycleStage": self.stage, "deploymentConfiguration": self.configuration,
                "targetServiceRevision": {"arn": self.target.arn, "requestedTaskCount": self.service.desired_count,
                                          "runningTaskCount": self.service.desired_count, "pendingTaskCount": 0,
                                          "requestedProductionTrafficWeight": float(self.target_weight)},
                "sourceServiceRevisions": [] if self.source is None else [
                    {"arn": self.source.arn, "requestedTaskCount": self.service.desired_count,
                     "runningTaskCount": self.service.desired_count, "pendingTaskCount": 0,
                     "requestedProductionTrafficWeight": float(source_weight)}],
                "lifecycleHookDetails": [dict(h) for h in self.hooks if h["status"] == "AWAITING_ACTION"],
            }
            if self.finished_at:
                shown["finishedAt"] = self.finished_at
            return shown

    def brief(self) -> dict[str, Any]:
        return {"serviceDeploymentArn": self.arn, "serviceArn": self.service.arn,
                "clusterArn": self.service.cluster_arn, "createdAt": self.created_at,
                "startedAt": self.started_at, "targetServiceRevisionArn": self.target.arn,
                "status": self.status, "statusReason": self.status_reason}

    # --- the rollout --------------------------------------------------------

    def _plan(self) -> list[int]:
        strategy = self.configuration.get("strategy")
        if strategy == "BLUE_GREEN":
            return [100]
        if strategy == "LINEAR":
            step = float((self.configuration.get("linearConfiguration") or {}).get("stepPercent", 10.0))
            weights, weight = [], 0.0
            while weight < 100:
                weight = min(100.0, weight + step)
                weights.append(int(round(weight)))
            return weights
        canary = float((self.configuration.get("canaryConfiguration") or {}).get("canaryPercent", 5.0))
        return [int(round(canary)), 100]

    def _step_bake_minutes(self) -> float:
        strategy = self.configuration.get("strategy")
        if strategy == "BLUE_GREEN":
            return 0.0
        if strategy == "LINEAR":
            return float((self.configuration.get("linearConfiguration") or {}).get("stepBakeTimeInMinutes", 0))
        return float((self.configuration.get("canaryConfiguration") or {}).get("canaryBakeTimeInMinutes", 0))

    def _pause_hooks(self) -> list[dict[str, Any]]:
        return [h for h in self.configuration.get("lifecycleHooks") or []
                if h.get("targetType") == "PAUSE" and "PRE_PRODUCTION_TRAFFIC_SHIFT" in (h.get("lifecycleStages") or [])]

    def _set_status(self, status: str, reason: str) -> None:
        with self._cond:
            self.status, self.status_reason, self.updated_at = status, reason, _now()
            if status in ENDED:
                self.finished_at = self.updated_at

    def _event(self, name: str, reason: str) -> None:
        _put_event(self.service, DEPLOYMENT_DETAIL_TYPE, {
            "eventType": "ERROR" if name.endswith("FAILED") else "INFO", "eventName": name,
            "deploymentId": self.arn.rsplit("/", 1)[-1], "serviceDeploymentArn": self.arn,
            "updatedAt": _now().isoformat(), "reason": reason})

    def _weights(self, target_weight: int) -> None:
        production = self._production()
        if production is not None:
            rule, source_group, target_group = production
            _set_rule_weights(self.service, rule, {source_group: 100 - target_weight, target_group: target_weight})
        with self._cond:
            self.target_weight = target_weight
            self.updated_at = _now()

    def _production(self) -> tuple[str, str, str] | None:
        """The production rule, the source's target group and the target's,
        as they stood when the deployment began."""
        if not hasattr(self, "_routes"):
            self._routes = self._find_production()
        return self._routes

    def _find_production(self) -> tuple[str, str, str] | None:
        for balancer in self.target.load_balancers:
            advanced = balancer.get("advancedConfiguration") or {}
            rule = advanced.get("productionListenerRule")
            if not rule or not advanced.get("alternateTargetGroupArn"):
                continue
            primary, alternate = balancer["targetGroupArn"], advanced["alternateTargetGroupArn"]
            weights = _rule_weights(self.service, rule)
            # The source serves production now: the target goes to the other group.
            if weights.get(primary, 0) >= weights.get(alternate, 0):
                return rule, primary, alternate
            return rule, alternate, primary
        return None

    def _wait(self, hook: dict[str, Any], expires: float) -> str:
        """The action for `hook`: a ContinueServiceDeployment's, a stop
        (``STOP_…``), or its timeout action (``TIMEOUT_…``)."""
        with self._cond:
            while True:
                if self._answer is not None and self._answer[0] in (hook["hookId"], "stop"):
                    answered, self._answer = self._answer, None
                    if answered[0] == "stop":
                        hook["status"] = "FAILED"
                        return "STOP_" + answered[1]
                    return answered[1]
                left = expires - time.time()
                if left <= 0:
                    hook["status"] = "TIMED_OUT"
                    return "TIMEOUT_" + hook["timeoutAction"]
                self._cond.wait(timeout=min(left, 0.5))

    def _slow_step(self) -> str | None:
        """A bad day's slow traffic step: `nativeStepSeconds` before the shift,
        or a stop that comes first."""
        began = time.time()
        while time.time() - began < float(bad_day.settings().get("nativeStepSeconds") or 0):
            if (stop := self._stopped()) is not None:
                return stop
            time.sleep(0.05)
        return None

    def _stopped(self) -> str | None:
        with self._cond:
            if self._answer is not None and self._answer[0] == "stop":
                answered, self._answer = self._answer, None
                return "STOP_" + answered[1]
            return None

    def run(self) -> None:
        try:
            self._run()
        except Exception as error:  # noqa: BLE001
            log.exception("service deployment %s failed", self.arn)
            self._set_status("ROLLBACK_FAILED", f"the emulator failed: {error}")
            self._event("SERVICE_DEPLOYMENT_FAILED", self.status_reason)

    def _run(self) -> None:
        self._production()  # which target group the source serves, before anything moves
        self._set_status("IN_PROGRESS", "ECS deployment in progress.")
        self._event("SERVICE_DEPLOYMENT_IN_PROGRESS", "ECS deployment in progress.")
        for number, weight in enumerate(self._plan(), start=1):
            for hook_configuration in self._pause_hooks():
                timeout = hook_configuration.get("timeoutConfiguration") or {}
                expires = time.time() + float(timeout.get("timeoutInMinutes", 60)) * minute()
                hook = {"hookId": f"ecs-pause-{uuid.uuid4().hex}", "targetType": "PAUSE", "status": "AWAITING_ACTION",
                        "expiresAt": datetime.datetime.fromtimestamp(expires, tz=datetime.timezone.utc),
                        "timeoutAction": timeout.get("action", "ROLLBACK")}
                with self._cond:
                    self.stage = "POST_TEST_TRAFFIC_SHIFT" if number == 1 else "PRODUCTION_TRAFFIC_SHIFT"
                    self.hooks.append(hook)
                    self.updated_at = _now()
                _put_event(self.service, HOOK_DETAIL_TYPE, {
                    "eventType": "INFO", "eventName": "HOOK_AWAITING_ACTION",
                    "clusterArn": self.service.cluster_arn, "serviceArn": self.service.arn,
                    "serviceDeploymentArn": self.arn, "hookId": hook["hookId"], "targetType": "PAUSE",
                    "lifecycleStage": "PRE_PRODUCTION_TRAFFIC_SHIFT", "expiresAt": hook["expiresAt"].isoformat(),
                    "updatedAt": _now().isoformat()})
                action = self._wait(hook, expires)
                if action.removeprefix("TIMEOUT_") != "CONTINUE":
                    return self._end(action)
            with self._cond:
                self.stage = "PRODUCTION_TRAFFIC_SHIFT"
            if (stop := self._slow_step()) is not None:
                return self._end(stop)
            self._weights(weight)
            bake_until = time.time() + self._step_bake_minutes() * minute()
            while time.time() < bake_until:
                if (stop := self._stopped()) is not None:
                    return self._end(stop)
                time.sleep(min(0.1, max(0.0, bake_until - time.time())))
        with self._cond:
            self.stage = "BAKE_TIME"
        bake_until = time.time() + float(self.configuration.get("bakeTimeInMinutes", 0)) * minute()
        while time.time() < bake_until:
            if (stop := self._stopped()) is not None:
                return self._end(stop)
            time.sleep(min(0.1, max(0.0, bake_until - time.time())))
        self.service.task_definition = self.target.task_definition
        self.service._native_current = self.target
        with self._cond:
            self.stage = "CLEAN_UP"
        self._set_status("SUCCESSFUL", "ECS deployment completed.")
        self._event("SERVICE_DEPLOYMENT_COMPLETED", "ECS deployment completed.")
        return None

    def _end(self, action: str) -> None:
        if action == "STOP_ABORT":
            self._set_status("STOPPED", "Service deployment stopped (ABORT).")
            self._event("SERVICE_DEPLOYMENT_FAILED", self.status_reason)
            return
        self._set_status("ROLLBACK_IN_PROGRESS", f"Rolling back ({action.removeprefix('STOP_').lower()}).")
        self._event("SERVICE_DEPLOYMENT_IN_PROGRESS", "ECS deployment rolling back.")
        self._weights(0)
        reason = {"ROLLBACK": "Rolled back: a lifecycle hook asked for it.",
                  "TIMEOUT_ROLLBACK": "Rolled back: a lifecycle hook timed out.",
                  "STOP_ROLLBACK": "Rolled back: the deployment was stopped."}.get(action, f"Rolled back ({action}).")
        self._set_status("ROLLBACK_SUCCESSFUL", reason)
        self._event("SERVICE_DEPLOYMENT_FAILED", reason)

    # --- requests -------------------------------------------------------------

    def answer(self, hook_id: str, action: str) -> None:
        with self._cond:
            awaiting = [h for h in self.hooks if h["hookId"] == hook_id and h["status"] == "AWAITING_ACTION"]
            if self.status != "IN_PROGRESS" or not awaiting or self._answer is not None:
                raise InvalidParameterException(
                    f"The hook {hook_id} of service deployment {self.arn} is not awaiting action.")
            # Answered at once: the hook no longer awaits action.
            awaiting[0]["status"] = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
            self._answer = (hook_id, action)
            self._cond.notify_all()

    def stop(self, stop_type: str) -> None:
        with self._cond:
            if self.status in ENDED or self.status.startswith("ROLLBACK"):
                raise InvalidParameterException(f"The service deployment {self.arn} has already ended.")
            self._answer = ("stop", stop_type)
            self._cond.notify_all()


# --- the backend's state ---------------------------------------------------------

_deployments: dict[str, Deployment] = {}
_revisions: dict[str, Revision] = {}


def is_native(service: Any) -> bool:
    configuration = getattr(service, "deployment_configuration", None) or {}
    return (service.deployment_controller or {}).get("type", "ECS") == "ECS" and configuration.get("strategy") in ("LINEAR", "CANARY", "BLUE_GREEN")


def _current_revision(service: Any) -> Revision:
    current = getattr(service, "_native_current", None)
    if current is None:
        current = Revision(service, service.task_definition)
        _revisions[current.arn] = current
        service._native_current = current
    return current


def adopt(service: Any, configuration: dict[str, Any] | None) -> None:
    """A service created (by the API or by CloudFormation) with its deployment
    configuration: an ECS-controlled LINEAR, CANARY or BLUE_GREEN service gets
    its first revision."""
    service.deployment_configuration = configuration or {}
    if is_native(service):
        _current_revision(service)


def refuse_if_deploying(service: Any) -> None:
    """ECS refuses an update while a service deployment is in progress."""
    if any(d.service is service and d.status not in ENDED for d in _deployments.values()):
        raise InvalidParameterException(f"The service {service.name} has a service deployment in progress.")


def start(service: Any, new_definition: str) -> Deployment:
    """A service deployment from the service's current revision to one of
    ``new_definition``; the service keeps its task definition until it succeeds."""
    target = Revision(service, new_definition)
    _revisions[target.arn] = target
    deployment = Deployment(service, _current_revision(service), target, service.deployment_configuration)
    _deployments[deployment.arn] = deployment
    threading.Thread(target=deployment.run, daemon=True).start()
    return deployment


def _find(arn: str) -> Deployment:
    found = _deployments.get(arn)
    if found is None:
        raise ServiceDeploymentNotFound(f"The service deployment {arn} does not exist.")
    return found


_original_create = ecs_responses.EC2ContainerServiceResponse.create_service
_original_update = ecs_responses.EC2ContainerServiceResponse.update_service


def _create_service(self: Any) -> Any:
    result = _original_create(self)
    service = self.ecs_backend._get_service(self._get_param("cluster", "default"), self._get_param("serviceName"))
    adopt(service, self._get_param("deploymentConfiguration"))
    return result


def _update_service(self: Any) -> Any:
    cluster = self._get_param("cluster", "default")
    name = str(self._get_param("service")).split("/")[-1]
    try:
        service = self.ecs_backend._get_service(cluster, name)
    except Exception:  # noqa: BLE001
        raise ServiceNotFoundException
    configuration = self._get_param("deploymentConfiguration")
    new_definition = self._get_param("taskDefinition")
    starts = False
    if configuration is not None:
        service.deployment_configuration = configuration
    if is_native(service) and (new_definition or self._get_param("forceNewDeployment")):
        refuse_if_deploying(service)
        starts = True
        _current_revision(service)  # the source, read before the update changes the task definition
    before = service.task_definition
    result = _original_update(self)
    if starts:
        # The service keeps its source revision until the deployment succeeds.
        new_definition = service.task_definition
        service.task_definition = before
        start(service, new_definition)
    return result


def _list_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    cluster = self._get_param("cluster", "default")
    service = self.ecs_backend._get_service(cluster, str(self._get_param("service")).split("/")[-1])
    wanted = self._get_param("status") or []
    found = [d.brief() for d in sorted(_deployments.values(), key=lambda d: d.created_at, reverse=True)
             if d.service is service and (not wanted or d.status in wanted)]
    return ActionResult({"serviceDeployments": found})


def _describe_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    found, failures = [], []
    for arn in self._get_param("serviceDeploymentArns") or []:
        if arn in _deployments:
            found.append(_deployments[arn].describe())
        else:
            failures.append({"arn": arn, "reason": "MISSING"})
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _describe_service_revisions(self: Any) -> Any:
    from moto.core.responses import ActionResult

    found, failures = [], []
    for arn in self._get_param("serviceRevisionArns") or []:
        if arn in _revisions:
            found.append(_revisions[arn].describe())
        else:
            failures.append({"arn": arn, "reason": "MISSING"})
    return ActionResult({"serviceRevisions": found, "failures": failures})


def _continue_service_deployment(self: Any) -> Any:
    from moto.core.responses import ActionResult

    arn = self._get_param("serviceDeploymentArn")
    action = self._get_param("action")
    if action not in ("CONTINUE", "ROLLBACK"):
        raise InvalidParameterException(f"action must be CONTINUE or ROLLBACK, not {action!r}.")
    _find(arn).answer(self._get_param("hookId"), action)
    return ActionResult({"serviceDeploymentArn": arn})


def _stop_service_deployment(self: Any) -> Any:
    from moto.core.responses import ActionResult

    arn = self._get_param("serviceDeploymentArn")
    _find(arn).stop(self._get_param("stopType") or "ROLLBACK")
    return ActionResult({"serviceDeploymentArn": arn})


def _service_deployment_configuration(self: Any) -> Any:
    return self.__dict__.get("_deployment_configuration", {})


def _set_service_deployment_configuration(self: Any, value: Any) -> None:
    self.__dict__["_deployment_configuration"] = value or {}


ecs.Service.deployment_configuration = property(_service_deployment_configuration, _set_service_deployment_configuration)
ecs_responses.EC2ContainerServiceResponse.create_service = _create_service
ecs_responses.EC2ContainerServiceResponse.update_service = _update_service
ecs_responses.EC2ContainerServiceResponse.list_service_deployments = _list_service_deployments
ecs_responses.EC2ContainerServiceResponse.describe_service_deployments = _describe_service_deployments
ecs_responses.EC2ContainerServiceResponse.describe_service_revisions = _describe_service_revisions
ecs_responses.EC2ContainerServiceResponse.continue_service_deployment = _continue_service_deployment
ecs_responses.EC2ContainerServiceResponse.stop_service_deployment = _stop_service_deployment
