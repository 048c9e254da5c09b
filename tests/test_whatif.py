"""`pathaudit whatif` and `pathaudit plan`: changes applied in memory, before/after compared, planned
fixes that really fix, and changes that make things worse caught (exit 1)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli
from helpers.scenarios import SCENARIO_DIRS

from auditor.audit import demo_inputs
from auditor.config import load_config
from auditor.errors import UsageError
from auditor.ingest.files import read_inputs
from auditor.whatif.changes import parse_changes
from auditor.whatif.run import audit_raw, plan_changes, plans, run_whatif

S12 = REPO / "fixtures" / "scenarios" / "S12-nsg-not-enforced" / "resources.json"
NIC = "/subscriptions/5c3f8a2e-9d41-4b7a-a6e3-2f8b1c0d7e95/resourceGroups/rg-connectivity-nva-weu/providers/Microsoft.Network/networkInterfaces/nic-nva-fw01"


def estates() -> list[tuple[str, list[Path], dict[Path, str] | None, Path | None]]:
    paths, display = demo_inputs()
    out: list[tuple[str, list[Path], dict[Path, str] | None, Path | None]] = [("demo", paths, display, None)]
    for folder in SCENARIO_DIRS:
        config = folder / "pathaudit.toml"
        out.append((folder.name[:3], [folder / "resources.json"], None, config if config.is_file() else None))
    return out


@pytest.mark.parametrize(
    ("name", "paths", "display", "config_path"), estates(), ids=[e[0] for e in estates()]
)
def test_first_planned_fix_resolves_each_finding_or_says_why_not(name, paths, display, config_path) -> None:
    config = load_config(config_path)
    current = audit_raw(read_inputs(paths, display), config)
    doc = current.document()
    fixes = plans(current, doc)
    for f in doc["findings"]:
        proposed = fixes[f["fingerprint"]]
        assert proposed, f"{name}: {f['rule_id']} on {f['resource_id']} has no plan at all"
        first = proposed[0]
        if not first.changes:
            assert first.cannot, f"{name}: {f['rule_id']}: a fix without a change set must say why"
            continue
        changes = plan_changes(current, doc, {f["fingerprint"]})
        result = run_whatif(paths, config, changes, display)
        resolved = {x["fingerprint"] for x in result.comparison.resolved}
        assert f["fingerprint"] in resolved, f"{name}: {first.title} does not resolve {f['rule_id']}"
        assert result.comparison.worse("medium") == [], (
            name,
            f["rule_id"],
            result.comparison.worse("medium"),
        )


def s12_rows(tmp_path: Path, allow: str) -> tuple[Path, str]:
    """S12 (an NSG on the PE subnet, not enforced) with the NSG's allow rule admitting `allow`."""
    rows = json.loads(S12.read_text(encoding="utf-8"))
    subnet = None
    for row in rows:
        if row["type"] == "microsoft.network/networksecuritygroups":
            for rule in row["properties"]["securityRules"]:
                if rule["properties"]["access"] == "Allow":
                    rule["properties"]["sourceAddressPrefix"] = allow
        for sn in (row.get("properties") or {}).get("subnets") or []:
            if sn["id"].endswith("/subnets/snet-pe"):
                subnet = sn["id"]
    assert subnet is not None
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path, subnet


