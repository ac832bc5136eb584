"""The trust boundary, black-box: every deployer allowed to reference the functions can invoke
them with events of their own making, and the functions act with their own role.

- Forgery: for each resource type, and every resource status CloudFormation documents, an event
  of a type CloudFormation does not send in that status changes nothing (no call that changes
  anything, the live resource as it was) and is answered FAILED saying why, or, when it is the
  type of the operation that just ended (a redelivery), answered not at all. A Delete with an id
  CloudFormation did not make never touches the live, complete resource, in any stack status.
  The table itself is `cfn::stack::judge`, unit-tested row by row.
- Takeover: `ExistingGroupId` / `ExistingVpcEndpointId` that fail give the resource back as it
  was found, and no Delete deletes it; two takeovers of one resource at once: exactly one wins.
- Asking CloudFormation: throttling is ridden out; a CloudFormation that can't be asked means
  nothing is done, saying so (never an EC2 rate limit).

CloudFormation's states are played through the emulator's DescribeStackResource and
DescribeStacks (tests/harness/emulator/cloudformation.py, stack and resource status)."""

from __future__ import annotations

import json
import threading
from typing import Any, Callable

import pytest

from tests.harness.cfn import stack_id

SG = "Custom::PrivateLinkSecurityGroup"
EP = "Custom::PrivateLinkEndpoint"
GATE = "Custom::PrivateLinkValidation"

# Every resource status CloudFormation documents (API Reference, StackResourceDetail).
RESOURCE_STATUSES = [
    "CREATE_IN_PROGRESS", "CREATE_FAILED", "CREATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED",
    "DELETE_COMPLETE", "DELETE_SKIPPED", "UPDATE_IN_PROGRESS", "UPDATE_FAILED", "UPDATE_COMPLETE",
    "IMPORT_FAILED", "IMPORT_COMPLETE", "IMPORT_IN_PROGRESS", "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED", "IMPORT_ROLLBACK_COMPLETE", "EXPORT_FAILED", "EXPORT_COMPLETE",
    "EXPORT_IN_PROGRESS", "EXPORT_ROLLBACK_IN_PROGRESS", "EXPORT_ROLLBACK_FAILED",
    "EXPORT_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED",
]
# Every stack status CloudFormation documents (API Reference, Stack).
STACK_STATUSES = [
    "CREATE_IN_PROGRESS", "CREATE_FAILED", "CREATE_COMPLETE", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE", "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE",
    "REVIEW_IN_PROGRESS", "IMPORT_IN_PROGRESS", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED", "IMPORT_ROLLBACK_COMPLETE",
]
CLEANUP = ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")

# The statuses in which CloudFormation sends each request type for the resource it shows, and
# those that end the operation of that type (after which the same event is a redelivery).
SENT_IN = {"Create": ("CREATE_IN_PROGRESS",), "Update": ("UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"),
           "Delete": ("DELETE_IN_PROGRESS",)}
ENDED_BY = {"Create": ("CREATE_COMPLETE", "CREATE_FAILED"),
            "Update": ("UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED"),
            "Delete": ("DELETE_COMPLETE", "DELETE_FAILED", "DELETE_SKIPPED")}


def changes(emulator, principal: str, since: int) -> list[str]:
    """The calls `principal` made since journal entry `since` that change something."""
    changed = []
    for call in emulator.journal()[since:]:
        if call["principal"] != principal or call["presigned"]:
            continue
        reads = call["action"].startswith(("Describe", "List", "Get"))
        if call["service"] in ("ec2", "states") and not reads:
            changed.append(f"{call['service']}:{call['action']}")
    return changed


