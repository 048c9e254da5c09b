"""`whatif` reuses the forward walks of the audit before a change (auditor.paths.reuse) only where the
change cannot move them (auditor.whatif.scope). Reuse is an optimisation: with it and without it, the
audit after the change must say exactly the same thing, finding by finding, flow by flow, coverage
line by coverage line. Checked on the demo, every scenario and every landing zone, for the planned
fixes and for changes of each kind (tags, subnet policies, routes, NSG rules, firewall policy), and
for changes that must turn reuse off."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers.whatif_cases import estates, kinds_of_change

from auditor.audit import demo_inputs
from auditor.config import Config, load_config
from auditor.ingest.files import RawInputs, read_inputs
from auditor.whatif.changes import Change
from auditor.whatif.compare import flow_facts
from auditor.whatif.run import audit_both, audit_raw, plan_changes
from auditor.whatif.scope import walks_reusable


def outcome(raw: RawInputs, config: Config, changes: list[Change], reuse: bool) -> dict[str, Any]:
    sides = audit_both(raw, config, changes, reuse=reuse)
    out: dict[str, Any] = {"why_not": sides.why_not, "reuse": sides.reuse}
    for name, side in (("before", sides.before), ("after", sides.after)):
        out[name] = json.dumps(side.document(), sort_keys=True)
        analysis = side.context.flows if side.context is not None else None
        out[name + " flows"] = sorted(flow_facts(analysis.iter_flows())) if analysis is not None else []
        out[name + " reported"] = sorted(flow_facts(side.context.reported_flows)) if side.context else []
    return out


REUSED: dict[str, int] = {}


@pytest.mark.parametrize(
    ("name", "paths", "display", "config_path"), estates(), ids=[e[0] for e in estates()]
)
def test_reuse_changes_nothing(name, paths, display, config_path) -> None:
    config = load_config(config_path)
    raw = read_inputs(paths, display)
    current = audit_raw(raw, config)
    doc = current.document()
    kinds = kinds_of_change(current.estate)
    for f in doc["findings"]:
        planned = plan_changes(current, doc, {f["fingerprint"]})
        if planned:
            kinds[f"plan for {f['rule_id']} {f['resource_id'].rsplit('/', 1)[-1]}"] = planned
    every_fix = plan_changes(current, doc, None)
    if every_fix:
        kinds["every first planned fix at once"] = every_fix
    assert kinds, f"{name}: no change to try"
    for label, changes in kinds.items():
        fresh = outcome(raw, config, changes, reuse=False)
        reused = outcome(raw, config, changes, reuse=True)
        for part in ("before", "after", "before flows", "after flows", "before reported", "after reported"):
            assert reused[part] == fresh[part], f"{name}: {label}: reuse changed {part}"
        if reused["why_not"] is None:
            assert reused["reuse"] is not None or current.context is None
            if reused["reuse"] is not None:
                REUSED[name] = REUSED.get(name, 0) + reused["reuse"].hits


def test_reuse_happens_where_the_change_allows_it() -> None:
    """Without this, the test above would pass with reuse never switched on."""
    paths, display = demo_inputs()
    raw = read_inputs(paths, display)
    estate = audit_raw(raw, Config()).estate
    nva = next(n.id for n in sorted(estate.nics.values(), key=lambda n: n.id) if n.ip_forwarding)
    sides = audit_both(raw, Config(), [Change("t", nva, tags={"disableSnatOnPL": "true"})])
    assert sides.why_not is None
    assert sides.reuse is not None and sides.reuse.hits > 0 and sides.reuse.misses == 0
    # a route change: the route table's contexts are walked again, the others reused
    table = sorted(estate.route_tables)[0]
    rt_id = estate.route_tables[table].id
    route = {"name": "x", "addressPrefix": "10.0.0.0/8", "nextHopType": "None"}
    sides = audit_both(raw, Config(), [Change("t", rt_id, add_route=route)])
    assert sides.why_not is None and sides.reuse is not None
    assert sides.reuse.hits > 0 and sides.reuse.misses > 0


@pytest.mark.parametrize(
    ("what", "change_of"),
    [
        (
            "a peering flag",
            lambda e: Change(
                "t",
                sorted(p.id for p in e.peerings.values())[0],
                set={"properties.allowForwardedTraffic": False},
            ),
        ),
        (
            "IP forwarding on a NIC",
            lambda e: Change(
                "t",
                sorted(n.id for n in e.nics.values() if not n.ip_forwarding)[0],
                set={"properties.enableIPForwarding": True},
            ),
        ),
        (
            "an added NIC",
            lambda e: Change(
                "t",
                add={
                    "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                    "Microsoft.Network/networkInterfaces/new-nic",
                    "name": "new-nic",
                    "type": "Microsoft.Network/networkInterfaces",
                    "properties": {},
                },
            ),
        ),
    ],
)
def test_changes_that_can_move_walks_turn_reuse_off(what, change_of) -> None:
    paths, display = demo_inputs()
    raw = read_inputs(paths, display)
    estate = audit_raw(raw, Config()).estate
    sides = audit_both(raw, Config(), [change_of(estate)])
    assert sides.why_not is not None, what
    assert sides.reuse is None


def test_scope_reads_the_records_not_the_change_kind() -> None:
    """A `set` that only touches tags is a tag change; a route table property is compared per context;
    a subnet property other than the three that only move routes is not."""
    rt = {"id": "/x/routeTables/rt", "type": "microsoft.network/routetables", "properties": {"a": 1}}
    subnet = {"id": "/x/subnets/s", "type": "microsoft.network/virtualnetworks/subnets", "properties": {}}
    before = {"rt": rt, "s": subnet}
    assert walks_reusable(before, {"rt": {**rt, "tags": {"k": "v"}}, "s": subnet}, {"rt"}) is None
    assert walks_reusable(before, {"rt": {**rt, "properties": {"a": 2}}, "s": subnet}, {"rt"}) is None
    policies = {**subnet, "properties": {"privateEndpointNetworkPolicies": "Enabled"}}
    assert walks_reusable(before, {"rt": rt, "s": policies}, {"s"}) is None
    prefix = {**subnet, "properties": {"addressPrefix": "10.0.0.0/24"}}
    assert walks_reusable(before, {"rt": rt, "s": prefix}, {"s"}) is not None
