"""The wheel is complete: rule catalog, KQL, demo estate, JSON Schema, licence and type marker ship
inside it, an installed pathaudit finds them without the source checkout, and it depends only on what
it imports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
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


def test_wheel_ships_license_and_type_marker(wheel: Path) -> None:
    """MIT licence text in the dist-info (License-File metadata) and the PEP 561 marker, so type
    checkers use pathaudit's annotations."""
    zf = zipfile.ZipFile(wheel)
    names = set(zf.namelist())
    assert "auditor/py.typed" in names
    [licence] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert zf.read(licence) == (REPO / "LICENSE").read_bytes()
    assert b"MIT License" in zf.read(licence) and b"pathaudit developers" in zf.read(licence)
    [meta] = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zf.read(meta).decode()
    assert "License-File: LICENSE" in text


def requirements(wheel: Path) -> tuple[set[str], set[str]]:
    """(runtime, test-extra) requirement names of the wheel's metadata."""
    zf = zipfile.ZipFile(wheel)
    [meta] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
    runtime, test = set(), set()
    for line in zf.read(meta).decode().splitlines():
        if line.startswith("Requires-Dist: "):
            spec = line.removeprefix("Requires-Dist: ")
            name = re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].lower()
            (test if "extra == 'test'" in spec else runtime).add(name)
    return runtime, test


def test_runtime_dependencies_are_what_the_package_imports(wheel: Path) -> None:
    """pyarrow, scapy and networkx are not imported by an installed pathaudit (DuckDB writes Parquet,
    captures are parsed with struct, DOT needs no graph library): tests only."""
    runtime, test = requirements(wheel)
    assert not {"pyarrow", "scapy", "networkx"} & runtime
    assert {"scapy", "networkx"} <= test
    imported = set()
    for path in (REPO / "auditor").rglob("*.py"):
        for m in re.finditer(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", path.read_text(), re.M):
            imported.add(m.group(1).lower())
    for gone in ("pyarrow", "scapy", "networkx"):
        assert gone not in imported, f"auditor imports {gone}, which is no runtime dependency"


def test_sdist_ships_license_and_container_files(tmp_path: Path) -> None:
    hatchling = pytest.importorskip("hatchling.build")
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        name = hatchling.build_sdist(str(tmp_path))
    finally:
        os.chdir(cwd)
    with tarfile.open(tmp_path / name) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {
        "LICENSE",
        "Dockerfile",
        ".dockerignore",
        "action.yml",
        "auditor/py.typed",
        "pyproject.toml",
    } <= names
    assert not any(n.startswith((".venv/", ".git/", "tests/artifacts/")) for n in names)


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
