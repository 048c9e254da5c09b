"""Flow analysis on small estates built by mutating S01 (issue #4 acceptance 5).

`Rows` (tests/helpers/path_estates.py) copies `fixtures/scenarios/<scenario>/resources.json` and edits it
in memory (add a NIC, a load balancer, a route table, retarget a private endpoint ...), then writes it under
tmp_path and reads it back through the real ingestion path. Every expectation below is argued from Microsoft's documentation (section
in the test's docstring), not copied from pathaudit's output.

Base (fixtures/scenarios/README.md): hub 10.0.0.0/16 (snet-nva with nva1 10.0.2.4, GatewaySubnet with a VPN gateway,
local network gateway 192.168.0.0/16), spoke-app 10.1.0.0/16 (snet-app 10.1.1.0/24, snet-apim
10.1.2.0/24, both on rt-spoke: 0.0.0.0/0 and 10.2.0.0/16 -> 10.0.2.4), spoke-ai 10.2.0.0/16 (snet-pe
with pe-aoai 10.2.1.4, RouteTableEnabled; snet-work). Spokes peer with the hub only.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from conftest import REPO
from helpers.path_estates import (
    Rows,
    attach_nsg,
    by_rule,
    flow_key,
    ip,
    nsg_mix,
    nsg_row,
    rid,
    triples,
    vmss_rows,
)

from auditor.audit import findings_document, run_audit
from auditor.config import ApplianceDecl, Config, GatewayDecl
from auditor.paths.analysis import FlowAnalysis
from auditor.paths.appliances import Appliance, Blackhole

PE_IP = (10 << 24) | (2 << 16) | (1 << 8) | 4  # 10.2.1.4
NVA_IP = (10 << 24) | (0 << 16) | (2 << 8) | 4  # 10.0.2.4
APPLIANCE_KINDS = {"nva", "azure-firewall"}


def flow_from(analysis: FlowAnalysis, subnet_name: str, pe_ip: int = PE_IP):
    """The flow of `all_flows` whose sources include the named subnet, to `pe_ip`."""
    hits = [
        f
        for f in analysis.all_flows
        if f.pe_ip == pe_ip and any(s.rsplit("/", 1)[-1] == subnet_name for s in f.source_subnets)
    ]
    assert len(hits) == 1, [(f.source, f.outcome) for f in hits]
    return hits[0]


def onprem_flow(analysis: FlowAnalysis, pe_ip: int = PE_IP):
    [flow] = [f for f in analysis.all_flows if f.pe_ip == pe_ip and f.source_kind == "on-premises"]
    return flow


# ---------------------------------------------------------------------------------------------------
# The unmodified base, seen through FlowAnalysis (sanity for the helpers; S01 in fixtures/scenarios/README.md)


def test_base_estate_flows(tmp_path: Path) -> None:
    """snet-app reaches pe-aoai via nva1 by UDR (its winning route is VirtualAppliance) and the reply
    skips nva1 (https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall); snet-work is in the
    PE's VNet and uses the /32 directly
    (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy): no appliance,
    symmetric."""
    a = Rows().analysis(tmp_path)
    app = flow_from(a, "snet-app")
    assert app.outcome == "delivered" and app.verdict == "asymmetric"
    assert [h.kind for h in app.forward_hops] == ["subnet", "nva", "private-endpoint"]
    assert app.appliance is not None and app.appliance.ip == NVA_IP
    assert all(h.kind not in APPLIANCE_KINDS for h in app.return_hops)
    work = flow_from(a, "snet-work")
    assert (work.outcome, work.verdict, work.tail.appliances) == ("delivered", "symmetric", [])
    assert work.tail.route is not None and work.tail.route.next_hop_type == "InterfaceEndpoint"
    # platform subnets are never sources of their own; on-premises enters through the gateway instead
    sources = {s.rsplit("/", 1)[-1] for f in a.all_flows for s in f.source_subnets}
    assert {"GatewaySubnet", "AzureFirewallSubnet"} & sources == set()
    assert {"snet-app", "snet-apim", "snet-nva", "snet-work"} <= sources
    assert "snet-pe" not in sources  # only private endpoints there: nothing opens a connection
    onprem = onprem_flow(a)
    assert onprem.verdict == "symmetric" and onprem.tail.appliances == []


# ---------------------------------------------------------------------------------------------------
# Appliances behind a next hop


def test_internal_load_balancer_in_front_of_nvas_is_the_next_hop(tmp_path: Path) -> None:
    """A VirtualAppliance next hop may be an ILB frontend in front of NVAs: the flow crosses the
    NVAs, so without SNAT / disableSnatOnPL it is asymmetric
    (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)."""
    r = Rows()
    nva_subnet = r.subnet_id("hub", "snet-nva")
    lb, pool = r.internal_lb("ilb-nva", nva_subnet, "10.0.2.100")
    r.nic("nva2-nic", nva_subnet, "10.0.2.5", vm="nva2", pools=[pool])
    r.nic("nva3-nic", nva_subnet, "10.0.2.6", vm="nva3", pools=[pool])
    r.set_routes(
        "rt-spoke",
        [("0.0.0.0/0", "VirtualAppliance", "10.0.2.100"), ("10.2.0.0/16", "VirtualAppliance", "10.0.2.100")],
    )
    a = r.analysis(tmp_path)
    target = a.appliances.resolve(ip("10.0.2.100"))
    assert isinstance(target, Appliance) and target.kind == "nva"
    assert target.id == lb
    assert sorted(n.rsplit("/", 1)[-1] for n in target.nic_ids) == ["nva2-nic", "nva3-nic"]
    flow = flow_from(a, "snet-app")
    assert flow.outcome == "delivered" and flow.verdict == "asymmetric"
    assert [h.kind for h in flow.forward_hops] == ["subnet", "nva", "private-endpoint"]
    assert flow.forward_hops[1].ip == "10.0.2.100"
    doc = r.audit(tmp_path)
    assert ("NET001", "rt-spoke", "rt-spoke") in triples(doc)
    [f] = by_rule(doc, "NET001")
    assert {
        lb,
        *[rid("rg-hub", "Microsoft.Network/networkInterfaces", n) for n in ("nva2-nic", "nva3-nic")],
    } <= set(f["related_ids"])


def test_load_balancer_with_tagged_backends_mitigates(tmp_path: Path) -> None:
    """disableSnatOnPL=true on the NVA NICs behind the ILB removes the SNAT need
    (https://learn.microsoft.com/azure/private-link/private-link-disable-snat)."""
    r = Rows()
    nva_subnet = r.subnet_id("hub", "snet-nva")
    _, pool = r.internal_lb("ilb-nva", nva_subnet, "10.0.2.100")
    for n, address in (("nva2", "10.0.2.5"), ("nva3", "10.0.2.6")):
        r.nic(f"{n}-nic", nva_subnet, address, vm=n, pools=[pool], tags={"disableSnatOnPL": "true"})
    r.set_routes("rt-spoke", [("10.2.0.0/16", "VirtualAppliance", "10.0.2.100")])
    flow = flow_from(r.analysis(tmp_path), "snet-app")
    assert flow.verdict == "symmetric" and flow.mitigation is not None and flow.mitigation.how == "tag"
    assert not {t[0] for t in triples(r.audit(tmp_path))} & {"NET001", "NET002", "NET003"}


def test_load_balancer_with_only_one_tagged_backend_is_not_mitigated(tmp_path: Path) -> None:
    """The ILB may hash a connection to either NVA; the untagged one still loses the replies (the tag
    belongs on each NVA's NIC, https://learn.microsoft.com/azure/private-link/private-link-disable-snat), so
    the flow stays asymmetric."""
    r = Rows()
    nva_subnet = r.subnet_id("hub", "snet-nva")
    _, pool = r.internal_lb("ilb-nva", nva_subnet, "10.0.2.100")
    r.nic("nva2-nic", nva_subnet, "10.0.2.5", vm="nva2", pools=[pool], tags={"disableSnatOnPL": "true"})
    r.nic("nva3-nic", nva_subnet, "10.0.2.6", vm="nva3", pools=[pool])
    r.set_routes("rt-spoke", [("10.2.0.0/16", "VirtualAppliance", "10.0.2.100")])
    flow = flow_from(r.analysis(tmp_path), "snet-app")
    assert flow.mitigation is None and flow.verdict == "asymmetric"
    doc = r.audit(tmp_path)
    assert ("NET001", "rt-spoke", "rt-spoke") in triples(doc)
    # one finding per NVA, not per load balancer: the untagged backend's NIC (NET002: no tag on it)
    [f] = by_rule(doc, "NET002")
    assert f["resource_id"] == r.id("nva3-nic")
    assert r.id("ilb-nva") in f["related_ids"]
    assert [e["id"].rsplit("/", 1)[-1] for e in f["evidence"]] == ["nva3-nic"]
    assert not by_rule(doc, "NET003")


def test_load_balancer_without_backends_in_the_input_is_an_appliance_of_unknown_nvas(tmp_path: Path) -> None:
    """A load-balancer frontend is never an unusable next hop: its backends are simply not in the input
    (an export without them). The flow goes on through an appliance nothing shows to SNAT: NET001, no
    NET007, and coverage names the load balancer."""
    r = Rows()
    r.internal_lb("ilb-empty", r.subnet_id("hub", "snet-nva"), "10.0.2.100")
    r.set_routes("rt-spoke", [("10.2.0.0/16", "VirtualAppliance", "10.0.2.100")])
    a = r.analysis(tmp_path)
    assert not isinstance(a.appliances.resolve(ip("10.0.2.100")), Blackhole)
    assert flow_from(a, "snet-app").verdict == "asymmetric"
    doc = r.audit(tmp_path, complete=False)
    got = triples(doc)
    assert ("NET001", "rt-spoke", "rt-spoke") in got
    assert not any(t[0] in ("NET007", "NET002") for t in got)
    assert not doc["coverage"]["complete"]
    assert any("ilb-empty" in (p["resource_id"] or "") for p in doc["coverage"]["skipped"])


def test_routing_loop_between_two_nvas_is_detected(tmp_path: Path) -> None:
    """nva1's subnet sends 10.2.0.0/16 to nva2 and nva2's subnet sends it back to nva1: the walk must
    stop (a loop delivers nothing) instead of recursing forever."""
    r = Rows()
    hub = "hub"
    other = r.add_subnet(hub, "snet-nva2", "10.0.3.0/24")
    r.nic("nva2-nic", other, "10.0.3.4", vm="nva2")
    r.route_table(
        "rt-nva1", [("10.2.0.0/16", "VirtualAppliance", "10.0.3.4")], [r.subnet_id(hub, "snet-nva")]
    )
    r.route_table("rt-nva2", [("10.2.0.0/16", "VirtualAppliance", "10.0.2.4")], [other])
    a = r.analysis(tmp_path)
    flow = flow_from(a, "snet-app")
    assert flow.outcome == "blocked" and flow.verdict == "blocked"
    assert flow.tail.outcome == "loop"
    assert any("loop" in (h.note or "") for h in flow.forward_hops)
    # and the audit itself finishes, with no path finding for a flow that never arrives
    assert not any(t[0] in ("NET001", "NET002") for t in triples(r.audit(tmp_path)))


def test_two_nvas_in_series_both_appear_on_the_path(tmp_path: Path) -> None:
    """nva1 forwards to nva2 (its subnet's UDR), nva2's subnet has the PE /32 (peered hub,
    https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)."""
    r = Rows()
    other = r.add_subnet("hub", "snet-nva2", "10.0.3.0/24")
    r.nic("nva2-nic", other, "10.0.3.4", vm="nva2")
    r.route_table(
        "rt-nva1", [("10.2.0.0/16", "VirtualAppliance", "10.0.3.4")], [r.subnet_id("hub", "snet-nva")]
    )
    flow = flow_from(r.analysis(tmp_path), "snet-app")
    assert flow.outcome == "delivered" and flow.verdict == "asymmetric"
    assert [h.hop for h in flow.forward_hops] == ["rt-spoke", "nva1", "nva2", "pe-aoai"]
    assert [a.name for a in flow.tail.appliances] == ["nva1", "nva2"]


@pytest.mark.parametrize("owner", ["private endpoint NIC", "API Management"])
def test_next_hop_owned_by_something_that_does_not_forward_is_net007(tmp_path: Path, owner: str) -> None:
    """A VirtualAppliance next hop must be an NVA NIC with IP forwarding, a firewall or an ILB frontend
    (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview). The PE's own NIC
    (10.2.1.4) or the APIM gateway address do not forward: the route is
    unusable (NET007) and nothing reaches the PE through it."""
    r = Rows()
    target = "10.2.1.4"
    if owner == "API Management":
        apim = r.find("apim-gw")
        target = apim["properties"]["privateIPAddresses"][0]
    r.set_routes("rt-spoke", [("10.2.0.0/16", "VirtualAppliance", target)])
    a = r.analysis(tmp_path)
    hole = a.appliances.resolve(ip(target))
    assert isinstance(hole, Blackhole)
    assert "does not forward" in hole.reason
    assert flow_from(a, "snet-app").outcome == "blocked"
    got = triples(r.audit(tmp_path))
    assert ("NET007", "rt-spoke", None) in got
    assert not any(t[0] in ("NET001", "NET002") for t in got)


# ---------------------------------------------------------------------------------------------------
# Return paths


def test_storage_private_endpoint_net001_mentions_field_reports(tmp_path: Path) -> None:
    """Field reports say Storage PEs stay symmetric without SNAT, Microsoft documents no exception
    (https://learn.microsoft.com/azure/private-link/private-endpoint-overview recommends SNAT): NET001 still
    fires (documented risk) and its message says so."""
    r = Rows()
    storage = rid("rg-spoke-ai", "Microsoft.Storage/storageAccounts", "stdata1")
    conn = r.find("pe-aoai")["properties"]["privateLinkServiceConnections"][0]["properties"]
    conn.update(privateLinkServiceId=storage, groupIds=["blob"])
    doc = r.audit(tmp_path)
    [f] = by_rule(doc, "NET001")
    assert f["resource_id"].endswith("/routeTables/rt-spoke")
    assert f["flow"]["destinations"][0]["id"].endswith("/privateEndpoints/pe-aoai")
    assert "Storage" in f["message"] and "field reports" in f["message"].lower()
    # and an AI account PE's message does not carry that caveat
    (tmp_path / "base").mkdir()
    [base] = by_rule(Rows().audit(tmp_path / "base"), "NET001")
    assert "field reports" not in base["message"].lower()


def test_on_premises_flow_with_no_gateway_route_in_the_pe_vnet_is_return_unroutable(tmp_path: Path) -> None:
    """S11's forward path (GatewaySubnet UDR -> nva1 -> PE). spoke-ai stops using the hub's gateway
    (useRemoteGateways false), so its system routes hold no 192.168.0.0/16 gateway route: the reply,
    which ignores UDRs (https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall),
    has nowhere to go (reserved 192.168/16 -> None,
    https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)."""
    r = Rows("S11")
    for p in r.find("spoke-ai", "microsoft.network/virtualnetworks")["properties"]["virtualNetworkPeerings"]:
        p["properties"]["useRemoteGateways"] = False
    a = r.analysis(tmp_path)
    flow = onprem_flow(a)
    assert flow.outcome == "delivered"
    assert flow.verdict == "return-unroutable"
    assert [h.kind for h in flow.return_hops] == ["private-endpoint"]
    doc = r.audit(tmp_path)
    [f] = [f for f in by_rule(doc, "NET001") if f["flow"]["sources"] == ["on-premises"]]
    assert f["flow"]["example"]["verdict"] == "return-unroutable"
    assert "no route back" in f["message"]


def test_on_premises_reply_ignores_a_udr_in_the_pe_subnet(tmp_path: Path) -> None:
    """A route table on snet-pe sending 192.168.0.0/16 to nva1 does not steer the PE's replies:
    private endpoints ignore UDRs for return traffic
    (https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall,
    https://davidsantiago.fr/filter-traffic-destined-to-a-private-endpoint). The reply still follows the system
    gateway route (useRemoteGateways), so S11's on-premises flow stays asymmetric, not unroutable."""
    r = Rows("S11")
    r.route_table(
        "rt-pe",
        [("192.168.0.0/16", "VirtualAppliance", "10.0.2.4")],
        [r.subnet_id("spoke-ai", "snet-pe")],
        rg="rg-spoke-ai",
    )
    flow = onprem_flow(r.analysis(tmp_path))
    assert flow.outcome == "delivered" and flow.verdict == "asymmetric"
    assert flow.return_hops[0].kind == "private-endpoint"
    assert flow.return_hops[0].route is not None
    assert flow.return_hops[0].route.next_hop_type == "VirtualNetworkGateway"
    assert all(h.kind not in APPLIANCE_KINDS for h in flow.return_hops)


def test_on_premises_return_names_the_gateway_once_and_in_order(tmp_path: Path) -> None:
    """S11: the reply goes PE -> the VPN gateway -> on-premises, skipping nva1. The gateway the flow
    entered by (vpngw-hub) ends the return path; the local network gateway (on-premises' own side)
    never stands between the PE and the Azure gateway."""
    r = Rows("S11")
    flow = onprem_flow(r.analysis(tmp_path))
    ids = [h.id for h in flow.return_hops]
    assert ids[0].endswith("/privateEndpoints/pe-aoai")
    assert ids[-1] == r.id("vpngw-hub")
    assert not any("localNetworkGateways" in (i or "") for i in ids[1:])
    assert len(ids) == len(set(ids)), ids


def test_snat_declared_in_config_returns_through_the_nva(tmp_path: Path) -> None:
    """Config-declared SNAT (README, config file) is a mitigation: the reply is addressed to nva1
    (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)."""
    r = Rows()
    cfg = Config(appliances=(ApplianceDecl(r.id("nva1-nic"), True),))
    flow = flow_from(r.analysis(tmp_path, cfg), "snet-app")
    assert (
        flow.verdict == "symmetric" and flow.mitigation is not None and flow.mitigation.how == "snat-declared"
    )
    assert [h.kind for h in flow.return_hops] == ["private-endpoint", "nva", "subnet"]


# ---------------------------------------------------------------------------------------------------
# NSG effects on reachability


def test_enforced_nsg_with_asg_allow_before_deny_does_not_silently_block(tmp_path: Path) -> None:
    """An allow rule whose source is an application security group cannot be resolved offline: it
    "may match" (tags and ASGs are not resolved offline). The deny-all after it must not make the flow
    definitely blocked, or
    AOAI005 would silently drop a source that may well bypass the gateway."""
    r = Rows()
    asg = rid("rg-spoke-ai", "Microsoft.Network/applicationSecurityGroups", "asg-callers")
    nsg = nsg_row(
        r,
        "nsg-pe",
        [
            {
                "name": "allow-asg",
                "priority": 100,
                "direction": "Inbound",
                "access": "Allow",
                "sourceApplicationSecurityGroups": [{"id": asg}],
            },
            {
                "name": "deny-all",
                "priority": 4000,
                "direction": "Inbound",
                "access": "Deny",
                "sourceAddressPrefix": "*",
                "destinationPortRange": "*",
            },
        ],
    )
    attach_nsg(r, "spoke-ai", "snet-pe", nsg)
    r.subnet("spoke-ai", "snet-pe")["properties"]["privateEndpointNetworkPolicies"] = "Enabled"
    a = r.analysis(tmp_path)
    flow = flow_from(a, "snet-work")
    assert flow.outcome == "delivered", "a may-match allow ahead of the deny leaves the flow possible"
    probe = a.build_flow(
        flow.source, "subnet", [], flow.source_prefixes, flow.view, flow.pe, PE_IP, flow.source_hop
    )
    a.nsg_check(probe, None, flow.source_prefixes)
    [rec] = [n for n in probe.nsg if n["direction"] == "Inbound"]
    assert any("allow-asg" in u for u in rec["uncertain"])
    doc = r.audit(tmp_path)
    [f] = by_rule(doc, "AOAI005")
    assert "snet-work" in f["message"]


def test_enforced_nsg_allowing_only_apim_blocks_other_sources(tmp_path: Path) -> None:
    """S13's rule set written here by hand (allow 10.1.2.0/24, deny the rest, policies Enabled,
    https://learn.microsoft.com/azure/private-link/private-endpoint-overview):
    every non-APIM source is blocked, so AOAI005 does not fire; APIM still reaches it via nva1."""
    r = Rows()
    nsg = nsg_row(
        r,
        "nsg-pe",
        [
            {
                "name": "allow-apim",
                "priority": 100,
                "direction": "Inbound",
                "access": "Allow",
                "sourceAddressPrefix": "10.1.2.0/24",
            },
            {
                "name": "deny-all",
                "priority": 4000,
                "direction": "Inbound",
                "access": "Deny",
                "sourceAddressPrefix": "*",
                "destinationPortRange": "*",
            },
        ],
    )
    attach_nsg(r, "spoke-ai", "snet-pe", nsg)
    r.subnet("spoke-ai", "snet-pe")["properties"]["privateEndpointNetworkPolicies"] = "Enabled"
    a = r.analysis(tmp_path)
    delivered = {
        s.rsplit("/", 1)[-1] for f in a.all_flows if f.outcome == "delivered" for s in f.source_subnets
    }
    assert delivered == {"snet-apim"}
    assert onprem_flow(a).outcome == "blocked"
    assert not by_rule(r.audit(tmp_path), "AOAI005")


def test_nsg_with_snat_sees_the_appliance_address(tmp_path: Path) -> None:
    """When the appliance SNATs, the PE subnet NSG sees the appliance's address, not the client's
    (https://learn.microsoft.com/azure/private-link/private-endpoint-overview,
    https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview): an allow for the APIM
    subnet no longer admits APIM through a SNATing NVA."""
    r = Rows()
    nsg = nsg_row(
        r,
        "nsg-pe",
        [
            {
                "name": "allow-apim",
                "priority": 100,
                "direction": "Inbound",
                "access": "Allow",
                "sourceAddressPrefix": "10.1.2.0/24",
            },
            {
                "name": "deny-all",
                "priority": 4000,
                "direction": "Inbound",
                "access": "Deny",
                "sourceAddressPrefix": "*",
                "destinationPortRange": "*",
            },
        ],
    )
    attach_nsg(r, "spoke-ai", "snet-pe", nsg)
    r.subnet("spoke-ai", "snet-pe")["properties"]["privateEndpointNetworkPolicies"] = "Enabled"
    cfg = Config(appliances=(ApplianceDecl(r.id("nva1-nic"), True),))
    a = r.analysis(tmp_path, cfg)
    assert not [
        f for f in a.all_flows if f.outcome == "delivered" and f.source_kind == "subnet" and f.tail.appliances
    ]


def test_source_subnet_outbound_nsg_blocks_only_that_subnet(tmp_path: Path) -> None:
    """An outbound deny on snet-app (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview)
    blocks snet-app only; snet-apim shares rt-spoke and
    still reaches the PE, so NET001 for rt-spoke lists snet-apim alone (grouping per route context)."""
    r = Rows()
    nsg = nsg_row(
        r,
        "nsg-app",
        [
            {
                "name": "deny-ai",
                "priority": 100,
                "direction": "Outbound",
                "access": "Deny",
                "sourceAddressPrefix": "*",
                "destinationAddressPrefix": "10.2.0.0/16",
            }
        ],
        rg="rg-spoke-app",
    )
    attach_nsg(r, "spoke-app", "snet-app", nsg)
    doc = r.audit(tmp_path)
    [f] = by_rule(doc, "NET001")
    assert [s.rsplit("/", 1)[-1] for s in f["flow"]["example"]["source_subnets"]] == ["snet-apim"]
    assert f["flow"]["example"]["source_prefixes"] == ["10.1.2.0/24"]
    [aoai] = by_rule(doc, "AOAI005")
    assert "snet-app" not in aoai["message"]


# ---------------------------------------------------------------------------------------------------
# Scale-set NVAs and tag placement (https://learn.microsoft.com/azure/private-link/private-link-disable-snat)


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "flexible"])
def test_vmss_nva_without_tag_is_net002_on_the_scale_set(tmp_path: Path, uniform: bool) -> None:
    """Conventions: NET002's resource is the VMSS id for a scale-set NVA (where the tag would go)."""
    r = Rows()
    vmss_id, _ = vmss_rows(r, None, uniform=uniform)
    doc = r.audit(tmp_path)
    [f] = by_rule(doc, "NET002")
    assert f["resource_id"] == vmss_id
    assert ("NET001", "rt-spoke", "rt-spoke") in triples(doc)


