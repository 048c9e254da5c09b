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
    assert res.exit_code == 3, res.output  # the rest ran: incomplete, not an unreadable input
    assert "locked" in res.stderr and "unreadable directory" in res.stderr
    assert "Permission denied" in res.stderr


def test_the_readable_part_is_still_audited(export: Path) -> None:
    res = CliRunner().invoke(
        cli, ["audit", str(export), "--format", "json", "--fail-on", "never", "--allow-incomplete"]
    )
    doc = json.loads(res.stdout)
    assert doc["findings"], "the estate beside the locked folder was audited"
    assert doc["coverage"]["complete"] is False
    assert any("locked" in json.dumps(s) for s in doc["coverage"]["skipped"])


def test_the_named_directory_itself_unreadable_is_an_unreadable_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = tmp_path / "export"
    top.mkdir()
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) == str(top):
            raise PermissionError(13, "Permission denied", str(top))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    res = CliRunner().invoke(cli, ["audit", str(top), "--format", "json", "--fail-on", "never"])
    assert res.exit_code == 2, res.output
    assert "unreadable directory" in res.stderr


def test_a_linked_directory_out_of_the_folder_is_named_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text('[{"id": "/subscriptions/x", "type": "t", "name": "leak"}]', "utf-8")
    root = tmp_path / "export"
    root.mkdir()
    shutil.copy(S01, root / "estate.json")
    (root / "sub").mkdir()
    (root / "away").symlink_to(outside, target_is_directory=True)
    (root / "again").symlink_to(root / "sub", target_is_directory=True)  # inside: walked at its target
    res = CliRunner().invoke(cli, ["audit", str(root), "--format", "json", "--fail-on", "never"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    skipped = {Path(p["file"]).name: p["problem"] for p in doc["coverage"]["skipped"]}
    assert "outside" in skipped["away"] and "again" not in skipped
    assert "leak" not in res.stdout
