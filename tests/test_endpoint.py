"""`Custom::PrivateLinkEndpoint`, black-box: the real `privatelink-endpoint` binary under the
Lambda Runtime API, against the extended moto emulator (acceptance, ClientToken, AZ checks,
interfaces addressed from their subnets), answering through a pre-signed S3 URL."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from typing import Any

import pytest

from tests.conftest import ConsumerVpc
from tests.harness import VERSION
from tests.harness.cfn import stack_id

TYPE = "Custom::PrivateLinkEndpoint"
PLACEHOLDER = "privatelink-failed-create-"


@pytest.fixture
def fn(lambda_function):
    return lambda_function("privatelink-endpoint")


def run(fn, cfn, event_and_key, **invoke) -> dict[str, Any]:
    event, key = event_and_key
    invocation = fn.invoke(event, **invoke)
    assert invocation.kind == "response", (invocation.kind, invocation.body, invocation.logs[-5:])
    return cfn.answer(key)


def endpoint(ec2: Any, endpoint_id: str) -> dict[str, Any]:
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]


def live_endpoints(ec2: Any, stack: str, logical_id: str = "Endpoint") -> list[str]:
    found = ec2.describe_vpc_endpoints(Filters=[
        {"Name": "tag:privatelink-lambdas:stack-id", "Values": [stack]},
        {"Name": "tag:privatelink-lambdas:logical-id", "Values": [logical_id]},
    ])["VpcEndpoints"]
    return [e["VpcEndpointId"] for e in found if e["State"].lower() not in ("deleted", "deleting")]


def props(service, vpc, *azs: str, **extra: Any) -> dict[str, Any]:
    return {"ServiceName": service.service_name, "VpcId": vpc.vpc_id,
            "SubnetIds": [vpc.subnet(az) for az in (azs or ("a", "b"))], **extra}


def test_create_makes_one_interface_per_zone_and_answers_its_attributes(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc), stack))
    assert answer["Status"] == "SUCCESS", answer
    data = answer["Data"]
    endpoint_id = answer["PhysicalResourceId"]
    assert endpoint_id.startswith("vpce-") and data["VpcEndpointId"] == endpoint_id
    assert data["State"] == "available"
    described = endpoint(ec2, endpoint_id)
    assert described["VpcEndpointType"] == "Interface"
    assert sorted(described["SubnetIds"]) == sorted([consumer_vpc.subnet("a"), consumer_vpc.subnet("b")])
    # The service has a verified private DNS name, so Private DNS defaults on.
    assert described["PrivateDnsEnabled"] is True
    assert data["PrivateDnsName"] == "api.partner.com"
    enis = data["NetworkInterfaceIds"].split(",")
    assert len(enis) == 2
    addresses = data["PrivateIpAddresses"].split(",")
    subnets = [ipaddress.ip_network(c) for c in consumer_vpc.subnet_cidrs.values()]
    assert len(addresses) == 2
    assert all(any(ipaddress.ip_address(a) in s for s in subnets) for a in addresses), addresses
    # DnsEntries as AWS::EC2::VPCEndpoint gives them: HostedZoneId:DnsName (an alias needs the zone).
    entries = {e["DnsName"]: e["HostedZoneId"] for e in described["DnsEntries"]}
    assert data["DnsEntries"].split(",") == [f"{z}:{n}" for n, z in entries.items()]
    assert data["DnsName"] in entries
    assert data["CreationTimestamp"] and data["CreationTimestamp"].endswith(str(time.gmtime().tm_year))
    # The ARN Route 53 Profiles and RAM take: in the stack's partition, Region and account.
    assert data["Arn"] == f"arn:aws:ec2:us-east-1:{described['OwnerId']}:vpc-endpoint/{endpoint_id}"
    assert data["SubnetAddresses"].split(",") == [
        f"{eni['SubnetId']}={eni['PrivateIpAddress']}"
        for eni in ec2.describe_network_interfaces(NetworkInterfaceIds=enis)["NetworkInterfaces"]
    ]
    assert data["SecurityGroupIds"]  # the VPC's default group, as AWS does without SecurityGroupIds
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags["privatelink-lambdas:stack-id"] == stack
    assert tags["privatelink-lambdas:logical-id"] == "Endpoint"
    assert tags["privatelink-lambdas:version"] == VERSION


def test_an_unknown_service_fails_saying_it_is_not_found_or_not_shared(fn, cfn, ec2, consumer_vpc):
    stack = stack_id()
    bad = {"ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0000000000000dead",
           "VpcId": consumer_vpc.vpc_id, "SubnetIds": [consumer_vpc.subnet("a")]}
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", bad, stack))
    assert answer["Status"] == "FAILED"
    assert "was not found, or is not shared with this account" in answer["Reason"], answer["Reason"]
    assert answer["PhysicalResourceId"].startswith(PLACEHOLDER)
    assert live_endpoints(ec2, stack) == []


def test_a_subnet_in_a_zone_the_service_does_not_offer_fails_before_anything_is_made(
        fn, cfn, ec2, emulator, consumer_vpc, provider):
    service = provider()  # offered in us-east-1a and us-east-1b
    stack = stack_id()
    emulator.clear_calls()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc, "a", "c"), stack))
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    assert f"{consumer_vpc.subnet('c')} is in us-east-1c" in reason, reason
    assert "us-east-1a, us-east-1b" in reason, reason
    assert "CreateVpcEndpoint" not in [c["action"] for c in emulator.calls()]


def test_private_dns_asked_for_a_service_without_a_verified_name_fails_saying_so(
        fn, cfn, ec2, consumer_vpc, provider):
    service = provider(tags={"emulator:private-dns-state": "pendingVerification"})
    answer = run(fn, cfn, cfn.create_event(
        TYPE, "Endpoint", props(service, consumer_vpc, PrivateDnsEnabled=True)))
    assert answer["Status"] == "FAILED"
    assert "not verified" in answer["Reason"] and "pendingVerification" in answer["Reason"], answer["Reason"]
    # Left to its default, Private DNS is simply off for such a service.
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc)))
    assert answer["Status"] == "SUCCESS", answer
    assert endpoint(ec2, answer["PhysicalResourceId"])["PrivateDnsEnabled"] is False
    assert answer["Data"]["PrivateDnsName"] == ""


def test_the_string_false_switches_private_dns_off(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    event, key = cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc, PrivateDnsEnabled=False))
    assert event["ResourceProperties"]["PrivateDnsEnabled"] == "false"
    answer = run(fn, cfn, (event, key))
    assert answer["Status"] == "SUCCESS", answer
    assert endpoint(ec2, answer["PhysicalResourceId"])["PrivateDnsEnabled"] is False


@pytest.mark.parametrize("bad, named", [
    ({"ServiceName": ""}, "ServiceName: is required"),
    ({"VpcId": "vpc"}, "VpcId"),
    ({"SubnetIds": []}, "SubnetIds"),
    ({"SubnetIds": ["sg-123"]}, "SubnetIds"),
    ({"SecurityGroupIds": ["subnet-1"]}, "SecurityGroupIds"),
    ({"PolicyDocument": "{not json"}, "PolicyDocument"),
    ({"PrivateDnsEnabled": "yes"}, "PrivateDnsEnabled"),
    ({"IpAddressType": "ipv5"}, "IpAddressType"),
    ({"ServiceRegion": "Virginia"}, "ServiceRegion"),
    ({"Tags": [{"Key": "aws:x", "Value": "1"}]}, "Tags"),
    ({"WaitForAcceptance": "maybe"}, "WaitForAcceptance"),
    ({"AcceptanceTimeoutSeconds": "ten"}, "AcceptanceTimeoutSeconds"),
])
def test_each_bad_property_is_answered_failed_naming_it(fn, cfn, ec2, consumer_vpc, provider, bad, named):
    service = provider()
    stack = stack_id()
    properties = {**props(service, consumer_vpc), **bad}
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", properties, stack))
    assert answer["Status"] == "FAILED"
    assert named in answer["Reason"], answer["Reason"]
    assert live_endpoints(ec2, stack) == []
    deleted = run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", answer["PhysicalResourceId"], properties, stack))
    assert deleted["Status"] == "SUCCESS", deleted


def test_an_acceptance_required_service_answers_pending_acceptance_with_private_dns_off(
        fn, cfn, ec2, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc)))
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Data"]["State"] == "pendingAcceptance"
    # Switching Private DNS on before the provider accepts would break the name: it stays off.
    assert endpoint(ec2, answer["PhysicalResourceId"])["PrivateDnsEnabled"] is False


def test_a_redelivered_create_makes_no_second_endpoint(fn, cfn, ec2, emulator, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    event, key = cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc), stack)
    emulator.clear_calls()
    assert fn.invoke(event).kind == "response"
    cfn.still_waiting(event)  # the duplicate arrives before CloudFormation has the answer
    assert fn.invoke(event).kind == "response"
    answers = cfn.answers(key)
    assert [a["Status"] for a in answers] == ["SUCCESS", "SUCCESS"]
    assert answers[0]["PhysicalResourceId"] == answers[1]["PhysicalResourceId"]
    # The second finds the first's endpoint by its tags (were it not visible yet, the
    # ClientToken would make CreateVpcEndpoint return the same one).
    assert [c["action"] for c in emulator.calls()].count("CreateVpcEndpoint") == 1
    assert live_endpoints(ec2, stack) == [answers[0]["PhysicalResourceId"]]


def test_subnets_groups_policy_private_dns_and_tags_change_in_place(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    sg = ec2.create_security_group(GroupName=f"g-{stack[-8:]}", Description="x", VpcId=consumer_vpc.vpc_id)["GroupId"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*"}]}
    old = props(service, consumer_vpc, "a", Tags=[{"Key": "team", "Value": "a"}, {"Key": "cost-center", "Value": "x"}])
    endpoint_id = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", old, stack))["PhysicalResourceId"]
    new = props(service, consumer_vpc, "a", "b", SecurityGroupIds=[sg], PolicyDocument=policy,
                PrivateDnsEnabled=False, Tags=[{"Key": "team", "Value": "b"}])
    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, new, old, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == endpoint_id
    described = endpoint(ec2, endpoint_id)
    assert sorted(described["SubnetIds"]) == sorted([consumer_vpc.subnet("a"), consumer_vpc.subnet("b")])
    assert [g["GroupId"] for g in described["Groups"]] == [sg]
    assert json.loads(described["PolicyDocument"]) == policy
    assert described["PrivateDnsEnabled"] is False
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags["team"] == "b" and "cost-center" not in tags
    assert len(answer["Data"]["PrivateIpAddresses"].split(",")) == 2
    # Removing the policy restores the default one.
    newer = {k: v for k, v in new.items() if k != "PolicyDocument"}
    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, newer, new, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert json.loads(endpoint(ec2, endpoint_id)["PolicyDocument"]) != policy


def test_a_new_service_replaces_the_endpoint_and_a_rollback_update_works_the_same_way(
        fn, cfn, ec2, consumer_vpc, provider):
    first, second = provider(), provider(private_dns_name=None)
    stack = stack_id()
    old = props(first, consumer_vpc)
    original = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", old, stack))["PhysicalResourceId"]
    new = props(second, consumer_vpc)
    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", original, new, old, stack))
    assert answer["Status"] == "SUCCESS", answer
    replacement = answer["PhysicalResourceId"]
    assert replacement != original
    assert endpoint(ec2, replacement)["ServiceName"] == second.service_name
    assert endpoint(ec2, original)["State"] == "available"  # CloudFormation deletes it later
    # Rollback: old and new swapped, sent for the replacement.
    rolled = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", replacement, old, new, stack))
    assert rolled["Status"] == "SUCCESS", rolled
    assert endpoint(ec2, rolled["PhysicalResourceId"])["ServiceName"] == first.service_name
    # Then CloudFormation deletes the endpoints it no longer holds.
    for leftover in {original, replacement} - {rolled["PhysicalResourceId"]}:
        deleted = run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", leftover, new, stack))
        assert deleted["Status"] == "SUCCESS", deleted
    assert live_endpoints(ec2, stack) == [rolled["PhysicalResourceId"]]


def test_a_failed_update_keeps_the_endpoint_and_its_id(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    old = props(service, consumer_vpc, "a")
    endpoint_id = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", old, stack))["PhysicalResourceId"]
    new = props(service, consumer_vpc, "a", "c")  # us-east-1c is not offered
    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, new, old, stack))
    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == endpoint_id
    assert endpoint(ec2, endpoint_id)["SubnetIds"] == [consumer_vpc.subnet("a")]


def test_delete_removes_the_endpoint_and_a_second_delete_of_it_succeeds(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    endpoint_id = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc), stack))["PhysicalResourceId"]
    for _ in range(2):
        answer = run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", endpoint_id, {}, stack))
        assert answer["Status"] == "SUCCESS", answer
        assert answer["PhysicalResourceId"] == endpoint_id
    assert live_endpoints(ec2, stack) == []


def test_delete_of_a_cancelled_create_finds_the_endpoint_by_its_tags(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc), stack))
    assert len(live_endpoints(ec2, stack)) == 1
    # CloudFormation cancelled the Create before reading its answer, and deletes with an id it made up.
    made_up = f"{stack.split('/')[1]}-Endpoint-1A2B3C4D5E6F"
    answer = run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", made_up, props(service, consumer_vpc), stack))
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == made_up
    assert live_endpoints(ec2, stack) == []


def test_delete_of_an_endpoint_not_made_by_this_resource_leaves_it(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    foreign = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=consumer_vpc.vpc_id, ServiceName=service.service_name,
        SubnetIds=[consumer_vpc.subnet("a")], PrivateDnsEnabled=False)["VpcEndpoint"]["VpcEndpointId"]
    answer = run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", foreign, {}))
    assert answer["Status"] == "SUCCESS", answer
    assert endpoint(ec2, foreign)["State"] == "available"


def test_throttling_and_a_not_yet_visible_endpoint_are_ridden_out(fn, cfn, ec2, emulator, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    emulator.add_fault("CreateVpcEndpoint", "RequestLimitExceeded", status=503, count=2,
                       message="Request limit exceeded.")
    # Eventual consistency: the first look at the fresh id (by id, not by filters) misses it.
    emulator.add_fault("DescribeVpcEndpoints", "InvalidVpcEndpointId.NotFound", count=1,
                       message="The VpcEndpoint Id does not exist", match="VpcEndpointId.1=")
    properties = props(service, consumer_vpc)
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", properties, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert live_endpoints(ec2, stack) == [answer["PhysicalResourceId"]]


def test_create_makes_four_ec2_calls_besides_state_polls_and_two_more_for_private_dns(
        fn, cfn, emulator, consumer_vpc, provider):
    service = provider()
    emulator.clear_calls()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc, PrivateDnsEnabled="false")))
    assert answer["Status"] == "SUCCESS", answer
    calls = [c["action"] for c in emulator.calls() if c["service"] == "ec2"]
    # The reads before anything is made go out at once: they arrive in either order.
    made_at = calls.index("CreateVpcEndpoint")
    assert sorted(c for c in calls[:made_at] if c != "DescribeVpcEndpoints") == [
        "DescribeSubnets", "DescribeVpcEndpointServices"]
    assert calls[:made_at].count("DescribeVpcEndpoints") == 1  # this resource's earlier endpoints
    assert [c for c in calls[made_at:] if c != "DescribeVpcEndpoints"] == [
        "CreateVpcEndpoint", "DescribeNetworkInterfaces"]
    emulator.clear_calls()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc)))
    assert answer["Status"] == "SUCCESS", answer
    calls = [c["action"] for c in emulator.calls() if c["service"] == "ec2"]
    # Private DNS: the VPC's two DNS attributes, one attribute per call.
    made_at = calls.index("CreateVpcEndpoint")
    assert sorted(c for c in calls[:made_at] if c != "DescribeVpcEndpoints") == [
        "DescribeSubnets", "DescribeVpcAttribute", "DescribeVpcAttribute", "DescribeVpcEndpointServices"]
    # One read of the VPC's endpoints serves both questions: this resource's earlier endpoints,
    # and the one that may already hold the private DNS name.
    assert calls[:made_at].count("DescribeVpcEndpoints") == 1
    assert [c for c in calls[made_at:] if c != "DescribeVpcEndpoints"] == [
        "CreateVpcEndpoint", "DescribeNetworkInterfaces"]


def test_a_second_endpoint_claiming_the_same_private_dns_name_fails_saying_what_to_do(
        fn, cfn, ec2, emulator, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    first = run(fn, cfn, cfn.create_event(TYPE, "First", props(service, consumer_vpc), stack))
    assert first["Status"] == "SUCCESS", first
    emulator.clear_calls()
    second = run(fn, cfn, cfn.create_event(TYPE, "Second", props(service, consumer_vpc), stack))
    assert second["Status"] == "FAILED"
    assert "Only one endpoint per VPC can own a private DNS name" in second["Reason"], second["Reason"]
    # Found before anything is made, naming the endpoint that holds the name.
    assert f"{first['PhysicalResourceId']} of {service.service_name} holds api.partner.com" in second["Reason"]
    assert "CreateVpcEndpoint" not in [c["action"] for c in emulator.calls()]


def vpc_with_dns(ec2: Any, *, support: bool, hostnames: bool) -> Any:
    """A VPC 10.0.0.0/16 with subnets in us-east-1a/b and the DNS attributes given."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": support})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": hostnames})
    subnets = {az: ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24",
                                     AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab", start=1)}
    return ConsumerVpc(vpc_id=vpc_id, cidr="10.0.0.0/16",
                       subnets={f"us-east-1{az}": s for az, s in subnets.items()}, subnet_cidrs={})


@pytest.mark.parametrize("support, hostnames, named", [
    (True, False, "enableDnsHostnames"), (False, True, "enableDnsSupport"),
    (False, False, "enableDnsSupport and enableDnsHostnames")])
def test_private_dns_in_a_vpc_without_its_dns_attributes_fails_before_anything_is_made(
        fn, cfn, ec2, emulator, provider, support, hostnames, named):
    # Found only after the provider accepted, the rollback would throw the acceptance away.
    service = provider(acceptance_required=True)
    vpc = vpc_with_dns(ec2, support=support, hostnames=hostnames)
    stack = stack_id()
    emulator.clear_calls()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, vpc), stack))
    assert answer["Status"] == "FAILED"
    assert f"Private DNS needs {named} on {vpc.vpc_id}" in answer["Reason"], answer["Reason"]
    assert "aws ec2 modify-vpc-attribute" in answer["Reason"]
    assert "CreateVpcEndpoint" not in [c["action"] for c in emulator.calls()]
    assert live_endpoints(ec2, stack) == []
    # Without Private DNS the same VPC is fine.
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, vpc, PrivateDnsEnabled="false"), stack))
    assert answer["Status"] == "SUCCESS", answer


