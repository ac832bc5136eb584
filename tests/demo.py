"""`make demo`: the runbook on an embedded AWS emulator, through the real function binaries.

Plays the partner (a VPC, a load balancer, an endpoint service with the private DNS name
api.partner.com), then plays CloudFormation: Create events for a
`Custom::PrivateLinkSecurityGroup` and a `Custom::PrivateLinkEndpoint` using it, sent to the
real binaries under a Lambda Runtime API, answered through pre-signed S3 URLs; then Delete
events in reverse order, and a check that nothing is left. Exits 0 only when every step did
what it should.

The full scenario (acceptance by the provider, the waiter, the validator, the templates)
arrives with the later issues; this is the part the two functions serve today."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import boto3

from tests.harness.cfn import CloudFormation, stack_id
from tests.harness.emulator import start_emulator
from tests.harness.runtime import LambdaFunction

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
STARTED = time.monotonic()


def step(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.1f}s] {text}", flush=True)


def fail(text: str) -> None:
    print(f"FAILED: {text}", flush=True)
    sys.exit(1)


def send(fn: LambdaFunction, cfn: CloudFormation, event_and_key: tuple[dict[str, Any], str]) -> dict[str, Any]:
    event, key = event_and_key
    step(f"  -> {event['RequestType']} {event['ResourceType']} {event['LogicalResourceId']}")
    invocation = fn.invoke(event, deadline_s=120, timeout_s=150)
    if invocation.kind != "response":
        fail(f"the function ended with {invocation.kind}: {invocation.body}")
    answer = cfn.answer(key)
    step(f"  <- {answer['Status']} PhysicalResourceId={answer['PhysicalResourceId']}"
         + (f" Reason={answer['Reason']}" if answer.get("Reason") else ""))
    if answer["Status"] != "SUCCESS":
        fail(f"{event['LogicalResourceId']} answered {answer['Status']}")
    return answer


def main() -> None:
    step("Starting the AWS emulator (moto, extended to behave like AWS where it does not)")
    emulator = start_emulator()
    env = {"AWS_ENDPOINT_URL": emulator.url, "AWS_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    ec2 = boto3.client("ec2", endpoint_url=emulator.url, region_name=REGION, **CREDS)
    elbv2 = boto3.client("elbv2", endpoint_url=emulator.url, region_name=REGION, **CREDS)

    step("Provider: a VPC, a network load balancer in us-east-1a/b, an endpoint service for api.partner.com")
    pvpc = ec2.create_vpc(CidrBlock="10.100.0.0/16")["Vpc"]["VpcId"]
    psubnets = [ec2.create_subnet(VpcId=pvpc, CidrBlock=f"10.100.{i}.0/24",
                                  AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
                for i, az in enumerate("ab", 1)]
    nlb = elbv2.create_load_balancer(Name="partner-api", Subnets=psubnets, Type="network",
                                     Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    service = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=False, PrivateDnsName="api.partner.com",
    )["ServiceConfiguration"]
    step(f"  service {service['ServiceName']} in {', '.join(service['AvailabilityZones'])}")

    step("Consumer: VPC 10.0.0.0/16 with a subnet in each of us-east-1a, us-east-1b")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab", 1)]

    cfn = CloudFormation(emulator.url)
    stack = stack_id("partner-api-consumer")
    sg_fn = LambdaFunction(REPO / "target/debug/privatelink-security-group", env)
    ep_fn = LambdaFunction(REPO / "target/debug/privatelink-endpoint", env)
    try:
        step("CloudFormation: Create EndpointSecurityGroup (port 443 from the VPC)")
        sg_props = {"VpcId": vpc, "Ports": ["443"]}
        sg = send(sg_fn, cfn, cfn.create_event("Custom::PrivateLinkSecurityGroup", "EndpointSecurityGroup", sg_props, stack))
        group_id = sg["PhysicalResourceId"]
        step(f"  GroupId={sg['Data']['GroupId']} SourceCidrs={sg['Data']['SourceCidrs']}")

        step("CloudFormation: Create PartnerEndpoint (verify, one subnet per zone, Private DNS)")
        ep_props = {"ServiceName": service["ServiceName"], "VpcId": vpc, "SubnetIds": subnets,
                    "SecurityGroupIds": [group_id]}
        ep = send(ep_fn, cfn, cfn.create_event("Custom::PrivateLinkEndpoint", "PartnerEndpoint", ep_props, stack))
        for key in ("State", "DnsName", "PrivateDnsName", "PrivateIpAddresses", "NetworkInterfaceIds"):
            step(f"  {key}={ep['Data'][key]}")
        if ep["Data"]["State"] != "available" or ep["Data"]["PrivateDnsName"] != "api.partner.com":
            fail("the endpoint is not available with Private DNS for api.partner.com")

        step("CloudFormation: Delete PartnerEndpoint, then EndpointSecurityGroup")
        send(ep_fn, cfn, cfn.delete_event("Custom::PrivateLinkEndpoint", "PartnerEndpoint", ep["PhysicalResourceId"], ep_props, stack))
        send(sg_fn, cfn, cfn.delete_event("Custom::PrivateLinkSecurityGroup", "EndpointSecurityGroup", group_id, sg_props, stack))

        left = [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                if e["VpcId"] == vpc and e["State"] != "deleted"]
        groups = [g["GroupId"] for g in ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"] if g["GroupName"] != "default"]
        if left or groups:
            fail(f"left behind: {left + groups}")
        step("Nothing is left behind. Demo complete.")
    finally:
        sg_fn.stop()
        ep_fn.stop()
        emulator.stop()


if __name__ == "__main__":
    main()