def test_enforcing_an_nsg_that_blocks_the_gateway_is_caught(tmp_path: Path) -> None:
    estate, subnet = s12_rows(tmp_path, "10.9.9.0/24")  # not the APIM subnet (10.1.2.0/24)
    code, out, err = run_cli(
        "whatif",
        str(estate),
        "--set",
        subnet,
        "properties.privateEndpointNetworkPolicies=Enabled",
        "--format",
        "json",
    )
    assert code == 1, err
    doc = json.loads(out)
    broken = [f for f in doc["flows"] if f["breaks"]]
    assert broken and all(f["after"] == "blocked" and f["before"] != "blocked" for f in broken)
    assert any("gateway path" in w for w in doc["verdict"]["worse"])
    # the same change with the NSG admitting the gateway is safe, and it resolves NET006
    estate, subnet = s12_rows(tmp_path, "10.1.2.0/24")
    code, out, err = run_cli(
        "whatif",
        str(estate),
        "--set",
        subnet,
        "properties.privateEndpointNetworkPolicies=Enabled",
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert code == 0, doc["verdict"]
    assert "NET006" in {f["rule_id"] for f in doc["findings"]["resolved"]}
    assert any(f["after"] == "blocked" for f in doc["flows"]), "non-gateway sources are now blocked: shown"


def test_tag_short_form_on_the_demo_resolves_net001_and_net002() -> None:
    code, out, err = run_cli("whatif", "--demo", "--tag", NIC, "disableSnatOnPL=true", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert {f["rule_id"] for f in doc["findings"]["resolved"]} == {"NET001", "NET002"}
    assert doc["findings"]["new"] == []
    assert {(f["before"], f["after"]) for f in doc["flows"]} == {("asymmetric", "symmetric")}
    again = run_cli("whatif", "--demo", "--tag", NIC, "disableSnatOnPL=true", "--format", "json")[1]
    assert again == out, "same input, same bytes"


def test_route_change_shows_in_effective_routes(tmp_path: Path) -> None:
    rows = json.loads(S12.read_text(encoding="utf-8"))
    table = next(r for r in rows if r["type"] == "microsoft.network/routetables")
    nva = table["properties"]["routes"][0]["properties"]["nextHopIpAddress"]
    change = tmp_path / "change.yaml"
    change.write_text(
        "changes:\n"
        f"  - id: {table['id']}\n"
        "    reason: send 192.168.0.0/16 to the NVA too\n"
        "    add_route: {name: onprem, addressPrefix: 192.168.0.0/16, nextHopType: VirtualAppliance, "
        f"nextHopIpAddress: {nva}}}\n",
        encoding="utf-8",
    )
    code, out, err = run_cli("whatif", str(S12), "--change", str(change), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    [routes] = doc["routes"]
    assert routes["context"] == table["id"]
    assert f"192.168.0.0/16 -> VirtualAppliance {nva} (User, Active)" in routes["added"]
    # the on-premises prefix learned from the gateway loses to the UDR (User beats BGP at equal length)
    assert "192.168.0.0/16 -> VirtualNetworkGateway (VirtualNetworkGateway, Active)" in routes["removed"]
    assert any(
        r.startswith("192.168.0.0/16 -> VirtualNetworkGateway") and "Invalid" in r for r in routes["added"]
    )
    assert doc["changes"][0]["reason"] == "send 192.168.0.0/16 to the NVA too"
    # a route to an address nobody holds is caught as a new NET007 (exit 1)
    change.write_text(change.read_text(encoding="utf-8").replace(nva, "10.0.9.9"), encoding="utf-8")
    code, out, _ = run_cli("whatif", str(S12), "--change", str(change), "--format", "markdown")
    assert code == 1 and out.startswith("### What if") and "new NET007 (high) on rt-spoke" in out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {
                "id": "/subscriptions/x/resourceGroups/r/providers/Microsoft.Network/networkInterfaces/nope",
                "tags": {"a": "b"},
            },
            "no resource",
        ),
        (
            {"id": NIC, "set": {"properties.enableIPForwardin": True}},
            "does not exist on microsoft.network/networkinterfaces",
        ),
        (
            {"id": NIC, "add_route": {"name": "r", "addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}},
            "routes are added to and removed from route tables",
        ),
    ],
)
def test_invalid_changes_are_usage_errors_naming_the_change(change: dict[str, Any], expected: str) -> None:
    paths, display = demo_inputs()
    changes = parse_changes({"changes": [change]}, "proposed.json")
    with pytest.raises(UsageError, match=r"proposed\.json change 1") as err:
        run_whatif(paths, load_config(None), changes, display)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    "doc",
    [
        {"changes": []},
        {"changes": [{"id": NIC}]},
        {"changes": [{"id": NIC, "set": {"sku": 1}}]},
        {"change": []},
    ],
)
def test_malformed_change_sets_are_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match=r"^c\.json: "):
        parse_changes(copy.deepcopy(doc), "c.json")


def test_cli_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text(
        '{"changes": [{"id": "/subscriptions/x/y", "set": {"properties.a": 1}}]}', encoding="utf-8"
    )
    code, out, err = run_cli("whatif", "--demo", "--change", str(bad))
    assert code == 2 and out == "" and "no resource /subscriptions/x/y" in err and "Traceback" not in err
    code, _, err = run_cli("whatif", "--demo")
    assert code == 2 and "needs a change" in err


