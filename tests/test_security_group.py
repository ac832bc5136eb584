"""`Custom::PrivateLinkSecurityGroup`, black-box: the real `privatelink-security-group` binary
under the Lambda Runtime API, talking to the extended moto emulator, answering through a
pre-signed S3 URL."""

from __future__ import annotations

import ipaddress

import json
from typing import Any

import pytest

from tests.harness import VERSION
from tests.harness.cfn import stack_id

TYPE = "Custom::PrivateLinkSecurityGroup"
PLACEHOLDER = "privatelink-failed-create-"


@pytest.fixture
def fn(lambda_function):
    return lambda_function("privatelink-security-group")


def group(ec2: Any, group_id: str) -> dict[str, Any]:
    return ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]


def ingress(g: dict[str, Any]) -> set[tuple[int, str]]:
    rules = set()
    for perm in g["IpPermissions"]:
        assert perm["IpProtocol"] == "tcp" and perm["FromPort"] == perm["ToPort"]
        for r in perm.get("IpRanges", []):
            rules.add((perm["FromPort"], r["CidrIp"]))
        for r in perm.get("Ipv6Ranges", []):
            rules.add((perm["FromPort"], r["CidrIpv6"]))
    return rules


def user_tags(g: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in g.get("Tags", []) if not t["Key"].startswith("privatelink-lambdas:")}


def groups_tagged(ec2: Any, stack: str, logical_id: str) -> list[str]:
    found = ec2.describe_security_groups(Filters=[
        {"Name": "tag:privatelink-lambdas:stack-id", "Values": [stack]},
        {"Name": "tag:privatelink-lambdas:logical-id", "Values": [logical_id]},
    ])["SecurityGroups"]
    return [g["GroupId"] for g in found]


def run(fn, cfn, event_and_key, **invoke) -> dict[str, Any]:
    event, key = event_and_key
    invocation = fn.invoke(event, **invoke)
    assert invocation.kind == "response", (invocation.kind, invocation.body, invocation.logs[-5:])
    return cfn.answer(key)


def test_create_admits_only_the_vpc_cidr_on_443_and_allows_no_egress(fn, cfn, ec2, consumer_vpc):
    stack = stack_id()
    answer = run(fn, cfn, cfn.create_event(TYPE, "EndpointSg", {"VpcId": consumer_vpc.vpc_id}, stack))
    assert answer["Status"] == "SUCCESS", answer
    group_id = answer["PhysicalResourceId"]
    assert group_id.startswith("sg-")
    assert answer["Data"] == {"GroupId": group_id, "SourceCidrs": "10.0.0.0/16",
                              "SourceSecurityGroupIds": "", "SourcePrefixListIds": "", "Ports": "443"}
    g = group(ec2, group_id)
    assert ingress(g) == {(443, "10.0.0.0/16")}
    assert g["IpPermissionsEgress"] == []
    assert g["Description"] == "Allow from my VPC"
    assert all(r.get("Description") for p in g["IpPermissions"] for r in p["IpRanges"])
    tags = {t["Key"]: t["Value"] for t in g["Tags"]}
    assert tags["privatelink-lambdas:stack-id"] == stack
    assert tags["privatelink-lambdas:logical-id"] == "EndpointSg"
    assert tags["privatelink-lambdas:version"] == VERSION


def test_the_default_sources_include_the_vpcs_secondary_and_ipv6_blocks(fn, cfn, ec2, consumer_vpc):
    ec2.associate_vpc_cidr_block(VpcId=consumer_vpc.vpc_id, CidrBlock="10.1.0.0/16")
    ec2.associate_vpc_cidr_block(VpcId=consumer_vpc.vpc_id, AmazonProvidedIpv6CidrBlock=True)
    vpc = ec2.describe_vpcs(VpcIds=[consumer_vpc.vpc_id])["Vpcs"][0]
    # In its canonical spelling, as the rule is written (the emulator may hand out "...:0400::/56").
    ipv6 = str(ipaddress.ip_network(vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]))
    answer = run(fn, cfn, cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}))
    assert answer["Status"] == "SUCCESS", answer
    assert ingress(group(ec2, answer["PhysicalResourceId"])) == {
        (443, "10.0.0.0/16"), (443, "10.1.0.0/16"), (443, ipv6)}


