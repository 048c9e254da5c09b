"""The typed model and its indexes (auditor/estate/model.py) built from the shared test estate.

Every index is checked from both ends where the model keeps both (subnet <-> VNet / route table /
NSG, NIC <-> VM, VMSS <-> instance <-> NIC, PE <-> NIC), including the links the estate states only
on one side.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_json
from helpers.estate_shapes import (
    AFW,
    AI,
    AOAI,
    APIM,
    APP,
    APP_NIC,
    APP_VM,
    FWP,
    HUB,
    HUB_FW,
    LB,
    NSG,
    NVA_NIC,
    NVA_VM,
    PE,
    PE_NIC,
    RT,
    VHUB,
    VMSS,
    VMSS_NIC,
    VMSS_VM,
    base_estate,
    ip,
    write_shape,
)

from auditor.audit import load_estate
from auditor.estate.model import Estate, IpOwner


@pytest.fixture(scope="module", params=["arm-array", "rg-objectarray", "az-cli-list"])
def estate(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Estate:
    est = load_estate(write_shape(request.param, tmp_path_factory.mktemp(request.param)))
    assert est.problems == []
    return est


def low(rid: str) -> str:
    return rid.lower()


def test_ip_owners_cover_every_kind_of_private_ip_holder(estate: Estate) -> None:
    def owners(address: str) -> list[tuple[str, str, str | None]]:
        return [(o.kind, o.id.lower(), (o.subnet_id or "").lower()) for o in estate.owners_of(ip(address))]

    assert owners("10.0.2.4") == [("nic", low(NVA_NIC), low(f"{HUB}/subnets/snet-nva"))]
    assert owners("10.1.1.4") == [("nic", low(APP_NIC), low(f"{APP}/subnets/snet-app"))]
    # the PE's NIC IP is owned by the private endpoint, not by a plain NIC
    assert owners("10.2.1.4") == [("private-endpoint", low(PE), low(f"{AI}/subnets/snet-pe"))]
    assert owners("10.0.1.4") == [("azure-firewall", low(AFW), low(f"{HUB}/subnets/AzureFirewallSubnet"))]
    assert owners("10.10.0.132") == [("azure-firewall", low(HUB_FW), "")]  # hub firewall: hubIPAddresses
    assert owners("10.0.2.100") == [("lb-frontend", low(LB), low(f"{HUB}/subnets/snet-nva"))]
    assert owners("10.1.2.4") == [("apim", low(APIM), low(f"{APP}/subnets/snet-apim"))]
    assert owners("10.0.2.5") == [("nic", low(VMSS_NIC), low(f"{HUB}/subnets/snet-nva"))]
    assert estate.owners_of(ip("10.0.2.9")) == []
    # nothing else owns anything: the estate has exactly these private IPs
    assert len(estate.ip_owners) == 8
    assert all(isinstance(o, IpOwner) for os_ in estate.ip_owners.values() for o in os_)


def test_subnet_links_to_vnet_route_table_and_nsg_both_ways(estate: Estate) -> None:
    app = estate.subnets[low(f"{APP}/subnets/snet-app")]
    apim = estate.subnets[low(f"{APP}/subnets/snet-apim")]
    assert app.vnet_id.lower() == low(APP)
    assert app.route_table_id.lower() == low(RT)
    assert app.nsg_id.lower() == low(NSG)
    assert apim.nsg_id is None
    assert [str(p) for p in app.prefixes] == ["10.1.1.0/24"]
    assert sorted(s.lower() for s in estate.vnets[low(APP)].subnet_ids) == [
        low(f"{APP}/subnets/snet-apim"),
        low(f"{APP}/subnets/snet-app"),
    ]
    assert sorted(s.lower() for s in estate.route_tables[low(RT)].subnet_ids) == [
        low(f"{APP}/subnets/snet-apim"),
        low(f"{APP}/subnets/snet-app"),
    ]
    assert [s.lower() for s in estate.nsgs[low(NSG)].subnet_ids] == [low(f"{APP}/subnets/snet-app")]
    assert [r.name for r in estate.nsgs[low(NSG)].rules] == ["allow-https"]
    rule = estate.nsgs[low(NSG)].rules[0]
    assert (rule.priority, rule.direction, rule.access, rule.protocol) == (100, "Inbound", "Allow", "Tcp")
    pe_subnet = estate.subnets[low(f"{AI}/subnets/snet-pe")]
    assert (pe_subnet.pe_policies, pe_subnet.pe_policies_set) == ("RouteTableEnabled", True)
    work = estate.subnets[low(f"{AI}/subnets/snet-work")]
    assert (work.pe_policies, work.pe_policies_set) == ("Disabled", False)  # absent = Disabled
    assert work.delegations == ("Microsoft.Web/serverFarms",)
    # the hub VNet holds three subnets and one peering
    hub = estate.vnets[low(HUB)]
    assert len(hub.subnet_ids) == 3 and [str(p) for p in hub.prefixes] == ["10.0.0.0/16"]
    assert [p.lower() for p in hub.peering_ids] == [low(f"{HUB}/virtualNetworkPeerings/hub-to-ai")]
    peering = estate.peerings[low(f"{HUB}/virtualNetworkPeerings/hub-to-ai")]
    assert (
        peering.remote_vnet_id.lower(),
        peering.state,
        peering.allow_forwarded_traffic,
        peering.use_remote_gateways,
    ) == (low(AI), "Connected", True, False)


def test_route_table_routes(estate: Estate) -> None:
    table = estate.route_tables[low(RT)]
    assert table.disable_bgp_route_propagation is False
    assert [(r.name, r.prefix_text, r.next_hop_type, r.next_hop_ip_text) for r in table.routes] == [
        ("default", "0.0.0.0/0", "VirtualAppliance", "10.0.2.4"),
        ("to-ai", "10.2.0.0/16", "VirtualAppliance", "10.0.2.4"),
    ]
    assert table.routes[1].next_hop_ip == ip("10.0.2.4")


def test_nic_and_vm_are_linked_both_ways(estate: Estate) -> None:
    # nva1's VM record lists no NIC; the NIC names the VM
    assert estate.nics[low(NVA_NIC)].vm_id.lower() == low(NVA_VM)
    assert [n.lower() for n in estate.vms[low(NVA_VM)].nic_ids] == [low(NVA_NIC)]
    # app1-nic names no VM; the VM lists the NIC
    assert estate.nics[low(APP_NIC)].vm_id.lower() == low(APP_VM)
    assert [n.lower() for n in estate.vms[low(APP_VM)].nic_ids] == [low(APP_NIC)]
    nva = estate.nics[low(NVA_NIC)]
    assert nva.ip_forwarding is True and estate.nics[low(APP_NIC)].ip_forwarding is False
    assert nva.tags == {"disableSnatOnPL": "true"}
    assert [(c.name, c.ip_text, c.primary) for c in nva.ip_configs] == [("ipconfig1", "10.0.2.4", True)]


def test_vmss_instances_and_their_nics_from_compute_resources(estate: Estate) -> None:
    vmss = estate.scale_sets[low(VMSS)]
    assert (vmss.orchestration_mode, vmss.ip_forwarding, vmss.tags) == (
        "Uniform",
        True,
        {"disableSnatOnPL": "true"},
    )
    assert [i.lower() for i in vmss.instance_ids] == [low(VMSS_VM)]
    inst = estate.scale_set_instances[low(VMSS_VM)]
    assert inst.vmss_id.lower() == low(VMSS)
    assert [n.lower() for n in inst.nic_ids] == [low(VMSS_NIC)]
    nic = estate.nics[low(VMSS_NIC)]
    assert nic.vmss_vm_id.lower() == low(VMSS_VM)
    assert nic.vm_id.lower() == low(VMSS_VM)
    assert nic.ip_forwarding is True
    assert low(VMSS_VM) not in estate.vms  # instances are not standalone VMs


def test_private_endpoint_links(estate: Estate) -> None:
    pe = estate.private_endpoints[low(PE)]
    assert pe.subnet_id.lower() == low(f"{AI}/subnets/snet-pe")
    assert [n.lower() for n in pe.nic_ids] == [low(PE_NIC)]
    assert pe.ips == [ip("10.2.1.4")]
    assert pe.dns_ips == (ip("10.2.1.4"),)
    assert pe.approved
    [conn] = pe.connections
    assert (conn.target_id.lower(), conn.group_ids, conn.status, conn.manual) == (
        low(AOAI),
        ("account",),
        "Approved",
        False,
    )
    assert estate.nics[low(PE_NIC)].private_endpoint_id.lower() == low(PE)


def test_firewalls_policy_and_hub(estate: Estate) -> None:
    fw = estate.firewalls[low(AFW)]
    assert (fw.sku_name, fw.sku_tier, fw.private_ip, fw.policy_id.lower(), fw.hub_id) == (
        "AZFW_VNet",
        "Standard",
        ip("10.0.1.4"),
        low(FWP),
        None,
    )
    assert fw.subnet_id.lower() == low(f"{HUB}/subnets/AzureFirewallSubnet")
    hub_fw = estate.firewalls[low(HUB_FW)]
    assert (hub_fw.sku_name, hub_fw.private_ip, hub_fw.hub_id.lower()) == (
        "AZFW_Hub",
        ip("10.10.0.132"),
        low(VHUB),
    )
    policy = estate.firewall_policies[low(FWP)]
    assert policy.snat_private_ranges == ["172.16.0.0/12"]
    hub = estate.virtual_hubs[low(VHUB)]
    assert (str(hub.prefix), hub.firewall_id.lower()) == ("10.10.0.0/23", low(HUB_FW))
    [intent] = estate.routing_intents.values()
    assert intent.hub_id.lower() == low(VHUB)
    assert sorted((p.name, p.destinations, p.next_hop.lower()) for p in intent.policies) == [
        ("InternetTraffic", ("Internet",), low(HUB_FW)),
        ("PrivateTrafficPolicy", ("PrivateTraffic",), low(HUB_FW)),
    ]


def test_apim_and_ai_account(estate: Estate) -> None:
    apim = estate.apims[low(APIM)]
    assert (apim.sku, apim.vnet_type, apim.subnet_id.lower(), apim.private_ips, apim.public_ips) == (
        "Developer",
        "Internal",
        low(f"{APP}/subnets/snet-apim"),
        ("10.1.2.4",),
        ("20.0.0.10",),
    )
    acct = estate.ai_accounts[low(AOAI)]
    assert (acct.kind, acct.disable_local_auth, acct.public_network_access, acct.custom_subdomain) == (
        "OpenAI",
        True,
        "Disabled",
        "aoai1",
    )
    assert acct.network_acls.default_action == "Deny"
    assert [(c.private_endpoint_id.lower(), c.status) for c in acct.pe_connections] == [(low(PE), "Approved")]


# ---------------------------------------------------------------- enum casing


def test_enum_strings_compare_case_insensitively(tmp_path: Path) -> None:
    """Lower/upper-case enum values get their documented casing; unknown values stay as data."""
    estate = base_estate()
    by_id = {r["id"]: r for r in estate}
    by_id[AI]["properties"]["subnets"][0]["properties"]["privateEndpointNetworkPolicies"] = (
        "routetableenabled"
    )
    by_id[AI]["properties"]["subnets"][1]["properties"]["privateEndpointNetworkPolicies"] = (
        "NETWORKSECURITYGROUPENABLED"
    )
    by_id[RT]["properties"]["routes"][0]["properties"]["nextHopType"] = "virtualappliance"
    by_id[RT]["properties"]["routes"][1]["properties"]["nextHopType"] = "SomeFutureHop"
    by_id[HUB]["properties"]["virtualNetworkPeerings"][0]["properties"]["peeringState"] = "connected"
    by_id[PE]["properties"]["privateLinkServiceConnections"][0]["properties"][
        "privateLinkServiceConnectionState"
    ]["status"] = "approved"
    nsg_rule = by_id[NSG]["properties"]["securityRules"][0]["properties"]
    nsg_rule.update(direction="inbound", access="ALLOW", protocol="tcp")
    acct = by_id[AOAI]["properties"]
    acct.update(
        publicNetworkAccess="disabled", networkAcls={"defaultAction": "deny", "bypass": "azureservices"}
    )
    acct["privateEndpointConnections"][0]["properties"]["privateLinkServiceConnectionState"]["status"] = (
        "APPROVED"
    )
    by_id[APIM]["properties"]["virtualNetworkType"] = "internal"
    model = load_estate([write_json(tmp_path, "estate.json", estate)])
    # the one value it does not know is kept as data and said in the coverage (it decided nothing)
    [problem] = model.problems
    assert (problem.field, problem.effect) == ("properties.nextHopType", "value ignored")
    assert "SomeFutureHop" in problem.problem
    assert model.subnets[low(f"{AI}/subnets/snet-pe")].pe_policies == "RouteTableEnabled"
    assert model.subnets[low(f"{AI}/subnets/snet-work")].pe_policies == "NetworkSecurityGroupEnabled"
    hops = [r.next_hop_type for r in model.route_tables[low(RT)].routes]
    assert hops == ["VirtualAppliance", "SomeFutureHop"]
    assert model.peerings[low(f"{HUB}/virtualNetworkPeerings/hub-to-ai")].state == "Connected"
    assert model.private_endpoints[low(PE)].approved
    rule = model.nsgs[low(NSG)].rules[0]
    assert (rule.direction, rule.access, rule.protocol) == ("Inbound", "Allow", "Tcp")
    account = model.ai_accounts[low(AOAI)]
    assert (
        account.public_network_access,
        account.network_acls.default_action,
        account.network_acls.bypass,
    ) == ("Disabled", "Deny", "AzureServices")
    assert account.pe_connections[0].status == "Approved"
    assert model.apims[low(APIM)].vnet_type == "Internal"


@pytest.mark.parametrize(("value", "fires"), [(True, False), (False, True), (None, True), ("absent", True)])
def test_disable_local_auth_only_boolean_true_turns_keys_off(
    value: object, fires: bool, tmp_path: Path
) -> None:
    """policy 71ef260a: `disableLocalAuth` notEquals true; absent means keys on (https://learn.microsoft.com/azure/ai-services/cognitive-services-virtual-networks)."""
    from auditor.audit import run_audit
    from auditor.config import Config

    estate = base_estate()
    acct = next(r for r in estate if r["id"] == AOAI)
    if value == "absent":
        del acct["properties"]["disableLocalAuth"]
    else:
        acct["properties"]["disableLocalAuth"] = value
    result = run_audit([write_json(tmp_path, "e.json", estate)], Config(), only={"AOAI001"})
    model = result.estate.ai_accounts[low(AOAI)]
    assert model.disable_local_auth is (None if value in (None, "absent") else value)
    assert [f.resource_id for f in result.findings] == ([AOAI] if fires else [])
