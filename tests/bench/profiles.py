"""The release profile's choices, side by side: the four functions built from clean with each
variant of `[profile.release]` (LTO, codegen units, opt-level, through cargo's
CARGO_PROFILE_RELEASE_* variables, and a package's own opt-level through `--config`, so
Cargo.toml is not touched), one after the other on this
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
# codegen unit, stripped): KEY for CARGO_PROFILE_RELEASE_KEY, or `package.<crate>.<key>` for
# a package's own setting (`--config profile.release.package...`, the value as TOML).
AS_IS = "as is (z, fat LTO, 1 unit)"
VARIANTS: dict[str, dict[str, str]] = {
    AS_IS: {},
    "thin LTO, 16 units": {"LTO": "thin", "CODEGEN_UNITS": "16"},
    # The EC2 SDK is most of the code LLVM optimizes; its bitcode is optimized again at z by
    # the fat LTO of each binary, so its own pass is the one that may be cheapened.
    "EC2 SDK at opt-level 1 before fat LTO at z": {"package.aws-sdk-ec2.opt-level": "1"},
    # Each SDK crate is compiled whole, every operation of its API, but a function calls a few:
    # at opt-level 0 nothing is optimized before fat LTO, which keeps only what a binary reaches
    # and optimizes that at z.
    "SDK crates at opt-level 0 before fat LTO at z": {
        f"package.aws-sdk-{api}.opt-level": "0"
        for api in ("ec2", "ssm", "sfn", "cloudformation", "sns", "route53", "sts")},
    "opt-level s, fat LTO, 1 unit": {"OPT_LEVEL": "s"},
    "fat LTO, 16 units": {"CODEGEN_UNITS": "16"},
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
           **{f"CARGO_PROFILE_RELEASE_{k}": v for k, v in variant.items() if not k.startswith("package.")}}
    config = [arg for k, v in variant.items() if k.startswith("package.")
              for arg in ("--config", f"profile.release.{k}={v}")]
    for unwanted in ("RUSTC_WORKSPACE_WRAPPER", "CLIPPY_ARGS"):
        env.pop(unwanted, None)
    say(f"  {name}: cargo lambda build --release from clean into {target.relative_to(REPO)}")
    started = time.monotonic()
    subprocess.run(["cargo", "lambda", "build", "--release", "--x86-64", "--output-format", "zip", "--quiet",
                    "--timings", *config], cwd=REPO, env=env, check=True)
    seconds = time.monotonic() - started
    zips = {f: (target / "lambda" / f / "bootstrap.zip").stat().st_size for f in FUNCTIONS}
    # The build stays (its zips are those measured); the next measurement starts from clean.
    return {"seconds": seconds, "zips": zips, "key": key(variant), "target": str(target.relative_to(REPO)),
            "slowest_units": slowest_units(target / "cargo-timings" / "cargo-timing.html"),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def slowest_units(report: Path, count: int = 6) -> list[tuple[str, float]]:
    """The units that took longest in a build (cargo's --timings report): where a clean build's
    time goes. Each binary's unit includes its link, which is where fat LTO optimizes."""
    try:
        text = report.read_text()
        start = text.index("const UNIT_DATA = ") + len("const UNIT_DATA = ")
        units, _ = json.JSONDecoder().raw_decode(text[start:])
    except (OSError, ValueError):
        return []
    named = [(f"{u['name']}{' (build script)' if 'build-script' in u.get('target', '') else ''}", u["duration"])
             for u in units]
    return sorted(named, key=lambda unit: -unit[1])[:count]


def load() -> dict[str, Any]:
    try:
        return json.loads(RECORD.read_text())
    except (OSError, ValueError):
        return {}


def run(again: bool = False, only: list[str] | None = None) -> dict[str, Any]:
    """Each variant's figures, measured now where none are kept for this profile and lock file
    (of the variants named in `only`, when given; those kept are reported all the same)."""
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
        lines.append(f"| {name} | {row['seconds'] / 60:.1f} | {largest:,} | {'yes' if small_enough(row) else 'no'} |")
    for name, row in figures.items():
        if row.get("slowest_units"):
            lines.append(f"  slowest units, {name} (cargo --timings, s; a binary's includes its LTO link): " + ", ".join(
                f"{unit} {seconds:.0f}" for unit, seconds in row["slowest_units"]))
    return lines


def small_enough(row: dict[str, Any]) -> bool:
    return max(row["zips"].values()) <= ZIP_BUDGET


def fitting(figures: dict[str, Any], minutes: float) -> list[str]:
    """The variants that build within `minutes` with every zip within 3 MB."""
    return [name for name, row in figures.items() if row["seconds"] / 60 <= minutes and small_enough(row)]


def why_none_fits(figures: dict[str, Any], minutes: float) -> str:
    """The measured reason no variant builds within `minutes` with its zips within 3 MB: the
    fastest that keeps the zips small, and what it waits on longest."""
    small = [name for name, row in figures.items() if small_enough(row)]
    fastest = min(small or figures, key=lambda name: figures[name]["seconds"])
    row = figures[fastest]
    text = (f"why no profile fits {minutes:.0f} min: the fastest with every zip within 3 MB, {fastest}, "
            f"takes {row['seconds'] / 60:.1f} min" if small else
            f"why no profile fits: every variant measured has a zip over 3 MB; the fastest, {fastest}, "
            f"takes {row['seconds'] / 60:.1f} min")
    # The fastest's own timings, else another variant's (those of Dec 7 have none).
    timed = next((name for name in (fastest, *figures) if figures[name].get("slowest_units")), None)
    if timed:
        unit, seconds = figures[timed]["slowest_units"][0]
        where = "of it" if timed == fastest else f"in {timed}"
        text += (f"; {unit} alone takes {seconds / 60:.1f} min {where} ({seconds / figures[timed]['seconds']:.0%}), "
                 f"and everything after it waits (the core, then each function, link it)")
    missing = [name for name in VARIANTS if name not in figures]
    if missing:
        text += "; not measured: " + "; ".join(f"'{name}'" for name in missing)
    return text


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
