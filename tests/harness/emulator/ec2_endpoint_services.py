"""Endpoint services as a consumer finds them and a provider configures them, where moto 5.2.5
does not report them as AWS does:

- Private DNS name verification: `ServiceDetail.PrivateDnsNameVerificationState` and
  `PrivateDnsNameConfiguration` of DescribeVpcEndpointServiceConfigurations (AWS PrivateLink
  Guide, "Manage DNS names"; Amazon EC2 API Reference, "ServiceDetail",
  "PrivateDnsNameConfiguration"); moto reports no state in ServiceDetail, and `verified` with a
  placeholder record whatever the service;
- Service capabilities: `SupportedIpAddressTypes` (CreateVpcEndpointServiceConfiguration, which
  moto ignores) and `VpcEndpointPolicySupported` (Amazon EC2 API Reference, "ServiceDetail");
- Cross-Region services: a provider's service in another Region, found with
  DescribeVpcEndpointServices(ServiceRegions) and reachable from some zones only (AWS
  PrivateLink Guide, "Cross-Region access"); moto keeps SupportedRegions but ignores
  ServiceRegion and ServiceRegions.

`_lookup_service` is how the endpoint patches (ec2_endpoints.py) find the service an endpoint
names. The tags below let the tests play what AWS decides per service."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidServiceName
from moto.ec2.models.vpc_service_configuration import VPCServiceConfiguration
from moto.ec2.responses.vpc_service_configuration import (
    VPCEndpointServiceConfiguration as ServiceConfigurationResponse,
)
from moto.ec2.responses.vpcs import VPCs as VPCsResponse

from tests.harness.emulator.utils import _original


# Tag on an endpoint service configuration whose value overrides the reported
# private DNS name verification state (tests use it to make an unverified service).
PRIVATE_DNS_STATE_TAG = "emulator:private-dns-state"

# Tag on an endpoint service configuration saying it does not support endpoint policies
# ("false"); AWS decides this per service (ServiceDetail.VpcEndpointPolicySupported).
POLICY_SUPPORTED_TAG = "emulator:vpc-endpoint-policy-supported"
# Tag on an endpoint service configuration listing, comma-separated, the zone ids of a consumer
# Region from which it can be reached across Regions; by default every zone of that Region.
REMOTE_ZONES_TAG = "emulator:remote-access-zone-ids"


@dataclass
class _Service:
    name: str
    availability_zones: list[str]
    private_dns_name: str | None
    config: VPCServiceConfiguration | None  # None for AWS-owned services
    # Cross-Region services: the Region the service is in when it is another than the consumer's,
    # and the zone ids of the consumer's Region it can be reached from.
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
    """Cross-Region services, as the PrivateLink Guide describes them: a provider's service in
    `service_region` whose SupportedRegions include the consumer's Region. It lists none of the
    consumer Region's zones (terraform-provider-aws #44186): the zones it is reachable from are
    only told by CreateVpcEndpoint's refusal."""
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
    another Region, a remote service (cross-Region services)."""
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


_orig_config_to_dict = _original(VPCServiceConfiguration, "to_dict")
_orig_resp_describe_services = _original(VPCsResponse, "describe_vpc_endpoint_services")
_orig_resp_create_service_configuration = _original(
    ServiceConfigurationResponse, "create_vpc_endpoint_service_configuration")


def _private_dns_state(config: VPCServiceConfiguration) -> str:
    """Private DNS name verification: `verified`, unless the configuration's emulator tag says
    otherwise."""
    tags = config.ec2_backend.tags.get(config.id, {})
    return tags.get(PRIVATE_DNS_STATE_TAG, "verified")


def _config_to_dict(self: VPCServiceConfiguration) -> dict[str, Any]:
    # Private DNS name verification: ServiceDetail as AWS reports it: the private DNS name's
    # verification state, no empty private DNS entries, and the service's tags (which moto's own
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
    # Service capabilities: what the service offers, address types and endpoint policies.
    result["SupportedIpAddressTypes"] = _config_ip_types(self)
    result["VpcEndpointPolicySupported"] = _config_tag(self, POLICY_SUPPORTED_TAG, "true") != "false"
    return result


def _private_dns_name_configuration(self: VPCServiceConfiguration) -> dict[str, str]:
    # Private DNS name verification: PrivateDnsNameConfiguration.State of
    # DescribeVpcEndpointServiceConfigurations; AWS's verification record is a TXT record
    # `_<token>` = `vpce:<token>`.
    if not self.private_dns_name:
        return {}
    token = hashlib.sha256(self.id.encode()).hexdigest()[:20]
    return {
        "State": _private_dns_state(self),
        "Type": "TXT",
        "Value": f"vpce:{token}",
        "Name": f"_{token}",
    }


def _resp_describe_vpc_endpoint_services(self: Any) -> ActionResult:
    """Cross-Region services: ServiceRegions, the named services of another Region that this Region
    may reach, reported with their ServiceRegion and no zones of this Region; the rest is
    moto's."""
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
    """Service capabilities: SupportedIpAddressTypes (moto ignores it; AWS defaults it to ipv4)."""
    result = _orig_resp_create_service_configuration(self)
    config = result.result["ServiceConfiguration"]
    config.supported_ip_address_types = self._get_param("SupportedIpAddressTypes", []) or ["ipv4"]
    return result
