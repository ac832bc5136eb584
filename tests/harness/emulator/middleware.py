"""The emulator's WSGI middleware around moto's app: the call log, the IAM journal (who made
each call, its parameters, the tags of the resources it names), fault injection, the
CloudFormation answers (cloudformation.py), armed crashes, and a JSON control API under
`/_emulator/`. Not an AWS behaviour: how the tests drive and observe the emulator.

Control API (JSON):
    GET    /_emulator/health     -> {"ok": true}
    GET    /_emulator/calls      -> [{"service": "ec2", "action": "CreateVpcEndpoint"}, ...]
    DELETE /_emulator/calls      -> clears the call log
    GET    /_emulator/journal    -> every call since start (or reset), never cleared by tests:
                                    {"service", "action", "principal" (the access key id),
                                     "presigned", "params", "resource_tags"}: what an IAM
                                    evaluation of the call needs (tests/test_contracts.py)
    GET    /_emulator/faults     -> pending faults
    POST   /_emulator/faults     {"action", "count"=1, "code", "status"=400, "message", "service"?,
                                  "delay_seconds"?, "location"?, "match"?}
    DELETE /_emulator/faults     -> clears pending faults
    GET    /_emulator/settings   -> {"pending_seconds": 1.0, "eni_linger_seconds": 0.0, ...}
    POST   /_emulator/settings   {"pending_seconds"?: float, "eni_linger_seconds"?: float,
                                  "rules_per_group"?: int, "ec2_throttling"?: bool}
    GET    /_emulator/throttling -> {"allowed": {action: n}, "throttled": {action: n}}: what EC2's
                                    token buckets answered (ec2_throttling.py), since the last
    DELETE /_emulator/throttling    reset, which also fills every bucket
    POST   /_emulator/stack-resources {"stack_id", "logical_id", "resource_type", "request_type",
                                  "response_path"?, "physical_id"?, "status"?}: CloudFormation
                                  starts (or, with "status", ends) an operation on a resource (tests/harness/cfn.py says so with each
                                  event it makes); DescribeStackResource answers from these
    GET    /_emulator/stacks     -> {stack id: {"status", "created"}}: what DescribeStacks answers
    POST   /_emulator/stacks     {"stack_id", "status"}: the stack's status (set as each operation
                                  starts, and to UPDATE_COMPLETE_CLEANUP_IN_PROGRESS for the Delete
                                  of a replaced resource)
    POST   /_emulator/reset      -> resets moto's backends, faults, calls and settings
"""

from __future__ import annotations

import io
import json
import time
from typing import Any, Callable
from urllib.parse import parse_qs

