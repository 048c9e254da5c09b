"""Builders for the report tests: hostile estates (`hostile_estate`, `write_estate`), hand-made findings
documents (`document`, `finding`, `hostile_document`) and the payloads they carry (`SCRIPT`, `IMG`,
`JAPANESE`, `GREEK`). Used by test_report_*.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from conftest import grouped

SUB = "00000000-0000-0000-0000-00000000abcd"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JAPANESE = "日本語"
GREEK = "Ελληνικά"
HOSTILE_NAMES = (SCRIPT, IMG, f"{JAPANESE}-{GREEK}")


def account(name: str, tags: dict[str, str], disable_local_auth: Any = None) -> dict[str, Any]:
    props: dict[str, Any] = {"publicNetworkAccess": "Disabled", "customSubDomainName": "x"}
    if disable_local_auth is not None:
        props["disableLocalAuth"] = disable_local_auth
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/{name}",
        "name": name,
        "type": "microsoft.cognitiveservices/accounts",
        "kind": "OpenAI",
        "location": "westeurope",
        "resourceGroup": "rg-ai",
        "subscriptionId": SUB,
        "tags": tags,
        "properties": props,
    }


def hostile_estate() -> list[dict[str, Any]]:
    """AI accounts whose names, tags and property values are XSS payloads and non-Latin text.

    AOAI001 (keys enabled) and AOAI004 (no approved PE) fire on each, so the payloads reach the
    message, the resource id and the evidence of real findings.
    """
    tags = {"owner": SCRIPT, "note": IMG, JAPANESE: GREEK}
    return [
        account(SCRIPT, tags),
        account(IMG, tags, disable_local_auth=SCRIPT),
        account(f"{JAPANESE}-{GREEK}", tags, disable_local_auth=IMG),
    ]


def write_estate(
    tmp_path: Path, resources: list[dict[str, Any]], name: str = "estate/resources.json"
) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(resources, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


FWD_APPLIANCE_RETURN_DIRECT = {
    "source": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt-spoke",
    "source_subnets": [
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/snet-app"
    ],
    "source_prefixes": ["10.1.1.0/24"],
    "destination": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe-aoai",
    "destination_ip": "10.2.1.4",
    "port": 443,
    "forward": [
        {
            "hop": "rt-spoke",
            "kind": "subnet",
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt-spoke",
            "ip": None,
            "route": {"prefix": "10.2.0.0/16", "next_hop_type": "VirtualAppliance", "source": "User"},
        },
        {
            "hop": "nva1-nic",
            "kind": "nva",
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nva1-nic",
            "ip": "10.0.2.4",
            "route": {"prefix": "10.2.1.4/32", "next_hop_type": "InterfaceEndpoint", "source": "Default"},
        },
        {
            "hop": "pe-aoai",
            "kind": "private-endpoint",
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe-aoai",
            "ip": "10.2.1.4",
            "route": None,
        },
    ],
    "return": [
        {
            "hop": "pe-aoai",
            "kind": "private-endpoint",
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe-aoai",
            "ip": "10.2.1.4",
            "route": None,
        },
        {
            "hop": "rt-spoke",
            "kind": "subnet",
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt-spoke",
            "ip": "10.1.1.0/24",
            "route": None,
        },
    ],
    "verdict": "asymmetric",
}


def finding(
    rule_id: str = "NET001", severity: str = "high", resource_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    rid = resource_id or FWD_APPLIANCE_RETURN_DIRECT["destination"]
    f = {
        "rule_id": rule_id,
        "severity": severity,
        "status": "suspected",
        "resource_id": rid,
        "related_ids": [],
        "title": "t",
        "message": "m",
        "evidence": [],
        "remediation": "r",
        "fingerprint": hashlib.sha256(f"{rule_id}|{rid}".encode()).hexdigest()[:32],
        "suppression": None,
    }
    f.update(extra)
    return f


def document(findings: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    doc = {
        "schema": "pathaudit/findings@2",
        "tool": {"name": "pathaudit", "version": "0.1.0"},
        "estate": {
            "sha256": "a" * 64,
            "collected_at": None,
            "resources": 3,
            "inputs": ["estate/resources.json"],
        },
        "coverage": {"complete": True, "skipped": [], "not_assessed": []},
        "summary": {"high": 0, "medium": 0, "low": 0, "info": 0, "suppressed": 0},
        "findings": copy.deepcopy(findings or []),
    }
    doc.update(copy.deepcopy(extra))
    return doc


def hostile_document() -> dict[str, Any]:
    """Every string field of a findings document holds a payload (what a crafted FINDINGS.json could hold)."""
    flow = copy.deepcopy(FWD_APPLIANCE_RETURN_DIRECT)
    flow["forward"][1]["hop"] = IMG
    flow["forward"][1]["id"] = SCRIPT
    flow["return"][1]["hop"] = SCRIPT
    flow["source"] = SCRIPT
    flow["verdict"] = IMG
    wrapped = grouped(flow, [{"id": SCRIPT, "ip": IMG, "port": 443}])
    wrapped["sources"], wrapped["appliances"] = [SCRIPT], [IMG]
    f = finding(
        "NET001",
        resource_id=f"/x/{SCRIPT}",
        message=f"{IMG} {JAPANESE}",
        title=SCRIPT,
        related_ids=[IMG],
        remediation=SCRIPT,
        flow=wrapped,
        evidence=[{"kind": "property", "id": IMG, "path": SCRIPT, "value": {IMG: [SCRIPT]}, "note": IMG}],
        suppression={
            "rule": "NET001",
            "resource": SCRIPT,
            "reason": IMG,
            "expires": SCRIPT,
            "approved_by": GREEK,
        },
    )
    g = finding(
        "AOAI001",
        resource_id=IMG,
        message=SCRIPT,
        fingerprint="b" * 32,
        suppression_expired={
            "rule": "AOAI001",
            "resource": IMG,
            "reason": SCRIPT,
            "expires": "2020-01-01",
            "approved_by": None,
        },
    )
    return document(
        [f, g],
        estate={"sha256": "a" * 64, "collected_at": SCRIPT, "resources": 1, "inputs": [IMG, SCRIPT]},
        coverage={
            "complete": False,
            "skipped": [
                {
                    "file": SCRIPT,
                    "resource_id": IMG,
                    "field": SCRIPT,
                    "problem": IMG,
                    "effect": "resource skipped",
                }
            ],
            "not_assessed": [{"rule_id": "AOAI005", "reason": SCRIPT}],
        },
        warnings=[
            {
                "kind": "suppression-expired",
                "rule_id": SCRIPT,
                "resource": IMG,
                "expires": "2020-01-01",
                "message": IMG,
                "fingerprints": [],
            }
        ],
        baseline={
            "new": 1,
            "unchanged": 1,
            "resolved": [{"fingerprint": SCRIPT, "rule_id": IMG, "severity": "high", "resource_id": SCRIPT}],
        },
    )
