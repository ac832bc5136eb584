"""Contracts between the functions and the templates that deploy them: what the emulator can't
show, because it checks neither IAM nor network paths.

- IAM: every AWS call each function made anywhere in the suite (the emulator's journal) is
  allowed by the role its template gives that function, resource by resource and condition by
  condition; and the templates grant no action that nobody calls.
- Network: a function placed in a VPC, deployed with the template's default parameters, has
  security-group egress to every destination it must reach.
- Template rules: no hard-coded partition, a ServiceTimeout on every custom resource, state
  machine logs under /aws/vendedlogs/, the permissions boundary on every role.

The IAM evaluation models the parts of AWS's policy logic these templates use (Allow
statements, `*` and `?` wildcards, the Null, StringEquals and ForAllValues:StringEquals
operators, the aws:TagKeys key) and, per action, the
resource types and dependent actions the Service Authorization Reference lists."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from pathlib import Path
from typing import Any, Iterable

import pytest
from cfnlint.decode import decode_str

from tests.conftest import suite_journal
from tests.harness.template import ACCOUNT_ID, NO_VALUE, PARTITION, REGION, Evaluator

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"
ACCOUNT = ACCOUNT_ID

# Which role of which template each function runs as. The principal is the access key each
# function signs with in the suite (tests/conftest.py).
ROLES = {
    "privatelink-security-group": ("functions.yaml", "SecurityGroupFunctionRole"),
    "privatelink-endpoint": ("functions.yaml", "EndpointFunctionRole"),
    "privatelink-acceptance-waiter": ("functions.yaml", "WaiterFunctionRole"),
    "privatelink-validator": ("validator.yaml", "ValidatorRole"),
}

# The parameters the roles are judged with: every optional feature on, so every permission a
# function may need is granted (and so must be justified by a call).
FEATURES_ON = {
    # The topic test_acceptance.py's NOTIFICATION_TOPIC makes.
    "functions.yaml": {"NotificationTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:privatelink-notifications"},
    "validator.yaml": {"Discover": "true", "PrivateCaParameter": "/privatelink/partner-ca",
                       "Targets": '[{"Name":"api.partner.com"}]',
                       "ClientCertParameter": "/privatelink/client-certificate",
                       "ClientCertSecretName": "privatelink/client-certificate",
                       "HeadersParameter": "/privatelink/partner-headers",
                       "HeadersSecretName": "privatelink/partner-headers"},
}

# Granted actions that no function calls itself, and why they are granted all the same.
CALLED_BY_OTHERS = {
    "secretsmanager:GetSecretValue": "Parameter Store reads the secret for the validator, which asks for /aws/reference/secretsmanager/<name>",
    "logs:CreateLogStream": "Lambda writes the function's stdout to its log group",
    "logs:PutLogEvents": "Lambda writes the function's stdout to its log group",
    "ec2:CreateNetworkInterface": "Lambda attaches a function in a VPC through network interfaces",
    "ec2:DeleteNetworkInterface": "Lambda attaches a function in a VPC through network interfaces",
    "ec2:AssignPrivateIpAddresses": "Lambda attaches a function in a VPC through network interfaces",
    "ec2:UnassignPrivateIpAddresses": "Lambda attaches a function in a VPC through network interfaces",
    "ec2:DescribeSubnets#privatelink-validator": "Lambda attaches a function in a VPC through network interfaces",
    "vpce:AllowMultiRegion": "checked by EC2 on cross-Region endpoints (ServiceRegion), which the "
                             "emulator does not serve: see issue 11",
}


# --------------------------------------------------------------------------- #
# The templates, evaluated with parameters (tests/harness/template.py)
# --------------------------------------------------------------------------- #


def load(name: str) -> dict[str, Any]:
    template, problems = decode_str((TEMPLATES / name).read_text())
    assert not problems, problems
    return json.loads(json.dumps(template))  # plain dicts and strings


class Stack(Evaluator):
    """A template with parameter values, whose resources are known only by their shape."""

    def resource_ref(self, name: str) -> Any:
        if self.template["Resources"][name]["Type"] == "AWS::StepFunctions::StateMachine":
            return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:*"
        return f"<{name}>"

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self.template["Resources"][name]
        if resource["Type"] == "AWS::StepFunctions::StateMachine" and attribute == "Name":
            return "*"
        return f"<{name}.{attribute}>"

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """The resources of a type that the conditions keep, with their properties resolved."""
        return {name: self.resolve(r.get("Properties", {}))
                for name, r in self.template["Resources"].items()
                if r["Type"] == kind and ("Condition" not in r or self.condition(r["Condition"]))}

    def rules_hold(self) -> list[str]:
        """The AssertDescriptions of the Rules that fail with these parameters."""
        failed = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"]):
                continue
            failed += [a["AssertDescription"] for a in rule["Assertions"] if not self.resolve(a["Assert"])]
        return failed


# --------------------------------------------------------------------------- #
# IAM
# --------------------------------------------------------------------------- #


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(stack: Stack, role: str) -> list[dict[str, Any]]:
    properties = stack.resolve(stack.template["Resources"][role]["Properties"])
    found = []
    for policy in properties.get("Policies", []):
        found += as_list(policy["PolicyDocument"]["Statement"])
    return found


def matches(pattern: str, value: str, case_insensitive: bool = False) -> bool:
    if case_insensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            present = key in context
            if operator == "Null":
                if (str(wanted).lower() == "true") == present:
                    return False
            elif operator == "StringEquals":
                if not present or context[key] not in as_list(wanted):
                    return False
            elif operator == "ForAllValues:StringEquals":
                # Every value of a multivalued key among those wanted; true when the key is
                # absent (IAM User Guide, "Multivalued context keys"), hence paired with Null.
                if any(v not in as_list(wanted) for v in as_list(context.get(key, []))):
                    return False
            else:
                return False  # an operator this model does not know never passes
    return True


def allowed(stack: Stack, role: str, action: str, resource: str, context: dict[str, str]) -> bool:
    for statement in statements(stack, role):
        if statement["Effect"] != "Allow":
            continue
        if not any(matches(a, action, case_insensitive=True) for a in as_list(statement["Action"])):
            continue
        if not any(matches(r, resource) for r in as_list(statement["Resource"])):
            continue
        if condition_holds(statement.get("Condition", {}), context):
            return True
    return False


def ec2_arn(resource_id: str) -> str:
    kind = {"vpce-": "vpc-endpoint", "sg-": "security-group", "vpc-": "vpc",
            "subnet-": "subnet"}
    for prefix, name in kind.items():
        if resource_id.startswith(prefix):
            return f"arn:{PARTITION}:ec2:{REGION}:{ACCOUNT}:{name}/{resource_id}"
    raise AssertionError(f"no ARN model for {resource_id}")


def numbered(params: dict[str, Any], name: str) -> list[str]:
    """`SubnetId.1`, `SubnetId.2`... of an EC2 query request."""
    return [v for k, v in sorted(params.items()) if re.fullmatch(rf"{re.escape(name)}\.\d+", k)]


def request_tags(params: dict[str, Any]) -> dict[str, str]:
    keys = {k: v for k, v in params.items() if re.fullmatch(r"(TagSpecification\.\d+\.)?Tag\.\d+\.Key", k)}
    return {v: params.get(k[: -len("Key")] + "Value", "") for k, v in keys.items()}


def authorizations(call: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """What IAM checks for one call: (action, resource ARN, condition context) triples, from the
    Service Authorization Reference's resource types and dependent actions of each action."""
    service, action, params = call["service"], call["action"], call["params"]
    tags_of = call["resource_tags"]

    def existing(resource_id: str, **extra: str) -> dict[str, str]:
        context = {f"ec2:ResourceTag/{k}": v for k, v in tags_of.get(resource_id, {}).items()}
        return {**context, **extra}

    def new(**extra: str) -> dict[str, Any]:
        tags = request_tags(params)
        context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
        if tags:
            context["aws:TagKeys"] = list(tags)
        return {**context, **extra}

    def plain(resource_ids: Iterable[str]) -> list[tuple[str, str, dict[str, str]]]:
        return [(f"ec2:{action}", ec2_arn(r), {}) for r in resource_ids]

    if service == "ec2":
        new_arn = lambda kind: f"arn:{PARTITION}:ec2:{REGION}:{ACCOUNT}:{kind}/*"  # noqa: E731
        if action.startswith("Describe"):
            return [(f"ec2:{action}", "*", {})]
        if action == "CreateSecurityGroup":
            checks = [(f"ec2:{action}", new_arn("security-group"), new())] + plain([params["VpcId"]])
            if request_tags(params):
                checks.append(("ec2:CreateTags", new_arn("security-group"), new(**{"ec2:CreateAction": action})))
            return checks
        if action in ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress",
                      "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupEgress", "DeleteSecurityGroup"):
            return [(f"ec2:{action}", ec2_arn(params["GroupId"]), existing(params["GroupId"]))]
        if action in ("CreateTags", "DeleteTags"):
            return [(f"ec2:{action}", ec2_arn(r), existing(r, **new())) for r in numbered(params, "ResourceId")]
        # Dependent actions (Service Authorization Reference): IAM checks them for the caller.
        describe_vpcs = ("ec2:DescribeVpcs", "*", {})
        private_dns = [("route53:AssociateVPCWithHostedZone", "*", {}), describe_vpcs]
        if action == "CreateVpcEndpoint":
            checks = [(f"ec2:{action}", new_arn("vpc-endpoint"), new()),
                      describe_vpcs, ("ec2:DescribeSecurityGroups", "*", {})]
            checks += plain([params["VpcId"], *numbered(params, "SubnetId"), *numbered(params, "SecurityGroupId")])
            if request_tags(params):
                checks.append(("ec2:CreateTags", new_arn("vpc-endpoint"), new(**{"ec2:CreateAction": action})))
            if params.get("PrivateDnsEnabled") == "true":
                checks += private_dns
            if params.get("ServiceRegion"):
                checks.append(("vpce:AllowMultiRegion", new_arn("vpc-endpoint"), {}))
            return checks
        if action == "ModifyVpcEndpoint":
            endpoint = params["VpcEndpointId"]
            checks = [(f"ec2:{action}", ec2_arn(endpoint), existing(endpoint))]
            checks += plain([*numbered(params, "AddSubnetId"), *numbered(params, "RemoveSubnetId"),
                             *numbered(params, "AddSecurityGroupId"), *numbered(params, "RemoveSecurityGroupId")])
            if params.get("PrivateDnsEnabled") == "true":
                checks += private_dns
            return checks
        if action == "DeleteVpcEndpoints":
            return [(f"ec2:{action}", ec2_arn(e), existing(e)) for e in numbered(params, "VpcEndpointId")]
        if action == "CreateVpcEndpointConnectionNotification":
            endpoint = params["VpcEndpointId"]
            return [(f"ec2:{action}", ec2_arn(endpoint), existing(endpoint))]
        if action == "DeleteVpcEndpointConnectionNotifications":
            return [(f"ec2:{action}", "*", {})]
    if service == "route53":
        # Zones have a resource type; creating and listing them have none (Service
        # Authorization Reference, Amazon Route 53). A private zone's VPC is checked with
        # ec2:DescribeVpcs, a dependent action of creating the zone and of (dis)associating it.
        zone = [(f"route53:{action}", f"arn:{PARTITION}:route53:::hostedzone/{params.get('HostedZoneId')}", {})]
        if action in ("ListHostedZones", "ListHostedZonesByVPC"):
            return [(f"route53:{action}", "*", {})]
        if action == "CreateHostedZone":
            return [(f"route53:{action}", "*", {}), ("ec2:DescribeVpcs", "*", {})]
        if action in ("GetHostedZone", "DeleteHostedZone", "ListResourceRecordSets", "ChangeResourceRecordSets"):
            return zone
        if action in ("AssociateVPCWithHostedZone", "DisassociateVPCFromHostedZone"):
            return zone + [("ec2:DescribeVpcs", "*", {})]
    if service == "states":
        if action in ("StartExecution", "ListExecutions"):
            return [(f"states:{action}", params["stateMachineArn"], {})]
        if action in ("StopExecution", "GetExecutionHistory", "DescribeExecution"):
            return [(f"states:{action}", params["executionArn"], {})]
        if action == "SendTaskSuccess":
            # No resource type (Service Authorization Reference, AWS Step Functions): the
            # task token names the task.
            return [(f"states:{action}", "*", {})]
    if service == "sns" and action == "Publish":
        return [(f"sns:{action}", params["TopicArn"], {})]
    if service == "cloudformation" and action in ("DescribeStackResource", "DescribeStacks"):
        return [(f"cloudformation:{action}", params["StackName"], {})]
    if service == "ssm" and action == "GetParameter":
        name = params["Name"]
        arn = name if name.startswith("arn:") else f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"
        return [(f"ssm:{action}", arn, {})]
    raise AssertionError(f"{service}:{action} has no authorization model here: add its resource "
                         "types from the Service Authorization Reference")


