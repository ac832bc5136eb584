"""The harness behaves like AWS where the custom resources depend on it.

Each test names the AWS behaviour it proves; together they justify trusting the
emulator (moto + the patches of tests/harness/emulator/), the Runtime API harness and
the CloudFormation driver when they run the real functions."""

from __future__ import annotations

import ipaddress
import json
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness.cfn import stringify_properties
from tests.harness.emulator import PRIVATE_DNS_STATE_TAG
from tests.harness.runtime import LambdaFunction

# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def create_endpoint(ec2: Any, vpc_id: str, service_name: str, subnet_ids: list[str],
                    **extra: Any) -> dict[str, Any]:
    return ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=service_name,
        SubnetIds=subnet_ids, **extra,
    )["VpcEndpoint"]


def describe_endpoint(ec2: Any, endpoint_id: str) -> dict[str, Any]:
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]


def security_group(ec2: Any, vpc_id: str) -> str:
    return ec2.create_security_group(
        VpcId=vpc_id, GroupName=f"sg-{uuid.uuid4().hex[:8]}", Description="endpoint"
    )["GroupId"]


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (response["Error"]["Code"], response["Error"]["Message"],
            response["ResponseMetadata"]["HTTPStatusCode"])


# --------------------------------------------------------------------------- #
# Acceptance (emulator/ec2_endpoint_connections.py)
# --------------------------------------------------------------------------- #


def test_endpoint_to_service_without_acceptance_is_available(ec2, provider, consumer_vpc):
    service = provider(acceptance_required=False)
    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                               [consumer_vpc.subnet("a")])
    assert endpoint["State"] == "available"
    # No SecurityGroupIds: AWS associates the VPC's default group.
    assert [g["GroupName"] for g in endpoint["Groups"]] == ["default"]


def test_accepted_endpoint_goes_pending_acceptance_then_pending_then_available(
    ec2, emulator, provider, consumer_vpc
):
    emulator.set_settings(pending_seconds=0.3)
    service = provider(acceptance_required=True)
    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                               [consumer_vpc.subnet("a")])
    assert endpoint["State"] == "pendingAcceptance"

    result = ec2.accept_vpc_endpoint_connections(
        ServiceId=service.service_id, VpcEndpointIds=[endpoint["VpcEndpointId"]]
    )
    assert result["Unsuccessful"] == []
    assert describe_endpoint(ec2, endpoint["VpcEndpointId"])["State"] == "pending"
    time.sleep(0.35)
    assert describe_endpoint(ec2, endpoint["VpcEndpointId"])["State"] == "available"


def test_rejected_endpoint_is_rejected(ec2, provider, consumer_vpc):
    service = provider(acceptance_required=True)
    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                               [consumer_vpc.subnet("a")])
    result = ec2.reject_vpc_endpoint_connections(
        ServiceId=service.service_id, VpcEndpointIds=[endpoint["VpcEndpointId"]]
    )
    assert result["Unsuccessful"] == []
    assert describe_endpoint(ec2, endpoint["VpcEndpointId"])["State"] == "rejected"


def test_accept_lists_unknown_and_not_pending_endpoints_as_unsuccessful(ec2, provider,
                                                                          consumer_vpc):
    service = provider(acceptance_required=True)
    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                               [consumer_vpc.subnet("a")])
    endpoint_id = endpoint["VpcEndpointId"]
    ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[endpoint_id])

    result = ec2.accept_vpc_endpoint_connections(
        ServiceId=service.service_id, VpcEndpointIds=[endpoint_id, "vpce-0123456789abcdef0"]
    )
    failed = {item["ResourceId"]: item["Error"]["Code"] for item in result["Unsuccessful"]}
    assert failed == {
        endpoint_id: "InvalidState",
        "vpce-0123456789abcdef0": "InvalidVpcEndpointId.NotFound",
    }


def test_describe_vpc_endpoint_connections_shows_the_service_consumers(ec2, provider,
                                                                       consumer_vpc):
    service = provider(acceptance_required=True)
    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                               [consumer_vpc.subnet("a")])
    connections = ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": [service.service_id]}]
    )["VpcEndpointConnections"]
    assert [(c["VpcEndpointId"], c["VpcEndpointState"]) for c in connections] == [
        (endpoint["VpcEndpointId"], "pendingAcceptance")
    ]


# --------------------------------------------------------------------------- #
# ClientToken idempotency (emulator/ec2_endpoints.py)
# --------------------------------------------------------------------------- #


def test_same_client_token_and_parameters_return_the_existing_endpoint(ec2, provider,
                                                                       consumer_vpc):
    service = provider()
    token = str(uuid.uuid4())
    args = (ec2, consumer_vpc.vpc_id, service.service_name, [consumer_vpc.subnet("a")])
    first = create_endpoint(*args, ClientToken=token)
    second = create_endpoint(*args, ClientToken=token)
    assert second["VpcEndpointId"] == first["VpcEndpointId"]
    endpoints = ec2.describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [consumer_vpc.vpc_id]}]
    )["VpcEndpoints"]
    assert len(endpoints) == 1


