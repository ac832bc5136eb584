"""Endpoint options: what CreateVpcEndpoint and ModifyVpcEndpoint check and apply of
IpAddressType, DnsOptions, SubnetConfigurations and PolicyDocument (Amazon EC2 API Reference,
"CreateVpcEndpoint", "ModifyVpcEndpoint", "DnsOptionsSpecification", "SubnetConfiguration").

moto 5.2.5 ignores these options: it neither refuses the ones a service or a subnet cannot
take nor reports them."""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError, InvalidParameter
from moto.ec2.models.vpcs import VPCEndPoint

from tests.harness.emulator.ec2_endpoint_services import _Service
from tests.harness.emulator.ec2_network_interfaces import _free_ipv6, _ipv6_blocks, _reserved
from tests.harness.emulator.utils import _as_bool


def _check_endpoint_options(backend: Any, service: _Service, subnets: list[Any],
                            ip_address_type: str, dns_options: dict[str, Any],
                            configs: list[dict[str, str]], policy_document: str | None,
                            endpoint: VPCEndPoint | None = None) -> None:
    """Endpoint options: what CreateVpcEndpoint and ModifyVpcEndpoint check of IpAddressType,
    DnsOptions, SubnetConfigurations and PolicyDocument (EC2 API Reference), all before anything
    changes."""
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
    """Endpoint options: ModifyVpcEndpoint(IpAddressType) in place: interfaces gain or lose their
    IPv6 address."""
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
