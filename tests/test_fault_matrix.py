"""The fault matrix, generated: each operation (Create, Update and Delete of both resources, the
hand-off to the acceptance loop, the loop's Check) runs once cleanly on the emulator, and its
calls that change something are recorded (EC2 and Step Functions writes, and the answer PUT to
CloudFormation). Then, for each of those calls, the operation runs again and the function is
killed right after that call took effect, before it hears the answer (`Emulator.crash_after`);
CloudFormation's next moves are played, and the invariants are asserted:

- Lambda retries the same event (a crashed async invocation is retried; Step Functions retries a
  crashed Check): the operation completes, with exactly one live resource for the logical id (none
  after a Delete) and exactly one answer for the request;
- CloudFormation's timeout, when no answer was stored: the stack gives up on the request (at its
  ServiceTimeout, never later: every request is answered or given up on) and rolls back (a Create:
  a Delete with an id it made up; an Update: an Update back to the old properties; a Delete: the
  stack's deletion retried), each rollback request answered exactly once, leaving no live resource
  after a Create's rollback, one after an Update's, and no running acceptance loop.

A call the code makes tomorrow is in the matrix without editing this file: the matrix is built from
the clean run's calls. `test_the_matrix_covers_every_operation` prints its size (calls x moves)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
import pytest

from tests.conftest import make_consumer_vpc
from tests.harness.cfn import stack_id
from tests.harness.stepfunctions import create_state_machine, load_definition, run_loop

SG = "Custom::PrivateLinkSecurityGroup"
EP = "Custom::PrivateLinkEndpoint"
LOGICAL = "Thing"


def changes_something(principal: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a journal entry is a call of `principal` that changes something, or an answer."""

    def counts(entry: dict[str, Any]) -> bool:
        if entry["presigned"]:
            return True  # the answer PUT to the pre-signed ResponseURL
        if entry["principal"] != principal:
            return False
        reads = entry["action"].startswith(("Describe", "List", "Get"))
        return entry["service"] in ("ec2", "states", "route53") and not reads

    return counts


@dataclass
class World:
    """What one scenario runs in: a fresh stack, and the parts the operations need."""

    cfn: Any
    ec2: Any
    sfn: Any
    emulator: Any
    vpc: Any
    provider: Callable[..., Any]
    start: Callable[..., Any]
    stack: str = field(default_factory=stack_id)
    state_machine: str = ""
    functions: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def function(self, name: str) -> Any:
        if name not in self.functions:
            env = {"ACCEPTANCE_STATE_MACHINE_ARN": self.state_machine} if self.state_machine else {}
            if self.notes.get("topic"):
                env["ACCEPTANCE_TOPIC_ARN"] = self.notes["topic"]
            self.functions[name] = self.start(name, env)
        return self.functions[name]

    def send(self, name: str, event_and_key: tuple[dict[str, Any], str]) -> dict[str, Any] | None:
        """Sends a CloudFormation event; returns its answer (None when handed off)."""
        event, key = event_and_key
        invocation = self.function(name).invoke(event)
        assert invocation.kind == "response", (invocation.kind, invocation.body)
        if isinstance(invocation.body, dict) and invocation.body.get("Status") == "HANDED_OFF":
            return None
        return self.cfn.answer(key)

    def live_groups(self) -> list[str]:
        found = self.ec2.describe_security_groups(Filters=[
            {"Name": "tag:privatelink-lambdas:stack-id", "Values": [self.stack]},
            {"Name": "tag:privatelink-lambdas:logical-id", "Values": [LOGICAL]}])["SecurityGroups"]
        return [g["GroupId"] for g in found]

    def live_endpoints(self) -> list[str]:
        found = self.ec2.describe_vpc_endpoints(Filters=[
            {"Name": "tag:privatelink-lambdas:stack-id", "Values": [self.stack]},
            {"Name": "tag:privatelink-lambdas:logical-id", "Values": [LOGICAL]}])["VpcEndpoints"]
        return [e["VpcEndpointId"] for e in found if e["State"].lower() not in ("deleted", "deleting")]

    def live_endpoints_and_zones(self) -> list[str]:
        """The live endpoints, and the private zones of the names `DnsNames` was given here."""
        route53 = self.emulator.client("route53")
        zones = [z["Id"] for name in self.notes.get("names", [])
                 for z in route53.list_hosted_zones_by_name(DNSName=name)["HostedZones"] if z["Name"] == f"{name}."]
        return self.live_endpoints() + zones

    def running_loops(self) -> list[str]:
        if not self.state_machine:
            return []
        return [e["executionArn"] for e in self.sfn.list_executions(
            stateMachineArn=self.state_machine, statusFilter="RUNNING")["executions"]]


