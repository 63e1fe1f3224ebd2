"""Smoke tests of the moto plugin, one per patch, on moto's in-process mock.

Each test names the moto behaviour its patch fixes: after a moto upgrade, the
failing test says which patch broke.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
import time

import boto3
import pytest
from moto import mock_aws

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ecs_canary_moto_plugin  # noqa: E402,F401  (the patches)

REGION = "us-east-1"
TG_BLUE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1"
TG_GREEN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2"


SUBNET: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        SUBNET[:] = [subnet()]
        yield


def client(service: str):  # noqa: ANN201
    return boto3.client(service, region_name=REGION)


def create(stack: str, template: dict, **kwargs) -> dict[str, str]:
    cfn = client("cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template), **kwargs)
    return outputs(stack)


def update(stack: str, template: dict, **kwargs) -> dict[str, str]:
    client("cloudformation").update_stack(StackName=stack, TemplateBody=json.dumps(template), **kwargs)
    return outputs(stack)


def outputs(stack: str) -> dict[str, str]:
    described = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def task_definition(version: str, **extra) -> dict:
    return {
        "Type": "AWS::ECS::TaskDefinition",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Family": "app",
            "Cpu": "256",
            "Memory": "512",
            "NetworkMode": "awsvpc",
            "RequiresCompatibilities": ["FARGATE"],
            "ContainerDefinitions": [
                {"Name": "web", "Image": "repo/web", "Memory": 512,
                 "Environment": [{"Name": "APPVERSION", "Value": version}]},
            ],
            **extra,
        },
    }


def subnet() -> tuple[str, str]:
    """A subnet for awsvpc task sets (moto launches their tasks)."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet_id = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    return subnet_id, group


def blue_green(version: str, blue_definition: dict | str) -> dict:
    """A cluster, an EXTERNAL service, a task definition and two task sets."""
    subnet_id, group = SUBNET[0]
    network = {"AwsVpcConfiguration": {"Subnets": [subnet_id], "SecurityGroups": [group]}}
    task_set = lambda colour, definition, group: {  # noqa: E731
        "Type": "AWS::ECS::TaskSet",
        "Properties": {
            "Cluster": {"Ref": "Cluster"},
            "Service": {"Ref": "Service"},
            "ExternalId": f"{colour}Stack",
            "TaskDefinition": definition,
            "LaunchType": "FARGATE",
            "NetworkConfiguration": network,
            "Scale": {"Unit": "PERCENT", "Value": 100},
            "LoadBalancers": [{"ContainerName": "web", "ContainerPort": 80, "TargetGroupArn": group}],
        },
    }
    return {
        "Resources": {
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "c"}},
            "Service": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "Cluster": {"Ref": "Cluster"},
                    "ServiceName": "s",
                    "DeploymentController": {"Type": "EXTERNAL"},
                    "DesiredCount": 1,
                    "Tags": [{"Key": "StableStack", "Value": "Blue"}],
                },
            },
            "Task": task_definition(version),
            "BlueTaskSet": task_set("Blue", blue_definition, TG_BLUE),
            "GreenTaskSet": task_set("Green", {"Ref": "Task"}, TG_GREEN),
            "Primary": {
                "Type": "AWS::ECS::PrimaryTaskSet",
                "Properties": {"Cluster": {"Ref": "Cluster"}, "Service": {"Ref": "Service"},
                               "TaskSetId": {"Fn::GetAtt": ["BlueTaskSet", "Id"]}},
            },
        },
        "Outputs": {
            "BlueTaskSet": {"Value": {"Fn::GetAtt": ["BlueTaskSet", "Id"]}},
            "GreenTaskSet": {"Value": {"Fn::GetAtt": ["GreenTaskSet", "Id"]}},
            "Task": {"Value": {"Ref": "Task"}},
        },
    }


def test_task_definition_keeps_fargate_settings_and_an_update_registers_a_complete_revision():
    """task_definition: moto dropped Cpu/Memory/NetworkMode and registered empty revisions."""
    first = create("app", {"Resources": {"Task": task_definition("1")}, "Outputs": {"Arn": {"Value": {"Ref": "Task"}}}})["Arn"]
    described = client("ecs").describe_task_definition(taskDefinition=first)["taskDefinition"]
    assert (described["cpu"], described["memory"], described["networkMode"]) == ("256", "512", "awsvpc")
    assert described["requiresCompatibilities"] == ["FARGATE"]

    second = update("app", {"Resources": {"Task": task_definition("2")}, "Outputs": {"Arn": {"Value": {"Ref": "Task"}}}})["Arn"]
    assert second != first
    containers = client("ecs").describe_task_definition(taskDefinition=second)["taskDefinition"]["containerDefinitions"]
    assert containers[0]["environment"] == [{"name": "APPVERSION", "value": "2"}]
    # UpdateReplacePolicy: Retain keeps the revision the stable task set may run.
    assert client("ecs").describe_task_definition(taskDefinition=first)["taskDefinition"]["status"] == "ACTIVE"


def test_service_honours_the_external_controller_and_tags_without_a_task_definition():
    """service: moto raised KeyError without TaskDefinition and ignored DeploymentController and Tags."""
    create("svc", blue_green("1", {"Ref": "Task"}))
    ecs = client("ecs")
    service = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert service["deploymentController"]["type"] == "EXTERNAL"
    tags = ecs.list_tags_for_resource(resourceArn=service["serviceArn"])["tags"]
    assert {"key": "StableStack", "value": "Blue"} in tags