def notifications(ec2: Any, endpoint_id: str) -> list[dict[str, Any]]:
    return ec2.describe_vpc_endpoint_connection_notifications(
        Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint_id]}])["ConnectionNotificationSet"]


TOPIC = "arn:aws:sns:us-east-1:123456789012:partner-connections"


def test_a_connection_topic_is_told_of_the_endpoints_events_and_follows_updates_and_delete(
        fn, cfn, ec2, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    stack = stack_id()
    properties = props(service, consumer_vpc, ConnectionNotificationArn=TOPIC)
    created = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", properties, stack))
    assert created["Status"] == "SUCCESS", created
    endpoint_id = created["PhysicalResourceId"]
    [notification] = notifications(ec2, endpoint_id)
    assert notification["ConnectionNotificationArn"] == TOPIC
    assert sorted(notification["ConnectionEvents"]) == ["Accept", "Connect", "Delete", "Reject"]

    other = TOPIC + "-2"
    moved = {**properties, "ConnectionNotificationArn": other}
    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, moved, properties, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert [n["ConnectionNotificationArn"] for n in notifications(ec2, endpoint_id)] == [other]

    plain = props(service, consumer_vpc)
    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, plain, moved, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert notifications(ec2, endpoint_id) == []

    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, moved, plain, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert [n["ConnectionNotificationArn"] for n in notifications(ec2, endpoint_id)] == [other]
    answer = run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", endpoint_id, moved, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert notifications(ec2, endpoint_id) == []
    assert live_endpoints(ec2, stack) == []


def test_a_redelivered_create_makes_no_second_connection_notification(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    event, key = cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc, ConnectionNotificationArn=TOPIC))
    assert fn.invoke(event).kind == "response"
    cfn.still_waiting(event)  # the duplicate arrives before CloudFormation has the answer
    assert fn.invoke(event).kind == "response"
    first, second = cfn.answers(key)
    assert first["Status"] == second["Status"] == "SUCCESS", (first, second)
    assert first["PhysicalResourceId"] == second["PhysicalResourceId"]
    assert len(notifications(ec2, first["PhysicalResourceId"])) == 1


