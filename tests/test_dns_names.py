"""`DnsNames` and `DnsVpcIds` of `Custom::PrivateLinkEndpoint`, black-box through the real
`privatelink-endpoint` binary on the emulator, whose Route 53 private zones behave as AWS
documents them (tests/harness/emulator/route53_private_zones.py): the zones, their VPCs and
alias records made, changed in place, deleted, and what is refused before anything is made."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.harness.cfn import stack_id
from tests.test_endpoint import TYPE, endpoint, live_endpoints, props, run


@pytest.fixture
def fn(lambda_function):
    return lambda_function("privatelink-endpoint")


@pytest.fixture
def route53(emulator):
    return emulator.client("route53")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}.internal.example"


def zones_named(route53: Any, name: str) -> list[str]:
    zones = route53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]
    return [z["Id"].split("/")[-1] for z in zones if z["Name"] == f"{name}."]


def vpcs_of(route53: Any, zone: str) -> set[str]:
    return {v["VPCId"] for v in route53.get_hosted_zone(Id=zone)["VPCs"]}


def aliases_of(route53: Any, zone: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(name, type) -> (target, target zone) of every alias record of the zone."""
    sets = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {(s["Name"].rstrip("."), s["Type"]): (s["AliasTarget"]["DNSName"].rstrip("."), s["AliasTarget"]["HostedZoneId"])
            for s in sets if "AliasTarget" in s}


def expected_aliases(ec2: Any, endpoint_id: str, name: str) -> dict[tuple[str, str], tuple[str, str]]:
    """The name to the regional DNS name, `<zone>.<name>` to each zonal one, all IPv4 (A)."""
    entries = endpoint(ec2, endpoint_id)["DnsEntries"]
    wanted = {}
    for entry in entries:
        label = entry["DnsName"].split(".")[0]
        parts = label.split("-", 3)
        record = name if len(parts) == 3 else f"{parts[3]}.{name}"
        if len(parts) >= 3:
            wanted[(record, "A")] = (entry["DnsName"], entry["HostedZoneId"])
    return wanted


def test_dns_names_get_a_private_zone_each_with_aliases_to_the_endpoint_in_every_vpc_given(
        fn, cfn, ec2, route53, provider, consumer_vpc):
    service = provider(private_dns_name=None)  # a service without Private DNS: the users' case
    spoke = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    name = unique("partner-api")
    stack = stack_id()
    properties = props(service, consumer_vpc, DnsNames=[name.upper() + "."], DnsVpcIds=[spoke])
    event = cfn.create_event(TYPE, "Endpoint", properties, stack)
    answer = run(fn, cfn, event)
    assert answer["Status"] == "SUCCESS", answer
    endpoint_id = answer["PhysicalResourceId"]
    [zone] = zones_named(route53, name)
    assert answer["Data"]["HostedZoneIds"] == zone
    assert route53.get_hosted_zone(Id=zone)["HostedZone"]["Config"]["PrivateZone"] is True
    assert vpcs_of(route53, zone) == {consumer_vpc.vpc_id, spoke}
    assert aliases_of(route53, zone) == expected_aliases(ec2, endpoint_id, name)
    assert len(aliases_of(route53, zone)) == 3  # the name, and one per zone (a and b)
    tags = {t["Key"]: t["Value"] for t in endpoint(ec2, endpoint_id)["Tags"]}
    assert tags["privatelink-lambdas:dns-names"] == name

    # The same event again (Lambda's retry, CloudFormation's redelivery): no second zone.
    again = run(fn, cfn, event)
    assert again["Status"] == "SUCCESS" and again["Data"]["HostedZoneIds"] == zone, again
    assert zones_named(route53, name) == [zone]

    # Changed in place: another name, the spoke left out.
    other = unique("partner-api-eu")
    new = props(service, consumer_vpc, DnsNames=[name, other])
    updated = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, new, properties, stack))
    assert updated["Status"] == "SUCCESS" and updated["PhysicalResourceId"] == endpoint_id, updated
    [second] = zones_named(route53, other)
    assert updated["Data"]["HostedZoneIds"] == f"{zone},{second}"
    assert vpcs_of(route53, zone) == {consumer_vpc.vpc_id} == vpcs_of(route53, second)
    fewer = props(service, consumer_vpc, DnsNames=[other])
    updated = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", endpoint_id, fewer, new, stack))
    assert updated["Status"] == "SUCCESS" and updated["Data"]["HostedZoneIds"] == second, updated
    assert zones_named(route53, name) == []
    tags = {t["Key"]: t["Value"] for t in endpoint(ec2, endpoint_id)["Tags"]}
    assert tags["privatelink-lambdas:dns-names"] == other

    # Delete removes what it made, and nothing else.
    theirs = route53.create_hosted_zone(Name=unique("theirs"), CallerReference=uuid.uuid4().hex,
                                        HostedZoneConfig={"PrivateZone": True},
                                        VPC={"VPCRegion": "us-east-1", "VPCId": consumer_vpc.vpc_id})["HostedZone"]["Id"]
    deleted = run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", endpoint_id, fewer, stack))
    assert deleted["Status"] == "SUCCESS", deleted
    assert zones_named(route53, other) == [] and live_endpoints(ec2, stack) == []
    assert route53.get_hosted_zone(Id=theirs)["HostedZone"]["Id"].endswith(theirs.split("/")[-1])


