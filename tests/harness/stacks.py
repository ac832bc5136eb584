"""CloudFormation's API for stacks of this project's templates, played on the emulator: what a
tool that calls CreateStack, DescribeStackEvents, DescribeStacks and DeleteStack (make connect)
meets, with the real functions serving the custom resources.

The emulator answers those calls (tests/harness/emulator/cloudformation.py) and hands CreateStack
and DeleteStack to a `StackService`, which plays the stack in a thread of its own with the stack
player (tests/harness/stack.py) and the local resources (tests/harness/local_aws.py), and writes
its events and statuses where DescribeStackEvents and DescribeStacks read them. As CloudFormation
does: the template is read from TemplateURL (an S3 URL, from the emulator's S3) or TemplateBody;
a template with IAM resources, in it or in a nested stack, needs CAPABILITY_IAM
(InsufficientCapabilitiesException); a resource that fails rolls the stack back
(ROLLBACK_IN_PROGRESS, what exists deleted, ROLLBACK_COMPLETE) and its Reason is its
CREATE_FAILED event's.

While a rollback deletes, DescribeStacks shows DELETE_IN_PROGRESS (the tests' CloudFormation
marks each Delete's start so: tests/harness/cfn.py), not ROLLBACK_IN_PROGRESS; a Delete's
verdict does not read the stack's status while its resource is DELETE_IN_PROGRESS.

UpdateStack updates what changed and cleans up what was replaced or removed (no update
rollback: a failure ends the update UPDATE_ROLLBACK_FAILED, saying so). Not played: change sets, stack policies, termination protection; see local_aws.py
for what each resource type leaves out."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cfnlint.decode import decode_str

from tests.harness.cfn import CloudFormation
from tests.harness.emulator.cloudformation import record_stack_event, set_stack_details
from tests.harness.emulator.control import CONTROL
from tests.harness.local_aws import LocalAws
from tests.harness.stack import ResourceFailed, StackPlayer, read_template
from tests.harness.template import parameter_defaults, parameter_problem

IAM_TYPES = ("AWS::IAM::",)


class StackService:
    """Plays the stacks the emulator's CloudFormation is asked to create."""

    class Refused(Exception):
        """CreateStack refused before anything is made: an AWS error code and its message."""

        def __init__(self, code: str, message: str):
            super().__init__(f"{code}: {message}")
            self.code = code
            self.message = message

    def __init__(self, emulator: Any, local: LocalAws, *, base: Path | None = None):
        self.emulator = emulator
        self.local = local
        self.cfn = CloudFormation(emulator.url)
        self.base = base or Path.cwd()
        self.players: dict[str, StackPlayer] = {}
        self.threads: list[threading.Thread] = []
        self.exports: dict[str, str] = {}
        self.texts: dict[str, str] = {}  # each stack's template, as last deployed

    def install(self) -> "StackService":
        CONTROL.stack_service = self
        return self

    def uninstall(self) -> None:
        CONTROL.stack_service = None
        for thread in self.threads:
            thread.join(timeout=60)

    # ---- reading templates ------------------------------------------------ #

    def fetch(self, url: str) -> str:
        """A template from an S3 URL (virtual-hosted `https://<bucket>.s3.<region>.<suffix>/<key>`
        or path-style), read from the emulator's S3."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ".s3." in host:
            bucket, key = host.split(".s3.")[0], parts.path.lstrip("/")
        else:
            bucket, _, key = parts.path.lstrip("/").partition("/")
        try:
            return self.local.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except self.local.s3.exceptions.ClientError as error:
            raise self.Refused("ValidationError", f"S3 error: Access Denied or not found: {url} "
                               f"({error.response['Error']['Code']})") from error

    def _needs_iam(self, text: str) -> bool:
        decoded, _ = decode_str(text)
        for resource in decoded.get("Resources", {}).values():
            if resource["Type"].startswith(IAM_TYPES):
                return True
            url = resource.get("Properties", {}).get("TemplateURL")
            if resource["Type"] == "AWS::CloudFormation::Stack" and isinstance(url, str):
                if self._needs_iam(read_template(url, self.base, self.fetch)):
                    return True
        return False

    # ---- the API ------------------------------------------------------------ #

    def _checked(self, template_url: str | None, template_body: str | None, parameters: dict[str, str],
                 capabilities: list[str]) -> str:
        """The template's text, once what CreateStack and UpdateStack refuse before acting is
        ruled out: a template that does not parse, parameters it does not take, IAM resources
        (in it or in a nested stack) without CAPABILITY_IAM."""
        text = template_body if template_body is not None else self.fetch(template_url or "")
        decoded, problems = decode_str(text)
        if problems:
            raise self.Refused("ValidationError", f"Template format error: {problems[0]}")
        problem = parameter_problem(decoded.get("Parameters", {}), parameters)
        if problem:
            raise self.Refused("ValidationError", problem)
        if self._needs_iam(text) and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(capabilities):
            raise self.Refused("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")
        return text

    def create_stack(self, name: str, template_url: str | None, template_body: str | None,
                     parameters: dict[str, str | None], capabilities: list[str]) -> str:
        if any(v is None for v in parameters.values()):
            raise self.Refused("ValidationError", "UsePreviousValue is for an update of a stack")
        given = {k: v for k, v in parameters.items() if v is not None}
        text = self._checked(template_url, template_body, given, capabilities)
        player = StackPlayer(text, given, self.exports, self.cfn,
                             lambda token, event, key: self.local.send(token, event, key, self.cfn),
                             self.local.play, name=name, base=self.base, fetch=self.fetch,
                             on_event=record_stack_event, others_update=self.local.update)
        problem = player.rule_problem()
        if problem:
            raise self.Refused("ValidationError", problem)
        set_stack_details(player.stack_id, status="CREATE_IN_PROGRESS", parameters=player.parameters)
        self.players[player.stack_id] = player
        self.texts[player.stack_id] = text
        self._start(self._create, player)
        return player.stack_id

    def update_stack(self, stack: str, template_url: str | None, template_body: str | None,
                     parameters: dict[str, str | None], capabilities: list[str]) -> None:
        player = self.players[stack]
        given = {k: player.parameters[k] if v is None else v for k, v in parameters.items()}
        text = self._checked(template_url, template_body, given, capabilities)
        if text == self.texts.get(stack) and parameter_defaults(decode_str(text)[0]) | given == player.parameters:
            raise self.Refused("ValidationError", "No updates are to be performed.")
        self.texts[stack] = text
        # In progress as soon as the call returns, as CloudFormation's stack is.
        set_stack_details(stack, status="UPDATE_IN_PROGRESS")
        self._start(lambda p: self._update(p, text, given), player)

    def _update(self, player: StackPlayer, text: str, parameters: dict[str, str]) -> None:
        try:
            player.update_all(text, parameters)
        except ResourceFailed as failure:
            record_stack_event(player.stack_id, player.stack_name, "AWS::CloudFormation::Stack",
                               "UPDATE_ROLLBACK_FAILED", player.stack_id,
                               f"{failure} (the tests' player does not roll an update back)")
            return
        set_stack_details(player.stack_id, parameters=player.parameters,
                          outputs={k: str(v) for k, v in player.outputs().items()})

    def delete_stack(self, stack: str) -> None:
        player = self.players.get(stack)
        if player is not None:
            set_stack_details(stack, status="DELETE_IN_PROGRESS")
            self._start(self._delete, player)

    def _start(self, work: Any, player: StackPlayer) -> None:
        thread = threading.Thread(target=work, args=(player,), name=f"stack-{player.stack_name}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def _create(self, player: StackPlayer) -> None:
        try:
            player.create_all()
        except ResourceFailed:
            stack = player.stack_id
            record_stack_event(stack, player.stack_name, "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS",
                               stack, "The following resource(s) failed to create: "
                               f"[{', '.join(self._failed(player))}]. Rollback requested by user.")
            try:
                player.delete_all(rollback=True)
            finally:
                record_stack_event(stack, player.stack_name, "AWS::CloudFormation::Stack",
                                   "ROLLBACK_COMPLETE", stack, None)
            return
        except Exception as error:  # a bug in the play: the stack fails, saying so
            record_stack_event(player.stack_id, player.stack_name, "AWS::CloudFormation::Stack",
                               "CREATE_FAILED", player.stack_id, f"the player failed: {error!r}")
            raise
        set_stack_details(player.stack_id, outputs={k: str(v) for k, v in player.outputs().items()})

    @staticmethod
    def _failed(player: StackPlayer) -> list[str]:
        with CONTROL.lock:
            events = list(CONTROL.stack_events.get(player.stack_id, []))
        return [e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "CREATE_FAILED"]

    def _delete(self, player: StackPlayer) -> None:
        try:
            player.delete_all()
        except ResourceFailed as failure:
            record_stack_event(player.stack_id, player.stack_name, "AWS::CloudFormation::Stack",
                               "DELETE_FAILED", player.stack_id, str(failure))
