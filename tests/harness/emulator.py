"""moto's server, extended to behave like AWS where moto 5.2.5 does not.

The emulator is moto's own WSGI app (``DomainDispatcherApplication`` +
``create_backend_app``) served by werkzeug's threaded server, with:

* patches applied to moto's EC2 backend/response classes at import time
  (``install_patches``), each one adding a documented AWS behaviour that the
  custom resources depend on (acceptance, ClientToken idempotency, ENI
  addressing, ModifyVpcEndpoint, AZ checks, private DNS verification state,
  DependencyViolation, DeleteVpcEndpoints' Unsuccessful items, (l) the endpoint
  options moto ignores: IpAddressType, DnsOptions, SubnetConfigurations, endpoint
  policy support, cross-Region services; (m) rules revoked whatever their
  description; (n) zonal DNS entries; a provider rejecting an accepted connection;
  (o) connection notifications published to their SNS topic when the provider accepts or
  rejects, and SNS delivering to Lambda subscriptions (functions the tests register, run under
  the Runtime API); (p) the acceptance loop's execution history and task tokens
  (tests/harness/stepfunctions.py));
* a WSGI middleware (``EmulatorMiddleware``) that logs every call, injects
  faults and serves a small JSON control API under ``/_emulator/``.

Use ``start_emulator()`` in-process (tests) or the CLI from the repo root::

    python -m tests.harness.emulator --port 4566
    # prints EMULATOR_URL=http://127.0.0.1:4566 and serves until killed

Control API (JSON):
    GET    /_emulator/health     -> {"ok": true}
    GET    /_emulator/calls      -> [{"service": "ec2", "action": "CreateVpcEndpoint"}, ...]
    DELETE /_emulator/calls      -> clears the call log
    GET    /_emulator/journal    -> every call since start (or reset), never cleared by tests:
                                    {"service", "action", "principal" (the access key id),
                                     "presigned", "params", "resource_tags"}: what an IAM
                                    evaluation of the call needs (tests/test_contracts.py)
    GET    /_emulator/faults     -> pending faults
    POST   /_emulator/faults     {"action", "count"=1, "code", "status"=400, "message", "service"?,
                                  "delay_seconds"?, "location"?, "match"?}
    DELETE /_emulator/faults     -> clears pending faults
    GET    /_emulator/settings   -> {"pending_seconds": 1.0, "eni_linger_seconds": 0.0}
    POST   /_emulator/settings   {"pending_seconds"?: float, "eni_linger_seconds"?: float}
    POST   /_emulator/stack-resources {"stack_id", "logical_id", "resource_type", "request_type",
                                  "response_path"?, "physical_id"?, "status"?}: CloudFormation
                                  starts (or, with "status", ends) an operation on a resource (tests/harness/cfn.py says so with each
                                  event it makes); DescribeStackResource answers from these
    GET    /_emulator/stacks     -> {stack id: {"status", "created"}}: what DescribeStacks answers
    POST   /_emulator/stacks     {"stack_id", "status"}: the stack's status (set as each operation
                                  starts, and to UPDATE_COMPLETE_CLEANUP_IN_PROGRESS for the Delete
                                  of a replaced resource)
    POST   /_emulator/reset      -> resets moto's backends, faults, calls and settings

moto's backends are process-global, so the patches and the settings are too:
one emulator per process.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from moto.core.responses import ActionResult
from moto.ec2.exceptions import (
    RulesPerSecurityGroupLimitExceededError,
    DependencyViolationError,
    EC2ClientError,
    InvalidParameter,
    InvalidSecurityGroupNotFoundError,
    InvalidServiceName,
    UnknownVpcEndpointService,
)
from moto.ec2.models.security_groups import SecurityGroupBackend, SecurityGroupRule
from moto.ec2.models.vpc_service_configuration import VPCServiceConfiguration
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
from moto.ec2.responses import EC2Response
from moto.ec2.responses.vpc_service_configuration import (
    VPCEndpointServiceConfiguration as ServiceConfigurationResponse,
)
from moto.ec2.responses.vpcs import VPCs as VPCsResponse
from moto.ec2.utils import add_tag_specification
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

# Tag on an endpoint service configuration whose value overrides the reported
# private DNS name verification state (tests use it to make an unverified service).
PRIVATE_DNS_STATE_TAG = "emulator:private-dns-state"

# Tag on an endpoint service configuration saying it does not support endpoint policies
# ("false"); AWS decides this per service (ServiceDetail.VpcEndpointPolicySupported).
POLICY_SUPPORTED_TAG = "emulator:vpc-endpoint-policy-supported"
# Tag on an endpoint service configuration listing, comma-separated, the zone ids of a consumer
# Region from which it can be reached across Regions; by default every zone of that Region.
REMOTE_ZONES_TAG = "emulator:remote-access-zone-ids"

# Endpoint states in which an endpoint no longer holds ENIs/DNS names in its VPC.
_GONE_STATES = ("deleted", "deleting", "rejected", "failed", "expired")


# --------------------------------------------------------------------------- #
# Settings and control state (process-global, like moto's backends)
# --------------------------------------------------------------------------- #


@dataclass
class Settings:
    # How long an accepted endpoint stays `pending` before it reads `available`.
    pending_seconds: float = 1.0
    # How long a deleted endpoint's ENIs keep its security groups "in use".
    eni_linger_seconds: float = 0.0
    # The account's "inbound or outbound rules per security group" quota: 60 by default in
    # AWS, adjustable on request (the rules in a group may then total up to 1000).
    rules_per_group: float = 60


SETTINGS = Settings()


@dataclass
class _ControlState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[dict[str, str]] = field(default_factory=list)
    journal: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    # (k) The resources of the stacks the tests play, by (stack id, logical id).
    stack_resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (k) Those stacks' statuses, by stack id, and the answer paths of cleanup Deletes (whose
    # answer ends the cleanup).
    stacks: dict[str, dict[str, str]] = field(default_factory=dict)
    cleanups: dict[str, str] = field(default_factory=dict)
    # Crashes armed by the tests (in-process only: `Emulator.crash_after`).
    crashes: list[dict[str, Any]] = field(default_factory=list)

    def record(self, service: str, action: str, entry: dict[str, Any] | None = None) -> None:
        with self.lock:
            self.calls.append({"service": service, "action": action})
            if entry is not None:
                self.journal.append(entry)

    def take_fault(self, service: str, action: str, body: bytes = b"") -> dict[str, Any] | None:
        """Consume one use of the first fault matching this call, if any (a fault with `match`
        applies only to calls whose request body holds that text)."""
        with self.lock:
            for fault in self.faults:
                if fault["action"] != action:
                    continue
                if fault.get("service") and fault["service"] != service:
                    continue
                if fault.get("match") and fault["match"].encode() not in body:
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.remove(fault)
                return dict(fault)
        return None


CONTROL = _ControlState()


def _now() -> float:
    return time.monotonic()


# --------------------------------------------------------------------------- #
# Helpers shared by the patches
# --------------------------------------------------------------------------- #


def _as_bool(value: Any) -> bool | None:
    """moto hands booleans over as bool or as 'true'/'false' depending on the path."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


@dataclass
class _Service:
    name: str
    availability_zones: list[str]
    private_dns_name: str | None
    config: VPCServiceConfiguration | None  # None for AWS-owned services
    # (l) The Region the service is in when it is another than the consumer's, and the zone ids
    # of the consumer's Region it can be reached from.
    region: str | None = None
    remote_zone_ids: list[str] = field(default_factory=list)

    @property
    def ip_address_types(self) -> list[str]:
        return _config_ip_types(self.config) if self.config is not None else ["ipv4"]

    @property
    def policy_supported(self) -> bool:
        return self.config is None or _config_tag(self.config, POLICY_SUPPORTED_TAG, "true") != "false"


def _config_tag(config: VPCServiceConfiguration, key: str, default: str) -> str:
    return config.ec2_backend.tags.get(config.id, {}).get(key, default)


def _config_ip_types(config: VPCServiceConfiguration) -> list[str]:
    return list(config.__dict__.get("supported_ip_address_types") or ["ipv4"])


def _remote_service(backend: Any, service_name: str, service_region: str) -> _Service | None:
    """(l) Cross-Region PrivateLink, as the PrivateLink Guide describes it: a provider's service
    in `service_region` whose SupportedRegions include the consumer's Region. It lists none of
    the consumer Region's zones (terraform-provider-aws #44186): the zones it is reachable from
    are only told by CreateVpcEndpoint's refusal."""
    from moto.ec2.models import ec2_backends

    remote = ec2_backends[backend.account_id][service_region]
    for config in remote.configurations.values():
        if config.service_name != service_name:
            continue
        if backend.region_name not in config._supported_region_names:
            return None
        every_zone = [z.zone_id for z in backend.describe_availability_zones()]
        listed = _config_tag(config, REMOTE_ZONES_TAG, "")
        zone_ids = [z.strip() for z in listed.split(",") if z.strip()] or every_zone
        return _Service(service_name, [], config.private_dns_name, config,
                        region=service_region, remote_zone_ids=zone_ids)
    return None


