"""VPC endpoints: CreateVpcEndpoint, ModifyVpcEndpoint and DeleteVpcEndpoints as AWS applies
them, where moto 5.2.5 does not:

- ClientToken idempotency: the endpoint created with the same token and parameters comes back,
  other parameters are refused (Amazon EC2 API Reference, "CreateVpcEndpoint"; Amazon EC2
  Developer Guide, "Ensuring idempotency in Amazon EC2 API requests");
- ModifyVpcEndpoint: PrivateDnsEnabled, ResetPolicy and subnet changes that add and remove
  interfaces (Amazon EC2 API Reference, "ModifyVpcEndpoint");
- Private DNS conflict: one endpoint with private DNS for a name in a VPC (Amazon EC2 API
  Reference, "CreateVpcEndpoint", "ModifyVpcEndpoint": PrivateDnsEnabled);
- Subnet zones: one subnet per Availability Zone, each a zone the service supports (Amazon EC2
  API Reference, "CreateVpcEndpoint");
- Zonal DNS entries: the regional name, then one per zone (AWS PrivateLink Guide, "DNS
  hostnames");
- DeleteVpcEndpoints: unknown ids are `Unsuccessful` items of a 200 (Amazon EC2 API Reference,
  "DeleteVpcEndpoints"), and the deleted endpoint's interfaces keep its security groups in use
  for a while (ec2_security_groups.py).

The interfaces are ec2_network_interfaces.py's, the options ec2_endpoint_options.py's, the
services ec2_endpoint_services.py's; an endpoint's state and acceptance are
ec2_endpoint_connections.py's."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from moto.core.responses import ActionResult
from moto.ec2.exceptions import (
    EC2ClientError,
    InvalidParameter,
    InvalidSecurityGroupNotFoundError,
    InvalidServiceName,
)
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
from moto.ec2.utils import add_tag_specification

from tests.harness.emulator.control import SETTINGS
from tests.harness.emulator.ec2_endpoint_options import (
    _check_endpoint_options,
    _dns_options,
    _set_ip_address_type,
)
from tests.harness.emulator.ec2_endpoint_services import _Service, _lookup_service
from tests.harness.emulator.ec2_network_interfaces import _attach_eni, _detach_eni, _sync_eni_groups
from tests.harness.emulator.utils import _as_bool, _now, _original, _unsuccessful


# Endpoint states in which an endpoint no longer holds ENIs/DNS names in its VPC.
_GONE_STATES = ("deleted", "deleting", "rejected", "failed", "expired")


def _check_subnet_azs(service: _Service, subnets: list[Any]) -> None:
    """AWS: every subnet must be in an AZ the service supports, one subnet per AZ."""
    if service.region:
        # Cross-Region services: a remote service's zones are compared by id, the refusal names the
        # ones allowed.
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


def _sync_zonal_dns(backend: Any, endpoint: VPCEndPoint) -> None:
    """Zonal DNS entries: DnsEntries as AWS lists them for an interface endpoint: the regional name
    first, then one per zone it has an interface in, `<id>-<suffix>-<zone>.<service domain>`, all
    in the same hosted zone (PrivateLink Guide, "DNS hostnames")."""
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


def _fingerprint(**params: Any) -> str:
    """Order-insensitive digest of a CreateVpcEndpoint request, for ClientToken checks."""
    normal = {
        k: sorted(v, key=lambda item: json.dumps(item, sort_keys=True, default=str))
        if isinstance(v, list) else (sorted(v.items()) if isinstance(v, dict) else v)
        for k, v in params.items()
    }
    return hashlib.sha256(json.dumps(normal, sort_keys=True, default=str).encode()).hexdigest()


_orig_create_vpc_endpoint = _original(VPCBackend, "create_vpc_endpoint")
_orig_delete_vpc_endpoints = _original(VPCBackend, "delete_vpc_endpoints")


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

    # ClientToken idempotency: AWS returns the endpoint created with the same
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
    # Subnet zones.
    _check_subnet_azs(service, subnets)
    # AWS defaults PrivateDnsEnabled to true for interface endpoints; a service
    # without a private DNS name has nothing to enable.
    if private_dns_enabled is None:
        private_dns_enabled = True
    private_dns_enabled = private_dns_enabled and bool(service.private_dns_name)
    # Private DNS conflict applies to creation too.
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
    # Endpoint options, reported as DescribeVpcEndpoints reports them.
    endpoint.ip_address_type = ip_address_type
    endpoint.dns_options = _dns_options(dns_options)
    endpoint.service_region = service.region
    # Endpoint network interfaces addressed from their subnet (or as SubnetConfigurations fix them).
    configs = {c["SubnetId"]: c for c in subnet_configurations}
    for subnet in subnets:
        _attach_eni(self, endpoint, subnet, configs.get(subnet.id))
    _sync_zonal_dns(self, endpoint)  # zonal DNS entries
    # Acceptance: a service that requires acceptance holds new connections.
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
    """ModifyVpcEndpoint as AWS applies it: PrivateDnsEnabled, ResetPolicy and
    subnet changes that add/remove ENIs; endpoint options: IpAddressType, DnsOptions and
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
            _check_subnet_azs(service, subnets)  # subnet zones
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
        _sync_zonal_dns(self, endpoint)  # zonal DNS entries
        if add_security_groups or remove_security_groups:
            _sync_eni_groups(self, endpoint)


def _delete_vpc_endpoints(self: Any, vpce_ids: list[str] | None = None) -> None:
    for vpce_id in vpce_ids or []:
        endpoint = self.vpc_end_points.get(vpce_id)
        if endpoint is None or endpoint.state == "deleted":
            continue
        # Groups in use (ec2_security_groups.py): in AWS the endpoint's ENIs linger for minutes
        # after deletion and keep its security groups in use; remember until when.
        endpoint._emu_groups_free_at = _now() + SETTINGS.eni_linger_seconds
        # Give the addresses back to their subnets (moto only drops the ENIs).
        for eni_id in list(endpoint.network_interface_ids):
            eni = self.enis.get(eni_id)
            if eni is not None:
                for address in eni.private_ip_addresses:
                    eni.subnet.del_subnet_ip(address["PrivateIpAddress"])
    _orig_delete_vpc_endpoints(self, vpce_ids)


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


def _resp_delete_vpc_endpoints(self: Any) -> ActionResult:
    # DeleteVpcEndpoints: AWS answers 200 and lists unknown ids as Unsuccessful items.
    ids = self._get_param("VpcEndpointIds", [])
    known = self.ec2_backend.vpc_end_points
    unsuccessful = [
        _unsuccessful(i, "InvalidVpcEndpoint.NotFound", f"The Vpc Endpoint Id '{i}' does not exist")
        for i in ids
        if i not in known
    ]
    self.ec2_backend.delete_vpc_endpoints(vpce_ids=[i for i in ids if i in known])
    return ActionResult({"Unsuccessful": unsuccessful})