def test_ports_and_cidrs_given_as_template_strings_become_one_rule_each(fn, cfn, ec2, consumer_vpc):
    props = {"VpcId": consumer_vpc.vpc_id, "Ports": [443, 8443],
             "SourceCidrs": ["10.0.1.0/24", "10.0.2.0/24"], "GroupName": "partner-api",
             "Description": "Partner API", "Tags": [{"Key": "team", "Value": "net"}]}
    event, key = cfn.create_event(TYPE, "Sg", props)
    assert event["ResourceProperties"]["Ports"] == ["443", "8443"]  # as CloudFormation sends them
    answer = run(fn, cfn, (event, key))
    assert answer["Status"] == "SUCCESS", answer
    g = group(ec2, answer["PhysicalResourceId"])
    assert ingress(g) == {(p, c) for p in (443, 8443) for c in ("10.0.1.0/24", "10.0.2.0/24")}
    assert g["GroupName"] == "partner-api"
    assert user_tags(g) == {"team": "net"}
    assert answer["Data"]["SourceCidrs"] == "10.0.1.0/24,10.0.2.0/24"


@pytest.mark.parametrize("props, named", [
    ({"VpcId": "subnet-123"}, "VpcId"),
    ({}, "VpcId: is required"),
    ({"Ports": ["0"]}, 'Ports: "0" is not one of the forms 443, 8000-8100, tcp/443, udp/53 or udp/5000-5010, ports 1-65535'),
    ({"Ports": ["65536"]}, 'Ports: "65536" is not one of the forms 443, 8000-8100, tcp/443, udp/53 or udp/5000-5010, ports 1-65535'),
    ({"Ports": ["https"]}, 'Ports: "https" is not one of the forms 443, 8000-8100, tcp/443, udp/53 or udp/5000-5010, ports 1-65535'),
    ({"Ports": ["8100-8000"]}, 'Ports: "8100-8000" is not one of the forms 443, 8000-8100, tcp/443, udp/53 or udp/5000-5010, ports 1-65535'),
    ({"Ports": ["icmp/8"]}, 'Ports: "icmp/8" is not one of the forms 443, 8000-8100, tcp/443, udp/53 or udp/5000-5010, ports 1-65535'),
    ({"Ports": ["udp/0-53"]}, 'Ports: "udp/0-53" is not one of the forms 443, 8000-8100, tcp/443, udp/53 or udp/5000-5010, ports 1-65535'),
    ({"SourceCidrs": ["10.0.0.0/33"]}, "SourceCidrs"),
    ({"SourceCidrs": ["everywhere"]}, "SourceCidrs"),
    ({"GroupName": "sg-looks-like-an-id"}, "GroupName"),
    ({"Description": "x" * 256}, "Description"),
    ({"Tags": [{"Key": "aws:reserved", "Value": "x"}]}, "Tags"),
    ({"Tags": "team=net"}, "Tags"),
    # The owner tags are what Delete trusts: a user tag must never overwrite them.
    ({"Tags": [{"Key": "privatelink-lambdas:stack-id", "Value": "another-stack"}]},
     'tag key "privatelink-lambdas:stack-id" uses the reserved privatelink-lambdas: prefix'),
    ({"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(48)]}, "Tags: has 48 tags; at most 45"),
    ({"SourceCidrs": ["0.0.0.0/0"]}, 'SourceCidrs: "0.0.0.0/0" admits every address'),
    ({"SourceCidrs": ["::/0"]}, 'SourceCidrs: "::/0" admits every address'),
    ({"SourceCidrs": ["10.0.0.1/8"]}, 'SourceCidrs: "10.0.0.1/8" has host bits set: did you mean 10.0.0.0/8?'),
    ({"Port": "443"}, '"Port": is not a property of this resource; did you mean Ports?'),
    ({"SourceCIDRs": ["10.0.0.0/16"]}, '"SourceCIDRs": is not a property of this resource; did you mean SourceCidrs?'),
], ids=lambda v: None if isinstance(v, dict) else v[:40])
def test_each_bad_property_is_answered_failed_naming_it_and_makes_nothing(
        fn, cfn, ec2, consumer_vpc, props, named):
    props = {"VpcId": consumer_vpc.vpc_id, **props} if "VpcId" not in props and props else props
    stack = stack_id()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Sg", props, stack))
    assert answer["Status"] == "FAILED"
    assert named in answer["Reason"], answer["Reason"]
    assert answer["PhysicalResourceId"].startswith(PLACEHOLDER)
    assert groups_tagged(ec2, stack, "Sg") == []
    # CloudFormation's rollback then deletes the placeholder: that must succeed.
    delete = run(fn, cfn, cfn.delete_event(TYPE, "Sg", answer["PhysicalResourceId"], props, stack))
    assert delete["Status"] == "SUCCESS", delete
    assert delete["PhysicalResourceId"] == answer["PhysicalResourceId"]


def test_a_redelivered_create_makes_no_second_group(fn, cfn, ec2, consumer_vpc):
    stack = stack_id()
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}, stack)
    first = fn.invoke(event)
    cfn.still_waiting(event)  # the duplicate arrives before CloudFormation has the answer
    second = fn.invoke(event)  # Lambda delivers the same event again
    assert first.kind == second.kind == "response"
    answers = cfn.answers(key)
    assert [a["Status"] for a in answers] == ["SUCCESS", "SUCCESS"]
    assert answers[0]["PhysicalResourceId"] == answers[1]["PhysicalResourceId"]
    assert groups_tagged(ec2, stack, "Sg") == [answers[0]["PhysicalResourceId"]]
    assert ingress(group(ec2, answers[0]["PhysicalResourceId"])) == {(443, "10.0.0.0/16")}


