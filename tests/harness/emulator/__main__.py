"""The CLI: ``python -m tests.harness.emulator --port 4566`` serves the emulator until killed.

Python imports the package ``tests.harness.emulator`` before it runs this file as ``__main__``,
so the patches, settings and control state in use are those of the package's modules, installed
once; this file defines none of its own."""

from __future__ import annotations

import sys

from tests.harness.emulator import main

if __name__ == "__main__":
    main(sys.argv[1:])