def _lookup_service(backend: Any, service_name: str, service_region: str | None = None) -> _Service | None:
    """The endpoint service called `service_name`: one of the account's
    endpoint service configurations, else one of moto's AWS services; in
    another Region, a remote service (l)."""
    if service_region and service_region != backend.region_name:
        return _remote_service(backend, service_name, service_region)
    for config in backend.configurations.values():
        if config.service_name == service_name:
            return _Service(
                service_name,
                list(dict.fromkeys(config.availability_zones)),
                config.private_dns_name,
                config,
            )
    for svc in backend._collect_default_endpoint_services(
        backend.account_id, backend.region_name
    ):
        if svc["ServiceName"] == service_name:
            return _Service(
                service_name,
                list(svc.get("AvailabilityZones", [])),
                svc.get("PrivateDnsName"),
                None,
            )
    return None


def _check_subnet_azs(service: _Service, subnets: list[Any]) -> None:
    """AWS: every subnet must be in an AZ the service supports, one subnet per AZ."""
    if service.region:
        # (l) A remote service: zones compared by id, the refusal names the ones allowed.
        if any(s.availability_zone_id not in service.remote_zone_ids for s in subnets):
            raise InvalidParameter(
                "Only the following availability zones are supported for remote access: "
                + ", ".join(service.remote_zone_ids)
            )
    seen: set[str] = set()
    for subnet in subnets:
        az = subnet.availability_zone
        # A remote service lists none of this Region's zones: its zones were checked above.
        if not service.region and az not in service.availability_zones:
            raise InvalidParameter(
                f"The VPC endpoint service {service.name} does not support "
                f"the availability zone of the subnet: {subnet.id}."
            )
        if az in seen:
            raise EC2ClientError(
                "DuplicateSubnetsInSameZone",
                f"Found another VPC endpoint subnet in the availability zone of {subnet.id}. "
                "VPC endpoint subnets should be in different availability zones "
                "supported by the VPC endpoint service.",
            )
        seen.add(az)


def _check_private_dns_conflict(
    backend: Any, vpc_id: str, service: _Service, endpoint_id: str | None
) -> None:
    """AWS: a VPC holds one private hosted zone per private DNS name, so a second
    endpoint with private DNS for the same name in the same VPC is refused."""
    name = service.private_dns_name
    if not name:
        return
    for other in backend.vpc_end_points.values():
        if other.id == endpoint_id or other.vpc_id != vpc_id:
            continue
        if other.state in _GONE_STATES or not other.private_dns_enabled:
            continue
        other_service = _lookup_service(backend, other.service_name)
        if other_service and other_service.private_dns_name == name:
            raise InvalidParameter(
                "private-dns-enabled cannot be set because there is already a "
                f"conflicting DNS domain for {name} in the VPC {vpc_id}"
            )


def _check_security_groups(backend: Any, group_ids: Iterable[str]) -> None:
    for group_id in group_ids:
        if backend.get_security_group_from_id(group_id) is None:
            raise InvalidSecurityGroupNotFoundError(group_id)


class _IpPlaceholder:
    """Holds a subnet IP while the ENI that will own it is being built."""


def _attach_eni(backend: Any, endpoint: VPCEndPoint, subnet: Any,
                config: dict[str, str] | None = None) -> Any:
    """Create the endpoint's requester-managed ENI in `subnet`, as AWS does: the
    next free address of the subnet (or the one `config` fixes, l), an IPv6
    address when the endpoint has IPv6 (l), the endpoint's groups, AWS's description."""
    config = config or {}
    if config.get("Ipv4"):
        ip = config["Ipv4"]
        subnet.request_ip(ip, _IpPlaceholder())
    else:
        ip = subnet.get_available_subnet_ip(_IpPlaceholder())
    ipv6: list[str] = []
    if endpoint.__dict__.get("ip_address_type", "ipv4") != "ipv4":
        ipv6 = [config["Ipv6"]] if config.get("Ipv6") else [_free_ipv6(backend, subnet)]
    eni = backend.create_network_interface(
        subnet,
        ip,
        group_ids=list(endpoint.security_group_ids) or None,  # None: VPC's default SG
        description=f"VPC Endpoint Interface {endpoint.id}",
        ipv6_addresses=ipv6,
    )
    subnet._subnet_ips[ip] = eni  # the subnet's IP book now points at the real owner
    eni.interface_type = "vpc_endpoint"
    eni.requester_managed = True
    eni.status = "in-use"
    endpoint.network_interface_ids.append(eni.id)
    return eni


def _ipv6_blocks(subnet: Any) -> list[Any]:
    import ipaddress

    return [ipaddress.ip_network(a["ipv6CidrBlock"])
            for a in subnet.ipv6_cidr_block_associations.values() if a.get("ipv6CidrBlock")]


def _ipv6_in_use(backend: Any) -> set[str]:
    return {ip for eni in backend.enis.values() for ip in eni.ipv6_addresses}


def _free_ipv6(backend: Any, subnet: Any) -> str:
    used = _ipv6_in_use(backend)
    block = _ipv6_blocks(subnet)[0]
    for offset in range(16, 1 << 16):
        candidate = str(block.network_address + offset)
        if candidate not in used:
            return candidate
    raise EC2ClientError("InsufficientFreeAddressesInSubnet", f"No free IPv6 address in {subnet.id}")


def _reserved(ip: Any, block: Any) -> bool:
    """AWS reserves the first four addresses and the last one of every subnet block (VPC User
    Guide, "Subnet CIDR blocks")."""
    offset = int(ip) - int(block.network_address)
    return offset < 4 or int(ip) == int(block.broadcast_address)


def _check_endpoint_options(backend: Any, service: _Service, subnets: list[Any],
                            ip_address_type: str, dns_options: dict[str, Any],
                            configs: list[dict[str, str]], policy_document: str | None,
                            endpoint: VPCEndPoint | None = None) -> None:
    """(l) What CreateVpcEndpoint and ModifyVpcEndpoint check of IpAddressType, DnsOptions,
    SubnetConfigurations and PolicyDocument (EC2 API Reference), all before anything changes."""
    import ipaddress

    if policy_document and not service.policy_supported:
        raise InvalidParameter(f"The VPC endpoint service {service.name} does not support VPC endpoint policies.")
    if ip_address_type not in ("ipv4", "dualstack", "ipv6"):
        raise InvalidParameter(f"Invalid IpAddressType {ip_address_type}")
    wanted = {"ipv4": {"ipv4"}, "dualstack": {"ipv4", "ipv6"}, "ipv6": {"ipv6"}}[ip_address_type]
    if not wanted <= set(service.ip_address_types):
        raise InvalidParameter(
            f"The VPC endpoint service {service.name} does not support the IP address type {ip_address_type}.")
    if ip_address_type != "ipv4":
        for subnet in subnets:
            if not _ipv6_blocks(subnet):
                raise InvalidParameter(
                    f"Subnet {subnet.id} does not have an IPv6 CIDR block, which IP address type {ip_address_type} needs.")
    record = (dns_options or {}).get("DnsRecordIpType")
    if record:
        fits = {"ipv4": {"ipv4", "service-defined"}, "ipv6": {"ipv6", "service-defined"},
                "dualstack": {"ipv4", "ipv6", "dualstack", "service-defined"}}[ip_address_type]
        if record not in fits:
            raise InvalidParameter(f"DnsRecordIpType {record} is not valid for IP address type {ip_address_type}.")
    by_id = {s.id: s for s in subnets}
    for config in configs:
        subnet = by_id.get(config.get("SubnetId", ""))
        if subnet is None:
            raise InvalidParameter(f"Subnet {config.get('SubnetId')} of SubnetConfigurations is not one of the endpoint's subnets.")
        if config.get("Ipv4"):
            ip = ipaddress.ip_address(config["Ipv4"])
            if ip not in subnet.cidr or _reserved(ip, subnet.cidr):
                raise InvalidParameter(f"The IPv4 address {ip} is not a usable address of subnet {subnet.id}.")
            owner = subnet._subnet_ips.get(str(ip))
            if owner is not None and not (endpoint is not None and getattr(owner, "id", None) in endpoint.network_interface_ids):
                raise EC2ClientError("InvalidIPAddress.InUse", f"Address {ip} is in use.")
        if config.get("Ipv6"):
            ip = ipaddress.ip_address(config["Ipv6"])
            block = next((b for b in _ipv6_blocks(subnet) if ip in b), None)
            if block is None or _reserved(ip, block):
                raise InvalidParameter(f"The IPv6 address {ip} is not a usable address of subnet {subnet.id}.")


def _set_ip_address_type(backend: Any, endpoint: VPCEndPoint, ip_address_type: str) -> None:
    """(l) ModifyVpcEndpoint(IpAddressType) in place: interfaces gain or lose their IPv6 address."""
    endpoint.ip_address_type = ip_address_type
    for eni_id in endpoint.network_interface_ids:
        eni = backend.enis.get(eni_id)
        if eni is None:
            continue
        if ip_address_type == "ipv4":
            eni.ipv6_addresses = []
        elif not eni.ipv6_addresses:
            eni.ipv6_addresses = [_free_ipv6(backend, eni.subnet)]


def _dns_options(raw: dict[str, Any] | None, current: dict[str, Any] | None = None) -> dict[str, Any]:
    options = dict(current or {"DnsRecordIpType": "ipv4"})
    for key, value in (raw or {}).items():
        if key == "PrivateDnsOnlyForInboundResolverEndpoint":
            value = _as_bool(value)
        options[key] = value
    return options


