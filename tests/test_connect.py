"""`make connect` end to end on the emulator, as a new user runs it: a release (here built from
the debug binaries: each zip's `bootstrap` execs one), the runbook's three inputs, and
CloudFormation's API played by the project's stack player (tests/harness/stacks.py) with the
real functions serving the quick start's custom resources, its nested functions and validator
stacks included. The partner accepts when `make connect` prints the endpoint id, as a user
would forward it.

What this does not exercise (the player's limits, tests/harness/local_aws.py): IAM policies,
the alarms, metric filters and dashboard, Lambda permissions, the validator's VPC networking
(it runs on this machine, resolving through a stand-in for the VPC's resolver), UpdateStack."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.harness.emulator import Emulator
from tests.harness.local_aws import LocalAws, release_of_debug_builds
from tests.harness.partner import stand_in_on_endpoint

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import release  # noqa: E402

PARTNER_NAME = "api.partner.com"


def vpc(ec2: Any, prefix: str, dns: bool = True) -> tuple[str, list[str]]:
    vpc_id = ec2.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    if dns:
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{prefix}.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab", 1)]
    return vpc_id, subnets


def partner_service(ec2: Any, elbv2: Any) -> dict[str, Any]:
    _, subnets = vpc(ec2, "10.121", dns=False)
    nlb = elbv2.create_load_balancer(Name=f"partner-{os.getpid()}", Subnets=subnets, Type="network",
                                     Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    return ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=True, PrivateDnsName=PARTNER_NAME,
    )["ServiceConfiguration"]


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class Partner:
    """Reads `make connect`'s output as the user does; when it names the endpoint, the partner
    accepts it, and the partner's API answers on the endpoint's addresses (a stand-in)."""

    def __init__(self, ec2: Any, service: dict[str, Any], local: LocalAws, port: int):
        self.ec2, self.service, self.local, self.port = ec2, service, local, port
        self.lines: list[str] = []
        self.accepted: list[str] = []
        self.servers: list[Any] = []

    def read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("waiting for the partner to accept "):
                self.accept(line.split()[6])

    def accept(self, endpoint_id: str) -> None:
        dns, https = stand_in_on_endpoint(self.ec2, endpoint_id, PARTNER_NAME, self.port)
        self.servers += [dns, https]
        # The validator runs inside the VPC: the VPC's resolver is the stand-in's.
        self.local.overrides["privatelink-validator"] = {"VALIDATOR_RESOLVER": dns.address,
                                                         "VALIDATOR_CA_PEM": https.ca_pem}
        self.ec2.accept_vpc_endpoint_connections(ServiceId=self.service["ServiceId"], VpcEndpointIds=[endpoint_id])
        self.accepted.append(endpoint_id)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()




def make_connect(emulator: Emulator, release_dir: Path, *args: str, partner: Partner | None = None) -> tuple[int, list[str]]:
    env = {**os.environ, "AWS_ENDPOINT_URL": emulator.url, "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    process = subprocess.Popen(["make", "--no-print-directory", "connect", f"RELEASE={release_dir}", "POLL_SECONDS=0.5",
                                *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if partner is None:
        output = process.communicate(timeout=300)[0]
        return process.returncode, output.splitlines()
    reader = threading.Thread(target=partner.read, args=(process,), daemon=True)
    reader.start()
    code = process.wait(timeout=600)
    reader.join(timeout=10)
    return code, partner.lines


def test_make_connect_goes_from_the_runbooks_inputs_to_a_checked_connection(emulator, played, ec2, tmp_path):
    local, service = played
    elbv2 = emulator.client("elbv2")
    partner_service_config = partner_service(ec2, elbv2)
    vpc_id, subnets = vpc(ec2, "127.21")
    port = free_port("127.21.1.4")
    release_dir = release_of_debug_builds(tmp_path)
    partner = Partner(ec2, partner_service_config, local, port)
    try:
        code, lines = make_connect(emulator, release_dir, f"SERVICE_NAME={partner_service_config['ServiceName']}",
                                   f"VPC_ID={vpc_id}", f"SUBNET_IDS={','.join(subnets)}", f"SERVICE_PORT={port}",
                                   "STACK=partner-api", partner=partner)
    finally:
        partner.stop()
    text = "\n".join(lines)
    assert code == 0, text
    # The id was printed while the stack waited, and the partner accepted that endpoint.
    assert len(partner.accepted) == 1, text
    endpoint_id = partner.accepted[0]
    announced = next(i for i, line in enumerate(lines) if line.startswith("waiting for the partner"))
    done = next(i for i, line in enumerate(lines) if "PartnerEndpoint" in line and "CREATE_COMPLETE" in line)
    assert announced < done, text
    assert f"account 123456789012, us-east-1) in their service {partner_service_config['ServiceName']}" in lines[announced]
    # The outputs end it; the gate checked the partner's API from inside the VPC.
    assert "partner-api: CREATE_COMPLETE" in text, text
    assert f"  EndpointId = {endpoint_id}" in lines, text
    assert f"  PrivateDnsName = {PARTNER_NAME}" in lines, text
    assert any("PartnerApiWorks" in line and "CREATE_COMPLETE" in line for line in lines), text
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
    assert endpoint["State"] == "available" and endpoint["PrivateDnsEnabled"], endpoint
    # The functions came from the uploaded release, nested in the quick start.
    bucket = "privatelink-lambdas-artifacts-123456789012-us-east-1"
    keys = {o["Key"] for o in local.s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"{release.key_prefix(release.version())}templates/quickstart.yaml" in keys
    assert {f.kind for f in local.functions.values()} == set(release.FUNCTIONS)
    # The functions count what they did (EMF): the endpoint's Create handed off, then answered
    # by the acceptance loop, with the whole wait as its duration.
    metrics = {kind: [json.loads(line) for f in local.functions.values() if f.kind == kind
                      for env in f.environments for line in env.logs_since() if '"_aws"' in line]
               for kind in ("privatelink-endpoint", "privatelink-acceptance-waiter")}
    assert [(m["Operation"], m["Outcome"]) for m in metrics["privatelink-endpoint"]
            if m["ResourceType"] == "Custom::PrivateLinkEndpoint"] == [("Create", "HANDED_OFF")]
    assert [(m["ResourceType"], m["Operation"], m["Outcome"]) for m in metrics["privatelink-acceptance-waiter"]] == [
        ("Custom::PrivateLinkEndpoint", "Create", "SUCCESS")]

    # Run again with the same inputs, the port (not 443) left out: what the stack has is kept
    # (UsePreviousValue), so nothing changes and the outputs are said again.
    assert port != 443
    code, again = make_connect(emulator, release_dir, f"SERVICE_NAME={partner_service_config['ServiceName']}",
                               f"VPC_ID={vpc_id}", f"SUBNET_IDS={','.join(subnets)}", "STACK=partner-api")
    assert code == 0 and "the stack partner-api is up to date" in again, again
    assert f"the release {release.version()} is already in s3://" in "\n".join(again), again
    assert f"  EndpointId = {endpoint_id}" in again, again
    # Its resources can't move to another functions stack (their ServiceToken would change).
    code, moved = make_connect(emulator, release_dir, f"SERVICE_NAME={partner_service_config['ServiceName']}",
                               f"VPC_ID={vpc_id}", f"SUBNET_IDS={','.join(subnets)}", "STACK=partner-api",
                               "FUNCTIONS_EXPORT_PREFIX=shared-functions")
    assert code != 0 and any("its resources can't move to other functions" in line for line in moved), moved

    # Deleting the stack leaves nothing of the runbook behind.
    cloudformation = emulator.client("cloudformation")
    stack_id = cloudformation.describe_stacks(StackName="partner-api")["Stacks"][0]["StackId"]
    cloudformation.delete_stack(StackName="partner-api")
    for thread in service.threads:
        thread.join(timeout=300)
    assert cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    left = [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
            if e["VpcId"] == vpc_id and e["State"].lower() != "deleted"]
    groups = [g["GroupId"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"] if g["GroupName"] != "default"]
    assert not left and not groups, (left, groups)


def test_make_connect_says_which_resource_failed_and_why(emulator, played, ec2, tmp_path):
    elbv2 = emulator.client("elbv2")
    partner_service_config = partner_service(ec2, elbv2)
    # A VPC without enableDnsSupport and enableDnsHostnames: Private DNS can't be switched on.
    vpc_id, subnets = vpc(ec2, "10.122", dns=False)
    code, lines = make_connect(emulator, release_of_debug_builds(tmp_path),
                               f"SERVICE_NAME={partner_service_config['ServiceName']}", f"VPC_ID={vpc_id}",
                               f"SUBNET_IDS={','.join(subnets)}", "STACK=no-dns-vpc")
    text = "\n".join(lines)
    assert code != 0, text
    assert "no-dns-vpc: ROLLBACK_COMPLETE" in text, text
    failed = [line for line in lines if line.startswith("  PartnerEndpoint (Custom::PrivateLinkEndpoint): ")]
    assert failed and vpc_id in failed[0] and "enableDnsHostnames" in failed[0], text
    # Rolled back: the security group made before the endpoint is gone too.
    groups = [g["GroupId"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"] if g["GroupName"] != "default"]
    assert not groups, groups
    assert not any(line.startswith("waiting for the partner") for line in lines), text


@pytest.mark.parametrize("inputs, says", [
    ({"QUICKSTART_PARAMS": "CreateS3GatewayEndpoint=true"},
     "CloudFormation refused: ValidationError: CreateS3GatewayEndpoint=true needs RouteTableIds"),
    ({"QUICKSTART_PARAMS": "RouteTableIds=not-a-route-table"},
     "CloudFormation refused: ValidationError: Parameter 'RouteTableIds' must match pattern"),
    ({"SERVICE_NAME": "com.amazonaws.vpce.us-east-1.vpce-svc-0000000000000dead"},
     "does not exist in this Region, or the partner has not shared it with this account"),
    ({"PRIVATE_DNS_NAME": "api.other.com"}, f"api.other.com is not the service's Private DNS name ({PARTNER_NAME})"),
], ids=["a rule of the template", "a parameter's pattern", "unknown service", "another private DNS name"])
def test_make_connect_refuses_wrong_inputs_before_making_anything(emulator, played, ec2, tmp_path, inputs, says):
    elbv2 = emulator.client("elbv2")
    partner_service_config = partner_service(ec2, elbv2)
    vpc_id, subnets = vpc(ec2, "10.124")
    given = {"SERVICE_NAME": partner_service_config["ServiceName"], "VPC_ID": vpc_id,
             "SUBNET_IDS": ",".join(subnets), "STACK": "refused", **inputs}
    code, lines = make_connect(emulator, release_of_debug_builds(tmp_path), *(f"{k}={v}" for k, v in given.items()))
    text = "\n".join(lines)
    assert code != 0 and says in text, text
    cloudformation = emulator.client("cloudformation")
    with pytest.raises(cloudformation.exceptions.ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName="refused")
