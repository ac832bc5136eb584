"""Every endpoint option of the EC2 API, black-box through the real `privatelink-endpoint` (and
`privatelink-security-group`) binaries on the emulator: Create, in-place Update, replacement
where AWS requires it, and bad values named in the Reason before anything is made. The
emulator's model of these options (tests/harness/emulator/ec2_endpoint_options.py) is proven in
test_emulator.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ConsumerVpc
from tests.harness.cfn import stack_id
from tests.harness.emulator import POLICY_SUPPORTED_TAG, REMOTE_ZONES_TAG
from tests.test_emulator import zone_id
from tests.test_endpoint import TYPE, endpoint, live_endpoints, props, run

SG_TYPE = "Custom::PrivateLinkSecurityGroup"


@pytest.fixture
def fn(lambda_function):
    return lambda_function("privatelink-endpoint")


@pytest.fixture
def sg_fn(lambda_function):
    return lambda_function("privatelink-security-group")


def interfaces(ec2: Any, endpoint_id: str) -> list[dict[str, Any]]:
    ids = endpoint(ec2, endpoint_id)["NetworkInterfaceIds"]
    return ec2.describe_network_interfaces(NetworkInterfaceIds=ids)["NetworkInterfaces"]


def refused_before_anything_is_made(fn, cfn, ec2, properties: dict[str, Any]) -> str:
    stack = stack_id()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", properties, stack))
    assert answer["Status"] == "FAILED", answer
    assert live_endpoints(ec2, stack) == []
    return answer["Reason"]


# --------------------------------------------------------------------------- #
# IpAddressType and DnsOptions
# --------------------------------------------------------------------------- #


def test_ip_address_type_is_made_and_changed_in_place_keeping_the_endpoint(fn, cfn, ec2, provider, dualstack_vpc):
    service = provider(ip_address_types=["ipv4", "ipv6"])
    stack = stack_id()
    old = props(service, dualstack_vpc, IpAddressType="dualstack",
                DnsOptions={"DnsRecordIpType": "dualstack"})
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", old, stack))
    assert answer["Status"] == "SUCCESS", answer
    endpoint_id = answer["PhysicalResourceId"]
    described = endpoint(ec2, endpoint_id)
    assert described["IpAddressType"] == "dualstack"
    assert described["DnsOptions"]["DnsRecordIpType"] == "dualstack"
    assert answer["Data"]["IpAddressType"] == "dualstack"
    # Each interface's IPv4 and IPv6 address is answered, as subnet=address pairs too.
    assert len(answer["Data"]["PrivateIpAddresses"].split(",")) == 4
    assert all(any(":" in a for a in [e["Ipv6Addresses"][0]["Ipv6Address"]]) for e in interfaces(ec2, endpoint_id))
    new = props(service, dualstack_vpc, IpAddressType="ipv4", DnsOptions={"DnsRecordIpType": "ipv4"})
    updated = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, new, old, stack))
    assert updated["Status"] == "SUCCESS", updated
    # In place: the same endpoint (a replacement would clash with its own private DNS name).
    assert updated["PhysicalResourceId"] == endpoint_id
    assert endpoint(ec2, endpoint_id)["IpAddressType"] == "ipv4"
    assert endpoint(ec2, endpoint_id)["PrivateDnsEnabled"] is True
    assert live_endpoints(ec2, stack) == [endpoint_id]


def test_an_address_type_the_service_or_the_subnets_lack_is_named_before_anything_is_made(
        fn, cfn, ec2, provider, consumer_vpc):
    v4_only = provider()
    reason = refused_before_anything_is_made(fn, cfn, ec2, props(v4_only, consumer_vpc, IpAddressType="dualstack"))
    assert f"IpAddressType: dualstack is not supported by endpoint service {v4_only.service_name}, which supports ipv4" in reason
    both = provider(ip_address_types=["ipv4", "ipv6"])
    reason = refused_before_anything_is_made(fn, cfn, ec2, props(both, consumer_vpc, IpAddressType="dualstack"))
    assert "has no IPv6 block, which an dualstack endpoint needs" in reason


def test_dns_options_are_made_changed_in_place_and_checked(fn, cfn, ec2, provider, consumer_vpc):
    service = provider()
    stack = stack_id()
    old = props(service, consumer_vpc, DnsOptions={"DnsRecordIpType": "ipv4"})
    endpoint_id = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", old, stack))["PhysicalResourceId"]
    new = props(service, consumer_vpc, DnsOptions={"DnsRecordIpType": "service-defined",
                                                   "PrivateDnsOnlyForInboundResolverEndpoint": "OnlyInboundResolver"})
    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, new, old, stack))
    assert answer["Status"] == "SUCCESS", answer
    options = endpoint(ec2, endpoint_id)["DnsOptions"]
    assert options["DnsRecordIpType"] == "service-defined"
    assert options["PrivateDnsOnlyForInboundResolverEndpoint"] is True
    reason = refused_before_anything_is_made(
        fn, cfn, ec2, props(service, consumer_vpc, DnsOptions={"DnsRecordIpType": "ipv6"}))
    assert "DnsOptions.DnsRecordIpType: ipv6 records need an endpoint with those addresses" in reason


# --------------------------------------------------------------------------- #
# SubnetConfigurations
# --------------------------------------------------------------------------- #


def test_fixed_addresses_are_made_answered_and_moved_in_place(fn, cfn, ec2, provider, consumer_vpc):
    service = provider()
    stack = stack_id()
    a, b = consumer_vpc.subnet("a"), consumer_vpc.subnet("b")
    old = props(service, consumer_vpc, SubnetConfigurations=[{"SubnetId": a, "Ipv4": "10.0.1.10"},
                                                             {"SubnetId": b, "Ipv4": "10.0.2.10"}])
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", old, stack))
    assert answer["Status"] == "SUCCESS", answer
    endpoint_id = answer["PhysicalResourceId"]
    assert sorted(answer["Data"]["SubnetAddresses"].split(",")) == sorted([f"{a}=10.0.1.10", f"{b}=10.0.2.10"])
    new = props(service, consumer_vpc, SubnetConfigurations=[{"SubnetId": a, "Ipv4": "10.0.1.10"},
                                                             {"SubnetId": b, "Ipv4": "10.0.2.20"}])
    updated = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, new, old, stack))
    assert updated["Status"] == "SUCCESS", updated
    assert updated["PhysicalResourceId"] == endpoint_id
    assert sorted(updated["Data"]["SubnetAddresses"].split(",")) == sorted([f"{a}=10.0.1.10", f"{b}=10.0.2.20"])
    assert sorted(e["PrivateIpAddress"] for e in interfaces(ec2, endpoint_id)) == ["10.0.1.10", "10.0.2.20"]


@pytest.mark.parametrize("config, named", [
    ({"Ipv4": "10.9.9.9"}, "SubnetConfigurations: 10.9.9.9 for {a} is outside the subnet (10.0.1.0/24)"),
    ({"Ipv4": "10.0.1.1"}, "SubnetConfigurations: 10.0.1.1 for {a} is one of the addresses AWS reserves in 10.0.1.0/24"),
    ({}, "SubnetConfigurations: {a} needs Ipv4: the endpoint is ipv4"),
])
def test_a_fixed_address_that_cannot_work_is_named_before_anything_is_made(
        fn, cfn, ec2, provider, consumer_vpc, config, named):
    a = consumer_vpc.subnet("a")
    reason = refused_before_anything_is_made(
        fn, cfn, ec2, props(provider(), consumer_vpc, SubnetConfigurations=[{"SubnetId": a, **config}]))
    assert named.format(a=a) in reason


# --------------------------------------------------------------------------- #
# PolicyDocument and SkipUnsupportedZones
# --------------------------------------------------------------------------- #


def test_a_policy_for_a_service_without_endpoint_policies_is_named_before_anything_is_made(
        fn, cfn, ec2, provider, consumer_vpc):
    service = provider(tags={POLICY_SUPPORTED_TAG: "false"})
    reason = refused_before_anything_is_made(
        fn, cfn, ec2, props(service, consumer_vpc, PolicyDocument={"Statement": []}))
    assert f"PolicyDocument: endpoint service {service.service_name} does not support endpoint policies" in reason


def test_skip_unsupported_zones_keeps_the_offered_subnets_and_says_which_it_dropped(
        fn, cfn, ec2, provider, consumer_vpc):
    service = provider()  # offered in us-east-1a and b
    c = consumer_vpc.subnet("c")
    answer = run(fn, cfn, cfn.create_event(
        TYPE, "Endpoint", props(service, consumer_vpc, "a", "b", "c", SkipUnsupportedZones="true")))
    assert answer["Status"] == "SUCCESS", answer
    assert c not in endpoint(ec2, answer["PhysicalResourceId"])["SubnetIds"]
    assert answer["Data"]["SkippedSubnetIds"] == c
    reason = refused_before_anything_is_made(fn, cfn, ec2, props(service, consumer_vpc, "c", SkipUnsupportedZones="true"))
    assert "SubnetIds: none of them is in a zone" in reason


# --------------------------------------------------------------------------- #
# ServiceRegion: cross-Region PrivateLink
# --------------------------------------------------------------------------- #


def test_a_service_in_another_region_is_reached_from_the_zones_it_serves_remotely(
        fn, cfn, ec2, provider, consumer_vpc):
    allowed = zone_id(ec2, consumer_vpc.subnet("a"))
    service = provider(region="us-west-2", tags={REMOTE_ZONES_TAG: allowed})
    # Both subnets asked: the refusal names the subnet outside the remote zones, by zone id.
    strict = props(service, consumer_vpc, "a", "b", ServiceRegion="us-west-2")
    reason = refused_before_anything_is_made(fn, cfn, ec2, strict)
    b = consumer_vpc.subnet("b")
    assert f"{b} ({zone_id(ec2, b)})" in reason and f"zones {allowed}" in reason, reason
    # With SkipUnsupportedZones the endpoint is made in the zones the service serves.
    skipping = {**strict, "SkipUnsupportedZones": "true"}
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", skipping))
    assert answer["Status"] == "SUCCESS", answer
    described = endpoint(ec2, answer["PhysicalResourceId"])
    assert described["ServiceRegion"] == "us-west-2"
    assert described["SubnetIds"] == [consumer_vpc.subnet("a")]
    assert answer["Data"]["SkippedSubnetIds"] == b


def test_a_remote_service_looked_up_without_its_region_is_not_found(fn, cfn, ec2, provider, consumer_vpc):
    service = provider(region="us-west-2")
    reason = refused_before_anything_is_made(fn, cfn, ec2, props(service, consumer_vpc))
    assert "was not found, or is not shared with this account" in reason


def test_a_service_not_offered_to_this_region_is_refused_saying_what_the_partner_must_do(
        fn, cfn, ec2, provider, consumer_vpc):
    # The service exists in us-west-2, but its SupportedRegions leave out this Region.
    service = provider(region="us-west-2", offered_here=False)
    reason = refused_before_anything_is_made(
        fn, cfn, ec2, props(service, consumer_vpc, ServiceRegion="us-west-2"))
    assert (f"Endpoint service {service.service_name} is not offered in us-east-1 from its "
            "Region us-west-2, or not shared with this account") in reason, reason
    assert "ask the provider to add us-east-1 to the service's supported Regions" in reason, reason


# --------------------------------------------------------------------------- #
# ExistingVpcEndpointId: taking over what the runbook made
# --------------------------------------------------------------------------- #


def hand_made_endpoint(ec2: Any, service, vpc: ConsumerVpc, *azs: str) -> str:
    return ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc.vpc_id, ServiceName=service.service_name,
        SubnetIds=[vpc.subnet(z) for z in azs or ("a",)], PrivateDnsEnabled=True,
    )["VpcEndpoint"]["VpcEndpointId"]


def test_an_existing_endpoint_is_taken_over_keeping_its_name_and_reconciled_in_place(
        fn, cfn, ec2, emulator, provider, consumer_vpc):
    service = provider()
    manual = hand_made_endpoint(ec2, service, consumer_vpc, "a")
    stack = stack_id()
    properties = props(service, consumer_vpc, "a", "b", ExistingVpcEndpointId=manual,
                       Tags=[{"Key": "team", "Value": "net"}])
    emulator.clear_calls()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", properties, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == manual
    # Taken over in place: no second endpoint, and Private DNS never switched off meanwhile.
    actions = [c["action"] for c in emulator.calls() if c["service"] == "ec2"]
    assert "CreateVpcEndpoint" not in actions
    assert all("PrivateDnsEnabled" not in str(c) for c in emulator.journal()
               if c["action"] == "ModifyVpcEndpoint" and c["params"].get("VpcEndpointId") == manual
               and c["params"].get("PrivateDnsEnabled") == "false")
    described = endpoint(ec2, manual)
    assert described["PrivateDnsEnabled"] is True
    assert sorted(described["SubnetIds"]) == sorted([consumer_vpc.subnet("a"), consumer_vpc.subnet("b")])
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags["privatelink-lambdas:stack-id"] == stack and tags["team"] == "net"
    # It is now this resource's: a Delete removes it (DeletionPolicy: Retain keeps it instead).
    deleted = run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", manual, properties, stack))
    assert deleted["Status"] == "SUCCESS", deleted
    assert endpoint(ec2, manual)["State"] == "deleted"


def test_an_existing_endpoint_of_another_vpc_or_service_is_refused_untouched(fn, cfn, ec2, provider, consumer_vpc):
    service, other = provider(), provider(private_dns_name=None)
    manual = hand_made_endpoint(ec2, other, consumer_vpc, "a")
    reason = refused_before_anything_is_made(
        fn, cfn, ec2, props(service, consumer_vpc, "a", ExistingVpcEndpointId=manual))
    assert f"ExistingVpcEndpointId: {manual} can't be taken over: its ServiceName is {other.service_name}" in reason
    assert not any(t["Key"].startswith("privatelink-lambdas:") for t in endpoint(ec2, manual).get("Tags", []))


# --------------------------------------------------------------------------- #
# The security group: group and prefix-list sources, ExistingGroupId, new VPC blocks
# --------------------------------------------------------------------------- #


def ingress_sources(ec2: Any, group_id: str) -> set[tuple[int, str]]:
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    found = set()
    for p in group["IpPermissions"]:
        for r in p.get("IpRanges", []):
            found.add((p["FromPort"], r["CidrIp"]))
        for g in p.get("UserIdGroupPairs", []):
            found.add((p["FromPort"], g["GroupId"]))
        for pl in p.get("PrefixListIds", []):
            found.add((p["FromPort"], pl["PrefixListId"]))
    return found


def test_only_the_applications_group_and_a_prefix_list_are_admitted_when_given(sg_fn, cfn, ec2, consumer_vpc):
    app = ec2.create_security_group(GroupName=f"app-{stack_id()[-8:]}", Description="app",
                                    VpcId=consumer_vpc.vpc_id)["GroupId"]
    prefix_list = ec2.create_managed_prefix_list(
        PrefixListName=f"office-{stack_id()[-8:]}", MaxEntries=5, AddressFamily="IPv4",
        Entries=[{"Cidr": "192.168.0.0/24"}])["PrefixList"]["PrefixListId"]
    stack = stack_id()
    old = {"VpcId": consumer_vpc.vpc_id, "SourceSecurityGroupIds": [app]}
    answer = run(sg_fn, cfn, cfn.create_event(SG_TYPE, "Sg", old, stack))
    assert answer["Status"] == "SUCCESS", answer
    group_id = answer["PhysicalResourceId"]
    # A group source alone: only that group, not the VPC's blocks.
    assert ingress_sources(ec2, group_id) == {(443, app)}
    assert answer["Data"]["SourceSecurityGroupIds"] == app and answer["Data"]["SourceCidrs"] == ""
    new = {**old, "SourcePrefixListIds": [prefix_list]}
    answer = run(sg_fn, cfn, cfn.update_event(SG_TYPE, "Sg", group_id, new, old, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert ingress_sources(ec2, group_id) == {(443, app), (443, prefix_list)}
    # Dropping the group source revokes it.
    newer = {"VpcId": consumer_vpc.vpc_id, "SourcePrefixListIds": [prefix_list]}
    run(sg_fn, cfn, cfn.update_event(SG_TYPE, "Sg", group_id, newer, new, stack))
    assert ingress_sources(ec2, group_id) == {(443, prefix_list)}


@pytest.mark.parametrize("key, value, named", [
    ("SourceSecurityGroupIds", ["sg-0123456789abcdef0"], "SourceSecurityGroupIds: sg-0123456789abcdef0 does not exist"),
    ("SourcePrefixListIds", ["pl-0123456789abcdef0"], "SourcePrefixListIds: pl-0123456789abcdef0 does not exist"),
    ("SourcePrefixListIds", ["sg-1"], "SourcePrefixListIds: \"sg-1\" is not a pl- id"),
])
def test_a_source_that_does_not_exist_is_named_before_any_group_is_made(
        sg_fn, cfn, ec2, consumer_vpc, key, value, named):
    stack = stack_id()
    answer = run(sg_fn, cfn, cfn.create_event(SG_TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id, key: value}, stack))
    assert answer["Status"] == "FAILED", answer
    assert named in answer["Reason"]
    assert ec2.describe_security_groups(Filters=[
        {"Name": "tag:privatelink-lambdas:stack-id", "Values": [stack]}])["SecurityGroups"] == []


def test_an_update_with_the_default_sources_admits_blocks_associated_with_the_vpc_since(
        sg_fn, cfn, ec2, consumer_vpc):
    stack = stack_id()
    old = {"VpcId": consumer_vpc.vpc_id}
    group_id = run(sg_fn, cfn, cfn.create_event(SG_TYPE, "Sg", old, stack))["PhysicalResourceId"]
    ec2.associate_vpc_cidr_block(VpcId=consumer_vpc.vpc_id, CidrBlock="10.2.0.0/16")
    new = {**old, "Tags": [{"Key": "touched", "Value": "1"}]}
    answer = run(sg_fn, cfn, cfn.update_event(SG_TYPE, "Sg", group_id, new, old, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert ingress_sources(ec2, group_id) == {(443, "10.0.0.0/16"), (443, "10.2.0.0/16")}
    assert answer["Data"]["SourceCidrs"] == "10.0.0.0/16,10.2.0.0/16"


def test_an_existing_group_is_taken_over_keeping_its_name_and_reconciled(sg_fn, cfn, ec2, consumer_vpc):
    manual = ec2.create_security_group(GroupName="privatelink-endpoint-sg", Description="made by hand",
                                       VpcId=consumer_vpc.vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=manual, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    stack = stack_id()
    old = {"VpcId": consumer_vpc.vpc_id, "ExistingGroupId": manual}
    answer = run(sg_fn, cfn, cfn.create_event(SG_TYPE, "Sg", old, stack))
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == manual
    group = ec2.describe_security_groups(GroupIds=[manual])["SecurityGroups"][0]
    assert group["GroupName"] == "privatelink-endpoint-sg"
    assert ingress_sources(ec2, manual) == {(443, "10.0.0.0/16")}  # the hand-made 0.0.0.0/0 is gone
    assert group["IpPermissionsEgress"] == []
    # An Update keeps it (a taken-over group keeps its own name and description).
    new = {**old, "Ports": ["8443"]}
    answer = run(sg_fn, cfn, cfn.update_event(SG_TYPE, "Sg", manual, new, old, stack))
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == manual, answer
    assert ingress_sources(ec2, manual) == {(8443, "10.0.0.0/16")}


def test_an_existing_group_of_another_vpc_is_refused_untouched(sg_fn, cfn, ec2, consumer_vpc):
    other_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    manual = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other_vpc)["GroupId"]
    answer = run(sg_fn, cfn, cfn.create_event(SG_TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id, "ExistingGroupId": manual}))
    assert answer["Status"] == "FAILED", answer
    assert f"ExistingGroupId: {manual} is in {other_vpc}, not in {consumer_vpc.vpc_id}" in answer["Reason"]
    group = ec2.describe_security_groups(GroupIds=[manual])["SecurityGroups"][0]
    assert not any(t["Key"].startswith("privatelink-lambdas:") for t in group.get("Tags", []))
