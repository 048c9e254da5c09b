"""The wheel is complete: rule catalog, KQL, demo estate and JSON Schema ship inside it, and an
installed pathaudit finds them without the source checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 and "hatchling" in proc.stderr:
        pytest.skip("hatchling is not installed in this environment")
    assert proc.returncode == 0, proc.stderr
    return next(out.glob("pathaudit-*.whl"))


def test_wheel_ships_catalog_checks_demo_and_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    rules = {
        p.relative_to(REPO / "rules").as_posix()
        for p in (REPO / "rules").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert {"NET001/rule.yaml", "NET001/check.py", "NET001/fail/resources.json"} <= rules
    assert {f"auditor/_data/rules/{r}" for r in rules} <= names
    assert "auditor/schemas/rule.schema.json" in names
    kql = {p.relative_to(REPO / "checks").as_posix() for p in (REPO / "checks").rglob("*.kql")}
    assert {f"auditor/_data/checks/{k}" for k in kql} <= names
    assert "auditor/_data/demo-contoso/resources.json" in names
    assert "auditor/schemas/findings-v2.schema.json" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_audits_the_bundled_demo(wheel: Path, tmp_path: Path) -> None:
    """Unpack the wheel (no pip install needed) and run it from a directory without the checkout."""
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "audit", "--demo", "--format", "json", "--fail-on", "never"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "bundled demo estate" in proc.stderr
    assert str(target) in proc.stderr  # the demo came from the wheel, not the source tree
    assert '"rule_id": "NET001"' in proc.stdout
