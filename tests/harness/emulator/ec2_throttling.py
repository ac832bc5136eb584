"""EC2's request throttling: a token bucket per API action, per account and Region, as "Request
throttling for the Amazon EC2 API" (Amazon EC2 Developer Guide,
https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html) documents it. Off unless
a test or the bench turns it on (setting `ec2_throttling`): moto never throttles.

- "Each API is evaluated individually": one bucket per action ("Limits are applied to individual
  API actions, not API action categories"); a request takes one token; a bucket refills at its
  rate up to its capacity; a request finding its bucket empty fails with `RequestLimitExceeded`,
  and other actions are not affected.
- The sizes and refill rates are the page's table "Request token bucket sizes and refill rates":
  non-mutating actions (Describe*, List*, Search*, Get*) 100 and 20/s; the "unfiltered and
  unpaginated" ones (DescribeInstances, DescribeInstanceStatus, DescribeNetworkInterfaces,
  DescribeSecurityGroups, DescribeSnapshots, DescribeSpotInstanceRequests, DescribeVolumes) 50
  and 10/s when "requested without specifying either pagination or a filter" (given an id list,
  as here, is neither); mutating actions 50 and 5/s; resource-intensive ones
  (AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress among them) 50 and 5/s, in buckets
  of their own; and, of the "uncategorized actions", those an endpoint rollout calls:
  CreateVpcEndpoint, ModifyVpcEndpoint and DeleteVpcEndpoints 4 and 0.3/s; CreateTags and
  DeleteTags 100 and 10/s; the endpoint-service and connection actions 10 and 1/s.
- The answer: `RequestLimitExceeded`, "The maximum request rate permitted by the Amazon EC2 APIs
  has been exceeded for your account. For best results, use an increasing or variable sleep
  interval between requests." (Amazon EC2 API Reference, "Error codes", where it is listed among
  the server errors, which come with a 5xx status: 503 here).

Resource token limits (RunInstances and three more) are not modelled: nothing here calls them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

MESSAGE = ("The maximum request rate permitted by the Amazon EC2 APIs has been exceeded for your account. "
           "For best results, use an increasing or variable sleep interval between requests.")

# (capacity, refill per second)
NON_MUTATING = (100.0, 20.0)
UNFILTERED_UNPAGINATED = (50.0, 10.0)
MUTATING = (50.0, 5.0)
RESOURCE_INTENSIVE = (50.0, 5.0)

_UNFILTERED_ACTIONS = {"DescribeInstances", "DescribeInstanceStatus", "DescribeNetworkInterfaces",
                       "DescribeSecurityGroups", "DescribeSnapshots", "DescribeSpotInstanceRequests",
                       "DescribeVolumes"}
_RESOURCE_INTENSIVE = {"AcceptVpcPeeringConnection", "AuthorizeSecurityGroupIngress", "CancelSpotInstanceRequests",
                       "CreateKeyPair", "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection",
                       "RejectVpcPeeringConnection", "RevokeSecurityGroupIngress", "RequestSpotInstances"}
_UNCATEGORIZED = {
    "CreateVpcEndpoint": (4.0, 0.3), "ModifyVpcEndpoint": (4.0, 0.3), "DeleteVpcEndpoints": (4.0, 0.3),
    "CreateTags": (100.0, 10.0), "DeleteTags": (100.0, 10.0),
    "AcceptVpcEndpointConnections": (10.0, 1.0), "RejectVpcEndpointConnections": (10.0, 1.0),
    "CreateVpcEndpointServiceConfiguration": (10.0, 1.0), "ModifyVpcEndpointServiceConfiguration": (10.0, 1.0),
    "DeleteVpcEndpointServiceConfigurations": (10.0, 1.0),
}
_NON_MUTATING_PREFIXES = ("Describe", "List", "Search", "Get")


def bucket_of(action: str, params: dict[str, str]) -> tuple[str, tuple[float, float]]:
    """The bucket a request takes its token from: its name and (capacity, refill per second)."""
    if action in _UNCATEGORIZED:
        return action, _UNCATEGORIZED[action]
    if action in _RESOURCE_INTENSIVE:
        return action, RESOURCE_INTENSIVE
    if action.startswith(_NON_MUTATING_PREFIXES):
        if action in _UNFILTERED_ACTIONS and not any(
                key.startswith("Filter.") or key in ("MaxResults", "NextToken") for key in params):
            return f"{action} (unfiltered, unpaginated)", UNFILTERED_UNPAGINATED
        return action, NON_MUTATING
    return action, MUTATING


@dataclass
class _Bucket:
    capacity: float
    refill: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.refill)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Throttle:
    """The account's buckets in each Region, full when first used; counts what each answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[tuple[str, str], _Bucket] = {}
        self.allowed: dict[str, int] = {}
        self.throttled: dict[str, int] = {}

    def admit(self, region: str, action: str, params: dict[str, str]) -> bool:
        """Whether this EC2 request (its query parameters, as the journal read them) gets a token
        (False: it is answered RequestLimitExceeded)."""
        name, (capacity, refill) = bucket_of(action, params)
        now = time.monotonic()
        with self.lock:
            bucket = self.buckets.setdefault((region, name), _Bucket(capacity, refill, capacity, now))
            ok = bucket.take(now)
            counts = self.allowed if ok else self.throttled
            counts[action] = counts.get(action, 0) + 1
            return ok

    def report(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {"allowed": dict(self.allowed), "throttled": dict(self.throttled)}

    def reset(self) -> None:
        with self.lock:
            self.buckets.clear()
            self.allowed.clear()
            self.throttled.clear()


THROTTLE = Throttle()
