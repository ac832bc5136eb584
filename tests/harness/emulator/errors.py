"""AWS error answers in each protocol's shape, for the faults the tests inject and the errors
the emulator answers itself: EC2's `<Response><Errors>` (Amazon EC2 API Reference, "Error
codes"), S3's `<Error>` (Amazon S3 API Reference, "Error responses"), the query protocol's
`<ErrorResponse>` (CloudFormation, STS...), and JSON's `__type` (Step Functions, SSM...).

moto answers its own errors; these are the ones it never makes."""

from __future__ import annotations

import json
import uuid
from typing import Any


_QUERY_PROTOCOL_ERROR = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
    "</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
)
_EC2_ERROR = (
    "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
    "<RequestID>{request_id}</RequestID></Response>"
)
_S3_ERROR = (
    "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fault_response(
    fault: dict[str, Any], service: str, is_json: bool
) -> tuple[str, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    code, message = str(fault["code"]), str(fault.get("message") or fault["code"])
    status = int(fault.get("status", 400))
    if is_json:
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        template = {"ec2": _EC2_ERROR, "s3": _S3_ERROR}.get(service, _QUERY_PROTOCOL_ERROR)
        body = template.format(
            code=_xml_escape(code), message=_xml_escape(message), request_id=request_id
        ).encode()
        content_type = "text/xml"
    reason = {307: "Temporary Redirect", 400: "Bad Request", 403: "Forbidden",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id),
        ("x-amz-request-id", request_id),
        ("x-amzn-ErrorType", code),
    ]
    if fault.get("location"):
        headers.append(("Location", str(fault["location"])))
    return f"{status} {reason}", headers, body
