"""Malformed input never crashes pathaudit and never passes silently (README, "Audit an exported estate" and
"Exit codes").

Unreadable files: a one-line message naming the file, exit 2, the rest still audited. Unusable
resources or values: the audit completes, the problem is listed under `coverage.skipped` (naming
file, resource and field), exit 3, or 0/1 with `--allow-incomplete`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_json
from helpers.malformed_inputs import COG, NET, UNREADABLE, bad_resources, good_estate, open_account, vnet


def audit(*paths: Path | str, extra: tuple[str, ...] = ()) -> tuple[int, dict[str, Any] | None, str]:
    code, out, err = run_cli("audit", *paths, "--format", "json", *extra)
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    return code, (json.loads(out) if out.strip() else None), err


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("pathaudit: warning: ")]


def skipped(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["coverage"]["skipped"]


# ---------------------------------------------------------------- files that cannot be read


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_file_exits_2_with_one_line_naming_it(case: str, tmp_path: Path) -> None:
    name, data = UNREADABLE[case]
    path = tmp_path / name
    path.write_bytes(data)
    code, doc, err = audit(path)
    assert code == 2
    [line] = warnings(err)
    assert str(path) in line and line.endswith("(file not read)")
    assert doc is not None
    assert doc["coverage"]["complete"] is False
    assert [(s["file"], s["effect"]) for s in skipped(doc)] == [(str(path), "file not read")]
    # --allow-incomplete does not make an unreadable input acceptable
    assert audit(path, extra=("--allow-incomplete",))[0] == 2


def test_unreadable_file_next_to_a_good_one_still_audits_the_good_one(tmp_path: Path) -> None:
    good = write_json(tmp_path, "good.json", good_estate())
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"value": [')
    code, doc, err = audit(good, bad)
    assert code == 2
    assert doc["estate"]["resources"] == 2
    assert {(f["rule_id"], f["resource_id"]) for f in doc["findings"]} >= {
        ("AOAI001", f"{COG}/accounts/aoai-open"),
        ("AOAI002", f"{COG}/accounts/aoai-open"),
    }
    assert [s["file"] for s in skipped(doc)] == [str(bad)]
    assert len(warnings(err)) == 1 and str(bad) in err


@pytest.mark.parametrize("case", ["missing path", "directory without JSON"])
def test_missing_path_and_empty_directory(case: str, tmp_path: Path) -> None:
    if case == "missing path":
        target = tmp_path / "does-not-exist.json"
        expect = "no such file or directory"
    else:
        target = tmp_path / "exports"
        target.mkdir()
        (target / "README.md").write_text("exports go here\n")
        (target / "vnets.csv").write_text("id,type\n")
        expect = "no *.json or *.json.gz files"
    code, doc, err = audit(target)
    assert code == 2
    [line] = warnings(err)
    assert str(target) in line and expect in line
    assert doc["estate"]["resources"] == 0
    assert [(s["file"], s["effect"]) for s in skipped(doc)] == [(str(target), "file not read")]


# ---------------------------------------------------------------- resources that cannot be used


@pytest.mark.parametrize("case", list(bad_resources()))
def test_unusable_resource_is_listed_and_the_rest_audited(case: str, tmp_path: Path) -> None:
    resources, want = bad_resources()[case]
    path = write_json(tmp_path, "estate.json", [*good_estate(), *resources])
    code, doc, err = audit(path)
    assert code == 1  # the good account's high findings still fail the run
    got = [(s["resource_id"], s["field"], s["effect"]) for s in skipped(doc)]
    assert got == want
    assert all(s["file"] == str(path) for s in skipped(doc))
    assert doc["coverage"]["complete"] is False
    # one warning line per problem, each naming file, resource and field
    lines = warnings(err)
    assert len(lines) == len(want)
    for (rid, field, effect), line in zip(want, lines, strict=True):
        assert str(path) in line and line.endswith(f"({effect})")
        assert f"resource {rid}" in line
        if field:
            assert f"field {field}" in line
    assert ("AOAI001", f"{COG}/accounts/aoai-open") in {
        (f["rule_id"], f["resource_id"]) for f in doc["findings"]
    }


@pytest.mark.parametrize("case", list(bad_resources()))
def test_incomplete_coverage_without_failing_findings_exits_3(case: str, tmp_path: Path) -> None:
    resources, _ = bad_resources()[case]
    path = write_json(tmp_path, "estate.json", [vnet("good", "10.50.0.0/16"), *resources])
    code, doc, err = audit(path)
    assert (code, doc["findings"]) == (3, [])
    assert "coverage incomplete" in err
    assert audit(path, extra=("--allow-incomplete",))[0] == 0
    with_account = write_json(tmp_path, "with-account.json", [open_account(), *resources])
    assert audit(with_account, extra=("--allow-incomplete",))[0] == 1


def test_conflicting_copies_keep_the_richer_one(tmp_path: Path) -> None:
    from auditor.audit import load_estate

    lean = vnet("twice", "10.80.0.0/16")
    rich = vnet(
        "twice",
        "10.81.0.0/16",
        subnets=[
            {
                "id": f"{NET}/virtualNetworks/twice/subnets/a",
                "name": "a",
                "properties": {"addressPrefix": "10.81.1.0/24"},
            }
        ],
    )
    rich["properties"]["enableDdosProtection"] = False
    for order in ([lean, rich], [rich, lean]):
        estate = load_estate([write_json(tmp_path, "e.json", order)])
        [problem] = estate.problems
        assert problem.effect == "conflicting copies"
        assert [str(p) for p in estate.vnets[lean["id"].lower()].prefixes] == ["10.81.0.0/16"]
    # a copy that only adds to the other is no conflict: the fuller one is kept silently
    fuller = vnet("twice", "10.80.0.0/16")
    fuller["properties"]["enableDdosProtection"] = False
    estate = load_estate([write_json(tmp_path, "f.json", [lean, fuller])])
    assert estate.problems == []
    assert estate.records[lean["id"].lower()]["properties"]["enableDdosProtection"] is False


def test_ipv6_prefix_in_dual_stack_vnet_is_ignored_and_ipv4_audited(tmp_path: Path) -> None:
    from auditor.audit import load_estate

    dual = vnet(
        "dual",
        "10.90.0.0/16",
        "fd00:db8:90::/48",
        subnets=[
            {
                "id": f"{NET}/virtualNetworks/dual/subnets/web",
                "name": "web",
                "properties": {"addressPrefixes": ["10.90.1.0/24", "fd00:db8:90:1::/64"]},
            }
        ],
    )
    rt = {
        "id": f"{NET}/routeTables/rt6",
        "name": "rt6",
        "type": "Microsoft.Network/routeTables",
        "properties": {
            "routes": [
                {
                    "id": f"{NET}/routeTables/rt6/routes/v6",
                    "name": "v6",
                    "properties": {
                        "addressPrefix": "::/0",
                        "nextHopType": "VirtualAppliance",
                        "nextHopIpAddress": "fd00:db8:90::4",
                    },
                },
                {
                    "id": f"{NET}/routeTables/rt6/routes/v4",
                    "name": "v4",
                    "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"},
                },
            ]
        },
    }
    path = write_json(tmp_path, "dual.json", [dual, rt])
    estate = load_estate([path])
    assert [str(p) for p in estate.vnets[dual["id"].lower()].prefixes] == ["10.90.0.0/16"]
    subnet = estate.subnets[f"{NET}/virtualNetworks/dual/subnets/web".lower()]
    assert [str(p) for p in subnet.prefixes] == ["10.90.1.0/24"]
    assert [r.name for r in estate.route_tables[rt["id"].lower()].routes] == ["v4"]
    assert sorted((p.resource_id.rsplit("/", 1)[-1], p.field, p.effect) for p in estate.problems) == [
        ("dual", "properties.addressSpace.addressPrefixes[1]", "value ignored"),
        ("v6", "properties.addressPrefix", "value ignored"),
        ("web", "properties.addressPrefixes[1]", "value ignored"),
    ]
    assert all("IPv6" in p.problem for p in estate.problems)
    code, doc, _ = audit(path)
    assert code == 3
    assert {s["effect"] for s in skipped(doc)} == {"value ignored"}
    assert doc["estate"]["resources"] == 5


# ---------------------------------------------------------------- a 50 MB estate


def big_estate(target_bytes: int) -> tuple[dict[str, Any], int, int]:
    """Resource Graph response with VNets (4 subnets each), NICs and AI accounts up to ~target_bytes.

    Returns (document, resources incl. nested subnets, AI accounts with keys enabled).
    """
    sub = "/subscriptions/00000000-0000-0000-0000-0000000000b1/resourceGroups/rg-big-{:03}/providers"
    rows: list[dict[str, Any]] = []
    size = 0
    i = 0
    open_accounts = 0
    subnets = 0
    while size < target_bytes:
        base = sub.format(i % 500)
        net = f"{base}/Microsoft.Network"
        a, b = divmod(i, 256)
        vnet_id = f"{net}/virtualNetworks/vnet-{i:06}"
        row_vnet = {
            "id": vnet_id,
            "name": f"vnet-{i:06}",
            "type": "microsoft.network/virtualnetworks",
            "location": "westeurope",
            "resourceGroup": f"rg-big-{i % 500:03}",
            "tags": {"owner": "team-" + str(i % 37)},
            "properties": {
                "provisioningState": "Succeeded",
                "addressSpace": {"addressPrefixes": [f"10.{a % 256}.{b}.0/24"]},
                "subnets": [
                    {
                        "id": f"{vnet_id}/subnets/snet-{k}",
                        "name": f"snet-{k}",
                        "properties": {
                            "addressPrefix": f"10.{a % 256}.{b}.{k * 64}/26",
                            "privateEndpointNetworkPolicies": "Disabled",
                            "provisioningState": "Succeeded",
                        },
                    }
                    for k in range(4)
                ],
            },
        }
        subnets += 4
        nic_id = f"{net}/networkInterfaces/nic-{i:06}"
        row_nic = {
            "id": nic_id,
            "name": f"nic-{i:06}",
            "type": "microsoft.network/networkinterfaces",
            "location": "westeurope",
            "properties": {
                "enableIPForwarding": False,
                "ipConfigurations": [
                    {
                        "id": f"{nic_id}/ipConfigurations/ipconfig1",
                        "name": "ipconfig1",
                        "properties": {
                            "privateIPAddress": f"10.{a % 256}.{b}.4",
                            "primary": True,
                            "subnet": {"id": f"{vnet_id}/subnets/snet-0"},
                        },
                    }
                ],
            },
        }
        keys_on = i % 100 == 0
        open_accounts += keys_on
        row_acct = {
            "id": f"{base}/Microsoft.CognitiveServices/accounts/ai-{i:06}",
            "name": f"ai-{i:06}",
            "type": "microsoft.cognitiveservices/accounts",
            "kind": "OpenAI",
            "location": "westeurope",
            "properties": {
                "disableLocalAuth": not keys_on,
                "publicNetworkAccess": "Disabled",
                "customSubDomainName": f"ai-{i:06}",
                "privateEndpointConnections": [
                    {
                        "id": f"{base}/Microsoft.CognitiveServices/accounts/ai-{i:06}/privateEndpointConnections/pe",
                        "properties": {
                            "privateEndpoint": {"id": f"{net}/privateEndpoints/pe-{i:06}"},
                            "privateLinkServiceConnectionState": {"status": "Approved"},
                        },
                    }
                ],
            },
        }
        for row in (row_vnet, row_nic, row_acct):
            rows.append(row)
            size += len(json.dumps(row))
        i += 1
    return {"totalRecords": len(rows), "count": len(rows), "data": rows}, len(rows) + subnets, open_accounts


@pytest.mark.slow
def test_fifty_megabyte_estate_audits_completely(tmp_path: Path) -> None:
    doc, resources, open_accounts = big_estate(50 * 1024 * 1024)
    path = tmp_path / "big.json"
    path.write_bytes(json.dumps(doc).encode())
    assert path.stat().st_size >= 50 * 1024 * 1024
    started = time.perf_counter()
    code, out, err = audit(path)
    elapsed = time.perf_counter() - started
    assert code == 1, err  # the accounts with keys on are high findings
    assert out["estate"]["resources"] == resources
    assert out["coverage"]["complete"] is True and out["coverage"]["skipped"] == []
    aoai001 = [f for f in out["findings"] if f["rule_id"] == "AOAI001"]
    assert len(aoai001) == open_accounts > 0
    assert {f["rule_id"] for f in out["findings"]} == {"AOAI001"}
    assert elapsed < 45, f"50 MB estate took {elapsed:.1f} s"