def suite_calls(emulator: Any) -> dict[str, list[dict[str, Any]]]:
    by_function: dict[str, list[dict[str, Any]]] = {name: [] for name in ROLES}
    for call in suite_journal(emulator):
        # Pre-signed S3 requests (CloudFormation's ResponseURL) are authorized by their signer.
        if call["principal"] in ROLES and not call["presigned"]:
            by_function[call["principal"]].append(call)
    silent = [name for name, calls in by_function.items() if not calls]
    if silent:
        pytest.fail(f"no calls recorded for {silent}: these tests judge the calls of the whole "
                    "suite; run them with it (pytest tests, or make integration's two passes)", pytrace=False)
    return by_function


@pytest.mark.after_the_suite
def test_every_call_each_function_made_is_allowed_by_its_role_in_the_templates(emulator):
    denied = set()
    for function, calls in suite_calls(emulator).items():
        template, role = ROLES[function]
        stack = Stack(load(template), FEATURES_ON[template])
        for call in calls:
            for action, resource, context in authorizations(call):
                if not allowed(stack, role, action, resource, context):
                    tags = {k: v for k, v in context.items() if "Tag/" in k or ":CreateAction" in k}
                    denied.add(f"{function} ({role}): {action} on {resource} {sorted(tags)}")
    assert not denied, "denied in a real account:\n" + "\n".join(sorted(denied))


