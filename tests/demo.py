"""`make demo`: the runbook's whole scenario on an embedded AWS, through the real function binaries.

1. Starts the AWS emulator (moto, extended as in the tests) and registers the acceptance loop's
   state machine (templates/acceptance-waiter.asl.json) and the acceptance topic, to which
   privatelink-endpoint is subscribed, as the provider stack does.
2. Plays the provider: a VPC, a network load balancer, an endpoint service for api.partner.com
   that requires acceptance.
3. Plays CloudFormation for templates/consumer-example.yaml: Create events for its resources in
   dependency order, through the real binaries under a Lambda Runtime API, with `Ref`/`GetAtt`
   resolved from the answers. The endpoint waits for acceptance; the provider accepts; the
   topic wakes the acceptance loop (run state by state here, since moto does not run
   executions), which answers SUCCESS with Private DNS on. The gate and the schedule run the validator against a loopback
   stand-in for the partner: a DNS server answering api.partner.com with the endpoint's
   addresses, and HTTPS on those addresses with a demo CA.
4. Prints the outputs, deletes everything in reverse order and shows that nothing is left.

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
from tests.harness.partner import PartnerDns, PartnerHttps, zonal_dns_names
from tests.harness.runtime import LambdaFunction
from tests.harness.stack import StackPlayer
from tests.harness.stepfunctions import create_state_machine, load_definition, run_loop, sleep_endings

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
STARTED = time.monotonic()


def step(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.1f}s] {text}", flush=True)


class DemoFailed(Exception):
    pass


def vpc_with_subnets(ec2: Any, prefix: str) -> tuple[str, list[str]]:
    """A VPC `<prefix>.0.0/16` with a /24 subnet in each of us-east-1a and us-east-1b."""
    vpc = ec2.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab", 1)]
    return vpc, subnets


class Demo:
    def __init__(self) -> None:
        step("Starting the AWS emulator (moto, extended to behave like AWS where it does not)")
        self.emulator = start_emulator()
        self.env = {"AWS_ENDPOINT_URL": self.emulator.url, "AWS_REGION": REGION,
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        client = lambda service: boto3.client(service, endpoint_url=self.emulator.url,  # noqa: E731
                                              region_name=REGION, **CREDS)
        self.ec2, self.elbv2, self.sfn = client("ec2"), client("elbv2"), client("stepfunctions")
        self.sns = client("sns")
        self.cfn = CloudFormation(self.emulator.url)
        self.functions: dict[str, LambdaFunction] = {}
        self.partner_dns: PartnerDns | None = None
        self.partner_https: PartnerHttps | None = None

    def function(self, name: str, env: dict[str, str] | None = None) -> LambdaFunction:
        if name not in self.functions:
            self.functions[name] = LambdaFunction(REPO / "target" / "debug" / name, {**self.env, **(env or {})})
        return self.functions[name]

    def stop(self) -> None:
        for fn in self.functions.values():
            fn.stop()
        for server in (self.partner_dns, self.partner_https):
            if server:
                server.stop()
        self.emulator.stop()

    # ---- the provider ----------------------------------------------------- #

    def play_provider(self) -> dict[str, Any]:
        self.state_machine = create_state_machine(self.sfn, "privatelink-acceptance")
        self.topic = self.sns.create_topic(Name="privatelink-acceptance")["TopicArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="lambda", Endpoint=f"{ARN}privatelink-endpoint")
        # The topic's deliveries: a second execution environment of the endpoint function.
        notified = LambdaFunction(REPO / "target" / "debug" / "privatelink-endpoint", {**self.env, **self.endpoint_env()})
        self.functions["privatelink-endpoint (topic)"] = notified
        self.emulator.register_function(f"{ARN}privatelink-endpoint", notified)
        step(f"Provider stack stand-in: the functions, the acceptance loop {self.state_machine} "
             f"and the acceptance topic {self.topic}")
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

    def endpoint_env(self) -> dict[str, str]:
        return {"ACCEPTANCE_STATE_MACHINE_ARN": self.state_machine, "ACCEPTANCE_TOPIC_ARN": self.topic}

    # ---- CloudFormation's side -------------------------------------------- #

    def send(self, token: str, event: dict[str, Any], key: str) -> dict[str, Any]:
        name = token.removeprefix(ARN)
        env = self.endpoint_env() if name == "privatelink-endpoint" else {}
        step(f"  -> {event['RequestType']} {event['ResourceType']} {event['LogicalResourceId']}")
        invocation = self.function(name, env).invoke(event, deadline_s=300, timeout_s=330)
        if invocation.kind != "response":
            raise DemoFailed(f"{name} ended with {invocation.kind}: {invocation.body}")
        if invocation.body.get("Status") == "HANDED_OFF":
            self.wait_for_acceptance(event)
        answer = self.cfn.answer(key)
        step(f"  <- {answer['Status']} {answer['PhysicalResourceId']}"
             + (f": {answer['Reason']}" if answer.get("Reason") else ""))
        return answer

    def wait_for_acceptance(self, event: dict[str, Any]) -> None:
        executions = self.sfn.list_executions(stateMachineArn=self.state_machine, statusFilter="RUNNING")["executions"]
        state = json.loads(self.sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
        endpoint_id = state["VpcEndpointId"]
        step(f"  {endpoint_id} is pendingAcceptance: CloudFormation waits; the acceptance loop "
             f"{executions[0]['name']} checks every {state['PollIntervalSeconds']} s, or at once when "
             "the acceptance topic hears the partner's decision")

        def progress(n: int, data: dict[str, Any]) -> None:
            step(f"    check {n}: {data.get('LastState')}" + (" -> answered" if data["Done"] else
                                                             f", sleeping up to {data['SleepSeconds']} s"))
            if n == 1:
                step("  Partner: accepts the connection request")
                self.ec2.accept_vpc_endpoint_connections(ServiceId=self.service["ServiceId"],
                                                         VpcEndpointIds=[endpoint_id])

        # Sleeps as long as the state says (15 s; 5 s while the accepted endpoint is pending).
        arn = executions[0]["executionArn"]
        run_loop(load_definition(), self.function("privatelink-acceptance-waiter"), state,
                 on_check=progress, max_wait_s=15, execution_arn=arn)
        if "woken" not in sleep_endings(arn):
            raise DemoFailed("the acceptance topic did not wake the loop")
        step("    the acceptance topic woke the loop: it checked at once, not after its poll interval")

    @staticmethod
    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.10.1.4", 0))
            return s.getsockname()[1]

    def start_partner_stand_in(self, addresses: list[str], port: int, endpoint: dict[str, Any]) -> None:
        step(f"Partner API stand-in on the endpoint's addresses {', '.join(addresses)} port {port}: DNS "
             "answering api.partner.com (what Private DNS makes the VPC resolver answer) and each zone's "
             "own name (what AWS's DNS answers for it), HTTPS with a demo CA")
        enis = self.ec2.describe_network_interfaces(NetworkInterfaceIds=endpoint["NetworkInterfaceIds"])["NetworkInterfaces"]
        by_zone = {eni["AvailabilityZone"]: eni["PrivateIpAddress"] for eni in enis}
        records = {"api.partner.com": addresses}
        records.update({name: [by_zone[zone]] for zone, name in zonal_dns_names(endpoint["DnsEntries"]).items()})
        self.partner_dns = PartnerDns(records)
        self.partner_https = PartnerHttps(addresses, ["api.partner.com"], port=port)

    def others(self, logical_id: str, kind: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
        if kind == "AWS::Events::Rule":
            step(f"  {logical_id}: {properties['ScheduleExpression']}; running its target once now, as EventBridge will")
            target = properties["Targets"][0]
            event = json.loads(target["Input"])
            validator = self.functions["privatelink-validator"]
            invocation = validator.invoke(event, deadline_s=120, timeout_s=150)
            if invocation.kind != "response" or not invocation.body.get("ok"):
                raise DemoFailed(f"the scheduled check failed: {invocation.body}")
            lines = [json.loads(line) for line in invocation.logs if line.startswith("{")]
            metrics = [line for line in lines if "_aws" in line]
            for line in metrics:
                step(f"    EMF {line['Name']} ({line['EndpointId']}): Success={line['Success']} "
                     f"DnsMs={line.get('DnsMs')} TlsMs={line.get('TlsMs')} FirstByteMs={line.get('FirstByteMs')} "
                     f"CertDaysLeft={line.get('CertDaysLeft')}")
            name = f"partner-api-consumer-{logical_id}"
            return name, {"Arn": f"arn:aws:events:{REGION}:123456789012:rule/{name}"}
        step(f"  {logical_id}: {kind} has nothing to play locally")
        return f"{logical_id}-local", {}

    def run(self) -> None:
        self.service = self.play_provider()
        step("Consumer: VPC 127.10.0.0/16 (loopback, see above) with a subnet in us-east-1a and us-east-1b")
        vpc, subnets = vpc_with_subnets(self.ec2, "127.10")
        step("  with enableDnsSupport and enableDnsHostnames on, as Private DNS needs")
        self.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
        self.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        # The stand-in's HTTPS port: 443 needs root here, any port works for the checks.
        port = self.free_port()
        exports = {
            "privatelink-lambdas-SecurityGroupServiceToken": ARN + "privatelink-security-group",
            "privatelink-lambdas-EndpointServiceToken": ARN + "privatelink-endpoint",
            "privatelink-validator-ValidatorFunctionArn": ARN + "privatelink-validator",
        }
        player = StackPlayer(REPO / "templates" / "consumer-example.yaml",
                             {"ServiceName": self.service["ServiceName"], "VpcId": vpc,
                              "SubnetIds": ",".join(subnets), "ServicePort": str(port)},
                             exports, self.cfn, self.send, self.others, name="partner-api-consumer")
        order = player.order()
        step(f"CloudFormation: creating the stack {player.stack_id.split('/')[1]} from "
             f"templates/consumer-example.yaml: {', '.join(order)}")
        for logical_id in order:
            resource = player.create(logical_id)
            if logical_id == "PartnerEndpoint":
                data = resource.data
                for key in ("State", "PrivateDnsName", "PrivateIpAddresses", "DnsName"):
                    step(f"    {key} = {data[key]}")
                endpoint = self.ec2.describe_vpc_endpoints(VpcEndpointIds=[resource.physical_id])["VpcEndpoints"][0]
                if data["State"] != "available" or not endpoint["PrivateDnsEnabled"]:
                    raise DemoFailed("the endpoint is not available with Private DNS on")
                step("    Private DNS is on: inside the VPC, api.partner.com now names the endpoint")
                self.start_partner_stand_in(data["PrivateIpAddresses"].split(","), port, endpoint)
                # The validator runs inside the VPC: its resolver is the VPC's, here the stand-in.
                self.function("privatelink-validator", {
                    "VALIDATOR_RESOLVER": self.partner_dns.address,
                    "VALIDATOR_CA_PEM": self.partner_https.ca_pem,
                })
            if logical_id == "PartnerApiWorks":
                step(f"    the gate passed: {resource.data}")
        step("Outputs:")
        for key, value in player.outputs().items():
            step(f"  {key} = {value}")
        step("CloudFormation: deleting the stack, in reverse order")
        for logical_id in reversed(order):
            player.delete(logical_id)
        left = [e["VpcEndpointId"] for e in self.ec2.describe_vpc_endpoints()["VpcEndpoints"]
                if e["VpcId"] == vpc and e["State"].lower() != "deleted"]
        groups = [g["GroupId"] for g in self.ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"] if g["GroupName"] != "default"]
        running = self.sfn.list_executions(stateMachineArn=self.state_machine, statusFilter="RUNNING")["executions"]
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