def test_same_client_token_with_other_parameters_fails_idempotent_parameter_mismatch(
    ec2, provider, consumer_vpc
):
    service = provider()
    token = str(uuid.uuid4())
    create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                    [consumer_vpc.subnet("a")], ClientToken=token)
    with pytest.raises(ClientError) as excinfo:
        create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                        [consumer_vpc.subnet("b")], ClientToken=token)
    code, _, status = error_of(excinfo)
    assert (code, status) == ("IdempotentParameterMismatch", 400)


# --------------------------------------------------------------------------- #
# Endpoint network interfaces (emulator/ec2_network_interfaces.py)
# --------------------------------------------------------------------------- #


def test_endpoint_network_interfaces_are_addressed_from_their_subnets(ec2, provider,
                                                                      consumer_vpc):
    service = provider()
    group = security_group(ec2, consumer_vpc.vpc_id)
    subnets = [consumer_vpc.subnet("a"), consumer_vpc.subnet("b")]
    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name, subnets,
                               SecurityGroupIds=[group])
    assert len(endpoint["NetworkInterfaceIds"]) == 2

    enis = ec2.describe_network_interfaces(
        NetworkInterfaceIds=endpoint["NetworkInterfaceIds"]
    )["NetworkInterfaces"]
    assert sorted(e["SubnetId"] for e in enis) == sorted(subnets)
    for eni in enis:
        subnet_cidr = ipaddress.ip_network(consumer_vpc.subnet_cidrs[eni["SubnetId"]])
        assert ipaddress.ip_address(eni["PrivateIpAddress"]) in subnet_cidr
        assert [g["GroupId"] for g in eni["Groups"]] == [group]
        assert eni["InterfaceType"] == "vpc_endpoint"
        assert eni["Description"] == f"VPC Endpoint Interface {endpoint['VpcEndpointId']}"
        assert eni["RequesterManaged"] is True


# --------------------------------------------------------------------------- #
# ModifyVpcEndpoint and the private DNS conflict (emulator/ec2_endpoints.py)
# --------------------------------------------------------------------------- #


def test_modify_applies_private_dns_reset_policy_and_subnets(ec2, provider, consumer_vpc):
    service = provider()
    endpoint = create_endpoint(
        ec2, consumer_vpc.vpc_id, service.service_name, [consumer_vpc.subnet("a")],
        PrivateDnsEnabled=False,
        PolicyDocument=json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*",
                                                  "Action": "*", "Resource": "*"}]}),
    )
    endpoint_id = endpoint["VpcEndpointId"]
    old_eni = endpoint["NetworkInterfaceIds"][0]
    group = security_group(ec2, consumer_vpc.vpc_id)

    ec2.modify_vpc_endpoint(
        VpcEndpointId=endpoint_id, PrivateDnsEnabled=True, ResetPolicy=True,
        AddSubnetIds=[consumer_vpc.subnet("b")], RemoveSubnetIds=[consumer_vpc.subnet("a")],
        AddSecurityGroupIds=[group],
    )

    after = describe_endpoint(ec2, endpoint_id)
    assert after["PrivateDnsEnabled"] is True
    assert json.loads(after["PolicyDocument"])["Statement"][0]["Effect"] == "Allow"
    assert after["SubnetIds"] == [consumer_vpc.subnet("b")]
    assert len(after["NetworkInterfaceIds"]) == 1 and old_eni not in after["NetworkInterfaceIds"]
    eni = ec2.describe_network_interfaces(
        NetworkInterfaceIds=after["NetworkInterfaceIds"]
    )["NetworkInterfaces"][0]
    assert eni["SubnetId"] == consumer_vpc.subnet("b")
    assert group in [g["GroupId"] for g in eni["Groups"]]
    with pytest.raises(ClientError):  # the removed subnet's ENI is gone
        ec2.describe_network_interfaces(NetworkInterfaceIds=[old_eni])


