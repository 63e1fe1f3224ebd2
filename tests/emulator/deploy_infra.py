"""Deploys infra/ecs-canary.yaml to the emulator, the way `make deploy` does to
an account: code bucket with the function zips and the state machine
definition, the Slack secrets in Secrets Manager, then the stack.

Prints JSON: the stack outputs, and the environment the deployed functions were
given (read back from Lambda), so that the local Lambda endpoint can run the
binaries with exactly that configuration.

    AWS_ENDPOINT_URL=http://127.0.0.1:4566 python deploy_infra.py \
        --slack-webhook-url http://127.0.0.1:9999/hook --trigger-mappings '[...]'
"""

from __future__ import annotations

import argparse
import io
import json
import os
import zipfile

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# Every functions/<name>/src/main.rs is a function (the Makefile and the test
# support read the same directories).
FUNCTIONS = sorted(
    name
    for name in os.listdir(os.path.join(ROOT, "functions"))
    if os.path.isfile(os.path.join(ROOT, "functions", name, "src", "main.rs"))
)


def client(service: str):  # noqa: ANN201
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def placeholder_zip(name: str) -> bytes:
    """Locally the binaries run from the workspace; the zip only has to exist."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", f"#!/bin/sh\n# {name}: served by the local Lambda endpoint\n")
    return buffer.getvalue()


def secret(secrets, name: str, value: str) -> str:  # noqa: ANN001
    try:
        return secrets.create_secret(Name=name, SecretString=value)["ARN"]
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=value)
        return secrets.describe_secret(SecretId=name)["ARN"]


# Settings that differ between functions by design.
LARGEST_WINS = {"ECS_CANARY_AWS_TIMEOUT_SECONDS"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", default="ecs-canary")
    parser.add_argument("--bucket", default="ecs-canary-code")
    parser.add_argument("--prefix", default="ecs-canary")
    parser.add_argument("--function-prefix", default="ecs-canary-")
    parser.add_argument("--slack-webhook-url", default="")
    parser.add_argument("--slack-signing-secret", default="")
    parser.add_argument("--trigger-mappings", default="[]")
    parser.add_argument("--ready-poll-seconds", default="1")
    parser.add_argument("--cluster", default="mattctest", help="the ECS cluster the deployed functions manage")
    # Enough for a slow stack and task set on a bad day (seconds in the
    # emulator); a candidate that never stabilises gives up sooner.
    parser.add_argument("--ready-poll-attempts", default="15")
    parser.add_argument("--approval-email", default="")
    parser.add_argument("--approval-policy", default="", help="the DefaultApprovalPolicy parameter (JSON)")
    parser.add_argument("--push-events", default="ImageAction", help="the PushEvents parameter (ImageAction or CloudTrail)")
    args = parser.parse_args()

    s3 = client("s3")
    s3.create_bucket(Bucket=args.bucket)
    for name in FUNCTIONS:
        s3.put_object(Bucket=args.bucket, Key=f"{args.prefix}/{name}.zip", Body=placeholder_zip(name))
    for machine in ("ecs-canary.asl.json", "ecs-canary-gate.asl.json"):
        with open(os.path.join(ROOT, "state-machine", machine), "rb") as definition:
            s3.put_object(Bucket=args.bucket, Key=f"{args.prefix}/{machine}", Body=definition.read())

    secrets = client("secretsmanager")
    parameters = {
        "CodeBucket": args.bucket,
        "CodeKeyPrefix": args.prefix,
        "FunctionNamePrefix": args.function_prefix,
        "ReadyPollSeconds": args.ready_poll_seconds,
        "ReadyPollAttempts": args.ready_poll_attempts,
        "TriggerMappings": args.trigger_mappings,
        "PushEvents": args.push_events,
        "ApprovalEmail": args.approval_email,
        # Every test stack is in the example's cluster; the emulator does not
        # enforce IAM, so the stack pattern covers the tests' many stacks.
        "ManagedClusterName": args.cluster,
        "ManagedStackNamePattern": "*",
        "ManagedLoadBalancerArns": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/*",
    }
    # What moto cannot generate in a stack: the key approval links are derived with.
    parameters["LinkSecretArn"] = secret(secrets, f"{args.stack}/link-secret", os.urandom(32).hex())
    if args.approval_policy:
        parameters["DefaultApprovalPolicy"] = args.approval_policy
    if args.slack_webhook_url:
        parameters["SlackWebhookSecretArn"] = secret(secrets, f"{args.stack}/slack-webhook-url", args.slack_webhook_url)
    if args.slack_signing_secret:
        parameters["SlackSigningSecretArn"] = secret(secrets, f"{args.stack}/slack-signing-secret", args.slack_signing_secret)

    cloudformation = client("cloudformation")
    with open(os.path.join(ROOT, "infra", "ecs-canary.yaml"), encoding="utf-8") as template:
        cloudformation.create_stack(
            StackName=args.stack,
            TemplateBody=template.read(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
    stack = cloudformation.describe_stacks(StackName=args.stack)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise SystemExit(f"stack {args.stack}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    environment: dict[str, str] = {}
    lambdas = client("lambda")
    for name in FUNCTIONS:
        config = lambdas.get_function_configuration(FunctionName=f"{args.function_prefix}{name}")
        for key, value in config.get("Environment", {}).get("Variables", {}).items():
            if key in LARGEST_WINS and key in environment:
                # cargo lambda watch serves every function from one
                # environment: each function's bound on AWS calls (below its
                # own timeout) becomes the most generous of them.
                environment[key] = str(max(float(environment[key]), float(value)))
                continue
            if environment.get(key, value) != value:
                raise SystemExit(f"{key} differs between functions: {environment[key]!r} and {value!r}")
            environment[key] = value
    print(json.dumps({"outputs": outputs, "environment": environment}))


if __name__ == "__main__":
    main()
