"""Issue #3 acceptance 2: the route Azure selects towards the PE IP from every subnet of every scenario.

`fixtures/scenarios/S*/expected.json` `routes` (written by fixtures/scenarios/build.py from
the canonical scenarios (fixtures/scenarios/README.md), not from pathaudit) states, per subnet `"<vnet>/<subnet>"`, the winning
route for 10.2.1.4 and the state of the PE /32 there (`absent` when the subnet's VNet neither holds
nor is directly peered with the PE's VNet). The parametrized test checks all of them; the explicit
tests below restate the key cases in words, each with the Microsoft's documentation section that decides it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from conftest import REPO

from auditor.audit import load_estate
from auditor.config import Config, load_config
from auditor.estate.lookup import resolve_subnet
from auditor.ipnet import parse_ip
from auditor.routing.engine import RoutingModel
from auditor.routing.table import Decision, EffectiveRoute, RouteTableView

SCENARIOS = REPO / "fixtures" / "scenarios"
PE_IP = parse_ip("10.2.1.4")


def scenario_dir(sid: str) -> Path:
    found = sorted(SCENARIOS.glob(f"{sid}-*"))
    assert len(found) == 1, sid
    return found[0]


@cache
def model(sid: str) -> RoutingModel:
    folder = scenario_dir(sid)
    estate = load_estate([folder / "resources.json"])
    assert estate.problems == [], [p.line() for p in estate.problems]
    toml = folder / "pathaudit.toml"
    config = load_config(toml) if toml.is_file() else Config()
    return RoutingModel(estate, config)


def view(sid: str, spec: str) -> RouteTableView:
    m = model(sid)
    subnet = resolve_subnet(m.estate, spec)
    table = m.table_for_subnet(subnet.id)
    assert table is not None
    return table


def pe_route(table: RouteTableView) -> EffectiveRoute | None:
    found = [
        r
        for r in table.routes
        if r.kind == "private-endpoint"
        and r.prefix is not None
        and r.prefix.plen == 32
        and r.prefix.net == PE_IP
    ]
    assert len(found) <= 1
    return found[0] if found else None


def winner(sid: str, spec: str) -> EffectiveRoute:
    w = view(sid, spec).lookup(PE_IP)
    assert w is not None
    return w


def expected_cases() -> list:
    cases = []
    for folder in sorted(SCENARIOS.glob("S*")):
        if not (folder / "expected.json").is_file():
            continue
        routes = json.loads((folder / "expected.json").read_text(encoding="utf-8")).get("routes") or {}
        sid = folder.name.split("-", 1)[0]
        for spec, exp in sorted(routes.items()):
            cases.append(pytest.param(sid, spec, exp, id=f"{sid}:{spec}"))
    return cases


CASES = expected_cases()


def test_every_scenario_states_routes() -> None:
    assert len({c.values[0] for c in CASES}) == 22
    assert len(CASES) >= 22 * 2


@pytest.mark.parametrize(("sid", "spec", "exp"), CASES)
def test_winning_route_towards_the_pe(sid: str, spec: str, exp: dict) -> None:
    table = view(sid, spec)
    w = table.lookup(PE_IP)
    assert w is not None, "no active route covers the PE IP"
    got = {
        "prefix": str(w.prefix),
        "source": w.source,
        "next_hop_type": w.next_hop_type,
        "next_hop_ip": w.next_hop_ip_text,
    }
    assert got == {k: exp[k] for k in got}
    pe = pe_route(table)
    assert (pe.state if pe else "absent") == exp["pe_route"]
    # the explanation agrees with the lookup
    d: Decision = table.decide(PE_IP)
    assert d.winner is w
    assert [c.route for c in d.candidates if c.outcome == "won"] == [w]
    if pe is not None and pe.state == "Invalid":
        assert any(c.route is pe and c.outcome == "invalid" and c.why for c in d.candidates)


# ---------------------------------------------------------------------------- key cases, in words


def test_s01_spoke_app_goes_to_the_nva_by_the_16_udr_and_has_no_pe_route() -> None:
    # spoke-app is peered only with the hub, so the PE /32 (spoke-ai) is not injected there
    # (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy);
    # the 10.2.0.0/16 UDR is the longest match
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview) and beats 0.0.0.0/0.
    for spec in ("spoke-app/snet-app", "spoke-app/snet-apim"):
        w = winner("S01", spec)
        assert (str(w.prefix), w.source, w.next_hop_type, w.next_hop_ip_text) == (
            "10.2.0.0/16",
            "User",
            "VirtualAppliance",
            "10.0.2.4",
        )
        assert pe_route(view("S01", spec)) is None
    # hub subnets are directly peered with spoke-ai: the /32 is there and wins (no UDR on them)
    w = winner("S01", "hub/GatewaySubnet")
    assert (str(w.prefix), w.next_hop_type) == ("10.2.1.4/32", "InterfaceEndpoint")


def test_s08_snet_work_24_udr_wins_and_invalidates_the_pe_route() -> None:
    # rt-work 10.2.1.0/24 -> NVA; snet-pe policies RouteTableEnabled; /24 >= /16 (PE VNet range): the /32
    # is invalidated (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)
    w = winner("S08", "spoke-ai/snet-work")
    assert (str(w.prefix), w.source, w.next_hop_type, w.next_hop_ip_text) == (
        "10.2.1.0/24",
        "User",
        "VirtualAppliance",
        "10.0.2.4",
    )
    pe = pe_route(view("S08", "spoke-ai/snet-work"))
    assert pe is not None and pe.state == "Invalid"
    assert "10.2.1.0/24" in (pe.reason or "") and "RouteTableEnabled" in (pe.reason or "")
    # snet-pe itself has no route table: the /32 stays Active there
    assert pe_route(view("S08", "spoke-ai/snet-pe")).state == "Active"


def test_s09_policies_disabled_keep_the_pe_route_active_and_it_wins() -> None:
    # same UDR as S08, but snet-pe policies Disabled: no invalidation
    # (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy), /32 beats /24
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
    table = view("S09", "spoke-ai/snet-work")
    pe = pe_route(table)
    assert pe is not None and pe.state == "Active"
    assert table.lookup(PE_IP) is pe
    assert any(
        r.source == "User" and str(r.prefix) == "10.2.1.0/24" and r.state == "Active" for r in table.routes
    )


def test_s10_default_route_udr_does_not_invalidate_and_the_pe_route_wins() -> None:
    # rt-work holds only 0.0.0.0/0 -> NVA: 0/0 never invalidates a PE route
    # (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy); the /32 wins.
    table = view("S10", "spoke-ai/snet-work")
    pe = pe_route(table)
    assert pe is not None and pe.state == "Active"
    assert table.lookup(PE_IP) is pe
    # any other address of the VNet stays VnetLocal (the /16 beats the 0/0 UDR,
    # https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
    w = table.lookup(parse_ip("10.2.1.5"))
    assert (str(w.prefix), w.next_hop_type) == ("10.2.0.0/16", "VnetLocal")


def test_s11_gatewaysubnet_udr_invalidates_the_pe_route() -> None:
    # rt-gw on GatewaySubnet: 10.2.0.0/16 -> NVA; the /32 arrives through the peering
    # (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy) and
    # the /16 UDR (no wider than the PE VNet's /16) invalidates it
    # (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy).
    table = view("S11", "hub/GatewaySubnet")
    w = table.lookup(PE_IP)
    assert (str(w.prefix), w.source, w.next_hop_type, w.next_hop_ip_text) == (
        "10.2.0.0/16",
        "User",
        "VirtualAppliance",
        "10.0.2.4",
    )
    assert pe_route(table).state == "Invalid"
    # the other hub subnets have no route table: still the /32
    assert winner("S11", "hub/snet-nva").next_hop_type == "InterfaceEndpoint"


def test_s21_udr_ties_the_peering_16_and_wins_and_the_pe_route_is_invalid() -> None:
    # spoke-app <-> spoke-ai peering adds 10.2.0.0/16 VNetPeering and the /32
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview,
    # https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy);
    # the UDR 10.2.0.0/16 has the same prefix: User beats System
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview);
    # with policies on and a UDR no wider than the PE VNet range, the /32 is invalid
    # (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy).
    table = view("S21", "spoke-app/snet-app")
    peering = [r for r in table.routes if r.kind == "peering" and str(r.prefix) == "10.2.0.0/16"]
    assert len(peering) == 1 and peering[0].state == "Invalid"
    w = table.lookup(PE_IP)
    assert (str(w.prefix), w.source, w.next_hop_ip_text) == ("10.2.0.0/16", "User", "10.0.2.4")
    assert pe_route(table).state == "Invalid"


def test_s22_the_pe_route_wins_over_the_default_route_udr() -> None:
    # rt-spoke holds only 0.0.0.0/0: the /32 and the peering /16 both beat it
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview,
    # https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)
    table = view("S22", "spoke-app/snet-app")
    pe = pe_route(table)
    assert pe is not None and pe.state == "Active" and table.lookup(PE_IP) is pe
    w = table.lookup(parse_ip("10.2.2.10"))
    assert (str(w.prefix), w.next_hop_type) == ("10.2.0.0/16", "VNetPeering")


def test_same_route_table_and_vnet_share_one_view() -> None:
    # snet-app and snet-apim: same VNet, same rt-spoke, no service endpoints -> one route context
    assert view("S01", "spoke-app/snet-app") is view("S01", "spoke-app/snet-apim")
    assert view("S01", "spoke-ai/snet-pe") is not view("S01", "spoke-app/snet-app")
