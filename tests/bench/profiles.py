"""The release profile's choices, side by side: the four functions built from clean with each
variant of `[profile.release]` (LTO, codegen units, opt-level, through cargo's
CARGO_PROFILE_RELEASE_* variables, so Cargo.toml is not touched), one after the other on this
machine, each into a target directory of its own; the build's time and each zip's size.

A clean build is 10-20 minutes here, so each variant's figures are kept in
target/bench/profiles.json under the key of what they depend on (the profile as Cargo.toml has
it, the lock file, the variant) and measured again only when that changes, or with
`python -m tests.bench.profiles --again`. The variant the profile has now is measured the same
way, in the same run, so the ratios compare like with like.

    python -m tests.bench.profiles [--again] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
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
RECORD = TARGET / "profiles.json"
FUNCTIONS = ["privatelink-security-group", "privatelink-endpoint", "privatelink-acceptance-waiter",
             "privatelink-validator"]
ZIP_BUDGET = 3_000_000

# name -> the profile's settings beside Cargo.toml's [profile.release] (opt-level z, fat LTO, one
# codegen unit, stripped).
VARIANTS: dict[str, dict[str, str]] = {
    "as is (z, fat LTO, 1 unit)": {},
    "thin LTO, 16 units": {"LTO": "thin", "CODEGEN_UNITS": "16"},
    "fat LTO, 16 units": {"CODEGEN_UNITS": "16"},
    "opt-level s, fat LTO, 1 unit": {"OPT_LEVEL": "s"},
}


def say(text: str) -> None:
    print(text, flush=True)


def key(variant: dict[str, str]) -> str:
    manifest = (REPO / "Cargo.toml").read_text()
    profile = manifest[manifest.find("[profile.release]"):]
    text = profile + (REPO / "Cargo.lock").read_text() + json.dumps(variant, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def measure(name: str, variant: dict[str, str]) -> dict[str, Any]:
    target = TARGET / "profiles" / hashlib.sha256(name.encode()).hexdigest()[:8]
    shutil.rmtree(target, ignore_errors=True)
    env = {**os.environ, "CARGO_TARGET_DIR": str(target),
           "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
           **{f"CARGO_PROFILE_RELEASE_{k}": v for k, v in variant.items()}}
    for unwanted in ("RUSTC_WORKSPACE_WRAPPER", "CLIPPY_ARGS"):
        env.pop(unwanted, None)
    say(f"  {name}: cargo lambda build --release from clean into {target.relative_to(REPO)}")
    started = time.monotonic()
    subprocess.run(["cargo", "lambda", "build", "--release", "--x86-64", "--output-format", "zip", "--quiet"],
                   cwd=REPO, env=env, check=True)
    seconds = time.monotonic() - started
    zips = {f: (target / "lambda" / f / "bootstrap.zip").stat().st_size for f in FUNCTIONS}
    # The build stays (its zips are those measured); the next measurement starts from clean.
    return {"seconds": seconds, "zips": zips, "key": key(variant), "target": str(target.relative_to(REPO)),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def load() -> dict[str, Any]:
    try:
        return json.loads(RECORD.read_text())
    except (OSError, ValueError):
        return {}


def run(again: bool = False, only: list[str] | None = None) -> dict[str, Any]:
    """Each variant's figures, measured now where none are kept for this profile and lock file."""
    record = load()
    for name, variant in VARIANTS.items():
        if only and name not in only:
            continue
        kept = record.get(name)
        if again or not kept or kept.get("key") != key(variant):
            record[name] = measure(name, variant)
            RECORD.parent.mkdir(parents=True, exist_ok=True)
            RECORD.write_text(json.dumps(record, indent=2))
    return {name: record[name] for name in VARIANTS if name in record and record[name].get("key") == key(VARIANTS[name])}


def describe(figures: dict[str, Any]) -> list[str]:
    lines = ["| release profile | clean build of the four, min | largest zip, bytes | all zips within 3 MB |",
             "|---|---|---|---|"]
    for name, row in figures.items():
        largest = max(row["zips"].values())
        lines.append(f"| {name} | {row['seconds'] / 60:.1f} | {largest:,} | {'yes' if largest <= ZIP_BUDGET else 'no'} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--again", action="store_true")
    parser.add_argument("--only", nargs="*", help="variant names (as in VARIANTS)")
    args = parser.parse_args()
    say("release profile variants, each from clean, one after the other (10-20 minutes each here)")
    print("\n".join(describe(run(args.again, args.only))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
