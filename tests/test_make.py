"""What the Makefile's deploy targets would run (`make -n`, every prerequisite remade with -B):
deploying installs what deploying needs and nothing of the test tools, and makes its artifacts
bucket when none is given."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_TOOLS = ["tests/requirements.txt", "tools/scan-requirements.txt", "peer/requirements.txt"]


def dry_run(*args: str) -> str:
    return subprocess.run(["make", "-n", "-B", *args], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("target", [
    ["deploy"],
    ["deploy-validator", "VPC_ID=vpc-1", "SUBNET_IDS=subnet-1,subnet-2"],
    ["deploy-functions"],
    ["stackset-upload", "CODE_BUCKET_PREFIX=code", "REGIONS=us-east-1"],
    ["release"],
    ["publish", "BUCKET_PREFIX=code", "REGIONS=us-east-1"],
    ["connect", "SERVICE_NAME=com.amazonaws.vpce.us-east-1.vpce-svc-1", "VPC_ID=vpc-1", "SUBNET_IDS=subnet-1"],
], ids=lambda t: t[0])
def test_deploying_installs_no_test_tool(target: list[str]) -> None:
    commands = dry_run(*target)
    assert "tools/requirements.txt" in commands, commands
    installed = [tools for tools in TEST_TOOLS if tools in commands]
    assert not installed, commands


def test_with_no_bucket_deploying_makes_one_named_for_the_account_and_region() -> None:
    commands = dry_run("deploy")
    assert 'bucket="privatelink-lambdas-artifacts-$account-$region"' in commands, commands
    assert 'aws s3 mb "s3://$bucket"' in commands
    # A bucket of the guessable name is used only when this account owns it.
    assert '--expected-bucket-owner "$account"' in commands
    assert '--s3-bucket "$bucket"' in commands


def test_a_bucket_given_is_used_as_it_is() -> None:
    commands = dry_run("deploy-validator", "BUCKET=my-artifacts", "VPC_ID=vpc-1", "SUBNET_IDS=subnet-1")
    assert 'bucket="my-artifacts"' in commands and '--s3-bucket "$bucket"' in commands, commands


def test_deploy_functions_updates_the_functions_the_stacks_made_by_their_names():
    commands = dry_run("deploy-functions", "FUNCTIONS_STACK=partner-functions")
    assert '--stack-name "partner-functions" --logical-resource-id "${pair%%=*}"' in commands, commands
    assert 'cargo lambda deploy --binary-name "${pair#*=}" "$name"' in commands
    # Never a function of its own (which needs a role): only one the stack made.
    assert "--iam-role" not in commands
