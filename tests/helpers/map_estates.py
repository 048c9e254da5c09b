"""Estates for the HTML report's estate map (test_report_map, test_report_html_browser): a small hub and
spokes whose names are XSS payloads (`hostile_network`), and a hub with hundreds of spokes
(`many_spokes`). Built as Resource Graph rows with `RowEstate`, so they go through real ingestion."""

from __future__ import annotations

from helpers.report_docs import GREEK, IMG, JAPANESE, SCRIPT
from helpers.routing_rows import RowEstate

NVA_IP = "10.0.2.4"
RENAMED = (
    "microsoft.network/virtualnetworks",
    "microsoft.network/networkinterfaces",
    "microsoft.network/privateendpoints",
    "microsoft.network/routetables",
)


def hostile_network() -> RowEstate:
    """A hub (NVA without SNAT, VPN gateway) with two spokes: one routes to the other's private endpoint
    through the NVA (NET001, a flow on the map). Ids carry `IMG` and non-Latin text; the records' names
    start with `SCRIPT` (its "/" cannot sit in an id), so every label of the map is a payload."""
    b = RowEstate()
    hub, app, ai = f"hub-{IMG}", f"app-{JAPANESE}", f"ai-{GREEK}"
    for name, prefix in ((hub, "10.0.0.0/16"), (app, "10.1.0.0/16"), (ai, "10.2.0.0/16")):
        b.vnet(name, prefix)
    b.subnet(hub, "GatewaySubnet", "10.0.255.0/27")
    nva_subnet = b.subnet(hub, f"snet-{IMG}", "10.0.2.0/24")
    b.nic(f"nva-{IMG}", nva_subnet, NVA_IP, forwarding=True)
    table = b.route_table(f"rt-{IMG}", [("10.2.0.0/16", "VirtualAppliance", NVA_IP)])
    b.subnet(app, "snet-app", "10.1.1.0/24", route_table=table)
    pe_subnet = b.subnet(ai, "snet-pe", "10.2.1.0/24", pe_policies="RouteTableEnabled")
    b.private_endpoint(f"pe-{IMG}", pe_subnet, "10.2.1.4")
    gateway = b.vpn_gateway(f"vgw-{IMG}", hub)
    b.connection("cn-onprem", gateway, b.local_gateway("lgw-onprem", "192.168.0.0/16"))
    b.peer(hub, app, a_transit=True, b_uses_remote=True)
    b.peer(hub, ai, a_transit=True, b_uses_remote=True)
    for row in b.rows():
        if row["type"] in RENAMED:
            row["name"] = f"{SCRIPT}{row['name']}"
    return b


def many_spokes(spokes: int = 199, sources_every: int = 10) -> RowEstate:
    """A hub (NVA without SNAT, VPN gateway) and `spokes` spokes (spokes + 1 VNets), each with a private
    endpoint; every `sources_every`-th spoke routes 10.0.0.0/8 through the NVA, so it is asymmetric to
    the private endpoints of all the others (NET001)."""
    assert spokes <= 250
    b = RowEstate()
    b.vnet("hub", "10.0.0.0/16")
    b.subnet("hub", "GatewaySubnet", "10.0.255.0/27")
    b.nic("nva1-nic", b.subnet("hub", "snet-nva", "10.0.2.0/24"), NVA_IP, forwarding=True)
    gateway = b.vpn_gateway("vpngw-hub", "hub")
    b.connection("cn-onprem", gateway, b.local_gateway("lgw-onprem", "192.168.0.0/16"))
    for i in range(spokes):
        name = f"spoke-{i:03}"
        b.vnet(name, f"10.1.{i}.0/24")
        table = None
        if i % sources_every == 0:
            table = b.route_table(f"rt-{name}", [("10.0.0.0/8", "VirtualAppliance", NVA_IP)])
        b.subnet(name, "snet-app", f"10.1.{i}.0/26", route_table=table)
        pe_subnet = b.subnet(name, "snet-pe", f"10.1.{i}.64/26", pe_policies="RouteTableEnabled")
        b.private_endpoint(f"pe-{i:03}", pe_subnet, f"10.1.{i}.68")
        b.peer("hub", name, a_transit=True, b_uses_remote=True)
    return b
