"""Stack and resource status: DescribeStackResource and DescribeStacks answered from the stacks
the tests play (AWS CloudFormation API Reference, "DescribeStackResource", "DescribeStacks";
AWS CloudFormation User Guide, "Stack status codes", "Resource status codes").

moto's CloudFormation knows only the stacks it deployed itself; the tests' CloudFormation
(tests/harness/cfn.py) tells the emulator, through its control API, each operation it starts,
and the answer PUT to a resource's ResponseURL ends it."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from tests.harness.emulator.control import CONTROL
from tests.harness.emulator.errors import _QUERY_PROTOCOL_ERROR, _xml_escape
from tests.harness.emulator.utils import _utc_now


# Stack and resource status: DescribeStackResource and DescribeStacks, answered from the stacks
# the tests play (moto's CloudFormation knows only stacks it deployed itself). As the
# CloudFormation API Reference and the User Guide's "Stack status codes" and "Resource status
# codes" describe them: the resource's ResourceStatus is <OPERATION>_IN_PROGRESS while
# CloudFormation waits for the custom resource's answer, <OPERATION>_COMPLETE or _FAILED once the
# answer is in; the stack is <OPERATION>_IN_PROGRESS during its operation, and
# UPDATE_COMPLETE_CLEANUP_IN_PROGRESS while it deletes a resource an update replaced (the logical
# id then shows the new one, complete); an unknown stack or resource is a ValidationError "...
# does not exist".
_CFN_NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def _stack_resource_answer(body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    stack, logical = params.get("StackName", ""), params.get("LogicalResourceId", "")
    request_id = str(uuid.uuid4())
    with CONTROL.lock:
        resource = CONTROL.stack_resources.get((stack, logical))
        resource = dict(resource) if resource else None
    if resource is None:
        known_stack = any(s == stack for s, _ in CONTROL.stack_resources)
        message = (f"Resource {logical} does not exist for stack {stack}" if known_stack
                   else f"Stack '{stack}' does not exist")
        payload = _QUERY_PROTOCOL_ERROR.format(code="ValidationError", message=_xml_escape(message),
                                               request_id=request_id).encode()
        return "400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))], payload
    name = stack.split("/")[1] if stack.count("/") >= 2 else stack
    detail = "".join(f"<{k}>{_xml_escape(str(v))}</{k}>" for k, v in [
        ("StackName", name), ("StackId", stack), ("LogicalResourceId", logical),
        ("PhysicalResourceId", resource.get("physical_id") or ""),
        ("ResourceType", resource["resource_type"]),
        ("LastUpdatedTimestamp", resource["updated"]), ("ResourceStatus", resource["status"]),
    ])
    payload = (f'<DescribeStackResourceResponse xmlns="{_CFN_NS}"><DescribeStackResourceResult>'
               f"<StackResourceDetail>{detail}</StackResourceDetail></DescribeStackResourceResult>"
               f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
               "</DescribeStackResourceResponse>").encode()
    return "200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))], payload


def _xml(status: str, payload: str) -> tuple[str, list[tuple[str, str]], bytes]:
    data = payload.encode()
    return status, [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))], data


def _error(code: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    return _xml("400 Bad Request", _QUERY_PROTOCOL_ERROR.format(
        code=code, message=_xml_escape(message), request_id=uuid.uuid4()))


def _find_stack(name_or_id: str) -> str | None:
    """A stack's id from its id, or from its name: the live stack of that name (DescribeStacks
    answers a deleted stack only by its id). Call with CONTROL.lock held."""
    if name_or_id in CONTROL.stacks:
        return name_or_id
    live = [s for s, v in CONTROL.stacks.items() if s.count("/") >= 2 and s.split("/")[1] == name_or_id
            and v.get("status") != "DELETE_COMPLETE"]
    return live[-1] if live else None


def _members(name: str, rows: list[list[tuple[str, str]]]) -> str:
    if not rows:
        return ""
    items = "".join("<member>" + "".join(f"<{k}>{_xml_escape(str(v))}</{k}>" for k, v in row) + "</member>"
                    for row in rows)
    return f"<{name}>{items}</{name}>"


def _stacks_answer(body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    with CONTROL.lock:
        stack = _find_stack(params.get("StackName", ""))
        known = dict(CONTROL.stacks[stack]) if stack else None
    if known is None or stack is None:
        return _error("ValidationError", f"Stack with id {params.get('StackName', '')} does not exist")
    name = stack.split("/")[1] if stack.count("/") >= 2 else stack
    member = "".join(f"<{k}>{_xml_escape(str(v))}</{k}>" for k, v in [
        ("StackId", stack), ("StackName", name), ("CreationTime", known["created"]),
        ("StackStatus", known["status"]),
    ] + ([("StackStatusReason", known["reason"])] if known.get("reason") else []))
    member += _members("Outputs", [[("OutputKey", k), ("OutputValue", v)]
                                   for k, v in dict(known.get("outputs") or {}).items()])
    member += _members("Parameters", [[("ParameterKey", k), ("ParameterValue", v)]
                                      for k, v in dict(known.get("parameters") or {}).items()])
    return _xml("200 OK", f'<DescribeStacksResponse xmlns="{_CFN_NS}"><DescribeStacksResult>'
                f"<Stacks><member>{member}</member></Stacks></DescribeStacksResult>"
                f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
                "</DescribeStacksResponse>")


# CreateStack, DeleteStack and DescribeStackEvents of the stacks a test's stack service plays
# (CONTROL.stack_service; AWS CloudFormation API Reference, "CreateStack", "DeleteStack",
# "DescribeStackEvents", "UpdateStack"): CreateStack answers the new stack's id at once and the
# stack is then CREATE_IN_PROGRESS; a second stack of a live stack's name is
# AlreadyExistsException; UpdateStack of a stack that does not exist, or with nothing to change
# ("No updates are to be performed."), is a ValidationError; DeleteStack of a stack that does
# not exist succeeds; events are listed newest first.
_PLAYED_ACTIONS = {"CreateStack", "DeleteStack", "DescribeStackEvents", "UpdateStack"}


def _played_stack_answer(action: str, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    query = parse_qs(body.decode("utf-8", "replace"))
    params = {k: v[0] for k, v in query.items()}
    service = CONTROL.stack_service
    request = f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
    # A parameter given with UsePreviousValue keeps the stack's current value (None here).
    parameters: dict[str, str | None] = {}
    for key, value in params.items():
        match = re.fullmatch(r"Parameters\.member\.(\d+)\.ParameterKey", key)
        if match:
            n = match.group(1)
            previous = params.get(f"Parameters.member.{n}.UsePreviousValue", "").lower() == "true"
            parameters[value] = None if previous else params.get(f"Parameters.member.{n}.ParameterValue", "")
    capabilities = [v for k, v in params.items() if k.startswith("Capabilities.member.")]
    if action == "UpdateStack":
        with CONTROL.lock:
            stack = _find_stack(params.get("StackName", ""))
        if stack is None:
            return _error("ValidationError", f"Stack [{params.get('StackName', '')}] does not exist")
        try:
            service.update_stack(stack, params.get("TemplateURL"), params.get("TemplateBody"), parameters,
                                 capabilities)
        except service.Refused as refused:
            return _error(refused.code, refused.message)
        return _xml("200 OK", f'<UpdateStackResponse xmlns="{_CFN_NS}"><UpdateStackResult>'
                    f"<StackId>{_xml_escape(stack)}</StackId></UpdateStackResult>{request}</UpdateStackResponse>")
    if action == "CreateStack":
        name = params.get("StackName", "")
        with CONTROL.lock:
            exists = _find_stack(name) is not None
        if exists:
            return _error("AlreadyExistsException", f"Stack [{name}] already exists")
        try:
            stack = service.create_stack(name, params.get("TemplateURL"), params.get("TemplateBody"),
                                         parameters, capabilities)
        except service.Refused as refused:
            return _error(refused.code, refused.message)
        return _xml("200 OK", f'<CreateStackResponse xmlns="{_CFN_NS}"><CreateStackResult>'
                    f"<StackId>{_xml_escape(stack)}</StackId></CreateStackResult>{request}</CreateStackResponse>")
    with CONTROL.lock:
        stack = _find_stack(params.get("StackName", ""))
        events = list(CONTROL.stack_events.get(stack or "", []))
    if action == "DeleteStack":
        if stack is not None:
            service.delete_stack(stack)
        return _xml("200 OK", f'<DeleteStackResponse xmlns="{_CFN_NS}">{request}</DeleteStackResponse>')
    if stack is None:
        return _error("ValidationError", f"Stack [{params.get('StackName', '')}] does not exist")
    rows = [[(k, e[k]) for k in ("StackId", "EventId", "StackName", "LogicalResourceId", "PhysicalResourceId",
                                 "ResourceType", "Timestamp", "ResourceStatus", "ResourceStatusReason")
             if e.get(k)] for e in reversed(events)]
    return _xml("200 OK", f'<DescribeStackEventsResponse xmlns="{_CFN_NS}"><DescribeStackEventsResult>'
                f"{_members('StackEvents', rows) or '<StackEvents/>'}</DescribeStackEventsResult>{request}"
                "</DescribeStackEventsResponse>")


def record_stack_event(stack: str, logical_id: str, resource_type: str, status: str,
                       physical_id: str | None, reason: str | None) -> None:
    """One line of a played stack's events; the stack's own lines set its status (and reason)."""
    name = stack.split("/")[1]
    event = {"StackId": stack, "EventId": str(uuid.uuid4()), "StackName": name,
             "LogicalResourceId": logical_id, "PhysicalResourceId": physical_id or "",
             "ResourceType": resource_type, "Timestamp": _utc_now(), "ResourceStatus": status,
             "ResourceStatusReason": reason or ""}
    with CONTROL.lock:
        CONTROL.stack_events.setdefault(stack, []).append(event)
        if resource_type == "AWS::CloudFormation::Stack" and physical_id == stack:
            _set_stack_status(stack, status)
            CONTROL.stacks[stack]["reason"] = reason or ""


def set_stack_details(stack: str, **details: Any) -> None:
    """A played stack's parameters or outputs (what DescribeStacks shows)."""
    with CONTROL.lock:
        CONTROL.stacks.setdefault(stack, {"created": _utc_now(), "status": "CREATE_IN_PROGRESS"}).update(details)


def _set_stack_status(stack: str, status: str) -> None:
    """Call with CONTROL.lock held."""
    CONTROL.stacks.setdefault(stack, {"created": _utc_now()})["status"] = status


def _note_answer(path: str, body: bytes) -> None:
    """An answer PUT to a resource's ResponseURL ends its operation, as it does CloudFormation's."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return
    with CONTROL.lock:
        stack = CONTROL.cleanups.pop(path, None)
        if stack is not None and CONTROL.stacks.get(stack, {}).get("status") == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":
            _set_stack_status(stack, "UPDATE_COMPLETE")
        for resource in CONTROL.stack_resources.values():
            if resource.get("response_path") == path and resource["status"].endswith("_IN_PROGRESS"):
                operation = resource["status"][: -len("_IN_PROGRESS")]
                ok = answer.get("Status") == "SUCCESS"
                resource["status"] = f"{operation}_{'COMPLETE' if ok else 'FAILED'}"
                resource["physical_id"] = answer.get("PhysicalResourceId") or resource.get("physical_id")
                resource["updated"] = _utc_now()
