"""`make demo` keeps working: the whole scenario, run as a person runs it, exits 0 and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_plays_the_whole_scenario_and_leaves_nothing_behind():
    done = subprocess.run([sys.executable, "-m", "tests.demo"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for milestone in ("templates/quickstart.yaml", "Functions CREATE_COMPLETE", "Validator CREATE_COMPLETE",
                      "is pendingAcceptance", "Partner: accepts the connection request",
                      "the acceptance topic woke the loop",
                      "<- SUCCESS vpce-", "Private DNS is on", "EMF api.partner.com",
                      "the gate passed", "Nothing is left behind"):
        assert milestone in out, f"{milestone!r} missing from:\n{out}"