@pytest.mark.after_the_suite
def test_the_templates_grant_no_action_that_nobody_calls(emulator):
    unused = []
    for function, calls in suite_calls(emulator).items():
        template, role = ROLES[function]
        stack = Stack(load(template), FEATURES_ON[template])
        needed = {action.lower() for call in calls for action, _, _ in authorizations(call)}
        for statement in statements(stack, role):
            for action in as_list(statement["Action"]):
                exempt = action in CALLED_BY_OTHERS or f"{action}#{function}" in CALLED_BY_OTHERS
                if action.lower() not in needed and not exempt:
                    unused.append(f"{function} ({role}): {action}")
    assert not unused, "granted but never called (remove it, or name who calls it):\n" + "\n".join(unused)


def test_the_iam_model_denies_what_a_role_does_not_grant():
    # The contract is only as good as its evaluator: a call outside the grant must be denied.
    stack = Stack(load("functions.yaml"), {})
    foreign = {"service": "ec2", "action": "DeleteSecurityGroup", "params": {"GroupId": "sg-0abc"},
               "resource_tags": {"sg-0abc": {"team": "payments"}}}
    owned = {**foreign, "resource_tags": {"sg-0abc": {"privatelink-lambdas:stack-id": "arn:..."}}}
    check = lambda call: all(allowed(stack, "SecurityGroupFunctionRole", *a) for a in authorizations(call))  # noqa: E731
    assert check(owned)
    assert not check(foreign)
    untagged_create = {"service": "ec2", "action": "CreateVpcEndpoint", "resource_tags": {},
                       "params": {"VpcId": "vpc-1", "SubnetId.1": "subnet-1", "VpcEndpointType": "Interface"}}
    assert not all(allowed(stack, "EndpointFunctionRole", *a) for a in authorizations(untagged_create))
    # Taking over a hand-made endpoint: its owner tags alone may be written on it, nothing else.
    claim = {"service": "ec2", "action": "CreateTags", "resource_tags": {"vpce-0abc": {}},
             "params": {"ResourceId.1": "vpce-0abc",
                        "Tag.1.Key": "privatelink-lambdas:stack-id", "Tag.1.Value": "arn:...",
                        "Tag.2.Key": "privatelink-lambdas:logical-id", "Tag.2.Value": "Endpoint"}}
    endpoint_role = lambda call: all(allowed(stack, "EndpointFunctionRole", *a) for a in authorizations(call))  # noqa: E731
    assert endpoint_role(claim)
    assert not endpoint_role({**claim, "params": {**claim["params"], "Tag.3.Key": "team", "Tag.3.Value": "x"}})
    assert not endpoint_role({**claim, "params": {"ResourceId.1": "vpce-0abc", "Tag.1.Key": "team", "Tag.1.Value": "x"}})