@dataclass
class Operation:
    """One operation of the matrix: how to reach the moment before it, run it, and roll it back."""

    name: str
    function: str  # the binary that runs it
    live: Callable[[World], list[str]]
    prepare: Callable[[World], None]  # the world before the operation
    run: Callable[[World], Any]  # the request (returns the invocation)
    key: Callable[[World], str]  # where the request's answer goes
    finish: Callable[[World], None]  # what completes a request handed off (the loop)
    roll_back: Callable[[World], None]  # CloudFormation's timeout and its next moves
    live_after: int  # live resources for the logical id after success
    live_after_rollback: int
    # Taken over, not made: the hand-made resource still exists after every move.
    survives: Callable[[World], bool] = lambda w: True  # noqa: E731


# ---- the operations ------------------------------------------------------------------------- #


def sg_props(world: World, **extra: Any) -> dict[str, Any]:
    return {"VpcId": world.vpc.vpc_id, **extra}


def ep_props(world: World, **extra: Any) -> dict[str, Any]:
    if "service" not in world.notes:
        world.notes["service"] = world.provider(acceptance_required=world.notes.get("acceptance", False))
    service = world.notes["service"]
    return {"ServiceName": service.service_name, "VpcId": world.vpc.vpc_id,
            "SubnetIds": [world.vpc.subnet("a")], **extra}


def request(world: World, name: str, make: Callable[[], tuple[dict[str, Any], str]]) -> Any:
    """Sends the operation's request: made the first time, the same event every time after
    (Lambda retries the event it was given)."""
    if "event" not in world.notes:
        world.notes["event"], world.notes["key"] = make()
    return world.function(name).invoke(world.notes["event"])


def made(world: World, function: str, type_: str, properties: dict[str, Any]) -> str:
    answer = world.send(function, world.cfn.create_event(type_, LOGICAL, properties, world.stack))
    assert answer and answer["Status"] == "SUCCESS", answer
    return answer["PhysicalResourceId"]


def nothing(world: World) -> None:
    pass


def create_rolled_back(function: str, type_: str, properties: Callable[[World], dict[str, Any]]) -> Callable[[World], None]:
    def roll_back(world: World) -> None:
        world.cfn.stops_waiting(world.notes["event"], "CREATE_FAILED")
        # CloudFormation never learned an id: its rollback's Delete names one of its own.
        answer = world.send(function, world.cfn.delete_event(type_, LOGICAL, f"{LOGICAL}-{uuid.uuid4().hex[:12].upper()}",
                                                            properties(world), world.stack))
        assert answer and answer["Status"] == "SUCCESS", answer
    return roll_back


def update_rolled_back(function: str, type_: str, old: Callable[[World], dict[str, Any]],
                       new: Callable[[World], dict[str, Any]]) -> Callable[[World], None]:
    def roll_back(world: World) -> None:
        world.cfn.stops_waiting(world.notes["event"], "UPDATE_FAILED")
        current = world.notes["id"]
        answer = world.send(function, world.cfn.update_event(type_, LOGICAL, current, old(world), new(world), world.stack))
        assert answer and answer["Status"] == "SUCCESS", answer
        if answer["PhysicalResourceId"] != current:  # the rollback went back to another resource
            cleanup = world.send(function, world.cfn.delete_event(type_, LOGICAL, current, new(world), world.stack))
            assert cleanup and cleanup["Status"] == "SUCCESS", cleanup
    return roll_back


def delete_retried(function: str, type_: str, properties: Callable[[World], dict[str, Any]]) -> Callable[[World], None]:
    def roll_back(world: World) -> None:
        # The stack ends DELETE_FAILED; the user deletes it again: a new Delete request.
        world.cfn.stops_waiting(world.notes["event"], "DELETE_FAILED")
        answer = world.send(function, world.cfn.delete_event(type_, LOGICAL, world.notes["id"], properties(world), world.stack))
        assert answer and answer["Status"] == "SUCCESS", answer
    return roll_back


