"""Regressions found while building pathaudit, each pinned to the behaviour the spec requires."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures" / "estates" / "demo-contoso" / "resources.json"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=REPO)


def test_secured_hub_firewall_reaches_only_vnets_connected_to_its_hub() -> None:
    """A Virtual WAN spoke's 10/8 -> hub firewall route must not reach a VNet the hub is not connected to
    (the AI spoke hangs off the classic hub): those spokes are no AOAI005 bypass sources."""
    proc = run("audit", str(DEMO), "--format", "json", "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    sources = [
        s
        for f in doc["findings"]
        if f["rule_id"] == "AOAI005"
        for e in f["evidence"]
        if e["kind"] == "path"
        for s in e["value"]["source_subnets"]
    ]
    assert sources, "AOAI005 lists its bypassing sources"
    assert not [s for s in sources if "/virtualnetworks/vnet-vwan-spoke/" in s.lower()]

    trace = run(
        "trace",
        str(DEMO),
        "--from",
        "vnet-vwan-spoke/snet-workload",
        "--to",
        "pe-aoai-contoso-prod",
        "--format",
        "json",
    )
    assert trace.returncode == 0, trace.stderr
    flow = json.loads(trace.stdout)["flows"][0]
    assert flow["verdict"] == "blocked"
    assert flow["forward"][-1]["kind"] == "azure-firewall"
    assert "no route" in flow["forward"][-1]["note"]


def test_net008_flow_starts_on_premises_and_returns_through_the_hub_firewall() -> None:
    """https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies: on-premises -> PE bypasses the routing-intent next hop, the reply goes through it."""
    s19 = next((REPO / "fixtures" / "scenarios").glob("S19-*")) / "resources.json"
    proc = run("audit", str(s19), "--format", "json", "--fail-on", "never")
    doc = json.loads(proc.stdout)
    (finding,) = [f for f in doc["findings"] if f["rule_id"] == "NET008"]
    flow = finding["flow"]["example"]
    assert flow["source"] == "on-premises" and flow["verdict"] == "asymmetric"
    assert not [h for h in flow["forward"] if h["kind"] in ("azure-firewall", "nva")]
    assert [h for h in flow["return"] if h["kind"] == "azure-firewall"]


def test_port_ranges_match_and_junk_never_crashes() -> None:
    """NSG and firewall port lists share one matcher; malformed entries (hostile exports) just don't match."""
    from auditor.ipnet import port_in_ranges

    assert port_in_ranges(["*"], 443)
    assert port_in_ranges(["80", "443"], 443) and not port_in_ranges(["80"], 443)
    assert port_in_ranges(["1024-65535"], 1024) and not port_in_ranges(["1024-65535"], 443)
    assert not port_in_ranges(["80-x", "abc", "-", "", None], 443)
    assert not port_in_ranges(None, 443) and not port_in_ranges([], 443)
