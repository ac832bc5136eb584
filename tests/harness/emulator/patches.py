"""Installs every patch on moto's classes, once, when the package is imported: each adds an
AWS behaviour moto 5.2.5 lacks (the list is the package's docstring, in __init__.py).

`_original` (utils.py) keeps moto's own implementations, so installing twice never wraps a
patch in a patch."""

from __future__ import annotations

from moto.ec2.models.security_groups import SecurityGroupBackend, SecurityGroupRule
from moto.ec2.models.vpc_service_configuration import VPCServiceConfiguration
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
from moto.ec2.responses import EC2Response

from tests.harness.emulator import route53_private_zones, sns
from tests.harness.emulator.ec2_connection_notifications import (
    _resp_create_connection_notification,
    _resp_delete_connection_notifications,
    _resp_describe_connection_notifications,
)
from tests.harness.emulator.ec2_endpoint_connections import (
    _accept_or_reject,
    _endpoint_connections,
    _get_state,
    _resp_accept_vpc_endpoint_connections,
    _resp_describe_vpc_endpoint_connections,
    _resp_reject_vpc_endpoint_connections,
    _set_state,
)
from tests.harness.emulator.ec2_endpoint_services import (
    _config_to_dict,
    _private_dns_name_configuration,
    _resp_create_service_configuration,
    _resp_describe_vpc_endpoint_services,
)
from tests.harness.emulator.ec2_endpoints import (
    _create_vpc_endpoint,
    _delete_vpc_endpoints,
    _modify_vpc_endpoint,
    _resp_create_vpc_endpoint,
    _resp_delete_vpc_endpoints,
    _resp_modify_vpc_endpoint,
)
from tests.harness.emulator.ec2_security_groups import (
    _delete_security_group,
    _rule_matches,
    _verify_group_will_respect_rule_count_limit,
)


def install_patches() -> None:
    """Patch moto's EC2 classes (idempotent). Each patch adds an AWS behaviour."""
    from tests.harness import stepfunctions

    # SNS delivery to Lambda functions (sns.py).
    sns.install_patches()
    # Route 53 private zones: CallerReference idempotency, one zone of a name per VPC, alias
    # targets of interface endpoints (route53_private_zones.py).
    route53_private_zones.install_patches()
    # Step Functions execution history and task tokens (tests/harness/stepfunctions.py).
    stepfunctions.install_patches()
    # Acceptance: the lazy pending -> available state (ec2_endpoint_connections.py).
    VPCEndPoint.state = property(_get_state, _set_state)  # type: ignore[assignment]
    # CreateVpcEndpoint: acceptance, ClientToken idempotency, endpoint network interfaces, private
    # DNS conflict, subnet zones, endpoint options, zonal DNS entries (ec2_endpoints.py).
    VPCBackend.create_vpc_endpoint = _create_vpc_endpoint  # type: ignore[method-assign]
    EC2Response.create_vpc_endpoint = _resp_create_vpc_endpoint  # type: ignore[method-assign]
    # ModifyVpcEndpoint: private DNS conflict, subnet zones, endpoint options (ec2_endpoints.py).
    VPCBackend.emulator_modify_vpc_endpoint = _modify_vpc_endpoint  # type: ignore[attr-defined]
    EC2Response.modify_vpc_endpoint = _resp_modify_vpc_endpoint  # type: ignore[method-assign]
    # DeleteVpcEndpoints: groups in use after the delete, Unsuccessful items (ec2_endpoints.py).
    VPCBackend.delete_vpc_endpoints = _delete_vpc_endpoints  # type: ignore[method-assign]
    EC2Response.delete_vpc_endpoints = _resp_delete_vpc_endpoints  # type: ignore[method-assign]
    # DeleteSecurityGroup: groups in use (ec2_security_groups.py).
    SecurityGroupBackend.delete_security_group = _delete_security_group  # type: ignore[method-assign]
    # Acceptance: Accept/Reject/DescribeVpcEndpointConnections, absent from moto
    # (ec2_endpoint_connections.py).
    VPCBackend.emulator_accept_or_reject = _accept_or_reject  # type: ignore[attr-defined]
    VPCBackend.emulator_endpoint_connections = _endpoint_connections  # type: ignore[attr-defined]
    EC2Response.accept_vpc_endpoint_connections = _resp_accept_vpc_endpoint_connections  # type: ignore[attr-defined]
    EC2Response.reject_vpc_endpoint_connections = _resp_reject_vpc_endpoint_connections  # type: ignore[attr-defined]
    EC2Response.describe_vpc_endpoint_connections = _resp_describe_vpc_endpoint_connections  # type: ignore[attr-defined]
    # Connection notifications, absent from moto (ec2_connection_notifications.py).
    EC2Response.create_vpc_endpoint_connection_notification = _resp_create_connection_notification  # type: ignore[attr-defined]
    EC2Response.describe_vpc_endpoint_connection_notifications = _resp_describe_connection_notifications  # type: ignore[attr-defined]
    EC2Response.delete_vpc_endpoint_connection_notifications = _resp_delete_connection_notifications  # type: ignore[attr-defined]
    # Cross-Region services and service capabilities (ec2_endpoint_services.py).
    EC2Response.describe_vpc_endpoint_services = _resp_describe_vpc_endpoint_services  # type: ignore[method-assign]
    EC2Response.create_vpc_endpoint_service_configuration = _resp_create_service_configuration  # type: ignore[attr-defined]
    # Private DNS name verification (ec2_endpoint_services.py).
    VPCServiceConfiguration.to_dict = _config_to_dict  # type: ignore[method-assign]
    VPCServiceConfiguration.private_dns_name_configuration = property(  # type: ignore[assignment]
        _private_dns_name_configuration
    )


install_patches()
# Rule matching and the rules-per-group quota (ec2_security_groups.py).
SecurityGroupRule.__eq__ = _rule_matches  # type: ignore[method-assign,assignment]
SecurityGroupBackend._verify_group_will_respect_rule_count_limit = (  # type: ignore[method-assign]
    _verify_group_will_respect_rule_count_limit
)
