"""Runs the acceptance loop's state machine definition, state by state, as Step Functions would.

moto serves the Step Functions API (create, start, list, describe, stop) but does not run
executions (without its parser, which invokes Lambda through Docker), and its
GetExecutionHistory and SendTaskSuccess answer canned data and nothing. `run_loop` interprets
the real definition file (`templates/acceptance-waiter.asl.json`) with the JSONPath subset it
uses, calling the real waiter binary for each Task, so a loop that runs here proves the
definition reads the fields the waiter writes (`Done`, `SleepSeconds`). Given the execution's
ARN, it also keeps the execution's history and its task tokens where the emulator serves them
(`install_patches`), as AWS does:

- GetExecutionHistory: the events written so far (Step Functions API Reference,
  "GetExecutionHistory", `reverseOrder` and `maxResults`; `HistoryEvent`, whose
  `taskScheduledEventDetails.parameters` is the task's rendered parameters as a JSON string);
- SendTaskSuccess: ends the open task of that token at once; a token whose task has ended
  answers `TaskTimedOut`, an unknown one `InvalidToken` (API Reference, "SendTaskSuccess");
- a `.waitForTaskToken` Task waits for its token until `TimeoutSecondsPath`, then fails with
  `States.Timeout`, which a Catch may take (Developer Guide, "Wait for a Callback with Task
  Token", "Handling errors in Step Functions workflows")."""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

DEFINITION_FILE = Path(__file__).resolve().parent.parent.parent / "templates" / "acceptance-waiter.asl.json"
WAITER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:privatelink-acceptance-waiter"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
LAMBDA_INVOKE_WAIT = "arn:aws:states:::lambda:invoke.waitForTaskToken"


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


def render(template: Any, data: Any, token: str | None) -> Any:
    """A Task's `Parameters`: keys ending in `.$` take the value at their path (`$$.Task.Token`,
    the context object's task token, or a path of the state's input)."""
    if isinstance(template, dict):
        rendered = {}
        for key, value in template.items():
            if key.endswith(".$"):
                assert value in ("$$.Task.Token",) or value.startswith("$"), value
                rendered[key[:-2]] = token if value == "$$.Task.Token" else path_get(data, value)
            else:
                rendered[key] = render(value, data, token)
        return rendered
    return template


def result_path(data: dict[str, Any], path: str | None, result: Any) -> dict[str, Any]:
    """Puts a result (or a caught error) at `ResultPath`: null keeps the input as it is."""
    if path is None:
        return data
    assert path.startswith("$.") and "." not in path[2:], path
    return {**data, path[2:]: result}


class _Execution:
    """An execution's history and open task token, as the emulator serves them."""

    def __init__(self, arn: str):
        self.arn = arn
        self.events: list[dict[str, Any]] = []
        self.open_token: str | None = None
        self.closed_tokens: set[str] = set()
        self.woken = threading.Event()

    def add(self, kind: str, **details: Any) -> None:
        event = {"timestamp": datetime.datetime.now(datetime.timezone.utc), "type": kind,
                 "id": len(self.events) + 1, "previousEventId": len(self.events), **details}
        self.events.append(event)


_LOCK = threading.Lock()
_EXECUTIONS: dict[str, _Execution] = {}
_TOKENS: dict[str, _Execution] = {}


def execution_history(execution_arn: str) -> list[dict[str, Any]]:
    """The events `run_loop` wrote for an execution, oldest first."""
    with _LOCK:
        return list(_EXECUTIONS[execution_arn].events)


def sleep_endings(execution_arn: str) -> list[str]:
    """How each Sleep of an execution `run_loop` ran ended, in order: "woken" (its token was sent)
    or "timed out"."""
    types = [e["type"] for e in execution_history(execution_arn)]
    endings = {"TaskSucceeded": "woken", "TaskTimedOut": "timed out"}
    # Only a `.waitForTaskToken` task is submitted before it ends (see `run_loop`).
    return [endings[types[at + 1]] for at, kind in enumerate(types) if kind == "TaskSubmitted"]


def _open_sleep(execution: _Execution) -> str:
    token = f"token-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    with _LOCK:
        execution.open_token = token
        execution.woken.clear()
        _TOKENS[token] = execution
    return token


def _close_sleep(execution: _Execution) -> bool:
    """Ends the Sleep; True when its token was sent (woken), False when it timed out."""
    with _LOCK:
        woken = execution.woken.is_set()
        if execution.open_token:
            execution.closed_tokens.add(execution.open_token)
        execution.open_token = None
        return woken


def send_task_success(token: str) -> None:
    """SendTaskSuccess as the emulator serves it."""
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.exceptions import InvalidToken

    class TaskTimedOut(AWSError):
        TYPE = "TaskTimedOut"
        STATUS = 400

    with _LOCK:
        execution = _TOKENS.get(token)
        if execution is None:
            raise InvalidToken()
        if execution.open_token != token or execution.woken.is_set():
            raise TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")
        execution.woken.set()


def _resp_get_execution_history(self: Any) -> Any:
    from moto.core.responses import ActionResult

    arn = self._get_param("executionArn")
    with _LOCK:
        execution = _EXECUTIONS.get(arn)
        events = list(execution.events) if execution else None
    if events is None:
        return _orig_get_execution_history(self)
    if self._get_param("reverseOrder"):
        events.reverse()
    limit = self._get_int_param("maxResults") or 1000
    return ActionResult({"events": events[:limit]})


