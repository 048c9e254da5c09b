"""An export folder with a subdirectory this user cannot list (permissions, a stale mount): the files
there were not audited, so the run must say so and must never come out clean. The tests run as root
here, where chmod 000 does not stop reading, so the refusal is produced where the operating system
would produce it: os.scandir raising PermissionError for that one directory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli

REPO = Path(__file__).resolve().parents[1]
S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"


@pytest.fixture
def export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "export"
    (root / "network").mkdir(parents=True)
    (root / "locked").mkdir()
    shutil.copy(S01, root / "network" / "estate.json")
    (root / "locked" / "route-tables.json").write_text("[]", "utf-8")
    real_scandir = os.scandir
    locked = str(root / "locked")

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return root


def test_an_unreadable_subdirectory_is_named_and_the_run_is_not_clean(export: Path) -> None:
    res = CliRunner().invoke(cli, ["audit", str(export), "--format", "json", "--fail-on", "never"])
    assert res.exit_code == 3, res.output   # the rest ran: incomplete, not an unreadable input
    assert "locked" in res.stderr and "unreadable directory" in res.stderr
    assert "Permission denied" in res.stderr


def test_the_readable_part_is_still_audited(export: Path) -> None:
    res = CliRunner().invoke(cli, ["audit", str(export), "--format", "json", "--fail-on", "never",
                                   "--allow-incomplete"])
    doc = json.loads(res.stdout)
    assert doc["findings"], "the estate beside the locked folder was audited"
    assert doc["coverage"]["complete"] is False
    assert any("locked" in json.dumps(s) for s in doc["coverage"]["skipped"])
