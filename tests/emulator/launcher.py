"""The local AWS emulator of ecs-canary: moto server + the project's plugin.

    python launcher.py --port 4566 [--lambda-endpoint http://127.0.0.1:9000]

* loads ``ecs_canary_moto_plugin`` (ECS task sets in CloudFormation, fixes);
* switches on real execution of Step Functions state machines;
* sends Lambda Invoke API calls (``POST /2015-03-31/functions/{fn}/invocations``)
  to the Lambda endpoint, when one is given, turning a function error (HTTP 5xx
  from the endpoint) into HTTP 200 with ``X-Amz-Function-Error: Unhandled`` as
  AWS Lambda does; everything else goes to moto.

It listens on loopback only and prints ``ready <port>`` once it accepts requests.

With ``--zygote`` it loads moto and the plugin once, then forks one emulator
per JSON request on stdin (see ``zygote()``): the tests start one per test.

Faults on request (a bad day, per test, no restart): ``POST /_ecs-canary/faults``
with ``{"service": "states", "operation": "SendTaskSuccess", "code":
"ThrottlingException", "count": 3}`` makes the next ``count`` matching calls
fail with that AWS error, shaped as the service's SDK expects (JSON protocol:
``__type``; query protocol: an XML ``ErrorResponse``). ``service`` is the SigV4
signing name (``states``, ``ecs``, ``elasticloadbalancing``, ``cloudformation``,
``dynamodb``, ``sns`` …); ``operation`` ``"*"`` matches every operation;
``rate`` (default 1) fails only that share of the matching calls, at random;
``status`` defaults to 400; with ``delaySeconds`` the call is answered that
much later instead of failing (AWS slow to answer); with ``afterApply`` the
call is carried out and then answered with the error (the answer was lost). ``GET`` lists the faults
still armed; ``DELETE`` disarms them all.

Slow and failing stacks and task sets on request: ``POST /_ecs-canary/bad-day``
with any of ``{"stackUpdateSeconds": 5, "failNextStackUpdate": "reason",
"taskSetStabilizeSeconds": 5, "neverStabilize": true}`` (see the plugin's
``bad_day`` module); ``GET`` shows them, ``DELETE`` restores a good day.

``POST /_ecs-canary/schedules`` runs every enabled scheduled rule once, now,
and answers when their targets have (the rules' ARNs): a test gives the
watch a counted number of runs.

``GET /_ecs-canary/sns-confirmations``: the email subscription confirmations
SNS would have mailed (topic, endpoint, the confirmation link).

Function URLs with ``AuthType: AWS_IAM`` are served here, at
``/lambda-url-iam/<function>/…``, as AWS serves them: the request's SigV4
signature is verified against the emulator's own IAM users, roles (STS
sessions) and access keys, and the caller must be allowed
``lambda:InvokeFunctionUrl`` by its IAM policies; otherwise 403
``{"Message": "Forbidden"}`` and the function never runs. A verified request
becomes the function URL event (payload 2.0) with the caller in
``requestContext.authorizer.iam``, and the function's answer the response.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import threading
import time
import os
import re
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Iterable

HERE = os.path.dirname(os.path.abspath(__file__))
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations/?$")


def function_name(path_component: str) -> str:
    """`[prefix]my-fn`, `my-fn:alias` or `arn:aws:lambda:r:a:function:my-fn[:q]` -> `my-fn`
    (without the --function-prefix, so that it names the binary)."""
    name = urllib.parse.unquote(path_component)
    if name.startswith("arn:"):
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else parts[-1]
    name = name.split(":")[0]
    prefix = os.environ.get("ECS_CANARY_FUNCTION_PREFIX", "")
    return name[len(prefix):] if prefix and name.startswith(prefix) else name


IAM_URL_PATH = re.compile(r"^/lambda-url-iam/(?P<function>[^/]+)(?P<path>/.*)?$")
# How far a signature's time may be from the emulator's (as AWS allows).
SIGNATURE_SKEW_SECONDS = 15 * 60
FAULTS_PATH = "/_ecs-canary/faults"
BAD_DAY_PATH = "/_ecs-canary/bad-day"
# Every scheduled rule once, now, answered when its targets have (POST).
SCHEDULES_PATH = "/_ecs-canary/schedules"
# The email subscription confirmations SNS would have mailed (GET).
CONFIRMATIONS_PATH = "/_ecs-canary/sns-confirmations"
SIGNING_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/(?P<service>[^/]+)/aws4_request")


class Faults:
    """AWS errors armed for the next matching calls."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.armed: list[dict[str, Any]] = []

    def arm(self, fault: dict[str, Any]) -> None:
        fault = {
            "service": str(fault["service"]),
            "operation": str(fault["operation"]),
            "code": str(fault.get("code", "ThrottlingException")),
            "message": str(fault.get("message", "Rate exceeded")),
            "status": int(fault.get("status", 400)),
            "count": int(fault.get("count", 1)),
            "rate": float(fault.get("rate", 1.0)),
            "delaySeconds": float(fault.get("delaySeconds", 0.0)),
            "afterApply": bool(fault.get("afterApply", False)),
        }
        with self.lock:
            self.armed.append(fault)

    def take(self, service: str, operation: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.armed:
                matches = fault["service"] == service and fault["operation"] in (operation, "*")
                if matches and fault["count"] > 0 and random.random() < fault["rate"]:
                    fault["count"] -= 1
                    return dict(fault)
            return None

    def listed(self) -> list[dict[str, Any]]:
        with self.lock:
            self.armed = [f for f in self.armed if f["count"] > 0]
            return [dict(f) for f in self.armed]

    def clear(self) -> None:
        with self.lock:
            self.armed = []


def wsgi_answer(start_response: Callable[..., Any], status: str, headers: list[tuple[str, str]],
                body: bytes) -> Iterable[bytes]:
    """A whole WSGI answer: status, headers with the body's length, body."""
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


def error_response(fault: dict[str, Any], json_protocol: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    status = f"{fault['status']} Error"
    if json_protocol:
        body = json.dumps({"__type": fault["code"], "message": fault["message"]}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amzn-ErrorType", fault["code"]),
            ("x-amzn-RequestId", "ecs-canary-fault"),  # every AWS answer has one; clients read it
        ]
        return status, headers, body
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{fault['code']}</Code><Message>{fault['message']}</Message>"
        "</Error><RequestId>ecs-canary-fault</RequestId></ErrorResponse>"
    ).encode()
    return status, [("Content-Type", "text/xml")], body


class FaultInjector:
    """WSGI middleware: the fault controls, and armed faults before the app."""

    def __init__(self, app: Callable[..., Iterable[bytes]], faults: Faults):
        self.app = app
        self.faults = faults

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if environ.get("PATH_INFO", "") == BAD_DAY_PATH:
            from ecs_canary_moto_plugin import bad_day

            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                try:
                    current = bad_day.configure(json.loads(environ["wsgi.input"].read(length) or b"{}"))
                except ValueError as error:
                    return wsgi_answer(start_response, "400 Bad Request", [("Content-Type", "application/json")],
                                       json.dumps({"error": str(error)}).encode())
            elif method == "DELETE":
                current = bad_day.reset()
            else:
                current = bad_day.settings()
            return wsgi_answer(start_response, "200 OK", [("Content-Type", "application/json")],
                               json.dumps(current).encode())
        if environ.get("PATH_INFO", "") == SCHEDULES_PATH and method == "POST":
            from ecs_canary_moto_plugin import scheduled_rules

            return wsgi_answer(start_response, "200 OK", [("Content-Type", "application/json")],
                               json.dumps(scheduled_rules.fire_now()).encode())
        if environ.get("PATH_INFO", "") == CONFIRMATIONS_PATH:
            from ecs_canary_moto_plugin import email_confirmation

            return wsgi_answer(start_response, "200 OK", [("Content-Type", "application/json")],
                               json.dumps(email_confirmation.confirmations()).encode())
        if environ.get("PATH_INFO", "") == FAULTS_PATH:
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
                for fault in body if isinstance(body, list) else [body]:
                    self.faults.arm(fault)
            elif method == "DELETE":
                self.faults.clear()
            return wsgi_answer(start_response, "200 OK", [("Content-Type", "application/json")],
                               json.dumps(self.faults.listed()).encode())
        scope = SIGNING_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None or not self.faults.listed():
            return self.app(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            operation = target.rsplit(".", 1)[-1]
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            operation = (form.get("Action") or query.get("Action") or [""])[0]
        fault = self.faults.take(scope.group("service"), operation)
        if fault is None:
            return self.app(environ, start_response)
        if fault["delaySeconds"] > 0:
            # A slow answer rather than an error: the call is served late.
            time.sleep(fault["delaySeconds"])
            return self.app(environ, start_response)
        if fault["afterApply"]:
            # The call is carried out, then its answer is lost.
            for _ in self.app(environ, lambda *args, **kwargs: None):
                pass
        # JSON protocols (X-Amz-Target) and Lambda's REST-JSON answer in JSON.
        json_protocol = bool(target) or scope.group("service") == "lambda"
        return wsgi_answer(start_response, *error_response(fault, json_protocol=json_protocol))


def signed_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers as the client sent them (``X-Amz-Date``, …)."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers["-".join(part.capitalize() for part in key[5:].split("_"))] = value
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["Content-Length"] = environ["CONTENT_LENGTH"]
    return headers


def iam_caller(method: str, path: str, headers: dict[str, str], body: bytes,
               function_arn: str) -> dict[str, str] | None:
    """Who signed the request, when the signature is valid for one of the
    emulator's IAM identities and its policies allow lambda:InvokeFunctionUrl;
    otherwise None."""
    import datetime

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.access_control import IAMRequest

    if not headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 ") or "X-Amz-Date" not in headers:
        return None
    try:
        signed_at = datetime.datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    if abs((datetime.datetime.now(datetime.timezone.utc) - signed_at).total_seconds()) > SIGNATURE_SKEW_SECONDS:
        return None
    try:
        request = IAMRequest(account_id=DEFAULT_ACCOUNT_ID, method=method, path=path, data={}, body=body,
                             headers=headers, action="InvokeFunctionUrl")
        request.check_signature()
        request.check_action_permitted(function_arn)
    except Exception:  # noqa: BLE001  (unknown key, wrong signature, no permission: all 403)
        return None
    key = request._access_key
    return {
        "accessKey": key._access_key_id,
        "accountId": DEFAULT_ACCOUNT_ID,
        "callerId": key.arn.rsplit("/", 1)[-1],
        "userArn": key.arn,
        "userId": key.arn.rsplit("/", 1)[-1],
    }


class IamFunctionUrls:
    """WSGI middleware: function URLs with AWS_IAM auth (see the module's
    documentation); everything else to the app."""

    def __init__(self, app: Callable[..., Iterable[bytes]], lambda_endpoint: str | None, timeout: float):
        self.app = app
        self.lambda_endpoint = lambda_endpoint.rstrip("/") if lambda_endpoint else None
        self.timeout = timeout

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = IAM_URL_PATH.match(environ.get("PATH_INFO", ""))
        if not match or not self.lambda_endpoint:
            return self.app(environ, start_response)

        function = function_name(match.group("function"))
        method = environ.get("REQUEST_METHOD", "GET")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query = environ.get("QUERY_STRING", "")
        raw_path = urllib.parse.quote(environ.get("PATH_INFO", ""), safe="/~")
        headers = signed_headers(environ)
        prefix = os.environ.get("ECS_CANARY_FUNCTION_PREFIX", "")
        arn = f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:123456789012:function:{prefix}{function}"
        caller = iam_caller(method, raw_path + (f"?{query}" if query else ""), headers, body, arn)
        if caller is None:
            return wsgi_answer(start_response, "403 Forbidden",
                               [("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException")],
                               b'{"Message":"Forbidden. For troubleshooting Function URL authorization issues, '
                               b'see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}')
        path = match.group("path") or "/"
        now = time.time()
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": {k.lower(): v for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()} or None,
            "requestContext": {
                "accountId": "anonymous",
                "apiId": function,
                "authorizer": {"iam": caller},
                "domainName": f"{function}.lambda-url.local",
                "domainPrefix": function,
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                         "userAgent": environ.get("HTTP_USER_AGENT", "")},
                "requestId": f"{int(now * 1000)}-{random.randrange(1 << 30)}",
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": body.decode("utf-8", "replace"),
            "isBase64Encoded": False,
        }
        url = f"{self.lambda_endpoint}/2015-03-31/functions/{urllib.parse.quote(function)}/invocations"
        invoke = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
        invoke.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(invoke, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except (urllib.error.URLError, TimeoutError, OSError, ValueError):
            return wsgi_answer(start_response, "502 Bad Gateway", [("Content-Type", "application/json")],
                               b'{"Message":"Internal Server Error"}')
        if not isinstance(answer, dict) or "statusCode" not in answer:
            # A function that answers a bare value: AWS sends it as JSON.
            return wsgi_answer(start_response, "200 OK", [("Content-Type", "application/json")],
                               json.dumps(answer).encode())
        out = answer.get("body") or ""
        payload = __import__("base64").b64decode(out) if answer.get("isBase64Encoded") else out.encode()
        status = int(answer.get("statusCode", 200))
        reply = [(k, str(v)) for k, v in (answer.get("headers") or {}).items() if k.lower() != "content-length"]
        return wsgi_answer(start_response, f"{status} {'OK' if status < 400 else 'Error'}", reply, payload)


class LambdaRouter:
    """WSGI middleware: Lambda invocations to an endpoint, the rest to moto."""

    def __init__(self, moto_app: Callable[..., Iterable[bytes]], lambda_endpoint: str | None, timeout: float):
        self.moto_app = moto_app
        self.lambda_endpoint = lambda_endpoint.rstrip("/") if lambda_endpoint else None
        self.timeout = timeout

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = INVOKE_PATH.match(environ.get("PATH_INFO", ""))
        if self.lambda_endpoint and match and environ.get("REQUEST_METHOD") == "POST":
            return self.invoke(function_name(match.group("function")), environ, start_response)
        return self.moto_app(environ, start_response)

    def invoke(self, function: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = environ["wsgi.input"].read(length) if length else b""
        url = f"{self.lambda_endpoint}/2015-03-31/functions/{urllib.parse.quote(function)}/invocations"
        request = urllib.request.Request(url, data=payload, method="POST")
        request.add_header("Content-Type", "application/json")
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
                function_error = response.headers.get("X-Amz-Function-Error")
                if function_error:
                    headers.append(("X-Amz-Function-Error", function_error))
                return wsgi_answer(start_response, "200 OK", headers, body)
        except urllib.error.HTTPError as error:
            body = error.read()
            if error.code == 404:
                return wsgi_answer(start_response, "404 Not Found",
                                   [("Content-Type", "application/json"),
                                    ("X-Amzn-ErrorType", "ResourceNotFoundException")],
                                   b'{"Type":"User","message":"Function not found: ' + function.encode() + b'"}')
            if error.code >= 500:
                # The function failed: AWS answers 200 and names the error in a header.
                headers.append(("X-Amz-Function-Error", "Unhandled"))
                return wsgi_answer(start_response, "200 OK", headers, body)
            return wsgi_answer(start_response, f"{error.code} {error.reason}",
                               [("Content-Type", "application/json")], body)
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            message = json.dumps({"Type": "Service", "message": f"Lambda endpoint unreachable: {error}"})
            return wsgi_answer(start_response, "502 Bad Gateway",
                               [("Content-Type", "application/json"), ("X-Amzn-ErrorType", "ServiceException")],
                               message.encode())


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--lambda-endpoint", default=os.environ.get("ECS_CANARY_LAMBDA_ENDPOINT"),
                        help="Lambda Invoke API to route function invocations to (e.g. cargo lambda watch)")
    parser.add_argument("--lambda-timeout", type=float, default=60.0)
    parser.add_argument("--function-prefix", default="",
                        help="prefix of deployed function names to strip to get the binary name (e.g. ecs-canary-)")
    parser.add_argument("--zygote", action="store_true",
                        help="load once, then start one emulator per line of JSON on stdin (see zygote())")
    return parser


def check_loopback(host: str) -> None:
    if not host.startswith("127.") and host not in ("localhost", "::1"):
        raise SystemExit("the emulator listens on loopback only")


# The services the project and its tests call: their moto apps are built before
# a zygote forks, so that no emulator it starts builds them again.
PRELOADED = ("ecs", "elbv2", "cloudformation", "dynamodb", "sns", "sqs", "secretsmanager", "events",
             "cloudwatch", "awslambda", "sts", "stepfunctions", "iam", "s3", "ecr", "logs", "moto_api")


def load(preload: Iterable[str] = ()) -> Callable[[str | None, float], Any]:
    """Imports moto and the plugin (most of an emulator's start) and returns
    a factory of the emulator's WSGI app for a Lambda endpoint."""
    sys.path.insert(0, HERE)

    import ecs_canary_moto_plugin  # noqa: F401  (registers the CloudFormation models)
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    dispatcher = DomainDispatcherApplication(create_backend_app)
    for backend in preload:
        dispatcher.app_instances[backend] = create_backend_app(backend)

    def app(lambda_endpoint: str | None, lambda_timeout: float) -> Any:
        routed = FaultInjector(LambdaRouter(dispatcher, lambda_endpoint, lambda_timeout), Faults())
        return IamFunctionUrls(routed, lambda_endpoint, lambda_timeout)

    return app


def configure(port: int, function_prefix: str, lambda_endpoint: str | None) -> None:
    # moto's Step Functions interpreter calls Lambda at http://localhost:$MOTO_PORT:
    # that must be this launcher, so that the router sees the invocation.
    os.environ["MOTO_PORT"] = str(port)
    os.environ["ECS_CANARY_FUNCTION_PREFIX"] = function_prefix
    if lambda_endpoint:
        os.environ["ECS_CANARY_LAMBDA_ENDPOINT"] = lambda_endpoint
    else:
        os.environ.pop("ECS_CANARY_LAMBDA_ENDPOINT", None)


def serve(app: Any, host: str, port: int, ready: Callable[[int], None]) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ready(server.port)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def zygote(args: argparse.Namespace) -> None:
    """Loads once, then forks one emulator per request: a test run starts
    dozens of emulators, and each would otherwise spend seconds importing moto.

    Each line on stdin is a JSON request: ``{"port": 4566, "log": PATH,
    "lambdaEndpoint": URL or null, "functionPrefix": "ecs-canary-"}``. The
    emulator it forks logs to PATH and answers on stdout with ``ready PORT PID``
    once it accepts requests, or ``failed PORT PID`` (its reason in the log).
    Every emulator shares nothing with the others: its state is its own copy.
    It ends when the zygote does, and the zygote ends when stdin closes.
    """
    app = load(PRELOADED)
    # Fork only from one thread: the children must not inherit a held lock.
    assert threading.active_count() == 1, "the zygote started a thread"
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the emulators are reaped by the system
    answers = os.dup(sys.stdout.fileno())
    print("ready zygote", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        port = int(request["port"])
        check_loopback(str(request.get("host", args.host)))
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            continue
        try:
            emulator(request, app, answers, args)
        finally:
            os._exit(1)


def emulator(request: dict[str, Any], app: Callable[[str | None, float], Any], answers: int,
             args: argparse.Namespace) -> None:
    """In the zygote's child: one emulator, until SIGTERM or the zygote ends."""
    import ctypes

    port = int(request["port"])
    pid = os.getpid()

    def answer(word: str, bound: int) -> None:
        os.write(answers, f"{word} {bound} {pid}\n".encode())

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: end with the zygote
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    try:
        from moto.moto_api._internal import mock_random

        mock_random.seed()  # ids of its own, not the zygote's sequence
        configure(port, str(request.get("functionPrefix", "")), request.get("lambdaEndpoint"))
        serve(app(request.get("lambdaEndpoint"), float(request.get("lambdaTimeout", args.lambda_timeout))),
              str(request.get("host", args.host)), port, lambda bound: answer("ready", bound))
    except SystemExit:
        os._exit(0)
    except BaseException:  # noqa: BLE001  (reported to the log, then to the caller)
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        answer("failed", port)
        os._exit(1)
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    check_loopback(args.host)
    if args.zygote:
        zygote(args)
        return
    configure(args.port, args.function_prefix, args.lambda_endpoint)
    app = load()
    serve(app(args.lambda_endpoint, args.lambda_timeout), args.host, args.port,
          lambda port: print(f"ready {port}", flush=True))


if __name__ == "__main__":
    main()
