"""Route 53 private hosted zones, where moto 5.2.5 does not behave as AWS does (the ground the
endpoint's `DnsNames` of issue 24 stands on):

- Idempotency: a CreateHostedZone whose CallerReference was used before fails with
  HostedZoneAlreadyExists (Amazon Route 53 API Reference, "CreateHostedZone": "Amazon Route 53
  returns this error when a hosted zone has already been created with the specified
  CallerReference"); moto makes another zone;
- One name per VPC: a private zone can't be created for, or associated with, a VPC that another
  private zone of the same name is associated with: ConflictingDomainExists (API Reference,
  "CreateHostedZone" and "AssociateVPCWithHostedZone": "A hosted zone with the specified name
  already exists and is already associated with the Amazon VPC that you specified"; "The VPC
  that you specified is already associated with another hosted zone that has the same name");
  moto associates both;
- Alias records to an interface endpoint: the alias target must be one of the endpoint's DNS
  names, in the hosted zone EC2 reports for it, else InvalidChangeBatch (API Reference,
  "AliasTarget": for a VPC interface endpoint, "the hosted zone ID for your interface endpoint"
  and one of its DNS names, as DescribeVpcEndpoints returns them); moto stores any target. A
  target is taken for an endpoint's name by its `vpce-` label and `vpce-svc-` domain (moto spells
  the rest of an endpoint's names its own way, not as `...<region>.vpce.amazonaws.com`)."""

from __future__ import annotations

from typing import Any

from moto.route53.exceptions import Route53ClientError
from moto.route53.models import Route53Backend

from tests.harness.emulator.utils import _original

_orig_create_hosted_zone = _original(Route53Backend, "create_hosted_zone")
_orig_associate_vpc = _original(Route53Backend, "associate_vpc_with_hosted_zone")
_orig_change_rrsets = _original(Route53Backend, "change_resource_record_sets")


def _dotted(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _private_zone_of_vpc(backend: Any, name: str, vpc_id: str) -> Any | None:
    """The private zone named `name` already associated with `vpc_id`, if any."""
    for zone in backend.zones.values():
        if zone.private_zone and _dotted(zone.name) == _dotted(name):
            if any(v["vpc_id"] == vpc_id for v in zone.vpcs):
                return zone
    return None


def _create_hosted_zone(self: Any, name: str, private_zone: bool, caller_reference: str | None = None,
                        vpcid: str | None = None, vpcregion: str | None = None, **rest: Any) -> Any:
    if caller_reference and any(z.caller_reference == caller_reference for z in self.zones.values()):
        raise Route53ClientError("HostedZoneAlreadyExists",
                               f"A hosted zone has already been created with the specified caller reference "
                               f"{caller_reference}")
    if private_zone and vpcid and _private_zone_of_vpc(self, name, vpcid) is not None:
        raise Route53ClientError("ConflictingDomainExists",
                               f"A hosted zone with the name {_dotted(name)} already exists and is already "
                               f"associated with the Amazon VPC {vpcid}")
    return _orig_create_hosted_zone(self, name, private_zone, caller_reference=caller_reference, vpcid=vpcid,
                                    vpcregion=vpcregion, **rest)


def _associate_vpc_with_hosted_zone(self: Any, zone_id: str, vpcid: str, vpcregion: str) -> Any:
    zone = self.get_hosted_zone(zone_id)
    # The VPC already associated with this zone is refused the same way (it has a zone of the name).
    other = _private_zone_of_vpc(self, zone.name, vpcid)
    if other is not None:
        raise Route53ClientError("ConflictingDomainExists",
                               f"The VPC {vpcid} is already associated with another hosted zone that has the "
                               f"same name, {_dotted(zone.name)}")
    return _orig_associate_vpc(self, zone_id, vpcid, vpcregion)


def _endpoint_dns_entries(account_id: str) -> set[tuple[str, str]]:
    """(DNS name, hosted zone id) of every interface endpoint of the account, in every Region
    the emulator has loaded."""
    from moto.ec2.models import ec2_backends

    entries = set()
    for ec2 in list(ec2_backends[account_id].values()):
        for endpoint in list(ec2.vpc_end_points.values()):
            for entry in getattr(endpoint, "dns_entries", None) or []:
                entries.add((_dotted(entry.get("dns_name", "")), entry.get("hosted_zone_id", "")))
    return entries


def _names_an_endpoint(dns_name: str) -> bool:
    """Whether an alias target is an interface endpoint's DNS name (`vpce-<id>-<suffix>...` in a
    `vpce-svc-...` service's domain), however the emulator spells the rest."""
    return dns_name.startswith("vpce-") and "vpce-svc-" in dns_name


def _change_resource_record_sets(self: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
    for change in change_list:
        record = change.get("ResourceRecordSet") or {}
        alias = record.get("AliasTarget")
        if change.get("Action") == "DELETE" or not alias:
            continue
        target = _dotted(alias.get("DNSName", ""))
        if _names_an_endpoint(target) and (target, alias.get("HostedZoneId", "")) not in _endpoint_dns_entries(
                self.account_id):
            raise Route53ClientError(
                "InvalidChangeBatch",
                f"[Tried to create an alias that targets {target}, type {record.get('Type')} in zone "
                f"{alias.get('HostedZoneId')}, but the alias target name does not lie within the target zone]")
    return _orig_change_rrsets(self, zoneid, change_list)


def install_patches() -> None:
    """Patch moto's Route 53 backend (idempotent)."""
    Route53Backend.create_hosted_zone = _create_hosted_zone  # type: ignore[method-assign]
    Route53Backend.associate_vpc_with_hosted_zone = _associate_vpc_with_hosted_zone  # type: ignore[method-assign]
    Route53Backend.change_resource_record_sets = _change_resource_record_sets  # type: ignore[method-assign]
