"""Evidence bundle: contents, deterministic bytes, and `verify-bundle` naming tampered files."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import run_cli
from helpers.report_docs import hostile_estate, write_estate

from auditor.cli import cli
from auditor.packaged import data_dir
from auditor.report.bundle import MANIFEST, arcname_for_input, command_line, verify_bundle


def make_bundle(tmp_path: Path, name: str = "evidence.zip", *extra: str) -> Path:
    estate = write_estate(tmp_path, hostile_estate())
    second = write_estate(tmp_path, [], "estate/sub/empty.json")
    assert second.is_file()
    bundle = tmp_path / name
    res = CliRunner().invoke(
        cli,
        [
            "audit",
            str(estate.parent),
            "--bundle",
            str(bundle),
            "--format",
            "json",
            "--fail-on",
            "never",
            *extra,
        ],
    )
    assert res.exit_code == 0, res.output
    return bundle


def rewrite(
    src: Path, dst: Path, change: dict[str, bytes | None], add: dict[str, bytes] | None = None
) -> None:
    """Copy a zip, replacing (bytes) or dropping (None) entries, optionally adding new ones."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    zout.writestr(info, change[info.filename])
                continue
            zout.writestr(info, zin.read(info.filename))
        for name, data in (add or {}).items():
            zout.writestr(name, data)


def test_bundle_contents_and_manifest(tmp_path):
    bundle = make_bundle(tmp_path)
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read(MANIFEST))
        assert names == sorted(names)
        assert {"findings.json", "findings.html", "findings.sarif", MANIFEST} <= set(names)
        rules = sorted(f"{p.parent.name}/{p.name}" for p in data_dir("rules").glob("*/rule.yaml"))
        assert sorted(n.removeprefix("rules/") for n in names if n.startswith("rules/")) == rules
        inputs = [n for n in names if n.startswith("inputs/")]
        assert len(inputs) == 2 and all(
            n.endswith(("estate/resources.json", "estate/sub/empty.json")) for n in inputs
        )
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            assert info.compress_type == zipfile.ZIP_DEFLATED
        listed = {e["path"]: e for e in manifest["files"]}
        assert set(listed) == set(names) - {MANIFEST}
        for name, entry in listed.items():
            data = zf.read(name)
            assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
        doc = json.loads(zf.read("findings.json"))
        estate_file = next(n for n in inputs if n.endswith("resources.json"))
        assert zf.read(estate_file) == (tmp_path / "estate" / "resources.json").read_bytes()
    assert manifest["schema"] == "pathaudit/bundle@1" and manifest["tool"]["name"] == "pathaudit"
    assert manifest["estate"]["sha256"] == doc["estate"]["sha256"]
    # only what was given, in declaration order, real option names; where it was written is not evidence
    assert manifest["command"] == [
        "pathaudit",
        "audit",
        str(tmp_path / "estate"),
        "--format",
        "json",
        "--bundle",
        "evidence.zip",
        "--fail-on",
        "never",
    ]


def test_two_runs_give_an_identical_bundle(tmp_path):
    a = make_bundle(tmp_path, "evidence.zip")
    first = a.read_bytes()
    a.unlink()
    b = make_bundle(tmp_path, "evidence.zip")
    assert b.read_bytes() == first
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()
    res = CliRunner().invoke(
        cli,
        [
            "audit",
            str(tmp_path / "estate"),
            "--bundle",
            str(other_dir / "evidence.zip"),
            "--format",
            "json",
            "--fail-on",
            "never",
        ],
    )
    assert res.exit_code == 0
    assert (other_dir / "evidence.zip").read_bytes() == first


def test_intact_bundle_verifies(tmp_path):
    bundle = make_bundle(tmp_path)
    code, out, _ = run_cli("verify-bundle", bundle)
    assert code == 0 and "bundle intact" in out
    assert verify_bundle(bundle).intact


def test_changed_file_is_named(tmp_path):
    bundle = make_bundle(tmp_path)
    with zipfile.ZipFile(bundle) as zf:
        original = zf.read("findings.json")
    tampered = tmp_path / "tampered.zip"
    rewrite(bundle, tampered, {"findings.json": original.replace(b'"high"', b'"low"')})
    code, out, err = run_cli("verify-bundle", tampered)
    assert code == 1
    assert out.splitlines() == ["changed: findings.json"]
    assert "TAMPERED" in err


