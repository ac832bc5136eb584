"""Where a binary's bytes go, by crate, from the linker's map (`functions/link.rs` writes it when
`PRIVATELINK_LINK_MAP` is set): the accounting `cargo bloat --crates` gives, without a second
build with symbols.

The map names every input section the linker kept, with its size and the object it came from.
A section is counted for the crate its function's path starts with (as cargo-bloat does: a
generic function is counted where it is defined, `drop_in_place::<T>` for T's crate, a trait
impl for its type's crate); unwind tables (`.eh_frame`, `.gcc_except_table`) as "[unwind
tables]", kept because a panic must unwind; other sections without a Rust name (C code, data)
for the crate of their object file, except that after fat LTO every crate's constants and
static tables come from the binary's one object and are "[constants and tables]". What the
linker makes itself (`.eh_frame_hdr`, `.dynsym`, merged strings) is "[linker]". Only bytes the
file holds are counted (not `.bss`, nor the symbols the release profile strips)."""
from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

# lld's map: VMA LMA Size Align, then an output section at column 1, an input section
# (`object:(section)`) at column 9, or a symbol deeper.
LINE = re.compile(r"^\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (\s*)(\S.*)$")
INPUT = re.compile(r"^(.*):\((\S+)\)$")
# A Rust object after thin LTO: `<bin>-<hash>.<crate>-<hash>.<crate>.<hash>-cgu.N.rcgu.o`;
# the binary's own crate: `<bin>-<hash>.<bin>.<hash>-cgu.N.rcgu.o`.
RUST_OBJECT = re.compile(r"/[a-z0-9_]+-[0-9a-f]{16}\.(?:[a-z0-9_]+-[0-9a-f]{16}\.)?([a-z0-9_]+)\.[0-9a-f]+-cgu")
# A C library a build script made: `.../build/<crate>-<hash>/out/...`; an rlib or archive.
BUILD_OUT = re.compile(r"/build/([A-Za-z0-9_-]+?)-[0-9a-f]{16}/out/")
ARCHIVE = re.compile(r"/lib([A-Za-z0-9_-]+?)(?:-[0-9a-f]{16})?\.(?:rlib|a)\(")
MANGLED = re.compile(r"(_ZN[0-9A-Za-z_$.]+E|_R[0-9A-Za-z_]+)")
STD = {"std", "core", "alloc", "panic_unwind", "compiler_builtins", "rustc_demangle", "std_detect", "hashbrown",
       "gimli", "addr2line", "miniz_oxide", "adler2", "memchr", "object"}
# Output sections not in the deployed file: zero-filled at start, or the symbols and notes that
# the release profile strips (the map's build keeps them, to name functions in a profile).
NOT_IN_FILE = {".bss", ".tbss", ".symtab", ".strtab", ".shstrtab", ".comment"}


def crate_of_path(demangled: str) -> str | None:
    """The crate a demangled function path belongs to, as cargo-bloat counts it."""
    name = demangled
    # drop_in_place::<T> and friends: the type's crate says more than `core`.
    generic = re.match(r"^core::ptr::drop_in_place<(.*)>$", name)
    if generic:
        name = generic.group(1)
    while name.startswith(("<", "&", "(", "*const ", "*mut ", "dyn ", "[")):
        name = re.sub(r"^(<|&(mut )?|\(|\*const |\*mut |dyn |\[)", "", name)
    head = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)::", name)
    return head.group(1) if head else None


def crate_of_object(obj: str) -> str:
    for pattern in (RUST_OBJECT, BUILD_OUT, ARCHIVE):
        found = pattern.search(obj)
        if found:
            return found.group(1).replace("-", "_")
    if obj.startswith("<internal>") or obj.startswith("<"):
        return "[linker]"
    if "/usr/lib" in obj or "/lib/" in obj:
        return "[libc start-up]"
    return "[other]"


def demangle(names: list[str]) -> list[str]:
    if not names:
        return []
    out = subprocess.run(["c++filt", "--no-params"], input="\n".join(names), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    # Legacy Rust names end in `::h<hash>`.
    return [re.sub(r"::h[0-9a-f]{16}$", "", n) for n in out]


UNWIND = (".eh_frame", ".gcc_except_table")


def by_crate(map_file: Path) -> Counter[str]:
    """Bytes in the file by crate, from one linker map named after its package."""
    own = map_file.stem.replace("-", "_")
    sections: list[tuple[int, str, str]] = []  # size, object, input section
    output = ""
    for line in map_file.read_text(errors="replace").splitlines():
        row = LINE.match(line)
        if not row:
            continue
        size, indent, rest = int(row.group(1), 16), row.group(2), row.group(3)
        if not indent:
            output = rest
            continue
        if output in NOT_IN_FILE or output.startswith(".debug") or size == 0:
            continue
        source = INPUT.match(rest)
        if source:
            sections.append((size, source.group(1), source.group(2)))
        elif len(indent) <= 8:
            sections.append((size, "<internal>", rest))
    mangled = [MANGLED.search(section) for _, _, section in sections]
    names = demangle([m.group(1) for m in mangled if m])
    demangled = iter(names)
    totals: Counter[str] = Counter()
    for (size, obj, section), found in zip(sections, mangled):
        crate = crate_of_path(next(demangled)) if found else None
        if crate is None and section.startswith(UNWIND):
            crate = "[unwind tables]"
        elif crate is None:
            crate = crate_of_object(obj)
            crate = "[constants and tables]" if crate == own else crate
        totals["std" if crate in STD else crate] += size
    return totals


def report(maps: dict[str, Path], top: int = 12) -> dict[str, list[tuple[str, int]]]:
    """Each function's largest crates, biggest first (`[rest]` the others)."""
    result = {}
    for name, path in maps.items():
        totals = by_crate(path)
        biggest = totals.most_common(top)
        rest = sum(totals.values()) - sum(size for _, size in biggest)
        result[name] = [*biggest, ("[rest]", rest)]
    return result


if __name__ == "__main__":
    import sys

    for name, rows in report({Path(p).stem: Path(p) for p in sys.argv[1:]}).items():
        total = sum(size for _, size in rows)
        print(f"{name}: {total / 1e6:.2f} MB")
        for crate, size in rows:
            print(f"  {crate:32} {size / 1e6:7.3f} MB {100 * size / total:5.1f}%")
