"""What moto 5.2.5 lacks for an ECS blue/green stack, one module per patch.

Imported by the launcher before the server starts. It:

* adds ``AWS::ECS::TaskSet`` and ``AWS::ECS::PrimaryTaskSet`` resources;
* makes ``AWS::ECS::Service`` honour ``DeploymentController``, ``Tags`` and a
  missing ``TaskDefinition``;
* makes ``AWS::ECS::TaskDefinition`` keep Cpu, Memory, NetworkMode,
  RequiresCompatibilities and roles, and register a complete new revision on
  update (keeping the old one with ``UpdateReplacePolicy: Retain``);
* ``AWS::StepFunctions::StateMachine``: ``DefinitionS3Location``, ``Definition``
  and ``DefinitionSubstitutions``;
* ``AWS::Lambda::Url``, whose ``FunctionUrl`` is the function's URL on the local
  Lambda endpoint (``cargo lambda watch`` serves ``/lambda-url/<function>/``);
* EventBridge rate schedules fire (``scheduleMinuteSeconds``), and a
  scheduled rule matches no events;
* EventBridge rules deliver to Lambda targets (asynchronously, through the
  launcher's Lambda routing), as they do in AWS;
* SendTaskFailure keeps its ``cause``;
* an email subscription waits for its confirmation (a token), and
  ConfirmSubscription records whether it was authenticated;
* StopExecution really stops an execution, and every execution status change
  is emitted to EventBridge ("Step Functions Execution Status Change");
* CloudWatch's GetMetricData computes percentile statistics (``p50``, ``p99``);
* a new CloudWatch alarm starts in INSUFFICIENT_DATA, and every change of an
  alarm's state is emitted to EventBridge ("CloudWatch Alarm State Change");
* drops ``AWS::NoValue`` from lists (``!If [c, x, !Ref AWS::NoValue]`` in a list);
* lets UpdateStack use ``UsePreviousValue`` for a parameter that took its
  default at creation (moto raised KeyError);
* refuses UpdateStack on a stack still updating, unless it carries the
  ClientRequestToken of the update in progress (then: accepted, nothing new);
* CreateStack and UpdateStack need the capabilities a template's IAM
  resources and transforms call for, and GetTemplateSummary names them;
* ECS's own linear and canary rollouts: service deployments and revisions,
  pause hooks (``ECS Hook State Change``), ContinueServiceDeployment,
  StopServiceDeployment and ``ECS Deployment State Change`` events;
* re-evaluates resources whose ``Ref``/``Fn::GetAtt``/``Fn::Sub`` targets changed
  during a stack update, in dependency order, as CloudFormation does.

Resources compare their *resolved* properties on update, so a property that
changes from ``{"Ref": "MyTask"}`` to the same literal ARN changes nothing.
"""

from __future__ import annotations

from moto.cloudformation import parsing

from . import task_definition  # noqa: F401
from . import service  # noqa: F401
from . import task_set  # noqa: F401
from . import primary_task_set  # noqa: F401
from . import stack_update_dependents  # noqa: F401
from . import use_previous_value  # noqa: F401
from . import update_in_progress  # noqa: F401
from . import capabilities  # noqa: F401
from . import local_lambda  # noqa: F401
from . import state_machine  # noqa: F401
from . import function_url  # noqa: F401
from . import eventbridge_lambda  # noqa: F401
from . import scheduled_rules  # noqa: F401
from . import execution_end  # noqa: F401
from . import task_failure_cause  # noqa: F401
from . import alarm_state_change  # noqa: F401
from . import metric_percentiles  # noqa: F401
from . import no_value  # noqa: F401
from . import email_confirmation  # noqa: F401
from . import bad_day  # noqa: F401
from . import native_deployments  # noqa: F401

# The model map is cached: rebuild it so that the new resource types are found.
parsing.get_model_list.cache_clear()
parsing.get_model_map.cache_clear()
parsing.get_name_type_map.cache_clear()

PATCHES = (
    task_definition,
    service,
    task_set,
    primary_task_set,
    stack_update_dependents,
    use_previous_value,
    update_in_progress,
    capabilities,
    local_lambda,
    state_machine,
    function_url,
    eventbridge_lambda,
    scheduled_rules,
    execution_end,
    task_failure_cause,
    alarm_state_change,
    metric_percentiles,
    no_value,
    email_confirmation,
    bad_day,
    native_deployments,
)
