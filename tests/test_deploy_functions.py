"""`make deploy-functions`, the fast inner loop: `cargo lambda deploy` of the functions a deployed
stack made, by the names CloudFormation gave them, updating their code and nothing the stack
configured.

cargo lambda deploy, on a function that exists, calls UpdateFunctionConfiguration only for what
it is given (the command line or `[package.metadata.lambda.deploy]`) and what differs (cargo-lambda's
`update_function_config`), then UpdateFunctionCode. So what each function's Cargo.toml gives must
be what its template sets as a constant, and nothing the template leaves to a parameter or sets
itself (environment, role, VPC, layers): checked here with `cargo lambda deploy --dry`, which
prints the configuration it would apply."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

REPO = Path(__file__).resolve().parents[1]
CARGO_LAMBDA = REPO / ".venv" / "bin" / "cargo-lambda"


def makefile_pairs(variable: str) -> dict[str, str]:
    """`Logical=binary` pairs of a Makefile variable."""
    text = (REPO / "Makefile").read_text()
    line = re.search(rf"^{variable} := (.+)$", text, flags=re.M)
    assert line, f"no {variable} in the Makefile"
    return dict(pair.split("=", 1) for pair in line.group(1).split())


def template_functions(name: str) -> dict[str, dict[str, Any]]:
    template, problems = decode_str((REPO / "templates" / name).read_text())
    assert not problems
    return {logical: resource["Properties"] for logical, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Lambda::Function"}


DEPLOYED = [("functions.yaml", "STACK_FUNCTIONS"), ("validator.yaml", "VALIDATOR_FUNCTIONS")]


@pytest.mark.parametrize("template, variable", DEPLOYED)
def test_deploy_functions_names_every_function_of_the_stack_by_its_logical_id_and_binary(template, variable):
    functions = template_functions(template)
    binaries = {logical: re.search(r"target/lambda/([\w-]+)/", properties["Code"]).group(1)
                for logical, properties in functions.items()}
    assert makefile_pairs(variable) == binaries


def dry_run(binary: str, lambda_dir: Path) -> dict[str, Any]:
    (lambda_dir / binary).mkdir(parents=True, exist_ok=True)
    bootstrap = lambda_dir / binary / "bootstrap"
    if not bootstrap.exists():
        bootstrap.symlink_to(REPO / "target" / "debug" / binary)
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing"}
    done = subprocess.run([str(CARGO_LAMBDA), "lambda", "deploy", "--dry", "--lambda-dir", str(lambda_dir),
                           "--binary-name", binary, "--output-format", "json", "stack-made-name"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout[done.stdout.index("{"):])


@pytest.mark.parametrize("template, variable", DEPLOYED)
def test_cargo_lambda_deploy_would_change_nothing_the_stack_configured(template, variable, tmp_path):
    functions = template_functions(template)
    for logical, binary in makefile_pairs(variable).items():
        properties = functions[logical]
        plan = dry_run(binary, tmp_path)
        config = plan["config"]
        # The dry run names the binary it would deploy (the function is the positional NAME).
        assert plan["name"] == binary and plan["kind"] == "function"
        # What the stack owns is never given: cargo lambda then leaves it as it is.
        for owned in ("env_var", "env_file", "role", "layer", "description", "log_retention"):
            assert config[owned] is None, (binary, owned, config[owned])
        assert config["runtime"] == properties["Runtime"]
        assert config["memory"] == properties["MemorySize"], binary
        # A timeout from a parameter is the stack's to set: given, it would overwrite it.
        timeout = properties["Timeout"]
        assert config["timeout"] == (timeout if isinstance(timeout, int) else None), (binary, timeout)
        # No TracingConfig in the template is Lambda's PassThrough.
        expected = properties.get("TracingConfig", {}).get("Mode", "PassThrough")
        assert config["tracing"] in (None, expected), (binary, config["tracing"])