# --------------------------------------------------------------------------- #
# Network
# --------------------------------------------------------------------------- #

# Example addresses of what an in-VPC function reaches. S3 and the EC2 API are public endpoints
# (reached through NAT, or as here through their prefix list); the endpoints' interfaces may
# be in any of the VPC's CIDR blocks, secondary and IPv6 ones included, on any port.
S3_PREFIX_LIST = ("pl-63a5400a", ["52.216.0.0/15", "3.5.0.0/19"])  # com.amazonaws.us-east-1.s3
S3_ADDRESS = "52.217.44.38"
EC2_API_ADDRESS = "54.239.28.176"
CLOUDFORMATION_API_ADDRESS = "54.239.31.5"
SSM_API_ADDRESS = "67.220.240.10"
VPC_BLOCKS = ["10.0.0.0/16", "100.64.0.0/16"]
VPC_IPV6_BLOCK = "2600:1f18:4a3:6900::/56"
INTERFACES = [("10.0.1.4", 443), ("100.64.1.9", 8443), ("2600:1f18:4a3:6901::5", 443), ("10.0.2.7", 9092)]

# What each in-VPC function must reach, by the template parameter that asks for it.
VALIDATOR_DESTINATIONS = [
    ("the gate's answer to CloudFormation (S3, pre-signed URL)", S3_ADDRESS, 443, None),
    ("the CloudFormation API (is the gate's stack waiting?)", CLOUDFORMATION_API_ADDRESS, 443, None),
    ("the EC2 API (Discover=true)", EC2_API_ADDRESS, 443, "Discover"),
    ("SSM Parameter Store (PrivateCaParameter)", SSM_API_ADDRESS, 443, "PrivateCaParameter"),
] + [(f"an endpoint interface {ip} port {port}", ip, port, None) for ip, port in INTERFACES]