def port_rules(g: dict[str, Any]) -> set[tuple[str, int, int, str]]:
    """(protocol, from, to, source) of every inbound rule, TCP and UDP, single ports and ranges."""
    return {(perm["IpProtocol"], perm["FromPort"], perm["ToPort"], r.get("CidrIp") or r.get("CidrIpv6"))
            for perm in g["IpPermissions"] for r in perm.get("IpRanges", []) + perm.get("Ipv6Ranges", [])}


def test_ports_take_ranges_and_udp_and_change_in_place(fn, cfn, ec2, consumer_vpc):
    # PrivateLink carries UDP since October 2024: a DNS service on udp/53 beside a TCP range.
    stack = stack_id()
    old = {"VpcId": consumer_vpc.vpc_id, "SourceCidrs": ["10.0.3.0/24"],
           "Ports": ["8000-8100", "udp/53", "tcp/443", "443"]}
    created = run(fn, cfn, cfn.create_event(TYPE, "Sg", old, stack))
    assert created["Status"] == "SUCCESS", created
    group_id = created["PhysicalResourceId"]
    assert port_rules(group(ec2, group_id)) == {("tcp", 8000, 8100, "10.0.3.0/24"), ("udp", 53, 53, "10.0.3.0/24"),
                                                ("tcp", 443, 443, "10.0.3.0/24")}
    assert created["Data"]["Ports"] == "8000-8100,udp/53,443"
    new = {**old, "Ports": ["udp/5000-5010", "443"]}
    updated = run(fn, cfn, cfn.update_event(TYPE, "Sg", group_id, new, old, stack))
    assert updated["Status"] == "SUCCESS" and updated["PhysicalResourceId"] == group_id, updated
    assert port_rules(group(ec2, group_id)) == {("udp", 5000, 5010, "10.0.3.0/24"), ("tcp", 443, 443, "10.0.3.0/24")}
    assert updated["Data"]["Ports"] == "udp/5000-5010,443"


