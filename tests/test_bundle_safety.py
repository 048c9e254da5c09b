"""Issue #13, item 1: an evidence bundle holds only what this run itself read as input, by real path
inside the folders the user named; no symlink escapes, no special files, no paths a findings document
merely lists; written 0600."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

from conftest import REPO, run_cli

S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"
SECRET = "AZURE_ACCESS_TOKEN=eyJhbGciOi.secret-token-value"


def names(bundle: Path) -> list[str]:
    with zipfile.ZipFile(bundle) as zf:
        return zf.namelist()


def contents(bundle: Path) -> bytes:
    with zipfile.ZipFile(bundle) as zf:
        return b"".join(zf.read(n) for n in zf.namelist())


def test_confirm_bundle_ignores_files_a_crafted_document_lists(tmp_path: Path) -> None:
    secret = tmp_path / "secret.env"
    secret.write_text(SECRET, encoding="utf-8")
    doc = json.loads((REPO / "fixtures" / "findings" / "S01-findings.json").read_text("utf-8"))
    doc["estate"]["inputs"] = [str(secret), "/proc/self/environ", "/etc/passwd"]
    crafted = tmp_path / "findings.json"
    crafted.write_text(json.dumps(doc), encoding="utf-8")
    bundle = tmp_path / "evidence.zip"
    code, _, err = run_cli(
        "confirm",
        crafted,
        "--pcap",
        REPO / "fixtures" / "captures" / "asymmetric.pcap",
        "--bundle",
        bundle,
        "--out",
        tmp_path / "confirmed.json",
        env={"AZURE_ACCESS_TOKEN": SECRET},
    )
    assert code in (0, 1), err
    listed = names(bundle)
    assert "inputs/findings.json" in listed and "evidence/asymmetric.pcap" in listed
    assert not [n for n in listed if "secret" in n or "environ" in n or "passwd" in n]
    data = contents(bundle)
    assert b"secret-token-value" not in data and b"root:x:0:0" not in data
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600


def test_audit_bundle_skips_links_out_of_the_folder_and_special_files(tmp_path: Path) -> None:
    estate = tmp_path / "estate"
    estate.mkdir()
    (estate / "resources.json").write_bytes(S01.read_bytes())
    secret = tmp_path / "outside.json"
    secret.write_text(json.dumps({"id": "/subscriptions/x", "type": "t", "token": SECRET}), encoding="utf-8")
    (estate / "link.json").symlink_to(secret)
    os.mkfifo(estate / "pipe.json")  # reading it would block the audit forever
    bundle = tmp_path / "b.zip"
    code, out, err = run_cli(
        "audit", estate, "--format", "json", "--bundle", bundle, "--fail-on", "never", timeout=60
    )
    assert code == 3, err  # two entries not read: named, the rest audited, never clean
    doc = json.loads(out)
    skipped = {Path(p["file"]).name: p["problem"] for p in doc["coverage"]["skipped"]}
    assert "outside" in skipped["link.json"] and "regular file" in skipped["pipe.json"]
    assert [n for n in names(bundle) if n.startswith("inputs/")] == [
        f"inputs/{(estate / 'resources.json').as_posix().lstrip('/')}"
    ]
    assert b"secret-token-value" not in contents(bundle)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600


def test_a_link_inside_the_folder_is_read(tmp_path: Path) -> None:
    estate = tmp_path / "estate"
    (estate / "real").mkdir(parents=True)
    (estate / "real" / "resources.json").write_bytes(S01.read_bytes())
    (estate / "alias.json").symlink_to(estate / "real" / "resources.json")
    code, out, err = run_cli("audit", estate, "--format", "json", "--fail-on", "never")
    assert code == 0, err
    assert json.loads(out)["coverage"]["complete"]
