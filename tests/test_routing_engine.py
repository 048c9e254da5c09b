"""Issue #3 acceptance 5: unit tests of the routing engine on small hand-built estates.

Each estate is written as Resource Graph rows (tests/helpers/routing_rows.py, `RowEstate`) and read through the
real ingestion path; each expectation names the Microsoft's documentation section that decides it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.routing_rows import RowEstate, hub_and_spokes

from auditor.config import Config
from auditor.ipnet import Cidr, parse_cidr, parse_ip
from auditor.routing.engine import RoutingModel
from auditor.routing.table import EffectiveRoute, RouteTableView


def tables(b: RowEstate, tmp_path: Path, config: Config | None = None) -> tuple[RoutingModel, callable]:
    model = RoutingModel(b.load(tmp_path), config or Config())

    def table(vnet: str, subnet: str) -> RouteTableView:
        view = model.table_for_subnet(b.subnet_id(vnet, subnet))
        assert view is not None
        return view

    return model, table


def rows(view: RouteTableView, **match) -> list[EffectiveRoute]:
    return [r for r in view.routes if all(getattr(r, k) == v for k, v in match.items())]


def summary(view: RouteTableView, source: str | None = None) -> set[tuple[str, str, str]]:
    """{(prefix, next hop type, state)} of the table (optionally one source)."""
    return {
        (r.prefix_text if r.prefix is None else str(r.prefix), r.next_hop_type, r.state)
        for r in view.routes
        if source is None or r.source == source
    }


def winner(view: RouteTableView, ip: str) -> tuple[str, str, str]:
    w = view.lookup(parse_ip(ip))
    assert w is not None
    return (str(w.prefix), w.source, w.next_hop_type)


# ---------------------------------------------------------------------------------- peering
# https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview


def two_vnets(state_ab: str | None, state_ba: str | None, b_location: str | None = None) -> RowEstate:
    b = RowEstate()
    b.vnet("a", "10.10.0.0/16")
    b.vnet("b", "10.20.0.0/16", location=b_location)
    b.subnet("a", "s", "10.10.1.0/24")
    pe_subnet = b.subnet("b", "snet-pe", "10.20.1.0/24", pe_policies="Enabled")
    b.private_endpoint("pe-b", pe_subnet, "10.20.1.4")
    if state_ab:
        b.peering("a", "b", state=state_ab)
    if state_ba:
        b.peering("b", "a", state=state_ba)
    return b


def test_connected_peering_adds_the_remote_ranges_and_pe_routes(tmp_path: Path) -> None:
    _, table = tables(two_vnets("Connected", "Connected"), tmp_path)
    a = table("a", "s")
    assert ("10.20.0.0/16", "VNetPeering", "Active") in summary(a)
    # directly peered (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)
    assert ("10.20.1.4/32", "InterfaceEndpoint", "Active") in summary(a)
    assert winner(a, "10.20.1.4") == ("10.20.1.4/32", "Default", "InterfaceEndpoint")
    assert winner(a, "10.20.9.9") == ("10.20.0.0/16", "Default", "VNetPeering")
    assert ("10.10.0.0/16", "VNetPeering", "Active") in summary(table("b", "snet-pe"))


@pytest.mark.parametrize("state", ["Initiated", "Disconnected", "connected-ish"])
def test_peering_that_is_not_connected_adds_no_route(tmp_path: Path, state: str) -> None:
    # Initiated: only one side exists; Disconnected: the other side was deleted (a peering route needs a
    # Connected peering, https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
    b = two_vnets(state, None if state == "Initiated" else state)
    _, table = tables(b, tmp_path)
    a = table("a", "s")
    assert rows(a, kind="peering") == []
    assert rows(a, kind="private-endpoint") == []
    assert winner(a, "10.20.1.4") == ("10.0.0.0/8", "Default", "None")  # dropped by the reserved route
    assert rows(table("b", "snet-pe"), kind="peering") == []


def test_peering_state_is_compared_case_insensitively(tmp_path: Path) -> None:
    _, table = tables(two_vnets("CONNECTED", "connected"), tmp_path)
    assert ("10.20.0.0/16", "VNetPeering", "Active") in summary(table("a", "s"))


def test_cross_region_peering_is_global(tmp_path: Path) -> None:
    _, table = tables(two_vnets("Connected", "Connected", b_location="northeurope"), tmp_path)
    assert ("10.20.0.0/16", "VNetGlobalPeering", "Active") in summary(table("a", "s"))
    assert ("10.10.0.0/16", "VNetGlobalPeering", "Active") in summary(table("b", "snet-pe"))
    assert winner(table("a", "s"), "10.20.3.3") == ("10.20.0.0/16", "Default", "VNetGlobalPeering")


def test_same_region_in_other_casing_is_not_global(tmp_path: Path) -> None:
    _, table = tables(two_vnets("Connected", "Connected", b_location="WestEurope"), tmp_path)
    assert ("10.20.0.0/16", "VNetPeering", "Active") in summary(table("a", "s"))


# ---------------------------------------------------------------------------------- gateway routes


def gateway_estate(
    *,
    transit: bool = True,
    use_remote: bool = True,
    connection: bool = True,
    lgw_prefixes: tuple[str, ...] = ("192.168.0.0/16", "172.30.0.0/16"),
) -> RowEstate:
    b = RowEstate()
    b.vnet("hub", "10.0.0.0/16")
    b.vnet("spoke", "10.1.0.0/16")
    b.subnet("hub", "GatewaySubnet", "10.0.255.0/27")
    b.subnet("spoke", "s", "10.1.1.0/24")
    gw = b.vpn_gateway("vpngw", "hub")
    lgw = b.local_gateway("lgw-onprem", *lgw_prefixes)
    if connection:
        b.connection("cn-onprem", gw, lgw)
    b.peer("hub", "spoke", a_transit=transit, b_uses_remote=use_remote)
    return b


def test_local_network_gateway_prefixes_through_a_connection(tmp_path: Path) -> None:
    _, table = tables(gateway_estate(), tmp_path)
    want = {
        ("192.168.0.0/16", "VirtualNetworkGateway", "Active"),
        ("172.30.0.0/16", "VirtualNetworkGateway", "Active"),
    }
    for view in (table("hub", "GatewaySubnet"), table("spoke", "s")):  # own gateway; gateway transit
        assert summary(view, "VirtualNetworkGateway") == want
        # same prefix as the reserved 192.168/16 None route: the gateway route wins (BGP > System,
        # https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview) ...
        assert ("192.168.0.0/16", "None", "Invalid") in summary(view)
        assert winner(view, "192.168.7.7") == (
            "192.168.0.0/16",
            "VirtualNetworkGateway",
            "VirtualNetworkGateway",
        )
        # ... and 172.30/16 is more specific than 172.16/12 None (longest prefix match, same page)
        assert winner(view, "172.30.0.1") == (
            "172.30.0.0/16",
            "VirtualNetworkGateway",
            "VirtualNetworkGateway",
        )
        assert winner(view, "172.31.0.1") == ("172.16.0.0/12", "Default", "None")
    gw_routes = rows(table("spoke", "s"), source="VirtualNetworkGateway")
    assert {r.origin.rsplit("/", 1)[-1] for r in gw_routes} == {"lgw-onprem"}


@pytest.mark.parametrize(("transit", "use_remote"), [(False, True), (True, False), (False, False)])
def test_no_gateway_routes_without_both_transit_flags(
    tmp_path: Path, transit: bool, use_remote: bool
) -> None:
    _, table = tables(gateway_estate(transit=transit, use_remote=use_remote), tmp_path)
    assert rows(table("spoke", "s"), source="VirtualNetworkGateway") == []
    assert len(rows(table("hub", "GatewaySubnet"), source="VirtualNetworkGateway")) == 2  # the hub keeps them


def test_local_network_gateway_without_connection_adds_nothing(tmp_path: Path) -> None:
    _, table = tables(gateway_estate(connection=False), tmp_path)
    assert rows(table("hub", "GatewaySubnet"), source="VirtualNetworkGateway") == []
    assert rows(table("spoke", "s"), source="VirtualNetworkGateway") == []


def test_config_on_premises_adds_gateway_routes(tmp_path: Path) -> None:
    config = Config(on_premises=(parse_cidr("10.50.0.0/16"), parse_cidr("192.168.0.0/16")))
    _, table = tables(gateway_estate(), tmp_path, config)
    for view in (table("hub", "GatewaySubnet"), table("spoke", "s")):
        got = {
            (str(r.prefix), r.origin.rsplit("/", 1)[-1]) for r in rows(view, source="VirtualNetworkGateway")
        }
        # 192.168/16 is declared by both: listed once, with the local network gateway as origin
        assert got == {
            ("192.168.0.0/16", "lgw-onprem"),
            ("172.30.0.0/16", "lgw-onprem"),
            ("10.50.0.0/16", "config:network.on_premises"),
        }
        assert winner(view, "10.50.1.1") == ("10.50.0.0/16", "VirtualNetworkGateway", "VirtualNetworkGateway")
    # without any gateway the declared ranges are unreachable: no route is invented
    b = RowEstate()
    b.vnet("v", "10.1.0.0/16")
    b.subnet("v", "s", "10.1.1.0/24")
    _, table = tables(b, tmp_path / "nogw", config)
    assert rows(table("v", "s"), source="VirtualNetworkGateway") == []


def test_disable_bgp_route_propagation_removes_gateway_routes(tmp_path: Path) -> None:
    b = gateway_estate()
    rt = b.route_table("rt-nobgp", [("0.0.0.0/0", "VirtualAppliance", "10.0.2.4")], disable_bgp=True)
    b.subnet("spoke", "s-nobgp", "10.1.2.0/24", route_table=rt)
    rt_on = b.route_table("rt-bgp", [("0.0.0.0/0", "VirtualAppliance", "10.0.2.4")], disable_bgp=False)
    b.subnet("spoke", "s-bgp", "10.1.3.0/24", route_table=rt_on)
    _, table = tables(b, tmp_path)
    off = table("spoke", "s-nobgp")
    assert rows(off, source="VirtualNetworkGateway") == []
    assert any("disableBgpRoutePropagation" in n for n in off.notes)
    # echoed per route (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
    assert all(r.to_azure()["disableBgpRoutePropagation"] is True for r in off.routes)
    # no gateway route, and the 0.0.0.0/0 UDR removed the reserved 192.168/16 None route: the appliance
    assert winner(off, "192.168.1.1") == ("0.0.0.0/0", "User", "VirtualAppliance")
    on = table("spoke", "s-bgp")
    assert len(rows(on, source="VirtualNetworkGateway")) == 2
    assert not any("disableBgpRoutePropagation" in n for n in on.notes)
    assert all(r.to_azure()["disableBgpRoutePropagation"] is False for r in on.routes)
    assert len(rows(table("spoke", "s"), source="VirtualNetworkGateway")) == 2  # no route table


# ---------------------------------------------------------------------------------- reserved prefixes
# https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview


def one_vnet(*ranges: str) -> RowEstate:
    """A VNet with these ranges and one subnet `s`: the first /24 of the first range."""
    b = RowEstate()
    b.vnet("v", *ranges)
    first = parse_cidr(ranges[0])
    b.subnet("v", "s", f"{Cidr(first.net, 24)}")
    return b


def test_vnet_range_equal_to_a_reserved_prefix_turns_it_into_vnetlocal(tmp_path: Path) -> None:
    _, table = tables(one_vnet("10.0.0.0/8"), tmp_path)
    view = table("v", "s")
    assert [(r.source, r.next_hop_type) for r in view.routes if str(r.prefix) == "10.0.0.0/8"] == [
        ("Default", "VnetLocal")
    ]
    assert winner(view, "10.200.0.1") == ("10.0.0.0/8", "Default", "VnetLocal")
    assert {
        ("172.16.0.0/12", "None", "Active"),
        ("192.168.0.0/16", "None", "Active"),
        ("100.64.0.0/10", "None", "Active"),
    } <= summary(view)

    _, table = tables(one_vnet("172.16.0.0/12"), tmp_path / "b")
    view = table("v", "s")
    assert [r.next_hop_type for r in view.routes if str(r.prefix) == "172.16.0.0/12"] == ["VnetLocal"]
    assert ("10.0.0.0/8", "None", "Active") in summary(view)


def test_vnet_range_containing_a_reserved_prefix_removes_it(tmp_path: Path) -> None:
    _, table = tables(one_vnet("192.168.0.0/15", "10.0.0.0/7"), tmp_path)
    view = table("v", "s")
    prefixes = {str(r.prefix): r.next_hop_type for r in view.routes if r.prefix is not None}
    assert "192.168.0.0/16" not in prefixes and "10.0.0.0/8" not in prefixes
    assert prefixes["192.168.0.0/15"] == "VnetLocal" and prefixes["10.0.0.0/7"] == "VnetLocal"
    assert prefixes["172.16.0.0/12"] == "None" and prefixes["100.64.0.0/10"] == "None"
    assert winner(view, "192.168.44.1") == ("192.168.0.0/15", "Default", "VnetLocal")


def test_vnet_range_inside_a_reserved_prefix_keeps_it(tmp_path: Path) -> None:
    _, table = tables(one_vnet("10.1.0.0/16"), tmp_path)
    view = table("v", "s")
    assert ("10.0.0.0/8", "None", "Active") in summary(view)
    assert winner(view, "10.1.200.1") == ("10.1.0.0/16", "Default", "VnetLocal")
    assert winner(view, "10.2.0.1") == ("10.0.0.0/8", "Default", "None")


def test_peered_range_equal_to_a_reserved_prefix_is_reachable(tmp_path: Path) -> None:
    # Regression: the reserved 10.0.0.0/8 None route used to win the same-prefix tie against the
    # VNetPeering 10.0.0.0/8 route by list order, dropping all traffic to the peered VNet. A peering
    # adds a route for each range of the peered VNet
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview); a range in use replaces the
    # reserved route and VNet/peering system routes are the preferred ones (same page).
    b = RowEstate()
    b.vnet("big", "10.0.0.0/8")
    b.vnet("small", "192.168.1.0/24")
    b.subnet("big", "s", "10.1.0.0/24")
    b.subnet("small", "s", "192.168.1.0/24")
    b.peer("small", "big")
    _, table = tables(b, tmp_path)
    view = table("small", "s")
    assert winner(view, "10.9.9.9") == ("10.0.0.0/8", "Default", "VNetPeering")
    reserved = [r for r in view.routes if str(r.prefix) == "10.0.0.0/8" and r.next_hop_type == "None"]
    assert (
        len(reserved) == 1
        and reserved[0].state == "Invalid"
        and "virtual-networks-udr-overview" in reserved[0].reason
    )
    assert winner(table("big", "s"), "192.168.1.7") == ("192.168.1.0/24", "Default", "VNetPeering")


# ---------------------------------------------------------------------------------- BGP vs system routes
# https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview


def test_bgp_more_specific_than_a_peering_or_vnet_range_is_invalid(tmp_path: Path) -> None:
    b = gateway_estate(
        lgw_prefixes=("192.168.0.0/16", "10.1.5.0/24", "10.0.9.0/24", "10.1.0.0/16", "10.200.0.0/16")
    )
    _, table = tables(b, tmp_path)
    hub = table("hub", "GatewaySubnet")
    bgp = {str(r.prefix): r for r in rows(hub, source="VirtualNetworkGateway")}
    # inside the peered spoke's range: BGP never beats a peering route, even more specific
    assert (
        bgp["10.1.5.0/24"].state == "Invalid" and "virtual-networks-udr-overview" in bgp["10.1.5.0/24"].reason
    )
    assert winner(hub, "10.1.5.9") == ("10.1.0.0/16", "Default", "VNetPeering")
    # inside the hub's own range: same for VnetLocal
    assert bgp["10.0.9.0/24"].state == "Invalid"
    assert winner(hub, "10.0.9.1") == ("10.0.0.0/16", "Default", "VnetLocal")
    # equal to the peering range: the system route keeps it (the VNet/peering exception beats
    # User > BGP > System for BGP, https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
    assert (
        bgp["10.1.0.0/16"].state == "Invalid" and "virtual-networks-udr-overview" in bgp["10.1.0.0/16"].reason
    )
    # outside any VNet/peering range, more specific than the reserved 10/8 None: BGP wins (longest prefix
    # match, https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
    assert bgp["10.200.0.0/16"].state == "Active"
    assert winner(hub, "10.200.1.1") == ("10.200.0.0/16", "VirtualNetworkGateway", "VirtualNetworkGateway")


def test_udr_more_specific_than_a_peering_range_wins(tmp_path: Path) -> None:
    # unlike BGP, a UDR can pull peered traffic away (the exception is about BGP only, same page)
    b = gateway_estate()
    rt = b.route_table("rt", [("10.0.9.0/24", "VirtualAppliance", "10.0.2.4")])
    b.subnet("spoke", "s-rt", "10.1.9.0/24", route_table=rt)
    _, table = tables(b, tmp_path)
    assert winner(table("spoke", "s-rt"), "10.0.9.1") == ("10.0.9.0/24", "User", "VirtualAppliance")


# ---------------------------------------------------------------------------------- PE /32 and UDR ties


def pe_subnet_props(b: RowEstate) -> dict:
    """The ARM properties of spoke-ai/snet-pe in a hub_and_spokes() estate."""
    return next(s for s in b.vnets["spoke-ai"]["properties"]["subnets"] if s["name"] == "snet-pe")[
        "properties"
    ]


@pytest.mark.parametrize(
    "policies", ["Disabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled", "Enabled"]
)
def test_identical_32_udr_beats_the_pe_route(tmp_path: Path, policies: str) -> None:
    # a UDR with exactly the PE /32: same prefix -> the UDR wins the tie, policies or not
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
    b = hub_and_spokes()
    pe_subnet_props(b)["privateEndpointNetworkPolicies"] = policies
    rt = b.route_table("rt-pe32", [("10.2.1.4/32", "VirtualAppliance", "10.0.2.4")])
    b.subnet("hub", "snet-client", "10.0.3.0/24", route_table=rt)
    _, table = tables(b, tmp_path)
    view = table("hub", "snet-client")
    pe = rows(view, kind="private-endpoint")
    assert len(pe) == 1 and pe[0].state == "Invalid"
    w = view.lookup(parse_ip("10.2.1.4"))
    assert (w.source, str(w.prefix), w.next_hop_type, w.next_hop_ip_text) == (
        "User",
        "10.2.1.4/32",
        "VirtualAppliance",
        "10.0.2.4",
    )
    assert winner(table("hub", "GatewaySubnet"), "10.2.1.4") == (
        "10.2.1.4/32",
        "Default",
        "InterfaceEndpoint",
    )


def test_wider_udr_invalidates_only_with_route_policies(tmp_path: Path) -> None:
    for policies, state, hop in (
        ("Disabled", "Active", "InterfaceEndpoint"),
        ("NetworkSecurityGroupEnabled", "Active", "InterfaceEndpoint"),
        ("RouteTableEnabled", "Invalid", "VirtualAppliance"),
        ("Enabled", "Invalid", "VirtualAppliance"),
    ):
        b = hub_and_spokes()
        pe_subnet_props(b)["privateEndpointNetworkPolicies"] = policies
        rt = b.route_table(
            "rt",
            [("10.2.0.0/16", "VirtualAppliance", "10.0.2.4"), ("10.0.0.0/8", "VirtualAppliance", "10.0.2.4")],
        )
        b.subnet("hub", "snet-client", "10.0.3.0/24", route_table=rt)
        _, table = tables(b, tmp_path / policies)
        view = table("hub", "snet-client")
        assert rows(view, kind="private-endpoint")[0].state == state, policies
        assert view.lookup(parse_ip("10.2.1.4")).next_hop_type == hop, policies


def test_subnet_without_policies_property_means_disabled(tmp_path: Path) -> None:
    # absent privateEndpointNetworkPolicies = Disabled (the default,
    # https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)
    b = hub_and_spokes()
    del pe_subnet_props(b)["privateEndpointNetworkPolicies"]
    rt = b.route_table("rt", [("10.2.1.0/24", "VirtualAppliance", "10.0.2.4")])
    b.subnet("hub", "snet-client", "10.0.3.0/24", route_table=rt)
    _, table = tables(b, tmp_path)
    assert winner(table("hub", "snet-client"), "10.2.1.4") == ("10.2.1.4/32", "Default", "InterfaceEndpoint")


def test_pe_routes_do_not_cross_two_peerings(tmp_path: Path) -> None:
    # spoke-app is peered only with the hub: PE /32s of spoke-ai are not transitive ("directly peered",
    # https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)
    _, table = tables(hub_and_spokes(), tmp_path)
    assert rows(table("spoke-app", "snet-app"), kind="private-endpoint") == []
    assert winner(table("spoke-app", "snet-app"), "10.2.1.4") == ("10.0.0.0/8", "Default", "None")


# ---------------------------------------------------------------------------------- route contexts


def test_route_contexts_are_shared_and_computed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = hub_and_spokes()
    rt = b.route_table("rt-app", [("0.0.0.0/0", "VirtualAppliance", "10.0.2.4")])
    a1 = b.subnet("spoke-app", "a1", "10.1.11.0/24", route_table=rt)
    a2 = b.subnet("spoke-app", "a2", "10.1.12.0/24", route_table=rt)
    se1 = b.subnet(
        "spoke-app", "se1", "10.1.13.0/24", route_table=rt, service_endpoints=("Microsoft.Storage",)
    )
    se2 = b.subnet(
        "spoke-app",
        "se2",
        "10.1.14.0/24",
        route_table=rt,
        service_endpoints=("Microsoft.Storage", "Microsoft.KeyVault"),
    )
    se3 = b.subnet(
        "spoke-app",
        "se3",
        "10.1.15.0/24",
        route_table=rt,
        service_endpoints=("Microsoft.KeyVault", "Microsoft.Storage"),
    )
    ai = b.subnet("spoke-ai", "a3", "10.2.13.0/24", route_table=rt)  # same route table, other VNet
    model = RoutingModel(b.load(tmp_path))
    calls: list[tuple] = []
    original = RoutingModel._compute

    def counting(self, key):
        calls.append(key)
        return original(self, key)

    monkeypatch.setattr(RoutingModel, "_compute", counting)
    views = {s.name: model.table_for_subnet(s.id) for s in model.estate.subnets.values()}
    assert views["a1"] is views["a2"]  # same VNet + route table
    assert views["a1"] is not views["snet-app"]  # no route table
    assert views["se1"] is not views["a1"]  # split by service endpoints
    assert views["se2"] is views["se3"]  # same set, other order
    assert views["se1"] is not views["se2"]
    assert views["a3"] is not views["a1"]  # other VNet
    assert sorted(views["a1"].subnet_ids) == sorted([a1, a2])
    assert sorted(views["se2"].subnet_ids) == sorted([se2, se3])
    assert views["se1"].subnet_ids == [se1]
    assert views["a3"].subnet_ids == [ai]
    # service endpoint routes only where enabled
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview), as the service tag
    assert rows(views["a1"], kind="service-endpoint") == []
    assert {r.prefix_text for r in rows(views["se1"], kind="service-endpoint")} == {"Microsoft.Storage"}
    assert {r.next_hop_type for r in rows(views["se2"], kind="service-endpoint")} == {
        "VirtualNetworkServiceEndpoint"
    }
    # computed once per context, however often asked
    assert len(calls) == len(set(calls)) == len(model.contexts)
    again = model.all_tables()
    assert len(calls) == len(model.contexts)
    assert {id(v) for v in again} == {id(v) for v in views.values()}
    assert views["se1"].lookup(parse_ip("10.1.13.9")) is not None


def test_all_tables_lists_every_context_once(tmp_path: Path) -> None:
    model = RoutingModel(hub_and_spokes().load(tmp_path))
    views = model.all_tables()
    covered = [sid for v in views for sid in v.subnet_ids]
    assert sorted(covered) == sorted(s.id for s in model.estate.subnets.values())
    assert len(views) == len({id(v) for v in views})
