"""Shared fixtures: the emulator, CloudFormation, boto3 clients, a partner's
endpoint service, a consumer VPC and the function binaries under the Runtime API.

Every resource fixture creates fresh resources (new VPCs, new names), so tests
share the one emulator without seeing each other's resources."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.harness.cfn import CloudFormation
from tests.harness.emulator import Emulator, start_emulator
from tests.harness.runtime import LambdaFunction

REPO_ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"


def _client(emulator: Emulator, service: str, region: str = REGION, **config: Any) -> Any:
    return emulator.client(service, region, **config)


# Where each pytest process leaves its emulator's journal when the suite runs in parallel
# (make integration): the `after_the_suite` tests then run in a second pass, over all of them.
JOURNAL_DIR = os.environ.get("PRIVATELINK_JOURNAL_DIR")


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    emu = start_emulator(port=0)
    try:
        yield emu
    finally:
        if JOURNAL_DIR:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            path = Path(JOURNAL_DIR) / f"journal-{worker}-{os.getpid()}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(emu.journal()))
        emu.stop()


def suite_journal(emulator: Emulator) -> list[dict[str, Any]]:
    """Every call the suite made: this process's emulator's journal, and those the parallel
    pass left in PRIVATELINK_JOURNAL_DIR."""
    calls = list(emulator.journal())
    if JOURNAL_DIR and Path(JOURNAL_DIR).is_dir():
        for path in sorted(Path(JOURNAL_DIR).glob("journal-*.json")):
            calls.extend(json.loads(path.read_text()))
    return calls


@pytest.fixture(autouse=True)
def _clean_emulator_controls(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults and settings are emulator-wide: give each test the defaults back."""
    yield
    if "emulator" in request.fixturenames:
        emu: Emulator = request.getfixturevalue("emulator")
        emu.clear_faults()
        emu.disarm_crashes()
        emu.set_settings(pending_seconds=1.0, eni_linger_seconds=0.0, rules_per_group=60, ec2_throttling=False)


@pytest.fixture(scope="session")
def cfn(emulator: Emulator) -> CloudFormation:
    return CloudFormation(emulator.url)


@pytest.fixture(scope="session")
def ec2(emulator: Emulator) -> Any:
    return _client(emulator, "ec2")


@pytest.fixture(scope="session")
def ec2_no_retry(emulator: Emulator) -> Any:
    """An EC2 client that makes exactly one attempt (to see injected faults as is)."""
    return _client(emulator, "ec2", retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="session")
def elbv2(emulator: Emulator) -> Any:
    return _client(emulator, "elbv2")


# --------------------------------------------------------------------------- #
# Partner (endpoint service) and consumer VPC
# --------------------------------------------------------------------------- #


@dataclass
class ProviderService:
    service_name: str
    service_id: str
    availability_zones: list[str]
    private_dns_name: str | None
    vpc_id: str
    nlb_arn: str


@dataclass
class ConsumerVpc:
    vpc_id: str
    cidr: str
    subnets: dict[str, str]  # AZ -> subnet id
    subnet_cidrs: dict[str, str]  # subnet id -> CIDR

    def subnet(self, az_suffix: str) -> str:
        """`subnet("a")` -> the subnet in us-east-1a."""
        return self.subnets[f"{REGION}{az_suffix}"]


@pytest.fixture
def provider(emulator: Emulator) -> Callable[..., ProviderService]:
    """Plays the partner: VPC, NLB in <region>a/b, endpoint service configuration.

    `provider(acceptance_required=False, private_dns_name="api.partner.com", tags=None,
    ip_address_types=None, region=REGION, offered_here=True)` creates a fresh service each call;
    `tags` go on the configuration (e.g. {"emulator:private-dns-state": "pendingVerification"});
    `ip_address_types` is its SupportedIpAddressTypes; a `region` other than the consumer's makes
    a service that this Region reaches across Regions (its SupportedRegions include this one,
    unless `offered_here` is false)."""

    def make(acceptance_required: bool = False,
             private_dns_name: str | None = "api.partner.com",
             tags: dict[str, str] | None = None,
             ip_address_types: list[str] | None = None,
             region: str = REGION,
             offered_here: bool = True) -> ProviderService:
        ec2 = _client(emulator, "ec2", region)
        elbv2 = _client(emulator, "elbv2", region)
        vpc_id = ec2.create_vpc(CidrBlock="10.100.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.100.{i}.0/24",
                              AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
            for i, az in enumerate("ab", start=1)
        ]
        nlb_arn = elbv2.create_load_balancer(
            Name=f"partner-{uuid.uuid4().hex[:12]}", Subnets=subnets,
            Type="network", Scheme="internal",
        )["LoadBalancers"][0]["LoadBalancerArn"]
        params: dict[str, Any] = {
            "NetworkLoadBalancerArns": [nlb_arn],
            "AcceptanceRequired": acceptance_required,
        }
        if private_dns_name:
            params["PrivateDnsName"] = private_dns_name
        if ip_address_types:
            params["SupportedIpAddressTypes"] = ip_address_types
        if region != REGION:
            params["SupportedRegions"] = [region, REGION] if offered_here else [region]
        if tags:
            params["TagSpecifications"] = [{
                "ResourceType": "vpc-endpoint-service",
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            }]
        config = ec2.create_vpc_endpoint_service_configuration(**params)["ServiceConfiguration"]
        return ProviderService(
            service_name=config["ServiceName"],
            service_id=config["ServiceId"],
            availability_zones=config["AvailabilityZones"],
            private_dns_name=private_dns_name,
            vpc_id=vpc_id,
            nlb_arn=nlb_arn,
        )

    return make


