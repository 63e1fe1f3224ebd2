"""moto 5.2.5's UpdateStack accepts an update while the stack is still
updating, and ignores ClientRequestToken. CloudFormation refuses an update of
a stack in a ``*_IN_PROGRESS`` state ("… is in UPDATE_IN_PROGRESS state and
can not be updated.") — unless it carries the token of the operation in
progress: then it is the same request again, and it is answered as accepted
without starting anything. Fixed (visible with the bad day's
``stackUpdateSeconds``, which keeps a stack updating).
"""

from __future__ import annotations

from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import ValidationError
from moto.core.responses import ActionResult

TOKEN = "_ecs_canary_client_request_token"

_original_update_stack = cfn_responses.CloudFormationResponse.update_stack


def _update_stack(self):  # noqa: ANN001, ANN202
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    token = self._get_param("ClientRequestToken")
    if stack.status.endswith("_IN_PROGRESS"):
        if token and token == stack.__dict__.get(TOKEN):
            return ActionResult({"StackId": stack.stack_id})
        raise ValidationError(
            stack.stack_id,
            message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.",
        )
    result = _original_update_stack(self)
    stack.__dict__[TOKEN] = token
    return result


cfn_responses.CloudFormationResponse.update_stack = _update_stack
