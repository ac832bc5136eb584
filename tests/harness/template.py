"""CloudFormation's template evaluation, as far as this project's templates need it: parameters
(with their defaults), pseudo parameters, Conditions, and the intrinsic functions `Ref`,
`Fn::GetAtt`, `Fn::Sub`, `Fn::ImportValue`, `Fn::Join`, `Fn::Split`, `Fn::Select`, `Fn::If`,
`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`, and `AWS::NoValue`.

What a resource's `Ref` and attributes are, and what an import gives, depends on who evaluates:
the stack player (tests/harness/stack.py) knows the answers of the resources it made, the
contract tests (tests/test_contracts.py) only their shape. Subclasses say so by overriding
`resource_ref`, `get_att` and `import_value`."""

from __future__ import annotations

import re
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
PARTITION = "aws"

NO_VALUE = object()
"""`AWS::NoValue`: the property (or list item) it is the value of is left out."""


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    """Each parameter's default value (empty where it has none), as a string."""
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


def parameter_problem(declared: dict[str, Any], given: dict[str, str]) -> str | None:
    """What CloudFormation refuses in the parameters given to a template (CreateStack, UpdateStack,
    a nested stack's Parameters), in its words: a parameter the template does not declare, one
    without a default left out, a value outside AllowedValues or not matching AllowedPattern
    (the ConstraintDescription said instead, when the template gives one)."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        return f"Parameters: [{', '.join(unknown)}] do not exist in the template"
    missing = sorted(k for k, spec in declared.items() if "Default" not in spec and k not in given)
    if missing:
        return f"Parameters: [{', '.join(missing)}] must have values"
    for name, spec in declared.items():
        value = str(given.get(name, spec.get("Default", "")))
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(v) for v in allowed]:
            return f"Parameter '{name}' must be one of AllowedValues"
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            said = spec.get("ConstraintDescription")
            return (f"Parameter '{name}' failed to satisfy constraint: {said}" if said
                    else f"Parameter '{name}' must match pattern {pattern}")
    return None


class Evaluator:
    """A template with parameter values given (the rest take their defaults)."""

    stack_name = "stack"

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]):
        self.template = template
        self.parameters = parameter_defaults(template) | parameters

    # ---- what subclasses know ---------------------------------------------- #

    def resource_ref(self, name: str) -> Any:
        return f"<{name}>"

    def get_att(self, name: str, attribute: str) -> Any:
        return f"<{name}.{attribute}>"

    def import_value(self, name: str) -> Any:
        return f"<import {name}>"

    # ---- evaluation ---------------------------------------------------------- #

    def ref(self, name: str) -> Any:
        pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID,
                  "AWS::StackName": self.stack_name, "AWS::URLSuffix": "amazonaws.com",
                  "AWS::NoValue": NO_VALUE}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            kind = self.template["Parameters"][name]["Type"]
            value = self.parameters[name]
            return value.split(",") if kind.startswith("List<") or kind == "CommaDelimitedList" else value
        return self.resource_ref(name)

    def rule_problem(self) -> str | None:
        """The AssertDescription of the first of the template's Rules whose RuleCondition holds
        and whose assertion does not: CloudFormation refuses the stack with it."""
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self.resolve(assertion["Assert"]):
                    return str(assertion.get("AssertDescription", "Template rule not satisfied"))
        return None

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in variables:
                return str(variables[key])
            if "." in key and key.split(".")[0] in self.template["Resources"]:
                return str(self.get_att(*key.split(".", 1)))
            return str(self.ref(key))
        return re.sub(r"\$\{([\w:.]+)\}", one, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, value)
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def _get_att(ev: Evaluator, value: Any) -> Any:
    name, attribute = value if isinstance(value, list) else value.split(".", 1)
    return ev.get_att(name, attribute)


def _sub(ev: Evaluator, value: Any) -> Any:
    if isinstance(value, list):
        return ev.sub(value[0], {k: ev.resolve(v) for k, v in value[1].items()})
    return ev.sub(value, {})


def _if(ev: Evaluator, value: Any) -> Any:
    name, yes, no = value
    return ev.resolve(yes if ev.condition(name) else no)


_FUNCTIONS = {
    "Ref": lambda ev, v: ev.ref(v),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::ImportValue": lambda ev, v: ev.import_value(ev.resolve(v)),
    "Fn::Join": lambda ev, v: v[0].join(str(x) for x in ev.resolve(v[1])),
    "Fn::Split": lambda ev, v: str(ev.resolve(v[1])).split(v[0]),
    "Fn::Select": lambda ev, v: ev.resolve(v[1])[int(ev.resolve(v[0]))],
    "Fn::If": _if,
    "Fn::Equals": lambda ev, v: str(ev.resolve(v[0])) == str(ev.resolve(v[1])),
    "Fn::Not": lambda ev, v: not ev.resolve(v[0]),
    "Fn::And": lambda ev, v: all(ev.resolve(x) for x in v),
    "Fn::Or": lambda ev, v: any(ev.resolve(x) for x in v),
    "Condition": lambda ev, v: ev.condition(v),
}