def test_plan_writes_fixes_and_whatif_plan_applies_them(tmp_path: Path) -> None:
    code, _, err = run_cli(
        "audit", "--demo", "--format", "json", "-o", str(tmp_path / "f.json"), "--fail-on", "never"
    )
    assert code in (0, 3), err
    code, out, err = run_cli("plan", str(tmp_path / "f.json"), "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["schema"] == "pathaudit/plan@1"
    by_rule = {p["rule_id"]: p for p in plan["plans"]}
    net002 = by_rule["NET002"]["fixes"]
    assert net002[0]["changes"][0]["tags"] == {"disableSnatOnPL": "true"}
    assert (
        net002[0]["az"][0].startswith("az tag update")
        and "maintenance window" in net002[0]["side_effects"][0]
    )
    assert net002[1]["declaration"].startswith("[[appliances]]") and net002[1]["changes"] == []
    code, out, err = run_cli(
        "whatif", "--demo", "--plan", str(tmp_path / "f.json"), "--only", "NET004", "--format", "json"
    )
    doc = json.loads(out)
    assert code == 0, doc["verdict"]
    assert "NET004" in {f["rule_id"] for f in doc["findings"]["resolved"]}
    assert any("snat.privateRanges" in c["change"] for c in doc["changes"])


def test_incomplete_coverage_is_never_reported_safe(tmp_path: Path) -> None:
    """A referenced resource missing from the input makes coverage incomplete: a harmless change then
    exits 3, never 0 ("safe")."""
    rows = json.loads(S12.read_text(encoding="utf-8"))
    rows = [r for r in rows if r["type"] != "microsoft.network/networksecuritygroups"]  # still referenced
    estate = tmp_path / "estate.json"
    estate.write_text(json.dumps(rows), encoding="utf-8")
    table = next(r for r in rows if r["type"] == "microsoft.network/routetables")
    code, out, err = run_cli("whatif", str(estate), "--tag", table["id"], "owner=netops", "--format", "json")
    doc = json.loads(out)
    assert doc["coverage"] == {"before_complete": False, "after_complete": False}
    assert doc["verdict"]["worse"] == [] and (code, doc["verdict"]["exit"]) == (3, 3), err
    code, out, _ = run_cli("whatif", str(estate), "--tag", table["id"], "owner=netops")
    assert code == 3 and "coverage is incomplete (exit 3)" in out


def test_hostile_names_are_escaped_in_every_whatif_format(tmp_path: Path) -> None:
    """Names and tag values are attacker-controlled: every whatif format escapes them."""
    from helpers.report_docs import IMG, SCRIPT, hostile_estate, write_estate

    rows = hostile_estate()
    path = write_estate(tmp_path, rows)
    target = next(r["id"] for r in rows if SCRIPT in r["id"])
    outs = {}
    for fmt in ("html", "markdown", "table", "json"):
        code, out, err = run_cli("whatif", str(path), "--tag", target, f"note={IMG}\x1b[31m", "--format", fmt)
        assert code in (0, 1, 3) and "Traceback" not in err, err
        outs[fmt] = out
    assert SCRIPT not in outs["html"] and IMG not in outs["html"] and "&lt;img" in outs["html"]
    assert IMG not in outs["markdown"] and "\x1b" not in outs["markdown"]
    assert "\x1b" not in outs["table"] and "onerror" in outs["table"]
    assert json.loads(outs["json"])["changes"][0]["change"].endswith(f"note={IMG}\x1b[31m")


def demo_ids() -> dict[str, str]:
    paths, display = demo_inputs()
    doc = audit_raw(read_inputs(paths, display), load_config(None)).document()
    ids = {}
    for f in doc["findings"]:
        ids.setdefault(f"{f['rule_id']} {f['severity']}", f["resource_id"])
    return ids


def test_closing_public_access_the_gateway_relies_on_is_caught() -> None:
    """ais-contoso-lab: its only private endpoint is Pending and its IP rules admit the APIM's public
    IP. Closing public access cuts the gateway off: no finding says so, the reach check does."""
    paths, display = demo_inputs()
    lab = demo_ids()["AOAI003 medium"]
    change = parse_changes(
        {"changes": [{"id": lab, "set": {"properties.publicNetworkAccess": "Disabled"}}]}, "t"
    )
    result = run_whatif(paths, load_config(None), change, display)
    assert [(a.rsplit("/", 1)[-1], how) for a, how in result.comparison.lost] == [
        ("ais-contoso-lab", "its public endpoint, through IP rule 198.51.100.20")
    ]
    assert any(
        "can no longer reach AI account ais-contoso-lab" in w for w in result.comparison.worse("never")
    )
    code, out, _ = run_cli("whatif", "--demo", "--set", lab, "properties.publicNetworkAccess=Disabled")
    assert code == 1 and "can no longer reach AI account ais-contoso-lab" in out
    # narrowing the IP rules to the gateway's address (AOAI003's first planned fix) keeps it reachable
    keep = parse_changes(
        {"changes": [{"id": lab, "set": {"properties.networkAcls.ipRules": [{"value": "198.51.100.20"}]}}]},
        "t",
    )
    assert run_whatif(paths, load_config(None), keep, display).comparison.lost == []


def test_a_finding_that_rises_in_severity_is_worse() -> None:
    """Keys back on aoai-contoso-prod: AOAI005 (a private path around the gateway) rises from medium to
    high with the same fingerprint, besides the new AOAI001."""
    prod = demo_ids()["AOAI005 medium"]
    inputs, display = demo_inputs()
    change = parse_changes({"changes": [{"id": prod, "set": {"properties.disableLocalAuth": False}}]}, "t")
    result = run_whatif(inputs, load_config(None), change, display)
    assert [(b["rule_id"], b["severity"], a["severity"]) for b, a in result.comparison.worsened] == [
        ("AOAI005", "medium", "high")
    ]
    assert "AOAI005 on aoai-contoso-prod rises from medium to high" in result.comparison.worse("high")
    assert not any("rises" in w for w in result.comparison.worse("never"))


def test_a_flow_that_turns_asymmetric_inside_an_existing_finding_is_worse() -> None:
    """NET005's second planned fix (RouteTableEnabled on snet-pe-legacy without SNAT on the firewall)
    resolves NET005 and adds no finding, but on-premises traffic to the blob endpoint becomes asymmetric:
    the change is refused; with the firewall made to SNAT as well (the first fix) it is not."""
    inputs, display = demo_inputs()
    subnet = demo_ids()["NET005 medium"]
    only_policies = parse_changes(
        {
            "changes": [
                {"id": subnet, "set": {"properties.privateEndpointNetworkPolicies": "RouteTableEnabled"}}
            ]
        },
        "t",
    )
    result = run_whatif(inputs, load_config(None), only_policies, display)
    assert result.comparison.new == []
    assert [(c.context, c.before, c.after) for c in result.comparison.flows] == [
        ("on-premises", "symmetric", "asymmetric")
    ]
    assert result.comparison.worse("medium") == [
        "flows from on-premises to 1 endpoint(s) become asymmetric (were symmetric)"
    ]
    assert result.comparison.worse("never") == []


def test_planned_changes_are_made_once_whatever_the_reason() -> None:
    """NET001 on three route tables asks for the same firewall policy SNAT setting: one change, not three."""
    paths, display = demo_inputs()
    current = audit_raw(read_inputs(paths, display), load_config(None))
    changes = plan_changes(current, current.document(), None)
    edits = [
        json.dumps([c.resource_id.lower(), c.tags, c.set, c.unset, c.add_route, c.add], sort_keys=True)
        for c in changes
    ]
    assert len(edits) == len(set(edits)), [e for e in edits if edits.count(e) > 1]
    assert len({c.reason for c in changes}) > 1  # the reasons differed: the dedup is what made them one


def test_the_nsg_cost_names_the_sources_whatif_shows_blocked() -> None:
    """NET006's fix enforces nsg-pe on snet-pe. The plan's cost names the sources the NSG would deny; the
    what-if of that fix shows the same sources' flows to the endpoints there becoming blocked."""
    from auditor.ids import qualified_name
    from auditor.rules.nsg_effects import sources_denied

    paths, display = demo_inputs()
    current = audit_raw(read_inputs(paths, display), load_config(None))
    doc = current.document()
    finding = next(f for f in doc["findings"] if f["rule_id"] == "NET006")
    assert current.context is not None
    named = set()
    for label in sources_denied(current.context, finding["resource_id"]):
        named.update(label.split(", "))
    result = run_whatif(
        paths, load_config(None), plan_changes(current, doc, {finding["fingerprint"]}), display
    )
    blocked = set()
    for c in result.comparison.flows:
        if c.after == "blocked" and c.before != "blocked":
            blocked.update(qualified_name(s) for s in c.subnets) if c.subnets else blocked.add(c.context)
    assert named and named == blocked, (sorted(named), sorted(blocked))


def test_an_unreadable_ip_rule_may_admit_the_gateway_so_losing_it_shows(tmp_path: Path) -> None:
    """An IP rule that is no address or prefix (hand-edited, or a newer ARM shape) might be the one that
    admits the gateway: closing public access is then reported as a possible loss, never passed quietly."""
    lab = demo_ids()["AOAI003 medium"]
    rows = json.loads((REPO / "fixtures" / "estates" / "demo-contoso" / "resources.json").read_text("utf-8"))
    items = rows["data"] if isinstance(rows, dict) else rows
    account = next(r for r in items if r["id"].lower() == lab.lower())
    account["properties"]["networkAcls"]["ipRules"] = [{"value": "gateway-egress"}]
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    change = parse_changes(
        {"changes": [{"id": lab, "set": {"properties.publicNetworkAccess": "Disabled"}}]}, "t"
    )
    result = run_whatif([path], load_config(None), change)
    assert [(a.rsplit("/", 1)[-1], how) for a, how in result.comparison.lost] == [
        (
            "ais-contoso-lab",
            "its public endpoint, perhaps through IP rule 'gateway-egress' (not an address or prefix)",
        )
    ]
    assert result.comparison.worse("never")
