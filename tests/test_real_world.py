"""Real ARM REST example responses (Azure/azure-rest-api-specs x-ms-examples, one azure-powershell
session-record extract) load with every property the rules need.

Inputs are copies in tests/fixtures_real/arm-examples/ (provenance: tests/fixtures_real/PROVENANCE.md).
Each test extracts the response body, as `az rest` / a GET would have saved it, into a temp file and
loads it through `auditor.audit.load_estate`, the same path `pathaudit audit` uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import REPO, unexpected, write_json

from auditor.audit import load_estate, run_audit
from auditor.config import Config
from auditor.estate.model import Estate

EXAMPLES = REPO / "tests" / "fixtures_real" / "arm-examples"


def ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def body(rel: str, status: str | None = None) -> dict[str, Any]:
    doc = json.loads((EXAMPLES / rel).read_text(encoding="utf-8"))
    if "responses" not in doc:  # the session-record extract is a bare response body
        return doc
    responses = doc["responses"]
    return responses[status or ("200" if "200" in responses else "201")]["body"]


def load(tmp_path: Path, rel: str, status: str | None = None) -> tuple[Estate, dict[str, Any]]:
    data = body(rel, status)
    estate = load_estate([write_json(tmp_path, Path(rel).name, data)])
    return estate, data


def owners(estate: Estate, address: str) -> list[tuple[str, str]]:
    return [(o.kind, o.id) for o in estate.owners_of(ip(address))]


def test_network_interface_get(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-03-01/NetworkInterfaceGet.json")
    assert unexpected(estate.problems) == []
    nic = estate.nics[data["id"].lower()]
    assert nic.name == "test-nic"
    assert nic.ip_forwarding is False
    assert (
        nic.vm_id == "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"
    )
    assert nic.nsg_id.endswith("/networkSecurityGroups/nsg")
    assert nic.private_endpoint_id is None
    subnet = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/rg1-vnet/subnets/default"
    assert [(c.name, c.ip_text, c.primary, c.subnet_id) for c in nic.ip_configs] == [
        ("ipconfig1", "172.20.2.4", True, subnet),
        ("ipconfig2", "172.20.2.16/28", False, subnet),  # prefix-style secondary IP kept as written
    ]
    assert nic.ip_configs[1].ip == ip("172.20.2.16")
    assert owners(estate, "172.20.2.4") == [("nic", data["id"])]
    assert owners(estate, "172.20.2.16") == [("nic", data["id"])]


def test_private_endpoint_get_without_its_nic_falls_back_to_static_ips(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-03-01/PrivateEndpointGet.json")
    assert unexpected(estate.problems) == []
    pe = estate.private_endpoints[data["id"].lower()]
    # the NIC id in the example is mistyped (`provders`) and no NIC is exported: the static IP
    # configurations (192.168.0.6/.7) are used, not the inconsistent customDnsConfigs (.4/.5)
    assert "/provders/" in pe.nic_ids[0]
    assert estate.nics == {}
    assert pe.ips == [ip("192.168.0.6"), ip("192.168.0.7")]
    assert pe.dns_ips == (ip("192.168.0.4"), ip("192.168.0.5"))
    assert owners(estate, "192.168.0.6") == [("private-endpoint", data["id"])]
    assert owners(estate, "192.168.0.7") == [("private-endpoint", data["id"])]
    assert owners(estate, "192.168.0.4") == []
    assert pe.subnet_id.endswith("/virtualNetworks/myVnet/subnets/mySubnet")
    assert pe.approved
    [conn] = pe.connections
    assert (conn.status, conn.group_ids, conn.manual) == ("Approved", ("groupIdFromResource",), False)
    assert conn.target_id.endswith("/privateLinkServices/testPls")
    assert {o.subnet_id for os_ in estate.ip_owners.values() for o in os_} == {pe.subnet_id}


def test_subnet_get_without_type_or_pe_policies(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-05-01/SubnetGet.json")
    assert "type" not in data and "privateEndpointNetworkPolicies" not in data["properties"]
    assert unexpected(estate.problems) == []
    assert estate.records[data["id"].lower()]["type"] == "microsoft.network/virtualnetworks/subnets"
    subnet = estate.subnets[data["id"].lower()]
    assert (subnet.pe_policies, subnet.pe_policies_set) == ("Disabled", False)
    assert [str(p) for p in subnet.prefixes] == ["10.0.0.0/16"]
    assert subnet.vnet_id.endswith("/virtualNetworks/vnetname")
    assert (subnet.route_table_id, subnet.nsg_id) == (None, None)


def test_azure_firewall_get_classic_vnet_firewall(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-03-01/AzureFirewallGet.json")
    assert unexpected(estate.problems) == []
    fw = estate.firewalls[data["id"].lower()]
    assert (fw.sku_name, fw.sku_tier) == ("AZFW_VNet", "Standard")
    assert fw.private_ip == ip("10.0.0.0")
    assert fw.subnet_id.endswith("/virtualNetworks/vnet2/subnets/AzureFirewallSubnet")
    assert fw.additional_properties == {}  # so the default SNAT private ranges apply
    assert (fw.policy_id, fw.hub_id) == (None, None)
    assert owners(estate, "10.0.0.0") == [("azure-firewall", data["id"])]


def test_azure_firewall_put_in_hub(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-01-01/AzureFirewallPutInHub.json")
    assert unexpected(estate.problems) == []
    fw = estate.firewalls[data["id"].lower()]
    assert (fw.sku_name, fw.sku_tier) == ("AZFW_Hub", "Standard")
    assert fw.private_ip == ip("10.0.0.0")  # hubIPAddresses.privateIPAddress
    assert fw.policy_id.endswith("/firewallPolicies/policy1")
    assert fw.hub_id.endswith("/virtualHubs/hub1")
    assert fw.subnet_id is None
    assert owners(estate, "10.0.0.0") == [("azure-firewall", data["id"])]


def test_firewall_policy_get_snat_private_ranges(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-05-01/FirewallPolicyGet.json")
    assert unexpected(estate.problems) == []
    policy = estate.firewall_policies[data["id"].lower()]
    assert policy.snat_private_ranges == ["IANAPrivateRanges"]
    assert policy.base_policy_id is None
    assert [g.rsplit("/", 1)[-1] for g in policy.rule_collection_group_ids] == ["ruleCollectionGroup1"]


def test_virtual_hub_get(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-03-01/VirtualHubGet.json")
    assert unexpected(estate.problems) == []
    hub = estate.virtual_hubs[data["id"].lower()]
    assert str(hub.prefix) == "10.10.1.0/24"
    assert hub.firewall_id is None
    assert hub.virtual_wan_id.endswith("/virtualWans/virtualWan1")


def test_routing_intent_get(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-03-01/RoutingIntentGet.json")
    assert unexpected(estate.problems) == []
    intent = estate.routing_intents[data["id"].lower()]
    assert intent.hub_id.endswith("/virtualHubs/virtualHub1")
    azfw1 = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.Network/azureFirewalls/azfw1"
    assert [(p.name, p.destinations, p.next_hop) for p in intent.policies] == [
        ("InternetTraffic", ("Internet",), azfw1),
        ("PrivateTrafficPolicy", ("PrivateTraffic",), azfw1),
    ]


def test_route_table_get(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-03-01/RouteTableGet.json")
    assert unexpected(estate.problems) == []
    table = estate.route_tables[data["id"].lower()]
    assert table.disable_bgp_route_propagation is False
    assert [(r.name, str(r.prefix), r.next_hop_type, r.next_hop_ip) for r in table.routes] == [
        ("route1", "10.0.3.0/24", "VirtualNetworkGateway", None)
    ]
    assert table.subnet_ids == []
    assert estate.resource_count == 2  # the table and its route, merged by id


def test_virtual_network_get(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-03-01/VirtualNetworkGet.json")
    assert unexpected(estate.problems) == []
    vnet = estate.vnets[data["id"].lower()]
    assert [str(p) for p in vnet.prefixes] == ["10.0.0.0/16"]
    assert vnet.subnet_ids == [f"{data['id']}/subnets/subnet1"]
    assert vnet.peering_ids == []
    subnet = estate.subnets[f"{data['id']}/subnets/subnet1".lower()]
    assert [str(p) for p in subnet.prefixes] == ["10.0.1.0/24"]
    assert subnet.vnet_id == data["id"]
    assert (subnet.pe_policies, subnet.delegations) == ("Disabled", ())


def test_virtual_network_get_with_subnet_delegation(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "network/2025-03-01/VirtualNetworkGetWithSubnetDelegation.json")
    assert unexpected(estate.problems) == []
    subnet = estate.subnets[f"{data['id']}/subnets/subnet1".lower()]
    assert subnet.delegations == ("Microsoft.Provider/resourceType",)
    assert [str(p) for p in subnet.prefixes] == ["10.0.1.0/24"]


def test_apim_get_service_not_in_a_vnet(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "apimanagement/2024-05-01/ApiManagementServiceGetService.json")
    assert unexpected(estate.problems) == []
    apim = estate.apims[data["id"].lower()]
    assert (apim.sku, apim.vnet_type, apim.subnet_id) == ("Premium", "None", None)
    assert apim.public_network_access == "Enabled"
    # primary region and the East US 2 additional location are both gateway addresses
    assert apim.public_ips == ("13.92.130.49", "40.70.24.106")
    assert apim.private_ips == ()


def test_apim_created_in_external_vnet(tmp_path: Path) -> None:
    for status, public in (("200", ("20.47.137.XXX",)), ("201", ())):
        estate, data = load(
            tmp_path / status,
            "apimanagement/2024-05-01/ApiManagementCreateServiceInVnetWithPublicIP.json",
            status,
        )
        assert unexpected(estate.problems) == []
        apim = estate.apims[data["id"].lower()]
        assert (apim.sku, apim.vnet_type) == ("Premium", "External")
        assert apim.subnet_id.endswith("/virtualNetworks/apimcus/subnets/tenant")
        assert apim.public_ips == public  # the masked address is kept as data, not a crash


def posture(tmp_path: Path, rel: str) -> dict[str, list[str]]:
    path = write_json(tmp_path, Path(rel).name, body(rel))
    result = run_audit([path], Config())
    assert result.complete, result.problems
    out: dict[str, list[str]] = {}
    for f in result.findings:
        out.setdefault(f.rule_id, []).append(f.resource_id)
    return out


def test_get_account_defaults_mean_keys_on_public_and_no_private_link(tmp_path: Path) -> None:
    estate, data = load(tmp_path, "cognitiveservices/2024-10-01/GetAccount.json")
    acct = estate.ai_accounts[data["id"].lower()]
    assert (acct.kind, acct.disable_local_auth, acct.public_network_access, acct.network_acls) == (
        "Emotion",
        None,
        None,
        None,
    )
    assert acct.pe_connections == []
    found = posture(tmp_path / "audit", "cognitiveservices/2024-10-01/GetAccount.json")
    # the example account has no customSubDomainName: AOAI006 too
    assert found == {
        "AOAI001": [data["id"]],
        "AOAI002": [data["id"]],
        "AOAI004": [data["id"]],
        "AOAI006": [data["id"]],
    }


def test_powershell_session_record_keys_disabled_but_public(tmp_path: Path) -> None:
    rel = (
        "cognitiveservices/azure-powershell-sessionrecords/TestDisableLocalAuth.GET-account.ResponseBody.json"
    )
    raw = (EXAMPLES / rel).read_bytes()
    assert b"\r\n" in raw  # the recorder's pretty-printing is kept
    estate = load_estate([EXAMPLES / rel])  # loadable as is, straight from the copy
    data = body(rel)
    acct = estate.ai_accounts[data["id"].lower()]
    assert (acct.kind, acct.disable_local_auth, acct.public_network_access, acct.network_acls) == (
        "TextAnalytics",
        True,
        "Enabled",
        None,
    )
    assert acct.custom_subdomain == "csapstestrg35"
    found = posture(tmp_path, rel)
    assert "AOAI001" not in found
    assert found["AOAI002"] == [data["id"]]
    assert found["AOAI004"] == [data["id"]]  # privateEndpointConnections: []
    assert "AOAI003" not in found


def test_effective_route_table_list_wrapped_with_its_nic(tmp_path: Path) -> None:
    routes = body("network/2024-07-01/NetworkInterfaceEffectiveRouteTableList.json")["value"]
    nic = body("network/2025-03-01/NetworkInterfaceGet.json")
    files = [
        write_json(tmp_path, "nic.json", nic),
        write_json(tmp_path, "routes.json", {"networkInterfaceId": nic["id"].upper(), "value": routes}),
    ]
    estate = load_estate(files)
    assert unexpected(estate.problems) == []
    assert estate.resource_count == 1  # effective routes are not resources
    assert list(estate.effective_routes) == [nic["id"].lower()]
    got = estate.effective_routes[nic["id"].lower()]
    assert [(r["addressPrefix"], r["nextHopType"]) for r in got] == [
        (["172.20.2.0/24"], "VnetLocal"),
        (["0.0.0.0/0"], "Internet"),
        (["10.0.0.0/8"], "None"),
        (["100.64.0.0/10"], "None"),
        (["172.16.0.0/12"], "None"),
        (["192.168.0.0/16"], "None"),
    ]


def test_effective_route_table_named_by_file_or_unnamed(tmp_path: Path) -> None:
    listing = body("network/2024-07-01/NetworkInterfaceEffectiveRouteTableList.json")
    nic = body("network/2025-03-01/NetworkInterfaceGet.json")
    named = load_estate(
        [
            write_json(tmp_path, "a/nic.json", nic),
            write_json(tmp_path, "a/test-nic.effective-routes.json", listing),
        ]
    )
    assert unexpected(named.problems) == []
    assert list(named.effective_routes) == [nic["id"].lower()]
    # bare `az network nic show-effective-route-table` output names no NIC: said so, not guessed
    unnamed = load_estate([write_json(tmp_path, "b/routes.json", listing)])
    [problem] = unnamed.problems
    assert (problem.file, problem.effect) == (str(tmp_path / "b/routes.json"), "value ignored")
    assert "names no NIC" in problem.problem
    assert unnamed.effective_routes == {}