@pytest.fixture
def consumer_vpc(ec2: Any) -> ConsumerVpc:
    """A fresh 10.0.0.0/16 VPC with DNS support/hostnames and subnets in us-east-1a/b/c."""
    return make_consumer_vpc(ec2)


def make_consumer_vpc(ec2: Any) -> ConsumerVpc:
    """What `consumer_vpc` gives, for a test that needs more than one."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnets, cidrs = {}, {}
    for i, az in enumerate("abc", start=1):
        cidr = f"10.0.{i}.0/24"
        subnet_id = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{REGION}{az}"
        )["Subnet"]["SubnetId"]
        subnets[f"{REGION}{az}"] = subnet_id
        cidrs[subnet_id] = cidr
    return ConsumerVpc(vpc_id=vpc_id, cidr="10.0.0.0/16", subnets=subnets, subnet_cidrs=cidrs)


@pytest.fixture
def dualstack_vpc(ec2: Any, consumer_vpc: ConsumerVpc) -> ConsumerVpc:
    """The consumer VPC with an Amazon-provided IPv6 block and a /64 of it in each subnet."""
    import ipaddress

    ec2.associate_vpc_cidr_block(VpcId=consumer_vpc.vpc_id, AmazonProvidedIpv6CidrBlock=True)
    vpc = ec2.describe_vpcs(VpcIds=[consumer_vpc.vpc_id])["Vpcs"][0]
    block = ipaddress.ip_network(vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
    for i, subnet_id in enumerate(consumer_vpc.subnets.values(), start=1):
        ec2.associate_subnet_cidr_block(SubnetId=subnet_id,
                                        Ipv6CidrBlock=str(list(block.subnets(new_prefix=64))[i]))
    return consumer_vpc


# --------------------------------------------------------------------------- #
# Function binaries under the Runtime API
# --------------------------------------------------------------------------- #


def function_env(emulator: Emulator) -> dict[str, str]:
    """What a function needs to talk to the emulator instead of AWS."""
    return {
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
    }


@pytest.fixture
def lambda_function(emulator: Emulator) -> Iterator[Callable[..., LambdaFunction]]:
    """Factory: `lambda_function("endpoint")` runs target/debug/endpoint under the
    Runtime API, talking to the emulator; `env` adds/overrides variables.
    Fails (never skips) when the binary has not been built."""
    started: list[LambdaFunction] = []

    def start(name: str, env: dict[str, str] | None = None,
              profile: str = "debug") -> LambdaFunction:
        binary = REPO_ROOT / "target" / profile / name
        if not binary.is_file():
            pytest.fail(
                f"function binary {binary} is missing: build it first "
                f"(cargo build --bin {name})", pytrace=False,
            )
        # Each function signs with an access key named after it, so that the emulator's journal
        # tells whose calls are whose (the IAM contract in test_contracts.py reads it).
        principal = {"AWS_ACCESS_KEY_ID": name}
        fn = LambdaFunction(binary, {**function_env(emulator), **principal, **(env or {})}, name=name)
        started.append(fn)
        return fn

    yield start
    for fn in started:
        fn.stop()


# --------------------------------------------------------------------------- #
# Contracts over the whole suite
# --------------------------------------------------------------------------- #


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "after_the_suite: judges what every other test did; runs last")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `after_the_suite` read the emulator's journal of every call the suite made:
    they run after all the others. In a pytest-xdist worker they can't (the other workers are
    still running): they are left to a second pass over the workers' journals (make
    integration runs it)."""
    last = [item for item in items if item.get_closest_marker("after_the_suite")]
    if os.environ.get("PYTEST_XDIST_WORKER"):
        config.hook.pytest_deselected(items=last)
        items[:] = [item for item in items if item not in last]
        return
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture
def played(emulator: Emulator) -> Iterator[tuple[Any, Any]]:
    """CloudFormation's stack API on the emulator, played with the real binaries
    (tests/harness/stacks.py): the local resources and the stack service, for this test."""
    from tests.harness.local_aws import LocalAws  # noqa: PLC0415
    from tests.harness.stacks import StackService  # noqa: PLC0415

    local = LocalAws(emulator)
    service = StackService(emulator, local, base=REPO_ROOT / "templates").install()
    try:
        yield local, service
    finally:
        service.uninstall()
        local.stop()