from tests.harness.emulator.cloudformation import (
    _note_answer,
    _set_stack_status,
    _PLAYED_ACTIONS,
    _played_stack_answer,
    _stack_resource_answer,
    _stacks_answer,
)
from tests.harness.emulator.control import CONTROL, SETTINGS, Settings, _crash_if_armed
from tests.harness.emulator.ec2_throttling import MESSAGE as THROTTLED_MESSAGE, THROTTLE
from tests.harness.emulator.errors import _fault_response
from tests.harness.emulator.utils import _utc_now


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back, since moto reads it again."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _signature_scope(environ: dict[str, Any]) -> tuple[list[str], bool]:
    """The SigV4 credential scope (AKID/date/region/service/aws4_request), and whether it
    came from a pre-signed URL (whose signer, not the caller, is the principal)."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        return auth.split("Credential=", 1)[1].split(",", 1)[0].split("/"), False
    if "X-Amz-Credential" in query:
        return query["X-Amz-Credential"][0].split("/"), True
    return [], False


# Parameters whose values name EC2 resources, whose tags an IAM condition may read.
_EC2_ID_PREFIXES = ("vpce-", "sg-", "vpc-", "subnet-", "vpce-nfn-")


def _journal_entry(environ: dict[str, Any], body: bytes, service: str, action: str,
                   is_json: bool) -> dict[str, Any]:
    """What an IAM evaluation of this call needs: who, what, on which resources and tags."""
    scope, presigned = _signature_scope(environ)
    params: dict[str, Any] = {}
    if is_json:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
    elif service == "route53":
        zone = _route53_zone(environ.get("PATH_INFO", "/"))
        params = {"HostedZoneId": zone} if zone else {}
    elif service != "s3":
        params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    resource_tags: dict[str, dict[str, str]] = {}
    if service == "ec2" and len(scope) >= 3:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[_ACCOUNT_ID][scope[2]]
        for value in params.values():
            if isinstance(value, str) and value.startswith(_EC2_ID_PREFIXES):
                resource_tags[value] = dict(backend.tags.get(value, {}))
    return {
        "service": service,
        "action": action,
        "principal": scope[0] if scope else None,
        "region": scope[2] if len(scope) >= 3 else None,
        "presigned": presigned,
        "params": params,
        "resource_tags": resource_tags,
    }


_ACCOUNT_ID = "123456789012"  # moto's default account


def _identify(environ: dict[str, Any], body: bytes) -> tuple[str, str, bool]:
    """(service, action, is_json_protocol) of an AWS request."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    # SigV4 credential scope: AKID/date/region/SERVICE/aws4_request (header or presigned URL).
    parts, _ = _signature_scope(environ)
    service = parts[3] if len(parts) >= 5 else "s3"  # moto's default for unsigned calls

    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1], True
    action = query.get("Action", [None])[0]
    if action is None and environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
    if action is None and service == "route53":
        action = _route53_action(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"))
    if action is None:
        action = f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"
    return service, action, False


# Route 53's REST paths (Amazon Route 53 API Reference), as the journal names their actions.
_ROUTE53_ACTIONS = [
    ("POST", r"/hostedzone", "CreateHostedZone"),
    ("GET", r"/hostedzone", "ListHostedZones"),
    ("GET", r"/hostedzonesbyvpc", "ListHostedZonesByVPC"),
    ("GET", r"/hostedzone/[^/]+", "GetHostedZone"),
    ("DELETE", r"/hostedzone/[^/]+", "DeleteHostedZone"),
    ("POST", r"/hostedzone/[^/]+/associatevpc", "AssociateVPCWithHostedZone"),
    ("POST", r"/hostedzone/[^/]+/disassociatevpc", "DisassociateVPCFromHostedZone"),
    ("GET", r"/hostedzone/[^/]+/rrset/?", "ListResourceRecordSets"),
    ("POST", r"/hostedzone/[^/]+/rrset/?", "ChangeResourceRecordSets"),
]


def _route53_action(method: str, path: str) -> str | None:
    import re

    tail = re.sub(r"^/2013-04-01", "", path)
    for verb, pattern, action in _ROUTE53_ACTIONS:
        if verb == method and re.fullmatch(pattern, tail):
            return action
    return None


def _route53_zone(path: str) -> str | None:
    """The hosted zone a Route 53 path names, if it names one."""
    import re

    found = re.match(r"^/2013-04-01/hostedzone/([^/]+)", path)
    return found.group(1) if found else None


class EmulatorMiddleware:
    """Wraps moto's WSGI app: logs calls, injects faults, serves /_emulator/."""

    def __init__(self, app: Callable[..., Any], reset_moto: Callable[[], None]):
        self.app = app
        self.reset_moto = reset_moto

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            return self._control(environ, start_response)
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        body = _read_body(environ)
        service, action, is_json = _identify(environ, body)
        entry = _journal_entry(environ, body, service, action, is_json)
        CONTROL.record(service, action, entry)
        if SETTINGS.ec2_throttling and service == "ec2" and not THROTTLE.admit(entry["region"] or "", action, entry["params"]):
            status, headers, payload = _fault_response(
                {"code": "RequestLimitExceeded", "message": THROTTLED_MESSAGE, "status": 503}, service, is_json)
            start_response(status, headers)
            return [payload]
        fault = CONTROL.take_fault(service, action, body)
        if fault is not None and fault.get("delay_seconds"):
            # A slow or hanging AWS API: what makes an invocation run into its deadline.
            time.sleep(fault["delay_seconds"])
        if fault is not None and fault["code"]:
            status, headers, payload = _fault_response(fault, service, is_json)
            start_response(status, headers)
            return [payload]
        if service == "cloudformation" and action == "DescribeStackResource":
            status, headers, payload = _stack_resource_answer(body)
            start_response(status, headers)
            return [payload]
        if service == "cloudformation" and action == "DescribeStacks":
            status, headers, payload = _stacks_answer(body)
            start_response(status, headers)
            return [payload]
        if service == "cloudformation" and action in _PLAYED_ACTIONS and CONTROL.stack_service is not None:
            status, headers, payload = _played_stack_answer(action, body)
            start_response(status, headers)
            return [payload]
        if environ.get("REQUEST_METHOD") == "PUT" and "X-Amz-Signature" in environ.get("QUERY_STRING", ""):
            result = self.app(environ, start_response)
            _note_answer(environ.get("PATH_INFO", ""), body)
            _crash_if_armed({**entry, "method": "PUT"})
            return result
        result = self.app(environ, start_response)
        _crash_if_armed({**entry, "method": environ.get("REQUEST_METHOD", "")})
        return result

    # ---- control API ------------------------------------------------------ #

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "").rstrip("/")
        try:
            raw = _read_body(environ)
            payload = json.loads(raw) if raw.strip() else {}
            status, result = self._route(method, path, payload)
        except (ValueError, KeyError, TypeError) as exc:
            status, result = 400, {"error": f"{type(exc).__name__}: {exc}"}
        body = json.dumps(result).encode()
        start_response(
            f"{status} {'OK' if status < 400 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _route(self, method: str, path: str, payload: Any) -> tuple[int, Any]:
        if path == "/_emulator/health":
            return 200, {"ok": True}
        if path == "/_emulator/calls":
            with CONTROL.lock:
                if method == "DELETE":
                    CONTROL.calls.clear()
                    return 200, []
                return 200, list(CONTROL.calls)
        if path == "/_emulator/stack-resources":
            with CONTROL.lock:
                if method == "POST":
                    key = (str(payload["stack_id"]), str(payload["logical_id"]))
                    current = CONTROL.stack_resources.get(key)
                    cleanup = (current is not None and not payload.get("status")
                               and str(payload["request_type"]) == "Delete"
                               and current["status"] == "UPDATE_COMPLETE"
                               and payload.get("physical_id") not in (None, current.get("physical_id")))
                    if cleanup:
                        # The Delete of a replaced resource, after the update completed
                        # (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS): the logical id keeps showing the
                        # new resource, complete.
                        _set_stack_status(key[0], "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
                        if payload.get("response_path"):
                            CONTROL.cleanups[str(payload["response_path"])] = key[0]
                        return 200, [{"stack_id": s, "logical_id": l, **r}
                                     for (s, l), r in CONTROL.stack_resources.items()]
                    if not payload.get("status"):
                        _set_stack_status(key[0], f"{str(payload['request_type']).upper()}_IN_PROGRESS")
                    CONTROL.stack_resources[key] = {
                        "resource_type": str(payload["resource_type"]),
                        "status": str(payload.get("status")
                                      or f"{str(payload['request_type']).upper()}_IN_PROGRESS"),
                        "response_path": payload.get("response_path"),
                        "physical_id": payload.get("physical_id"),
                        "updated": _utc_now(),
                    }
                return 200, [{"stack_id": s, "logical_id": l, **r}
                             for (s, l), r in CONTROL.stack_resources.items()]
        if path == "/_emulator/stacks":
            with CONTROL.lock:
                if method == "POST":
                    _set_stack_status(str(payload["stack_id"]), str(payload["status"]))
                return 200, {s: dict(v) for s, v in CONTROL.stacks.items()}
        if path == "/_emulator/journal":
            with CONTROL.lock:
                return 200, list(CONTROL.journal)
        if path == "/_emulator/faults":
            with CONTROL.lock:
                if method == "POST":
                    fault = {
                        "action": str(payload["action"]),
                        "count": int(payload.get("count", 1)),
                        "code": str(payload["code"]),
                        "status": int(payload.get("status", 400)),
                        "message": str(payload.get("message") or payload["code"]),
                        "delay_seconds": float(payload.get("delay_seconds", 0)),
                        "location": str(payload.get("location") or ""),
                        "match": str(payload.get("match") or ""),
                    }
                    if payload.get("service"):
                        fault["service"] = str(payload["service"])
                    CONTROL.faults.append(fault)
                elif method == "DELETE":
                    CONTROL.faults.clear()
                return 200, [dict(f) for f in CONTROL.faults]
        if path == "/_emulator/settings":
            if method == "POST":
                for key in ("pending_seconds", "eni_linger_seconds", "rules_per_group"):
                    if key in payload:
                        setattr(SETTINGS, key, float(payload[key]))
                if "ec2_throttling" in payload:
                    SETTINGS.ec2_throttling = bool(payload["ec2_throttling"])
            return 200, {
                "pending_seconds": SETTINGS.pending_seconds,
                "eni_linger_seconds": SETTINGS.eni_linger_seconds,
                "rules_per_group": SETTINGS.rules_per_group,
                "ec2_throttling": SETTINGS.ec2_throttling,
            }
        if path == "/_emulator/throttling":
            if method == "DELETE":
                THROTTLE.reset()
            return 200, THROTTLE.report()
        if path == "/_emulator/reset" and method == "POST":
            self.reset_moto()
            with CONTROL.lock:
                CONTROL.calls.clear()
                CONTROL.journal.clear()
                CONTROL.faults.clear()
                CONTROL.stack_resources.clear()
                CONTROL.stacks.clear()
                CONTROL.cleanups.clear()
                CONTROL.stack_events.clear()
                CONTROL.crashes.clear()
            defaults = Settings()
            SETTINGS.pending_seconds = defaults.pending_seconds
            SETTINGS.eni_linger_seconds = defaults.eni_linger_seconds
            SETTINGS.rules_per_group = defaults.rules_per_group
            SETTINGS.ec2_throttling = defaults.ec2_throttling
            THROTTLE.reset()
            return 200, {"ok": True}
        return 404, {"error": f"no route {method} {path}"}