def _sync_zonal_dns(backend: Any, endpoint: VPCEndPoint) -> None:
    """(n) DnsEntries as AWS lists them for an interface endpoint: the regional name first, then
    one per zone it has an interface in, `<id>-<suffix>-<zone>.<service domain>`, all in the
    same hosted zone (PrivateLink Guide, "DNS hostnames")."""
    entries = list(endpoint.dns_entries or [])
    if not entries:
        return
    regional = entries[0]
    label, _, domain = regional["dns_name"].partition(".")
    zones = []
    for eni_id in endpoint.network_interface_ids:
        eni = backend.enis.get(eni_id)
        if eni is not None and eni.subnet.availability_zone not in zones:
            zones.append(eni.subnet.availability_zone)
    endpoint.dns_entries = [regional] + [
        {"dns_name": f"{label}-{zone}.{domain}", "hosted_zone_id": regional["hosted_zone_id"]}
        for zone in zones
    ]


def _detach_eni(backend: Any, endpoint: VPCEndPoint, eni_id: str) -> None:
    eni = backend.enis.pop(eni_id, None)
    if eni is not None:
        for address in eni.private_ip_addresses:
            eni.subnet.del_subnet_ip(address["PrivateIpAddress"])
    if eni_id in endpoint.network_interface_ids:
        endpoint.network_interface_ids.remove(eni_id)


def _sync_eni_groups(backend: Any, endpoint: VPCEndPoint) -> None:
    """AWS applies the endpoint's security groups to all of its ENIs."""
    groups = [backend.get_security_group_from_id(g) for g in endpoint.security_group_ids]
    for eni_id in endpoint.network_interface_ids:
        eni = backend.enis.get(eni_id)
        if eni is not None and groups:
            eni._group_set = [g for g in groups if g is not None]


def _fingerprint(**params: Any) -> str:
    """Order-insensitive digest of a CreateVpcEndpoint request, for ClientToken checks."""
    normal = {
        k: sorted(v, key=lambda item: json.dumps(item, sort_keys=True, default=str))
        if isinstance(v, list) else (sorted(v.items()) if isinstance(v, dict) else v)
        for k, v in params.items()
    }
    return hashlib.sha256(json.dumps(normal, sort_keys=True, default=str).encode()).hexdigest()


def _unsuccessful(resource_id: str, code: str, message: str) -> dict[str, Any]:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


# --------------------------------------------------------------------------- #
# Patches
# --------------------------------------------------------------------------- #


def _original(cls: type, name: str) -> Any:
    """moto's own implementation of `cls.name`, stashed on the class the first
    time, so that importing this module twice (e.g. as __main__ and as
    tests.harness.emulator) never wraps a patch in a patch."""
    key = f"_emu_original_{name}"
    if key not in cls.__dict__:
        setattr(cls, key, cls.__dict__[name])
    return cls.__dict__[key]


_orig_create_vpc_endpoint = _original(VPCBackend, "create_vpc_endpoint")
_orig_delete_vpc_endpoints = _original(VPCBackend, "delete_vpc_endpoints")
_orig_delete_security_group = _original(SecurityGroupBackend, "delete_security_group")
_orig_config_to_dict = _original(VPCServiceConfiguration, "to_dict")
_orig_resp_describe_services = _original(VPCsResponse, "describe_vpc_endpoint_services")
_orig_resp_create_service_configuration = _original(
    ServiceConfigurationResponse, "create_vpc_endpoint_service_configuration")


# (a) Endpoint state as a lazily computed property: AWS moves an accepted
# endpoint pendingAcceptance -> pending -> available on its own; computing the
# transition on read needs no timer thread.
def _get_state(self: VPCEndPoint) -> str:
    state = self.__dict__.get("_emu_state", "available")
    if state == "pending" and _now() >= self.__dict__.get("_emu_available_at", 0.0):
        state = self._emu_state = "available"
    return state


def _set_state(self: VPCEndPoint, value: str) -> None:
    self._emu_state = value
    if value == "pending":
        self._emu_available_at = _now() + SETTINGS.pending_seconds


def _create_vpc_endpoint(
    self: Any,
    vpc_id: str,
    service_name: str,
    endpoint_type: str | None,
    policy_document: str | None,
    route_table_ids: list[str],
    subnet_ids: list[str] | None = None,
    network_interface_ids: list[str] | None = None,
    dns_entries: dict[str, str] | None = None,
    client_token: str | None = None,
    security_group_ids: list[str] | None = None,
    tags: dict[str, str] | None = None,
    private_dns_enabled: bool | None = None,
    ip_address_type: str | None = None,
    dns_options: dict[str, Any] | None = None,
    subnet_configurations: list[dict[str, str]] | None = None,
    service_region: str | None = None,
) -> VPCEndPoint:
    subnet_ids = list(subnet_ids or [])
    subnet_configurations = list(subnet_configurations or [])
    security_group_ids = list(security_group_ids or [])
    route_table_ids = list(route_table_ids or [])
    private_dns_enabled = _as_bool(private_dns_enabled)

    # (b) ClientToken idempotency: AWS returns the endpoint created with the same
    # token and the same parameters, and refuses the token with other parameters.
    fingerprint = _fingerprint(
        vpc_id=vpc_id,
        service_name=service_name,
        endpoint_type=(endpoint_type or "").lower(),
        policy_document=policy_document,
        route_table_ids=route_table_ids,
        subnet_ids=subnet_ids,
        security_group_ids=security_group_ids,
        tags=tags or {},
        private_dns_enabled=private_dns_enabled,
        ip_address_type=ip_address_type,
        dns_options=dns_options,
        subnet_configurations=subnet_configurations,
        service_region=service_region,
    )
    if client_token:
        for existing in self.vpc_end_points.values():
            if existing.client_token != client_token:
                continue
            if existing.__dict__.get("_emu_fingerprint") == fingerprint:
                return existing
            raise EC2ClientError(
                "IdempotentParameterMismatch",
                "The client token you have provided is associated with a resource "
                "created with different parameters. Use a different client token "
                "or repeat the original request.",
            )

    if (endpoint_type or "").lower() != "interface":
        # Gateway endpoints: moto's behaviour (no private DNS on gateways).
        endpoint = _orig_create_vpc_endpoint(
            self, vpc_id, service_name, endpoint_type, policy_document, route_table_ids,
            subnet_ids=subnet_ids, client_token=client_token,
            security_group_ids=security_group_ids, tags=tags,
            private_dns_enabled=bool(private_dns_enabled),
        )
        endpoint._emu_fingerprint = fingerprint
        return endpoint

    # Validate everything before creating anything, as AWS does.
    self.get_vpc(vpc_id)
    service = _lookup_service(self, service_name, service_region)
    if service is None:
        raise InvalidServiceName(service_name)
    subnets = [self.get_subnet(s) for s in subnet_ids]  # InvalidSubnetID.NotFound
    ip_address_type = (ip_address_type or "ipv4").lower()
    _check_endpoint_options(self, service, subnets, ip_address_type, dns_options or {},
                            subnet_configurations, policy_document)
    _check_security_groups(self, security_group_ids)
    if not security_group_ids:
        # AWS associates the VPC's default security group when none is given.
        default_group = self.get_default_security_group(vpc_id)
        security_group_ids = [default_group.id] if default_group else []
    # (e) AZ check.
    _check_subnet_azs(service, subnets)
    # AWS defaults PrivateDnsEnabled to true for interface endpoints; a service
    # without a private DNS name has nothing to enable.
    if private_dns_enabled is None:
        private_dns_enabled = True
    private_dns_enabled = private_dns_enabled and bool(service.private_dns_name)
    # (d) Private DNS conflict applies to creation too.
    if private_dns_enabled:
        _check_private_dns_conflict(self, vpc_id, service, None)

    # moto creates randomly addressed ENIs; pass no subnets and attach our own.
    endpoint = _orig_create_vpc_endpoint(
        self, vpc_id, service_name, endpoint_type, policy_document, route_table_ids,
        subnet_ids=[], client_token=client_token,
        security_group_ids=security_group_ids, tags=tags,
        private_dns_enabled=private_dns_enabled,
    )
    endpoint.subnet_ids = list(subnet_ids)
    endpoint._emu_fingerprint = fingerprint
    # (l) The options, reported as DescribeVpcEndpoints reports them.
    endpoint.ip_address_type = ip_address_type
    endpoint.dns_options = _dns_options(dns_options)
    endpoint.service_region = service.region
    # (c) ENIs addressed from their subnet (or as SubnetConfigurations fix them, l).
    configs = {c["SubnetId"]: c for c in subnet_configurations}
    for subnet in subnets:
        _attach_eni(self, endpoint, subnet, configs.get(subnet.id))
    _sync_zonal_dns(self, endpoint)  # (n)
    # (a) Acceptance: a service that requires acceptance holds new connections.
    if service.config is not None and _as_bool(service.config.acceptance_required):
        endpoint.state = "pendingAcceptance"
    return endpoint


