"""The local loop the README documents: `cargo lambda watch` serving a function under its own
Runtime API emulator, and `cargo lambda invoke` sending it a CloudFormation event, answered into
the emulator's S3. cargo lambda's Runtime API sends `Lambda-Runtime-Deadline-Ms` as the
timeout's duration, not an epoch time: the event must be answered, not timed out at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.harness.cfn import stack_id

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cargo_lambda_env() -> dict[str, str]:
    if not (VENV_BIN / "cargo-lambda").is_file():
        pytest.fail("cargo-lambda is missing from .venv: `make test` installs it (tools/requirements.txt)",
                    pytrace=False)
    return {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}


def test_cargo_lambda_watch_and_invoke_answer_a_cloudformation_event(cargo_lambda_env, emulator, cfn, ec2, tmp_path):
    port = free_port()
    variables = ",".join(f"{k}={v}" for k, v in {
        "AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}.items())
    log = open(tmp_path / "watch.log", "w+")
    watch = subprocess.Popen(
        ["cargo", "lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1",
         "--invoke-port", str(port), "--env-var", variables],
        cwd=REPO, env=cargo_lambda_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "starting Runtime server" not in (tmp_path / "watch.log").read_text():
            assert watch.poll() is None, (tmp_path / "watch.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "watch.log").read_text()
            time.sleep(0.2)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        event, key = cfn.create_event("Custom::PrivateLinkSecurityGroup", "Sg", {"VpcId": vpc}, stack_id())
        (tmp_path / "event.json").write_text(json.dumps(event))
        invoked = subprocess.run(
            ["cargo", "lambda", "invoke", "privatelink-security-group", "--data-file",
             str(tmp_path / "event.json"), "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
            cwd=REPO, env=cargo_lambda_env, capture_output=True, text=True, timeout=600)
        assert invoked.returncode == 0, invoked.stdout + invoked.stderr
        assert json.loads(invoked.stdout.strip().splitlines()[-1])["Status"] == "SUCCESS", invoked.stdout
        answer = cfn.answer(key)
        assert answer["Status"] == "SUCCESS", answer
        assert answer["PhysicalResourceId"].startswith("sg-")
        assert "using the default budget" in (tmp_path / "watch.log").read_text()
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        try:
            watch.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(watch.pid, signal.SIGKILL)
        log.close()
