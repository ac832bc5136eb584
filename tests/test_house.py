"""The house's shape, as docs/architecture.md (the site's Architecture page) draws it, checked
the way anyone could with grep: the library's modules stand in layers and import only down (or
across, without a circle), and files hold one idea each (a size past which a file has always
held more than one)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "functions" / "core" / "src"

# The layers, bottom up (docs/architecture.md): binaries stand on `serve`, which stands on the
# resources, which stand on the protocol and AWS, which stand on the leaves.
LAYERS = [
    {"aws", "lambda", "text", "error", "libm_shim"},
    {"cfn", "ec2", "route53", "properties"},
    {"endpoint", "security_group", "validation"},
    {"serve"},
]
LAYER = {module: level for level, modules in enumerate(LAYERS) for module in modules}
MAX_RUST_LINES = 600
MAX_HARNESS_LINES = 800
MAX_VALIDATOR_MAIN_LINES = 100


def rust_files() -> list[Path]:
    return sorted((REPO / "functions").rglob("*.rs"))


def top_module(path: Path) -> str:
    return path.relative_to(CORE).parts[0].removesuffix(".rs")


def code(path: Path) -> str:
    """The file without its comments (a doc link may name any module)."""
    return "\n".join(line.split("//", 1)[0] for line in path.read_text().splitlines())


def imports() -> dict[str, set[str]]:
    """Each top module of the library: the other top modules its code names (`crate::x`)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in CORE.rglob("*.rs"):
        if path.name == "lib.rs":
            continue
        module = top_module(path)
        found[module] |= set(re.findall(r"\bcrate::(\w+)", code(path))) - {module}
    return found


def test_every_module_of_the_library_has_a_layer() -> None:
    modules = {top_module(p) for p in CORE.iterdir() if p.name != "lib.rs"}
    assert modules == set(LAYER), f"give each module a layer (here and in docs/architecture.md): {modules ^ set(LAYER)}"


def test_architecture_page_draws_each_module_in_its_layer() -> None:
    drawing = (REPO / "docs" / "architecture.md").read_text().split("## Layers", 1)[1].split("## Codemap", 1)[0]
    rows = [line for line in drawing.splitlines() if line.strip().startswith(("serve[", "resources[", "protocol[", "leaves["))]
    assert len(rows) == len(LAYERS), rows
    for modules, row in zip(reversed(LAYERS), rows):
        missing = [m for m in sorted(modules) if re.search(rf"\b{m}\b", row) is None]
        assert not missing, f"{row}: {missing}"


def test_no_module_imports_one_above_it() -> None:
    upward = [f"{m} (layer {LAYER[m]}) -> {n} (layer {LAYER[n]})"
              for m, names in sorted(imports().items()) for n in sorted(names) if LAYER[n] > LAYER[m]]
    assert not upward, upward


def test_no_import_circle_among_the_modules_of_a_layer() -> None:
    graph = imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert not circles, circles


@pytest.mark.parametrize("path", rust_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_rust_file_is_over_600_lines_before_its_tests(path: Path) -> None:
    lines = path.read_text().splitlines()
    before_tests = next((i for i, line in enumerate(lines) if line.startswith("#[cfg(test)]")), len(lines))
    assert before_tests <= MAX_RUST_LINES, f"{before_tests} lines: split it by idea"


def test_the_validators_main_is_at_most_100_lines() -> None:
    lines = len((REPO / "functions" / "validator" / "src" / "main.rs").read_text().splitlines())
    assert lines <= MAX_VALIDATOR_MAIN_LINES, lines


def test_no_harness_file_is_over_800_lines() -> None:
    long = {str(p.relative_to(REPO)): n for p in (REPO / "tests" / "harness").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_HARNESS_LINES}
    assert not long, long