def test_task_sets_and_the_primary_task_set_exist_with_their_ids_in_outputs():
    """task_set, primary_task_set: moto skipped both resource types (GetAtt Id answered 500)."""
    out = create("sets", blue_green("1", {"Ref": "Task"}))
    sets = client("ecs").describe_task_sets(cluster="c", service="s")["taskSets"]
    by_id = {t["id"]: t for t in sets}
    assert by_id[out["BlueTaskSet"]]["externalId"] == "BlueStack"
    assert by_id[out["GreenTaskSet"]]["loadBalancers"][0]["targetGroupArn"] == TG_GREEN
    assert by_id[out["BlueTaskSet"]]["status"] == "PRIMARY"


def test_a_stack_update_replaces_the_task_set_whose_definition_changed_and_keeps_the_other():
    """stack_update_dependents: moto compared raw text, so a task set whose Ref target changed never updated."""
    before = create("upd", blue_green("1", {"Ref": "Task"}))
    # Blue pinned to its live revision; the task definition gets a new version.
    after = update("upd", blue_green("2", before["Task"]))
    assert after["BlueTaskSet"] == before["BlueTaskSet"]
    assert after["GreenTaskSet"] != before["GreenTaskSet"]
    green = client("ecs").describe_task_sets(cluster="c", service="s", taskSets=[after["GreenTaskSet"]])["taskSets"][0]
    assert green["taskDefinition"] == after["Task"] != before["Task"]


def test_use_previous_value_works_for_a_parameter_that_took_its_default():
    """use_previous_value: moto raised KeyError for UsePreviousValue on a defaulted parameter."""
    template = {
        "Parameters": {"Size": {"Type": "String", "Default": "small"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}}},
        "Outputs": {"Size": {"Value": {"Ref": "Size"}}},
    }
    create("params", template)
    template["Resources"]["Other"] = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "u"}}
    out = update("params", template, Parameters=[{"ParameterKey": "Size", "UsePreviousValue": True}])
    assert out["Size"] == "small"


def test_a_template_needs_its_capabilities_and_the_summary_names_them():
    """capabilities: moto ignored capabilities and GetTemplateSummary named none."""
    cfn = client("cloudformation")
    plain = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "c"}}}}
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}}
    with_role = {"Resources": {**plain["Resources"], "Role": role}}
    named = {"Resources": {**plain["Resources"], "Role": {**role, "Properties": {**role["Properties"], "RoleName": "r"}}}}
    summary = lambda t: cfn.get_template_summary(TemplateBody=json.dumps(t)).get("Capabilities", [])  # noqa: E731
    assert (summary(plain), summary(with_role), summary(named)) == ([], ["CAPABILITY_IAM"], ["CAPABILITY_NAMED_IAM"])
    create("caps", plain)
    with pytest.raises(cfn.exceptions.InsufficientCapabilitiesException):
        update("caps", with_role)
    with pytest.raises(cfn.exceptions.InsufficientCapabilitiesException):
        update("caps", named, Capabilities=["CAPABILITY_IAM"])
    update("caps", named, Capabilities=["CAPABILITY_NAMED_IAM"])
    with pytest.raises(cfn.exceptions.InsufficientCapabilitiesException):
        create("caps-2", with_role)


def test_a_state_machine_definition_comes_from_s3_with_its_substitutions():
    """state_machine: moto ignored DefinitionS3Location and DefinitionSubstitutions."""
    s3 = client("s3")
    s3.create_bucket(Bucket="code")
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": "${Seconds}", "End": True}}}
    s3.put_object(Bucket="code", Key="sm.json", Body=json.dumps(definition).replace('"${Seconds}"', "${Seconds}"))
    create("sm", {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "m",
                    "RoleArn": "arn:aws:iam::123456789012:role/sfn",
                    "DefinitionS3Location": {"Bucket": "code", "Key": "sm.json"},
                    "DefinitionSubstitutions": {"Seconds": 7},
                },
            }
        },
        "Outputs": {"Arn": {"Value": {"Ref": "Machine"}}},
    })
    arn = outputs("sm")["Arn"]
    loaded = json.loads(client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"])
    assert loaded["States"]["Wait"]["Seconds"] == 7


def test_a_function_url_points_at_the_local_lambda_endpoint(monkeypatch):
    """function_url: moto had no AWS::Lambda::Url."""
    monkeypatch.setenv("ECS_CANARY_LAMBDA_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("ECS_CANARY_FUNCTION_PREFIX", "ecs-canary-")
    out = create("url", {
        "Resources": {"Url": {"Type": "AWS::Lambda::Url", "Properties": {
            "TargetFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:ecs-canary-approval-api",
            "AuthType": "NONE"}}},
        "Outputs": {"Url": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}}},
    })
    assert out["Url"] == "http://127.0.0.1:9000/lambda-url/approval-api/"


@pytest.fixture
def lambda_endpoint(monkeypatch):
    """A stand-in for the launcher's Lambda routing: the invocations it received."""
    received: list[tuple[str, dict]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MOTO_PORT", str(server.server_address[1]))
    yield received
    server.shutdown()


def wait_for(received: list, count: int) -> None:
    deadline = time.time() + 10
    while len(received) < count and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)


