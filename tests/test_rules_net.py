"""Rule-level edges of NET003, NET004, NET006, NET007 and NET008 not covered by the scenario table,
each argued from Microsoft's documentation on a scenario estate edited in memory (tests/helpers/path_estates.py, `Rows`)."""

from __future__ import annotations

from pathlib import Path

from helpers.path_estates import Rows, attach_nsg, by_rule, nsg_row, triples


def test_net006_when_policies_are_not_set(tmp_path: Path) -> None:
    """An absent privateEndpointNetworkPolicies means Disabled
    (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy),
    so the NSG is not enforced (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)."""
    r = Rows("S12")
    del r.subnet("spoke-ai", "snet-pe")["properties"]["privateEndpointNetworkPolicies"]
    [f] = by_rule(r.audit(tmp_path), "NET006")
    assert f["resource_id"] == r.subnet_id("spoke-ai", "snet-pe")
    assert "not set" in f["message"]


def test_no_net006_when_only_nsg_policies_are_enabled(tmp_path: Path) -> None:
    """NetworkSecurityGroupEnabled enforces the NSG
    (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy), so NET006 is
    silent; route-table policies are
    then off, but spoke-app has no /32 (not peered with spoke-ai), so rt-spoke still sends it via nva1."""
    r = Rows("S12")
    r.subnet("spoke-ai", "snet-pe")["properties"]["privateEndpointNetworkPolicies"] = (
        "NetworkSecurityGroupEnabled"
    )
    got = triples(r.audit(tmp_path))
    assert not [t for t in got if t[0] == "NET006"]
    assert ("NET001", "rt-spoke", "rt-spoke") in got


def test_no_net006_for_a_subnet_without_private_endpoints(tmp_path: Path) -> None:
    r = Rows()
    nsg = nsg_row(
        r,
        "nsg-work",
        [
            {
                "name": "deny",
                "priority": 100,
                "direction": "Inbound",
                "access": "Deny",
                "sourceAddressPrefix": "*",
            }
        ],
    )
    attach_nsg(r, "spoke-ai", "snet-work", nsg)
    assert not by_rule(r.audit(tmp_path), "NET006")


def test_net007_route_without_next_hop_ip_and_unattached_table(tmp_path: Path) -> None:
    """A VirtualAppliance route needs a reachable next-hop IP
    (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview). A table attached to no
    subnet is still
    reported (it drops whatever it is attached to next); the usable route of the table is not listed."""
    r = Rows()
    tid = r.route_table(
        "rt-spare",
        [("10.9.0.0/16", "VirtualAppliance", None), ("10.8.0.0/16", "VirtualAppliance", "10.0.2.4")],
        [],
    )
    [f] = by_rule(r.audit(tmp_path), "NET007")
    assert f["resource_id"] == tid
    assert "no subnet" in f["message"]
    assert [e["id"].rsplit("/", 1)[-1] for e in f["evidence"]] == ["r0"]


def test_net003_on_azure_firewall_with_the_tag(tmp_path: Path) -> None:
    """disableSnatOnPL is documented for customer NVAs only
    (https://learn.microsoft.com/azure/private-link/private-link-disable-snat); on Azure Firewall it changes nothing:
    NET003 on the firewall, and S05's NET001 / NET004 still fire."""
    r = Rows("S05")
    r.find("afw1")["tags"] = {"disableSnatOnPL": "true"}
    got = triples(r.audit(tmp_path))
    assert ("NET003", "afw1", None) in got
    assert {("NET001", "rt-spoke", "rt-spoke"), ("NET004", "afw1", None)} <= got


def test_net004_names_the_policy_and_its_ranges(tmp_path: Path) -> None:
    r = Rows("S05")
    [f] = by_rule(r.audit(tmp_path), "NET004")
    assert r.id("afwp1") in f["related_ids"]
    [ev] = f["evidence"]
    assert ev["id"] == r.id("afwp1") and ev["value"] == ["IANAPrivateRanges"]
    assert "10.0.0.0/8" in f["message"]


def test_net008_fixed_by_route_table_policies_not_by_nsg_policies(tmp_path: Path) -> None:
    """Route-table network policies on the PE subnet restore symmetry; NSG-only policies do not
    (https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies)."""
    for policy, fires in (
        ("RouteTableEnabled", False),
        ("Enabled", False),
        ("NetworkSecurityGroupEnabled", True),
    ):
        r = Rows("S19")
        r.subnet("spoke-ai", "snet-pe")["properties"]["privateEndpointNetworkPolicies"] = policy
        folder = tmp_path / policy
        folder.mkdir()
        assert bool(by_rule(r.audit(folder), "NET008")) is fires, policy


def test_net008_needs_a_private_traffic_routing_policy(tmp_path: Path) -> None:
    """Only a PrivateTraffic policy sends the replies through the next hop
    (https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies)."""
    r = Rows("S19")
    intent = r.find("ri-vhub1")
    policies = intent["properties"]["routingPolicies"]
    intent["properties"]["routingPolicies"] = [
        p for p in policies if "PrivateTraffic" not in p["destinations"]
    ]
    assert len(intent["properties"]["routingPolicies"]) < len(policies)
    assert not by_rule(r.audit(tmp_path), "NET008")