def _resp_send_task_success(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    send_task_success(self._get_param("taskToken"))
    return EmptyResult()


_orig_get_execution_history: Any = None


def install_patches() -> None:
    """Serve GetExecutionHistory and SendTaskSuccess from the executions `run_loop` runs."""
    global _orig_get_execution_history
    from moto.stepfunctions.responses import StepFunctionResponse

    if _orig_get_execution_history is None:
        _orig_get_execution_history = StepFunctionResponse.get_execution_history
    StepFunctionResponse.get_execution_history = _resp_get_execution_history  # type: ignore[method-assign]
    StepFunctionResponse.send_task_success = _resp_send_task_success  # type: ignore[method-assign]


def _finish_in_moto(execution_arn: str) -> None:
    """Marks moto's execution SUCCEEDED (ListExecutions with statusFilter RUNNING drops it)."""
    from moto.stepfunctions.models import stepfunctions_backends

    for account in list(stepfunctions_backends):
        for region in list(stepfunctions_backends[account]):
            backend = stepfunctions_backends[account][region]
            for machine in backend.state_machines:
                for execution in machine.executions:
                    if execution.execution_arn == execution_arn:
                        execution.status = "SUCCEEDED"
                        execution.stop_date = datetime.datetime.now(datetime.timezone.utc)


def run_loop(definition: dict[str, Any], waiter: Any, state: dict[str, Any], *,
             on_check: Callable[[int, dict[str, Any]], None] = lambda n, s: None,
             max_checks: int = 40, max_wait_s: float = 0.3,
             execution_arn: str | None = None) -> tuple[dict[str, Any], int]:
    """Runs the definition from its start to its end; returns the final state and the number of
    Checks. Waits and Sleeps are shortened to `max_wait_s`; `on_check(n, state)` runs after each
    Check. With `execution_arn`, the history and the Sleeps' tokens are the emulator's to serve
    (`execution_history` reads them), and moto's execution ends with the loop."""
    execution = _Execution(execution_arn or f"unnamed-{uuid.uuid4().hex}")
    with _LOCK:
        _EXECUTIONS[execution.arn] = execution
    execution.add("ExecutionStarted")
    name, data, checks = definition["StartAt"], state, 0
    while True:
        spec = definition["States"][name]
        if spec["Type"] == "Task" and spec["Resource"] == LAMBDA_INVOKE:
            execution.add("TaskStateEntered", stateEnteredEventDetails={"name": name})
            parameters = render(spec["Parameters"], data, None)
            execution.add("TaskScheduled", taskScheduledEventDetails={
                "resourceType": "lambda", "resource": "invoke", "region": "us-east-1",
                "parameters": json.dumps(parameters)})
            execution.add("TaskStarted")
            invocation = waiter.invoke(parameters["Payload"])
            assert invocation.kind == "response", (invocation.kind, invocation.body)
            execution.add("TaskSucceeded")
            execution.add("TaskStateExited", stateExitedEventDetails={"name": name})
            data = path_get({"Payload": invocation.body, "StatusCode": 200}, spec["OutputPath"])
            checks += 1
            assert checks <= max_checks, "the loop did not end"
            on_check(checks, data)
            name = spec["Next"]
        elif spec["Type"] == "Task" and spec["Resource"] == LAMBDA_INVOKE_WAIT:
            execution.add("TaskStateEntered", stateEnteredEventDetails={"name": name})
            token = _open_sleep(execution)
            parameters = render(spec["Parameters"], data, token)
            execution.add("TaskScheduled", taskScheduledEventDetails={
                "resourceType": "lambda", "resource": "invoke.waitForTaskToken",
                "region": "us-east-1", "parameters": json.dumps(parameters)})
            execution.add("TaskStarted")
            invocation = waiter.invoke(parameters["Payload"])  # InvocationType Event: no wait
            assert invocation.kind == "response", (invocation.kind, invocation.body)
            execution.add("TaskSubmitted")
            timeout = float(path_get(data, spec["TimeoutSecondsPath"]))
            assert timeout >= 1, timeout
            execution.woken.wait(min(timeout, max_wait_s))
            if _close_sleep(execution):
                execution.add("TaskSucceeded")
                execution.add("TaskStateExited", stateExitedEventDetails={"name": name})
                data = result_path(data, spec.get("ResultPath", "$"), {})
                name = spec["Next"]
            else:
                error = {"Error": "States.Timeout", "Cause": None}
                execution.add("TaskTimedOut", taskTimedOutEventDetails={"error": "States.Timeout"})
                catcher = next(c for c in spec["Catch"]
                               if "States.Timeout" in c["ErrorEquals"] or "States.ALL" in c["ErrorEquals"])
                data = result_path(data, catcher.get("ResultPath", "$"), error)
                name = catcher["Next"]
        elif spec["Type"] == "Choice":
            execution.add("ChoiceStateEntered", stateEnteredEventDetails={"name": name})
            name = next((c["Next"] for c in spec["Choices"]
                         if path_get(data, c["Variable"]) == c["BooleanEquals"]), spec["Default"])
        elif spec["Type"] == "Wait":
            execution.add("WaitStateEntered", stateEnteredEventDetails={"name": name})
            time.sleep(min(float(path_get(data, spec["SecondsPath"])), max_wait_s))
            name = spec["Next"]
        elif spec["Type"] == "Succeed":
            execution.add("ExecutionSucceeded")
            if execution_arn:
                _finish_in_moto(execution_arn)
            return data, checks
        else:
            raise AssertionError(f"unexpected state type {spec['Type']}")
