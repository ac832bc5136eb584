"""Plays CloudFormation for a template whose resources are custom resources served by local
function binaries: reads the template, orders the resources by their references (leaving out
those whose Condition is false), resolves intrinsic functions (tests/harness/template.py) from
parameters, exports and earlier answers, sends real Create and Delete events through the
functions (under the Lambda Runtime API), with every scalar property a string as CloudFormation
sends them, and reads the answers back from pre-signed S3 URLs.

A nested stack (`AWS::CloudFormation::Stack`) is played by a player of its own, from its
TemplateURL (a local path, as `aws cloudformation package` takes it, or an S3 URL, read through
`fetch`); its outputs are the nested stack resource's `Outputs.<name>` attributes, and its
exports join the exports. Resources of other types are handed to `others(logical_id, type,
properties)`, which plays them (for example, invoking a schedule's target once) and returns their
physical id and attributes; attributes it does not give are placeholders.

`create_all` and `delete_all` play a stack's Create and Delete and tell `on_event` each resource
status on the way, as a stack's events show them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cfnlint.decode import decode_str

from tests.harness.cfn import CloudFormation, stack_id
from tests.harness.template import Evaluator, parameter_defaults, parameter_problem

Handler = Callable[[dict[str, Any], str], dict[str, Any]]
"""Sends an event to the function behind a ServiceToken; returns its answer."""

EventSink = Callable[[str, str, str, str, str | None, str | None], None]
"""(stack id, logical id, resource type, status, physical id, reason): one line of a stack's events."""


class ResourceFailed(AssertionError):
    """A resource's operation failed: what CloudFormation shows as <OPERATION>_FAILED."""

    def __init__(self, logical_id: str, reason: str, physical_id: str | None = None):
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason
        self.physical_id = physical_id


@dataclass
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)
    physical_id: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    nested: "StackPlayer | None" = None
    service_token: str | None = None