def egress_rules(stack: Stack, group: str) -> list[dict[str, Any]]:
    rules = list(stack.resources("AWS::EC2::SecurityGroup")[group].get("SecurityGroupEgress", []))
    for extra in stack.resources("AWS::EC2::SecurityGroupEgress").values():
        if extra["GroupId"] == f"<{group}.GroupId>":
            rules.append(extra)
    return rules


def admits(rule: dict[str, Any], address: str, port: int, prefix_lists: dict[str, list[str]]) -> bool:
    if str(rule["IpProtocol"]) not in ("tcp", "6", "-1"):
        return False
    if str(rule["IpProtocol"]) != "-1" and not int(rule["FromPort"]) <= port <= int(rule["ToPort"]):
        return False
    ip = ipaddress.ip_address(address)
    if "DestinationPrefixListId" in rule:
        return any(ip in ipaddress.ip_network(c) for c in prefix_lists.get(rule["DestinationPrefixListId"], []))
    cidr = rule.get("CidrIp") or rule.get("CidrIpv6")
    return cidr is not None and ip.version == ipaddress.ip_network(cidr).version and ip in ipaddress.ip_network(cidr)


def unreachable(stack: Stack, group: str, destinations: list[tuple[str, str, int, str | None]],
                features: dict[str, str]) -> list[str]:
    rules = egress_rules(stack, group)
    if not rules:
        return []  # no SecurityGroupEgress: the default rule allows everything
    prefix_lists = {S3_PREFIX_LIST[0]: S3_PREFIX_LIST[1]}
    return [what for what, address, port, feature in destinations
            if (feature is None or feature in features)
            and not any(admits(rule, address, port, prefix_lists) for rule in rules)]


def in_vpc_functions(name: str) -> dict[str, dict[str, Any]]:
    stack = Stack(load(name), {"VpcId": "vpc-0example", "SubnetIds": "subnet-0a,subnet-0b"})
    return {k: v for k, v in stack.resources("AWS::Lambda::Function").items() if "VpcConfig" in v}


def test_only_the_validator_runs_inside_a_vpc():
    # Another function placed in a VPC needs its destinations listed here (S3, EC2, Step
    # Functions) before this contract can vouch for it.
    assert list(in_vpc_functions("functions.yaml")) == []
    assert list(in_vpc_functions("validator.yaml")) == ["Validator"]


@pytest.mark.parametrize("features", [{}, {"Discover": "true", "PrivateCaParameter": "/privatelink/ca"}],
                         ids=["defaults", "discovery-and-ca-parameter"])
