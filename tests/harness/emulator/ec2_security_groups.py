"""Security groups, where moto 5.2.5 does not behave as AWS does:

- Groups in use: DeleteSecurityGroup fails with DependencyViolation while a network interface
  uses the group, and for a while after its endpoint is deleted (Amazon EC2 API Reference,
  "DeleteSecurityGroup"); moto deletes it;
- Rule matching: a rule is revoked by protocol, ports and source, whatever its description
  (Amazon EC2 API Reference, "RevokeSecurityGroupIngress"); moto compares a source group's
  description too;
- Rules-per-group quota: 60 by default, adjustable on request (Amazon VPC User Guide, "Amazon
  VPC quotas"); moto hard-codes 60."""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import DependencyViolationError, RulesPerSecurityGroupLimitExceededError
from moto.ec2.models.security_groups import SecurityGroupBackend

from tests.harness.emulator.control import SETTINGS
from tests.harness.emulator.utils import _now, _original


_orig_delete_security_group = _original(SecurityGroupBackend, "delete_security_group")


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
    # Groups in use: DependencyViolation, AWS refuses to delete a group that ENIs still use.
    group = (
        self.get_security_group_from_id(group_id)
        if group_id
        else self.get_security_group_by_name_or_id(name) if name else None
    )
    if group is not None and _security_group_in_use(self, group.id):
        raise DependencyViolationError(f"resource {group.id} has a dependent object")
    return _orig_delete_security_group(self, name=name, group_id=group_id)


def _verify_group_will_respect_rule_count_limit(
    self: Any, group: Any, current_rule_nb: int, ip_ranges: list[str],
    source_groups: list[dict[str, str]] | None = None, egress: bool = False,
) -> None:
    """moto hard-codes 60; AWS's quota is adjustable, so tests can play a raised one."""
    future = current_rule_nb + len(ip_ranges or []) + len(source_groups or [])
    if future > (SETTINGS.rules_per_group if group.vpc_id else 100):
        raise RulesPerSecurityGroupLimitExceededError


def _rule_matches(self: Any, other: Any) -> bool:
    """Rule matching: a rule is matched by protocol, ports and source: its description does not
    count (EC2 API Reference, RevokeSecurityGroupIngress: "If the rule has a description, you do
    not need to specify the description to revoke the rule"). moto compares a source group's
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