@pytest.mark.parametrize("extra, named", [
    ({"ConnectionNotificationArn": "partner-connections"},
     'ConnectionNotificationArn: "partner-connections" is not an SNS topic ARN'),
    ({"WaitForAcceptance": "false", "AcceptanceTimeoutSeconds": "86400", "AcceptancePollIntervalSeconds": "1"},
     "AcceptancePollIntervalSeconds: every 1 s for 86400 s makes 86400 checks, more than the 1800"),
], ids=["topic-not-an-arn", "loop-past-the-history-limit"])
def test_properties_that_could_not_work_are_refused_before_anything_is_made(
        fn, cfn, ec2, consumer_vpc, provider, extra, named):
    service = provider(acceptance_required=True)
    stack = stack_id()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc, **extra), stack))
    assert answer["Status"] == "FAILED"
    assert named in answer["Reason"], answer["Reason"]
    assert live_endpoints(ec2, stack) == []


def test_a_create_cut_off_by_the_deadline_leaves_no_orphan_holding_the_name(fn, cfn, ec2, emulator, consumer_vpc, provider):
    # The call outlives the invocation; the rollback's Delete comes while it is still on its way.
    # Left behind, the endpoint would hold the private DNS name and fail every retry of the stack.
    service = provider()
    stack = stack_id()
    emulator.add_fault("CreateVpcEndpoint", "", delay_seconds=6)
    created = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc), stack),
                  deadline_s=4, timeout_s=30)
    assert created["Status"] == "FAILED" and created["Reason"].startswith("Timed out"), created
    assert "nothing is made twice" not in created["Reason"]
    assert created["PhysicalResourceId"].startswith("privatelink-interrupted-create-")
    deleted = run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", created["PhysicalResourceId"],
                                            props(service, consumer_vpc), stack), deadline_s=60)
    assert deleted["Status"] == "SUCCESS", deleted
    assert live_endpoints(ec2, stack) == []