def test_a_rate_schedule_fires_its_lambda_target_and_matches_no_events(lambda_endpoint, bad_day):
    """scheduled_rules: moto never fired a ScheduleExpression, and a scheduled rule matched every event."""
    from ecs_canary_moto_plugin import scheduled_rules

    bad_day.configure({"scheduleMinuteSeconds": 0.3})
    events = client("events")
    arn = events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule="every-minute", Targets=[{"Id": "t", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:watch"}])
    events.put_events(Entries=[{"Source": "app", "DetailType": "Other", "Detail": "{}"}])
    wait_for(lambda_endpoint, 2)
    fired = lambda_endpoint[:2]
    assert [event["detail-type"] for _, event in fired] == ["Scheduled Event", "Scheduled Event"], fired
    assert fired[0][1]["source"] == "aws.events"
    assert fired[0][1]["resources"] == [arn]
    # A long minute stops the clock; a run on request has been answered
    # when fire_now returns.
    bad_day.configure({"scheduleMinuteSeconds": 3600})
    time.sleep(0.5)
    count = len(lambda_endpoint)
    assert scheduled_rules.fire_now() == [arn]
    assert len(lambda_endpoint) == count + 1, lambda_endpoint
    assert lambda_endpoint[-1][1]["detail-type"] == "Scheduled Event"
    events.disable_rule(Name="every-minute")
    bad_day.configure({"scheduleMinuteSeconds": 0.3})
    time.sleep(0.5)
    count = len(lambda_endpoint)
    time.sleep(0.8)
    assert len(lambda_endpoint) == count, "a disabled rule does not fire"
    assert scheduled_rules.fire_now() == [], "nor on request"


def test_eventbridge_delivers_to_lambda_targets(lambda_endpoint):
    """eventbridge_lambda: moto did not deliver to Lambda targets."""
    events = client("events")
    events.put_rule(Name="pushes", EventPattern=json.dumps({"source": ["aws.ecr"]}))
    events.put_targets(Rule="pushes", Targets=[{"Id": "t", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:trigger"}])
    events.put_events(Entries=[{"Source": "aws.ecr", "DetailType": "ECR Image Action", "Detail": json.dumps({"result": "SUCCESS"})}])
    events.put_events(Entries=[{"Source": "aws.s3", "DetailType": "Object Created", "Detail": "{}"}])
    wait_for(lambda_endpoint, 1)
    assert len(lambda_endpoint) == 1, lambda_endpoint
    path, event = lambda_endpoint[0]
    assert "function%3Atrigger" in path
    assert event["source"] == "aws.ecr" and event["detail"]["result"] == "SUCCESS"


def test_alarms_start_without_data_and_their_state_changes_reach_eventbridge(lambda_endpoint):
    """alarm_state_change: moto started alarms in OK and emitted no "CloudWatch Alarm State Change"."""
    events, cloudwatch = client("events"), client("cloudwatch")
    events.put_rule(Name="alarms", EventPattern=json.dumps({
        "source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}))
    events.put_targets(Rule="alarms", Targets=[{"Id": "f", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:guard"}])
    cloudwatch.put_metric_alarm(
        AlarmName="web-5xx", Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=10, ComparisonOperator="GreaterThanThreshold")
    alarm = cloudwatch.describe_alarms(AlarmNames=["web-5xx"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx above 10")
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="still")  # no change: no event
    wait_for(lambda_endpoint, 1)
    assert len(lambda_endpoint) == 1, lambda_endpoint
    event = lambda_endpoint[0][1]
    assert event["source"] == "aws.cloudwatch" and event["resources"] == [alarm["AlarmArn"]]
    assert event["detail"]["alarmName"] == "web-5xx"
    assert event["detail"]["state"]["value"] == "ALARM"
    assert event["detail"]["state"]["reason"] == "5xx above 10"
    assert event["detail"]["previousState"]["value"] == "INSUFFICIENT_DATA"


def test_no_value_is_dropped_from_lists():
    """no_value: moto kept AWS::NoValue as null in lists."""
    task = task_definition("1")
    task["Properties"]["ContainerDefinitions"].append(
        {"Fn::If": ["Never", {"Name": "debug", "Image": "busybox", "Memory": 64}, {"Ref": "AWS::NoValue"}]}
    )
    out = create("novalue", {
        "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
        "Resources": {"Task": task},
        "Outputs": {"Arn": {"Value": {"Ref": "Task"}}},
    })
    containers = client("ecs").describe_task_definition(taskDefinition=out["Arn"])["taskDefinition"]["containerDefinitions"]
    assert [c["name"] for c in containers] == ["web"]


def test_every_patch_has_a_smoke_test():
    """A new patch module comes with a test that names it, and is applied.

    The modules are read from the package's directory, not from a list kept
    by hand (that list once missed email_confirmation).
    """
    import pkgutil

    source = open(__file__).read()
    applied = {patch.__name__.rsplit(".", 1)[-1] for patch in ecs_canary_moto_plugin.PATCHES}
    modules = [m.name for m in pkgutil.iter_modules(ecs_canary_moto_plugin.__path__) if not m.name.startswith("_")]
    assert "email_confirmation" in modules
    for name in modules:
        assert name in applied, f"{name} is not in PATCHES: the launcher would not apply it"
        if name == "local_lambda":  # a helper of function_url and eventbridge_lambda
            continue
        assert f'"""{name}' in source or f", {name}" in source, f"no smoke test names {name}"


@pytest.fixture
def bad_day():
    from ecs_canary_moto_plugin import bad_day as controls

    yield controls
    controls.reset()


def test_bad_day_slow_and_failing_stack_updates(bad_day):
    """bad_day: moto completed every stack update at once and none ever failed."""
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "a"}}}}
    create("slow", template)
    cfn = client("cloudformation")
    status = lambda: cfn.describe_stacks(StackName="slow")["Stacks"][0]  # noqa: E731

    bad_day.configure({"stackUpdateSeconds": 0.5})
    template["Resources"]["Other"] = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "b"}}
    cfn.update_stack(StackName="slow", TemplateBody=json.dumps(template))
    assert status()["StackStatus"] == "UPDATE_IN_PROGRESS"
    time.sleep(0.6)
    assert status()["StackStatus"] == "UPDATE_COMPLETE"

    bad_day.configure({"stackUpdateSeconds": 0, "failNextStackUpdate": "Resource handler returned message: boom"})
    failing = dict(template, Resources=dict(template["Resources"], Third={"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "c"}}))
    cfn.update_stack(StackName="slow", TemplateBody=json.dumps(failing))
    stack = status()
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "boom" in stack.get("StackStatusReason", ""), stack
    assert "Third" not in cfn.get_template(StackName="slow")["TemplateBody"]
    # Only the next update fails.
    cfn.update_stack(StackName="slow", TemplateBody=json.dumps(failing))
    assert status()["StackStatus"] == "UPDATE_COMPLETE"
    # Per stack: only the named stack's next update fails.
    bad_day.configure({"failNextStackUpdate": {"other": "not this one", "slow": "this one"}})
    fourth = dict(failing, Resources=dict(failing["Resources"], Fourth={"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "d"}}))
    cfn.update_stack(StackName="slow", TemplateBody=json.dumps(fourth))
    assert status()["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert status().get("StackStatusReason") == "this one"
    assert bad_day.settings()["failNextStackUpdate"] == {"other": "not this one"}


def test_an_update_in_progress_refuses_another_but_recognises_its_own_retry(bad_day):
    """update_in_progress: moto updated a stack that was still updating and ignored ClientRequestToken."""
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "a"}}}}
    create("busy", template)
    cfn = client("cloudformation")
    bad_day.configure({"stackUpdateSeconds": 5})
    second = dict(template, Resources=dict(template["Resources"], B={"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "b"}}))
    cfn.update_stack(StackName="busy", TemplateBody=json.dumps(second), ClientRequestToken="deploy-1")
    # The same request again (a retry): accepted, nothing new.
    cfn.update_stack(StackName="busy", TemplateBody=json.dumps(second), ClientRequestToken="deploy-1")
    third = dict(second, Resources=dict(second["Resources"], C={"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "c"}}))
    for token in ("deploy-2", None):
        with pytest.raises(cfn.exceptions.ClientError) as refused:
            kwargs = {"ClientRequestToken": token} if token else {}
            cfn.update_stack(StackName="busy", TemplateBody=json.dumps(third), **kwargs)
        assert "UPDATE_IN_PROGRESS state and can not be updated" in str(refused.value)


def test_bad_day_task_sets_that_stabilize_slowly_or_never(bad_day):
    """bad_day: moto reported every task set STEADY_STATE at once."""
    bad_day.configure({"taskSetStabilizeSeconds": 0.5})
    out = create("stabilize", blue_green("1", {"Ref": "Task"}))
    ecs_client = client("ecs")
    stability = lambda: {  # noqa: E731
        t["id"]: t["stabilityStatus"] for t in ecs_client.describe_task_sets(cluster="c", service="s")["taskSets"]
    }
    assert stability()[out["GreenTaskSet"]] == "STABILIZING"
    time.sleep(0.6)
    assert stability()[out["GreenTaskSet"]] == "STEADY_STATE"

    bad_day.configure({"taskSetStabilizeSeconds": 0, "neverStabilize": True})
    after = update("stabilize", blue_green("2", out["Task"]))
    assert stability()[after["GreenTaskSet"]] == "STABILIZING"
    assert stability()[after["BlueTaskSet"]] == "STEADY_STATE", "the untouched task set stays steady"
    # Per service: only the named services' new task sets.
    bad_day.configure({"neverStabilize": ["another-service"]})
    healthy = update("stabilize", blue_green("3", after["Task"]))
    assert stability()[healthy["GreenTaskSet"]] == "STEADY_STATE"


def test_bad_day_listener_rules_read_back_late(bad_day):
    """bad_day: moto's rules read back what was written at once (ELBv2 lags)."""
    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.describe_subnets(SubnetIds=[SUBNET[0][0]])["Subnets"][0]["VpcId"]
    second = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    lb = elb.create_load_balancer(Name="lb", Subnets=[SUBNET[0][0], second])["LoadBalancers"][0]["LoadBalancerArn"]
    groups = [
        elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
        for name in ("blue", "green")
    ]
    listener = elb.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    forward = lambda blue, green: [{"Type": "forward", "ForwardConfig": {"TargetGroups": [  # noqa: E731
        {"TargetGroupArn": groups[0], "Weight": blue}, {"TargetGroupArn": groups[1], "Weight": green}]}}]
    rule = elb.create_rule(
        ListenerArn=listener, Priority=10, Actions=forward(100, 0),
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
    )["Rules"][0]["RuleArn"]
    weights = lambda: [t["Weight"] for t in elb.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"][0]["ForwardConfig"]["TargetGroups"]]  # noqa: E731

    bad_day.configure({"ruleReadLagSeconds": 0.5})
    elb.modify_rule(RuleArn=rule, Actions=forward(90, 10))
    assert weights() == [100, 0], "read back before the change settles"
    time.sleep(0.6)
    assert weights() == [90, 10]


def waiting_task_token(sfn, execution: str) -> str:  # noqa: ANN001
    """The task token of the ``sqs:sendMessage.waitForTaskToken`` task ``execution`` waits in.

    Read from the execution's own history (the task's resolved parameters),
    once the message is submitted: the task then waits for its token. Not
    from the queue: under the in-process mock, a message the interpreter's
    thread submitted (its ``TaskSubmitted`` event carries the MessageId) was
    sometimes never seen by a receiver polling the same queue, which failed
    these tests about one run in five with "the task never started".
    """
    deadline = time.time() + 10
    events: list = []
    while time.time() < deadline:
        events = sfn.get_execution_history(executionArn=execution)["events"]
        if any(e["type"] == "TaskSubmitted" for e in events):
            scheduled = next(e for e in events if e["type"] == "TaskScheduled")
            parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
            return parameters["MessageBody"]["token"]
        time.sleep(0.05)
    raise AssertionError(f"the task never started: {events}")


def test_stop_execution_stops_and_every_status_change_reaches_eventbridge(lambda_endpoint):
    """execution_end: moto's StopExecution left a waiting execution RUNNING, and no status change reached EventBridge."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    try:
        sqs, events, sfn = client("sqs"), client("events"), client("stepfunctions")
        work = sqs.create_queue(QueueName="work")["QueueUrl"]
        events.put_rule(Name="ends", EventPattern=json.dumps({
            "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"]}))
        events.put_targets(Rule="ends", Targets=[{"Id": "f", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:reconcile"}])
        machine = sfn.create_state_machine(
            name="waits",
            roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": work, "MessageBody": {"token.$": "$$.Task.Token"}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True}, "Caught": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, name="x", input='{"service": "web"}')["executionArn"]
        token = waiting_task_token(sfn, arn)

        sfn.stop_execution(executionArn=arn, error="AlarmTriggered", cause="web-5xx is in ALARM")

        described = sfn.describe_execution(executionArn=arn)
        assert described["status"] == "ABORTED" and "stopDate" in described
        assert (described.get("error"), described.get("cause")) == ("AlarmTriggered", "web-5xx is in ALARM")
        with pytest.raises(sfn.exceptions.ClientError):
            sfn.send_task_success(taskToken=token, output="{}")
        time.sleep(0.3)
        assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED", "a Catch ran after the stop"
        wait_for(lambda_endpoint, 2)
        statuses = []
        for _, event in lambda_endpoint:
            assert event["source"] == "aws.states" and event["resources"] == [arn]
            assert json.loads(event["detail"]["input"]) == {"service": "web"}
            statuses.append(event["detail"]["status"])
            if event["detail"]["status"] == "ABORTED":
                assert event["detail"]["error"] == "AlarmTriggered", event["detail"]
        # EventBridge does not promise an order.
        assert sorted(statuses) == ["ABORTED", "RUNNING"], statuses

        lambda_endpoint.clear()
        failing = sfn.create_state_machine(
            name="fails", roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Rejected", "Cause": "no"}}}),
        )["stateMachineArn"]
        sfn.start_execution(stateMachineArn=failing, name="y")
        wait_for(lambda_endpoint, 2)
        ended = {event["detail"]["status"]: event["detail"] for _, event in lambda_endpoint}
        assert sorted(ended) == ["FAILED", "RUNNING"], ended
        assert (ended["FAILED"]["error"], ended["FAILED"]["cause"]) == ("Rejected", "no")
    finally:
        default_user_config["stepfunctions"] = {"execute_state_machine": False}


def test_send_task_failure_keeps_its_cause():
    """task_failure_cause: moto's SendTaskFailure dropped the cause."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    try:
        sqs, sfn = client("sqs"), client("stepfunctions")
        work = sqs.create_queue(QueueName="failing-work")["QueueUrl"]
        machine = sfn.create_state_machine(
            name="fails-with-cause",
            roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=json.dumps({"StartAt": "Wait", "States": {
                "Wait": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": work, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
                    "End": True},
                "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}}}),
        )["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, name="y", input="{}")["executionArn"]
        token = waiting_task_token(sfn, arn)
        sfn.send_task_failure(taskToken=token, error="AlarmTriggered", cause="the alarm web-5xx is in ALARM")
        deadline = time.time() + 10
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.time() < deadline:
            time.sleep(0.05)
        described = sfn.describe_execution(executionArn=arn)
        assert described["status"] == "FAILED"
        assert described.get("error") == "AlarmTriggered"
        assert described.get("cause") == "the alarm web-5xx is in ALARM"
    finally:
        default_user_config["stepfunctions"] = {"execute_state_machine": False}


def test_get_metric_data_computes_percentiles():
    """metric_percentiles: moto answered HTTP 500 for a p99 statistic over data."""
    import datetime as dt

    cloudwatch = client("cloudwatch")
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    dimensions = [{"Name": "LoadBalancer", "Value": "app/lb/1"}, {"Name": "TargetGroup", "Value": "targetgroup/green/2"}]
    cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[{
        "MetricName": "TargetResponseTime", "Dimensions": dimensions, "Timestamp": now,
        "Values": [0.1, 0.2, 0.9], "Counts": [90, 9, 1]}])
    query = lambda stat: {"Id": stat, "MetricStat": {  # noqa: E731
        "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime", "Dimensions": dimensions},
        "Period": 300, "Stat": stat}}
    results = cloudwatch.get_metric_data(
        MetricDataQueries=[query("p50"), query("p99"), query("p99.9"), query("Average")],
        StartTime=now - dt.timedelta(minutes=1), EndTime=now + dt.timedelta(minutes=4),
    )["MetricDataResults"]
    values = {r["Id"]: r["Values"] for r in results}
    assert values["p50"] == [0.1]
    assert values["p99"] == [0.2]
    assert values["p99.9"] == [0.9]
    assert abs(values["Average"][0] - 0.117) < 1e-9


def test_an_email_subscription_waits_for_its_confirmation_and_records_authentication():
    """email_confirmation: moto confirmed email subscriptions at once and checked no token."""
    from ecs_canary_moto_plugin import email_confirmation

    sns = client("sns")
    topic = sns.create_topic(Name="approvals")["TopicArn"]
    arn = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com")["SubscriptionArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["PendingConfirmation"] == "true"
    [confirmation] = [c for c in email_confirmation.confirmations() if c["topicArn"] == topic]
    token = confirmation["url"].split("Token=")[1]
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.confirm_subscription(TopicArn=topic, Token="0" * 64)
    confirmed = sns.confirm_subscription(TopicArn=topic, Token=token, AuthenticateOnUnsubscribe="true")
    assert confirmed["SubscriptionArn"] == arn
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert (attributes["PendingConfirmation"], attributes["ConfirmationWasAuthenticated"]) == ("false", "true")


def test_an_aws_iam_function_url_is_on_the_emulator(monkeypatch):
    """function_url: with AuthType AWS_IAM, the URL is the launcher's, which verifies signatures."""
    monkeypatch.setenv("ECS_CANARY_LAMBDA_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("ECS_CANARY_FUNCTION_PREFIX", "ecs-canary-")
    monkeypatch.setenv("MOTO_PORT", "4599")
    out = create("iamurl", {
        "Resources": {"Url": {"Type": "AWS::Lambda::Url", "Properties": {
            "TargetFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:ecs-canary-operator-api",
            "AuthType": "AWS_IAM"}}},
        "Outputs": {"Url": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}}},
    })
    assert out["Url"] == "http://127.0.0.1:4599/lambda-url-iam/operator-api/"


def test_the_launcher_serves_aws_iam_function_urls_to_signed_callers_only(monkeypatch):
    """launcher: a SigV4-signed request from an allowed IAM identity reaches the
    function with the caller in requestContext.authorizer.iam; any other gets 403."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from werkzeug.test import Client

    import launcher

    received: list[dict] = []

    class Function(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"statusCode": 201, "headers": {"content-type": "application/json"},
                               "body": json.dumps({"you": received[-1]["requestContext"]["authorizer"]["iam"]["userArn"]})})
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Function)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("ECS_CANARY_FUNCTION_PREFIX", "")

    def untouched(environ, start_response):  # noqa: ANN001,ANN202
        start_response("418 Teapot", [])
        return [b""]

    app = Client(launcher.IamFunctionUrls(untouched, endpoint, 5.0))
    iam = client("iam")
    allowed = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl", "Resource": "*"}]})
    keys = {}
    for user, policy in (("alice", allowed), ("nobody", None)):
        iam.create_user(UserName=user)
        if policy:
            iam.put_user_policy(UserName=user, PolicyName="operator", PolicyDocument=policy)
        made = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (made["AccessKeyId"], made["SecretAccessKey"])

    def call(credentials: tuple[str, str] | None, body: bytes = b'{"service": "c/s"}'):  # noqa: ANN202
        url = "http://127.0.0.1:4566/lambda-url-iam/operator-api/status"
        request = AWSRequest(method="POST", url=url, data=body,
                             headers={"Content-Type": "application/json", "Host": "127.0.0.1:4566"})
        if credentials:
            SigV4Auth(Credentials(*credentials), "lambda", REGION).add_auth(request)
        return app.post("/lambda-url-iam/operator-api/status", data=body, headers=dict(request.headers.items()))

    try:
        ok = call(keys["alice"])
        assert ok.status_code == 201, ok.get_data()
        assert json.loads(ok.get_data()) == {"you": "arn:aws:iam::123456789012:user/alice"}
        assert received[-1]["rawPath"] == "/status"
        assert json.loads(received[-1]["body"]) == {"service": "c/s"}
        for refused in (None, (keys["alice"][0], "wrong-secret"), ("AKIAUNKNOWN000000000", "x"), keys["nobody"]):
            answer = call(refused)
            assert answer.status_code == 403, (refused, answer.get_data())
        assert len(received) == 1, "a refused request never reaches the function"
        # Elsewhere, the app answers.
        assert app.get("/other").status_code == 418
    finally:
        server.shutdown()


def native_service(hook_minutes: int = 60, action: str = "ROLLBACK", strategy: str = "LINEAR") -> dict:
    """A load balancer with a production rule on two target groups, and a
    service with ECS's own linear rollout (25 % steps) and a pause hook before
    each step."""
    elbv2, ecs_client = client("elbv2"), client("ecs")
    subnet_id, group = SUBNET[0]
    ec2 = client("ec2")
    vpc = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    balancer = elbv2.create_load_balancer(Name="lb", Subnets=[subnet_id, other])["LoadBalancers"][0]["LoadBalancerArn"]
    groups = [elbv2.create_target_group(Name=n, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
              for n in ("prod", "alt")]
    listener = elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80,
                                     DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])["Listeners"][0]["ListenerArn"]
    rule = elbv2.create_rule(ListenerArn=listener, Priority=1, Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
                             Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                                 {"TargetGroupArn": groups[0], "Weight": 100}, {"TargetGroupArn": groups[1], "Weight": 0}]}}])["Rules"][0]["RuleArn"]
    ecs_client.create_cluster(clusterName="c")
    definitions = [ecs_client.register_task_definition(family="app", containerDefinitions=[
        {"name": "web", "image": f"repo/web:{v}", "memory": 512}])["taskDefinition"]["taskDefinitionArn"] for v in ("1", "2")]
    ecs_client.create_service(
        cluster="c", serviceName="n", taskDefinition=definitions[0], desiredCount=2,
        deploymentController={"type": "ECS"},
        loadBalancers=[{"targetGroupArn": groups[0], "containerName": "web", "containerPort": 80,
                        "advancedConfiguration": {"alternateTargetGroupArn": groups[1], "productionListenerRule": rule,
                                                  "roleArn": "arn:aws:iam::123456789012:role/ecs"}}],
        deploymentConfiguration={"strategy": strategy, "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 0},
                                 "bakeTimeInMinutes": 0,
                                 "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
                                                     "timeoutConfiguration": {"timeoutInMinutes": hook_minutes, "action": action}}]},
    )
    return {"rule": rule, "groups": groups, "definitions": definitions}


def started_native(**service) -> tuple[dict, object, str]:  # noqa: ANN003
    """A native service (``native_service(**service)``) updated to its second
    task definition: the service, an ECS client and the deployment's ARN."""
    native = native_service(**service)
    ecs_client = client("ecs")
    ecs_client.update_service(cluster="c", service="n", taskDefinition=native["definitions"][1])
    arn = ecs_client.list_service_deployments(cluster="c", service="n")["serviceDeployments"][0]["serviceDeploymentArn"]
    return native, ecs_client, arn


def awaiting_hook(ecs_client, arn: str) -> dict:  # noqa: ANN001
    deadline = time.time() + 10
    while time.time() < deadline:
        described = ecs_client.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        hooks = [h for h in described.get("lifecycleHookDetails", []) if h["status"] == "AWAITING_ACTION"]
        if hooks:
            return {"deployment": described, "hook": hooks[0]}
        time.sleep(0.05)
    raise AssertionError("no hook awaits action")


def deployment_until(ecs_client, arn: str, status: str) -> dict:  # noqa: ANN001
    """The service deployment once it is `status` (it fails after 10 s)."""
    deadline = time.time() + 10
    while True:
        described = ecs_client.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        if described["status"] == status or time.time() > deadline:
            assert described["status"] == status, described
            return described
        time.sleep(0.05)


def production_weights(native: dict) -> list[int]:
    rule = client("elbv2").describe_rules(RuleArns=[native["rule"]])["Rules"][0]
    weights = {g["TargetGroupArn"]: g["Weight"] for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]}
    return [weights[group] for group in native["groups"]]


def test_native_linear_rollout_pauses_before_each_step_and_continues_or_rolls_back(lambda_endpoint, bad_day):
    """native_deployments: moto dropped ECS's own strategies and had no service deployments, pause hooks or ContinueServiceDeployment."""
    bad_day.configure({"nativeMinuteSeconds": 0.05})
    native = native_service()
    ecs_client, events = client("ecs"), client("events")
    events.put_rule(Name="hooks", EventPattern=json.dumps({"source": ["aws.ecs"], "detail-type": ["ECS Hook State Change"]}))
    events.put_targets(Rule="hooks", Targets=[{"Id": "t", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:gate"}])
    described = ecs_client.describe_services(cluster="c", services=["n"])["services"][0]
    assert described["deploymentConfiguration"]["strategy"] == "LINEAR"

    ecs_client.update_service(cluster="c", service="n", taskDefinition=native["definitions"][1])
    [brief] = ecs_client.list_service_deployments(cluster="c", service="n")["serviceDeployments"]
    first = awaiting_hook(ecs_client, brief["serviceDeploymentArn"])
    assert production_weights(native) == [100, 0], "nothing moves before the first pause is continued"
    wait_for(lambda_endpoint, 1)
    path, event = lambda_endpoint[0]
    assert event["detail-type"] == "ECS Hook State Change"
    assert event["detail"]["eventName"] == "HOOK_AWAITING_ACTION"
    assert event["detail"]["hookId"] == first["hook"]["hookId"]

    ecs_client.continue_service_deployment(serviceDeploymentArn=brief["serviceDeploymentArn"],
                                           hookId=first["hook"]["hookId"], action="CONTINUE")
    second = awaiting_hook(ecs_client, brief["serviceDeploymentArn"])
    assert second["hook"]["hookId"] != first["hook"]["hookId"]
    assert production_weights(native) == [75, 25]
    with pytest.raises(ecs_client.exceptions.ClientError):
        ecs_client.continue_service_deployment(serviceDeploymentArn=brief["serviceDeploymentArn"],
                                               hookId=first["hook"]["hookId"], action="CONTINUE")
    revisions = ecs_client.describe_service_revisions(serviceRevisionArns=[
        second["deployment"]["targetServiceRevision"]["arn"]])["serviceRevisions"]
    assert revisions[0]["containerImages"][0]["image"] == "repo/web:2"

    ecs_client.continue_service_deployment(serviceDeploymentArn=brief["serviceDeploymentArn"],
                                           hookId=second["hook"]["hookId"], action="ROLLBACK")
    described = deployment_until(ecs_client, brief["serviceDeploymentArn"], "ROLLBACK_SUCCESSFUL")
    assert described["statusReason"] == "Rolled back: a lifecycle hook asked for it."
    assert production_weights(native) == [100, 0]


def test_native_hook_times_out_with_its_action_and_a_stop_ends_the_deployment(bad_day):
    """native_deployments: a pause hook's own timeout action, and StopServiceDeployment."""
    bad_day.configure({"nativeMinuteSeconds": 0.05})
    native, ecs_client, arn = started_native(hook_minutes=20, action="CONTINUE")
    first = awaiting_hook(ecs_client, arn)["hook"]["hookId"]
    # The hook's 20 minutes are 1 s here: then it CONTINUEs by itself, and
    # the next step's hook waits.
    deadline = time.time() + 10
    while awaiting_hook(ecs_client, arn)["hook"]["hookId"] == first and time.time() < deadline:
        time.sleep(0.05)
    assert production_weights(native) == [75, 25]
    with pytest.raises(ecs_client.exceptions.ClientError):
        ecs_client.update_service(cluster="c", service="n", taskDefinition=native["definitions"][0])
    ecs_client.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    deployment_until(ecs_client, arn, "ROLLBACK_SUCCESSFUL")
    assert production_weights(native) == [100, 0]
    with pytest.raises(ecs_client.exceptions.ClientError):
        ecs_client.continue_service_deployment(serviceDeploymentArn=arn + "x", hookId="h", action="CONTINUE")


def test_native_hook_nobody_answers_rolls_back_and_says_so(bad_day):
    """native_deployments: a hook's ROLLBACK timeout action, told apart from an answered ROLLBACK by the status reason."""
    bad_day.configure({"nativeMinuteSeconds": 0.05})
    native, ecs_client, arn = started_native(hook_minutes=20, action="ROLLBACK")
    described = deployment_until(ecs_client, arn, "ROLLBACK_SUCCESSFUL")
    assert described["statusReason"] == "Rolled back: a lifecycle hook timed out."
    assert production_weights(native) == [100, 0]


def test_native_slow_step_holds_the_shift_until_released_and_a_stop_ends_it(bad_day):
    """native_deployments: a bad day's slow traffic step (nativeStepSeconds), held and released, or stopped."""
    bad_day.configure({"nativeMinuteSeconds": 0.05, "nativeStepSeconds": 600})
    native, ecs_client, arn = started_native()
    first = awaiting_hook(ecs_client, arn)["hook"]["hookId"]
    ecs_client.continue_service_deployment(serviceDeploymentArn=arn, hookId=first, action="CONTINUE")
    time.sleep(0.5)
    described = ecs_client.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert described["status"] == "IN_PROGRESS"
    assert not [h for h in described["lifecycleHookDetails"] if h["status"] == "AWAITING_ACTION"]
    assert production_weights(native) == [100, 0], "the step is held"
    bad_day.configure({"nativeStepSeconds": 0})
    second = awaiting_hook(ecs_client, arn)["hook"]["hookId"]
    assert second != first
    assert production_weights(native) == [75, 25], "released, the step goes on"
    bad_day.configure({"nativeStepSeconds": 600})
    ecs_client.continue_service_deployment(serviceDeploymentArn=arn, hookId=second, action="CONTINUE")
    ecs_client.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    deployment_until(ecs_client, arn, "ROLLBACK_SUCCESSFUL")  # a stop ends a held step
    assert production_weights(native) == [100, 0]


def test_native_blue_green_shifts_everything_at_once_after_its_one_pause(bad_day):
    """native_deployments: BLUE_GREEN, one production shift of all traffic."""
    bad_day.configure({"nativeMinuteSeconds": 0.05})
    native, ecs_client, arn = started_native(strategy="BLUE_GREEN")
    hook = awaiting_hook(ecs_client, arn)["hook"]["hookId"]
    assert production_weights(native) == [100, 0]
    ecs_client.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook, action="CONTINUE")
    deployment_until(ecs_client, arn, "SUCCESSFUL")
    assert production_weights(native) == [0, 100]


def test_the_native_example_template_creates_a_gated_service_and_a_new_image_starts_a_rollout(bad_day):
    """service: CloudFormation's AWS::ECS::Service kept no DeploymentConfiguration, and a changed TaskDefinition started no service deployment."""
    bad_day.configure({"nativeMinuteSeconds": 0.05})
    subnet_id, group = SUBNET[0]
    ec2, elbv2, ecs_client = client("ec2"), client("elbv2"), client("ecs")
    vpc = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.3.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    balancer = elbv2.create_load_balancer(Name="lb", Subnets=[subnet_id, other])["LoadBalancers"][0]["LoadBalancerArn"]
    cluster = ecs_client.create_cluster(clusterName="c")["cluster"]["clusterArn"]
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "infra", "examples", "native.json")
    body = open(path).read()
    parameters = lambda image: [  # noqa: E731
        {"ParameterKey": k, "ParameterValue": v} for k, v in {
            "ClusterArn": cluster, "LoadBalancerArn": balancer, "VpcId": vpc, "Subnets": subnet_id,
            "SecurityGroups": group, "Image": image}.items()]
    cfn = client("cloudformation")
    cfn.create_stack(StackName="native", TemplateBody=body, Parameters=parameters("repo/web:1"), Capabilities=["CAPABILITY_IAM"])
    out = outputs("native")
    service = ecs_client.describe_services(cluster="c", services=["native-web"])["services"][0]
    assert service["deploymentConfiguration"]["strategy"] == "LINEAR"
    assert service["deploymentConfiguration"]["lifecycleHooks"][0]["targetType"] == "PAUSE"
    assert service["loadBalancers"][0]["advancedConfiguration"]["productionListenerRule"] == out["ProductionRule"]
    tags = ecs_client.list_tags_for_resource(resourceArn=service["serviceArn"])["tags"]
    assert {"key": "ecs-canary:gate", "value": "true"} in tags

    cfn.update_stack(StackName="native", TemplateBody=body, Parameters=parameters("repo/web:2"), Capabilities=["CAPABILITY_IAM"])
    [brief] = ecs_client.list_service_deployments(cluster="c", service="native-web")["serviceDeployments"]
    paused = awaiting_hook(ecs_client, brief["serviceDeploymentArn"])
    target = paused["deployment"]["targetServiceRevision"]["arn"]
    revision = ecs_client.describe_service_revisions(serviceRevisionArns=[target])["serviceRevisions"][0]
    assert revision["containerImages"][0]["image"] == "repo/web:2"
    rule = elbv2.describe_rules(RuleArns=[out["ProductionRule"]])["Rules"][0]
    weights = {g["TargetGroupArn"]: g["Weight"] for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]}
    assert weights == {out["ProductionTargetGroup"]: 100, out["AlternateTargetGroup"]: 0}