def test_second_endpoint_with_private_dns_for_the_same_name_in_a_vpc_is_refused(
    ec2, provider, consumer_vpc
):
    # Two services with the same private DNS name (api.partner.com).
    first, second = provider(), provider()
    create_endpoint(ec2, consumer_vpc.vpc_id, first.service_name, [consumer_vpc.subnet("a")],
                    PrivateDnsEnabled=True)
    other = create_endpoint(ec2, consumer_vpc.vpc_id, second.service_name,
                            [consumer_vpc.subnet("a")], PrivateDnsEnabled=False)

    expected = ("private-dns-enabled cannot be set because there is already a conflicting "
                f"DNS domain for api.partner.com in the VPC {consumer_vpc.vpc_id}")
    with pytest.raises(ClientError) as excinfo:
        ec2.modify_vpc_endpoint(VpcEndpointId=other["VpcEndpointId"], PrivateDnsEnabled=True)
    assert error_of(excinfo) == ("InvalidParameter", expected, 400)
    with pytest.raises(ClientError) as excinfo:
        create_endpoint(ec2, consumer_vpc.vpc_id, second.service_name,
                        [consumer_vpc.subnet("b")], PrivateDnsEnabled=True)
    assert error_of(excinfo)[:2] == ("InvalidParameter", expected)


# --------------------------------------------------------------------------- #
# Subnet zones (emulator/ec2_endpoints.py)
# --------------------------------------------------------------------------- #


def test_subnet_in_an_az_the_service_lacks_is_refused(ec2, provider, consumer_vpc):
    service = provider()  # NLB in us-east-1a and us-east-1b only
    subnet_c = consumer_vpc.subnet("c")
    expected = (f"The VPC endpoint service {service.service_name} does not support the "
                f"availability zone of the subnet: {subnet_c}.")
    with pytest.raises(ClientError) as excinfo:
        create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name, [subnet_c])
    assert error_of(excinfo) == ("InvalidParameter", expected, 400)

    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                               [consumer_vpc.subnet("a")])
    with pytest.raises(ClientError) as excinfo:
        ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], AddSubnetIds=[subnet_c])
    assert error_of(excinfo)[:2] == ("InvalidParameter", expected)


def test_two_subnets_in_one_az_are_refused(ec2, provider, consumer_vpc):
    service = provider()
    another_a = ec2.create_subnet(VpcId=consumer_vpc.vpc_id, CidrBlock="10.0.4.0/24",
                                  AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    with pytest.raises(ClientError) as excinfo:
        create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                        [consumer_vpc.subnet("a"), another_a])
    assert error_of(excinfo)[0] == "DuplicateSubnetsInSameZone"


# --------------------------------------------------------------------------- #
# Private DNS name verification (emulator/ec2_endpoint_services.py)
# --------------------------------------------------------------------------- #


def test_private_dns_name_verification_state_is_reported(ec2, provider):
    verified = provider()
    unverified = provider(tags={PRIVATE_DNS_STATE_TAG: "pendingVerification"})
    details = {
        d["ServiceId"]: d
        for d in ec2.describe_vpc_endpoint_services(
            ServiceNames=[verified.service_name, unverified.service_name]
        )["ServiceDetails"]
    }
    assert details[verified.service_id]["PrivateDnsNameVerificationState"] == "verified"
    assert details[unverified.service_id]["PrivateDnsNameVerificationState"] == \
        "pendingVerification"
    assert details[verified.service_id]["PrivateDnsName"] == "api.partner.com"

    configs = {
        c["ServiceId"]: c
        for c in ec2.describe_vpc_endpoint_service_configurations(
            ServiceIds=[verified.service_id, unverified.service_id]
        )["ServiceConfigurations"]
    }
    assert configs[verified.service_id]["PrivateDnsNameConfiguration"]["State"] == "verified"
    assert configs[unverified.service_id]["PrivateDnsNameConfiguration"]["State"] == \
        "pendingVerification"


# --------------------------------------------------------------------------- #
# Groups in use: DependencyViolation (emulator/ec2_security_groups.py)
# --------------------------------------------------------------------------- #


def test_security_group_used_by_an_endpoint_cannot_be_deleted(ec2, provider, consumer_vpc):
    service = provider()
    group = security_group(ec2, consumer_vpc.vpc_id)
    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                               [consumer_vpc.subnet("a")], SecurityGroupIds=[group])
    with pytest.raises(ClientError) as excinfo:
        ec2.delete_security_group(GroupId=group)
    assert error_of(excinfo) == (
        "DependencyViolation", f"resource {group} has a dependent object", 400
    )

    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    ec2.delete_security_group(GroupId=group)  # default linger 0: free at once


def test_security_group_stays_in_use_while_deleted_endpoint_enis_linger(
    ec2, emulator, provider, consumer_vpc
):
    emulator.set_settings(eni_linger_seconds=0.4)
    service = provider()
    group = security_group(ec2, consumer_vpc.vpc_id)
    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                               [consumer_vpc.subnet("a")], SecurityGroupIds=[group])
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])

    with pytest.raises(ClientError) as excinfo:
        ec2.delete_security_group(GroupId=group)
    assert error_of(excinfo)[0] == "DependencyViolation"
    time.sleep(0.45)
    ec2.delete_security_group(GroupId=group)


# --------------------------------------------------------------------------- #
# DeleteVpcEndpoints (emulator/ec2_endpoints.py)
# --------------------------------------------------------------------------- #


