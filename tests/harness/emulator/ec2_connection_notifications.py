"""Connection notifications, absent from moto 5.2.5:

- Connection notifications: CreateVpcEndpointConnectionNotification,
  DescribeVpcEndpointConnectionNotifications, DeleteVpcEndpointConnectionNotifications (Amazon
  EC2 API Reference);
- Connection events: the event published to each notification's SNS topic that asked for it
  when the provider accepts or rejects (AWS PrivateLink Guide, "Receive alerts for interface
  endpoint events"); SNS then delivers it (sns.py)."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidParameter
from moto.ec2.models.vpcs import VPCEndPoint

from tests.harness.emulator.utils import _unsuccessful, _utc_now


# Connection notifications (absent from moto 5.2.5), as the EC2 API Reference describes
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


def _notify_connection_event(backend: Any, endpoint: VPCEndPoint, event: str) -> None:
    """Connection events: publishes a connection event to the topic of each of the endpoint's
    notifications that asked for it (PrivateLink Guide, "Receive alerts for interface endpoint
    events"). AWS does not document the message's fields: this one carries the endpoint's and
    service's ids, the event and the state, and the functions must not depend on its field names
    (they look for endpoint ids in it). A topic that does not exist gets nothing, as in AWS."""
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