def test_missing_and_extra_files_are_named(tmp_path):
    bundle = make_bundle(tmp_path)
    tampered = tmp_path / "tampered.zip"
    rewrite(bundle, tampered, {"rules/NET001/rule.yaml": None}, add={"inputs/smuggled.json": b"[]"})
    code, out, _ = run_cli("verify-bundle", tampered)
    assert code == 1
    assert out.splitlines() == ["missing: rules/NET001/rule.yaml", "extra: inputs/smuggled.json"]


def test_corrupted_bytes_inside_the_zip_are_named(tmp_path):
    bundle = make_bundle(tmp_path)
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo("findings.html")
    # flip a byte in the compressed data of findings.html (after its 30-byte local header + name)
    offset = info.header_offset + 30 + len(info.filename) + 40
    data[offset] ^= 0xFF
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    result = verify_bundle(bad)
    assert result.changed == ["findings.html"] and not result.missing and not result.extra


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_duplicate_entry_is_tampering(tmp_path):
    bundle = make_bundle(tmp_path)
    dup = tmp_path / "dup.zip"
    rewrite(bundle, dup, {}, add={"findings.json": b"{}"})
    result = verify_bundle(dup)
    assert not result.intact and "findings.json" in result.duplicate


@pytest.mark.parametrize("content", [b"not a zip", b""])
def test_unreadable_bundle_exits_2(tmp_path, content):
    path = tmp_path / "x.zip"
    path.write_bytes(content)
    code, _, err = run_cli("verify-bundle", path)
    assert code == 2 and "not a readable zip" in err


def test_zip_without_manifest_exits_2(tmp_path):
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("findings.json", "{}")
    code, _, err = run_cli("verify-bundle", path)
    assert code == 2 and "no MANIFEST.json" in err


def test_command_line_is_secrets_free_and_canonical():
    params = {
        "inputs": ("a.json", "dir"),
        "fmt": ("json", "sarif"),
        "out": "/home/me/out",
        "bundle": "/tmp/x/ev.zip",
        "client_secret": "hunter2",
        "sas_token": "sv=2020&sig=abc",
        "fail_on": "high",
        "allow_incomplete": True,
        "config_path": None,
        "rules": (),
    }
    argv = command_line("audit", params)
    assert argv == [
        "pathaudit",
        "audit",
        "a.json",
        "dir",
        "--fmt",
        "json",
        "--fmt",
        "sarif",
        "--out",
        "out",
        "--bundle",
        "ev.zip",
        "--client-secret",
        "<redacted>",
        "--sas-token",
        "<redacted>",
        "--fail-on",
        "high",
        "--allow-incomplete",
    ]
    assert "hunter2" not in " ".join(argv) and "sig=abc" not in " ".join(argv)


def test_arcnames_never_escape_the_bundle():
    assert (
        arcname_for_input("bundled:demo-contoso/resources.json")
        == "inputs/bundled/demo-contoso/resources.json"
    )
    assert arcname_for_input("/etc/../../x.json") == "inputs/etc/x.json"
    assert arcname_for_input("..\\..\\win.json") == "inputs/win.json"
    assert arcname_for_input("C:\\estate\\r.json") == "inputs/C_/estate/r.json"


@pytest.mark.parametrize(
    ("member", "mode", "why"),
    [
        ("../../etc/cron.d/evil", 0o100644, "leaves the bundle"),
        ("/etc/passwd", 0o100644, "absolute path"),
        ("inputs/link", 0o120777, "symbolic link"),
        ("inputs/dev", 0o020644, "device, FIFO or socket"),
    ],
)
def test_unsafe_members_are_tampering_named_by_member(tmp_path, member, mode, why):
    """Issue #13, item 9: a member no pathaudit bundle holds (and that would be dangerous to extract) is
    exit 1 with the member named, even when the manifest was rewritten to list it."""
    bundle = make_bundle(tmp_path)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        extra = zipfile.ZipInfo(member)
        extra.external_attr = mode << 16
        dst.writestr(extra, b"payload")
    code, out, _ = run_cli("verify-bundle", evil)
    assert code == 1
    assert any(line.startswith(f"unsafe member: {member}") and why in line for line in out.splitlines())


def test_member_names_reach_the_terminal_without_escape_sequences(tmp_path):
    """Member names come from the bundle under test: an escape sequence in one is not echoed raw."""
    bundle = make_bundle(tmp_path)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        dst.writestr("../evil\x1b]0;pwned\x07\x1b[2J.json", b"payload")
    code, out, err = run_cli("verify-bundle", evil)
    assert code == 1
    assert "unsafe member: ../evil" in out and "\x1b" not in out + err and "\x07" not in out + err
