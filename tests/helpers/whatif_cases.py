"""Estates and changes the what-if tests try: the demo, every scenario and landing zone, and changes
of each kind built from what an estate holds (tags, subnet policies, routes, NSG tags)."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO

from auditor.audit import demo_inputs
from auditor.estate import Estate
from auditor.whatif.changes import Change
from helpers.scenarios import SCENARIO_DIRS

LANDING_ZONES = sorted(p for p in (REPO / "fixtures" / "landing-zones").glob("L*") if p.is_dir())


def estates() -> list[tuple[str, list[Path], dict[Path, str] | None, Path | None]]:
    paths, display = demo_inputs()
    out: list[tuple[str, list[Path], dict[Path, str] | None, Path | None]] = [("demo", paths, display, None)]
    for folder in [*SCENARIO_DIRS, *LANDING_ZONES]:
        config = folder / "pathaudit.toml"
        inputs = sorted(p for p in folder.glob("*.json") if p.name != "expected.json")
        out.append((folder.name[:3], inputs, None, config if config.is_file() else None))
    return out


def kinds_of_change(estate: Estate) -> dict[str, list[Change]]:
    """Changes of each kind reuse must survive, built from what the estate holds."""
    out: dict[str, list[Change]] = {}
    nvas = sorted(n.id for n in estate.nics.values() if n.ip_forwarding)
    if nvas:
        out["tag every NVA NIC"] = [Change("t", n, tags={"disableSnatOnPL": "true"}) for n in nvas]
    pe_subnets = sorted({pe.subnet_id for pe in estate.private_endpoints.values() if pe.subnet_id})
    if pe_subnets:
        out["enforce UDRs and NSGs on PE subnets"] = [
            Change("t", s, set={"properties.privateEndpointNetworkPolicies": "Enabled"}) for s in pe_subnets
        ]
    appliance_ips = sorted(
        c.ip_text for n in estate.nics.values() if n.ip_forwarding for c in n.ip_configs if c.ip_text
    )
    tables = sorted(rt.id for rt in estate.route_tables.values())
    if tables:
        hop = (
            {"nextHopType": "VirtualAppliance", "nextHopIpAddress": appliance_ips[0]}
            if appliance_ips
            else {"nextHopType": "None"}
        )
        out["a route in the first route table"] = [
            Change("t", tables[0], add_route={"name": "whatif-test", "addressPrefix": "10.0.0.0/8", **hop})
        ]
    nsgs = sorted(n.id for n in estate.nsgs.values())
    if nsgs:
        out["tag an NSG"] = [Change("t", nsgs[0], tags={"owner": "net"})]
    return out