def test_deleting_an_unknown_endpoint_answers_an_unsuccessful_item(ec2):
    result = ec2.delete_vpc_endpoints(VpcEndpointIds=["vpce-0000000000000000f"])
    assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in result["Unsuccessful"]] == [
        ("vpce-0000000000000000f", "InvalidVpcEndpoint.NotFound")
    ]


def test_deleted_endpoint_is_described_as_deleted(ec2, provider, consumer_vpc):
    service = provider()
    endpoint = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                               [consumer_vpc.subnet("a")])
    result = ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    assert result["Unsuccessful"] == []
    assert describe_endpoint(ec2, endpoint["VpcEndpointId"])["State"] == "deleted"


# --------------------------------------------------------------------------- #
# The emulator's middleware (emulator/middleware.py): faults, call log, control API
# --------------------------------------------------------------------------- #


def test_injected_faults_fail_the_next_calls_with_the_ec2_error_code(emulator, ec2_no_retry):
    emulator.add_fault("DescribeSecurityGroups", "RequestLimitExceeded", status=503,
                       message="Request limit exceeded.", count=2)
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            ec2_no_retry.describe_security_groups()
        assert error_of(excinfo) == ("RequestLimitExceeded", "Request limit exceeded.", 503)
    ec2_no_retry.describe_security_groups()  # the fault is used up
    assert emulator.faults() == []


def test_call_log_records_service_and_action_and_can_be_cleared(emulator, ec2):
    emulator.clear_calls()
    ec2.describe_vpcs()
    ec2.describe_subnets()
    assert emulator.calls() == [
        {"service": "ec2", "action": "DescribeVpcs"},
        {"service": "ec2", "action": "DescribeSubnets"},
    ]
    emulator.clear_calls()
    assert emulator.calls() == []


def test_control_api_settings_round_trip_and_bad_requests_are_400(emulator):
    assert emulator.set_settings(pending_seconds=2.5)["pending_seconds"] == 2.5
    assert emulator.settings()["eni_linger_seconds"] == 0.0
    request = urllib.request.Request(f"{emulator.url}/_emulator/faults", data=b"{}",
                                     method="POST")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=5)
    assert excinfo.value.code == 400


# --------------------------------------------------------------------------- #
# CloudFormation driver
# --------------------------------------------------------------------------- #


def test_cloudformation_properties_are_stringified_like_cloudformation():
    assert stringify_properties(
        {"Port": 443, "Enabled": True, "Ids": ["a", 1], "Nested": {"Flag": False, "L": [{"n": 2}]}}
    ) == {"Port": "443", "Enabled": "true", "Ids": ["a", "1"],
          "Nested": {"Flag": "false", "L": [{"n": "2"}]}}


def test_cloudformation_collects_every_answer_put_to_the_presigned_url(cfn):
    event, key = cfn.create_event("Custom::Thing", "Thing", {"Count": 2})
    assert event["ResourceProperties"] == {"ServiceToken": event["ServiceToken"], "Count": "2"}
    assert event["StackId"].startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/")
    for status in ("SUCCESS", "FAILED"):
        body = json.dumps({"Status": status, "RequestId": event["RequestId"]}).encode()
        request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                         headers={"Content-Type": ""})
        assert urllib.request.urlopen(request, timeout=5).status == 200
    assert [a["Status"] for a in cfn.answers(key)] == ["SUCCESS", "FAILED"]
    with pytest.raises(AssertionError):
        cfn.answer(key)

    update, _ = cfn.update_event("Custom::Thing", "Thing", "phys-1", {"Count": 3},
                                 {"Count": 2}, stack_id=event["StackId"])
    assert update["OldResourceProperties"]["Count"] == "2"
    assert update["PhysicalResourceId"] == "phys-1"
    assert update["StackId"] == event["StackId"]


# --------------------------------------------------------------------------- #
# Runtime API harness, with a fake runtime client written in Python
# --------------------------------------------------------------------------- #

FAKE_RUNTIME = textwrap.dedent('''
    """A Lambda runtime client: echoes events; {"crash": n} exits with n,
    {"fail": true} posts an error, {"sleep": s} sleeps first."""
    import json, os, sys, time, urllib.request

    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
    print("init", os.environ["AWS_LAMBDA_FUNCTION_NAME"], flush=True)
    while True:
        with urllib.request.urlopen(api + "/invocation/next") as r:
            event = json.loads(r.read())
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            context = {h: r.headers[h] for h in (
                "Lambda-Runtime-Deadline-Ms", "Lambda-Runtime-Invoked-Function-Arn",
                "Lambda-Runtime-Trace-Id")}
        print("handling", request_id, flush=True)
        if "crash" in event:
            print("crashing", file=sys.stderr, flush=True)
            os._exit(event["crash"])
        time.sleep(event.get("sleep", 0))
        if event.get("fail"):
            url, body = f"{api}/invocation/{request_id}/error", {
                "errorType": "Boom", "errorMessage": "asked to fail"}
        else:
            url, body = f"{api}/invocation/{request_id}/response", {
                "echo": event, "context": context}
        urllib.request.urlopen(urllib.request.Request(
            url, data=json.dumps(body).encode(), method="POST"))
''')