def test_ports_cidrs_and_tags_change_in_place(fn, cfn, ec2, consumer_vpc):
    stack = stack_id()
    old = {"VpcId": consumer_vpc.vpc_id, "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}
    created = run(fn, cfn, cfn.create_event(TYPE, "Sg", old, stack))
    group_id = created["PhysicalResourceId"]
    new = {"VpcId": consumer_vpc.vpc_id, "Ports": ["8443"], "SourceCidrs": ["10.0.3.0/24"],
           "Tags": [{"Key": "a", "Value": "changed"}]}
    updated = run(fn, cfn, cfn.update_event(TYPE, "Sg", group_id, new, old, stack))
    assert updated["Status"] == "SUCCESS", updated
    assert updated["PhysicalResourceId"] == group_id
    g = group(ec2, group_id)
    assert ingress(g) == {(8443, "10.0.3.0/24")}
    assert user_tags(g) == {"a": "changed"}
    assert g["IpPermissionsEgress"] == []


def test_a_new_description_replaces_the_group_and_a_rollback_returns_to_the_original(
        fn, cfn, ec2, consumer_vpc):
    stack = stack_id()
    old = {"VpcId": consumer_vpc.vpc_id}
    original = run(fn, cfn, cfn.create_event(TYPE, "Sg", old, stack))["PhysicalResourceId"]
    new = {"VpcId": consumer_vpc.vpc_id, "Description": "Partner API only"}
    replaced = run(fn, cfn, cfn.update_event(TYPE, "Sg", original, new, old, stack))
    assert replaced["Status"] == "SUCCESS", replaced
    replacement = replaced["PhysicalResourceId"]
    assert replacement != original
    assert group(ec2, replacement)["Description"] == "Partner API only"
    assert group(ec2, original)  # CloudFormation deletes the old one later, not us
    # The stack fails later: rollback sends an Update with old and new swapped.
    rolled_back = run(fn, cfn, cfn.update_event(TYPE, "Sg", replacement, old, new, stack))
    assert rolled_back["Status"] == "SUCCESS", rolled_back
    assert rolled_back["PhysicalResourceId"] == original
    # ...and then deletes the replacement.
    deleted = run(fn, cfn, cfn.delete_event(TYPE, "Sg", replacement, new, stack))
    assert deleted["Status"] == "SUCCESS", deleted
    assert groups_tagged(ec2, stack, "Sg") == [original]


def test_a_new_description_with_a_fixed_group_name_fails_saying_to_rename(fn, cfn, ec2, consumer_vpc):
    stack = stack_id()
    old = {"VpcId": consumer_vpc.vpc_id, "GroupName": "fixed-name"}
    group_id = run(fn, cfn, cfn.create_event(TYPE, "Sg", old, stack))["PhysicalResourceId"]
    new = {**old, "Description": "Other"}
    answer = run(fn, cfn, cfn.update_event(TYPE, "Sg", group_id, new, old, stack))
    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == group_id
    assert "GroupName" in answer["Reason"] and "fixed-name" in answer["Reason"], answer["Reason"]


def test_delete_waits_out_the_interfaces_of_a_deleted_endpoint(fn, cfn, ec2, emulator, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    group_id = run(fn, cfn, cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}, stack))["PhysicalResourceId"]
    endpoint = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=consumer_vpc.vpc_id, ServiceName=service.service_name,
        SubnetIds=[consumer_vpc.subnet("a")], SecurityGroupIds=[group_id], PrivateDnsEnabled=False,
    )["VpcEndpoint"]["VpcEndpointId"]
    emulator.set_settings(eni_linger_seconds=4)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    answer = run(fn, cfn, cfn.delete_event(TYPE, "Sg", group_id, {"VpcId": consumer_vpc.vpc_id}, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert groups_tagged(ec2, stack, "Sg") == []
    calls = [c["action"] for c in emulator.calls() if c["action"] == "DeleteSecurityGroup"]
    assert len(calls) >= 2  # it was refused (DependencyViolation) and retried


def test_delete_of_a_group_still_in_use_fails_before_the_deadline_saying_why(
        fn, cfn, ec2, consumer_vpc, provider):
    service = provider()
    stack = stack_id()
    group_id = run(fn, cfn, cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}, stack))["PhysicalResourceId"]
    ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=consumer_vpc.vpc_id, ServiceName=service.service_name,
        SubnetIds=[consumer_vpc.subnet("a")], SecurityGroupIds=[group_id], PrivateDnsEnabled=False,
    )
    event, key = cfn.delete_event(TYPE, "Sg", group_id, {"VpcId": consumer_vpc.vpc_id}, stack)
    invocation = fn.invoke(event, deadline_s=12, timeout_s=30)
    assert invocation.kind == "response"
    assert invocation.duration_s < 12
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert "still in use" in answer["Reason"] and group_id in answer["Reason"], answer["Reason"]
    assert group(ec2, group_id)


