"""Checks the function binaries as Lambda will load them, where it matters for start-up:

- linked at a fixed address (an ELF `ET_EXEC`, `functions/link.rs`): start-up applies no
  relocations, which were half of what a function ran before its first request for work;
- no glibc libm among the shared libraries they need: `pow` and `exp` are their own
  (`functions/core/src/libm_shim.rs`), so the loader maps one library fewer at every cold start.

Takes binaries or the bootstrap zips cargo lambda writes (the binaries that ship):

    python tools/check_binaries.py target/lambda/*/bootstrap.zip

Exit 0 when every one passes, 1 naming each that does not. `make build` runs it on the zips it
writes; `tests/test_build.py` runs it on the debug binaries, the zips when they are built, and on
a binary that needs libm, to see it refused."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ET_EXEC, ET_DYN = 2, 3


def problems(path: Path) -> list[str]:
    """What is wrong with the binary at `path` (or with the `bootstrap` inside a zip)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as into:
            return problems(Path(archive.extract("bootstrap", into)))
    header = path.read_bytes()[:18]
    if header[:4] != b"\x7fELF":
        return ["not an ELF file"]
    found = []
    elf_type = int.from_bytes(header[16:18], "little")
    if elf_type != ET_EXEC:
        found.append("a position-independent executable" if elf_type == ET_DYN
                     else f"of ELF type {elf_type}, not linked at a fixed address")
    libm = [lib for lib in needed(path) if lib.startswith("libm.")]
    if libm:
        found.append(f"needs {', '.join(libm)}")
    return found


def needed(path: Path) -> list[str]:
    """The shared libraries the binary names (DT_NEEDED)."""
    dynamic = subprocess.run(["readelf", "--dynamic", "--wide", str(path)], capture_output=True, text=True,
                             check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for path in map(Path, paths):
        found = problems(path)
        failed += bool(found)
        print(f"{path}: {'; '.join(found) if found else 'ok'}", file=sys.stderr if found else sys.stdout)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
