"""Helpers the patches share: moto's own implementation of what a patch replaces, the clocks,
moto's two spellings of a boolean, and EC2's `Unsuccessful` items.

Not an AWS behaviour of its own: the bottom of the package, imported by every module above it."""

from __future__ import annotations

import time
from typing import Any


def _now() -> float:
    return time.monotonic()


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _as_bool(value: Any) -> bool | None:
    """moto hands booleans over as bool or as 'true'/'false' depending on the path."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def _unsuccessful(resource_id: str, code: str, message: str) -> dict[str, Any]:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


def _original(cls: type, name: str) -> Any:
    """moto's own implementation of `cls.name`, stashed on the class the first
    time, so that importing a patching module twice (e.g. as __main__ and as
    tests.harness.emulator.<module>) never wraps a patch in a patch."""
    key = f"_emu_original_{name}"
    if key not in cls.__dict__:
        setattr(cls, key, cls.__dict__[name])
    return cls.__dict__[key]