def sg_operations() -> list[Operation]:
    fn = "privatelink-security-group"
    old = lambda w: sg_props(w)  # noqa: E731
    in_place = lambda w: sg_props(w, Ports=["8443"])  # noqa: E731
    replacing = lambda w: sg_props(w, Description="another one")  # noqa: E731

    def prepared(world: World) -> None:
        world.notes["id"] = made(world, fn, SG, old(world))

    return [
        Operation("security group Create", fn, World.live_groups, nothing,
                  lambda w: request(w, fn, lambda: w.cfn.create_event(SG, LOGICAL, old(w), w.stack)),
                  lambda w: w.notes["key"], nothing, create_rolled_back(fn, SG, old), 1, 0),
        Operation("security group Update in place", fn, World.live_groups, prepared,
                  lambda w: request(w, fn, lambda: w.cfn.update_event(SG, LOGICAL, w.notes["id"], in_place(w), old(w), w.stack)),
                  lambda w: w.notes["key"], nothing, update_rolled_back(fn, SG, old, in_place), 1, 1),
        Operation("security group Update by replacement", fn, World.live_groups, prepared,
                  lambda w: request(w, fn, lambda: w.cfn.update_event(SG, LOGICAL, w.notes["id"], replacing(w), old(w), w.stack)),
                  lambda w: w.notes["key"], replaced_cleanup(fn, SG, old), update_rolled_back(fn, SG, old, replacing), 1, 1),
        Operation("security group Delete", fn, World.live_groups, prepared,
                  lambda w: request(w, fn, lambda: w.cfn.delete_event(SG, LOGICAL, w.notes["id"], old(w), w.stack)),
                  lambda w: w.notes["key"], nothing, delete_retried(fn, SG, old), 0, 0),
    ]


def replaced_cleanup(function: str, type_: str, old: Callable[[World], dict[str, Any]]) -> Callable[[World], None]:
    """After an Update that answered a new id, CloudFormation deletes the old resource."""
    def finish(world: World) -> None:
        answer = world.cfn.answer(world.notes["key"])
        if answer["PhysicalResourceId"] != world.notes["id"]:
            cleanup = world.send(function, world.cfn.delete_event(type_, LOGICAL, world.notes["id"], old(world), world.stack))
            assert cleanup and cleanup["Status"] == "SUCCESS", cleanup
    return finish


def ep_operations() -> list[Operation]:
    fn = "privatelink-endpoint"
    old = lambda w: ep_props(w)  # noqa: E731
    new = lambda w: ep_props(w, SubnetIds=[w.vpc.subnet("a"), w.vpc.subnet("b")])  # noqa: E731

    def prepared(world: World) -> None:
        world.notes["id"] = made(world, fn, EP, old(world))

    return [
        Operation("endpoint Create", fn, World.live_endpoints, nothing,
                  lambda w: request(w, fn, lambda: w.cfn.create_event(EP, LOGICAL, old(w), w.stack)),
                  lambda w: w.notes["key"], nothing, create_rolled_back(fn, EP, old), 1, 0),
        Operation("endpoint Update in place", fn, World.live_endpoints, prepared,
                  lambda w: request(w, fn, lambda: w.cfn.update_event(EP, LOGICAL, w.notes["id"], new(w), old(w), w.stack)),
                  lambda w: w.notes["key"], nothing, update_rolled_back(fn, EP, old, new), 1, 1),
        Operation("endpoint Delete", fn, World.live_endpoints, prepared,
                  lambda w: request(w, fn, lambda: w.cfn.delete_event(EP, LOGICAL, w.notes["id"], old(w), w.stack)),
                  lambda w: w.notes["key"], nothing, delete_retried(fn, EP, old), 0, 0),
    ]