@pytest.fixture
def fake_function(tmp_path: Path):
    script = tmp_path / "bootstrap.py"
    script.write_text(FAKE_RUNTIME)
    with LambdaFunction([sys.executable, str(script)], {"GREETING": "hi"},
                        name="fake") as fn:
        yield fn


def test_runtime_harness_delivers_events_and_collects_responses(fake_function):
    result = fake_function.invoke({"hello": "world"}, deadline_s=30)
    assert result.kind == "response"
    assert result.body["echo"] == {"hello": "world"}
    context = result.body["context"]
    assert context["Lambda-Runtime-Invoked-Function-Arn"] == \
        "arn:aws:lambda:us-east-1:123456789012:function:fake"
    assert int(context["Lambda-Runtime-Deadline-Ms"]) > (time.time() + 25) * 1000
    assert any(line.startswith("handling ") for line in result.logs)

    failed = fake_function.invoke({"fail": True})
    assert (failed.kind, failed.body["errorType"]) == ("error", "Boom")
    assert fake_function.starts == 1  # one warm process served both


def test_runtime_harness_reports_a_crash_and_restarts_the_process(fake_function):
    crashed = fake_function.invoke({"crash": 3}, timeout_s=10)
    assert (crashed.kind, crashed.exit_code) == ("crashed", 3)
    assert "crashing" in crashed.logs

    again = fake_function.invoke({"after": "crash"}, timeout_s=10)
    assert again.kind == "response" and again.body["echo"] == {"after": "crash"}
    assert fake_function.starts == 2
    assert any(line == "init fake" for line in again.logs)  # a cold start


def test_runtime_harness_times_out_and_kills_a_slow_invocation(fake_function):
    slow = fake_function.invoke({"sleep": 30}, timeout_s=0.5)
    assert slow.kind == "timeout" and slow.duration_s < 5
    assert fake_function.invoke({"n": 1}, timeout_s=10).kind == "response"


# --------------------------------------------------------------------------- #
# Endpoint options and cross-Region services (emulator/ec2_endpoint_options.py,
#     ec2_endpoint_services.py): address types, DNS options, fixed addresses,
#     endpoint policies, cross-Region services
# --------------------------------------------------------------------------- #


def zone_id(ec2: Any, subnet_id: str) -> str:
    return ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailabilityZoneId"]


def interfaces_of(ec2: Any, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    return ec2.describe_network_interfaces(
        NetworkInterfaceIds=endpoint["NetworkInterfaceIds"])["NetworkInterfaces"]


def test_a_dualstack_endpoint_gets_ipv6_addresses_and_reports_its_options(ec2, provider, dualstack_vpc):
    service = provider(ip_address_types=["ipv4", "ipv6"])
    detail = ec2.describe_vpc_endpoint_services(ServiceNames=[service.service_name])["ServiceDetails"][0]
    assert detail["SupportedIpAddressTypes"] == ["ipv4", "ipv6"]
    created = create_endpoint(ec2, dualstack_vpc.vpc_id, service.service_name, [dualstack_vpc.subnet("a")],
                              IpAddressType="dualstack", DnsOptions={"DnsRecordIpType": "dualstack"})
    described = describe_endpoint(ec2, created["VpcEndpointId"])
    assert described["IpAddressType"] == "dualstack"
    assert described["DnsOptions"]["DnsRecordIpType"] == "dualstack"
    [eni] = interfaces_of(ec2, described)
    assert eni["Ipv6Addresses"] and eni["PrivateIpAddress"]
    # Back to IPv4 in place: the interface keeps its IPv4 address and loses the IPv6 one.
    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], IpAddressType="ipv4")
    described = describe_endpoint(ec2, created["VpcEndpointId"])
    assert described["IpAddressType"] == "ipv4"
    assert described["DnsOptions"]["DnsRecordIpType"] == "ipv4"
    [after] = interfaces_of(ec2, described)
    assert after["NetworkInterfaceId"] == eni["NetworkInterfaceId"] and not after.get("Ipv6Addresses")


