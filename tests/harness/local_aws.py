"""The resources of this project's own templates that are not custom resources, played on the
emulator with the real function binaries: what lets the stack player (tests/harness/stack.py)
deploy templates/functions.yaml, validator.yaml and quickstart.yaml as CloudFormation would.

- `AWS::Lambda::Function`: a function served under the Lambda Runtime API, with the template's
  environment. Its code is the zip the template names in S3 (the `bootstrap` inside it, which
  Lambda requires to be executable), or, for a local `Code` path the way `aws cloudformation
  package` takes it (`../target/lambda/<function>/bootstrap.zip`), the debug build of that
  function. A function starts at its first invocation, so `overrides` set before then reach it.
- `AWS::SNS::Topic` and a `lambda` `AWS::SNS::Subscription`: moto's topic, whose deliveries the
  emulator hands to a second execution environment of the subscribed function (the first may
  be busy with the event that waits for the delivery).
- `AWS::StepFunctions::StateMachine`: the acceptance loop, registered in moto; moto does not run
  executions, so when the endpoint function answers HANDED_OFF, `send` runs the loop state by
  state (tests/harness/stepfunctions.py) with the waiter function its substitutions name.
- `AWS::Events::Rule`: its target is invoked once, as the schedule's first run will.
- An Update of a function (`update`): its new code and configuration, same name and ARN.
- Every other type (roles, log groups, alarms, dashboards, permissions, security groups, a
  gateway endpoint) has nothing to play here: it gets a physical id and placeholder attributes.
  What this does not exercise: IAM (moto does not enforce policies), the alarms and metric
  filters, Lambda's permissions, and the validator's VPC networking."""

from __future__ import annotations

import io
import json
import re
import stat
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config

from tests.harness.runtime import LambdaFunction
from tests.harness.stack import ResourceFailed
from tests.harness.stepfunctions import create_state_machine, load_definition, run_loop
from tests.harness.template import ACCOUNT_ID, REGION

REPO = Path(__file__).resolve().parents[2]
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

OnCheck = Callable[[str, int, dict[str, Any]], None]
"""(endpoint id, check number, the loop's state after the check): after each of the loop's checks."""


@dataclass
class Function:
    """A function the template made: started at its first invocation."""

    name: str
    kind: str  # privatelink-endpoint, ...: which binary
    argv: list[str]
    env: dict[str, str]
    environments: list[LambdaFunction] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.name}"


def release_of_debug_builds(directory: Path, version: str | None = None, build: str = "") -> Path:
    """A release (tools/release.py) whose zips hold a `bootstrap` that execs the debug build of the
    function: what the tests deploy, in seconds instead of a release build. `build` marks the
    scripts, so that two releases' code differs (an upgrade)."""
    import sys

    sys.path.insert(0, str(REPO / "tools"))
    import release  # noqa: PLC0415

    lambda_dir = directory / "lambda"
    for function in release.FUNCTIONS:
        (lambda_dir / function).mkdir(parents=True)
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        with zipfile.ZipFile(lambda_dir / function / "bootstrap.zip", "w") as archive:
            archive.writestr(info, f"#!/bin/sh\n# build {build}\nexec {REPO / 'target' / 'debug' / function}\n")
    return release.build({"x86_64": lambda_dir}, directory / "dist", release=version)