def dns_names_operations() -> list[Operation]:
    """An endpoint with DnsNames: its private zones are made, changed and deleted by Route 53
    calls, each in the matrix (live: the endpoint and its zones)."""
    fn = "privatelink-endpoint"

    def names(world: World, count: int) -> list[str]:
        world.notes.setdefault("names", [f"n{i}-{uuid.uuid4().hex[:8]}.internal.example" for i in range(2)])
        return world.notes["names"][:count]

    old = lambda w: ep_props(w, DnsNames=names(w, 1))  # noqa: E731
    new = lambda w: ep_props(w, DnsNames=names(w, 2))  # noqa: E731

    def replacing(world: World) -> dict[str, Any]:
        # Another service (a replacement) and one more name: the rollback must remove its zone.
        world.notes.setdefault("other service", world.provider(private_dns_name=None))
        return ep_props(world, ServiceName=world.notes["other service"].service_name, DnsNames=names(world, 2))

    def prepared(world: World) -> None:
        world.notes["service"] = world.provider(private_dns_name=None)
        world.notes["id"] = made(world, fn, EP, old(world))

    def fresh(world: World) -> None:
        world.notes["service"] = world.provider(private_dns_name=None)

    live = World.live_endpoints_and_zones
    return [
        Operation("endpoint Create with DnsNames", fn, live, fresh,
                  lambda w: request(w, fn, lambda: w.cfn.create_event(EP, LOGICAL, old(w), w.stack)),
                  lambda w: w.notes["key"], nothing, create_rolled_back(fn, EP, old), 2, 0),
        Operation("endpoint Update adding a DnsNames name", fn, live, prepared,
                  lambda w: request(w, fn, lambda: w.cfn.update_event(EP, LOGICAL, w.notes["id"], new(w), old(w), w.stack)),
                  lambda w: w.notes["key"], nothing, update_rolled_back(fn, EP, old, new), 3, 2),
        Operation("endpoint Update by replacement adding a DnsNames name", fn, live, prepared,
                  lambda w: request(w, fn, lambda: w.cfn.update_event(EP, LOGICAL, w.notes["id"], replacing(w), old(w), w.stack)),
                  lambda w: w.notes["key"], replaced_cleanup(fn, EP, old), update_rolled_back(fn, EP, old, replacing), 3, 2),
        Operation("endpoint Delete with DnsNames", fn, live, prepared,
                  lambda w: request(w, fn, lambda: w.cfn.delete_event(EP, LOGICAL, w.notes["id"], old(w), w.stack)),
                  lambda w: w.notes["key"], nothing, delete_retried(fn, EP, old), 0, 0),
    ]


def takeover_operations() -> list[Operation]:
    sg_fn, ep_fn = "privatelink-security-group", "privatelink-endpoint"

    def hand_made_group(world: World) -> None:
        group = world.ec2.create_security_group(GroupName=f"runbook-{uuid.uuid4().hex[:8]}", Description="by hand",
                                                VpcId=world.vpc.vpc_id)["GroupId"]
        world.ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        world.notes["hand_made"] = group

    def hand_made_endpoint(world: World) -> None:
        properties = ep_props(world)
        world.notes["hand_made"] = world.ec2.create_vpc_endpoint(
            VpcEndpointType="Interface", VpcId=world.vpc.vpc_id, ServiceName=properties["ServiceName"],
            SubnetIds=properties["SubnetIds"], PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]

    def hand_made_endpoint_without_private_dns(world: World) -> None:
        world.notes["service"] = world.provider(private_dns_name=None)
        world.notes["names"] = [f"taken-{uuid.uuid4().hex[:8]}.internal.example"]
        hand_made_endpoint(world)

    group_props = lambda w: sg_props(w, ExistingGroupId=w.notes["hand_made"])  # noqa: E731
    endpoint_props = lambda w: ep_props(w, SubnetIds=[w.vpc.subnet("a"), w.vpc.subnet("b")],  # noqa: E731
                                        ExistingVpcEndpointId=w.notes["hand_made"])

    def group_survives(world: World) -> bool:
        return bool(world.ec2.describe_security_groups(
            Filters=[{"Name": "group-id", "Values": [world.notes["hand_made"]]}])["SecurityGroups"])

    def endpoint_survives(world: World) -> bool:
        found = world.ec2.describe_vpc_endpoints(VpcEndpointIds=[world.notes["hand_made"]])["VpcEndpoints"]
        return found[0]["State"].lower() == "available"

    return [
        Operation("security group Create taking over a hand-made group", sg_fn, World.live_groups, hand_made_group,
                  lambda w: request(w, sg_fn, lambda: w.cfn.create_event(SG, LOGICAL, group_props(w), w.stack)),
                  lambda w: w.notes["key"], nothing, create_rolled_back(sg_fn, SG, group_props), 1, 0,
                  group_survives),
        Operation("endpoint Create taking over a hand-made endpoint", ep_fn, World.live_endpoints, hand_made_endpoint,
                  lambda w: request(w, ep_fn, lambda: w.cfn.create_event(EP, LOGICAL, endpoint_props(w), w.stack)),
                  lambda w: w.notes["key"], nothing, create_rolled_back(ep_fn, EP, endpoint_props), 1, 0,
                  endpoint_survives),
        # Its zones are the takeover's own: a rollback removes them with the tags.
        Operation("endpoint Create taking over a hand-made endpoint, with DnsNames", ep_fn,
                  World.live_endpoints_and_zones, hand_made_endpoint_without_private_dns,
                  lambda w: request(w, ep_fn, lambda: w.cfn.create_event(
                      EP, LOGICAL, {**endpoint_props(w), "DnsNames": w.notes["names"]}, w.stack)),
                  lambda w: w.notes["key"], nothing,
                  create_rolled_back(ep_fn, EP, lambda w: {**endpoint_props(w), "DnsNames": w.notes["names"]}), 2, 0,
                  endpoint_survives),
    ]


