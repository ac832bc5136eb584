"""Acceptance: an endpoint to a service that requires acceptance waits in `pendingAcceptance`;
the provider accepts it (`pending`, then `available` on its own) or rejects it, even once
accepted; DescribeVpcEndpointConnections lists the endpoints connected to the provider's
services (AWS PrivateLink Guide, "Accept and reject endpoint connection requests"; Amazon EC2
API Reference, "AcceptVpcEndpointConnections", "RejectVpcEndpointConnections",
"DescribeVpcEndpointConnections").

moto 5.2.5 makes every endpoint `available` at once and has none of these three actions."""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import UnknownVpcEndpointService
from moto.ec2.models.vpcs import VPCEndPoint

from tests.harness.emulator.control import SETTINGS
from tests.harness.emulator.ec2_connection_notifications import _notify_connection_event
from tests.harness.emulator.utils import _now, _unsuccessful


# Acceptance: endpoint state as a lazily computed property: AWS moves an accepted
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


def _accept_or_reject(
    self: Any, service_id: str, endpoint_ids: list[str], accept: bool
) -> list[dict[str, Any]]:
    """Acceptance: AcceptVpcEndpointConnections / RejectVpcEndpointConnections: act on
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
