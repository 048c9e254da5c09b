"""`pathaudit confirm` on scenarios S01 (NVA nva1) and S05 (Azure Firewall afw1), and S19 (NET008).

Each NET001 finding must get exactly the expected status under each evidence set, whether the
findings document was built by hand to the contract (fixtures/findings/) or written by the real
`pathaudit audit` of fixtures/scenarios/. Other findings must come out untouched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import REPO, run_cli

from auditor.confirm import confirm_document

CAPS = REPO / "fixtures" / "captures"
LOGS = REPO / "fixtures" / "flowlogs"
FINDINGS = REPO / "fixtures" / "findings"
SCENARIOS = {"S01": "S01-base", "S05": "S05-azfw-default-snat", "S19": "S19-vwan-routing-intent"}
SCHEMA = json.loads((REPO / "auditor" / "schemas" / "findings-v2.schema.json").read_text())

# evidence set -> (pcaps, flow-trace exports, expected NET001 status for S01, for S05)
EVIDENCE: dict[str, tuple[list[str], list[str], str, str]] = {
    "pcap symmetric": (["symmetric.pcap"], [], "refuted", "refuted"),
    "pcap symmetric sll2": (["symmetric-sll2.pcap"], [], "refuted", "refuted"),
    "pcap asymmetric": (["asymmetric.pcap"], [], "confirmed", "confirmed"),
    "pcapng asymmetric": (["asymmetric.pcapng"], [], "confirmed", "confirmed"),
    "pcap asymmetric sll": (["asymmetric-sll.pcap"], [], "confirmed", "confirmed"),
    "pcap asymmetric raw ns": (["asymmetric-raw-ns.pcap"], [], "confirmed", "confirmed"),
    "pcapng snat pairs": (["snat.pcapng"], [], "refuted", "refuted"),
    "pcap snat afw egress": (["snat-afw-egress.pcap"], [], "inconclusive", "refuted"),
    "pcap nomatch": (["nomatch.pcap"], [], "inconclusive", "inconclusive"),
    **{
        f"log {case} {ext}": ([], [f"{case}.{ext}"], "inconclusive", s05)
        for case, s05 in (
            ("symmetric", "refuted"),
            ("asymmetric", "confirmed"),
            ("snat", "refuted"),
            ("no-flowtrace", "inconclusive"),
            ("nomatch", "inconclusive"),
        )
        for ext in ("csv", "json", "parquet")
    },
    "log asymmetric portal csv": ([], ["asymmetric-portal.csv"], "inconclusive", "confirmed"),
    "log asymmetric split files": (
        [],
        ["asymmetric-networkrule.csv", "asymmetric-flowtrace.json"],
        "inconclusive",
        "confirmed",
    ),
    "pcap + log agree": (["asymmetric.pcap"], ["asymmetric.parquet"], "confirmed", "confirmed"),
    "pcap + log conflict": (["symmetric.pcap"], ["asymmetric.parquet"], "refuted", "inconclusive"),
    "two captures": (["nomatch.pcap", "asymmetric.pcapng"], [], "confirmed", "confirmed"),
}


@pytest.fixture(scope="module")
def documents() -> dict[tuple[str, str], dict[str, Any]]:
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for name, folder in SCENARIOS.items():
        code, out, err = run_cli("audit", f"fixtures/scenarios/{folder}/resources.json", "--format", "json")
        assert code in (0, 1), err
        docs[(name, "audit")] = json.loads(out)
        hand = FINDINGS / f"{name}-findings.json"
        if hand.is_file():
            docs[(name, "hand-built")] = json.loads(hand.read_text())
    return docs


def confirm(doc: dict[str, Any], pcaps: list[str], flow_traces: list[str]):
    return confirm_document(
        doc, pcaps=[str(CAPS / p) for p in pcaps], flow_traces=[str(LOGS / f) for f in flow_traces]
    )


def net001(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found = [f for f in doc["findings"] if f["rule_id"] == "NET001"]
    assert found, "scenario lost its NET001 finding"
    return found


def test_hand_built_fixtures_are_valid_and_match_the_audit(documents) -> None:
    for name in ("S01", "S05"):
        hand, real = documents[(name, "hand-built")], documents[(name, "audit")]
        jsonschema.validate(hand, SCHEMA)
        jsonschema.validate(real, SCHEMA)
        # same NET001 flow endpoints and appliance as the real audit
        h, r = net001(hand)[0]["flow"]["example"], net001(real)[0]["flow"]["example"]
        assert sorted(h["source_prefixes"]) == sorted(r["source_prefixes"])
        assert (h["destination_ip"], h["port"]) == (r["destination_ip"], r["port"])
        assert appliances(h) == appliances(r)


def appliances(flow: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(h["kind"], h.get("ip")) for h in flow["forward"] if h["kind"] in ("nva", "azure-firewall")]


@pytest.mark.parametrize("origin", ["hand-built", "audit"])
@pytest.mark.parametrize("scenario", ["S01", "S05"])
@pytest.mark.parametrize("evidence", list(EVIDENCE))
def test_net001_status(documents, origin: str, scenario: str, evidence: str) -> None:
    pcaps, traces, s01, s05 = EVIDENCE[evidence]
    expected = s01 if scenario == "S01" else s05
    doc = documents[(scenario, origin)]
    res = confirm(doc, pcaps, traces)
    for f in net001(res.document):
        notes = [e.get("note") for e in f["evidence"] if e["kind"] in ("pcap", "log")]
        assert f["status"] == expected, notes
        assert len(notes) == len(pcaps) + (1 if traces else 0)


@pytest.mark.parametrize("scenario", ["S01", "S05"])
def test_other_findings_untouched_summary_recomputed_schema_valid(documents, scenario: str) -> None:
    doc = documents[(scenario, "audit")]
    res = confirm(doc, ["symmetric.pcap"], [])
    out = res.document
    jsonschema.validate(out, SCHEMA)
    before = {f["fingerprint"]: f for f in doc["findings"] if "flow" not in f}
    after = {f["fingerprint"]: f for f in out["findings"] if "flow" not in f}
    assert before == after and before
    assert doc["findings"][0]["status"] == "suspected"  # the input is not modified
    refuted = sum(1 for f in out["findings"] if f["status"] == "refuted")
    assert out["summary"]["refuted"] == refuted == 1
    active_high = sum(1 for f in out["findings"] if f["severity"] == "high" and f["status"] != "refuted")
    assert out["summary"]["high"] == active_high


def test_evidence_shape_and_rerun_is_idempotent_and_deterministic(documents) -> None:
    doc = documents[("S05", "audit")]
    first = confirm(doc, ["asymmetric.pcapng"], ["asymmetric.csv"]).document
    again = confirm(first, ["asymmetric.pcapng"], ["asymmetric.csv"]).document
    assert again == first  # previous log/pcap evidence replaced, not appended
    assert confirm(doc, ["asymmetric.pcapng"], ["asymmetric.csv"]).document == first
    f = net001(first)[0]
    pcap_ev = next(e for e in f["evidence"] if e["kind"] == "pcap")
    log_ev = next(e for e in f["evidence"] if e["kind"] == "log")
    assert (
        pcap_ev["id"].endswith("asymmetric.pcapng")
        and pcap_ev["path"] == "tcp and host 10.2.1.4 and port 443"
    )
    assert pcap_ev["value"]["forward"]["SYN"] == 3 and pcap_ev["value"]["reverse"] == {}
    assert pcap_ev["value"]["connections"]["unanswered"] == 3
    assert pcap_ev["value"]["first_seen"] == "2026-01-01T10:00:00.000000Z"
    assert len(pcap_ev["value"]["samples"]) == 3 and "no SYN-ACK" in pcap_ev["value"]["samples"][0]
    assert log_ev["id"].endswith("asymmetric.csv")
    assert log_ev["value"]["forward"] == {"INVALID": 3, "SYN": 6}
    assert log_ev["value"]["tables"] == {"AZFWFlowTrace": 6, "AZFWNetworkRule": 9}
    assert log_ev["value"]["sources"][0]["format"] == "csv"
    assert log_ev["value"]["verdict"] == "confirmed" and "INVALID" in log_ev["note"]
    # evidence from configuration stays in front
    assert f["evidence"][0]["kind"] not in ("pcap", "log")


def test_net008_return_only(documents) -> None:
    doc = documents[("S19", "audit")]
    net008 = [f for f in doc["findings"] if f["rule_id"] == "NET008" and f.get("flow")]
    assert net008, "S19 lost its NET008 flow"
    for pcaps, traces, expected in (
        (["return-only.pcap"], [], "confirmed"),
        ([], ["return-only.json"], "confirmed"),
        ([], ["return-only.parquet"], "confirmed"),
        # spoke clients' symmetric traffic says nothing about on-premises: the
        # flow's sources are the hub's VPN site range (192.168.0.0/16)
        (["symmetric.pcap"], [], "inconclusive"),
    ):
        out = confirm(doc, pcaps, traces).document
        for f in out["findings"]:
            if f["rule_id"] == "NET008" and f.get("flow"):
                assert f["status"] == expected, [e.get("note") for e in f["evidence"]]


# --- the command line --------------------------------------------------------------------------------


def test_cli_exit_codes_and_output(tmp_path: Path) -> None:
    s01 = str(FINDINGS / "S01-findings.json")
    out = tmp_path / "confirmed.json"
    code, stdout, err = run_cli("confirm", s01, "--pcap", str(CAPS / "asymmetric.pcap"), "--out", str(out))
    assert code == 1, err  # confirmed high finding
    assert "NET001 rt-spoke -> pe-aoai: confirmed" in err
    doc = json.loads(out.read_text())
    assert net001(doc)[0]["status"] == "confirmed" and stdout == ""
    # refuted NET001 never fails; S01's other findings are medium
    code, stdout, err = run_cli("confirm", s01, "--pcap", str(CAPS / "symmetric.pcap"))
    assert code == 0, err
    assert json.loads(stdout)["summary"]["refuted"] == 1
    code, _, _ = run_cli("confirm", s01, "--pcap", str(CAPS / "asymmetric.pcap"), "--fail-on", "never")
    assert code == 0
    # inconclusive high findings still count, as in `audit`
    code, _, _ = run_cli("confirm", s01, "--pcap", str(CAPS / "nomatch.pcap"))
    assert code == 1


def test_cli_usage_and_input_errors(tmp_path: Path) -> None:
    s01 = str(FINDINGS / "S01-findings.json")
    code, _, err = run_cli("confirm", s01)
    assert code == 2 and "no evidence given" in err
    code, _, err = run_cli("confirm", s01, "--pcap", str(tmp_path / "missing.pcap"))
    assert code == 2
    notpcap = tmp_path / "x.pcap"
    notpcap.write_text("not a capture")
    code, _, err = run_cli("confirm", s01, "--pcap", str(notpcap))
    assert code == 2 and "not a pcap or pcapng file" in err and "Traceback" not in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something/else"}')
    code, _, err = run_cli("confirm", str(bad), "--pcap", str(CAPS / "symmetric.pcap"))
    assert code == 2 and "not a findings document" in err
    code, _, err = run_cli(
        "confirm",
        s01,
        "--workspace",
        "w",
        "--logs-endpoint",
        "http://127.0.0.1:9/",
        "--credential",
        "token",
        env={"AZURE_ACCESS_TOKEN": "t"},
    )
    assert code == 2 and "https" in err
    code, _, err = run_cli(
        "confirm",
        s01,
        "--workspace",
        "w",
        "--timespan",
        "one day",
        "--credential",
        "token",
        env={"AZURE_ACCESS_TOKEN": "t"},
    )
    assert code == 2 and "--timespan" in err
    code, _, err = run_cli("confirm", s01, "--flow-trace", str(tmp_path / "nothing.csv"))
    assert code == 2 and "not found" in err


def test_cli_reads_standard_input(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "confirm", "-", "--pcap", str(CAPS / "symmetric.pcap")],
        input=(FINDINGS / "S05-findings.json").read_bytes(),
        capture_output=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 1  # NET004 is high and untouched
    assert net001(json.loads(proc.stdout))[0]["status"] == "refuted"


def test_help_stays_fast_and_light() -> None:
    """`confirm` must not pull duckdb, scapy or the Azure SDKs into the CLI's import."""
    import subprocess
    import sys

    probe = (
        "import sys, auditor.cli; print([m for m in ('duckdb', 'scapy', 'azure', 'pyarrow') "
        "if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout
    assert out.strip() == "[]"
    code, out, _ = run_cli("confirm", "--help")
    assert code == 0 and "--flow-trace" in out and "--workspace" in out
