"""`pathaudit collect` and `pathaudit audit --live` as users run them: a subprocess against the fake
ARM server (in this process), the token credential, TLS trust through REQUESTS_CA_BUNDLE, and a
sitecustomize network guard that refuses and logs anything but loopback."""

from __future__ import annotations

import gzip
import json
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli
from fakeazure import FakeAzure, Fault
from fakeazure.harness import DEMO, TOKEN, cli_env, demo_rows, live_args

WORKLOADS = "a8e2d6c4-3b1f-4e9a-8c7d-61f0b5a3e2d8"


@pytest.fixture
def netlog(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "netlog.txt"
    yield log
    seen = set(log.read_text().split()) if log.exists() else set()
    assert seen, "the guard saw no traffic: was sitecustomize loaded?"
    assert seen <= {"127.0.0.1", "localhost", "::1"}, f"traffic left loopback: {seen}"


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A findings document minus what names the input and when it was collected."""
    doc = json.loads(json.dumps(document))
    doc["estate"].pop("inputs")
    doc["estate"].pop("collected_at")
    return doc


def audit_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("audit", *args, "--format", "json", env=env)
    assert out, err
    return code, json.loads(out), err


def test_collect_then_audit_equals_auditing_the_files(tmp_path: Path, netlog: Path) -> None:
    snap = tmp_path / "snap.json.gz"
    with FakeAzure(demo_rows(), page_size=9, arm_page_size=2) as fake:
        code, out, err = run_cli("collect", *live_args(fake, "--out", str(snap)), env=cli_env(fake, netlog))
    assert code == 0, err
    assert out == ""
    assert "pathaudit: collected 81 resources" in err and "coverage complete" in err
    assert f"snapshot written to {snap} (mode 0600)" in err
    assert "pathaudit: collect [" in err, "plain progress lines in CI"
    assert stat.S_IMODE(snap.stat().st_mode) == 0o600
    doc = json.loads(gzip.decompress(snap.read_bytes()))
    assert doc["schema"] == "pathaudit/snapshot@1" and doc["coverage"]["complete"] is True
    assert TOKEN not in err and TOKEN.encode() not in gzip.decompress(snap.read_bytes())

    code_snap, from_snapshot, _ = audit_json(str(snap))
    code_files, from_files, _ = audit_json(str(DEMO.parent))
    assert code_snap == code_files
    assert from_snapshot["estate"]["collected_at"] == doc["collected_at"]
    assert comparable(from_snapshot) == comparable(from_files)
    assert from_snapshot["findings"], "the demo estate has findings"


def test_audit_live_equals_auditing_the_files(tmp_path: Path, netlog: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    with FakeAzure(demo_rows()) as fake:
        code, live, err = audit_json(
            "--live",
            *live_args(fake),
            "--bundle",
            str(tmp_path / "evidence.zip"),
            env={**cli_env(fake, netlog), "TMPDIR": str(tmpdir)},
        )
    assert list(tmpdir.iterdir()) == [], "the temporary snapshot is removed"
    with zipfile.ZipFile(tmp_path / "evidence.zip") as bundle:
        names = [n for n in bundle.namelist() if n.startswith("inputs/")]
        assert len(names) == 1 and names[0].startswith("inputs/live_pathaudit-snapshot-"), names
        assert json.loads(gzip.decompress(bundle.read(names[0])))["schema"] == "pathaudit/snapshot@1"
    code_files, from_files, _ = audit_json(str(DEMO.parent))
    assert code == code_files == 1, err
    assert comparable(live) == comparable(from_files)
    assert live["estate"]["inputs"][0].startswith("live:pathaudit-snapshot-")
    assert "pathaudit: collected 81 resources" in err
    assert TOKEN not in err and TOKEN not in json.dumps(live)


def test_failed_scope_is_named_and_the_audit_exits_3(tmp_path: Path, netlog: Path) -> None:
    snap = tmp_path / "partial.json.gz"
    faults = [
        Fault("403", subscription=WORKLOADS, times=None),
        Fault("429", retry_after="0", query="firewalls"),
    ]
    with FakeAzure(demo_rows(), faults=faults) as fake:
        code, _, err = run_cli("collect", *live_args(fake, "--out", str(snap)), env=cli_env(fake, netlog))
    assert code == 3, err
    assert f"/subscriptions/{WORKLOADS} [resource-graph:" in err and "HTTP 403" in err
    assert "coverage INCOMPLETE" in err
    assert "retry in" in err, "retries show in the log"
    doc = json.loads(gzip.decompress(snap.read_bytes()))
    assert doc["coverage"]["complete"] is False
    assert {f["scope"] for f in doc["coverage"]["failed"]} == {f"/subscriptions/{WORKLOADS}"}
    assert doc["resources"], "the other subscription was collected"

    code, document, err = audit_json(str(snap), "--fail-on", "never")
    assert code == 3
    assert "coverage incomplete: exit 3" in err and WORKLOADS in err
    assert document["coverage"]["complete"] is False
    assert any(
        s["resource_id"] == f"/subscriptions/{WORKLOADS}" and s["effect"] == "scope not collected"
        for s in document["coverage"]["skipped"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "--subscription", WORKLOADS], "--subscription needs --live"),
        (["audit", "--live", "estate.json"], "give no INPUT"),
        (
            ["collect", "--credential", "token", "--token-env", "PATHAUDIT_TEST_NO_SUCH_TOKEN"],
            "PATHAUDIT_TEST_NO_SUCH_TOKEN is not set",
        ),
        (
            ["collect", "--credential", "token", "--arm-endpoint", "http://127.0.0.1:9"],
            "must be an https:// URL",
        ),
        (["collect", "--credential", "token", "--subscription", "not-a-guid"], "not-a-guid"),
        (["collect", "--effective-routes", "-1"], "-1"),
        (["collect", "--credential", "password"], "password"),
    ],
)
def test_usage_errors_exit_2_before_any_request(args: list[str], message: str, tmp_path: Path) -> None:
    log = tmp_path / "netlog.txt"
    env = {
        "AZURE_ACCESS_TOKEN": TOKEN,
        "PYTHONPATH": str(Path(__file__).parent / "fakeazure" / "site"),
        "PATHAUDIT_TEST_NETLOG": str(log),
    }
    code, out, err = run_cli(*args, env=env)
    assert code == 2, (out, err)
    assert message in err
    assert not log.exists(), "no network access"


def test_help_stays_fast_and_lists_collect() -> None:
    best = min(_timed([sys.executable, "-m", "auditor", "collect", "--help"]) for _ in range(3))
    assert best < 0.5, f"collect --help took {best:.2f}s (heavy imports at module level?)"
    code, out, _ = run_cli("--help")
    assert code == 0 and "collect" in out
    code, out, _ = run_cli("audit", "--help")
    assert "--live" in out and "--management-group" in out and "--effective-routes" in out


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, capture_output=True, check=True)
    return time.perf_counter() - start
