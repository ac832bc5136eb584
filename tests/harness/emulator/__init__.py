"""moto's server, extended to behave like AWS where moto 5.2.5 does not.

The emulator is moto's own WSGI app (``DomainDispatcherApplication`` +
``create_backend_app``) served by werkzeug's threaded server, with:

* patches applied to moto's classes when this package is imported (``install_patches``,
  patches.py), each one adding a documented AWS behaviour that the custom resources depend on;
  laid out by the AWS service they extend, as moto lays out its own modules:

  ec2_endpoints.py                 ClientToken idempotency (EC2 API Reference, CreateVpcEndpoint;
                                   EC2 Developer Guide, Ensuring idempotency in Amazon EC2 API
                                   requests); ModifyVpcEndpoint (EC2 API Reference,
                                   ModifyVpcEndpoint); private DNS conflict; subnet zones;
                                   zonal DNS entries (PrivateLink Guide, DNS hostnames);
                                   DeleteVpcEndpoints' Unsuccessful items (EC2 API Reference,
                                   DeleteVpcEndpoints)
  ec2_endpoint_options.py          endpoint options: IpAddressType, DnsOptions,
                                   SubnetConfigurations, PolicyDocument (EC2 API Reference,
                                   CreateVpcEndpoint, ModifyVpcEndpoint)
  ec2_network_interfaces.py        endpoint network interfaces addressed from their subnet (EC2
                                   User Guide, Requester-managed network interfaces; VPC User
                                   Guide, Subnet CIDR blocks)
  ec2_endpoint_services.py         private DNS name verification (PrivateLink Guide, Manage DNS
                                   names); service capabilities (EC2 API Reference,
                                   ServiceDetail); cross-Region services (PrivateLink Guide,
                                   Cross-Region access)
  ec2_endpoint_connections.py      acceptance: pendingAcceptance -> pending -> available, a
                                   provider rejecting even an accepted connection (PrivateLink
                                   Guide, Accept and reject endpoint connection requests; EC2 API
                                   Reference, AcceptVpcEndpointConnections,
                                   RejectVpcEndpointConnections, DescribeVpcEndpointConnections)
  ec2_connection_notifications.py  connection notifications (EC2 API Reference,
                                   CreateVpcEndpointConnectionNotification...); connection events
                                   published to their SNS topic when the provider accepts or
                                   rejects (PrivateLink Guide, Receive alerts for interface
                                   endpoint events)
  ec2_security_groups.py           groups in use: DependencyViolation (EC2 API Reference,
                                   DeleteSecurityGroup); rule matching, whatever the description
                                   (EC2 API Reference, RevokeSecurityGroupIngress); the
                                   rules-per-group quota (VPC User Guide, Amazon VPC quotas)
  sns.py                           SNS delivery to Lambda functions, the ones the tests register
                                   and run under the Runtime API (Lambda Developer Guide, Using
                                   Lambda with Amazon SNS; SNS Developer Guide, Fanout to Lambda
                                   functions)
  cloudformation.py                stack and resource status: DescribeStackResource and
                                   DescribeStacks answered from the stacks the tests play
                                   (CloudFormation API Reference, DescribeStackResource,
                                   DescribeStacks; User Guide, Stack status codes, Resource
                                   status codes)
  ../stepfunctions.py              Step Functions execution history and task tokens of the
                                   acceptance loop (Step Functions API Reference,
                                   GetExecutionHistory, SendTaskSuccess)

* a WSGI middleware (``EmulatorMiddleware``, middleware.py) that logs every call, keeps the IAM
  journal, injects faults (errors.py shapes their answers) and serves a small JSON control API
  under ``/_emulator/`` (its routes are listed in middleware.py);
* control.py: the settings and control state the middleware and the patches share;
  utils.py: the helpers they share; server.py: serving, and the ``Emulator`` handle.

Modules import only downwards: utils, control, errors; the EC2 modules (services, network
interfaces, options, endpoints, notifications, connections, security groups), sns,
cloudformation; patches; middleware; server; this package.

Use ``start_emulator()`` in-process (tests) or the CLI from the repo root::

    python -m tests.harness.emulator --port 4566
    # prints EMULATOR_URL=http://127.0.0.1:4566 and serves until killed

moto's backends are process-global, so the patches and the settings are too:
one emulator per process.
"""

from __future__ import annotations

from tests.harness.emulator.control import CONTROL, SETTINGS, Settings
from tests.harness.emulator.ec2_endpoint_services import (
    POLICY_SUPPORTED_TAG,
    PRIVATE_DNS_STATE_TAG,
    REMOTE_ZONES_TAG,
)
from tests.harness.emulator.middleware import EmulatorMiddleware
from tests.harness.emulator.patches import install_patches
from tests.harness.emulator.server import Emulator, main, make_app, start_emulator

__all__ = [
    "CONTROL",
    "POLICY_SUPPORTED_TAG",
    "PRIVATE_DNS_STATE_TAG",
    "REMOTE_ZONES_TAG",
    "SETTINGS",
    "Emulator",
    "EmulatorMiddleware",
    "Settings",
    "install_patches",
    "main",
    "make_app",
    "start_emulator",
]
