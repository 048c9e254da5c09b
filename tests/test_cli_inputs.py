"""Bad inputs and destinations: one line naming the file and what to do instead, exit 2.

A missing file, a Bicep file or an ARM template (real ones, from Azure/azure-quickstart-templates:
tests/fixtures_real/arm-templates/PROVENANCE.md) given instead of an export, and an --out that cannot
be written (under a file, in a read-only folder), checked before any work.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, run_cli

TEMPLATES = REPO / "tests" / "fixtures_real" / "arm-templates" / "cognitive-services-translate"
FINDINGS = REPO / "fixtures" / "findings" / "S01-findings.json"
NOT_AN_EXPORT = (
    "not an export of deployed resources: deploy it, then export the estate with the Resource Graph "
    "query in the README (az graph query), or use `pathaudit collect`"
)


def one_line(err: str) -> str:
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_the_template_fixtures_are_what_they_claim() -> None:
    template = json.loads((TEMPLATES / "azuredeploy.json").read_text())
    assert template["$schema"].endswith("/deploymentTemplate.json#") and template["resources"]
    params = json.loads((TEMPLATES / "azuredeploy.parameters.json").read_text())
    assert params["$schema"].endswith("/deploymentParameters.json#")
    assert (
        "resource aiServices 'Microsoft.CognitiveServices/accounts@" in (TEMPLATES / "main.bicep").read_text()
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("azuredeploy.json", "an ARM template"),
        ("azuredeploy.parameters.json", "an ARM parameters file"),
        ("main.bicep", "a Bicep file"),
    ],
)
def test_infrastructure_code_instead_of_an_export(name: str, kind: str, tmp_path: Path) -> None:
    path = TEMPLATES / name
    code, out, err = run_cli("audit", path, "--format", "json", cwd=tmp_path)
    assert code == 2
    assert one_line(err) == f"pathaudit: warning: {path}: this is {kind}, {NOT_AN_EXPORT} (file not read)"
    doc = json.loads(out)  # the document still says what was not read
    assert doc["coverage"]["skipped"][0]["file"] == str(path) and doc["estate"]["resources"] == 0
    # trace and routes stop at it
    code, out, err = run_cli("routes", path, "--subnet", "x", cwd=tmp_path)
    assert (code, out) == (2, "")
    assert one_line(err) == f"pathaudit: error: {path}: this is {kind}, {NOT_AN_EXPORT}"


def test_a_template_inside_an_export_folder_is_named_too(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(TEMPLATES / "azuredeploy.json", folder / "azuredeploy.json")
    shutil.copy(REPO / "fixtures" / "estates" / "demo-contoso" / "resources.json", folder / "estate.json")
    code, _, err = run_cli("audit", folder, "--format", "json", cwd=tmp_path)
    assert code == 2
    assert f"{folder / 'azuredeploy.json'}: this is an ARM template" in err


def test_a_missing_file_says_so_and_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "estate.json"
    code, _, err = run_cli("audit", missing, cwd=tmp_path)
    assert code == 2
    assert one_line(err) == (
        f"pathaudit: warning: {missing}: no such file or directory: check the path "
        "(or use --demo for the bundled demo estate) (file not read)"
    )
    for args in (("trace", missing, "--from", "a", "--to", "b"), ("routes", missing, "--subnet", "a")):
        code, out, err = run_cli(*args, cwd=tmp_path)
        assert (code, out) == (2, "")
        assert one_line(err) == (
            f"pathaudit: error: {missing}: no such file or directory: check the path "
            "(or use --demo for the bundled demo estate)"
        )


# ---------------------------------------------------------------- destinations


def assert_refused_before_work(args: tuple, tmp_path: Path, *expected: str) -> str:
    code, out, err = run_cli(*args, cwd=tmp_path)
    assert (code, out) == (2, "")
    line = one_line(err)
    assert line.startswith("pathaudit: error: ")
    for part in expected:
        assert part in line, line
    assert ".pathaudit-probe" not in line and ".tmp" not in line and "Errno" not in line
    return line


def test_out_under_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    target = a_file / "findings.json"
    line = assert_refused_before_work(
        ("audit", "--demo", "--format", "json", "-o", target),
        tmp_path,
        f"--out {target}",
        f"{a_file} is a file",
    )
    assert line.endswith("choose a path inside a folder you can write")
    assert_refused_before_work(
        ("audit", "--demo", "--format", "json", "--format", "sarif", "--out", a_file),
        tmp_path,
        f"--out {a_file}: is a file, not a folder",
    )
    assert_refused_before_work(("audit", "--demo", "--bundle", a_file / "b.zip"), tmp_path, "--bundle")
    assert_refused_before_work(("report", FINDINGS, "-o", target), tmp_path, f"--out {target}")
    assert_refused_before_work(
        ("confirm", FINDINGS, "--pcap", REPO / "fixtures" / "captures" / "nomatch.pcap", "-o", target),
        tmp_path,
        f"--out {target}",
    )
    # collect checks before it signs in or calls Azure (no credential, no network here)
    assert_refused_before_work(
        ("collect", "--credential", "token", "-o", target), tmp_path, f"--out {target}"
    )


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """A folder no file can be created in: mode 0555, or for root (who ignores modes) the immutable flag."""
    path.mkdir()
    immutable = False
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("running as root without chattr +i: no way to make a folder read-only here")
        immutable = True
    else:
        path.chmod(0o555)
    try:
        with contextlib.suppress(OSError):
            (path / "probe").write_text("x")
        if (path / "probe").exists():
            pytest.skip("this file system lets anyone write everywhere")
        yield path
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        path.chmod(0o755)


def test_out_in_a_read_only_folder(tmp_path: Path) -> None:
    with read_only_folder(tmp_path / "ro") as folder:
        line = assert_refused_before_work(
            ("audit", "--demo", "--format", "json", "-o", folder / "f.json"),
            tmp_path,
            f"--out {folder / 'f.json'}: cannot write in {folder} (",
        )
        assert line.endswith("): choose a folder you can write")
        assert any(why in line for why in ("permission denied", "operation not permitted", "read-only"))
        assert_refused_before_work(
            ("audit", "--demo", "--format", "json", "--format", "html", "-o", folder / "reports"),
            tmp_path,
            f"cannot write in {folder}",
        )
        assert list(folder.iterdir()) == []  # the probe is gone


def test_a_writable_out_still_works_and_creates_folders(tmp_path: Path) -> None:
    code, _, err = run_cli(
        "audit", "--demo", "--format", "json", "--format", "csv", "-o", tmp_path / "a" / "b"
    )
    assert code == 1, err
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["findings.csv", "findings.json"]
    code, _, err = run_cli("audit", "--demo", "--format", "json", "-o", "/dev/null")
    assert code == 1, err
