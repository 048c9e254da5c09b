"""findings@2: one finding per misconfigured object, fingerprints that follow the object, and readers
that refuse what is not a findings@2 document with one line."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli, write_json

S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"


def audit_rows(tmp_path: Path, rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    code, out, err = run_cli(
        "audit", write_json(tmp_path, name, rows), "--format", "json", "--fail-on", "never"
    )
    assert code in (0, 3), err
    return json.loads(out)


def with_more_endpoints(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """S01 plus `n` more private endpoints (with their NICs) in snet-pe, to storage accounts."""
    rows = copy.deepcopy(rows)
    pe = next(r for r in rows if r["type"] == "microsoft.network/privateendpoints")
    nic = next(
        r
        for r in rows
        if r["type"] == "microsoft.network/networkinterfaces"
        and (r["properties"].get("privateEndpoint") or {}).get("id") == pe["id"]
    )
    for i in range(n):
        p, c = copy.deepcopy(pe), copy.deepcopy(nic)
        p["id"] = pe["id"] + f"-st{i}"
        p["name"] += f"-st{i}"
        c["id"] = nic["id"] + f"-st{i}"
        c["name"] += f"-st{i}"
        p["properties"]["networkInterfaces"] = [{"id": c["id"]}]
        p["properties"]["customDnsConfigs"] = []
        conn = p["properties"]["privateLinkServiceConnections"][0]["properties"]
        conn["privateLinkServiceId"] = (
            pe["id"].split("/providers/")[0] + f"/providers/Microsoft.Storage/storageAccounts/st{i}"
        )
        conn["groupIds"] = ["blob"]
        c["properties"]["privateEndpoint"] = {"id": p["id"]}
        cfg = c["properties"]["ipConfigurations"][0]
        cfg["id"] = c["id"] + "/ipConfigurations/" + cfg["name"]
        cfg["properties"]["privateIPAddress"] = f"10.2.1.{10 + i}"
        cfg["properties"].pop("privateLinkConnectionProperties", None)
        rows += [p, c]
    return rows


def test_findings_grow_with_objects_not_with_endpoints(tmp_path: Path) -> None:
    """S01 with 1 or 40 endpoints behind the same route table and NVA: the same findings, the same
    fingerprints; only NET001's destination list grows."""
    rows = json.loads(S01.read_text("utf-8"))
    small = audit_rows(tmp_path, rows, "small.json")
    large = audit_rows(tmp_path, with_more_endpoints(rows, 40), "large.json")
    key = [(f["rule_id"], f["resource_id"], f["fingerprint"]) for f in small["findings"]]
    assert [(f["rule_id"], f["resource_id"], f["fingerprint"]) for f in large["findings"]] == key
    [net001] = [f for f in large["findings"] if f["rule_id"] == "NET001"]
    assert net001["flow"]["destinations_total"] == 41 == len(net001["flow"]["destinations"])
    assert net001["resource_id"].endswith("/routeTables/rt-spoke")
    assert "41 private endpoint(s)" in net001["message"]


@pytest.mark.parametrize("command", ["report", "diff", "confirm", "baseline"])
def test_findings_at_1_is_refused_with_one_line(tmp_path: Path, command: str) -> None:
    old = json.loads((REPO / "reports" / "demo" / "findings.json").read_text("utf-8"))
    old["schema"] = "pathaudit/findings@1"
    path = write_json(tmp_path, "old.json", old)
    args = {
        "report": ("report", path),
        "diff": ("diff", path, path),
        "confirm": ("confirm", path, "--pcap", REPO / "fixtures" / "captures" / "asymmetric.pcap"),
        "baseline": ("audit", S01, "--baseline", path),
    }[command]
    code, _, err = run_cli(*args)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "findings@1" in err and "audit" in err


def test_a_malformed_document_names_the_field(tmp_path: Path) -> None:
    doc = json.loads((REPO / "reports" / "demo" / "findings.json").read_text("utf-8"))
    net001 = next(f for f in doc["findings"] if f["rule_id"] == "NET001")
    net001["flow"]["destinations"] = "everything"
    code, _, err = run_cli("report", write_json(tmp_path, "bad.json", doc))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "flow.destinations" in err