def test_the_validator_with_default_parameters_reaches_every_destination(features):
    stack = Stack(load("validator.yaml"), {"VpcId": "vpc-0example", "SubnetIds": "subnet-0a", **features})
    assert stack.rules_hold() == []
    group = stack.resources("AWS::Lambda::Function")["Validator"]["VpcConfig"]["SecurityGroupIds"][0]
    group = group.strip("<>").split(".")[0]
    assert unreachable(stack, group, VALIDATOR_DESTINATIONS, features) == []


def test_the_locked_down_validator_reaches_s3_and_every_vpc_block_and_must_be_given_them():
    locked = {"VpcId": "vpc-0example", "SubnetIds": "subnet-0a", "EgressScope": "vpc-and-s3"}
    # Never an empty default: without the prefix list and the blocks, the Rules refuse the stack.
    assert len(Stack(load("validator.yaml"), locked).rules_hold()) == 2
    stack = Stack(load("validator.yaml"), {**locked, "S3PrefixListId": S3_PREFIX_LIST[0],
                                           "VpcCidrs": ",".join(VPC_BLOCKS), "VpcIpv6Cidr": VPC_IPV6_BLOCK})
    assert stack.rules_hold() == []
    public_apis = (EC2_API_ADDRESS, SSM_API_ADDRESS, CLOUDFORMATION_API_ADDRESS)
    in_vpc = [d for d in VALIDATOR_DESTINATIONS if d[1] not in public_apis]
    assert unreachable(stack, "ValidatorSecurityGroup", in_vpc, {}) == []
    # ...and nothing else: the public APIs need interface endpoints in the VPC then.
    assert unreachable(stack, "ValidatorSecurityGroup", VALIDATOR_DESTINATIONS, {"Discover": "true"}) == [
        "the CloudFormation API (is the gate's stack waiting?)", "the EC2 API (Discover=true)"]


def test_the_network_model_refuses_egress_that_only_admits_the_vpc_on_one_port():
    # The validator's egress before the real-account review: a default deploy could not answer.
    narrow = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16"}]
    blocked = [what for what, address, port, _ in VALIDATOR_DESTINATIONS
               if not any(admits(r, address, port, {}) for r in narrow)]
    assert "the gate's answer to CloudFormation (S3, pre-signed URL)" in blocked
    assert "an endpoint interface 100.64.1.9 port 8443" in blocked


# --------------------------------------------------------------------------- #
# Template rules
# --------------------------------------------------------------------------- #

ALL_TEMPLATES = sorted(p.name for p in TEMPLATES.glob("*.yaml"))


@pytest.mark.parametrize("path", sorted(TEMPLATES.iterdir()), ids=lambda p: p.name)
def test_no_template_hard_codes_a_partition(path):
    # aws-cn and aws-us-gov: every ARN is built with ${AWS::Partition} (or ${Partition}).
    text = path.read_text()
    assert not re.findall(r"arn:aws(?:-[a-z-]+)?:", text), path.name


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_every_custom_resource_sets_a_service_timeout(name):
    # Without it CloudFormation waits an hour for an answer that may never come.
    for logical_id, resource in load(name)["Resources"].items():
        if resource["Type"].startswith("Custom::"):
            timeout = resource["Properties"].get("ServiceTimeout")
            assert timeout is not None and 1 <= int(timeout) <= 3600, (name, logical_id)


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_every_state_machine_logs_under_vendedlogs(name):
    template = load(name)
    resources = template["Resources"]
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        for destination in resource["Properties"]["LoggingConfiguration"]["Destinations"]:
            group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
            log_name = resources[group]["Properties"]["LogGroupName"]
            text = log_name if isinstance(log_name, str) else log_name["Fn::Sub"]
            assert text.startswith("/aws/vendedlogs/states/"), (logical_id, text)


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_every_role_takes_the_permissions_boundary(name):
    template = load(name)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        boundary = resource["Properties"].get("PermissionsBoundary")
        assert boundary == {"Fn::If": ["HasPermissionsBoundary", {"Ref": "PermissionsBoundaryArn"},
                                       {"Ref": "AWS::NoValue"}]}, (name, logical_id)
        for value, expected in (("", NO_VALUE), (f"arn:{PARTITION}:iam::{ACCOUNT}:policy/boundary",
                                             f"arn:{PARTITION}:iam::{ACCOUNT}:policy/boundary")):
            resolved = Stack(template, {"PermissionsBoundaryArn": value}).resolve(boundary)
            assert resolved == expected
