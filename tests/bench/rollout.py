"""A rollout: many endpoint stacks created at once in one account and Region, on the emulator
with EC2's documented token buckets (tests/harness/emulator/ec2_throttling.py). Each stack is
the quick start's pair: its security group (Custom::PrivateLinkSecurityGroup), then its endpoint
with Private DNS (Custom::PrivateLinkEndpoint, a service that needs no acceptance), each Create
run by its own function process as Lambda runs concurrent invocations, under the functions
stack's timeout (900 s) and the quick start's ServiceTimeouts (960 s and 3600 s).

What it reports: whether every stack completed, whether any VPC got a second endpoint, the
longest wait of an event against its ServiceTimeout, EC2 calls per stack by action (what each
backs, from one Create made alone without throttling), the calls throttled, and the time to all
complete against the ideal the buckets allow: for each action, (calls - bucket size) / refill
rate, the slowest action's, plus one stack's own time alone.

    python -m tests.bench.rollout [--stacks 200] [--debug]   (release zips from make bench, or
                                                             --debug: target/debug's binaries)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.demo import endpoint_service, vpc_with_subnets
from tests.harness.cfn import CloudFormation, stack_id
from tests.harness.emulator import Emulator
from tests.harness.emulator.ec2_throttling import bucket_of
from tests.harness.runtime import LambdaFunction

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# The functions stack's ResourceFunctionTimeout, and the quick start's ServiceTimeouts.
FUNCTION_TIMEOUT_S = 900
SERVICE_TIMEOUT_S = {"Custom::PrivateLinkSecurityGroup": 960, "Custom::PrivateLinkEndpoint": 3600}

# What each EC2 call of a Create backs (docs/performance.md has the same list).
BACKS = {
    "DescribeVpcs": "the VPC exists, and its CIDRs (the group's rules admit exactly those)",
    "CreateSecurityGroup": "the group, tagged with its stack and logical id in the same call",
    "RevokeSecurityGroupEgress": "no outbound rule: an endpoint's group needs none",
    "AuthorizeSecurityGroupIngress": "the service port from the VPC's CIDRs, nothing wider",
    "DescribeSecurityGroups": "the rules as EC2 holds them (the group's attributes)",
    "DescribeVpcEndpointServices": "the service name is right, its zones and Private DNS name",
    "DescribeSubnets": "one subnet per zone the service offers, in this VPC",
    "DescribeVpcAttribute": "the VPC's DNS support and hostnames (Private DNS needs both)",
    "DescribeVpcEndpoints": "an endpoint of this resource already there (a retry), and its state until available",
    "CreateVpcEndpoint": "the endpoint, idempotent by its ClientToken, tagged in the same call",
    "ModifyVpcEndpoint": "Private DNS on only once the endpoint is available",
    "DescribeNetworkInterfaces": "the endpoint's private IP addresses (the attribute)",
}


@dataclass
class StackRun:
    name: str
    vpc: str
    subnets: list[str]
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    waited_s: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def emulator_process() -> tuple[Emulator, subprocess.Popen[str]]:
    """The emulator in a process of its own: in this one, it would share the interpreter's lock
    with the threads that serve 400 function processes their Runtime API, and answer slower
    than AWS does for reasons of the bench's own."""
    process = subprocess.Popen([sys.executable, "-m", "tests.harness.emulator", "--port", "0"], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("EMULATOR_URL="), line
    return Emulator(line.split("=", 1)[1]), process


class Rollout:
    def __init__(self, binaries: dict[str, Path]) -> None:
        self.emulator, self.process = emulator_process()
        # CloudFormation's answers go to the S3 of another emulator process, as they go to S3,
        # not to EC2's endpoint, in AWS: one Python process serving both fell behind (answers
        # took over the responder's 5 s and were sent again).
        self.answers, self.answers_process = emulator_process()
        self.env = {"AWS_ENDPOINT_URL": self.emulator.url, "AWS_REGION": REGION,
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        self.ec2 = self.emulator.client("ec2", REGION)
        self.cfn = CloudFormation(self.emulator.url, answers_url=self.answers.url)
        self.binaries = binaries

    def stop(self) -> None:
        for process in (self.process, self.answers_process):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def service(self) -> str:
        return endpoint_service(self.ec2, self.emulator.client("elbv2", REGION), "10.250")["ServiceName"]

    def create(self, run: StackRun, service_name: str) -> None:
        """One stack's Creates, as CloudFormation sends them: the group, then the endpoint."""
        stack = stack_id(run.name)
        try:
            group = self.invoke(run, stack, "privatelink-security-group", "Custom::PrivateLinkSecurityGroup", "Group",
                                {"VpcId": run.vpc, "Ports": ["443"]})
            if group is None:
                return
            self.invoke(run, stack, "privatelink-endpoint", "Custom::PrivateLinkEndpoint", "Endpoint",
                        {"ServiceName": service_name, "VpcId": run.vpc, "SubnetIds": run.subnets,
                         "SecurityGroupIds": [group], "PrivateDnsEnabled": "true"})
        except Exception as exc:  # noqa: BLE001 - reported per stack
            run.error = f"{type(exc).__name__}: {exc}"

    def invoke(self, run: StackRun, stack: str, function: str, resource_type: str, logical_id: str,
               properties: dict[str, Any]) -> str | None:
        event, key = self.cfn.create_event(resource_type, logical_id, properties, stack)
        fn = LambdaFunction(self.binaries[function], self.env, name=function)
        started = time.monotonic()
        try:
            invocation = fn.invoke(event, deadline_s=FUNCTION_TIMEOUT_S, timeout_s=FUNCTION_TIMEOUT_S + 60)
        finally:
            fn.stop()
        run.waited_s[resource_type] = time.monotonic() - started
        if invocation.kind != "response":
            run.error = (f"{resource_type}: the invocation ended {invocation.kind}: "
                         f"{str(invocation.body)[:300]} {' | '.join(invocation.logs[-3:])[:600]}")
            return None
        answer = self.cfn.answer(key)
        run.answers[resource_type] = answer
        if answer["Status"] != "SUCCESS":
            run.error = f"{resource_type}: {answer.get('Reason')}"
            return None
        return answer["PhysicalResourceId"]

    def one_alone(self, service_name: str) -> tuple[float, dict[str, int]]:
        """One stack created with nothing else running and no throttling: its time and its calls."""
        vpc, subnets = vpc_with_subnets(self.ec2, "10.251", dns=True)
        self.emulator.clear_calls()
        run = StackRun("rollout-alone", vpc, subnets)
        started = time.monotonic()
        self.create(run, service_name)
        took = time.monotonic() - started
        assert run.error is None, run.error
        calls: dict[str, int] = {}
        for call in self.emulator.calls():
            if call["service"] == "ec2":
                calls[call["action"]] = calls.get(call["action"], 0) + 1
        return took, calls

    def run(self, stacks: int) -> dict[str, Any]:
        service_name = self.service()
        alone_s, alone_calls = self.one_alone(service_name)
        runs = []
        for i in range(stacks):
            vpc, subnets = vpc_with_subnets(self.ec2, f"10.{i % 200}", dns=True)
            runs.append(StackRun(f"rollout-{i}", vpc, subnets))
        self.emulator.set_settings(ec2_throttling=True)
        self.emulator.throttling(reset=True)
        self.emulator.clear_calls()
        threads = [threading.Thread(target=self.create, args=(run, service_name), daemon=True) for run in runs]
        started = time.monotonic()
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            counted = self.emulator.throttling()
        finally:
            self.emulator.set_settings(ec2_throttling=False)
        endpoints: dict[str, int] = {}
        for page in self.ec2.get_paginator("describe_vpc_endpoints").paginate():
            for endpoint in page["VpcEndpoints"]:
                if endpoint["State"].lower() not in ("deleted", "deleting"):
                    endpoints[endpoint["VpcId"]] = endpoints.get(endpoint["VpcId"], 0) + 1
        twice = sorted(run.vpc for run in runs if endpoints.get(run.vpc, 0) > 1)
        failed = [f"{run.name}: {run.error}" for run in runs if run.error]
        # The ideal: each action's calls (as one stack alone makes them, times the stacks) through
        # its bucket, the slowest bucket's time, then one stack's own time.
        buckets: dict[str, dict[str, float]] = {}
        for action, per_stack in alone_calls.items():
            # Without the calls' parameters, the smaller bucket where an action has two.
            name, (capacity, refill) = bucket_of(action, {})
            needed = per_stack * stacks
            entry = buckets.setdefault(name, {"calls": 0, "capacity": capacity, "refill": refill})
            entry["calls"] += needed
        for entry in buckets.values():
            entry["seconds"] = max(0.0, (entry["calls"] - entry["capacity"]) / entry["refill"])
        slowest = max(buckets, key=lambda n: buckets[n]["seconds"])
        ideal = buckets[slowest]["seconds"] + alone_s
        longest = {t: max((run.waited_s.get(t, 0.0) for run in runs), default=0.0) for t in SERVICE_TIMEOUT_S}
        allowed, throttled = counted["allowed"], counted["throttled"]
        return {
            "stacks": stacks,
            "completed": sum(1 for run in runs if run.error is None and len(run.answers) == 2),
            "failed": failed[:10],
            "failed_count": len(failed),
            "endpoint_made_twice": twice,
            "elapsed_s": elapsed,
            "ideal_s": ideal,
            "ratio": elapsed / ideal,
            "slowest_bucket": slowest,
            "buckets": buckets,
            "alone_s": alone_s,
            "alone_calls": alone_calls,
            "calls_per_stack": {a: n / stacks for a, n in sorted(allowed.items())},
            "throttled": dict(sorted(throttled.items())),
            "throttled_total": sum(throttled.values()),
            "allowed_total": sum(allowed.values()),
            "longest_wait_s": longest,
            "within_service_timeouts": all(longest[t] < SERVICE_TIMEOUT_S[t] for t in longest),
            "within_function_timeout": all(w < FUNCTION_TIMEOUT_S for w in longest.values()),
        }


def describe(result: dict[str, Any]) -> list[str]:
    """The report's lines."""
    lines = [
        f"rollout of {result['stacks']} stacks (group, then endpoint with Private DNS) on EC2's token buckets: "
        f"{result['completed']} of {result['stacks']} completed, {result['failed_count']} failed, "
        f"VPCs with a second endpoint: {len(result['endpoint_made_twice'])}",
        f"  all complete in {result['elapsed_s']:.0f} s; ideal {result['ideal_s']:.0f} s "
        f"({result['slowest_bucket']}: {result['buckets'][result['slowest_bucket']]['calls']:.0f} calls through a bucket of "
        f"{result['buckets'][result['slowest_bucket']]['capacity']:.0f} refilled at {result['buckets'][result['slowest_bucket']]['refill']}/s, "
        f"then one stack alone, {result['alone_s']:.1f} s): {result['ratio']:.2f}x ideal",
        "  longest wait of an event: " + ", ".join(
            f"{t.split('::')[1]} {s:.0f} s (ServiceTimeout {SERVICE_TIMEOUT_S[t]} s, function timeout {FUNCTION_TIMEOUT_S} s)"
            for t, s in result["longest_wait_s"].items()),
        f"  EC2 calls answered: {result['allowed_total']} ({result['allowed_total'] / result['stacks']:.1f} per stack); "
        f"throttled: {result['throttled_total']} ({', '.join(f'{a} {n}' for a, n in result['throttled'].items()) or 'none'})",
        "  one stack alone, its EC2 calls and what each backs:",
    ]
    for action, n in sorted(result["alone_calls"].items()):
        lines.append(f"    {n} x {action}: {BACKS.get(action, '?')}")
    for failure in result["failed"]:
        lines.append(f"  FAILED {failure}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stacks", type=int, default=200)
    parser.add_argument("--debug", action="store_true", help="target/debug's binaries (else target/bench's zips, unpacked)")
    args = parser.parse_args()
    names = ["privatelink-security-group", "privatelink-endpoint"]
    if args.debug:
        binaries = {name: REPO / "target" / "debug" / name for name in names}
    else:
        binaries = {name: REPO / "target" / "bench" / "unpacked" / name / "bootstrap" for name in names}
    rollout = Rollout(binaries)
    try:
        result = rollout.run(args.stacks)
    finally:
        rollout.stop()
    print("\n".join(describe(result)))
    return 0 if result["completed"] == result["stacks"] else 1


if __name__ == "__main__":
    sys.exit(main())