def test_a_name_private_dns_answers_or_a_zone_not_ours_is_refused_before_anything_is_made(
        fn, cfn, ec2, route53, provider, consumer_vpc):
    def refused(properties: dict[str, Any]) -> str:
        stack = stack_id()
        answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", properties, stack))
        assert answer["Status"] == "FAILED", answer
        assert live_endpoints(ec2, stack) == []
        return answer["Reason"]

    with_private_dns = provider()  # verified api.partner.com, Private DNS on by default
    reason = refused(props(with_private_dns, consumer_vpc, DnsNames=["api.partner.com"]))
    assert ('DnsNames: "api.partner.com" is answered by the service\'s own Private DNS name '
            "(api.partner.com) in the VPC already") in reason, reason

    service = provider(private_dns_name=None)
    taken = unique("taken")
    zone = route53.create_hosted_zone(Name=taken, CallerReference=uuid.uuid4().hex,
                                      HostedZoneConfig={"PrivateZone": True},
                                      VPC={"VPCRegion": "us-east-1", "VPCId": consumer_vpc.vpc_id})["HostedZone"]["Id"]
    reason = refused(props(service, consumer_vpc, DnsNames=[taken]))
    assert (f'DnsNames: "{taken}" already has a private hosted zone associated with {consumer_vpc.vpc_id} '
            f"({zone.split('/')[-1]}) that this resource did not make") in reason, reason

    reason = refused(props(service, consumer_vpc, DnsNames=[unique("spoke")], DnsVpcIds=["vpc-0123456789abcdef9"]))
    assert ("DnsVpcIds: vpc-0123456789abcdef9 is not a VPC of this account in us-east-1: Route 53 associates "
            "another account's VPC only when that account does it itself") in reason, reason


def test_a_replacement_and_its_rollback_keep_one_zone_per_name_pointing_at_the_endpoint_kept(
        fn, cfn, ec2, route53, provider, consumer_vpc):
    first, second = provider(private_dns_name=None), provider(private_dns_name=None)
    name = unique("replaced")
    stack = stack_id()
    old = props(first, consumer_vpc, DnsNames=[name])
    original = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", old, stack))["PhysicalResourceId"]
    [zone] = zones_named(route53, name)
    new = props(second, consumer_vpc, DnsNames=[name])
    answer = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", original, new, old, stack))
    replacement = answer["PhysicalResourceId"]
    assert answer["Status"] == "SUCCESS" and replacement != original, answer
    # The zone (a VPC takes one of a name) now points at the replacement.
    assert zones_named(route53, name) == [zone] and answer["Data"]["HostedZoneIds"] == zone
    assert aliases_of(route53, zone) == expected_aliases(ec2, replacement, name)
    # Rollback: the update sent back for the replacement, then the leftovers deleted.
    rolled = run(fn, cfn, cfn.update_event(TYPE, "Endpoint", replacement, old, new, stack))
    kept = rolled["PhysicalResourceId"]
    assert rolled["Status"] == "SUCCESS" and endpoint(ec2, kept)["ServiceName"] == first.service_name, rolled
    for leftover in {original, replacement} - {kept}:
        assert run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", leftover, new, stack))["Status"] == "SUCCESS"
    assert zones_named(route53, name) == [zone]
    assert aliases_of(route53, zone) == expected_aliases(ec2, kept, name)
    # Deleting what is left: the zone goes with it.
    assert run(fn, cfn, cfn.delete_event(TYPE, "Endpoint", kept, old, stack))["Status"] == "SUCCESS"
    assert zones_named(route53, name) == []


LONG = [f"name-{i:02}-{'x' * 40}.internal.example" for i in range(5)]
TAGS = [{"Key": f"k{i}", "Value": "v"} for i in range(45)]


@pytest.mark.parametrize("given, says", [
    ({"DnsNames": ["api partner"]}, 'DnsNames: "api partner" is not a DNS name (labels of a-z, 0-9 and -, at most 253 characters)'),
    ({"DnsNames": ["localhost"]}, 'DnsNames: "localhost" is a single label: give a name such as api.partner.example'),
    ({"DnsNames": ["*.partner.example"]}, 'DnsNames: "*.partner.example" is not a DNS name'),
    ({"DnsNames": LONG}, "DnsNames: holds more than 256 characters in all (they are kept in a tag of the endpoint)"),
    ({"DnsNames": ["api.partner.example"], "DnsVpcIds": ["subnet-0123456789abcdef0"]}, 'DnsVpcIds: "subnet-0123456789abcdef0" is not a vpc- id'),
    ({"DnsVpcIds": ["vpc-0123456789abcdef1"]}, "DnsVpcIds: needs DnsNames: it says which VPCs answer them"),
    ({"DnsNames": ["api.partner.example"], "Tags": TAGS}, "Tags: has 45 tags; at most 44 with DnsNames"),
], ids=["not-a-name", "one-label", "wildcard", "too-long", "not-a-vpc-id", "vpcs-without-names", "tags"])
def test_each_bad_dns_property_is_refused_naming_it_before_anything_is_made(fn, cfn, ec2, provider, consumer_vpc,
                                                                            given, says):
    stack = stack_id()
    answer = run(fn, cfn, cfn.create_event(TYPE, "Endpoint", props(provider(private_dns_name=None), consumer_vpc, **given),
                                           stack))
    assert answer["Status"] == "FAILED" and says in answer["Reason"], answer
    assert live_endpoints(ec2, stack) == []
