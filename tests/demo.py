"""`make demo`: the runbook on an embedded AWS emulator, through the real function binaries.

Plays the partner (a VPC, a load balancer, an endpoint service with the private DNS name
api.partner.com), then plays CloudFormation: Create events for a
`Custom::PrivateLinkSecurityGroup` and a `Custom::PrivateLinkEndpoint` using it, sent to the
real binaries under a Lambda Runtime API, answered through pre-signed S3 URLs; then Delete
events in reverse order, and a check that nothing is left. Exits 0 only when every step did
what it should.

The endpoint's service requires acceptance: the Create is handed to the acceptance loop (a Step
Functions execution of templates/acceptance-waiter.asl.json, run here state by state because
moto does not run executions), the provider accepts, and the waiter answers SUCCESS with Private
DNS switched on. The validator and the templates arrive with later issues."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from tests.harness.cfn import CloudFormation, stack_id
from tests.harness.emulator import start_emulator
from tests.harness.runtime import LambdaFunction
from tests.harness.stepfunctions import create_state_machine, load_definition, run_loop

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


def vpc_with_subnets(ec2: Any, prefix: str) -> tuple[str, list[str]]:
    """A VPC `<prefix>.0.0/16` with a /24 subnet in each of us-east-1a and us-east-1b."""
    vpc = ec2.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab", 1)]
    return vpc, subnets


def main() -> None:
    step("Starting the AWS emulator (moto, extended to behave like AWS where it does not)")
    emulator = start_emulator()
    env = {"AWS_ENDPOINT_URL": emulator.url, "AWS_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    ec2 = boto3.client("ec2", endpoint_url=emulator.url, region_name=REGION, **CREDS)
    elbv2 = boto3.client("elbv2", endpoint_url=emulator.url, region_name=REGION, **CREDS)

    sfn = boto3.client("stepfunctions", endpoint_url=emulator.url, region_name=REGION, **CREDS)
    state_machine = create_state_machine(sfn, "privatelink-acceptance")
    step(f"Acceptance loop registered: {state_machine}")

    step("Provider: a VPC, a network load balancer in us-east-1a/b, an endpoint service for api.partner.com that requires acceptance")
    _, psubnets = vpc_with_subnets(ec2, "10.100")
    nlb = elbv2.create_load_balancer(Name="partner-api", Subnets=psubnets, Type="network",
                                     Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    service = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=True, PrivateDnsName="api.partner.com",
    )["ServiceConfiguration"]
    step(f"  service {service['ServiceName']} in {', '.join(service['AvailabilityZones'])}")

    step("Consumer: VPC 10.0.0.0/16 with a subnet in each of us-east-1a, us-east-1b")
    vpc, subnets = vpc_with_subnets(ec2, "10.0")

    cfn = CloudFormation(emulator.url)
    stack = stack_id("partner-api-consumer")
    sg_fn = LambdaFunction(REPO / "target/debug/privatelink-security-group", env)
    ep_fn = LambdaFunction(REPO / "target/debug/privatelink-endpoint",
                           {**env, "ACCEPTANCE_STATE_MACHINE_ARN": state_machine})
    waiter = LambdaFunction(REPO / "target/debug/privatelink-acceptance-waiter", env)
    try:
        step("CloudFormation: Create EndpointSecurityGroup (port 443 from the VPC)")
        sg_props = {"VpcId": vpc, "Ports": ["443"]}
        sg = send(sg_fn, cfn, cfn.create_event("Custom::PrivateLinkSecurityGroup", "EndpointSecurityGroup", sg_props, stack))
        group_id = sg["PhysicalResourceId"]
        step(f"  GroupId={sg['Data']['GroupId']} SourceCidrs={sg['Data']['SourceCidrs']}")

        step("CloudFormation: Create PartnerEndpoint (verify, one subnet per zone, Private DNS after acceptance)")
        ep_props = {"ServiceName": service["ServiceName"], "VpcId": vpc, "SubnetIds": subnets,
                    "SecurityGroupIds": [group_id], "PrivateDnsEnabled": "true"}
        event, key = cfn.create_event("Custom::PrivateLinkEndpoint", "PartnerEndpoint", ep_props, stack)
        step(f"  -> Create {event['ResourceType']} {event['LogicalResourceId']}")
        handed = ep_fn.invoke(event, deadline_s=120, timeout_s=150)
        if handed.kind != "response" or handed.body.get("Status") != "HANDED_OFF" or cfn.answers(key):
            fail(f"expected a hand-off to the acceptance loop, got {handed.kind}: {handed.body}")
        executions = sfn.list_executions(stateMachineArn=state_machine)["executions"]
        state = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
        endpoint_id = state["VpcEndpointId"]
        step(f"  endpoint {endpoint_id} is pendingAcceptance; CloudFormation waits, the loop {executions[0]['name']} polls")

        def progress(n: int, data: dict[str, Any]) -> None:
            step(f"  check {n}: {data.get('LastState')}{' (done)' if data['Done'] else ', waiting'}")
            if n == 2:
                step("Provider: accepts the connection")
                ec2.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id])

        run_loop(load_definition(), waiter, state, on_check=progress, max_wait_s=0.5)
        ep = cfn.answer(key)
        step(f"  <- {ep['Status']} PhysicalResourceId={ep['PhysicalResourceId']} (answered by the waiter)")
        if ep["Status"] != "SUCCESS":
            fail(f"PartnerEndpoint answered {ep['Status']}: {ep.get('Reason')}")
        for key in ("State", "DnsName", "PrivateDnsName", "PrivateIpAddresses", "NetworkInterfaceIds"):
            step(f"  {key}={ep['Data'][key]}")
        dns_on = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["PrivateDnsEnabled"]
        if ep["Data"]["State"] != "available" or ep["Data"]["PrivateDnsName"] != "api.partner.com" or not dns_on:
            fail("the endpoint is not available with Private DNS for api.partner.com")
        step("  Private DNS is on: inside the VPC, api.partner.com now names the endpoint")

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
        waiter.stop()
        emulator.stop()


if __name__ == "__main__":
    main()