@pytest.mark.parametrize("where", ["vmss", "instance"])
@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "flexible"])
def test_vmss_tag_counts_with_ambiguous_placement(tmp_path: Path, where: str, uniform: bool) -> None:
    """https://learn.microsoft.com/azure/private-link/private-link-disable-snat: the docs put the tag on "the
    virtual machine scale set instance" in the text and on the
    scale set in the samples; auditor: accept either, flag "placement ambiguous" (NET003, low).
    A Flexible instance is an ordinary VM in the scale set, so a tag there counts the same way."""
    r = Rows()
    vmss_id, _ = vmss_rows(r, where, uniform=uniform)
    doc = r.audit(tmp_path)
    got = triples(doc)
    assert not any(t[0] in ("NET001", "NET002") for t in got), got
    [f] = by_rule(doc, "NET003")
    assert f["severity"] == "low"
    assert "ambiguous" in f["message"]
    assert f["resource_id"] == vmss_id  # conventions: NET003 names the scale set


# ---------------------------------------------------------------------------------------------------
# The rules read `delivered_flows` (built without the blocked flows, with NSG decisions per class of
# subnets and cached walks); it must be exactly the delivered part of `all_flows`.


@pytest.mark.parametrize(
    "make",
    [
        lambda: Rows("S01"),
        lambda: Rows("S05"),
        lambda: Rows("S08"),
        lambda: Rows("S11"),
        lambda: Rows("S13"),
        lambda: nsg_mix(Rows("S01")),
        lambda: nsg_mix(Rows("S06")),
        lambda: nsg_mix(Rows("S11")),
    ],
    ids=["S01", "S05", "S08", "S11", "S13", "S01+nsg", "S06+nsg", "S11+nsg"],
)
def test_delivered_flows_are_the_delivered_part_of_all_flows(tmp_path: Path, make) -> None:
    r = make()
    estate = r.estate(tmp_path)
    everything = FlowAnalysis(estate, Config()).all_flows
    delivered = FlowAnalysis(estate, Config()).delivered_flows
    assert [flow_key(f) for f in delivered] == [flow_key(f) for f in everything if f.outcome == "delivered"]
    assert delivered, "each case has some delivered flow"