def test_dualstack_needs_the_service_and_every_subnet_to_have_ipv6(ec2, provider, consumer_vpc):
    v4_only = provider()
    with pytest.raises(ClientError) as refused:
        create_endpoint(ec2, consumer_vpc.vpc_id, v4_only.service_name, [consumer_vpc.subnet("a")],
                        IpAddressType="dualstack")
    assert "does not support the IP address type dualstack" in error_of(refused)[1]
    both = provider(ip_address_types=["ipv4", "ipv6"])
    with pytest.raises(ClientError) as no_block:
        create_endpoint(ec2, consumer_vpc.vpc_id, both.service_name, [consumer_vpc.subnet("a")],
                        IpAddressType="dualstack")
    assert "does not have an IPv6 CIDR block" in error_of(no_block)[1]
    with pytest.raises(ClientError) as wrong_records:
        create_endpoint(ec2, consumer_vpc.vpc_id, both.service_name, [consumer_vpc.subnet("a")],
                        DnsOptions={"DnsRecordIpType": "ipv6"})
    assert "DnsRecordIpType ipv6 is not valid" in error_of(wrong_records)[1]


def test_subnet_configurations_fix_an_address_refuse_reserved_ones_and_move_an_interface(ec2, provider, consumer_vpc):
    service = provider()
    subnet = consumer_vpc.subnet("a")
    for reserved in ("10.0.1.0", "10.0.1.3", "10.0.1.255", "10.0.2.10"):
        with pytest.raises(ClientError) as refused:
            create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name, [subnet],
                            SubnetConfigurations=[{"SubnetId": subnet, "Ipv4": reserved}])
        assert "is not a usable address" in error_of(refused)[1], reserved
    created = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name, [subnet],
                              SubnetConfigurations=[{"SubnetId": subnet, "Ipv4": "10.0.1.10"}])
    [eni] = interfaces_of(ec2, created)
    assert eni["PrivateIpAddress"] == "10.0.1.10"
    # A new address replaces the interface (EC2 API Reference, SubnetConfiguration).
    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"],
                            SubnetConfigurations=[{"SubnetId": subnet, "Ipv4": "10.0.1.20"}])
    [moved] = interfaces_of(ec2, describe_endpoint(ec2, created["VpcEndpointId"]))
    assert moved["PrivateIpAddress"] == "10.0.1.20"
    assert moved["NetworkInterfaceId"] != eni["NetworkInterfaceId"]


def test_a_policy_is_refused_by_a_service_without_endpoint_policies(ec2, provider, consumer_vpc):
    from tests.harness.emulator import POLICY_SUPPORTED_TAG

    service = provider(tags={POLICY_SUPPORTED_TAG: "false"})
    detail = ec2.describe_vpc_endpoint_services(ServiceNames=[service.service_name])["ServiceDetails"][0]
    assert detail["VpcEndpointPolicySupported"] is False
    with pytest.raises(ClientError) as refused:
        create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name, [consumer_vpc.subnet("a")],
                        PolicyDocument=json.dumps({"Statement": []}))
    assert "does not support VPC endpoint policies" in error_of(refused)[1]


def test_a_remote_service_is_found_with_its_region_and_serves_only_its_remote_zones(ec2, provider, consumer_vpc):
    from tests.harness.emulator import REMOTE_ZONES_TAG

    allowed = zone_id(ec2, consumer_vpc.subnet("a"))
    service = provider(region="us-west-2", tags={REMOTE_ZONES_TAG: allowed})
    with pytest.raises(ClientError) as unknown:
        ec2.describe_vpc_endpoint_services(ServiceNames=[service.service_name])
    assert error_of(unknown)[0] == "InvalidServiceName"
    detail = ec2.describe_vpc_endpoint_services(
        ServiceNames=[service.service_name], ServiceRegions=["us-west-2"])["ServiceDetails"][0]
    assert detail["ServiceRegion"] == "us-west-2"
    assert detail["AvailabilityZones"] == []  # none of this Region's (terraform-provider-aws #44186)
    with pytest.raises(ClientError) as refused:
        create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name,
                        [consumer_vpc.subnet("a"), consumer_vpc.subnet("b")], ServiceRegion="us-west-2")
    assert error_of(refused)[1] == f"Only the following availability zones are supported for remote access: {allowed}"
    created = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name, [consumer_vpc.subnet("a")],
                              ServiceRegion="us-west-2")
    assert describe_endpoint(ec2, created["VpcEndpointId"])["ServiceRegion"] == "us-west-2"


# --------------------------------------------------------------------------- #
# Rule matching (emulator/ec2_security_groups.py): a rule is revoked by its source,
#     whatever its description
# --------------------------------------------------------------------------- #


def test_a_group_source_is_revoked_without_its_description(ec2, consumer_vpc):
    group, source = security_group(ec2, consumer_vpc.vpc_id), security_group(ec2, consumer_vpc.vpc_id)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "UserIdGroupPairs": [{"GroupId": source, "Description": "the application"}]}])
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": source}]}])
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"] == []


