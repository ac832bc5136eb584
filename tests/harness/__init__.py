"""Test harness: an AWS emulator (moto, extended), a Lambda Runtime API and a
CloudFormation custom-resource driver, used by the pytest suites in tests/."""

import tomllib
from pathlib import Path

VERSION: str = tomllib.loads((Path(__file__).resolve().parents[2] / "Cargo.toml").read_text())[
    "workspace"]["package"]["version"]
"""The project's version, as the workspace gives it to every function."""