def test_delete_of_a_gone_group_or_one_not_ours_succeeds_and_touches_nothing(fn, cfn, ec2, consumer_vpc):
    stack = stack_id()
    created = run(fn, cfn, cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}, stack))
    ec2.delete_security_group(GroupId=created["PhysicalResourceId"])
    gone = run(fn, cfn, cfn.delete_event(TYPE, "Sg", created["PhysicalResourceId"], {}, stack))
    assert gone["Status"] == "SUCCESS", gone
    foreign = ec2.create_security_group(GroupName="someone-elses", Description="x",
                                        VpcId=consumer_vpc.vpc_id)["GroupId"]
    not_ours = run(fn, cfn, cfn.delete_event(TYPE, "Sg", foreign, {}, stack))
    assert not_ours["Status"] == "SUCCESS", not_ours
    assert group(ec2, foreign)


def test_throttling_on_the_first_tries_is_ridden_out(fn, cfn, ec2, emulator, consumer_vpc):
    emulator.add_fault("CreateSecurityGroup", "RequestLimitExceeded", status=503, count=2,
                       message="Request limit exceeded.")
    emulator.add_fault("AuthorizeSecurityGroupIngress", "RequestLimitExceeded", status=503, count=1)
    stack = stack_id()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert groups_tagged(ec2, stack, "Sg") == [answer["PhysicalResourceId"]]
    assert ingress(group(ec2, answer["PhysicalResourceId"])) == {(443, "10.0.0.0/16")}


def test_an_answer_that_would_exceed_4096_bytes_is_answered_failed_and_cleaned_up(
        fn, cfn, ec2, emulator, consumer_vpc):
    emulator.set_settings(rules_per_group=1000)  # an account whose quota was raised
    cidrs = [f"10.0.{i // 250}.{i % 250}/32" for i in range(400)]
    stack = stack_id()
    props = {"VpcId": consumer_vpc.vpc_id, "SourceCidrs": cidrs}
    answer = run(fn, cfn, cfn.create_event(TYPE, "Sg", props, stack))
    assert answer["Status"] == "FAILED"
    assert "over CloudFormation's limit of 4096" in answer["Reason"], answer["Reason"]
    assert "SourceCidrs" in answer["Reason"]
    assert len(json.dumps(answer).encode()) <= 4096
    # The rollback's Delete of what was answered removes the group.
    deleted = run(fn, cfn, cfn.delete_event(TYPE, "Sg", answer["PhysicalResourceId"], props, stack))
    assert deleted["Status"] == "SUCCESS"
    assert groups_tagged(ec2, stack, "Sg") == []


def test_a_vpc_that_does_not_exist_is_named_as_the_bad_property(fn, cfn):
    answer = run(fn, cfn, cfn.create_event(TYPE, "Sg", {"VpcId": "vpc-0123456789abcdef0"}))
    assert answer["Status"] == "FAILED"
    assert "VpcId: vpc-0123456789abcdef0 does not exist" in answer["Reason"], answer["Reason"]