def _modify_vpc_endpoint(
    self: Any,
    endpoint_id: str,
    *,
    policy_doc: str | None = None,
    reset_policy: bool = False,
    private_dns_enabled: bool | None = None,
    add_subnets: list[str] | None = None,
    remove_subnets: list[str] | None = None,
    add_route_tables: list[str] | None = None,
    remove_route_tables: list[str] | None = None,
    add_security_groups: list[str] | None = None,
    remove_security_groups: list[str] | None = None,
    ip_address_type: str | None = None,
    dns_options: dict[str, Any] | None = None,
    subnet_configurations: list[dict[str, str]] | None = None,
) -> None:
    """(d) ModifyVpcEndpoint as AWS applies it: PrivateDnsEnabled, ResetPolicy and
    subnet changes that add/remove ENIs; (l) IpAddressType, DnsOptions and
    SubnetConfigurations (an interface given a new address is replaced); the rest
    is moto's handling."""
    endpoint = self.get_vpc_end_point(endpoint_id)
    subnet_configurations = list(subnet_configurations or [])
    add_subnets = [s for s in add_subnets or [] if s not in endpoint.subnet_ids]
    remove_subnets = list(remove_subnets or [])
    is_interface = (endpoint.vpc_endpoint_type or "").lower() == "interface"

    if is_interface:
        new_subnet_ids = [s for s in endpoint.subnet_ids if s not in remove_subnets]
        new_subnet_ids += [s for s in add_subnets if s not in new_subnet_ids]
        subnets = [self.get_subnet(s) for s in new_subnet_ids]
        _check_security_groups(self, add_security_groups or [])
        service = _lookup_service(self, endpoint.service_name, endpoint.__dict__.get("service_region"))
        if service is not None:
            _check_subnet_azs(service, subnets)  # (e)
            new_type = (ip_address_type or endpoint.__dict__.get("ip_address_type", "ipv4")).lower()
            record_options = _dns_options(dns_options, endpoint.__dict__.get("dns_options"))
            if ip_address_type and not dns_options:
                record_options["DnsRecordIpType"] = {"dualstack": "dualstack"}.get(new_type, new_type)
            _check_endpoint_options(self, service, subnets, new_type, record_options,
                                    subnet_configurations, policy_doc, endpoint)
            if private_dns_enabled and not endpoint.private_dns_enabled:
                _check_private_dns_conflict(self, endpoint.vpc_id, service, endpoint.id)

    endpoint.modify(
        policy_doc,
        None,  # subnets are handled below, with their ENIs
        None,
        add_route_tables,
        remove_route_tables,
        add_security_groups,
        remove_security_groups,
    )
    if reset_policy:
        endpoint.policy_document = json.dumps(VPCEndPoint.DEFAULT_POLICY)
    if private_dns_enabled is not None:
        endpoint.private_dns_enabled = private_dns_enabled

    if is_interface:
        for subnet_id in remove_subnets:
            for eni_id in list(endpoint.network_interface_ids):
                eni = self.enis.get(eni_id)
                if eni is not None and eni.subnet.id == subnet_id:
                    _detach_eni(self, endpoint, eni_id)
        if ip_address_type:
            _set_ip_address_type(self, endpoint, ip_address_type.lower())
            endpoint.dns_options = record_options
        if dns_options:
            endpoint.dns_options = _dns_options(dns_options, endpoint.__dict__.get("dns_options"))
        configs = {c["SubnetId"]: c for c in subnet_configurations}
        for subnet_id in add_subnets:
            if subnet_id in new_subnet_ids:
                _attach_eni(self, endpoint, self.get_subnet(subnet_id), configs.pop(subnet_id, None))
        for subnet_id, config in configs.items():
            # An interface given another address is replaced by one with that address.
            for eni_id in list(endpoint.network_interface_ids):
                eni = self.enis.get(eni_id)
                if eni is not None and eni.subnet.id == subnet_id:
                    _detach_eni(self, endpoint, eni_id)
            _attach_eni(self, endpoint, self.get_subnet(subnet_id), config)
        endpoint.subnet_ids = new_subnet_ids
        _sync_zonal_dns(self, endpoint)  # (n)
        if add_security_groups or remove_security_groups:
            _sync_eni_groups(self, endpoint)


def _delete_vpc_endpoints(self: Any, vpce_ids: list[str] | None = None) -> None:
    for vpce_id in vpce_ids or []:
        endpoint = self.vpc_end_points.get(vpce_id)
        if endpoint is None or endpoint.state == "deleted":
            continue
        # (g) In AWS the endpoint's ENIs linger for minutes after deletion and keep
        # its security groups in use; remember until when.
        endpoint._emu_groups_free_at = _now() + SETTINGS.eni_linger_seconds
        # Give the addresses back to their subnets (moto only drops the ENIs).
        for eni_id in list(endpoint.network_interface_ids):
            eni = self.enis.get(eni_id)
            if eni is not None:
                for address in eni.private_ip_addresses:
                    eni.subnet.del_subnet_ip(address["PrivateIpAddress"])
    _orig_delete_vpc_endpoints(self, vpce_ids)


def _security_group_in_use(backend: Any, group_id: str) -> bool:
    for eni in list(backend.enis.values()):
        if any(g is not None and g.id == group_id for g in eni._group_set):
            return True
    for endpoint in list(backend.vpc_end_points.values()):
        if group_id not in endpoint.security_group_ids:
            continue
        if endpoint.state != "deleted":
            return True
        if _now() < endpoint.__dict__.get("_emu_groups_free_at", 0.0):
            return True
    return False


def _delete_security_group(
    self: Any, name: str | None = None, group_id: str | None = None
) -> None:
    # (g) DependencyViolation: AWS refuses to delete a group that ENIs still use.
    group = (
        self.get_security_group_from_id(group_id)
        if group_id
        else self.get_security_group_by_name_or_id(name) if name else None
    )
    if group is not None and _security_group_in_use(self, group.id):
        raise DependencyViolationError(f"resource {group.id} has a dependent object")
    return _orig_delete_security_group(self, name=name, group_id=group_id)


def _accept_or_reject(
    self: Any, service_id: str, endpoint_ids: list[str], accept: bool
) -> list[dict[str, Any]]:
    """(a) AcceptVpcEndpointConnections / RejectVpcEndpointConnections: act on
    endpoints awaiting acceptance, report the others as Unsuccessful items."""
    config = self.configurations.get(service_id)
    if config is None:
        raise UnknownVpcEndpointService(service_id)
    unsuccessful = []
    for endpoint_id in endpoint_ids:
        endpoint = self.vpc_end_points.get(endpoint_id)
        if endpoint is None or endpoint.service_name != config.service_name:
            unsuccessful.append(_unsuccessful(
                endpoint_id, "InvalidVpcEndpointId.NotFound",
                f"The Vpc Endpoint Id '{endpoint_id}' does not exist",
            ))
        elif endpoint.state == "pendingAcceptance" or (not accept and endpoint.state in ("pending", "available")):
            # A provider may also reject a connection it accepted before, closing it
            # (PrivateLink Guide, "Accept or reject connection requests").
            endpoint.state = "pending" if accept else "rejected"
            _notify_connection_event(self, endpoint, "Accept" if accept else "Reject")
        else:
            unsuccessful.append(_unsuccessful(
                endpoint_id, "InvalidState",
                f"Endpoint {endpoint_id} is in state {endpoint.state}, not pendingAcceptance",
            ))
    return unsuccessful


def _notify_connection_event(backend: Any, endpoint: VPCEndPoint, event: str) -> None:
    """(o) Publishes a connection event to the topic of each of the endpoint's notifications that
    asked for it (PrivateLink Guide, "Receive alerts for interface endpoint events"). AWS does
    not document the message's fields: this one carries the endpoint's and service's ids, the
    event and the state, and the functions must not depend on its field names (they look for
    endpoint ids in it). A topic that does not exist gets nothing, as in AWS."""
    from moto.sns.models import sns_backends

    for notification in list(_notifications(backend).values()):
        if notification["VpcEndpointId"] != endpoint.id or event not in notification["ConnectionEvents"]:
            continue
        topic = notification["ConnectionNotificationArn"]
        parts = topic.split(":")
        message = json.dumps({
            "Event": event, "VpcEndpointId": endpoint.id, "ServiceName": endpoint.service_name,
            "VpcEndpointState": endpoint.state, "Time": _utc_now(),
        })
        try:
            sns_backends[parts[4]][parts[3]].publish(message=message, arn=topic)
        except Exception as error:  # noqa: BLE001 - an undeliverable notification is dropped
            print(f"emulator: connection notification to {topic} not delivered: {error}", file=sys.stderr)


# (o) Lambda functions SNS delivers to: ARN -> a started tests.harness.runtime.LambdaFunction.
_FUNCTIONS: dict[str, Any] = {}