def canonical(value: Any) -> Any:
    """`value` with every list in a fixed order: EC2 lists rules, ranges and tags in no order."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def group_state(ec2, group_id: str) -> Any:
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    return canonical({k: group.get(k) for k in ("IpPermissions", "IpPermissionsEgress", "Tags")})


def endpoint_state(ec2, endpoint_id: str) -> Any:
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
    return canonical({k: endpoint.get(k) for k in ("State", "SubnetIds", "Groups", "PolicyDocument",
                                                    "PrivateDnsEnabled", "Tags")})


class Resource:
    """One live, complete resource of a type, and how to see that it is unchanged."""

    def __init__(self, type_: str, function: Any, principal: str, properties: dict[str, Any],
                 physical_id: str, stack: str, snapshot: Callable[[], Any]):
        self.type, self.function, self.principal = type_, function, principal
        self.properties, self.physical_id, self.stack, self.snapshot = properties, physical_id, stack, snapshot


@pytest.fixture
def live(lambda_function, cfn, ec2, consumer_vpc, provider) -> Callable[[str], Resource]:
    """`live(type)`: a resource of that type made through its function, complete."""

    def make(type_: str) -> Resource:
        stack = stack_id()
        if type_ == SG:
            fn = lambda_function("privatelink-security-group")
            properties = {"VpcId": consumer_vpc.vpc_id}
        elif type_ == EP:
            fn = lambda_function("privatelink-endpoint")
            service = provider()
            properties = {"ServiceName": service.service_name, "VpcId": consumer_vpc.vpc_id,
                          "SubnetIds": [consumer_vpc.subnet("a")]}
        else:
            fn = lambda_function("privatelink-validator", {"VALIDATOR_ENDPOINT_CHECKS": "false"})
            properties = {"Name": "api.partner.com", "ExpectedIps": ["127.0.0.2"]}
        if type_ == GATE:
            # The gate makes nothing in AWS: its id is its name's, shown complete.
            physical_id = "privatelink-validation-api.partner.com"
            snapshot: Callable[[], Any] = lambda: None  # noqa: E731
        else:
            event, key = cfn.create_event(type_, "Thing", properties, stack)
            assert fn.invoke(event).kind == "response"
            answer = cfn.answer(key)
            assert answer["Status"] == "SUCCESS", answer
            physical_id = answer["PhysicalResourceId"]
            snapshot = (lambda: group_state(ec2, physical_id)) if type_ == SG else (
                lambda: endpoint_state(ec2, physical_id))
        return Resource(type_, fn, fn.name, properties, physical_id, stack, snapshot)

    return make


def forge(cfn, resource: Resource, request_type: str, physical_id: str) -> tuple[dict[str, Any], str]:
    """An event of `request_type` for the resource, as anyone allowed to invoke could make it."""
    if request_type == "Create":
        return cfn.create_event(resource.type, "Thing", resource.properties, resource.stack)
    if request_type == "Update":
        changed = {**resource.properties, "Tags": [{"Key": "forged", "Value": "1"}]}
        if resource.type == EP:
            changed["PolicyDocument"] = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*",
                                                        "Resource": "*"}]}
        return cfn.update_event(resource.type, "Thing", physical_id, changed, resource.properties, resource.stack)
    return cfn.delete_event(resource.type, "Thing", physical_id, resource.properties, resource.stack)


@pytest.mark.parametrize("type_", [SG, EP, GATE])
def test_an_event_cloudformation_did_not_send_changes_nothing_in_any_resource_status(
        type_, live, cfn, emulator):
    resource = live(type_)
    before = resource.snapshot()
    since = len(emulator.journal())
    refused = silent = 0
    for status in RESOURCE_STATUSES:
        for request_type in ("Create", "Update", "Delete"):
            if status in SENT_IN[request_type]:
                continue  # what CloudFormation does send: the other tests' business
            event, key = forge(cfn, resource, request_type, resource.physical_id)
            # CloudFormation's state, whatever the forger's event says.
            cfn.shows(resource.stack, "Thing", resource.type, status, resource.physical_id)
            cfn.stack_shows(resource.stack, "UPDATE_COMPLETE")
            invocation = resource.function.invoke(event)
            assert invocation.kind == "response", (status, request_type, invocation.body)
            answers = cfn.answers(key)
            if status in ENDED_BY[request_type]:
                # The operation of this type just ended: a redelivery, never answered again.
                assert invocation.body == {"Status": "ALREADY_OVER", "ResourceStatus": status}, invocation.body
                assert answers == [], (status, request_type, answers)
                silent += 1
            else:
                assert len(answers) == 1 and answers[0]["Status"] == "FAILED", (status, request_type, answers)
                reason = answers[0]["Reason"]
                assert f"CloudFormation is not waiting for this {request_type} of Thing" in reason, reason
                assert "nothing was done" in reason, reason
                refused += 1
    assert changes(emulator, resource.principal, since) == []
    assert resource.snapshot() == before
    assert (refused, silent) == (71, 9)  # 28 statuses x 3 types, less the 4 CloudFormation sends in


@pytest.mark.parametrize("type_", [SG, EP, GATE])
def test_a_delete_with_an_id_cloudformation_did_not_make_never_touches_the_live_resource(
        type_, live, cfn, emulator):
    resource = live(type_)
    before = resource.snapshot()
    since = len(emulator.journal())
    made_up = {SG: "sg-0f0f0f0f0f0f0f0f0", EP: "vpce-0f0f0f0f0f0f0f0f0", GATE: "privatelink-validation-other"}[type_]
    for physical_id in ("privatelink-failed-create-anything", "privatelink-interrupted-create-x",
                        "Thing-1A2B3C4D5E6F", made_up):
        for stack_status in STACK_STATUSES:
            event, key = forge(cfn, resource, "Delete", physical_id)
            cfn.shows(resource.stack, "Thing", resource.type, "CREATE_COMPLETE", resource.physical_id)
            cfn.stack_shows(resource.stack, stack_status)
            invocation = resource.function.invoke(event)
            assert invocation.kind == "response", invocation.body
            answers = cfn.answers(key)
            if stack_status in CLEANUP:
                # CloudFormation does delete replaced resources now: the named one, and only it.
                assert [a["Status"] for a in answers] == ["SUCCESS"], (physical_id, stack_status, answers)
            elif stack_status in ("UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
                assert answers == [], (physical_id, stack_status, answers)  # a late cleanup Delete
            else:
                assert [a["Status"] for a in answers] == ["FAILED"], (physical_id, stack_status, answers)
                assert "a replaced resource is deleted only during its cleanup" in answers[0]["Reason"]
    assert changes(emulator, resource.principal, since) == []
    assert resource.snapshot() == before


def test_the_cleanup_delete_of_a_replaced_group_deletes_it_and_nothing_else(lambda_function, cfn, ec2, consumer_vpc):
    fn = lambda_function("privatelink-security-group")
    stack = stack_id()
    old = {"VpcId": consumer_vpc.vpc_id, "Description": "old one"}
    event, key = cfn.create_event(SG, "Sg", old, stack)
    assert fn.invoke(event).kind == "response"
    first = cfn.answer(key)["PhysicalResourceId"]
    new = {**old, "Description": "new one"}
    event, key = cfn.update_event(SG, "Sg", first, new, old, stack)
    assert fn.invoke(event).kind == "response"
    second = cfn.answer(key)["PhysicalResourceId"]
    assert second != first
    # The cleanup: the logical id shows the new group, complete; the stack is cleaning up.
    event, key = cfn.delete_event(SG, "Sg", first, old, stack)
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    assert not ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [first]}])["SecurityGroups"]
    assert ec2.describe_security_groups(GroupIds=[second])["SecurityGroups"]


# --------------------------------------------------------------------------- #
# Takeovers
# --------------------------------------------------------------------------- #


def hand_made_group(ec2, vpc_id: str) -> str:
    group = ec2.create_security_group(GroupName=f"privatelink-endpoint-sg-{stack_id()[-8:]}",
                                      Description="made by hand", VpcId=vpc_id)["GroupId"]
    admin = ec2.create_security_group(GroupName=f"admin-{stack_id()[-8:]}", Description="x", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "the VPC"},
                      {"CidrIp": "192.168.0.0/16", "Description": "the office"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "UserIdGroupPairs": [{"GroupId": admin, "Description": "bastion"}]}])
    ec2.create_tags(Resources=[group], Tags=[{"Key": "Name", "Value": "runbook"}])
    return group


def test_a_failed_group_takeover_gives_the_group_back_as_found_and_its_rollback_deletes_nothing(
        lambda_function, cfn, ec2, emulator, consumer_vpc):
    fn = lambda_function("privatelink-security-group")
    group = hand_made_group(ec2, consumer_vpc.vpc_id)
    before = group_state(ec2, group)
    stack = stack_id()
    # More blocks than the group's rules quota holds: EC2 refuses them after the claim, the egress
    # rule already revoked (RulesPerSecurityGroupLimitExceeded).
    emulator.set_settings(rules_per_group=5)
    properties = {"VpcId": consumer_vpc.vpc_id, "ExistingGroupId": group,
                  "SourceCidrs": [f"10.{i}.0.0/16" for i in range(10, 20)],
                  "Tags": [{"Key": "team", "Value": "net"}]}
    event, key = cfn.create_event(SG, "Sg", properties, stack)
    assert fn.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED", answer
    assert group_state(ec2, group) == before  # rules with their descriptions, egress, tags
    # The rollback's Delete of the placeholder: the group is not the stack's, and stays.
    event, key = cfn.delete_event(SG, "Sg", answer["PhysicalResourceId"], properties, stack)
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    assert group_state(ec2, group) == before


def test_a_group_taken_over_by_a_create_that_never_answered_is_given_back_by_the_rollback_never_deleted(
        lambda_function, cfn, ec2, consumer_vpc):
    fn = lambda_function("privatelink-security-group")
    group = hand_made_group(ec2, consumer_vpc.vpc_id)
    stack = stack_id()
    # What a crash right after the claim leaves: the claim tags, the takeover pending.
    ec2.create_tags(Resources=[group], Tags=[
        {"Key": "privatelink-lambdas:stack-id", "Value": stack},
        {"Key": "privatelink-lambdas:logical-id", "Value": "Sg"},
        {"Key": "privatelink-lambdas:taken-over", "Value": "pending:r-0"}])
    properties = {"VpcId": consumer_vpc.vpc_id, "ExistingGroupId": group}
    # CloudFormation gave up on the Create and rolls back with an id of its own making.
    event, key = cfn.delete_event(SG, "Sg", "Sg-1A2B3C4D5E6F", properties, stack)
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    tags = {t["Key"] for t in ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["Tags"]}
    assert tags == {"Name"}


def hand_made_endpoint(ec2, service, vpc) -> str:
    endpoint = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc.vpc_id, ServiceName=service.service_name,
        SubnetIds=[vpc.subnet("a")], PrivateDnsEnabled=True,
    )["VpcEndpoint"]["VpcEndpointId"]
    ec2.create_tags(Resources=[endpoint], Tags=[{"Key": "Name", "Value": "runbook"}])
    return endpoint


def test_a_failed_endpoint_takeover_undoes_its_change_and_its_rollback_deletes_nothing(
        lambda_function, cfn, ec2, emulator, consumer_vpc, provider):
    fn = lambda_function("privatelink-endpoint")
    service = provider()
    endpoint = hand_made_endpoint(ec2, service, consumer_vpc)
    before = endpoint_state(ec2, endpoint)
    stack = stack_id()
    properties = {"ServiceName": service.service_name, "VpcId": consumer_vpc.vpc_id,
                  "SubnetIds": [consumer_vpc.subnet("a"), consumer_vpc.subnet("b")],
                  "ExistingVpcEndpointId": endpoint, "Tags": [{"Key": "team", "Value": "net"}]}
    # The claim and the subnet added go through; writing the user's tags stays throttled.
    emulator.add_fault("CreateTags", "RequestLimitExceeded", status=503, count=50, match="team")
    event, key = cfn.create_event(EP, "Endpoint", properties, stack)
    assert fn.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED", answer
    emulator.clear_faults()
    assert endpoint_state(ec2, endpoint) == before  # subnet b removed again, no tag of ours
    event, key = cfn.delete_event(EP, "Endpoint", answer["PhysicalResourceId"], properties, stack)
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    assert endpoint_state(ec2, endpoint) == before


def test_a_typo_in_a_takeovers_groups_leaves_the_endpoint_as_found(lambda_function, cfn, ec2, consumer_vpc, provider):
    fn = lambda_function("privatelink-endpoint")
    service = provider()
    endpoint = hand_made_endpoint(ec2, service, consumer_vpc)
    before = endpoint_state(ec2, endpoint)
    stack = stack_id()
    properties = {"ServiceName": service.service_name, "VpcId": consumer_vpc.vpc_id,
                  "SubnetIds": [consumer_vpc.subnet("a")], "ExistingVpcEndpointId": endpoint,
                  "SecurityGroupIds": ["sg-0123456789abcdef0"]}
    event, key = cfn.create_event(EP, "Endpoint", properties, stack)
    assert fn.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED", answer
    assert endpoint_state(ec2, endpoint) == before
    event, key = cfn.delete_event(EP, "Endpoint", answer["PhysicalResourceId"], properties, stack)
    assert fn.invoke(event).kind == "response"
    assert endpoint_state(ec2, endpoint) == before  # with the partner's Private DNS name


def race(lambda_function, cfn, name: str, type_: str, properties: dict[str, Any]) -> str:
    """Two stacks' Creates taking over one resource, sent at once to two instances of the
    function: exactly one wins. Returns the winner's stack."""
    functions = [lambda_function(name) for _ in range(2)]
    stacks = [stack_id(), stack_id()]
    events = [cfn.create_event(type_, "Thing", properties, s) for s in stacks]
    threads = [threading.Thread(target=fn.invoke, args=(event,)) for fn, (event, _) in zip(functions, events)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answers = [cfn.answer(key) for _, key in events]
    assert sorted(a["Status"] for a in answers) == ["FAILED", "SUCCESS"], answers
    loser = next(a for a in answers if a["Status"] == "FAILED")
    # Its claim was overwritten (both claimed within 2 s), or it found the other's claim first.
    assert any(why in loser["Reason"] for why in ("claimed by another resource at the same time",
                                                  "it belongs to")), loser
    return stacks[[a["Status"] for a in answers].index("SUCCESS")]


def test_two_stacks_taking_over_one_group_at_once_exactly_one_wins(lambda_function, cfn, ec2, consumer_vpc):
    group = hand_made_group(ec2, consumer_vpc.vpc_id)
    winner = race(lambda_function, cfn, "privatelink-security-group", SG,
                  {"VpcId": consumer_vpc.vpc_id, "ExistingGroupId": group})
    tags = {t["Key"]: t["Value"] for t in ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["Tags"]}
    assert tags["privatelink-lambdas:stack-id"] == winner


def test_two_stacks_taking_over_one_endpoint_at_once_exactly_one_wins(lambda_function, cfn, ec2, consumer_vpc, provider):
    service = provider()
    endpoint = hand_made_endpoint(ec2, service, consumer_vpc)
    winner = race(lambda_function, cfn, "privatelink-endpoint", EP,
                  {"ServiceName": service.service_name, "VpcId": consumer_vpc.vpc_id,
                   "SubnetIds": [consumer_vpc.subnet("a")], "ExistingVpcEndpointId": endpoint})
    tags = {t["Key"]: t["Value"] for t in ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"][0]["Tags"]}
    assert tags["privatelink-lambdas:stack-id"] == winner
    assert tags["privatelink-lambdas:taken-over"].startswith("answered:")


# --------------------------------------------------------------------------- #
# Asking CloudFormation
# --------------------------------------------------------------------------- #


def a_group(lambda_function, cfn, vpc_id: str) -> tuple[Any, str, dict[str, Any], str]:
    """A group made by its function: (the function, the stack, the properties, the group id)."""
    fn = lambda_function("privatelink-security-group")
    stack, properties = stack_id(), {"VpcId": vpc_id}
    event, key = cfn.create_event(SG, "Sg", properties, stack)
    assert fn.invoke(event).kind == "response"
    return fn, stack, properties, cfn.answer(key)["PhysicalResourceId"]


def test_a_throttled_cloudformation_is_asked_again_and_the_delete_goes_on(
        lambda_function, cfn, emulator, consumer_vpc):
    fn, stack, properties, group = a_group(lambda_function, cfn, consumer_vpc.vpc_id)
    # More throttles than the SDK's six attempts ride out.
    emulator.add_fault("DescribeStackResource", "Throttling", count=8, service="cloudformation")
    event, key = cfn.delete_event(SG, "Sg", group, properties, stack)
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"


def test_a_cloudformation_that_cannot_be_asked_means_nothing_is_done_and_says_so(
        lambda_function, cfn, ec2, emulator, consumer_vpc):
    fn, stack, properties, group = a_group(lambda_function, cfn, consumer_vpc.vpc_id)
    emulator.add_fault("DescribeStackResource", "Throttling", count=1000, service="cloudformation")
    event, key = cfn.delete_event(SG, "Sg", group, properties, stack)
    assert fn.invoke(event, deadline_s=12).kind == "response"
    emulator.clear_faults()
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    assert "Could not confirm with CloudFormation that it sent this event" in reason, reason
    assert "DescribeStackResource" in reason and "EC2" not in reason, reason
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
