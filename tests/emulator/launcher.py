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

``GET /_ecs-canary/sns-confirmations``: the email subscription confirmations
SNS would have mailed (topic, endpoint, the confirmation link).
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


FAULTS_PATH = "/_ecs-canary/faults"
BAD_DAY_PATH = "/_ecs-canary/bad-day"
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
        def respond(status: str, headers: list[tuple[str, str]], body: bytes) -> Iterable[bytes]:
            start_response(status, headers + [("Content-Length", str(len(body)))])
            return [body]

        method = environ.get("REQUEST_METHOD", "")
        if environ.get("PATH_INFO", "") == BAD_DAY_PATH:
            from ecs_canary_moto_plugin import bad_day

            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                try:
                    current = bad_day.configure(json.loads(environ["wsgi.input"].read(length) or b"{}"))
                except ValueError as error:
                    return respond("400 Bad Request", [("Content-Type", "application/json")],
                                   json.dumps({"error": str(error)}).encode())
            elif method == "DELETE":
                current = bad_day.reset()
            else:
                current = bad_day.settings()
            return respond("200 OK", [("Content-Type", "application/json")], json.dumps(current).encode())
        if environ.get("PATH_INFO", "") == CONFIRMATIONS_PATH:
            from ecs_canary_moto_plugin import email_confirmation

            return respond("200 OK", [("Content-Type", "application/json")],
                           json.dumps(email_confirmation.confirmations()).encode())
        if environ.get("PATH_INFO", "") == FAULTS_PATH:
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
                for fault in body if isinstance(body, list) else [body]:
                    self.faults.arm(fault)
            elif method == "DELETE":
                self.faults.clear()
            return respond("200 OK", [("Content-Type", "application/json")],
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
        return respond(*error_response(fault, json_protocol=json_protocol))


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
        def respond(status: str, headers: list[tuple[str, str]], body: bytes) -> Iterable[bytes]:
            start_response(status, headers + [("Content-Length", str(len(body)))])
            return [body]

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
                return respond("200 OK", headers, body)
        except urllib.error.HTTPError as error:
            body = error.read()
            if error.code == 404:
                return respond("404 Not Found", [("Content-Type", "application/json"),
                                                 ("X-Amzn-ErrorType", "ResourceNotFoundException")],
                               b'{"Type":"User","message":"Function not found: ' + function.encode() + b'"}')
            if error.code >= 500:
                # The function failed: AWS answers 200 and names the error in a header.
                headers.append(("X-Amz-Function-Error", "Unhandled"))
                return respond("200 OK", headers, body)
            return respond(f"{error.code} {error.reason}", [("Content-Type", "application/json")], body)
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            message = json.dumps({"Type": "Service", "message": f"Lambda endpoint unreachable: {error}"})
            return respond("502 Bad Gateway", [("Content-Type", "application/json"),
                                               ("X-Amzn-ErrorType", "ServiceException")], message.encode())


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
        return FaultInjector(LambdaRouter(dispatcher, lambda_endpoint, lambda_timeout), Faults())

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