def test_nsg_mix_splits_contexts_by_subnet(tmp_path: Path) -> None:
    """In nsg_mix: snet-app's own NSG denies 10.2.0.0/16 outbound (blocked). snet-apim (10.1.2.0/24) is
    not in spoke-ai's VirtualNetwork tag (spoke-ai, its peered hub, on-premises: A2), so only the
    10.1.2.0/25 allow matches, partially, and lets some hosts through (reachable). rt-spoke's context is
    split: snet-apim delivered, snet-app blocked."""
    a = nsg_mix(Rows("S01")).analysis(tmp_path)
    app = [
        f
        for f in a.all_flows
        if f.pe_ip == PE_IP and "snet-app" in {s.rsplit("/", 1)[-1] for s in f.source_subnets}
    ]
    apim = [
        f
        for f in a.all_flows
        if f.pe_ip == PE_IP and "snet-apim" in {s.rsplit("/", 1)[-1] for s in f.source_subnets}
    ]
    assert [f.outcome for f in app] == ["blocked"] and "an NSG denies the flow" in app[0].notes
    assert [f.outcome for f in apim] == ["delivered"]
    assert apim[0].source_subnets != app[0].source_subnets  # the context was split by subnet


def test_benchmark_estate_generator_still_audits(tmp_path: Path) -> None:
    """tests/bench/paths.py's estate at a small size: complete coverage and each designed finding appears:
    nva4 (untagged, intra-spoke route) -> NET001 + NET002; afw2 with default SNAT ranges -> NET004;
    PE subnets without route policies under a /20 UDR -> NET005; unenforced PE NSGs -> NET006; AI accounts
    in spokes with policies Disabled -> AOAI005. Tagged NVAs, the ILB of tagged NVAs and the always-SNAT
    firewall produce no NET003 / NET002 for themselves."""
    import subprocess
    import sys

    path = tmp_path / "bench.json"
    subprocess.run(
        [sys.executable, str(REPO / "tests" / "bench" / "paths.py"), "--write", "1000", str(path)],
        check=True,
        capture_output=True,
    )
    doc = findings_document(run_audit([path], Config()))
    assert doc["coverage"]["complete"] is True
    rules = {f["rule_id"] for f in doc["findings"]}
    assert {"NET001", "NET002", "NET004", "NET005", "NET006", "AOAI005"} <= rules, rules
    assert "NET003" not in rules and "NET007" not in rules
    [net002] = [f for f in doc["findings"] if f["rule_id"] == "NET002"]
    assert net002["resource_id"].endswith("/nva4-nic")
    [net004] = [f for f in doc["findings"] if f["rule_id"] == "NET004"]
    assert net004["resource_id"].endswith("/afw2")


