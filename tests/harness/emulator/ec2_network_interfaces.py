"""Endpoint network interfaces as AWS makes them: one requester-managed interface per subnet of
an interface endpoint, at the subnet's next free address (or the one SubnetConfigurations
fixes), with an IPv6 address when the endpoint has IPv6, the endpoint's security groups, and
the description "VPC Endpoint Interface <id>" (Amazon EC2 API Reference, "CreateVpcEndpoint";
Amazon EC2 User Guide, "Requester-managed network interfaces"; Amazon VPC User Guide, "Subnet
CIDR blocks" for the addresses AWS reserves).

moto gives an endpoint's interfaces random addresses and never gives them back to the subnet."""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.vpcs import VPCEndPoint


class _IpPlaceholder:
    """Holds a subnet IP while the ENI that will own it is being built."""


def _attach_eni(backend: Any, endpoint: VPCEndPoint, subnet: Any,
                config: dict[str, str] | None = None) -> Any:
    """Create the endpoint's requester-managed ENI in `subnet`, as AWS does: the next free address
    of the subnet (or the one `config` fixes: endpoint options), an IPv6 address when the endpoint
    has IPv6 (endpoint options), the endpoint's groups, AWS's description."""
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
