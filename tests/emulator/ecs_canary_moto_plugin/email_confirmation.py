"""moto 5.2.5 confirms an email subscription at once, as if authenticated,
and its ConfirmSubscription checks no token. In AWS an email subscription
waits for its confirmation link; following the link confirms it *without*
authentication (anyone can then unsubscribe it from the link in any message),
while ConfirmSubscription signed by the account with
``AuthenticateOnUnsubscribe=true`` confirms it with authentication. Fixed:
email subscriptions start pending with a token, the confirmation "sent" is
kept (``confirmations()``, served by the launcher), and ConfirmSubscription
checks the token and records whether the confirmation was authenticated.
"""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Any

from moto.core.responses import ActionResult
from moto.sns import models, responses
from moto.sns.exceptions import SNSInvalidParameter

# token -> subscription ARN; and the confirmation messages as AWS would mail them.
_TOKENS: dict[str, str] = {}
_CONFIRMATIONS: list[dict[str, str]] = []

_original_subscribe = models.SNSBackend.subscribe


def confirmations() -> list[dict[str, str]]:
    return list(_CONFIRMATIONS)


def _subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:  # noqa: ANN401
    existing = self._find_subscription(topic_arn, endpoint, protocol)
    subscription = _original_subscribe(self, topic_arn, endpoint, protocol)
    if protocol in ("email", "email-json") and existing is None:
        token = secrets.token_hex(32)
        _TOKENS[token] = subscription.arn
        subscription.attributes["PendingConfirmation"] = "true"
        subscription.attributes["ConfirmationWasAuthenticated"] = "false"
        query = urllib.parse.urlencode({"Action": "ConfirmSubscription", "TopicArn": topic_arn, "Token": token})
        _CONFIRMATIONS.append({
            "topicArn": topic_arn,
            "endpoint": endpoint,
            "url": f"https://sns.{self.region_name}.amazonaws.com/?{query}",
        })
    return subscription


def _confirm_subscription(self: Any) -> Any:  # noqa: ANN401
    topic_arn = self._get_param("TopicArn")
    token = self._get_param("Token") or ""
    authenticate = str(self._get_param("AuthenticateOnUnsubscribe") or "").lower() == "true"
    signed = "Authorization" in self.headers or "X-Amz-Signature" in self.querystring
    arn = _TOKENS.get(token)
    subscription = self.backend.subscriptions.get(arn) if arn else None
    if subscription is None or subscription.topic.arn != topic_arn:
        raise SNSInvalidParameter("Invalid token")
    attributes = subscription.attributes
    attributes["PendingConfirmation"] = "false"
    if authenticate and signed:
        attributes["ConfirmationWasAuthenticated"] = "true"
    return ActionResult({"SubscriptionArn": arn})


models.SNSBackend.subscribe = _subscribe
responses.SNSResponse.confirm_subscription = _confirm_subscription