# ---------------------------------------------------------------------------------------------------
# Virtual WAN: VNets connected to one hub reach each other through the hub
# (https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies)


def vwan_second_spoke(intent: bool) -> Rows:
    """S19 plus spoke-app (10.1.0.0/16, snet-app) connected to vhub1; without `intent`, no routing intent."""
    r = Rows("S19")
    vnet = copy.deepcopy(r.find("spoke-ai", "microsoft.network/virtualnetworks"))
    vid = rid("rg-spoke-app", "Microsoft.Network/virtualNetworks", "spoke-app")
    vnet.update(id=vid, name="spoke-app", resourceGroup="rg-spoke-app")
    vnet["properties"]["addressSpace"]["addressPrefixes"] = ["10.1.0.0/16"]
    vnet["properties"]["subnets"] = [
        {
            "id": f"{vid}/subnets/snet-app",
            "name": "snet-app",
            "type": "Microsoft.Network/virtualNetworks/subnets",
            "properties": {
                "addressPrefix": "10.1.1.0/24",
                "delegations": [],
                "privateEndpointNetworkPolicies": "Disabled",
                "provisioningState": "Succeeded",
            },
        }
    ]
    r.rows.append(vnet)
    conn = copy.deepcopy(r.find("conn-spoke-ai"))
    conn.update(id=conn["id"].replace("conn-spoke-ai", "conn-spoke-app"), name="conn-spoke-app")
    conn["properties"]["remoteVirtualNetwork"]["id"] = vid
    r.rows.append(conn)
    if not intent:
        r.remove("ri-vhub1")
    return r