def test_the_providers_decision_is_published_to_the_endpoints_notification_topic(emulator, ec2, provider,
                                                                                  consumer_vpc):
    # Connection events (emulator/ec2_connection_notifications.py): PrivateLink Guide, "Receive
    # alerts for interface endpoint events": a notification's topic hears the events it asked
    # for. Read here through an SQS subscription (moto's own).
    import boto3

    client = lambda name: boto3.client(name, endpoint_url=emulator.url, region_name="us-east-1",  # noqa: E731
                                       aws_access_key_id="testing", aws_secret_access_key="testing")
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=f"connections-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"connections-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    service = provider(acceptance_required=True)
    accepted, rejected = (create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name, [consumer_vpc.subnet("a")],
                                          PrivateDnsEnabled=False)
                          ["VpcEndpointId"] for _ in range(2))
    for endpoint in (accepted, rejected):
        ec2.create_vpc_endpoint_connection_notification(
            VpcEndpointId=endpoint, ConnectionNotificationArn=topic, ConnectionEvents=["Accept"])
    ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[accepted])
    # Only the events a notification asked for: this one did not ask for Reject.
    ec2.reject_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[rejected])
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert len(messages) == 1, messages
    assert accepted in messages[0]["Body"] and "Accept" in messages[0]["Body"]


def test_send_task_success_takes_only_an_open_tasks_token(emulator):
    # Step Functions task tokens (harness/stepfunctions.py): Step Functions API Reference,
    # "SendTaskSuccess": InvalidToken for a token it never gave, TaskTimedOut for one whose
    # task has ended.
    import boto3

    from tests.harness import stepfunctions

    sfn = boto3.client("stepfunctions", endpoint_url=emulator.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    with pytest.raises(ClientError) as unknown:
        sfn.send_task_success(taskToken="never-given", output="{}")
    assert unknown.value.response["Error"]["Code"] == "InvalidToken"
    execution = stepfunctions._Execution("arn:aws:states:us-east-1:123456789012:execution:m:e")
    token = stepfunctions._open_sleep(execution)
    sfn.send_task_success(taskToken=token, output="{}")
    assert stepfunctions._close_sleep(execution) is True  # woken
    with pytest.raises(ClientError) as ended:
        sfn.send_task_success(taskToken=token, output="{}")
    assert ended.value.response["Error"]["Code"] == "TaskTimedOut"


# --------------------------------------------------------------------------- #
# Route 53 private zones (emulator/route53_private_zones.py): idempotency by CallerReference,
# one zone of a name per VPC, alias targets that are an endpoint's own DNS names
# --------------------------------------------------------------------------- #


def private_zone(route53: Any, name: str, vpc_id: str, reference: str | None = None) -> str:
    return route53.create_hosted_zone(
        Name=name, CallerReference=reference or uuid.uuid4().hex, HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc_id})["HostedZone"]["Id"]


def test_a_caller_reference_used_before_makes_no_second_zone(emulator, consumer_vpc):
    route53 = emulator.client("route53")
    reference = uuid.uuid4().hex
    private_zone(route53, f"{reference}.partner.example", consumer_vpc.vpc_id, reference)
    with pytest.raises(ClientError) as again:
        private_zone(route53, f"{reference}.partner.example", consumer_vpc.vpc_id, reference)
    assert error_of(again)[0] == "HostedZoneAlreadyExists"
    zones = route53.list_hosted_zones_by_name(DNSName=f"{reference}.partner.example")["HostedZones"]
    assert len([z for z in zones if z["Name"] == f"{reference}.partner.example."]) == 1


def test_a_vpc_takes_one_private_zone_of_a_name(emulator, ec2, consumer_vpc):
    route53 = emulator.client("route53")
    name = f"{uuid.uuid4().hex[:8]}.partner.example"
    first = private_zone(route53, name, consumer_vpc.vpc_id)
    with pytest.raises(ClientError) as created:
        private_zone(route53, name.upper() + ".", consumer_vpc.vpc_id)
    assert error_of(created)[0] == "ConflictingDomainExists"
    other_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    second = private_zone(route53, name, other_vpc)  # another VPC: allowed
    with pytest.raises(ClientError) as associated:
        route53.associate_vpc_with_hosted_zone(HostedZoneId=second,
                                               VPC={"VPCRegion": "us-east-1", "VPCId": consumer_vpc.vpc_id})
    assert error_of(associated)[0] == "ConflictingDomainExists"
    # A zone of a parent or child name is another name: overlapping namespaces are allowed.
    private_zone(route53, f"eu.{name}", consumer_vpc.vpc_id)
    assert first != second