def test_every_address_is_admitted_only_when_asked_for_explicitly(fn, cfn, ec2, consumer_vpc):
    props = {"VpcId": consumer_vpc.vpc_id, "SourceCidrs": ["0.0.0.0/0", "::/0"], "AllowAnySource": "true"}
    answer = run(fn, cfn, cfn.create_event(TYPE, "Sg", props))
    assert answer["Status"] == "SUCCESS", answer
    assert ingress(group(ec2, answer["PhysicalResourceId"])) == {(443, "0.0.0.0/0"), (443, "::/0")}


def test_an_update_never_churns_rules_over_how_a_block_is_spelt(fn, cfn, ec2, emulator, consumer_vpc):
    stack = stack_id()
    old = {"VpcId": consumer_vpc.vpc_id, "SourceCidrs": ["2600:1f18:abcd::/56", "10.0.1.0/24"]}
    created = run(fn, cfn, cfn.create_event(TYPE, "Sg", old, stack))
    assert created["Status"] == "SUCCESS", created
    respelt = {**old, "SourceCidrs": ["2600:1F18:ABCD:0:0::/56", " 10.0.1.0/24"]}
    emulator.clear_calls()
    answer = run(fn, cfn, cfn.update_event(TYPE, "Sg", created["PhysicalResourceId"], respelt, old, stack))
    assert answer["Status"] == "SUCCESS", answer
    actions = [c["action"] for c in emulator.calls()]
    assert "AuthorizeSecurityGroupIngress" not in actions and "RevokeSecurityGroupIngress" not in actions, actions


def test_an_update_naming_a_group_this_resource_did_not_make_changes_nothing(fn, cfn, ec2, consumer_vpc):
    # Anyone allowed to invoke the function can hand-craft an event naming any group.
    foreign = ec2.create_security_group(GroupName=f"foreign-{stack_id()[-8:]}", Description="theirs",
                                        VpcId=consumer_vpc.vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=foreign, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "192.168.0.0/16"}]}])
    before = group(ec2, foreign)
    props = {"VpcId": consumer_vpc.vpc_id, "Description": "theirs", "GroupName": before["GroupName"]}
    answer = run(fn, cfn, cfn.update_event(TYPE, "Sg", foreign, props, props))
    assert answer["Status"] == "FAILED"
    assert f"{foreign} is not one this resource made (it was not made by privatelink-lambdas)" in answer["Reason"], answer
    after = group(ec2, foreign)
    assert after["IpPermissions"] == before["IpPermissions"]
    assert after["IpPermissionsEgress"] == before["IpPermissionsEgress"]


def test_a_non_ascii_stack_name_makes_a_group(fn, cfn, ec2, consumer_vpc):
    stack = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{'Ünïcødé-' * 40}/0000"
    answer = run(fn, cfn, cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert len(group(ec2, answer["PhysicalResourceId"])["GroupName"].encode()) <= 255


def test_a_group_ec2_does_not_show_yet_is_looked_for_again(fn, cfn, ec2, emulator, consumer_vpc):
    # EC2's eventual consistency: a group just made can answer NotFound for a few seconds.
    emulator.add_fault("DescribeSecurityGroups", "InvalidGroup.NotFound", count=2,
                       message="The security group does not exist")
    answer = run(fn, cfn, cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}))
    assert answer["Status"] == "SUCCESS", answer


def test_a_create_cut_off_by_the_deadline_leaves_nothing_after_the_rollback(fn, cfn, ec2, emulator, consumer_vpc):
    # The call outlives the invocation; the rollback's Delete comes while it is still on its way.
    stack = stack_id()
    emulator.add_fault("CreateSecurityGroup", "", delay_seconds=6)
    created = run(fn, cfn, cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}, stack),
                  deadline_s=4, timeout_s=30)
    assert created["Status"] == "FAILED" and created["Reason"].startswith("Timed out"), created
    assert "nothing is made twice" not in created["Reason"]
    assert created["PhysicalResourceId"].startswith("privatelink-interrupted-create-")
    deleted = run(fn, cfn, cfn.delete_event(TYPE, "Sg", created["PhysicalResourceId"], {}, stack), deadline_s=60)
    assert deleted["Status"] == "SUCCESS", deleted
    assert groups_tagged(ec2, stack, "Sg") == []