def test_vwan_spokes_on_one_hub_reach_each_other_without_routing_intent(tmp_path: Path) -> None:
    """Without routing intent the hub router carries VNet-to-VNet traffic (any-to-any,
    https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies): the flow
    is delivered with no appliance on it (symmetric), so AOAI005 sees it as a path that bypasses the
    gateway; it used to be taken for traffic leaving to on-premises and dropped from the audit."""
    a = vwan_second_spoke(intent=False).analysis(tmp_path)
    flow = flow_from(a, "snet-app")
    assert flow.outcome == "delivered" and flow.verdict == "symmetric"
    assert [h.kind for h in flow.forward_hops] == ["subnet", "private-endpoint"]
    assert flow.tail.route.kind == "vwan" and flow.tail.route.next_hop_type == "VirtualNetworkGateway"
    assert not flow.tail.appliances
    # with a gateway declared elsewhere (snet-work), snet-app is a bypass of it
    r = vwan_second_spoke(intent=False)
    config = Config(gateways=(GatewayDecl("gw", (r.subnet_id("spoke-ai", "snet-work"),)),))
    (tmp_path / "audit").mkdir()
    [f] = by_rule(r.audit(tmp_path / "audit", config), "AOAI005")
    assert "snet-app" in f["message"]
    # and no flow of the estate is taken for one leaving to on-premises any more
    assert not [x for x in a.all_flows if x.source_kind == "subnet" and x.tail.outcome == "left"]


def test_vwan_spokes_with_private_routing_intent_pass_the_hub_firewall(tmp_path: Path) -> None:
    a = vwan_second_spoke(intent=True).analysis(tmp_path)
    flow = flow_from(a, "snet-app")
    assert flow.outcome == "delivered"
    assert [h.kind for h in flow.forward_hops] == ["subnet", "azure-firewall", "private-endpoint"]
    assert [x.name for x in flow.tail.appliances] == ["afw-vhub1"]
