"""`confirm --bundle`: the evidence bundle carries the confirmed findings and the captures/logs used."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
S01 = next((REPO / "fixtures" / "scenarios").glob("S01-*")) / "resources.json"
CAPTURE = REPO / "fixtures" / "captures" / "asymmetric.pcap"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd)


def test_confirm_bundle_holds_confirmed_findings_and_evidence_and_verifies(tmp_path: Path) -> None:
    findings = tmp_path / "findings.json"
    audit = run("audit", str(S01), "--format", "json", "--out", str(findings), "--fail-on", "never", cwd=REPO)
    assert audit.returncode == 0, audit.stderr
    bundles = []
    for name in ("one", "two"):
        work = tmp_path / name
        work.mkdir()
        proc = run(
            "confirm",
            str(findings),
            "--pcap",
            str(CAPTURE),
            "--bundle",
            "evidence.zip",
            "--fail-on",
            "never",
            "--out",
            "confirmed.json",
            cwd=work,
        )
        assert proc.returncode == 0, proc.stderr
        bundles.append(work / "evidence.zip")
    assert bundles[0].read_bytes() == bundles[1].read_bytes()
    with zipfile.ZipFile(bundles[0]) as z:
        names = set(z.namelist())
        assert {
            "MANIFEST.json",
            "findings.json",
            "findings.html",
            "findings.sarif",
            "evidence/asymmetric.pcap",
        } <= names
        assert z.read("evidence/asymmetric.pcap") == CAPTURE.read_bytes()
        doc = json.loads(z.read("findings.json"))
        manifest = json.loads(z.read("MANIFEST.json"))
    (net001,) = [f for f in doc["findings"] if f["rule_id"] == "NET001"]
    assert net001["status"] == "confirmed"
    assert "confirm" in json.dumps(manifest)
    ok = run("verify-bundle", str(bundles[0]), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
