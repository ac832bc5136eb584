"""Runs the acceptance loop's state machine definition, state by state, as Step Functions would.

moto serves the Step Functions API (create, start, list, describe, stop) but does not run
executions. `run_loop` interprets the real definition file (`templates/acceptance-waiter.asl.json`)
with the JSONPath subset it uses, calling the real waiter binary for each Task, so a loop that
runs here proves the definition reads the fields the waiter writes (`Done`,
`PollIntervalSeconds`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

DEFINITION_FILE = Path(__file__).resolve().parent.parent.parent / "templates" / "acceptance-waiter.asl.json"
WAITER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:privatelink-acceptance-waiter"


def load_definition() -> dict[str, Any]:
    """The definition with the partition substituted, as the provider template's
    DefinitionSubstitutions do (the waiter's ARN stays a placeholder: `run_loop` calls the waiter
    it is given)."""
    return json.loads(DEFINITION_FILE.read_text().replace("${Partition}", "aws"))


def create_state_machine(sfn: Any, name: str) -> str:
    """Registers the definition in (emulated) Step Functions; returns its ARN."""
    # The provider template's DefinitionSubstitutions, as CloudFormation applies them.
    text = (DEFINITION_FILE.read_text().replace("${AcceptanceWaiterFunctionArn}", WAITER_ARN)
            .replace("${Partition}", "aws"))
    return sfn.create_state_machine(
        name=name, definition=text, roleArn="arn:aws:iam::123456789012:role/acceptance-loop",
    )["stateMachineArn"]


def path_get(data: Any, path: str) -> Any:
    """The JSONPath subset the definition uses: `$` and `$.Field`."""
    if path == "$":
        return data
    assert path.startswith("$.") and "." not in path[2:], path
    return data[path[2:]]


def run_loop(definition: dict[str, Any], waiter: Any, state: dict[str, Any], *,
             on_check: Callable[[int, dict[str, Any]], None] = lambda n, s: None,
             max_checks: int = 40, max_wait_s: float = 0.3) -> tuple[dict[str, Any], int]:
    """Runs the definition from its start to its end; returns the final state and the number of
    Checks. Waits are shortened to `max_wait_s`; `on_check(n, state)` runs after each Check."""
    name, data, checks = definition["StartAt"], state, 0
    while True:
        spec = definition["States"][name]
        if spec["Type"] == "Task":
            assert spec["Resource"] == "arn:aws:states:::lambda:invoke"
            payload = path_get(data, spec["Parameters"]["Payload.$"])
            invocation = waiter.invoke(payload)
            assert invocation.kind == "response", (invocation.kind, invocation.body)
            data = path_get({"Payload": invocation.body, "StatusCode": 200}, spec["OutputPath"])
            checks += 1
            assert checks <= max_checks, "the loop did not end"
            on_check(checks, data)
            name = spec["Next"]
        elif spec["Type"] == "Choice":
            name = next((c["Next"] for c in spec["Choices"]
                         if path_get(data, c["Variable"]) == c["BooleanEquals"]), spec["Default"])
        elif spec["Type"] == "Wait":
            time.sleep(min(float(path_get(data, spec["SecondsPath"])), max_wait_s))
            name = spec["Next"]
        elif spec["Type"] == "Succeed":
            return data, checks
        else:
            raise AssertionError(f"unexpected state type {spec['Type']}")