class LocalAws:
    def __init__(self, emulator: Any, *, on_check: OnCheck | None = None,
                 on_rule: Callable[[str, dict[str, Any], Any], None] | None = None,
                 say: Callable[[str], None] = lambda _: None):
        self.emulator = emulator
        self.env = {"AWS_ENDPOINT_URL": emulator.url, "AWS_REGION": REGION, **{
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}}
        client = lambda service: boto3.client(  # noqa: E731
            service, endpoint_url=emulator.url, region_name=REGION, **CREDENTIALS,
            config=Config(s3={"addressing_style": "path"}))
        self.s3, self.sns, self.sfn = client("s3"), client("sns"), client("stepfunctions")
        self.functions: dict[str, Function] = {}  # by ARN
        self.overrides: dict[str, dict[str, str]] = {}  # by kind: environment a test sets
        self.loops: dict[str, str] = {}  # state machine ARN -> its waiter function's ARN
        self.executions: list[str] = []  # the loops run, oldest first
        self.on_check = on_check or (lambda *_: None)
        self.on_rule = on_rule
        self.say = say
        self._code = Path(tempfile.mkdtemp(prefix="local-aws-code-"))

    # ---- the player's `others` -------------------------------------------- #

    def play(self, logical_id: str, kind: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
        name = f"{logical_id}-{uuid.uuid4().hex[:12]}"
        if kind == "AWS::Lambda::Function":
            function = self._function(properties.get("FunctionName") or name, logical_id, properties)
            self.functions[function.arn] = function
            return function.name, {"Arn": function.arn}
        if kind == "AWS::SNS::Topic":
            arn = self.sns.create_topic(Name=properties.get("TopicName") or name)["TopicArn"]
            return arn, {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]}
        if kind == "AWS::SNS::Subscription" and properties.get("Protocol") == "lambda":
            subscribed = self.functions[properties["Endpoint"]]
            arn = self.sns.subscribe(TopicArn=properties["TopicArn"], Protocol="lambda",
                                     Endpoint=subscribed.arn)["SubscriptionArn"]
            self.emulator.register_function(subscribed.arn, self._environment(subscribed, second=True))
            return arn, {}
        if kind == "AWS::StepFunctions::StateMachine":
            location = properties.get("DefinitionS3Location")
            key = location if isinstance(location, str) else (location or {}).get("Key", "")
            if not str(key).endswith("acceptance-waiter.asl.json"):
                raise ResourceFailed(logical_id, "only the acceptance loop's state machine is played locally")
            arn = create_state_machine(self.sfn, name)
            self.loops[arn] = properties["DefinitionSubstitutions"]["AcceptanceWaiterFunctionArn"]
            return arn, {"Arn": arn, "Name": name}
        if kind == "AWS::Events::Rule":
            target = properties["Targets"][0]
            event = json.loads(target["Input"])
            invocation = self.invoke(target["Arn"], event)
            if invocation.kind != "response" or not invocation.body.get("ok"):
                raise ResourceFailed(logical_id, f"the schedule's first run failed: {invocation.body}")
            if self.on_rule:
                self.on_rule(logical_id, properties, invocation)
            return name, {"Arn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}"}
        return name, {}

    def update(self, logical_id: str, kind: str, physical_id: str,
               properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
        """An Update of a resource the template changed: a function gets its new code and
        configuration under the same name and ARN (its next invocation starts the new code, as
        Lambda's does once the update is done); the other types stay as they are."""
        if kind != "AWS::Lambda::Function":
            return physical_id, {}
        old = self.function(physical_id)
        function = self._function(physical_id, logical_id, properties)
        self.functions[function.arn] = function
        subscribed = len(old.environments) > 1
        for environment in old.environments:
            environment.stop()
        if subscribed:
            self.emulator.register_function(function.arn, self._environment(function, second=True))
        return function.name, {"Arn": function.arn}

    def _function(self, name: str, logical_id: str, properties: dict[str, Any]) -> Function:
        env = {k: str(v) for k, v in properties.get("Environment", {}).get("Variables", {}).items()}
        code = properties["Code"]
        if isinstance(code, str):
            match = re.search(r"target/lambda/([\w-]+)/bootstrap\.zip$", code)
            if not match:
                raise ResourceFailed(logical_id, f"no local build for the code {code}")
            kind = match.group(1)
            return Function(name, kind, [str(REPO / "target" / "debug" / kind)], env)
        if properties.get("Architectures", ["x86_64"]) != ["x86_64"]:
            raise ResourceFailed(logical_id, "only x86_64 functions run on this machine")
        kind = Path(code["S3Key"]).stem
        try:
            body = self.s3.get_object(Bucket=code["S3Bucket"], Key=code["S3Key"])["Body"].read()
        except self.s3.exceptions.ClientError as error:
            raise ResourceFailed(logical_id, f"Error occurred while GetObject. S3 Error Code: "
                                 f"{error.response['Error']['Code']}. S3 Error Message: "
                                 f"{error.response['Error']['Message']}") from error
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            try:
                info = archive.getinfo("bootstrap")
            except KeyError:
                raise ResourceFailed(logical_id, "the zip has no bootstrap at its root") from None
            # Lambda runs `bootstrap` as it is: without the executable bit it can't start.
            if not (info.external_attr >> 16) & stat.S_IXUSR:
                raise ResourceFailed(logical_id, "bootstrap in the zip is not executable")
            directory = self._code / f"{name}-{uuid.uuid4().hex[:8]}"
            archive.extract(info, directory)
        path = directory / "bootstrap"
        path.chmod(0o755)
        return Function(name, kind, [str(path)], env)

    def _environment(self, function: Function, *, second: bool = False) -> LambdaFunction:
        wanted = 2 if second else 1
        while len(function.environments) < wanted:
            # Signed with a key named for the function (as the suite's functions are): the IAM
            # contract (tests/test_contracts.py) judges these calls against the templates too.
            principal = {"AWS_ACCESS_KEY_ID": function.kind}
            env = {**self.env, **principal, **function.env, **self.overrides.get(function.kind, {})}
            function.environments.append(LambdaFunction(function.argv, env, name=function.name))
        return function.environments[wanted - 1]

    # ---- serving ---------------------------------------------------------- #

    def function(self, arn_or_name: str) -> Function:
        for function in self.functions.values():
            if arn_or_name in (function.arn, function.name):
                return function
        raise KeyError(f"no function {arn_or_name}")

    def invoke(self, arn: str, event: dict[str, Any], timeout_s: float = 330) -> Any:
        return self._environment(self.function(arn)).invoke(event, deadline_s=timeout_s - 30,
                                                            timeout_s=timeout_s)

    def send(self, token: str, event: dict[str, Any], key: str, cfn: Any) -> dict[str, Any]:
        """CloudFormation's delivery of a custom resource event, and the answer it then reads
        (after the acceptance loop, when the function handed the event to it)."""
        invocation = self.invoke(token, event)
        if invocation.kind != "response":
            raise ResourceFailed(event["LogicalResourceId"], f"the function ended with {invocation.kind}")
        if invocation.body.get("Status") == "HANDED_OFF":
            self.run_acceptance_loop(self.function(token))
        return cfn.answer(key)

    def run_acceptance_loop(self, endpoint_function: Function) -> None:
        machine = endpoint_function.env["ACCEPTANCE_STATE_MACHINE_ARN"]
        running = self.sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
        arn = running[0]["executionArn"]
        self.executions.append(arn)
        state = json.loads(self.sfn.describe_execution(executionArn=arn)["input"])
        endpoint_id = state["VpcEndpointId"]
        self.say(f"  {endpoint_id} waits for the partner: the acceptance loop {running[0]['name']} checks "
                 f"every {state['PollIntervalSeconds']} s, or at once when the acceptance topic hears the "
                 "partner's decision")
        waiter = self._environment(self.function(self.loops[machine]))
        # Sleeps as long as the state says, at most 15 s (the topic's wake ends them sooner).
        run_loop(load_definition(), waiter, state, max_wait_s=15, execution_arn=arn,
                 on_check=lambda n, data: self.on_check(endpoint_id, n, data))

    def stop(self) -> None:
        for function in self.functions.values():
            for environment in function.environments:
                environment.stop()