def test_a_new_create_adopts_what_an_interrupted_one_made(fn, cfn, ec2, emulator, consumer_vpc, provider):
    # The same resource created again (a retried stack operation) finds the endpoint the first
    # attempt's late call made, pending or not, instead of clashing with it on the name.
    service = provider(acceptance_required=True)
    stack = stack_id()
    emulator.add_fault("CreateVpcEndpoint", "", delay_seconds=5)
    first = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc), stack),
                deadline_s=3, timeout_s=30)
    assert first["Status"] == "FAILED", first
    for _ in range(50):  # the late call completes
        if live_endpoints(ec2, stack):
            break
        time.sleep(0.2)
    [orphan] = live_endpoints(ec2, stack)
    second = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc), stack))
    assert second["Status"] == "SUCCESS", second
    assert second["PhysicalResourceId"] == orphan
    assert second["Data"]["State"] == "pendingAcceptance"
    assert live_endpoints(ec2, stack) == [orphan]


def test_creates_beyond_ec2s_request_rate_wait_their_turn_and_each_makes_one_endpoint(
        lambda_function, cfn, ec2, emulator, consumer_vpc, provider):
    # EC2 throttles CreateVpcEndpoint per account and Region: 4 at once, then one every 3.3 s
    # (the emulator's token buckets, tests/harness/emulator/ec2_throttling.py). Seven stacks
    # created at once: three wait past their first tries, and each still gets one endpoint.
    service = provider()
    emulator.set_settings(ec2_throttling=True)
    emulator.throttling(reset=True)
    stacks = [stack_id() for _ in range(7)]
    functions = [lambda_function("privatelink-endpoint") for _ in stacks]
    answers: dict[str, dict[str, Any]] = {}

    def create(fn: Any, stack: str) -> None:
        answers[stack] = run(fn, cfn, cfn.create_event(
            TYPE, "Endpoint", props(service, consumer_vpc, "a", PrivateDnsEnabled="false"), stack))

    threads = [threading.Thread(target=create, args=pair) for pair in zip(functions, stacks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counted = emulator.throttling()
    emulator.set_settings(ec2_throttling=False)
    assert counted["throttled"].get("CreateVpcEndpoint", 0) > 0, counted
    for stack in stacks:
        assert answers[stack]["Status"] == "SUCCESS", answers[stack]
        assert live_endpoints(ec2, stack) == [answers[stack]["PhysicalResourceId"]]


def test_an_update_naming_an_endpoint_this_resource_did_not_make_changes_nothing(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    foreign = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=consumer_vpc.vpc_id, ServiceName=service.service_name,
        SubnetIds=[consumer_vpc.subnet("a")], PrivateDnsEnabled=False)["VpcEndpoint"]["VpcEndpointId"]
    wanted = props(service, consumer_vpc, "a", "b", PrivateDnsEnabled="false")
    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", foreign, wanted, wanted))
    assert answer["Status"] == "FAILED"
    assert f"{foreign} is not one this resource made" in answer["Reason"], answer["Reason"]
    assert endpoint(ec2, foreign)["SubnetIds"] == [consumer_vpc.subnet("a")]


def test_only_the_subnets_that_do_not_exist_are_named(fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    missing = "subnet-0000000000000dead"
    properties = {**props(service, consumer_vpc), "SubnetIds": [consumer_vpc.subnet("a"), missing]}
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", properties))
    assert answer["Status"] == "FAILED"
    assert f"SubnetIds: {missing} does not exist" in answer["Reason"], answer["Reason"]
    assert consumer_vpc.subnet("a") not in answer["Reason"]


def test_a_misspelt_property_is_refused_naming_the_one_meant(fn, cfn, ec2, consumer_vpc, provider):
    # Silently ignored, it would deploy an endpoint without what was asked.
    service = provider()
    stack = stack_id()
    properties = {**props(service, consumer_vpc), "PrivateDNSEnabled": "false", "ServiceTimeout": "600"}
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", properties, stack))
    assert answer["Status"] == "FAILED"
    assert '"PrivateDNSEnabled": is not a property of this resource; did you mean PrivateDnsEnabled?' in answer["Reason"]
    assert "ServiceTimeout" not in answer["Reason"]  # CloudFormation's own
    assert live_endpoints(ec2, stack) == []


def test_a_huge_or_hostile_value_still_leaves_every_problem_named(fn, cfn, consumer_vpc, provider):
    service = provider()
    properties = {**props(service, consumer_vpc), "VpcId": "x" * 100_000,
                  "IpAddressType": "ipv4\u202e\n[ERROR] forged log line", "ServiceRegion": "nowhere"}
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", properties))
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    for named in ("VpcId:", "IpAddressType:", "ServiceRegion:"):
        assert named in reason, reason
    assert "\n" not in reason and "\u202e" not in reason, reason
    assert len(reason) < 1024
