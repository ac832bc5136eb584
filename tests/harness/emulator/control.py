"""The emulator's own state: settings, call log, IAM journal, faults, the stacks the tests play
and armed crashes.

Process-global, like moto's backends: one emulator per process. `SETTINGS` and `CONTROL` are
the single instances every other module imports from here (never redefines). Not an AWS
behaviour: what the tests tell the emulator through its control API (middleware.py) and
`Emulator` (server.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Settings:
    # How long an accepted endpoint stays `pending` before it reads `available`.
    pending_seconds: float = 1.0
    # How long a deleted endpoint's ENIs keep its security groups "in use".
    eni_linger_seconds: float = 0.0
    # The account's "inbound or outbound rules per security group" quota: 60 by default in
    # AWS, adjustable on request (the rules in a group may then total up to 1000).
    rules_per_group: float = 60
    # EC2's request throttling, token buckets per action (ec2_throttling.py): off unless asked.
    ec2_throttling: bool = False


SETTINGS = Settings()


@dataclass
class _ControlState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[dict[str, str]] = field(default_factory=list)
    journal: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    # Stack and resource status (cloudformation.py): the resources of the stacks the tests play,
    # by (stack id, logical id).
    stack_resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # Those stacks' statuses, by stack id, and the answer paths of cleanup Deletes (whose
    # answer ends the cleanup).
    stacks: dict[str, dict[str, str]] = field(default_factory=dict)
    cleanups: dict[str, str] = field(default_factory=dict)
    # Each played stack's events, oldest first (DescribeStackEvents answers them newest first).
    stack_events: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # What plays CreateStack and DeleteStack (tests/harness/stacks.py), when a test set one:
    # moto's CloudFormation can't run this project's custom resources.
    stack_service: Any = None
    # Crashes armed by the tests (in-process only: `Emulator.crash_after`).
    crashes: list[dict[str, Any]] = field(default_factory=list)

    def record(self, service: str, action: str, entry: dict[str, Any] | None = None) -> None:
        with self.lock:
            self.calls.append({"service": service, "action": action})
            if entry is not None:
                self.journal.append(entry)

    def take_fault(self, service: str, action: str, body: bytes = b"") -> dict[str, Any] | None:
        """Consume one use of the first fault matching this call, if any (a fault with `match`
        applies only to calls whose request body holds that text)."""
        with self.lock:
            for fault in self.faults:
                if fault["action"] != action:
                    continue
                if fault.get("service") and fault["service"] != service:
                    continue
                if fault.get("match") and fault["match"].encode() not in body:
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.remove(fault)
                return dict(fault)
        return None


CONTROL = _ControlState()


def _crash_if_armed(entry: dict[str, Any]) -> None:
    """After a call took effect, and before its answer leaves: the crash armed for the n-th call
    its `counts` accepts, if this is that call (the caller never hears the answer)."""
    fire = []
    with CONTROL.lock:
        for crash in list(CONTROL.crashes):
            if crash["counts"](entry):
                crash["seen"] += 1
                if crash["seen"] == crash["after"]:
                    fire.append(crash)
                    CONTROL.crashes.remove(crash)
    for crash in fire:
        crash["kill"]()
