"""How the functions are built, where it matters in Lambda: what the binaries link, and how.

- One TLS stack and one crypto provider: rustls on ring, for the SDK's calls, the answer to
  CloudFormation and the validator's checks alike; nothing brings aws-lc (a C library, 1 MB of
  each binary) or a second rustls.
- Each function binary is linked at a fixed address (`functions/link.rs`): start-up applies no
  relocations, which were half of what a function ran before its first request for work.
- No function binary needs glibc's libm: the functions of it they call, `pow` and `exp`, are
  their own (`libm_shim.rs`: `pow`, `exp`), so the loader maps one shared library fewer at
  every cold start.

The last two are checked by tools/check_binaries.py, on the debug binaries here and on the zips
that ship wherever they are built (`make build`)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = ["privatelink-security-group", "privatelink-endpoint", "privatelink-acceptance-waiter",
             "privatelink-validator"]


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


def debug_binary(name: str) -> Path:
    binary = REPO / "target" / "debug" / name
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: build it first (cargo build --workspace)", pytrace=False)
    return binary


def check(*paths: Path) -> subprocess.CompletedProcess[str]:
    """tools/check_binaries.py, as `make build` runs it on the zips."""
    return subprocess.run([sys.executable, str(REPO / "tools" / "check_binaries.py"), *map(str, paths)],
                          capture_output=True, text=True)


def test_function_binaries_are_linked_at_a_fixed_address_and_need_no_libm() -> None:
    checked = check(*map(debug_binary, FUNCTIONS))
    assert checked.returncode == 0, checked.stderr


def test_the_checker_reads_the_libraries_each_binary_needs_as_readelf_does() -> None:
    # The checker reads DT_NEEDED itself (no binutils where `make build` runs); readelf, which
    # the Rust toolchain's linker brings here, says the same.
    sys.path.insert(0, str(REPO / "tools"))
    from check_binaries import needed  # noqa: PLC0415
    for binary in map(debug_binary, FUNCTIONS):
        dynamic = subprocess.run(["readelf", "--dynamic", "--wide", str(binary)], capture_output=True,
                                 text=True, check=True).stdout
        listed = [line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]
        assert listed and needed(binary) == listed, (binary, listed)


def test_the_zips_that_ship_are_checked_when_they_are_built() -> None:
    # `make build` (and the bench, which builds the same zips) runs the checker on every zip it
    # writes; here, the zips a previous build left are checked too.
    recipe = (REPO / "Makefile").read_text().split("\nbuild:", 1)[1].split("\n\n", 1)[0]
    assert "tools/check_binaries.py" in recipe and "bootstrap.zip" in recipe, recipe
    zips = [REPO / "target" / "lambda" / name / "bootstrap.zip" for name in FUNCTIONS]
    built = [z for z in zips if z.is_file()]
    if built:
        checked = check(*built)
        assert checked.returncode == 0, checked.stderr


def test_the_checker_refuses_a_binary_that_needs_libm_or_is_position_independent(tmp_path: Path) -> None:
    # rustc links std against libm and makes a position-independent executable by default:
    # both what the functions' binaries must not be.
    source = tmp_path / "uses_libm.rs"
    source.write_text("fn main() { let n = std::env::args().count() as f64; println!(\"{}\", n.powf(n + 0.5)); }\n")
    subprocess.run(["rustc", "-O", "-o", str(tmp_path / "uses_libm"), str(source)], check=True)
    with zipfile.ZipFile(tmp_path / "bootstrap.zip", "w") as archive:
        archive.write(tmp_path / "uses_libm", "bootstrap")
    checked = check(tmp_path / "bootstrap.zip")
    assert checked.returncode == 1
    assert "position-independent" in checked.stderr and "needs libm.so" in checked.stderr, checked.stderr


def test_the_static_check_accepts_only_a_binary_that_needs_no_loader_and_no_library(tmp_path: Path) -> None:
    # The release's validator command line must run on any x86_64 Linux: `make release` checks
    # it with `--static`. A rustc hello world, linked statically and not.
    source = tmp_path / "hello.rs"
    source.write_text('fn main() { println!("hello"); }\n')
    subprocess.run(["rustc", "-O", "-C", "target-feature=+crt-static", "-o", str(tmp_path / "static"),
                    str(source)], check=True)
    subprocess.run(["rustc", "-O", "-o", str(tmp_path / "dynamic"), str(source)], check=True)
    run = lambda *paths: subprocess.run(  # noqa: E731
        [sys.executable, str(REPO / "tools" / "check_binaries.py"), "--static", *map(str, paths)],
        capture_output=True, text=True)
    assert run(tmp_path / "static").returncode == 0
    refused = run(tmp_path / "dynamic", debug_binary("privatelink-validator"))
    assert refused.returncode == 1
    assert refused.stderr.count("needs a dynamic loader (PT_INTERP)") == 2, refused.stderr
    assert "libc.so.6" in refused.stderr, refused.stderr
