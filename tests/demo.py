"""`make demo`: the runbook's whole scenario on an embedded AWS, through the real function binaries.

1. Starts the AWS emulator (moto, extended as in the tests).
2. Plays the partner: a VPC, a network load balancer, an endpoint service for api.partner.com
   that requires acceptance.
3. Plays CloudFormation for templates/quickstart.yaml, the stack `make connect` deploys: its
   nested functions stack (templates/functions.yaml: the functions, the acceptance loop's state
   machine, the acceptance topic and its subscription) and validator stack
   (templates/validator.yaml), then the security group, the endpoint, the gate and the schedule,
   in dependency order, with `Ref`/`GetAtt` resolved from the answers. Custom resources get real
   Create events through the real binaries under a Lambda Runtime API; the other resources are
   played locally (tests/harness/local_aws.py says how, and what that leaves out). The endpoint
   waits for acceptance; the partner accepts at the loop's first check; the topic wakes the
   acceptance loop (run state by state here, since moto does not run executions), which answers
   SUCCESS with Private DNS on. The gate and the schedule run the validator against a loopback
   stand-in for the partner: a DNS server answering api.partner.com with the endpoint's
   addresses, and HTTPS on those addresses with a demo CA.
4. Prints the outputs, deletes the stack (nested stacks included) and shows that nothing is left.

The consumer VPC is 127.10.0.0/16 so that the endpoint's interfaces (addressed from their
subnets by the emulator) are loopback addresses this machine can serve the partner's API on.
Exits 0 only when every step did what it should."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from tests.harness.cfn import CloudFormation
from tests.harness.emulator import start_emulator
from tests.harness.local_aws import LocalAws
from tests.harness.partner import PartnerDns, PartnerHttps, stand_in_on_endpoint
from tests.harness.stack import StackPlayer
from tests.harness.stepfunctions import sleep_endings

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
STARTED = time.monotonic()


def step(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.1f}s] {text}", flush=True)


class DemoFailed(Exception):
    pass


def vpc_with_subnets(ec2: Any, prefix: str, *, dns: bool = False) -> tuple[str, list[str]]:
    """A VPC `<prefix>.0.0/16` with a /24 subnet in each of us-east-1a and us-east-1b; `dns`:
    with enableDnsSupport and enableDnsHostnames on, as Private DNS needs."""
    vpc = ec2.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    if dns:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab", 1)]
    return vpc, subnets


def endpoint_service(ec2: Any, elbv2: Any, prefix: str, *, acceptance_required: bool = False) -> dict[str, Any]:
    """A partner's endpoint service (api.partner.com) behind an NLB in a VPC `<prefix>.0.0/16`:
    its ServiceConfiguration."""
    _, subnets = vpc_with_subnets(ec2, prefix)
    nlb = elbv2.create_load_balancer(Name=f"partner-{time.time_ns()}"[:32], Subnets=subnets, Type="network",
                                     Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    return ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=acceptance_required,
        PrivateDnsName="api.partner.com")["ServiceConfiguration"]


class Demo:
    def __init__(self) -> None:
        step("Starting the AWS emulator (moto, extended to behave like AWS where it does not)")
        self.emulator = start_emulator()
        client = lambda service: boto3.client(service, endpoint_url=self.emulator.url,  # noqa: E731
                                              region_name=REGION, **CREDS)
        self.ec2, self.elbv2, self.sfn = client("ec2"), client("elbv2"), client("stepfunctions")
        self.cfn = CloudFormation(self.emulator.url)
        self.local = LocalAws(self.emulator, on_check=self.progress, on_rule=self.scheduled_run, say=step)
        self.partner_dns: PartnerDns | None = None
        self.partner_https: PartnerHttps | None = None
        self.port = 0

    def stop(self) -> None:
        self.local.stop()
        for server in (self.partner_dns, self.partner_https):
            if server:
                server.stop()
        self.emulator.stop()

    # ---- the partner ------------------------------------------------------ #

    def play_partner(self) -> dict[str, Any]:
        step("Partner: a VPC, a network load balancer in us-east-1a/b, an endpoint service for "
             "api.partner.com that requires acceptance")
        _, subnets = vpc_with_subnets(self.ec2, "10.100")
        nlb = self.elbv2.create_load_balancer(Name="partner-api", Subnets=subnets, Type="network",
                                              Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
        service = self.ec2.create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[nlb], AcceptanceRequired=True, PrivateDnsName="api.partner.com",
        )["ServiceConfiguration"]
        step(f"  {service['ServiceName']} in {', '.join(service['AvailabilityZones'])}")
        return service

    def progress(self, endpoint_id: str, n: int, data: dict[str, Any]) -> None:
        step(f"    check {n}: {data.get('LastState')}" + (" -> answered" if data["Done"] else
                                                         f", sleeping up to {data['SleepSeconds']} s"))
        if n == 1:
            step(f"  {endpoint_id} is pendingAcceptance: CloudFormation waits")
            self.start_partner_stand_in(endpoint_id)
            step("  Partner: accepts the connection request")
            self.ec2.accept_vpc_endpoint_connections(ServiceId=self.service["ServiceId"],
                                                     VpcEndpointIds=[endpoint_id])

    @staticmethod
    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.10.1.4", 0))
            return s.getsockname()[1]

    def start_partner_stand_in(self, endpoint_id: str) -> None:
        self.partner_dns, self.partner_https = stand_in_on_endpoint(self.ec2, endpoint_id, "api.partner.com", self.port)
        step(f"Partner API stand-in on the endpoint's addresses {', '.join(self.partner_https.addresses)} port "
             f"{self.port}: DNS answering api.partner.com (what Private DNS makes the VPC resolver answer) and "
             "each zone's own name (what AWS's DNS answers for it), HTTPS with a demo CA")
        # The validator runs inside the VPC: its resolver is the VPC's, here the stand-in.
        self.local.overrides["privatelink-validator"] = {
            "VALIDATOR_RESOLVER": self.partner_dns.address, "VALIDATOR_CA_PEM": self.partner_https.ca_pem}

    # ---- CloudFormation's side -------------------------------------------- #

    def send(self, token: str, event: dict[str, Any], key: str) -> dict[str, Any]:
        step(f"  -> {event['RequestType']} {event['ResourceType']} {event['LogicalResourceId']}")
        answer = self.local.send(token, event, key, self.cfn)
        step(f"  <- {answer['Status']} {answer['PhysicalResourceId']}"
             + (f": {answer['Reason']}" if answer.get("Reason") else ""))
        return answer

    def scheduled_run(self, logical_id: str, properties: dict[str, Any], invocation: Any) -> None:
        step(f"  {logical_id}: {properties['ScheduleExpression']}; ran its target once now, as EventBridge will")
        lines = [json.loads(line) for line in invocation.logs if line.startswith("{")]
        for line in (line for line in lines if "_aws" in line):
            step(f"    EMF {line['Name']} ({line['EndpointId']}): Success={line['Success']} "
                 f"DnsMs={line.get('DnsMs')} TlsMs={line.get('TlsMs')} FirstByteMs={line.get('FirstByteMs')} "
                 f"CertDaysLeft={line.get('CertDaysLeft')}")

    def event(self, stack: str, logical_id: str, kind: str, status: str, physical_id: str | None,
              reason: str | None) -> None:
        if kind == "AWS::CloudFormation::Stack" or kind.startswith("Custom::") or stack == self.root:
            name = stack.split("/")[1]
            step(f"  [{name}] {logical_id} {status}" + (f": {reason}" if reason else ""))

    def run(self) -> None:
        self.service = self.play_partner()
        step("Consumer: VPC 127.10.0.0/16 (loopback, see above) with a subnet in us-east-1a and us-east-1b")
        step("  with enableDnsSupport and enableDnsHostnames on, as Private DNS needs")
        vpc, subnets = vpc_with_subnets(self.ec2, "127.10", dns=True)
        # The stand-in's HTTPS port: 443 needs root here, any port works for the checks.
        self.port = self.free_port()
        player = StackPlayer(REPO / "templates" / "quickstart.yaml",
                             {"ServiceName": self.service["ServiceName"], "VpcId": vpc,
                              "SubnetIds": ",".join(subnets), "ServicePort": str(self.port)},
                             {}, self.cfn, self.send, self.local.play, name="partner-api", on_event=self.event)
        self.root = player.stack_id
        step(f"CloudFormation: creating the stack {player.stack_name} from templates/quickstart.yaml "
             f"(what make connect deploys): {', '.join(player.order())}")
        player.create_all()
        endpoint_id = player.resources["PartnerEndpoint"].physical_id
        data = player.resources["PartnerEndpoint"].data
        for key in ("State", "PrivateDnsName", "PrivateIpAddresses", "DnsName"):
            step(f"    {key} = {data[key]}")
        endpoint = self.ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
        if data["State"] != "available" or not endpoint["PrivateDnsEnabled"]:
            raise DemoFailed("the endpoint is not available with Private DNS on")
        step("    Private DNS is on: inside the VPC, api.partner.com now names the endpoint")
        if "woken" not in sleep_endings(self.local.executions[-1]):
            raise DemoFailed("the acceptance topic did not wake the loop")
        step("    the acceptance topic woke the loop: it checked at once, not after its poll interval")
        step(f"    the gate passed: {player.resources['PartnerApiWorks'].data}")
        step("Outputs:")
        for key, value in player.outputs().items():
            step(f"  {key} = {value}")
        step("CloudFormation: deleting the stack, in reverse order")
        player.delete_all()
        left = [e["VpcEndpointId"] for e in self.ec2.describe_vpc_endpoints()["VpcEndpoints"]
                if e["VpcId"] == vpc and e["State"].lower() != "deleted"]
        groups = [g["GroupId"] for g in self.ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"] if g["GroupName"] != "default"]
        running = [e for machine in self.local.loops
                   for e in self.sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]]
        if left or groups or running:
            raise DemoFailed(f"left behind: endpoints {left}, groups {groups}, loops {running}")
        step("Nothing is left behind: no endpoint, no security group, no running loop. Demo complete.")


def main() -> int:
    demo = Demo()
    try:
        demo.run()
        return 0
    except (DemoFailed, AssertionError) as failure:
        print(f"FAILED: {failure}", flush=True)
        return 1
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
