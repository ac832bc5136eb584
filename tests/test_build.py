"""How the functions are built, where it matters in Lambda: what the binaries link, and how.

- One TLS stack and one crypto provider: rustls on ring, for the SDK's calls, the answer to
  CloudFormation and the validator's checks alike; nothing brings aws-lc (a C library, 1 MB of
  each binary) or a second rustls.
- Each function binary is linked at a fixed address (`functions/link.rs`): start-up applies no
  relocations, which were half of what a function ran before its first request for work.
- No function binary needs glibc's libm: the functions of it they call, `pow` and `exp`, are
  their own (`libm_shim.rs`: `pow`, `exp`), so the loader maps one shared library fewer at
  every cold start."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = ["privatelink-security-group", "privatelink-endpoint", "privatelink-acceptance-waiter",
             "privatelink-validator"]
ET_EXEC, ET_DYN = 2, 3


def linked_packages() -> list[str]:
    """`name version` of every package a function links (build and dev dependencies apart)."""
    out = subprocess.run(["cargo", "tree", "--workspace", "--locked", "--edges", "normal", "--prefix", "none",
                          "--format", "{p}", "--target", "x86_64-unknown-linux-gnu"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    return sorted({" ".join(line.split()[:2]) for line in out.splitlines() if line.strip()})


def test_functions_link_one_tls_stack_on_ring_and_no_aws_lc() -> None:
    packages = linked_packages()
    names = [p.split()[0] for p in packages]
    assert not [p for p in packages if p.startswith("aws-lc")], packages
    assert names.count("rustls") == 1, [p for p in packages if p.startswith("rustls ")]
    assert "ring" in names
    assert "openssl" not in names and "native-tls" not in names


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_binary_is_linked_at_a_fixed_address(name: str) -> None:
    binary = REPO / "target" / "debug" / name
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: build it first (cargo build --workspace)", pytrace=False)
    header = binary.read_bytes()[:18]
    assert header[:4] == b"\x7fELF"
    elf_type = int.from_bytes(header[16:18], "little")
    assert elf_type == ET_EXEC, f"{name} is {'a position-independent executable' if elf_type == ET_DYN else elf_type}"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_binary_needs_no_libm(name: str) -> None:
    binary = REPO / "target" / "debug" / name
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: build it first (cargo build --workspace)", pytrace=False)
    dynamic = subprocess.run(["readelf", "--dynamic", "--wide", str(binary)], capture_output=True, text=True,
                             check=True).stdout
    needed = [line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]
    assert needed and not [lib for lib in needed if lib.startswith("libm.")], needed
