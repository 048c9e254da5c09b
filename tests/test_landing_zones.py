"""Landing-zone estates (fixtures/landing-zones/L*): the designs most customers run.

Each folder's expected.json was written from Azure's documented behaviour before pathaudit was run
on it (fixtures/landing-zones/README.md): a 0.0.0.0/0-only spoke, unconnected landing zones sharing an
address plan, stale next hops, firewall policies with parents, FQDN and IP-group rules, a secured
Virtual WAN hub with a hub NVA, HA NVA pairs behind an internal load balancer, ExpressRoute without
prefixes, peering flags and endpoint-only subnets. Compared: every (rule, resource, source, severity)
of the NET and AOAI005 families, rules not assessed, coverage completeness and what it names, routes,
and the source subnets where listed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli

LZ = REPO / "fixtures" / "landing-zones"
FOLDERS = sorted(p for p in LZ.glob("L*") if (p / "expected.json").is_file())
FAMILY = ("NET", "AOAI005")


def test_the_landing_zone_fixtures_are_present_and_current() -> None:
    assert len(FOLDERS) >= 16
    code, out, err = run_cli_script(LZ / "build.py", "--check")
    assert code == 0, out + err


def run_cli_script(script: Path, *args: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@cache
def audit(*inputs: Path) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli("audit", *inputs, "--format", "json", "--fail-on", "never")
    assert code in (0, 3), err
    return code, json.loads(out)


def inputs_of(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(folder.glob("lz-*.json"))) or (folder / "resources.json",)


def triples(doc: dict[str, Any]) -> set[tuple]:
    return {
        (f["rule_id"], f["resource_id"].lower(), source.lower() if source else None, f["severity"])
        for f in doc["findings"]
        if f["rule_id"].startswith(FAMILY)
        for source in (
            (f.get("flow") or {}).get("sources") or [None] if f["rule_id"] in ("NET001", "NET005") else [None]
        )
    }


def expected_triples(exp: dict[str, Any]) -> set[tuple]:
    return {
        (f["rule_id"], f["resource_id"].lower(), (f["source"] or "").lower() or None, f["severity"])
        for f in exp["findings"]
        if f["rule_id"].startswith(FAMILY)
    }


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_landing_zone_verdicts(folder: Path) -> None:
    exp = json.loads((folder / "expected.json").read_text("utf-8"))
    code, doc = audit(*inputs_of(folder))
    assert triples(doc) == expected_triples(exp), exp["why"]
    assert sorted({n["rule_id"] for n in doc["coverage"]["not_assessed"]}) == sorted(exp["not_assessed"])
    cov = doc["coverage"]
    assert cov["complete"] is exp["coverage_complete"], cov["skipped"]
    text = json.dumps(cov["skipped"]).lower()
    for mention in exp.get("coverage_mentions", []):
        assert mention.lower() in text, (mention, cov["skipped"])
    assert code == (0 if exp["coverage_complete"] else 3)  # --fail-on never: only coverage speaks


@pytest.mark.parametrize(
    "folder",
    [f for f in FOLDERS if "routes" in json.loads((f / "expected.json").read_text())],
    ids=lambda f: f.name,
)
def test_landing_zone_routes(folder: Path) -> None:
    exp = json.loads((folder / "expected.json").read_text("utf-8"))
    for subnet, want in exp["routes"].items():
        pe_ip = "10.2.1.4"
        code, out, err = run_cli("routes", *inputs_of(folder), "--subnet", subnet, "--format", "json")
        assert code in (0, 3), err
        doc = json.loads(out)
        active = [
            r for r in doc_routes(doc) if r["state"] == "Active" and covers(r["addressPrefix"][0], pe_ip)
        ]
        best = max(active, key=lambda r: int(r["addressPrefix"][0].split("/")[1]))
        got = {
            "prefix": best["addressPrefix"][0],
            "next_hop_type": best["nextHopType"],
            "next_hop_ip": (best["nextHopIpAddress"] or [None])[0],
            "source": best["source"],
        }
        assert got == {k: want[k] for k in got}, (subnet, got)


def doc_routes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    tables = doc if isinstance(doc, list) else doc.get("tables") or [doc]
    return [r for t in tables for r in (t.get("routes") or t.get("value") or [])]


def covers(prefix: str, ip: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(prefix)
    except ValueError:
        return False


def test_twin_landing_zones_audit_as_each_would_alone() -> None:
    """Addresses are per VNet: two unconnected landing zones with one address plan give, together,
    exactly the findings each gives alone (same messages, flows and evidence)."""
    folder = LZ / "L02-twin-landing-zones-same-address-plan"
    a, b = inputs_of(folder)
    both = audit(a, b)[1]["findings"]
    alone = audit(a)[1]["findings"] + audit(b)[1]["findings"]
    key = lambda f: (f["rule_id"], f["resource_id"].lower(), f["fingerprint"])  # noqa: E731
    assert sorted(both, key=key) == sorted(alone, key=key)
    for name, inp in (("expected-lz-a.json", a), ("expected-lz-b.json", b)):
        exp = json.loads((folder / name).read_text("utf-8"))
        assert triples(audit(inp)[1]) == expected_triples(exp)


def test_pe_only_subnet_is_no_source() -> None:
    folder = LZ / "L13-pe-only-subnet-not-a-source"
    exp = json.loads((folder / "expected.json").read_text("utf-8"))
    doc = audit(*inputs_of(folder))[1]
    for rule, names in exp["source_subnets"].items():
        got = {
            s.rsplit("/", 1)[-1]
            for f in doc["findings"]
            if f["rule_id"] == rule
            for s in f["flow"]["example"]["source_subnets"]
        }
        assert got == set(names)
    [aoai005] = [f for f in doc["findings"] if f["rule_id"] == "AOAI005"]
    assert "snet-pe-app" not in json.dumps(aoai005["evidence"])


def test_alz_trace_shows_the_default_route_winning_and_reserved_routes_invalid() -> None:
    folder = LZ / "L01-alz-spoke-default-route-only"
    code, out, err = run_cli(
        "trace", folder / "resources.json", "--from", "snet-app", "--to", "pe-aoai", "--format", "json"
    )
    assert code in (0, 1, 3), err
    doc = json.loads(out)
    [flow] = doc["flows"]
    first = flow["decisions"][0]
    won = [c["route"] for c in first["candidates"] if c["outcome"] == "won"]
    assert won == ["0.0.0.0/0 -> VirtualAppliance 10.0.1.4 (User/udr)"]
    reserved = [c for c in first["candidates"] if c["route"].startswith("10.0.0.0/8 -> None")]
    assert reserved and reserved[0]["outcome"] == "invalid"
    assert "0.0.0.0/0" in reserved[0]["why"] and "virtual-networks-udr-overview" in reserved[0]["why"]
    assert flow["verdict"] == "asymmetric"
    # and the text output says so in words
    code, out, _ = run_cli("trace", folder / "resources.json", "--from", "snet-app", "--to", "pe-aoai")
    assert "WINS  0.0.0.0/0 -> VirtualAppliance 10.0.1.4" in out
    assert "loses 10.0.0.0/8 -> None (Default/reserved): removed" in out


def named(value: Any, out: set[str]) -> None:
    if (
        isinstance(value, str)
        and value.lower().startswith("/subscriptions/")
        and "/providers/" in value.lower()
    ):
        out.add(value.lower())
    elif isinstance(value, dict):
        for v in value.values():
            named(v, out)
    elif isinstance(value, list):
        for v in value:
            named(v, out)


SCENARIOS = sorted((REPO / "fixtures" / "scenarios").glob("S*/resources.json"))


@pytest.mark.parametrize(
    "inputs",
    [*(inputs_of(f) for f in FOLDERS), *((p,) for p in SCENARIOS)],
    ids=[*(f.name for f in FOLDERS), *(p.parent.name for p in SCENARIOS)],
)
def test_related_ids_name_every_resource_in_flow_and_evidence(inputs: tuple[Path, ...]) -> None:
    """A consumer never parses messages: every resource a flow or an evidence item names is related."""
    for f in audit(*inputs)[1]["findings"]:
        found: set[str] = set()
        named(f.get("flow"), found)
        named([[e["id"], e["value"]] for e in f["evidence"]], found)
        related = {r.lower() for r in f["related_ids"]} | {f["resource_id"].lower()}
        assert found <= related, (f["rule_id"], sorted(found - related))
        assert f["resource_id"].lower() not in {r.lower() for r in f["related_ids"]}


def test_malformed_landing_zone_resources_are_named_and_the_rest_is_audited(tmp_path: Path) -> None:
    """Hostile or broken rows of the resource types landing zones added (IP groups, VPN sites, hub NVAs):
    one clear problem each, naming the file, the resource and the field; the rest is still audited and
    the run is never 'clean'."""
    rows = json.loads((LZ / "L01-alz-spoke-default-route-only" / "resources.json").read_text("utf-8"))
    base = (
        "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/rg-x/providers/Microsoft.Network"
    )

    def res(kind: str, name: str, props: Any) -> dict[str, Any]:
        return {
            "id": f"{base}/{kind}/{name}",
            "name": name,
            "type": f"microsoft.network/{kind.lower()}",
            "properties": props,
        }

    rows += [
        res("ipGroups", "ipg-object", {"ipAddresses": {"a": 1}}),
        res("ipGroups", "ipg-junk", {"ipAddresses": ["10.0.0.0/33", "<script>alert(1)</script>"]}),
        res("vpnSites", "site-junk", {"addressSpace": {"addressPrefixes": ["not-a-prefix"]}}),
        res(
            "networkVirtualAppliances",
            "nva-junk",
            {"virtualApplianceNics": [{"privateIpAddress": "999.1.1.1"}], "virtualHub": {"id": 5}},
        ),
        res("vpnGateways", "gw-junk", {"connections": "oops", "virtualHub": None}),
    ]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    code, out, err = run_cli("audit", path, "--format", "json", "--fail-on", "never")
    assert code == 3, err
    doc = json.loads(out)
    assert "Traceback" not in err
    assert {"NET001", "NET004"} <= {f["rule_id"] for f in doc["findings"]}  # the rest is audited
    skipped = doc["coverage"]["skipped"]
    by_name = {p["resource_id"].rsplit("/", 1)[-1]: p for p in skipped if p["resource_id"]}
    assert by_name["ipg-object"]["field"] == "properties.ipAddresses"
    assert by_name["ipg-object"]["file"].endswith("hostile.json")
    assert {p["field"] for p in skipped if (p["resource_id"] or "").endswith("ipg-junk")} == {
        "properties.ipAddresses[0]",
        "properties.ipAddresses[1]",
    }
    assert by_name["site-junk"]["field"] == "properties.addressSpace.addressPrefixes[0]"
    assert by_name["nva-junk"]["field"] == "properties.virtualApplianceNics[0].privateIpAddress"
