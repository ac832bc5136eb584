"""`make bench-ci`: the developers' loop from a clean clone, side by side with the build it
cannot avoid. Two fresh clones of the committed HEAD, one after the other on this machine: in
the first, `cargo build --workspace` (what `make demo` needs) from an empty target directory; in
the second, `make test` (what CI runs, `.ci/run`) from an empty target directory and without a
`.venv`. The figure is the ratio; the budget, at most 2x.

Each run is written to target/bench/ci-<time>.json and target/bench/ci-latest.json; `make bench`
prints the latest beside its own rows. Uncommitted changes are not measured (a clone has none).
The clones share this machine's pip and cargo download caches, as a CI runner with caches would;
a first run on a new machine also downloads.

    python -m tests.bench.ci [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TARGET = REPO / "target" / "bench"
BUDGET_RATIO = 2.0


def say(text: str) -> None:
    print(text, flush=True)


def clone(into: Path) -> str:
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(into)], check=True)
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=into, capture_output=True, text=True,
                          check=True).stdout.strip()


def timed(command: list[str], cwd: Path, log: Path) -> tuple[float, int]:
    # Nothing of this shell's own build settings leaks in: each clone builds as CI would.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER", "CLIPPY_ARGS", "VIRTUAL_ENV"))}
    env["CI"] = "true"
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    return time.monotonic() - started, code


def previous() -> dict[str, Any] | None:
    latest = TARGET / "ci-latest.json"
    try:
        return json.loads(latest.read_text())
    except (OSError, ValueError):
        return None


def verdict_line(record: dict[str, Any]) -> str:
    return (f"make test from a clean clone <= {BUDGET_RATIO:.0f}x one clean cargo build --workspace: "
            f"{record['ratio']:.2f}x (make test {record['test_s'] / 60:.1f} min, build {record['build_s'] / 60:.1f} min; "
            f"{record['commit']}, {record['when']})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the clones (target/bench/ci/...)")
    args = parser.parse_args()
    work = TARGET / "ci" / time.strftime("%Y%m%dT%H%M%S")
    work.mkdir(parents=True)
    say(f"clean clones in {work.relative_to(REPO)}: cargo build --workspace, then make test (about half an hour here)")
    commit = clone(work / "build")
    build_s, build_code = timed(["cargo", "build", "--workspace"], work / "build", work / "build.log")
    say(f"  cargo build --workspace: {build_s / 60:.1f} min (exit {build_code})")
    clone(work / "test")
    test_s, test_code = timed(["make", "test"], work / "test", work / "test.log")
    say(f"  make test: {test_s / 60:.1f} min (exit {test_code})")
    before = previous()
    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit,
        "cores": os.cpu_count(),
        "build_s": build_s,
        "test_s": test_s,
        "ratio": test_s / build_s,
        "passed": build_code == 0 and test_code == 0,
        "within": build_code == 0 and test_code == 0 and test_s / build_s <= BUDGET_RATIO,
        "test_tail": (work / "test.log").read_text(errors="replace").splitlines()[-5:],
    }
    out = TARGET / f"ci-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(record, indent=2))
    (TARGET / "ci-latest.json").write_text(out.read_text())
    was = {True: "within", False: "OVER", None: "-"}[before["within"] if before else None]
    say(f"\n  {'within' if record['within'] else 'OVER  '}  {verdict_line(record)}  (previous run: {was})")
    if not record["passed"]:
        say("  make test failed: " + " | ".join(record["test_tail"]))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
