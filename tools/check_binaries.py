"""Checks the function binaries as Lambda will load them, where it matters for start-up:

- linked at a fixed address (an ELF `ET_EXEC`, `functions/link.rs`): start-up applies no
  relocations, which were half of what a function ran before its first request for work;
- no glibc libm among the shared libraries they need: `pow` and `exp` are their own
  (`functions/core/src/libm_shim.rs`), so the loader maps one library fewer at every cold start.

Takes binaries or the bootstrap zips cargo lambda writes (the binaries that ship):

    python tools/check_binaries.py target/lambda/*/bootstrap.zip

With `--static`, checks instead that each binary is statically linked (the validator command line
of a release, `privatelink-validator-x86_64-linux`, runs on any x86_64 Linux): no program
interpreter (PT_INTERP: the dynamic loader) and no shared library needed.

Exit 0 when every one passes, 1 naming each that does not. Reads the ELF headers itself: no
binutils needed. `make build` runs it on the zips it
writes; `tests/test_build.py` runs it on the debug binaries, the zips when they are built, and on
a binary that needs libm, to see it refused."""

from __future__ import annotations

import struct
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


def static_problems(path: Path) -> list[str]:
    """What keeps the binary at `path` from running without the system's shared libraries."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return ["not an ELF file"]
    found = []
    if any(kind == PT_INTERP for kind, *_ in program_headers(data)):
        found.append("needs a dynamic loader (PT_INTERP)")
    libraries = needed(path)
    if libraries:
        found.append(f"needs {', '.join(libraries)}")
    return found


def program_headers(data: bytes) -> list[tuple[int, int, int, int, int, int]]:
    """(type, flags, offset, vaddr, paddr, filesz) of each program header."""
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return [struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize) for i in range(phnum)]


PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5


def needed(path: Path) -> list[str]:
    """The shared libraries the binary names (DT_NEEDED), read from its dynamic section as the
    loader reads it (64-bit little-endian ELF, what Lambda runs), so that no binutils is needed.
    A static binary names none."""
    data = path.read_bytes()
    if data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    headers = program_headers(data)
    loads = [(vaddr, offset, filesz) for kind, _, offset, vaddr, _, filesz in headers if kind == PT_LOAD]
    dynamic = next(((offset, filesz) for kind, _, offset, _, _, filesz in headers if kind == PT_DYNAMIC), None)
    if dynamic is None:
        return []
    entries = []
    for at in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, value = struct.unpack_from("<qQ", data, at)
        if tag == DT_NULL:
            break
        entries.append((tag, value))
    strtab_vaddr = next(value for tag, value in entries if tag == DT_STRTAB)
    # DT_STRTAB is an address: the loaded segment that holds it says where it is in the file.
    strtab = next(offset + strtab_vaddr - vaddr for vaddr, offset, filesz in loads
                  if vaddr <= strtab_vaddr < vaddr + filesz)
    return [data[strtab + value:data.index(b"\0", strtab + value)].decode()
            for tag, value in entries if tag == DT_NEEDED]


def main(paths: list[str]) -> int:
    check = problems
    if paths[:1] == ["--static"]:
        check, paths = static_problems, paths[1:]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for path in map(Path, paths):
        found = check(path)
        failed += bool(found)
        print(f"{path}: {'; '.join(found) if found else 'ok'}", file=sys.stderr if found else sys.stdout)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
