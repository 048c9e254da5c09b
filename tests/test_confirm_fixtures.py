"""The confirm-stage fixtures are generated, deterministic, and documented where they came from."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.parametrize("tool", ["make_captures.py", "make_flowlogs.py"])
def test_generators_reproduce_the_checked_in_files(tool: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "fixtures" / "tools" / tool), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_real_files_have_provenance() -> None:
    for folder in (REPO / "fixtures" / "captures" / "real", REPO / "fixtures" / "flowlogs" / "real"):
        text = (folder / "PROVENANCE.md").read_text()
        for f in folder.iterdir():
            if f.name != "PROVENANCE.md":
                assert f.name in text, f"{f.name} has no provenance line"
