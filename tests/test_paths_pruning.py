"""The path rules read `AuditContext.reported_flows`: the delivered flows less those no rule can
report on (FlowAnalysis.reported_flows). Pruning is a speed-up only (tests/bench/paths.py: 547k
delivered flows -> 13k at 10k subnets), so every estate here must give the same findings, byte for
byte, with and without it, and the pruned flows must be a subsequence of the delivered ones.

Estates: every scenario S01-S22 (with its config file), every landing-zone estate L01-L13, the demo estate, the benchmark generator at
1000 subnets (firewalls that always SNAT or never do, tagged and untagged NVAs, an ILB, NSGs), and
S01 variants aimed at the pruning rule itself: a quiet NVA in front of a reported one, two quiet NVAs
in series, an ILB with one untagged backend, NSGs that split contexts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from helpers.path_estates import Rows, flow_key, nsg_mix, rid, scenario_dir, vmss_rows

from auditor.audit import demo_inputs, load_estate
from auditor.catalog import load_catalog
from auditor.config import Config, load_config
from auditor.estate.model import Estate
from auditor.paths.analysis import Flow
from auditor.rules.context import AuditContext
from auditor.rules.engine import evaluate

TAG = {"disableSnatOnPL": "true"}


def findings_json(estate: Estate, config: Config, prune: bool) -> tuple[str, list[Flow], AuditContext]:
    ctx = AuditContext(estate=estate, config=config, catalog=load_catalog(), prune_flows=prune)
    findings, not_assessed = evaluate(ctx)
    text = json.dumps(
        {"findings": [f.to_dict() for f in findings], "not_assessed": [n.to_dict() for n in not_assessed]},
        sort_keys=True,
    )
    return text, ctx.reported_flows, ctx


def assert_pruning_changes_nothing(
    estate: Estate, config: Config | None = None
) -> tuple[list[Flow], list[Flow]]:
    config = config or Config()
    full, delivered, _ = findings_json(estate, config, prune=False)
    pruned, reported, _ = findings_json(estate, config, prune=True)
    assert pruned == full
    # a subsequence of the delivered flows, each unchanged
    keys = iter(flow_key(f) for f in delivered)
    for f in reported:
        key = flow_key(f)
        assert any(k == key for k in keys), (
            f"{f.source} -> {f.pe.name} is not among the delivered flows, in order"
        )
    return delivered, reported


@pytest.mark.parametrize("number", [f"S{n:02d}" for n in range(1, 23)])
def test_scenarios_find_the_same_with_and_without_pruning(number: str) -> None:
    folder = scenario_dir(number)
    config = load_config(folder / "pathaudit.toml") if (folder / "pathaudit.toml").is_file() else Config()
    assert_pruning_changes_nothing(load_estate([folder / "resources.json"]), config)


LANDING_ZONES = sorted(p for p in (REPO / "fixtures" / "landing-zones").glob("L*") if p.is_dir())


@pytest.mark.parametrize("folder", LANDING_ZONES, ids=[p.name for p in LANDING_ZONES])
def test_landing_zones_find_the_same_with_and_without_pruning(folder: Path) -> None:
    inputs = sorted(folder.glob("lz-*.json")) or [folder / "resources.json"]
    assert_pruning_changes_nothing(load_estate(inputs))


def test_demo_estate_finds_the_same_with_and_without_pruning() -> None:
    inputs, display = demo_inputs()
    assert_pruning_changes_nothing(load_estate(inputs, display))


def test_benchmark_estate_finds_the_same_and_prunes_most_flows(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    subprocess.run(
        [sys.executable, str(REPO / "tests" / "bench" / "paths.py"), "--write", "1000", str(path)],
        check=True,
        capture_output=True,
    )
    delivered, reported = assert_pruning_changes_nothing(load_estate([path]))
    # the speed-up is real: flows through afw1 (always SNAT) and tagged NVAs, and direct flows to
    # endpoints of no AI account, are left out; the pruned set still carries every finding
    assert len(reported) * 4 < len(delivered), (len(reported), len(delivered))
    assert any(f.tail.appliances and f.verdict == "asymmetric" for f in reported)


def to_storage(r: Rows) -> Rows:
    """pe-aoai retargeted to a storage account: no AI account watches it, so pruning may act on it."""
    conn = r.find("pe-aoai")["properties"]["privateLinkServiceConnections"][0]["properties"]
    conn.update(
        privateLinkServiceId=rid("rg-spoke-ai", "Microsoft.Storage/storageAccounts", "stdata1"),
        groupIds=["blob"],
    )
    return r


def vmss_tagged(r: Rows) -> Rows:
    """nva1 becomes a scale set tagged on the scale set: the tag mitigates, NET003 flags its placement."""
    vmss_rows(r, "vmss")
    return r


def firewall_tagged(r: Rows) -> Rows:
    """S06's afw1 always SNATs (mitigates) and carries a disableSnatOnPL tag, which NET003 reports."""
    r.tag("afw1", "microsoft.network/azurefirewalls", TAG)
    return r