def test_an_alias_to_an_interface_endpoint_must_name_one_of_its_dns_names(emulator, ec2, provider, consumer_vpc):
    route53 = emulator.client("route53")
    service = provider()
    created = create_endpoint(ec2, consumer_vpc.vpc_id, service.service_name, [consumer_vpc.subnet("a")],
                              PrivateDnsEnabled=False)
    regional = describe_endpoint(ec2, created["VpcEndpointId"])["DnsEntries"][0]
    zone = private_zone(route53, f"{uuid.uuid4().hex[:8]}.partner.example", consumer_vpc.vpc_id)

    def alias(dns_name: str, zone_id: str) -> None:
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {
                "Name": route53.get_hosted_zone(Id=zone)["HostedZone"]["Name"], "Type": "A",
                "AliasTarget": {"HostedZoneId": zone_id, "DNSName": dns_name, "EvaluateTargetHealth": False}}}]})

    alias(regional["DnsName"], regional["HostedZoneId"])
    for dns_name, zone_id in [("vpce-0nothere-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com", regional["HostedZoneId"]),
                              (regional["DnsName"], "ZWRONGZONE")]:
        with pytest.raises(ClientError) as refused:
            alias(dns_name, zone_id)
        assert error_of(refused)[0] == "InvalidChangeBatch"
        assert "the alias target name does not lie within the target zone" in error_of(refused)[1]


# --------------------------------------------------------------------------- #
# EC2's request throttling (ec2_throttling.py: "Request throttling for the Amazon EC2 API")
# --------------------------------------------------------------------------- #


def test_throttling_answers_request_limit_exceeded_once_an_actions_bucket_is_empty(
        emulator, ec2_no_retry, consumer_vpc, provider):
    service = provider()
    emulator.set_settings(ec2_throttling=True)
    emulator.throttling(reset=True)

    def create() -> Any:
        return ec2_no_retry.create_vpc_endpoint(
            VpcEndpointType="Interface", VpcId=consumer_vpc.vpc_id, ServiceName=service.service_name,
            SubnetIds=[consumer_vpc.subnet("a")], PrivateDnsEnabled=False, ClientToken=str(uuid.uuid4()))

    # CreateVpcEndpoint's bucket holds 4 tokens (refilled at 0.3 a second): the 5th call in a row
    # is refused, as EC2 refuses it, with a 5xx; another action still has its own tokens.
    for _ in range(4):
        create()
    with pytest.raises(ClientError) as refused:
        create()
    error = refused.value.response
    assert error["Error"]["Code"] == "RequestLimitExceeded"
    assert "maximum request rate permitted by the Amazon EC2 APIs" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
    ec2_no_retry.describe_vpcs(VpcIds=[consumer_vpc.vpc_id])
    assert emulator.throttling() == {"allowed": {"CreateVpcEndpoint": 4, "DescribeVpcs": 1},
                                     "throttled": {"CreateVpcEndpoint": 1}}
    # The refused call made nothing: only the four endpoints exist in the VPC.
    made = ec2_no_retry.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [consumer_vpc.vpc_id]}])
    assert len(made["VpcEndpoints"]) == 4


def test_throttling_buckets_are_those_the_ec2_page_documents():
    from tests.harness.emulator.ec2_throttling import _Bucket, bucket_of

    assert bucket_of("CreateVpcEndpoint", {}) == ("CreateVpcEndpoint", (4.0, 0.3))
    assert bucket_of("ModifyVpcEndpoint", {}) == ("ModifyVpcEndpoint", (4.0, 0.3))
    assert bucket_of("DescribeVpcEndpoints", {}) == ("DescribeVpcEndpoints", (100.0, 20.0))
    assert bucket_of("CreateSecurityGroup", {}) == ("CreateSecurityGroup", (50.0, 5.0))
    assert bucket_of("AuthorizeSecurityGroupIngress", {}) == ("AuthorizeSecurityGroupIngress", (50.0, 5.0))
    assert bucket_of("CreateTags", {}) == ("CreateTags", (100.0, 10.0))
    # Unfiltered and unpaginated: a smaller bucket of its own; with a filter or a page size, the
    # action's standard one.
    assert bucket_of("DescribeNetworkInterfaces", {"NetworkInterfaceId.1": "eni-1"})[1] == (50.0, 10.0)
    assert bucket_of("DescribeSecurityGroups", {"Filter.1.Name": "vpc-id"}) == ("DescribeSecurityGroups", (100.0, 20.0))
    assert bucket_of("DescribeSecurityGroups", {"MaxResults": "5"})[1] == (100.0, 20.0)
    # Refill: 0.3 tokens a second, never above the capacity.
    bucket = _Bucket(capacity=4.0, refill=0.3, tokens=0.0, at=0.0)
    assert not bucket.take(3.0)  # 0.9 of a token
    assert bucket.take(3.4)
    assert not bucket.take(3.5)
    assert sum(bucket.take(1000.0 + i * 1e-6) for i in range(10)) == 4
