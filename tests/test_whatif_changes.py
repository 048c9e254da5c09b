"""Change sets keep an estate as an export would show it (auditor.whatif.changes): a subnet's route
table and NSG association is moved on both sides (the subnet names the table, the table lists the
subnet, and the estate build reads both), and an added resource's nested children (a route table's
routes) are split into records as ingest splits an export."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import pytest

from auditor.audit import AuditResult, demo_inputs
from auditor.config import load_config
from auditor.errors import UsageError
from auditor.estate import Estate, build_estate
from auditor.ingest.files import RawInputs, read_inputs
from auditor.whatif.changes import Change, apply_changes, parse_changes
from auditor.whatif.compare import Comparison
from auditor.whatif.run import audit_both, audit_raw, run_whatif

DATA = "/subscriptions/a8e2d6c4-3b1f-4e9a-8c7d-61f0b5a3e2d8/resourceGroups/rg-data-prod-weu/providers/Microsoft.Network"
APP = "/subscriptions/a8e2d6c4-3b1f-4e9a-8c7d-61f0b5a3e2d8/resourceGroups/rg-app-prod-weu/providers/Microsoft.Network"
SNET_DATA = f"{DATA}/virtualNetworks/vnet-data-weu/subnets/snet-data"
RT_DATA = f"{DATA}/routeTables/rt-data"
NSG_DATA = f"{DATA}/networkSecurityGroups/nsg-data-weu"
SNET_APP = f"{APP}/virtualNetworks/vnet-app-weu/subnets/snet-app"
RT_APP = f"{APP}/routeTables/rt-app"
RT_APIM = f"{APP}/routeTables/rt-apim"
RT_NEW = f"{DATA}/routeTables/rt-data-afw"
HUB_FIREWALL = "10.0.1.4"  # afw-hub-weu


@cache
def demo_raw() -> RawInputs:
    paths, display = demo_inputs()
    return read_inputs(paths, display)


@dataclass
class Tried:
    """Both audits of a what-if and its comparison."""

    before: AuditResult
    after: AuditResult
    comparison: Comparison


def whatif(changes: list[Change]) -> Tried:
    paths, display = demo_inputs()
    sides = audit_both(demo_raw(), load_config(None), changes)
    result = run_whatif(paths, load_config(None), changes, display, raw=demo_raw())
    return Tried(sides.before, sides.after, result.comparison)


def user_routes(result: AuditResult, subnet_id: str) -> set[str]:
    assert result.context is not None
    view = result.context.flows.routing.table_for_subnet(subnet_id)
    assert view is not None
    return {
        f"{r.prefix_text} -> {r.next_hop_type} {r.next_hop_ip_text or ''}".rstrip()
        for r in view.routes
        if r.source == "User"
    }


def route_table_of(result: AuditResult, subnet_id: str) -> str | None:
    assert result.context is not None
    view = result.context.flows.routing.table_for_subnet(subnet_id)
    assert view is not None
    return view.route_table_id


def exported(edit: Any) -> Estate:
    """The demo estate as an export showing the association after the change would build it: `edit`
    changes both sides of the association in the records, as ARM would report them."""

    def both_sides(records: dict[str, dict[str, Any]], files: dict[str, str]) -> None:
        for k in list(records):
            records[k] = copy.deepcopy(records[k])
        edit(records)

    return build_estate(demo_raw(), both_sides)


def associations(estate: Estate) -> dict[str, Any]:
    """What the build made of the associations: every subnet's table and NSG, every table's and NSG's
    subnets (in order, as the build lists them)."""
    return {
        "subnets": {k: (s.route_table_id, s.nsg_id) for k, s in estate.subnets.items()},
        "tables": {k: [x.lower() for x in t.subnet_ids] for k, t in estate.route_tables.items()},
        "nsgs": {k: [x.lower() for x in n.subnet_ids] for k, n in estate.nsgs.items()},
        "routes": {k: [r.id for r in t.routes] for k, t in estate.route_tables.items()},
    }


def after_changes(changes: list[Change]) -> Estate:
    def edit(records: dict[str, dict[str, Any]], files: dict[str, str]) -> None:
        apply_changes(records, files, changes)

    return build_estate(demo_raw(), edit)


def test_the_demo_subnet_has_the_route_tables_udrs_before_any_change() -> None:
    before = audit_raw(demo_raw(), load_config(None))
    assert route_table_of(before, SNET_DATA) == RT_DATA
    assert user_routes(before, SNET_DATA)
    assert route_table_of(before, SNET_APP) == RT_APP


def test_detaching_a_route_table_from_a_subnet_removes_its_udrs() -> None:
    changes = parse_changes({"changes": [{"id": SNET_DATA, "unset": ["properties.routeTable"]}]}, "t")
    result = whatif(changes)
    before_udrs = user_routes(result.before, SNET_DATA)
    assert before_udrs
    assert route_table_of(result.after, SNET_DATA) is None
    assert user_routes(result.after, SNET_DATA) == set()
    assert result.after.estate.route_tables[RT_DATA.lower()].subnet_ids == []
    # the comparison shows rt-data's context losing its routes for snet-data
    lost = [c for c in result.comparison.routes if c.context.lower() == RT_DATA.lower()]
    assert len(lost) == 1
    assert lost[0].subnets == (SNET_DATA,)
    assert lost[0].added == ()
    assert {line.split(" (")[0] for line in lost[0].removed if "(User," in line} == before_udrs
    gained = [c for c in result.comparison.routes if c.context.lower() == SNET_DATA.lower()]
    assert len(gained) == 1 and not any("(User," in line for line in gained[0].added)

    def export(records: dict[str, dict[str, Any]]) -> None:
        records[SNET_DATA.lower()]["properties"].pop("routeTable")
        records[RT_DATA.lower()]["properties"]["subnets"] = []

    assert associations(result.after.estate) == associations(exported(export))


def test_detaching_by_setting_null_or_unsetting_the_id_detaches_too() -> None:
    for change in (
        {"id": SNET_DATA, "set": {"properties.routeTable": None}},
        {"id": SNET_DATA, "unset": ["properties.routeTable.id"]},
    ):
        estate = after_changes(parse_changes({"changes": [change]}, "t"))
        assert estate.subnets[SNET_DATA.lower()].route_table_id is None, change
        assert estate.route_tables[RT_DATA.lower()].subnet_ids == [], change


def test_moving_a_subnet_to_another_route_table() -> None:
    changes = parse_changes(
        {"changes": [{"id": SNET_APP, "set": {"properties.routeTable": {"id": RT_APIM}}}]}, "t"
    )
    result = whatif(changes)
    assert route_table_of(result.after, SNET_APP) == RT_APIM
    apim_udrs = user_routes(result.before, f"{APP}/virtualNetworks/vnet-app-weu/subnets/snet-apim")
    assert user_routes(result.before, SNET_APP) != apim_udrs
    assert user_routes(result.after, SNET_APP) == apim_udrs
    tables = result.after.estate.route_tables
    assert tables[RT_APP.lower()].subnet_ids == []
    assert SNET_APP.lower() in [s.lower() for s in tables[RT_APIM.lower()].subnet_ids]
    assert any(c.context.lower() == RT_APP.lower() for c in result.comparison.routes)

    def export(records: dict[str, dict[str, Any]]) -> None:
        records[SNET_APP.lower()]["properties"]["routeTable"] = {"id": RT_APIM}
        records[RT_APP.lower()]["properties"]["subnets"] = []
        records[RT_APIM.lower()]["properties"]["subnets"].append({"id": SNET_APP})

    assert associations(result.after.estate) == associations(exported(export))


def test_the_route_tables_are_copied_before_they_change_and_reported_touched() -> None:
    estate = build_estate(demo_raw())
    records = dict(estate.records)
    originals = {k: copy.deepcopy(records[k]) for k in (SNET_APP.lower(), RT_APP.lower(), RT_APIM.lower())}
    changes = [Change("t", SNET_APP, set={"properties.routeTable": {"id": RT_APIM}})]
    touched = apply_changes(records, dict(estate.files), changes)
    assert touched == {SNET_APP.lower(), RT_APP.lower(), RT_APIM.lower()}
    for k, rec in originals.items():
        assert estate.records[k] == rec, k  # the records before the change are untouched
        assert records[k] is not estate.records[k]
    assert records[RT_APP.lower()]["properties"]["subnets"] == []
    assert records[RT_APIM.lower()]["properties"]["subnets"][-1] == {"id": SNET_APP}


def test_the_documented_move_that_also_unsets_the_old_tables_list_still_works() -> None:
    """docs/whatif.md moved a subnet on both sides by hand; the old table's list is still there to unset."""
    changes = [
        Change("t", SNET_DATA, set={"properties.routeTable": {"id": RT_APP}}),
        Change("t", RT_DATA, unset=("properties.subnets",)),
    ]
    estate = after_changes(changes)
    assert estate.subnets[SNET_DATA.lower()].route_table_id == RT_APP
    assert estate.route_tables[RT_DATA.lower()].subnet_ids == []


