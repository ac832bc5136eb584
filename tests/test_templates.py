"""The CloudFormation templates: lint-clean with cfn-lint, and consistent with each other, with
the state machine definition and with the functions' build output."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
FUNCTIONS = ["privatelink-security-group", "privatelink-endpoint", "privatelink-acceptance-waiter",
             "privatelink-validator"]


def load(name: str) -> dict[str, Any]:
    template, matches = decode_str((TEMPLATES / name).read_text())
    assert not matches, matches
    return template


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    # As `make lint`: informational checks and the serverless rules too.
    return subprocess.run([str(CFN_LINT), "--include-checks", "I", "-a", "cfn_lint_serverless.rules", "--",
                           str(path)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.glob("*.yaml")))
def test_every_template_lints_clean(name):
    done = lint(TEMPLATES / name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_state_machine_definition_lints_clean_inlined_in_the_functions_template(tmp_path):
    # DefinitionSubstitutions as CloudFormation applies them in the aws partition (cfn-lint's
    # state-language schema knows only that partition's service integration ARNs).
    definition = json.loads((TEMPLATES / "acceptance-waiter.asl.json").read_text().replace("${Partition}", "aws"))
    text = (TEMPLATES / "functions.yaml").read_text()
    # What `aws cloudformation package` would upload, inlined where cfn-lint reads state machines.
    inlined = text.replace("DefinitionS3Location: acceptance-waiter.asl.json",
                           "Definition: " + json.dumps(definition))
    assert inlined != text
    path = tmp_path / "functions-inlined.yaml"
    path.write_text(inlined)
    done = lint(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_definitions_placeholders_are_all_substituted_by_the_functions_template():
    placeholders = set(re.findall(r"\$\{(\w+)\}", (TEMPLATES / "acceptance-waiter.asl.json").read_text()))
    machine = load("functions.yaml")["Resources"]["AcceptanceLoop"]["Properties"]
    assert placeholders == set(machine["DefinitionSubstitutions"]) == {"AcceptanceWaiterFunctionArn",
                                                                               "Partition"}


def test_the_function_code_is_the_zips_cargo_lambda_builds():
    codes = [r["Properties"]["Code"] for r in load("functions.yaml")["Resources"].values()
             if r["Type"] == "AWS::Lambda::Function"]
    codes += [r["Properties"]["Code"] for r in load("validator.yaml")["Resources"].values()
              if r["Type"] == "AWS::Lambda::Function"]
    assert sorted(codes) == sorted(f"../target/lambda/{f}/bootstrap.zip" for f in FUNCTIONS)
    names = {re.search(r'^name = "(.+)"', p.read_text(), re.M).group(1)
             for p in (REPO / "functions").glob("*/Cargo.toml")}
    assert set(FUNCTIONS) <= names


# Mutations the Service Authorization Reference lists without a resource type: only `*` works.
TAKES_NO_RESOURCE = {"ec2:DeleteVpcEndpointConnectionNotifications"}


def test_roles_name_their_actions_and_scope_mutations_to_tagged_resources():
    resources = load("functions.yaml")["Resources"]
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            # A policy given only under a condition: judged as if the condition held.
            policy = policy["Fn::If"][1] if "Fn::If" in policy else policy
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in a for a in actions), (name, actions)
                mutating = [a for a in actions if a.startswith("ec2:") and not a.startswith("ec2:Describe")
                            and a not in TAKES_NO_RESOURCE]
                if mutating and statement["Resource"] == "*":
                    pytest.fail(f"{name}: {mutating} on every resource")


def test_the_consumer_example_imports_what_the_other_stacks_export():
    exports = set()
    for name in ("functions.yaml", "validator.yaml"):
        for output in load(name)["Outputs"].values():
            if "Export" in output:
                name = output["Export"]["Name"]["Fn::Sub"]
                exports.add(re.sub(r"^\$\{(AWS::StackName|ExportPrefix)\}-", "", name))
    consumer = json.dumps(load("consumer-example.yaml"))
    imported = set(re.findall(r"(?:StackName|ExportPrefix)\}-(\w+)", consumer))
    assert imported and imported <= exports, (imported, exports)


def test_every_transition_of_the_definition_leads_to_a_state():
    # cfn-lint checks the definition's schema, not where its transitions go.
    definition = json.loads((TEMPLATES / "acceptance-waiter.asl.json").read_text())
    states = definition["States"]
    targets = [definition["StartAt"]]
    for state in states.values():
        targets += [state[k] for k in ("Next", "Default") if k in state]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
    assert set(targets) <= set(states), set(targets) - set(states)
    assert any(s["Type"] == "Succeed" for s in states.values())


def test_the_functions_stack_watches_every_function_it_deploys_and_tells_its_topic():
    resources = load("functions.yaml")["Resources"]
    functions = {name for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}

    def watched(alarm: str, metric: str) -> set[str]:
        return {dimension["Value"]["Ref"] for m in alarms[alarm]["Metrics"] if "MetricStat" in m
                for dimension in m["MetricStat"]["Metric"]["Dimensions"]
                if m["MetricStat"]["Metric"]["MetricName"] == metric}

    assert watched("FunctionErrors", "Errors") == functions
    assert watched("FunctionThrottles", "Throttles") == functions
    assert watched("AcceptanceLoopFailed", "ExecutionsFailed") == {"AcceptanceLoop"}
    assert watched("AcceptanceLoopFailed", "ExecutionsTimedOut") == {"AcceptanceLoop"}
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == {"Fn::If": ["HasNotificationTopic", [{"Ref": "NotificationTopicArn"}],
                                                    {"Ref": "AWS::NoValue"}]}, name


def test_every_function_log_counts_the_answers_it_could_not_deliver_as_the_code_logs_them():
    resources = load("functions.yaml")["Resources"]
    logged = re.search(r'tracing::error!\(.*"(answer not delivered)"\);',
                       (REPO / "functions" / "core" / "src" / "cfn" / "responder.rs").read_text())
    assert logged, "the responder no longer logs an undelivered answer as the filters expect"
    filters = {r["Properties"]["LogGroupName"]["Ref"]: r["Properties"] for r in resources.values()
               if r["Type"] == "AWS::Logs::MetricFilter"}
    log_groups = {r["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for r in resources.values()
                  if r["Type"] == "AWS::Lambda::Function"}
    assert set(filters) == log_groups
    for group, metric_filter in filters.items():
        assert metric_filter["FilterPattern"] == f'{{ $.fields.message = "{logged.group(1)}" }}', group
        transformation, = metric_filter["MetricTransformations"]
        assert (transformation["MetricNamespace"], transformation["MetricName"]) == (
            "PrivateLinkLambdas", "AnswersNotDelivered")


# AWS/PrivateLinkEndpoints as the PrivateLink Guide documents it ("CloudWatch metrics for AWS
# PrivateLink"): its metrics, its dimension schema (with spaces; a per-subnet copy adds
# "Subnet Id"), and the statistics it recommends per metric.
PRIVATELINK_METRICS = {"ActiveConnections": {"Average", "Maximum", "Minimum"}, "BytesProcessed": {"Sum"},
                       "NewConnections": {"Sum"}, "PacketsDropped": {"Sum"}, "RstPacketsReceived": {"Sum"}}
PRIVATELINK_SCHEMA = ["Endpoint Type", "Service Name", "VPC Endpoint Id", "VPC Id"]


def dashboard_expressions(vpc_id: str) -> list[str]:
    """Every metric expression of the validator's dashboard, with its parameters filled in."""
    body, values = load("validator.yaml")["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(values) == {"Period"}, values
    filled = {"Period": "300", "AWS::Region": "us-east-1", "VpcId": vpc_id}
    text = re.sub(r"\$\{([\w:]+)\}", lambda m: filled[m.group(1)], body)
    widgets = json.loads(text)["widgets"]
    return [m["expression"] for w in widgets for row in w["properties"]["metrics"] for m in row if "expression" in m]


def test_the_dashboard_reads_aws_endpoint_metrics_per_endpoint_of_this_vpc_with_aws_statistics():
    searches = [e for e in dashboard_expressions("vpc-0dashboard") if "AWS/PrivateLinkEndpoints" in e]
    drawn = set()
    for expression in searches:
        found = re.fullmatch(r"SEARCH\('\{AWS/PrivateLinkEndpoints,(.+?)\} MetricName=(\"\w+\"|\([^)]*\)) (.+)', '(\w+)', 300\)",
                             expression)
        assert found, expression
        schema, names, rest, stat = found.groups()
        # The schema with its spaced names quoted, exactly: a SEARCH without it (or with
        # "Subnet Id") also matches the per-subnet series, drawing each endpoint twice.
        assert schema.split(",") == [f'"{d}"' for d in PRIVATELINK_SCHEMA], expression
        assert rest == '"VPC Id"="vpc-0dashboard"', f"this VPC's endpoints only: {expression}"
        metrics = re.findall(r'"(\w+)"', names)
        for metric in metrics:
            assert metric in PRIVATELINK_METRICS, f"{metric}: not an AWS/PrivateLinkEndpoints metric"
            assert stat in PRIVATELINK_METRICS[metric], f"{metric} read as {stat}: AWS recommends {PRIVATELINK_METRICS[metric]}"
        drawn.update(metrics)
    assert drawn == set(PRIVATELINK_METRICS), f"not drawn: {set(PRIVATELINK_METRICS) - drawn}"