def quiet_nva1(r: Rows) -> Rows:
    r.tag("nva1-nic", "microsoft.network/networkinterfaces", TAG)
    return r


def quiet_then_reported(r: Rows) -> Rows:
    """nva1 (tagged: mitigates, reported by nothing) forwards to nva2 (untagged: NET002)."""
    quiet_nva1(r)
    other = r.add_subnet("hub", "snet-nva2", "10.0.3.0/24")
    r.nic("nva2-nic", other, "10.0.3.4", vm="nva2")
    r.route_table(
        "rt-nva1", [("10.2.0.0/16", "VirtualAppliance", "10.0.3.4")], [r.subnet_id("hub", "snet-nva")]
    )
    return r


def two_quiet(r: Rows) -> Rows:
    quiet_then_reported(r)
    r.tag("nva2-nic", "microsoft.network/networkinterfaces", TAG)
    return r


def ilb_one_untagged(r: Rows) -> Rows:
    nva_subnet = r.subnet_id("hub", "snet-nva")
    _, pool = r.internal_lb("ilb-nva", nva_subnet, "10.0.2.100")
    r.nic("nva2-nic", nva_subnet, "10.0.2.5", vm="nva2", pools=[pool], tags=TAG)
    r.nic("nva3-nic", nva_subnet, "10.0.2.6", vm="nva3", pools=[pool])
    r.set_routes("rt-spoke", [("10.2.0.0/16", "VirtualAppliance", "10.0.2.100")])
    return r


def test_a_quiet_appliance_in_front_of_a_reported_one_keeps_its_flows(tmp_path: Path) -> None:
    estate = quiet_then_reported(Rows()).estate(tmp_path)
    _, reported = assert_pruning_changes_nothing(estate)
    through = [f for f in reported if [a.name for a in f.tail.appliances] == ["nva1", "nva2"]]
    assert through, "the flows through nva1 then nva2 are kept: NET002 reports nva2"
    assert all(f.verdict == "symmetric" and f.mitigation.appliance.name == "nva1" for f in through)


def test_flows_through_quiet_appliances_only_are_left_out(tmp_path: Path) -> None:
    estate = two_quiet(Rows()).estate(tmp_path)
    delivered, reported = assert_pruning_changes_nothing(estate)
    assert any([a.name for a in f.tail.appliances] == ["nva1", "nva2"] for f in delivered)
    # pe-aoai belongs to an AI account: AOAI005 needs every path to it, so those stay
    assert all(f.pe.name == "pe-aoai" for f in reported if f.tail.appliances)


def test_mitigating_appliances_a_rule_reports_keep_their_flows(tmp_path: Path) -> None:
    """A scale-set NVA tagged on the scale set and a tagged, always-SNAT firewall both mitigate, yet
    NET003 reports them: their flows must stay, even to an endpoint no AI account watches."""
    for name, rows in (
        ("vmss", vmss_tagged(to_storage(Rows("S01")))),
        ("afw", firewall_tagged(to_storage(Rows("S06")))),
    ):
        (tmp_path / name).mkdir()
        ctx = AuditContext(estate=rows.estate(tmp_path / name), config=Config(), catalog=load_catalog())
        assert any(f.rule_id == "NET003" for f in evaluate(ctx)[0]), name
        assert any(f.tail.appliances and f.mitigation is not None for f in ctx.reported_flows), name
        assert_pruning_changes_nothing(ctx.estate)


def test_flows_to_unwatched_endpoints_through_quiet_appliances_are_left_out(tmp_path: Path) -> None:
    estate = two_quiet(to_storage(Rows())).estate(tmp_path)
    delivered, reported = assert_pruning_changes_nothing(estate)
    assert any(f.tail.appliances for f in delivered)
    assert not any(f.tail.appliances for f in reported)


@pytest.mark.parametrize(
    "make",
    [
        lambda: quiet_nva1(Rows("S01")),
        lambda: ilb_one_untagged(Rows("S01")),
        lambda: nsg_mix(Rows("S01")),
        lambda: nsg_mix(Rows("S06")),
        lambda: nsg_mix(Rows("S11")),
        lambda: nsg_mix(quiet_nva1(Rows("S01"))),
        lambda: to_storage(Rows("S01")),
        lambda: to_storage(ilb_one_untagged(Rows("S01"))),
        lambda: to_storage(quiet_then_reported(Rows("S01"))),
        lambda: to_storage(Rows("S05")),
        lambda: to_storage(Rows("S07")),
        lambda: to_storage(nsg_mix(Rows("S11"))),
    ],
    ids=[
        "S01+tag",
        "S01+ilb",
        "S01+nsg",
        "S06+nsg",
        "S11+nsg",
        "S01+tag+nsg",
        "S01+storage",
        "S01+ilb+storage",
        "S01+series+storage",
        "S05+storage",
        "S07+storage",
        "S11+nsg+storage",
    ],
)
def test_variants_find_the_same_with_and_without_pruning(tmp_path: Path, make) -> None:
    assert_pruning_changes_nothing(make().estate(tmp_path))