def test_detaching_an_nsg_from_a_subnet() -> None:
    changes = parse_changes(
        {"changes": [{"id": SNET_DATA, "unset": ["properties.networkSecurityGroup"]}]}, "t"
    )
    result = whatif(changes)
    assert result.before.estate.subnets[SNET_DATA.lower()].nsg_id == NSG_DATA
    assert result.after.estate.subnets[SNET_DATA.lower()].nsg_id is None
    assert result.after.estate.nsgs[NSG_DATA.lower()].subnet_ids == []
    assert result.after.estate.records[NSG_DATA.lower()]["properties"]["subnets"] == []
    assert result.before.estate.records[NSG_DATA.lower()]["properties"]["subnets"] != []

    def export(records: dict[str, dict[str, Any]]) -> None:
        records[SNET_DATA.lower()]["properties"].pop("networkSecurityGroup")
        records[NSG_DATA.lower()]["properties"]["subnets"] = []

    assert associations(result.after.estate) == associations(exported(export))


def new_table(routes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": RT_NEW,
        "name": "rt-data-afw",
        "type": "Microsoft.Network/routeTables",
        "location": "westeurope",
        "properties": {"disableBgpRoutePropagation": True, "routes": routes},
    }


ROUTES: list[dict[str, Any]] = [
    {  # as an export writes it
        "id": f"{RT_NEW}/routes/default-via-afw",
        "name": "default-via-afw",
        "properties": {
            "addressPrefix": "0.0.0.0/0",
            "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": HUB_FIREWALL,
        },
    },
    {  # as an ARM template writes it: no id
        "name": "ai-spoke-via-afw",
        "properties": {
            "addressPrefix": "10.30.0.0/16",
            "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": HUB_FIREWALL,
        },
    },
    {"name": "blackhole", "addressPrefix": "10.99.0.0/16", "nextHopType": "None"},  # as az CLI prints it
]