def loop_operations() -> list[Operation]:
    fn, waiter = "privatelink-endpoint", "privatelink-acceptance-waiter"
    definition = load_definition()

    def waiting(world: World) -> None:
        world.notes["acceptance"] = True

    def the_loop(world: World) -> tuple[str, dict[str, Any]]:
        executions = world.sfn.list_executions(stateMachineArn=world.state_machine)["executions"]
        # One loop per request, whatever was retried.
        assert len(executions) == 1, [(e["name"], e["status"]) for e in executions]
        arn = executions[0]["executionArn"]
        return arn, json.loads(world.sfn.describe_execution(executionArn=arn)["input"])

    def accepted_and_run(world: World) -> None:
        """The provider accepts; the loop runs to its end (its Checks answer CloudFormation)."""
        arn, state = the_loop(world)
        service = world.notes["service"]
        world.ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id,
                                                  VpcEndpointIds=[state["VpcEndpointId"]])
        final, _ = run_loop(definition, world.function(waiter), state, max_wait_s=0.2, execution_arn=arn)
        assert final["Done"] is True

    def handed_off(world: World) -> None:
        waiting(world)
        event, key = world.cfn.create_event(EP, LOGICAL, ep_props(world), world.stack)
        world.notes["create_key"] = key
        assert world.send(fn, (event, key)) is None  # handed off
        arn, state = the_loop(world)
        world.notes["execution"], world.notes["state"] = arn, state
        world.ec2.accept_vpc_endpoint_connections(ServiceId=world.notes["service"].service_id,
                                                  VpcEndpointIds=[state["VpcEndpointId"]])
        world.notes["event"] = event

    def check(world: World) -> Any:
        return world.function(waiter).invoke(world.notes["state"])

    def check_retried(world: World) -> None:
        """Step Functions' Retry of the crashed Check, then the rest of the loop."""
        final, _ = run_loop(definition, world.function(waiter), world.notes["state"], max_wait_s=0.2,
                            execution_arn=world.notes["execution"])
        assert final["Done"] is True

    def check_timed_out(world: World) -> None:
        world.cfn.stops_waiting(world.notes["event"], "CREATE_FAILED")
        check_retried(world)  # the loop ends without answering: CloudFormation no longer waits
        answer = world.send(fn, world.cfn.delete_event(EP, LOGICAL, f"{LOGICAL}-ROLLBACK", ep_props(world), world.stack))
        assert answer and answer["Status"] == "SUCCESS", answer

    def waiting_with_topic(world: World) -> None:
        waiting(world)
        sns = boto3.client("sns", endpoint_url=world.emulator.url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        world.notes["topic"] = sns.create_topic(Name=f"acceptance-{uuid.uuid4().hex[:8]}")["TopicArn"]

    return [
        Operation("endpoint Create handed to the acceptance loop, with its topic", fn, World.live_endpoints,
                  waiting_with_topic,
                  lambda w: request(w, fn, lambda: w.cfn.create_event(EP, LOGICAL, ep_props(w), w.stack)),
                  lambda w: w.notes["key"], accepted_and_run,
                  lambda w: (create_rolled_back(fn, EP, ep_props)(w)), 1, 0),
        Operation("endpoint Create handed to the acceptance loop", fn, World.live_endpoints, waiting,
                  lambda w: request(w, fn, lambda: w.cfn.create_event(EP, LOGICAL, ep_props(w), w.stack)),
                  lambda w: w.notes["key"], accepted_and_run,
                  lambda w: (create_rolled_back(fn, EP, ep_props)(w)), 1, 0),
        Operation("the acceptance loop's Check", waiter, World.live_endpoints, handed_off, check,
                  lambda w: w.notes["create_key"], check_retried, check_timed_out, 1, 0),
    ]


OPERATIONS = sg_operations() + ep_operations() + dns_names_operations() + takeover_operations() + loop_operations()


@pytest.fixture
def world(cfn, ec2, emulator, provider, lambda_function) -> Callable[[Operation], World]:
    sfn = boto3.client("stepfunctions", endpoint_url=emulator.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    emulator.set_settings(pending_seconds=0)

    def make(operation: Operation) -> World:
        w = World(cfn, ec2, sfn, emulator, make_consumer_vpc(ec2), provider, lambda_function)
        if "acceptance loop" in operation.name:
            w.state_machine = create_state_machine(sfn, f"matrix-{uuid.uuid4().hex[:8]}")
        return w

    return make


def calls_that_change_something(world_of: Callable[[Operation], World], operation: Operation) -> list[str]:
    """The clean run: the operation's calls that change something, in order."""
    world = world_of(operation)
    operation.prepare(world)
    since = len(world.emulator.journal())
    invocation = operation.run(world)
    assert invocation.kind == "response", invocation.body
    counts = changes_something(world.function(operation.function).name)
    calls = [("answer" if e["presigned"] else f"{e['service']}:{e['action']}")
             for e in world.emulator.journal()[since:] if counts(e)]
    operation.finish(world)
    assert len(operation.live(world)) == operation.live_after
    assert len(world.cfn.answers(operation.key(world))) == 1
    assert world.running_loops() == []
    return calls


def crashed_after(world_of: Callable[[Operation], World], operation: Operation, n: int) -> World:
    """The operation, with its function killed right after its n-th call that changes something."""
    world = world_of(operation)
    operation.prepare(world)
    fn = world.function(operation.function)
    world.emulator.crash_after(changes_something(fn.name), n, fn.crash)
    invocation = operation.run(world)
    assert invocation.kind == "crashed", (operation.name, n, invocation.kind, invocation.body)
    return world


@pytest.mark.parametrize("operation", OPERATIONS, ids=[o.name for o in OPERATIONS])
def test_a_crash_after_any_call_that_changes_something_leaves_what_cloudformation_expects(world, operation):
    calls = calls_that_change_something(world, operation)
    assert calls, f"{operation.name} changed nothing"
    held = []
    for n, call in enumerate(calls, start=1):
        # Move 1: the same request again (Lambda's retry of the event, Step Functions' Retry).
        w = crashed_after(world, operation, n)
        retry = operation.run(w)
        assert retry.kind == "response", (operation.name, call, retry.body)
        operation.finish(w)
        answers = w.cfn.answers(operation.key(w))
        assert len(answers) == 1 and answers[0]["Status"] == "SUCCESS", (operation.name, call, answers)
        assert len(operation.live(w)) == operation.live_after, (operation.name, call, operation.live(w))
        assert w.running_loops() == [], (operation.name, call)
        assert operation.survives(w), (operation.name, call)
        held.append((call, "retried"))
        # Move 2: CloudFormation's timeout and rollback, when it got no answer.
        w = crashed_after(world, operation, n)
        if w.cfn.answers(operation.key(w)):
            assert calls.index("answer") < n and len(w.cfn.answers(operation.key(w))) == 1, (operation.name, call)
            continue  # the answer was stored before the crash: CloudFormation moves on
        operation.roll_back(w)
        assert w.cfn.answers(operation.key(w)) == [], (operation.name, call)  # nobody answers late
        assert len(operation.live(w)) == operation.live_after_rollback, (operation.name, call, operation.live(w))
        assert w.running_loops() == [], (operation.name, call)
        assert operation.survives(w), (operation.name, call)  # a takeover's rollback deletes nothing
        held.append((call, "rolled back"))
    print(f"{operation.name}: {len(calls)} calls ({', '.join(calls)}), {len(held)} moves held")