class StackPlayer(Evaluator):
    def __init__(self, template: Path | str, parameters: dict[str, str], exports: dict[str, str],
                 cfn: CloudFormation, send: Callable[[str, dict[str, Any], str], dict[str, Any]],
                 others: Callable[[str, str, dict[str, Any]], tuple[str, dict[str, str]]],
                 name: str = "consumer", *, base: Path | None = None,
                 fetch: Callable[[str], str] | None = None, on_event: EventSink | None = None,
                 others_update: Callable[[str, str, str, dict[str, Any]], tuple[str, dict[str, str]]] | None = None):
        """`template` is a path, or a template's text with `base` the directory its local
        paths are relative to."""
        if isinstance(template, Path):
            text, base = template.read_text(), template.parent
        else:
            text = template
        decoded, problems = decode_str(text)
        assert not problems, problems
        super().__init__(decoded, parameters)
        self.base = base or Path.cwd()
        self.fetch = fetch
        self.on_event = on_event or (lambda *_: None)
        self.exports = exports
        self.cfn = cfn
        self.send = send  # (service token, event, response key) -> answer
        self.others = others
        # (logical id, type, physical id, new properties) -> (physical id, attributes): an Update
        # of a resource that is not custom (default: it stays as it is).
        self.others_update = others_update or (lambda _l, _t, physical, _p: (physical, {}))
        self.stack_id = stack_id(name)
        self.stack_name = self.stack_id.split("/")[1]
        self.resources = {k: Resource(k, v["Type"]) for k, v in decoded["Resources"].items()}

    # ---- ordering --------------------------------------------------------- #

    def active(self, logical_id: str) -> bool:
        """Whether the resource is in the stack: no Condition, or a Condition that holds."""
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def order(self) -> list[str]:
        """The stack's resources in an order where each comes after what it references."""
        specs = {k: v for k, v in self.template["Resources"].items() if self.active(k)}
        deps = {k: self._references(v) | set(_as_list(v.get("DependsOn", []))) for k, v in specs.items()}
        ordered: list[str] = []
        while len(ordered) < len(deps):
            ready = [k for k in deps if k not in ordered and deps[k] <= set(ordered)]
            assert ready, f"circular references among {set(deps) - set(ordered)}"
            ordered.extend(sorted(ready))
        return ordered

    def _references(self, node: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                # Only the branch the condition takes is evaluated (and waited for).
                name, yes, no = node["Fn::If"]
                return self._references(yes if self.condition(name) else no)
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
        if attribute not in resource.data and not resource.type.startswith(("Custom::", "AWS::CloudFormation::")):
            return f"<{name}.{attribute}>"  # an attribute the local play does not model
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
        if resource.type == "AWS::CloudFormation::Stack":
            return self._create_nested(resource)
        if not resource.type.startswith("Custom::"):
            resource.physical_id, resource.data = self.others(logical_id, resource.type, properties)
            return resource
        token = properties.pop("ServiceToken")
        resource.service_token = token
        event, key = self.cfn.create_event(resource.type, logical_id, properties, self.stack_id,
                                           service_token=token)
        answer = self.send(token, event, key)
        if answer["Status"] != "SUCCESS":
            raise ResourceFailed(logical_id, str(answer.get("Reason")))
        resource.physical_id = answer["PhysicalResourceId"]
        resource.data = answer.get("Data", {})
        return resource

    def _create_nested(self, resource: Resource) -> Resource:
        text = read_template(str(resource.properties["TemplateURL"]), self.base, self.fetch)
        parameters = self._nested_parameters(resource.logical_id, resource.properties, text)
        child = StackPlayer(text, parameters, self.exports, self.cfn, self.send, self.others,
                            name=f"{self.stack_name}-{resource.logical_id}-{uuid.uuid4().hex[:12].upper()}",
                            base=self.base, fetch=self.fetch, on_event=self.on_event,
                            others_update=self.others_update)
        problem = child.rule_problem()
        if problem:
            raise ResourceFailed(resource.logical_id, problem)
        resource.nested = child
        resource.physical_id = child.stack_id
        try:
            child.create_all()
        except ResourceFailed as failure:
            # As CloudFormation says it: the nested stack's own events hold the reason.
            raise ResourceFailed(resource.logical_id, f"Embedded stack {child.stack_id} was not successfully "
                                 f"created: The following resource(s) failed to create: [{failure.logical_id}]. ",
                                 physical_id=child.stack_id) from failure
        resource.data = {f"Outputs.{k}": v for k, v in child.outputs().items()}
        return resource

    @staticmethod
    def _nested_parameters(logical_id: str, properties: dict[str, Any], text: str) -> dict[str, str]:
        """A nested stack's Parameters, checked as CloudFormation checks them: strings (or
        numbers and booleans, sent as strings) only, and what its template accepts."""
        given = properties.get("Parameters", {})
        lists = sorted(k for k, v in given.items() if isinstance(v, (list, dict)))
        if lists:
            raise ResourceFailed(logical_id, "Value of property Parameters must be an object with String "
                                 f"(or simple type) properties ({', '.join(lists)})")
        parameters = {k: _as_sent(v) for k, v in given.items()}
        decoded, problems = decode_str(text)
        assert not problems, problems
        problem = parameter_problem(decoded.get("Parameters", {}), parameters)
        if problem:
            raise ResourceFailed(logical_id, problem)
        return parameters

    def delete(self, logical_id: str) -> dict[str, Any] | None:
        resource = self.resources[logical_id]
        if resource.nested is not None:
            resource.nested.delete_all()
            return None
        if not resource.type.startswith("Custom::") or resource.physical_id is None:
            return None
        token = self.resolve(self.template["Resources"][logical_id]["Properties"]["ServiceToken"])
        event, key = self.cfn.delete_event(resource.type, logical_id, resource.physical_id,
                                           resource.properties, self.stack_id, service_token=token)
        answer = self.send(token, event, key)
        if answer["Status"] != "SUCCESS":
            raise ResourceFailed(logical_id, str(answer.get("Reason")))
        return answer

    def create_all(self) -> None:
        """Creates every resource in order, telling `on_event`; raises ResourceFailed at the first
        that fails (the caller rolls back with `delete_all`)."""
        self.on_event(self.stack_id, self.stack_name, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS",
                      self.stack_id, "User Initiated")
        for logical_id in self.order():
            self._create_told(logical_id)
        self.on_event(self.stack_id, self.stack_name, "AWS::CloudFormation::Stack", "CREATE_COMPLETE",
                      self.stack_id, None)

    def _create_told(self, logical_id: str) -> None:
        """Creates one resource, telling `on_event` its CREATE_* lines."""
        kind = self.resources[logical_id].type
        self.on_event(self.stack_id, logical_id, kind, "CREATE_IN_PROGRESS", None, None)
        try:
            resource = self.create(logical_id)
        except ResourceFailed as failure:
            self.on_event(self.stack_id, logical_id, kind, "CREATE_FAILED", failure.physical_id, failure.reason)
            raise
        self.on_event(self.stack_id, logical_id, kind, "CREATE_COMPLETE", resource.physical_id, None)

    def delete_all(self, *, rollback: bool = False) -> None:
        """Deletes what exists, in reverse order, telling `on_event` (a rollback's stack lines are
        the caller's: ROLLBACK_IN_PROGRESS and ROLLBACK_COMPLETE)."""
        if not rollback:
            self.on_event(self.stack_id, self.stack_name, "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS",
                          self.stack_id, None)
        for logical_id in reversed(self.order()):
            resource = self.resources[logical_id]
            if resource.physical_id is None:
                continue
            self.on_event(self.stack_id, logical_id, resource.type, "DELETE_IN_PROGRESS", resource.physical_id, None)
            try:
                self.delete(logical_id)
            except ResourceFailed as failure:
                self.on_event(self.stack_id, logical_id, resource.type, "DELETE_FAILED", resource.physical_id,
                              failure.reason)
                raise
            self.on_event(self.stack_id, logical_id, resource.type, "DELETE_COMPLETE", resource.physical_id, None)
            resource.physical_id = None
        if not rollback:
            self.on_event(self.stack_id, self.stack_name, "AWS::CloudFormation::Stack", "DELETE_COMPLETE",
                          self.stack_id, None)

    def update_all(self, template: str, parameters: dict[str, str]) -> None:
        """Updates the stack to `template` with `parameters` as CloudFormation does: each resource
        whose properties changed is updated (a custom resource gets an Update event; an answer
        with another physical id replaced it), new ones are created, and then, in the cleanup,
        the replaced and the removed ones are deleted. Raises ResourceFailed at the first
        failure (no update rollback is played)."""
        decoded, problems = decode_str(template)
        assert not problems, problems
        before = {k: (r.type, r.properties, r.physical_id, r.service_token) for k, r in self.resources.items()}
        self.template = decoded
        self.parameters = parameter_defaults(decoded) | parameters
        self.resources = {k: self.resources.get(k) or Resource(k, v["Type"]) for k, v in decoded["Resources"].items()}
        stack = (self.stack_id, self.stack_name, "AWS::CloudFormation::Stack")
        self.on_event(stack[0], stack[1], stack[2], "UPDATE_IN_PROGRESS", self.stack_id, "User Initiated")
        cleanup: list[tuple[str, str, str, dict[str, Any]]] = []  # (logical id, type, physical id, properties)
        for logical_id in self.order():
            resource = self.resources[logical_id]
            if resource.physical_id is None:
                self._create_told(logical_id)
                continue
            spec = decoded["Resources"][logical_id]
            properties = self.resolve(spec.get("Properties", {}))
            token = None
            if resource.type.startswith("Custom::"):
                properties = _as_sent(properties)
                token = properties.pop("ServiceToken")
            if properties == resource.properties and token == resource.service_token:
                continue
            self.on_event(self.stack_id, logical_id, resource.type, "UPDATE_IN_PROGRESS", resource.physical_id, None)
            old_properties, old_physical = resource.properties, resource.physical_id
            if resource.nested is not None:
                text = read_template(str(properties["TemplateURL"]), self.base, self.fetch)
                resource.nested.update_all(text, self._nested_parameters(logical_id, properties, text))
                resource.data = {f"Outputs.{k}": v for k, v in resource.nested.outputs().items()}
            elif resource.type.startswith("Custom::"):
                assert token == resource.service_token, f"{logical_id}: CloudFormation refuses a new ServiceToken"
                event, key = self.cfn.update_event(resource.type, logical_id, old_physical, properties,
                                                   old_properties, self.stack_id, service_token=token)
                answer = self.send(token, event, key)
                if answer["Status"] != "SUCCESS":
                    self.on_event(self.stack_id, logical_id, resource.type, "UPDATE_FAILED", old_physical,
                                  answer.get("Reason"))
                    raise ResourceFailed(logical_id, str(answer.get("Reason")))
                resource.physical_id = answer["PhysicalResourceId"]
                resource.data = answer.get("Data", {})
                if resource.physical_id != old_physical:
                    cleanup.append((logical_id, resource.type, old_physical, {**old_properties, "ServiceToken": token}))
            else:
                resource.physical_id, data = self.others_update(logical_id, resource.type, old_physical, properties)
                resource.data = data or resource.data
            resource.properties = properties
            self.on_event(self.stack_id, logical_id, resource.type, "UPDATE_COMPLETE", resource.physical_id, None)
        removed = [(k, kind, physical, {**props, "ServiceToken": token})
                   for k, (kind, props, physical, token) in before.items()
                   if k not in decoded["Resources"] and physical is not None]
        self.on_event(stack[0], stack[1], stack[2], "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", self.stack_id, None)
        for logical_id, kind, physical, props in cleanup + removed:
            if kind.startswith("Custom::"):
                token = props["ServiceToken"]
                event, key = self.cfn.delete_event(kind, logical_id, physical,
                                                   {k: v for k, v in props.items() if k != "ServiceToken"},
                                                   self.stack_id, service_token=token)
                self.send(token, event, key)
            self.on_event(self.stack_id, logical_id, kind, "DELETE_COMPLETE", physical, None)
        self.on_event(stack[0], stack[1], stack[2], "UPDATE_COMPLETE", self.stack_id, None)

    def outputs(self) -> dict[str, Any]:
        """The outputs whose Condition holds; the exported ones join the exports."""
        result = {}
        for key, spec in self.template.get("Outputs", {}).items():
            if "Condition" in spec and not self.condition(spec["Condition"]):
                continue
            result[key] = self.resolve(spec["Value"])
            if "Export" in spec:
                self.exports[str(self.resolve(spec["Export"]["Name"]))] = result[key]
        return result


def read_template(url: str, base: Path, fetch: Callable[[str], str] | None) -> str:
    """A nested stack's template from its TemplateURL: an S3 URL (read through `fetch`), or a
    local path relative to `base`, as `aws cloudformation package` takes it."""
    if url.startswith("https://"):
        assert fetch is not None, f"no way to read {url}"
        return fetch(url)
    return (base / url).read_text()


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