def test_an_added_route_tables_inline_routes_apply_to_the_subnet_associated_with_it() -> None:
    doc = {
        "changes": [
            {"add": new_table(ROUTES)},
            {"id": SNET_DATA, "set": {"properties.routeTable": {"id": RT_NEW}}},
        ]
    }
    result = whatif(parse_changes(doc, "t"))
    assert route_table_of(result.after, SNET_DATA) == RT_NEW
    assert user_routes(result.after, SNET_DATA) == {
        f"0.0.0.0/0 -> VirtualAppliance {HUB_FIREWALL}",
        f"10.30.0.0/16 -> VirtualAppliance {HUB_FIREWALL}",
        "10.99.0.0/16 -> None",
    }
    tables = result.after.estate.route_tables
    assert [r.id for r in tables[RT_NEW.lower()].routes] == [
        f"{RT_NEW}/routes/ai-spoke-via-afw",
        f"{RT_NEW}/routes/blackhole",
        f"{RT_NEW}/routes/default-via-afw",
    ]
    assert [s.lower() for s in tables[RT_NEW.lower()].subnet_ids] == [SNET_DATA.lower()]
    assert tables[RT_DATA.lower()].subnet_ids == []
    changed = {c.context.lower(): c for c in result.comparison.routes}
    assert f"0.0.0.0/0 -> VirtualAppliance {HUB_FIREWALL} (User, Active)" in changed[RT_NEW.lower()].added
    records = result.after.estate.records
    assert "routes" not in records[RT_NEW.lower()]["properties"]
    assert records[f"{RT_NEW}/routes/blackhole".lower()]["properties"] == {
        "addressPrefix": "10.99.0.0/16",
        "nextHopType": "None",
    }