def _sns_deliver(self: Any, message: str, message_id: str, subject: str | None = None,
                 message_attributes: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """(o) A Lambda subscription gets the event Lambda documents for SNS ("Using Lambda with
    Amazon SNS": one record, `EventSource` aws:sns, the message and its topic), invoked
    asynchronously, in its own thread. moto would invoke its own Lambda through Docker."""
    if self.protocol != "lambda":
        return _orig_sns_publish(self, message, message_id, subject=subject,
                                 message_attributes=message_attributes, **kwargs)
    function = _FUNCTIONS.get(self.endpoint)
    if function is None:
        print(f"emulator: no function registered for {self.endpoint}: message dropped", file=sys.stderr)
        return None
    event = {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": self.arn,
        "Sns": {
            "Type": "Notification", "MessageId": message_id, "TopicArn": self.topic.arn,
            "Subject": subject, "Message": message,
            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "SignatureVersion": "1", "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem",
            "UnsubscribeUrl": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.arn}",
            "MessageAttributes": {},
        },
    }]}
    threading.Thread(target=function.invoke, args=(event,), daemon=True).start()
    return None


_orig_sns_publish: Any = None


def _endpoint_connections(self: Any, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
    """DescribeVpcEndpointConnections: the endpoints connected to this account's services."""
    by_name = {c.service_name: c for c in self.configurations.values()}
    connections = []
    for endpoint in list(self.vpc_end_points.values()):
        config = by_name.get(endpoint.service_name)
        if config is None:
            continue
        connection = {
            "ServiceId": config.id,
            "VpcEndpointId": endpoint.id,
            "VpcEndpointOwner": self.account_id,
            "VpcEndpointState": endpoint.state,
            "CreationTimestamp": endpoint.creation_timestamp,
            "DnsEntries": endpoint.dns_entries,
            "NetworkLoadBalancerArns": list(config.network_load_balancer_arns),
            "GatewayLoadBalancerArns": list(config.gateway_load_balancer_arns),
            "IpAddressType": "ipv4",
            "VpcEndpointConnectionId": f"vpce-con-{endpoint.id[len('vpce-'):]}",
        }
        wanted = {
            "service-id": connection["ServiceId"],
            "vpc-endpoint-id": connection["VpcEndpointId"],
            "vpc-endpoint-owner": connection["VpcEndpointOwner"],
            "vpc-endpoint-state": connection["VpcEndpointState"],
        }
        if all(wanted.get(k) in v for k, v in filters.items() if k in wanted):
            connections.append(connection)
    return connections


def _private_dns_state(config: VPCServiceConfiguration) -> str:
    """(f) `verified`, unless the configuration's emulator tag says otherwise."""
    tags = config.ec2_backend.tags.get(config.id, {})
    return tags.get(PRIVATE_DNS_STATE_TAG, "verified")


def _config_to_dict(self: VPCServiceConfiguration) -> dict[str, Any]:
    # (f) ServiceDetail as AWS reports it: the private DNS name's verification state,
    # no empty private DNS entries, and the service's tags (which moto's own
    # tag filters of DescribeVpcEndpointServices expect to find).
    result = _orig_config_to_dict(self)
    if self.private_dns_name:
        result["PrivateDnsNameVerificationState"] = _private_dns_state(self)
    else:
        result.pop("PrivateDnsName", None)
        result.pop("PrivateDnsNames", None)
    result["Tags"] = [
        {"Key": k, "Value": v} for k, v in self.ec2_backend.tags.get(self.id, {}).items()
    ]
    # (l) What the service offers: address types and endpoint policies.
    result["SupportedIpAddressTypes"] = _config_ip_types(self)
    result["VpcEndpointPolicySupported"] = _config_tag(self, POLICY_SUPPORTED_TAG, "true") != "false"
    return result


def _private_dns_name_configuration(self: VPCServiceConfiguration) -> dict[str, str]:
    # (f) PrivateDnsNameConfiguration.State of DescribeVpcEndpointServiceConfigurations;
    # AWS's verification record is a TXT record `_<token>` = `vpce:<token>`.
    if not self.private_dns_name:
        return {}
    token = hashlib.sha256(self.id.encode()).hexdigest()[:20]
    return {
        "State": _private_dns_state(self),
        "Type": "TXT",
        "Value": f"vpce:{token}",
        "Name": f"_{token}",
    }


# ---- response methods (EC2 query API) ------------------------------------ #


def _resp_create_vpc_endpoint(self: Any) -> ActionResult:
    # Like moto's, but an absent PrivateDnsEnabled stays None so the backend can
    # apply AWS's default, and the ClientToken is echoed as AWS does.
    endpoint = self.ec2_backend.create_vpc_endpoint(
        vpc_id=self._get_param("VpcId"),
        service_name=self._get_param("ServiceName"),
        endpoint_type=self._get_param("VpcEndpointType"),
        policy_document=self._get_param("PolicyDocument"),
        route_table_ids=self._get_param("RouteTableIds", []),
        subnet_ids=self._get_param("SubnetIds", []),
        client_token=self._get_param("ClientToken"),
        security_group_ids=self._get_param("SecurityGroupIds", []),
        tags=add_tag_specification(self._get_param("TagSpecifications", [])),
        private_dns_enabled=self._get_bool_param("PrivateDnsEnabled"),
        ip_address_type=self._get_param("IpAddressType"),
        dns_options=self._get_param("DnsOptions"),
        subnet_configurations=self._get_param("SubnetConfigurations", []),
        service_region=self._get_param("ServiceRegion"),
    )
    result: dict[str, Any] = {"VpcEndpoint": endpoint}
    if endpoint.client_token:
        result["ClientToken"] = endpoint.client_token
    return ActionResult(result)


def _resp_modify_vpc_endpoint(self: Any) -> ActionResult:
    self.ec2_backend.emulator_modify_vpc_endpoint(
        self._get_param("VpcEndpointId"),
        policy_doc=self._get_param("PolicyDocument"),
        reset_policy=bool(self._get_bool_param("ResetPolicy", False)),
        private_dns_enabled=self._get_bool_param("PrivateDnsEnabled"),
        add_subnets=self._get_param("AddSubnetIds", []),
        remove_subnets=self._get_param("RemoveSubnetIds", []),
        add_route_tables=self._get_param("AddRouteTableIds", []),
        remove_route_tables=self._get_param("RemoveRouteTableIds", []),
        add_security_groups=self._get_param("AddSecurityGroupIds", []),
        remove_security_groups=self._get_param("RemoveSecurityGroupIds", []),
        ip_address_type=self._get_param("IpAddressType"),
        dns_options=self._get_param("DnsOptions"),
        subnet_configurations=self._get_param("SubnetConfigurations", []),
    )
    return ActionResult({"Return": True})


def _resp_describe_vpc_endpoint_services(self: Any) -> ActionResult:
    """(l) ServiceRegions: the named services of another Region that this Region may reach,
    reported with their ServiceRegion and no zones of this Region; the rest is moto's."""
    regions = [r for r in self._get_param("ServiceRegions", []) if r != self.region]
    if not regions:
        return _orig_resp_describe_services(self)
    details = []
    for name in self._get_param("ServiceNames", []):
        service = next(
            (svc for r in regions if (svc := _remote_service(self.ec2_backend, name, r))), None)
        if service is None:
            raise InvalidServiceName(name)
        detail = _config_to_dict(service.config)
        detail.update({"ServiceRegion": service.region, "AvailabilityZones": []})
        details.append(detail)
    return ActionResult({"ServiceNames": [d["ServiceName"] for d in details], "ServiceDetails": details})


def _resp_create_service_configuration(self: Any) -> ActionResult:
    """(l) SupportedIpAddressTypes (moto ignores it; AWS defaults it to ipv4)."""
    result = _orig_resp_create_service_configuration(self)
    config = result.result["ServiceConfiguration"]
    config.supported_ip_address_types = self._get_param("SupportedIpAddressTypes", []) or ["ipv4"]
    return result


def _resp_delete_vpc_endpoints(self: Any) -> ActionResult:
    # (h) AWS answers 200 and lists unknown ids as Unsuccessful items.
    ids = self._get_param("VpcEndpointIds", [])
    known = self.ec2_backend.vpc_end_points
    unsuccessful = [
        _unsuccessful(i, "InvalidVpcEndpoint.NotFound", f"The Vpc Endpoint Id '{i}' does not exist")
        for i in ids
        if i not in known
    ]
    self.ec2_backend.delete_vpc_endpoints(vpce_ids=[i for i in ids if i in known])
    return ActionResult({"Unsuccessful": unsuccessful})


def _resp_accept_vpc_endpoint_connections(self: Any) -> ActionResult:
    unsuccessful = self.ec2_backend.emulator_accept_or_reject(
        self._get_param("ServiceId"), self._get_param("VpcEndpointIds", []), accept=True
    )
    return ActionResult({"Unsuccessful": unsuccessful})


def _resp_reject_vpc_endpoint_connections(self: Any) -> ActionResult:
    unsuccessful = self.ec2_backend.emulator_accept_or_reject(
        self._get_param("ServiceId"), self._get_param("VpcEndpointIds", []), accept=False
    )
    return ActionResult({"Unsuccessful": unsuccessful})


def _resp_describe_vpc_endpoint_connections(self: Any) -> ActionResult:
    connections = self.ec2_backend.emulator_endpoint_connections(self._filters_from_querystring())
    return ActionResult({"VpcEndpointConnections": connections})


# (j) Connection notifications (absent from moto 5.2.5), as the EC2 API Reference describes
# CreateVpcEndpointConnectionNotification, DescribeVpcEndpointConnectionNotifications and
# DeleteVpcEndpointConnectionNotifications: interface endpoints only; events among Accept,
# Connect, Delete, Reject; idempotent by ClientToken; Delete reports unknown ids as Unsuccessful
# items inside a 200. Notifications are kept per backend (account and Region).
_CONNECTION_EVENTS = {"Accept", "Connect", "Delete", "Reject"}


def _notifications(backend: Any) -> dict[str, dict[str, Any]]:
    if "_emu_connection_notifications" not in backend.__dict__:
        backend._emu_connection_notifications = {}
    return backend._emu_connection_notifications


def _resp_create_connection_notification(self: Any) -> ActionResult:
    backend = self.ec2_backend
    endpoint_id = self._get_param("VpcEndpointId")
    topic = self._get_param("ConnectionNotificationArn") or ""
    events = self._get_param("ConnectionEvents", [])
    token = self._get_param("ClientToken")
    notifications = _notifications(backend)
    if token:
        for existing in notifications.values():
            if existing["_token"] == token:
                return ActionResult({"ConnectionNotification": _public(existing), "ClientToken": token})
    endpoint = backend.vpc_end_points.get(endpoint_id)
    if endpoint is None:
        raise EC2ClientError("InvalidVpcEndpointId.NotFound",
                             f"The Vpc Endpoint Id '{endpoint_id}' does not exist")
    if (endpoint.vpc_endpoint_type or "").lower() != "interface":
        raise InvalidParameter("Connection notifications are supported for interface endpoints only")
    if not events or set(events) - _CONNECTION_EVENTS:
        raise InvalidParameter(f"Invalid connection events {events}: valid are Accept, Connect, Delete, Reject")
    parts = topic.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "sns":
        raise InvalidParameter(f"Invalid SNS topic ARN {topic}")
    notification = {
        "ConnectionNotificationId": f"vpce-nfn-{uuid.uuid4().hex[:17]}",
        "VpcEndpointId": endpoint_id,
        "ConnectionNotificationType": "Topic",
        "ConnectionNotificationArn": topic,
        "ConnectionEvents": list(events),
        "ConnectionNotificationState": "Enabled",
        "_token": token,
    }
    notifications[notification["ConnectionNotificationId"]] = notification
    result: dict[str, Any] = {"ConnectionNotification": _public(notification)}
    if token:
        result["ClientToken"] = token
    return ActionResult(result)


def _public(notification: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in notification.items() if not k.startswith("_")}


def _resp_describe_connection_notifications(self: Any) -> ActionResult:
    filters = self._filters_from_querystring()
    wanted_id = self._get_param("ConnectionNotificationId")
    found = []
    for notification in _notifications(self.ec2_backend).values():
        if wanted_id and notification["ConnectionNotificationId"] != wanted_id:
            continue
        fields = {
            "connection-notification-arn": notification["ConnectionNotificationArn"],
            "connection-notification-id": notification["ConnectionNotificationId"],
            "connection-notification-state": notification["ConnectionNotificationState"],
            "connection-notification-type": notification["ConnectionNotificationType"],
            "vpc-endpoint-id": notification["VpcEndpointId"],
        }
        if all(fields.get(k) in v for k, v in filters.items()):
            found.append(_public(notification))
    return ActionResult({"ConnectionNotificationSet": found})


def _resp_delete_connection_notifications(self: Any) -> ActionResult:
    notifications = _notifications(self.ec2_backend)
    unsuccessful = []
    for notification_id in self._get_param("ConnectionNotificationIds", []):
        if notifications.pop(notification_id, None) is None:
            unsuccessful.append(_unsuccessful(
                notification_id, "InvalidConnectionNotification",
                f"The connection notification '{notification_id}' does not exist",
            ))
    return ActionResult({"Unsuccessful": unsuccessful})


def install_patches() -> None:
    """Patch moto's EC2 classes (idempotent). Each patch adds an AWS behaviour."""
    global _orig_sns_publish
    from moto.sns.models import Subscription

    from tests.harness import stepfunctions

    # (o) SNS delivers to the registered Lambda functions.
    if _orig_sns_publish is None:
        _orig_sns_publish = Subscription.publish
    Subscription.publish = _sns_deliver  # type: ignore[method-assign]
    # (p) the acceptance loop's history and task tokens.
    stepfunctions.install_patches()
    # (a) lazy pending -> available state.
    VPCEndPoint.state = property(_get_state, _set_state)  # type: ignore[assignment]
    # (a)(b)(c)(d)(e) CreateVpcEndpoint.
    VPCBackend.create_vpc_endpoint = _create_vpc_endpoint  # type: ignore[method-assign]
    EC2Response.create_vpc_endpoint = _resp_create_vpc_endpoint  # type: ignore[method-assign]
    # (d)(e) ModifyVpcEndpoint.
    VPCBackend.emulator_modify_vpc_endpoint = _modify_vpc_endpoint  # type: ignore[attr-defined]
    EC2Response.modify_vpc_endpoint = _resp_modify_vpc_endpoint  # type: ignore[method-assign]
    # (g)(h) DeleteVpcEndpoints.
    VPCBackend.delete_vpc_endpoints = _delete_vpc_endpoints  # type: ignore[method-assign]
    EC2Response.delete_vpc_endpoints = _resp_delete_vpc_endpoints  # type: ignore[method-assign]
    # (g) DeleteSecurityGroup.
    SecurityGroupBackend.delete_security_group = _delete_security_group  # type: ignore[method-assign]
    # (a) Accept/Reject/DescribeVpcEndpointConnections (absent from moto).
    VPCBackend.emulator_accept_or_reject = _accept_or_reject  # type: ignore[attr-defined]
    VPCBackend.emulator_endpoint_connections = _endpoint_connections  # type: ignore[attr-defined]
    EC2Response.accept_vpc_endpoint_connections = _resp_accept_vpc_endpoint_connections  # type: ignore[attr-defined]
    EC2Response.reject_vpc_endpoint_connections = _resp_reject_vpc_endpoint_connections  # type: ignore[attr-defined]
    EC2Response.describe_vpc_endpoint_connections = _resp_describe_vpc_endpoint_connections  # type: ignore[attr-defined]
    # (j) connection notifications (absent from moto).
    EC2Response.create_vpc_endpoint_connection_notification = _resp_create_connection_notification  # type: ignore[attr-defined]
    EC2Response.describe_vpc_endpoint_connection_notifications = _resp_describe_connection_notifications  # type: ignore[attr-defined]
    EC2Response.delete_vpc_endpoint_connection_notifications = _resp_delete_connection_notifications  # type: ignore[attr-defined]
    # (l) cross-Region services, address types, endpoint policies.
    EC2Response.describe_vpc_endpoint_services = _resp_describe_vpc_endpoint_services  # type: ignore[method-assign]
    EC2Response.create_vpc_endpoint_service_configuration = _resp_create_service_configuration  # type: ignore[attr-defined]
    # (f) private DNS name verification state.
    VPCServiceConfiguration.to_dict = _config_to_dict  # type: ignore[method-assign]
    VPCServiceConfiguration.private_dns_name_configuration = property(  # type: ignore[assignment]
        _private_dns_name_configuration
    )


def _verify_group_will_respect_rule_count_limit(
    self: Any, group: Any, current_rule_nb: int, ip_ranges: list[str],
    source_groups: list[dict[str, str]] | None = None, egress: bool = False,
) -> None:
    """moto hard-codes 60; AWS's quota is adjustable, so tests can play a raised one."""
    future = current_rule_nb + len(ip_ranges or []) + len(source_groups or [])
    if future > (SETTINGS.rules_per_group if group.vpc_id else 100):
        raise RulesPerSecurityGroupLimitExceededError


def _rule_matches(self: Any, other: Any) -> bool:
    """(m) A rule is matched by protocol, ports and source: its description does not count (EC2
    API Reference, RevokeSecurityGroupIngress: "If the rule has a description, you do not need
    to specify the description to revoke the rule"). moto compares a source group's
    description too, so a group source could never be revoked without it."""
    def source(group: Any) -> Any:
        return {k: v for k, v in group.items() if k != "Description"} if isinstance(group, dict) else group

    if self.ip_protocol != other.ip_protocol:
        return False
    for key in ("CidrIp", "CidrIpv6"):
        if key in self.ip_range and self.ip_range.get(key) != other.ip_range.get(key):
            return False
    if source(self.source_group) != source(other.source_group):
        return False
    if self.prefix_list_id != other.prefix_list_id:
        return False
    if self.ip_protocol != "-1" and (self.from_port, self.to_port) != (other.from_port, other.to_port):
        return False
    return True


install_patches()
SecurityGroupRule.__eq__ = _rule_matches  # type: ignore[method-assign,assignment]
SecurityGroupBackend._verify_group_will_respect_rule_count_limit = (  # type: ignore[method-assign]
    _verify_group_will_respect_rule_count_limit
)


# --------------------------------------------------------------------------- #
# (i) Middleware: call log, fault injection, control API
# --------------------------------------------------------------------------- #

_QUERY_PROTOCOL_ERROR = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
    "</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
)
_EC2_ERROR = (
    "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
    "<RequestID>{request_id}</RequestID></Response>"
)
_S3_ERROR = (
    "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back, since moto reads it again."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _signature_scope(environ: dict[str, Any]) -> tuple[list[str], bool]:
    """The SigV4 credential scope (AKID/date/region/service/aws4_request), and whether it
    came from a pre-signed URL (whose signer, not the caller, is the principal)."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        return auth.split("Credential=", 1)[1].split(",", 1)[0].split("/"), False
    if "X-Amz-Credential" in query:
        return query["X-Amz-Credential"][0].split("/"), True
    return [], False


# Parameters whose values name EC2 resources, whose tags an IAM condition may read.
_EC2_ID_PREFIXES = ("vpce-", "sg-", "vpc-", "subnet-", "vpce-nfn-")


def _journal_entry(environ: dict[str, Any], body: bytes, service: str, action: str,
                   is_json: bool) -> dict[str, Any]:
    """What an IAM evaluation of this call needs: who, what, on which resources and tags."""
    scope, presigned = _signature_scope(environ)
    params: dict[str, Any] = {}
    if is_json:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
    elif service != "s3":
        params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    resource_tags: dict[str, dict[str, str]] = {}
    if service == "ec2" and len(scope) >= 3:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[_ACCOUNT_ID][scope[2]]
        for value in params.values():
            if isinstance(value, str) and value.startswith(_EC2_ID_PREFIXES):
                resource_tags[value] = dict(backend.tags.get(value, {}))
    return {
        "service": service,
        "action": action,
        "principal": scope[0] if scope else None,
        "region": scope[2] if len(scope) >= 3 else None,
        "presigned": presigned,
        "params": params,
        "resource_tags": resource_tags,
    }


_ACCOUNT_ID = "123456789012"  # moto's default account


def _identify(environ: dict[str, Any], body: bytes) -> tuple[str, str, bool]:
    """(service, action, is_json_protocol) of an AWS request."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    # SigV4 credential scope: AKID/date/region/SERVICE/aws4_request (header or presigned URL).
    parts, _ = _signature_scope(environ)
    service = parts[3] if len(parts) >= 5 else "s3"  # moto's default for unsigned calls

    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1], True
    action = query.get("Action", [None])[0]
    if action is None and environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
    if action is None:
        action = f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"
    return service, action, False


