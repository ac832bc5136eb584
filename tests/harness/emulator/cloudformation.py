"""Stack and resource status: DescribeStackResource and DescribeStacks answered from the stacks
the tests play (AWS CloudFormation API Reference, "DescribeStackResource", "DescribeStacks";
AWS CloudFormation User Guide, "Stack status codes", "Resource status codes").

moto's CloudFormation knows only the stacks it deployed itself; the tests' CloudFormation
(tests/harness/cfn.py) tells the emulator, through its control API, each operation it starts,
and the answer PUT to a resource's ResponseURL ends it."""

from __future__ import annotations

import json
import uuid
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


def _stacks_answer(body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    stack = params.get("StackName", "")
    request_id = str(uuid.uuid4())
    with CONTROL.lock:
        known = CONTROL.stacks.get(stack)
        known = dict(known) if known else None
    if known is None:
        payload = _QUERY_PROTOCOL_ERROR.format(
            code="ValidationError", message=_xml_escape(f"Stack with id {stack} does not exist"),
            request_id=request_id).encode()
        return "400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))], payload
    name = stack.split("/")[1] if stack.count("/") >= 2 else stack
    member = "".join(f"<{k}>{_xml_escape(str(v))}</{k}>" for k, v in [
        ("StackId", stack), ("StackName", name), ("CreationTime", known["created"]),
        ("StackStatus", known["status"]),
    ])
    payload = (f'<DescribeStacksResponse xmlns="{_CFN_NS}"><DescribeStacksResult>'
               f"<Stacks><member>{member}</member></Stacks></DescribeStacksResult>"
               f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
               "</DescribeStacksResponse>").encode()
    return "200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))], payload


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