def test_an_added_route_table_equals_one_added_route_by_route() -> None:
    inline = after_changes(
        parse_changes(
            {
                "changes": [
                    {"add": new_table(ROUTES)},
                    {"id": SNET_DATA, "set": {"properties.routeTable": {"id": RT_NEW}}},
                ]
            },
            "t",
        )
    )
    table = new_table([])
    del table["properties"]["routes"]
    by_route = after_changes(
        [
            Change("t", add=table),
            Change(
                "t",
                RT_NEW,
                add_route={
                    "name": "default-via-afw",
                    "addressPrefix": "0.0.0.0/0",
                    "nextHopType": "VirtualAppliance",
                    "nextHopIpAddress": HUB_FIREWALL,
                },
            ),
            Change(
                "t",
                RT_NEW,
                add_route={
                    "name": "ai-spoke-via-afw",
                    "addressPrefix": "10.30.0.0/16",
                    "nextHopType": "VirtualAppliance",
                    "nextHopIpAddress": HUB_FIREWALL,
                },
            ),
            Change(
                "t",
                RT_NEW,
                add_route={"name": "blackhole", "addressPrefix": "10.99.0.0/16", "nextHopType": "None"},
            ),
            Change("t", SNET_DATA, set={"properties.routeTable": {"id": RT_NEW}}),
        ]
    )
    assert associations(inline) == associations(by_route)
    a, b = inline.route_tables[RT_NEW.lower()], by_route.route_tables[RT_NEW.lower()]
    assert replace(a, file="") == replace(b, file="")


def test_an_added_nsgs_inline_rules_are_split_too() -> None:
    nsg = f"{DATA}/networkSecurityGroups/nsg-data-new"
    rule = {
        "name": "deny-all-in",
        "properties": {
            "priority": 4000,
            "direction": "Inbound",
            "access": "Deny",
            "protocol": "*",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": "*",
        },
    }
    row = {
        "id": nsg,
        "type": "Microsoft.Network/networkSecurityGroups",
        "properties": {"securityRules": [rule]},
    }
    estate = after_changes(
        [Change("t", add=row), Change("t", SNET_DATA, set={"properties.networkSecurityGroup": {"id": nsg}})]
    )
    assert [r.name for r in estate.nsgs[nsg.lower()].rules] == ["deny-all-in"]
    assert estate.subnets[SNET_DATA.lower()].nsg_id == nsg
    assert estate.nsgs[NSG_DATA.lower()].subnet_ids == []
    assert [s.lower() for s in estate.nsgs[nsg.lower()].subnet_ids] == [SNET_DATA.lower()]


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ({"name": "x"}, "properties.routes: expected a list"),
        (
            [{"properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "None"}}],
            "needs an `id` or a `name`",
        ),
        (["0.0.0.0/0"], "properties.routes[0]: expected an object"),
        ([{"id": f"{RT_DATA}/routes/elsewhere", "properties": {}}], "is not a child of"),
        ([{"name": "a", "properties": {}}, {"name": "A", "properties": {}}], "is given twice"),
    ],
)
def test_an_added_resource_whose_children_cannot_be_read_is_refused(routes: Any, message: str) -> None:
    records = dict(build_estate(demo_raw()).records)
    with pytest.raises(
        UsageError, match="t change 1: add: .*" + message.replace("[", r"\[").replace("]", r"\]")
    ):
        apply_changes(records, {}, parse_changes({"changes": [{"add": new_table(routes)}]}, "t"))


def test_an_added_route_that_exists_already_is_refused() -> None:
    """A standalone route record whose table the export lacks: adding the table must not overwrite it."""
    records = dict(build_estate(demo_raw()).records)
    rid = f"{RT_NEW}/routes/default-via-afw"
    records[rid.lower()] = {"id": rid, "type": "microsoft.network/routetables/routes", "properties": {}}
    with pytest.raises(UsageError, match="already exists in the estate"):
        apply_changes(records, {}, parse_changes({"changes": [{"add": new_table(ROUTES)}]}, "t"))
