"""CloudFormation's side of a custom resource, played through the emulator's S3.

CloudFormation sends a custom resource's Lambda an event whose `ResponseURL` is
a pre-signed S3 PUT URL, then reads the JSON answer the function PUTs there.
`CloudFormation` does the same against moto's S3: one versioned bucket, a fresh
key and pre-signed PUT URL per event, and `answers(key)` returns every answer
PUT to that key (all object versions, oldest first), so a function answering
twice is caught.

Events follow https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html;
properties are stringified as CloudFormation does (`stringify_properties`).
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
DEFAULT_SERVICE_TOKEN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:privatelink-custom-resource"


def stringify_properties(value: Any) -> Any:
    """CloudFormation hands custom resources every scalar as a string: numbers
    become "5", booleans "true"/"false"; lists and objects keep their shape."""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {k: stringify_properties(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stringify_properties(v) for v in value]
    return value  # strings (and None) as they are


def stack_id(name: str | None = None) -> str:
    """A stack id shaped like AWS's."""
    name = name or f"stack-{uuid.uuid4().hex[:8]}"
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{name}/{uuid.uuid4()}"


class CloudFormation:
    """Builds custom resource events and collects the answers PUT to their ResponseURL."""

    def __init__(self, emulator_url: str, service_token: str = DEFAULT_SERVICE_TOKEN,
                 answers_url: str | None = None):
        """`answers_url`: another emulator whose S3 takes the answers (the bench's rollout, where
        one emulator process would serve the answers of 400 functions behind their EC2 calls)."""
        self.emulator_url = emulator_url.rstrip("/")
        self.service_token = service_token
        self.s3 = boto3.client(
            "s3",
            endpoint_url=answers_url or emulator_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            # Path-style: the bucket can't be a subdomain of 127.0.0.1.
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        self.bucket = f"cloudformation-custom-resource-response-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=self.bucket)
        # Versioned, so a second PUT to the same URL is kept instead of overwriting.
        self.s3.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )

    # ---- events ----------------------------------------------------------- #

    def _base_event(self, request_type: str, resource_type: str, logical_id: str,
                    properties: dict[str, Any], stack: str | None,
                    service_token: str | None, physical_id: str | None = None) -> tuple[dict[str, Any], str]:
        stack = stack or stack_id()
        token = service_token or self.service_token
        request_id = str(uuid.uuid4())
        stack_name = stack.split("/")[1] if "/" in stack else "stack"
        key = f"{stack_name}/{logical_id}/{request_id}"
        url = self.s3.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=7200
        )
        self._operation_starts(stack, logical_id, resource_type, request_type, f"/{self.bucket}/{key}",
                               physical_id)
        event = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": url,
            "StackId": stack,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": self.resource_properties(properties, token),
        }
        return event, key

    def _operation_starts(self, stack: str, logical_id: str, resource_type: str, request_type: str,
                          response_path: str | None, physical_id: str | None = None) -> None:
        """Tells the emulator that CloudFormation now waits for this resource (what
        DescribeStackResource answers), until an answer arrives at `response_path`."""
        self._stack_resource({"stack_id": stack, "logical_id": logical_id, "resource_type": resource_type,
                              "request_type": request_type, "response_path": response_path,
                              "physical_id": physical_id})

    def _stack_resource(self, resource: dict[str, Any]) -> None:
        request = urllib.request.Request(f"{self.emulator_url}/_emulator/stack-resources",
                                         data=json.dumps(resource).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stops_waiting(self, event: dict[str, Any], status: str) -> None:
        """CloudFormation stops waiting for the event's resource without its answer: `status`
        is what it then shows (CREATE_FAILED after its own timeout, DELETE_COMPLETE...)."""
        self._stack_resource({"stack_id": event["StackId"], "logical_id": event["LogicalResourceId"],
                              "resource_type": event["ResourceType"], "request_type": event["RequestType"],
                              "status": status})

    def shows(self, stack: str, logical_id: str, resource_type: str, status: str,
              physical_id: str | None = None) -> None:
        """CloudFormation shows the resource in `status` with `physical_id` (what
        DescribeStackResource answers), whatever operation the stack is in."""
        self._stack_resource({"stack_id": stack, "logical_id": logical_id, "resource_type": resource_type,
                              "request_type": status.split("_")[0].capitalize(), "status": status,
                              "physical_id": physical_id})

    def stack_shows(self, stack: str, status: str) -> None:
        """CloudFormation shows the stack in `status` (what DescribeStacks answers)."""
        request = urllib.request.Request(f"{self.emulator_url}/_emulator/stacks",
                                         data=json.dumps({"stack_id": stack, "status": status}).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10):
            pass

    def still_waiting(self, event: dict[str, Any]) -> None:
        """CloudFormation still waits for the event's resource: a duplicate delivery that arrives
        before the first answer did (Lambda may deliver an event more than once)."""
        self._operation_starts(event["StackId"], event["LogicalResourceId"], event["ResourceType"],
                               event["RequestType"], urlsplit(event["ResponseURL"]).path,
                               event.get("PhysicalResourceId"))

    @staticmethod
    def resource_properties(properties: dict[str, Any], service_token: str) -> dict[str, Any]:
        """Properties as CloudFormation sends them: ServiceToken first, all stringified."""
        return {"ServiceToken": service_token, **stringify_properties(dict(properties))}

    def create_event(self, resource_type: str, logical_id: str, properties: dict[str, Any],
                     stack_id: str | None = None, *,
                     service_token: str | None = None) -> tuple[dict[str, Any], str]:
        """A Create event and the key its answer will be PUT to."""
        return self._base_event("Create", resource_type, logical_id, properties,
                                stack_id, service_token)

    def update_event(self, resource_type: str, logical_id: str, physical_id: str,
                     properties: dict[str, Any], old_properties: dict[str, Any],
                     stack_id: str | None = None, *,
                     service_token: str | None = None) -> tuple[dict[str, Any], str]:
        """An Update event (PhysicalResourceId + OldResourceProperties)."""
        event, key = self._base_event("Update", resource_type, logical_id, properties,
                                      stack_id, service_token, physical_id)
        event["PhysicalResourceId"] = physical_id
        event["OldResourceProperties"] = self.resource_properties(
            old_properties, service_token or self.service_token
        )
        return event, key

    def delete_event(self, resource_type: str, logical_id: str, physical_id: str,
                     properties: dict[str, Any], stack_id: str | None = None, *,
                     service_token: str | None = None) -> tuple[dict[str, Any], str]:
        """A Delete event (PhysicalResourceId)."""
        event, key = self._base_event("Delete", resource_type, logical_id, properties,
                                      stack_id, service_token, physical_id)
        event["PhysicalResourceId"] = physical_id
        return event, key

    # ---- answers ---------------------------------------------------------- #

    def answers(self, response_key: str) -> list[dict[str, Any]]:
        """Every answer PUT to the key, oldest first (parsed JSON; raw text if not JSON)."""
        listing = self.s3.list_object_versions(Bucket=self.bucket, Prefix=response_key)
        # S3 lists a key's versions newest first (LastModified has 1 s resolution,
        # so the listing order is the reliable one).
        versions = [v for v in listing.get("Versions", []) if v["Key"] == response_key]
        versions.reverse()
        result = []
        for version in versions:
            obj = self.s3.get_object(
                Bucket=self.bucket, Key=response_key, VersionId=version["VersionId"]
            )
            text = obj["Body"].read().decode("utf-8", "replace")
            try:
                result.append(json.loads(text))
            except ValueError:
                result.append({"_raw": text})
        return result

    def answer(self, response_key: str) -> dict[str, Any]:
        """The one answer PUT to the key (asserts there is exactly one)."""
        answers = self.answers(response_key)
        assert len(answers) == 1, (
            f"expected exactly one answer at {response_key}, got {len(answers)}: {answers}"
        )
        return answers[0]

