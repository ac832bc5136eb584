"""Plays CloudFormation for a template whose resources are custom resources served by local
function binaries: reads the template, orders the resources by their references, resolves
intrinsic functions (tests/harness/template.py) from parameters, exports and earlier answers,
sends real Create and Delete events through the functions (under the Lambda Runtime API), with
every scalar property a string as CloudFormation sends them, and reads the answers back from
pre-signed S3 URLs.

Resources of other types are handed to `others(logical_id, type, properties)`, which plays them
(for example, invoking a schedule's target once) and returns their physical id and attributes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cfnlint.decode import decode_str

from tests.harness.cfn import CloudFormation, stack_id
from tests.harness.template import Evaluator

Handler = Callable[[dict[str, Any], str], dict[str, Any]]
"""Sends an event to the function behind a ServiceToken; returns its answer."""


@dataclass
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)
    physical_id: str | None = None
    data: dict[str, str] = field(default_factory=dict)


class StackPlayer(Evaluator):
    def __init__(self, template: Path, parameters: dict[str, str], exports: dict[str, str],
                 cfn: CloudFormation, send: Callable[[str, dict[str, Any], str], dict[str, Any]],
                 others: Callable[[str, str, dict[str, Any]], tuple[str, dict[str, str]]],
                 name: str = "consumer"):
        decoded, problems = decode_str(template.read_text())
        assert not problems, problems
        super().__init__(decoded, parameters)
        self.exports = exports
        self.cfn = cfn
        self.send = send  # (service token, event, response key) -> answer
        self.others = others
        self.stack_id = stack_id(name)
        self.stack_name = self.stack_id.split("/")[1]
        self.resources = {k: Resource(k, v["Type"]) for k, v in decoded["Resources"].items()}

    # ---- ordering --------------------------------------------------------- #

    def order(self) -> list[str]:
        """Resources in an order where each comes after what it references."""
        deps = {k: self._references(v) | set(_as_list(v.get("DependsOn", [])))
                for k, v in self.template["Resources"].items()}
        ordered: list[str] = []
        while len(ordered) < len(deps):
            ready = [k for k in deps if k not in ordered and deps[k] <= set(ordered)]
            assert ready, f"circular references among {set(deps) - set(ordered)}"
            ordered.extend(sorted(ready))
        return ordered

    def _references(self, node: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and value in self.template["Resources"]:
                    found.add(value)
                elif key == "Fn::GetAtt":
                    found.add(value[0] if isinstance(value, list) else value.split(".")[0])
                elif key == "Fn::Sub":
                    text = value[0] if isinstance(value, list) else value
                    found |= {m.split(".")[0] for m in re.findall(r"\$\{([\w.]+)\}", text)} & set(self.template["Resources"])
                found |= self._references(value)
        elif isinstance(node, list):
            for item in node:
                found |= self._references(item)
        return found

    # ---- what the evaluator asks of the stack -------------------------------- #

    def resource_ref(self, name: str) -> Any:
        resource = self.resources[name]
        assert resource.physical_id, f"{name} is referenced before it exists"
        return resource.physical_id

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.resources[name]
        assert attribute in resource.data, f"{name} has no attribute {attribute}: {resource.data}"
        return resource.data[attribute]

    def import_value(self, name: str) -> Any:
        assert name in self.exports, f"no export named {name}"
        return self.exports[name]

    # ---- lifecycle -------------------------------------------------------- #

    def create(self, logical_id: str) -> Resource:
        spec = self.template["Resources"][logical_id]
        resource = self.resources[logical_id]
        properties = self.resolve(spec.get("Properties", {}))
        if resource.type.startswith("Custom::"):
            properties = _as_sent(properties)
        resource.properties = properties
        if not resource.type.startswith("Custom::"):
            resource.physical_id, resource.data = self.others(logical_id, resource.type, properties)
            return resource
        token = properties.pop("ServiceToken")
        event, key = self.cfn.create_event(resource.type, logical_id, properties, self.stack_id,
                                           service_token=token)
        answer = self.send(token, event, key)
        assert answer["Status"] == "SUCCESS", f"{logical_id}: {answer.get('Reason')}"
        resource.physical_id = answer["PhysicalResourceId"]
        resource.data = answer.get("Data", {})
        return resource

    def delete(self, logical_id: str) -> dict[str, Any] | None:
        resource = self.resources[logical_id]
        if not resource.type.startswith("Custom::") or resource.physical_id is None:
            return None
        token = self.resolve(self.template["Resources"][logical_id]["Properties"]["ServiceToken"])
        event, key = self.cfn.delete_event(resource.type, logical_id, resource.physical_id,
                                           resource.properties, self.stack_id, service_token=token)
        answer = self.send(token, event, key)
        assert answer["Status"] == "SUCCESS", f"{logical_id}: {answer.get('Reason')}"
        return answer

    def outputs(self) -> dict[str, Any]:
        return {k: self.resolve(v["Value"]) for k, v in self.template.get("Outputs", {}).items()}


def _as_sent(node: Any) -> Any:
    """Properties as CloudFormation sends them to a custom resource: every scalar a string."""
    if isinstance(node, dict):
        return {k: _as_sent(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_sent(v) for v in node]
    if isinstance(node, bool):
        return "true" if node else "false"
    return node if isinstance(node, str) else str(node)


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]