def _fault_response(
    fault: dict[str, Any], service: str, is_json: bool
) -> tuple[str, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    code, message = str(fault["code"]), str(fault.get("message") or fault["code"])
    status = int(fault.get("status", 400))
    if is_json:
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        template = {"ec2": _EC2_ERROR, "s3": _S3_ERROR}.get(service, _QUERY_PROTOCOL_ERROR)
        body = template.format(
            code=_xml_escape(code), message=_xml_escape(message), request_id=request_id
        ).encode()
        content_type = "text/xml"
    reason = {307: "Temporary Redirect", 400: "Bad Request", 403: "Forbidden",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id),
        ("x-amz-request-id", request_id),
        ("x-amzn-ErrorType", code),
    ]
    if fault.get("location"):
        headers.append(("Location", str(fault["location"])))
    return f"{status} {reason}", headers, body


# (k) DescribeStackResource and DescribeStacks, answered from the stacks the tests play (moto's
# CloudFormation knows only stacks it deployed itself). As the CloudFormation API Reference and
# the User Guide's "Stack status codes" and "Resource status codes" describe them: the
# resource's ResourceStatus is <OPERATION>_IN_PROGRESS while CloudFormation waits for the custom
# resource's answer, <OPERATION>_COMPLETE or _FAILED once the answer is in; the stack is
# <OPERATION>_IN_PROGRESS during its operation, and UPDATE_COMPLETE_CLEANUP_IN_PROGRESS while
# it deletes a resource an update replaced (the logical id then shows the new one, complete);
# an unknown stack or resource is a ValidationError "... does not exist".
_CFN_NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def _stack_resource_answer(body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    stack, logical = params.get("StackName", ""), params.get("LogicalResourceId", "")
    request_id = str(uuid.uuid4())
    with CONTROL.lock:
        resource = CONTROL.stack_resources.get((stack, logical))
        resource = dict(resource) if resource else None
    if resource is None:
        known_stack = any(s == stack for s, _ in CONTROL.stack_resources)
        message = (f"Resource {logical} does not exist for stack {stack}" if known_stack
                   else f"Stack '{stack}' does not exist")
        payload = _QUERY_PROTOCOL_ERROR.format(code="ValidationError", message=_xml_escape(message),
                                               request_id=request_id).encode()
        return "400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))], payload
    name = stack.split("/")[1] if stack.count("/") >= 2 else stack
    detail = "".join(f"<{k}>{_xml_escape(str(v))}</{k}>" for k, v in [
        ("StackName", name), ("StackId", stack), ("LogicalResourceId", logical),
        ("PhysicalResourceId", resource.get("physical_id") or ""),
        ("ResourceType", resource["resource_type"]),
        ("LastUpdatedTimestamp", resource["updated"]), ("ResourceStatus", resource["status"]),
    ])
    payload = (f'<DescribeStackResourceResponse xmlns="{_CFN_NS}"><DescribeStackResourceResult>'
               f"<StackResourceDetail>{detail}</StackResourceDetail></DescribeStackResourceResult>"
               f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
               "</DescribeStackResourceResponse>").encode()
    return "200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))], payload


def _stacks_answer(body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    stack = params.get("StackName", "")
    request_id = str(uuid.uuid4())
    with CONTROL.lock:
        known = CONTROL.stacks.get(stack)
        known = dict(known) if known else None
    if known is None:
        payload = _QUERY_PROTOCOL_ERROR.format(
            code="ValidationError", message=_xml_escape(f"Stack with id {stack} does not exist"),
            request_id=request_id).encode()
        return "400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))], payload
    name = stack.split("/")[1] if stack.count("/") >= 2 else stack
    member = "".join(f"<{k}>{_xml_escape(str(v))}</{k}>" for k, v in [
        ("StackId", stack), ("StackName", name), ("CreationTime", known["created"]),
        ("StackStatus", known["status"]),
    ])
    payload = (f'<DescribeStacksResponse xmlns="{_CFN_NS}"><DescribeStacksResult>'
               f"<Stacks><member>{member}</member></Stacks></DescribeStacksResult>"
               f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
               "</DescribeStacksResponse>").encode()
    return "200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))], payload


def _set_stack_status(stack: str, status: str) -> None:
    """Call with CONTROL.lock held."""
    CONTROL.stacks.setdefault(stack, {"created": _utc_now()})["status"] = status


def _crash_if_armed(entry: dict[str, Any]) -> None:
    """After a call took effect, and before its answer leaves: the crash armed for the n-th call
    its `counts` accepts, if this is that call (the caller never hears the answer)."""
    fire = []
    with CONTROL.lock:
        for crash in list(CONTROL.crashes):
            if crash["counts"](entry):
                crash["seen"] += 1
                if crash["seen"] == crash["after"]:
                    fire.append(crash)
                    CONTROL.crashes.remove(crash)
    for crash in fire:
        crash["kill"]()


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _note_answer(path: str, body: bytes) -> None:
    """An answer PUT to a resource's ResponseURL ends its operation, as it does CloudFormation's."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return
    with CONTROL.lock:
        stack = CONTROL.cleanups.pop(path, None)
        if stack is not None and CONTROL.stacks.get(stack, {}).get("status") == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":
            _set_stack_status(stack, "UPDATE_COMPLETE")
        for resource in CONTROL.stack_resources.values():
            if resource.get("response_path") == path and resource["status"].endswith("_IN_PROGRESS"):
                operation = resource["status"][: -len("_IN_PROGRESS")]
                ok = answer.get("Status") == "SUCCESS"
                resource["status"] = f"{operation}_{'COMPLETE' if ok else 'FAILED'}"
                resource["physical_id"] = answer.get("PhysicalResourceId") or resource.get("physical_id")
                resource["updated"] = _utc_now()


class EmulatorMiddleware:
    """Wraps moto's WSGI app: logs calls, injects faults, serves /_emulator/."""

    def __init__(self, app: Callable[..., Any], reset_moto: Callable[[], None]):
        self.app = app
        self.reset_moto = reset_moto

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            return self._control(environ, start_response)
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        body = _read_body(environ)
        service, action, is_json = _identify(environ, body)
        entry = _journal_entry(environ, body, service, action, is_json)
        CONTROL.record(service, action, entry)
        fault = CONTROL.take_fault(service, action, body)
        if fault is not None and fault.get("delay_seconds"):
            # A slow or hanging AWS API: what makes an invocation run into its deadline.
            time.sleep(fault["delay_seconds"])
        if fault is not None and fault["code"]:
            status, headers, payload = _fault_response(fault, service, is_json)
            start_response(status, headers)
            return [payload]
        if service == "cloudformation" and action == "DescribeStackResource":
            status, headers, payload = _stack_resource_answer(body)
            start_response(status, headers)
            return [payload]
        if service == "cloudformation" and action == "DescribeStacks":
            status, headers, payload = _stacks_answer(body)
            start_response(status, headers)
            return [payload]
        if environ.get("REQUEST_METHOD") == "PUT" and "X-Amz-Signature" in environ.get("QUERY_STRING", ""):
            result = self.app(environ, start_response)
            _note_answer(environ.get("PATH_INFO", ""), body)
            _crash_if_armed({**entry, "method": "PUT"})
            return result
        result = self.app(environ, start_response)
        _crash_if_armed({**entry, "method": environ.get("REQUEST_METHOD", "")})
        return result

    # ---- control API ------------------------------------------------------ #

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "").rstrip("/")
        try:
            raw = _read_body(environ)
            payload = json.loads(raw) if raw.strip() else {}
            status, result = self._route(method, path, payload)
        except (ValueError, KeyError, TypeError) as exc:
            status, result = 400, {"error": f"{type(exc).__name__}: {exc}"}
        body = json.dumps(result).encode()
        start_response(
            f"{status} {'OK' if status < 400 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _route(self, method: str, path: str, payload: Any) -> tuple[int, Any]:
        if path == "/_emulator/health":
            return 200, {"ok": True}
        if path == "/_emulator/calls":
            with CONTROL.lock:
                if method == "DELETE":
                    CONTROL.calls.clear()
                    return 200, []
                return 200, list(CONTROL.calls)
        if path == "/_emulator/stack-resources":
            with CONTROL.lock:
                if method == "POST":
                    key = (str(payload["stack_id"]), str(payload["logical_id"]))
                    current = CONTROL.stack_resources.get(key)
                    cleanup = (current is not None and not payload.get("status")
                               and str(payload["request_type"]) == "Delete"
                               and current["status"] == "UPDATE_COMPLETE"
                               and payload.get("physical_id") not in (None, current.get("physical_id")))
                    if cleanup:
                        # The Delete of a replaced resource, after the update completed
                        # (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS): the logical id keeps showing the
                        # new resource, complete.
                        _set_stack_status(key[0], "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
                        if payload.get("response_path"):
                            CONTROL.cleanups[str(payload["response_path"])] = key[0]
                        return 200, [{"stack_id": s, "logical_id": l, **r}
                                     for (s, l), r in CONTROL.stack_resources.items()]
                    if not payload.get("status"):
                        _set_stack_status(key[0], f"{str(payload['request_type']).upper()}_IN_PROGRESS")
                    CONTROL.stack_resources[key] = {
                        "resource_type": str(payload["resource_type"]),
                        "status": str(payload.get("status")
                                      or f"{str(payload['request_type']).upper()}_IN_PROGRESS"),
                        "response_path": payload.get("response_path"),
                        "physical_id": payload.get("physical_id"),
                        "updated": _utc_now(),
                    }
                return 200, [{"stack_id": s, "logical_id": l, **r}
                             for (s, l), r in CONTROL.stack_resources.items()]
        if path == "/_emulator/stacks":
            with CONTROL.lock:
                if method == "POST":
                    _set_stack_status(str(payload["stack_id"]), str(payload["status"]))
                return 200, {s: dict(v) for s, v in CONTROL.stacks.items()}
        if path == "/_emulator/journal":
            with CONTROL.lock:
                return 200, list(CONTROL.journal)
        if path == "/_emulator/faults":
            with CONTROL.lock:
                if method == "POST":
                    fault = {
                        "action": str(payload["action"]),
                        "count": int(payload.get("count", 1)),
                        "code": str(payload["code"]),
                        "status": int(payload.get("status", 400)),
                        "message": str(payload.get("message") or payload["code"]),
                        "delay_seconds": float(payload.get("delay_seconds", 0)),
                        "location": str(payload.get("location") or ""),
                        "match": str(payload.get("match") or ""),
                    }
                    if payload.get("service"):
                        fault["service"] = str(payload["service"])
                    CONTROL.faults.append(fault)
                elif method == "DELETE":
                    CONTROL.faults.clear()
                return 200, [dict(f) for f in CONTROL.faults]
        if path == "/_emulator/settings":
            if method == "POST":
                for key in ("pending_seconds", "eni_linger_seconds", "rules_per_group"):
                    if key in payload:
                        setattr(SETTINGS, key, float(payload[key]))
            return 200, {
                "pending_seconds": SETTINGS.pending_seconds,
                "eni_linger_seconds": SETTINGS.eni_linger_seconds,
                "rules_per_group": SETTINGS.rules_per_group,
            }
        if path == "/_emulator/reset" and method == "POST":
            self.reset_moto()
            with CONTROL.lock:
                CONTROL.calls.clear()
                CONTROL.journal.clear()
                CONTROL.faults.clear()
                CONTROL.stack_resources.clear()
                CONTROL.stacks.clear()
                CONTROL.cleanups.clear()
                CONTROL.crashes.clear()
            defaults = Settings()
            SETTINGS.pending_seconds = defaults.pending_seconds
            SETTINGS.eni_linger_seconds = defaults.eni_linger_seconds
            SETTINGS.rules_per_group = defaults.rules_per_group
            return 200, {"ok": True}
        return 404, {"error": f"no route {method} {path}"}


def _reset_moto() -> None:
    # What moto's own POST /moto-api/reset does.
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()


def make_app() -> EmulatorMiddleware:
    """moto's dispatcher app wrapped in the emulator middleware."""
    return EmulatorMiddleware(DomainDispatcherApplication(create_backend_app), _reset_moto)


# --------------------------------------------------------------------------- #
# Emulator handle
# --------------------------------------------------------------------------- #


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without one stderr line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Emulator:
    """A running emulator: `.url`, `.stop()` and helpers for the control API.

    Also usable against an emulator started elsewhere: `Emulator(url)`."""

    def __init__(self, url: str, server: BaseWSGIServer | None = None,
                 thread: threading.Thread | None = None):
        self.url = url.rstrip("/")
        self._server = server
        self._thread = thread

    # ---- lifecycle -------------------------------------------------------- #

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- control API ------------------------------------------------------ #

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.url}/_emulator/{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def calls(self) -> list[dict[str, str]]:
        return self._call("GET", "calls")

    def clear_calls(self) -> None:
        self._call("DELETE", "calls")

    def journal(self) -> list[dict[str, Any]]:
        """Every call since start or reset, with its principal, parameters and resource tags."""
        return self._call("GET", "journal")

    def add_fault(self, action: str, code: str, *, status: int = 400, message: str | None = None,
                  count: int = 1, service: str | None = None,
                  delay_seconds: float = 0, location: str | None = None,
                  match: str | None = None) -> list[dict[str, Any]]:
        """Fail the next `count` calls of `action` with `code`; with `delay_seconds`, answer
        that much later (and with `code=""`, answer normally after the delay); `location`
        adds a Location header (a redirect, with a 3xx `status`); `match` limits the fault to
        calls whose request body holds that text (say, a parameter's name)."""
        fault: dict[str, Any] = {"action": action, "code": code, "status": status, "count": count,
                                 "message": message or code, "delay_seconds": delay_seconds,
                                 "location": location, "match": match}
        if service:
            fault["service"] = service
        return self._call("POST", "faults", fault)

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def settings(self) -> dict[str, float]:
        return self._call("GET", "settings")

    def set_settings(self, *, pending_seconds: float | None = None,
                     eni_linger_seconds: float | None = None,
                     rules_per_group: int | None = None) -> dict[str, float]:
        payload = {k: v for k, v in {"pending_seconds": pending_seconds,
                                     "eni_linger_seconds": eni_linger_seconds,
                                     "rules_per_group": rules_per_group}.items()
                   if v is not None}
        return self._call("POST", "settings", payload)

    def crash_after(self, counts: Callable[[dict[str, Any]], bool], n: int,
                    kill: Callable[[], None]) -> None:
        """Calls `kill` right after the `n`-th call that `counts` accepts has taken effect, before
        its answer is sent (so the caller never hears it): what a function crashing, or Lambda
        killing it, right after an AWS call looks like. `counts` gets the call's journal entry
        and its HTTP `method`. In-process only: the emulator and the tests share this process."""
        with CONTROL.lock:
            CONTROL.crashes.append({"counts": counts, "after": n, "seen": 0, "kill": kill})

    def disarm_crashes(self) -> None:
        with CONTROL.lock:
            CONTROL.crashes.clear()

    def register_function(self, arn: str, function: Any) -> None:
        """(o) SNS delivers messages for the Lambda `arn` to `function` (a LambdaFunction of
        tests/harness/runtime.py). In-process emulators only: moto's backends are this process's."""
        _FUNCTIONS[arn] = function

    def reset(self) -> None:
        """Reset moto's state, faults, call log and settings."""
        self._call("POST", "reset", {})

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "health").get("ok"))
        except (urllib.error.URLError, OSError):
            return False


def _serve(port: int, quiet: bool = True) -> BaseWSGIServer:
    return make_server(
        "127.0.0.1", port, make_app(), threaded=True,
        request_handler=_QuietHandler if quiet else MotoRequestHandler,
    )


def start_emulator(port: int = 0, quiet: bool = True) -> Emulator:
    """Serve the emulator in a daemon thread of this process (port 0: a free port)."""
    server = _serve(port, quiet)
    thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
    thread.start()
    return Emulator(f"http://127.0.0.1:{server.server_port}", server, thread)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moto, extended to behave like AWS.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    server = _serve(args.port, quiet=not args.verbose)
    print(f"EMULATOR_URL=http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    # Run the copy importable as tests.harness.emulator, so that the patches,
    # settings and control state in use are those of one single module.
    from tests.harness.emulator import main as _main

    _main(sys.argv[1:])
