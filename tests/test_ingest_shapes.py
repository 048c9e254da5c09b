"""Every input shape reads to the same estate (same records, same hash, same model).

One small but complete estate (hub/spoke VNets, NVA, firewall, private endpoint, APIM, AI account,
VMSS as Resource Graph's ComputeResources table returns it) is written in ARM form, then converted
by this module (independently of auditor/estate/normalize.py) to every other shape the contract
lists. Each shape must load without problems and canonicalise to the ARM array's records.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import unexpected, write_json

from auditor.audit import estate_sha256, load_estate
from auditor.problems import EXPORT_INCOMPLETE, SCOPE_FAILED

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
RG = f"{SUB}/resourceGroups/rg-net/providers"
NET = f"{RG}/Microsoft.Network"
HUB = f"{NET}/virtualNetworks/hub"
APP = f"{NET}/virtualNetworks/spoke-app"
AI = f"{NET}/virtualNetworks/spoke-ai"
RT = f"{NET}/routeTables/rt-spoke"
NSG = f"{NET}/networkSecurityGroups/nsg-app"
NVA_NIC = f"{NET}/networkInterfaces/nva1-nic"
APP_NIC = f"{NET}/networkInterfaces/app1-nic"
PE_NIC = f"{NET}/networkInterfaces/pe-aoai.nic.0001"
PE = f"{NET}/privateEndpoints/pe-aoai"
AFW = f"{NET}/azureFirewalls/afw1"
FWP = f"{NET}/firewallPolicies/fwp1"
LB = f"{NET}/loadBalancers/ilb1"
NVA_VM = f"{RG}/Microsoft.Compute/virtualMachines/nva1"
APP_VM = f"{RG}/Microsoft.Compute/virtualMachines/app1"
VMSS = f"{RG}/Microsoft.Compute/virtualMachineScaleSets/nvass"
VMSS_VM = f"{VMSS}/virtualMachines/0"
VMSS_NIC = f"{VMSS_VM}/networkInterfaces/nvass-nic"
APIM = f"{RG}/Microsoft.ApiManagement/service/apim1"
VHUB = f"{NET}/virtualHubs/vhub1"
HUB_FW = f"{NET}/azureFirewalls/vhub1-fw"
AOAI = f"{RG}/Microsoft.CognitiveServices/accounts/aoai1"
ETAG = 'W/"00000000-0000-0000-0000-000000000000"'


def ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def child(parent: str, kind: str, name: str, props: dict[str, Any], ctype: str | None = None) -> dict[str, Any]:
    """A nested child sub-resource as ARM returns it (name, id, etag, optional type, properties)."""
    out: dict[str, Any] = {"name": name, "id": f"{parent}/{kind}/{name}", "etag": ETAG}
    if ctype:
        out["type"] = ctype
    out["properties"] = {"provisioningState": "Succeeded", **props}
    return out


def subnet(vnet: str, name: str, prefix: str, **extra: Any) -> dict[str, Any]:
    return child(vnet, "subnets", name, {"addressPrefix": prefix, **extra}, "Microsoft.Network/virtualNetworks/subnets")


def resource(rid: str, rtype: str, props: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rid.rsplit("/", 1)[-1], "id": rid, "etag": ETAG, "type": rtype, "location": "westeurope"}
    out.update(envelope)
    out["properties"] = {"provisioningState": "Succeeded", **props}
    return out


def nic_ipconfig(nic: str, name: str, address: str, subnet_id: str, primary: bool = True) -> dict[str, Any]:
    return child(nic, "ipConfigurations", name, {
        "privateIPAddress": address, "privateIPAllocationMethod": "Static", "privateIPAddressVersion": "IPv4",
        "primary": primary, "subnet": {"id": subnet_id},
    }, "Microsoft.Network/networkInterfaces/ipConfigurations")


def base_estate() -> list[dict[str, Any]]:
    """The estate in ARM form (GET bodies, ARM casing of types, children nested with etags)."""
    return [
        resource(HUB, "Microsoft.Network/virtualNetworks", {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [
                subnet(HUB, "AzureFirewallSubnet", "10.0.1.0/26"),
                subnet(HUB, "snet-nva", "10.0.2.0/24"),
                subnet(HUB, "GatewaySubnet", "10.0.255.0/27"),
            ],
            "virtualNetworkPeerings": [child(HUB, "virtualNetworkPeerings", "hub-to-ai", {
                "remoteVirtualNetwork": {"id": AI}, "remoteAddressSpace": {"addressPrefixes": ["10.2.0.0/16"]},
                "peeringState": "Connected", "allowVirtualNetworkAccess": True, "allowForwardedTraffic": True,
                "allowGatewayTransit": True, "useRemoteGateways": False,
            }, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings")],
        }),
        resource(APP, "Microsoft.Network/virtualNetworks", {
            "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
            "subnets": [
                subnet(APP, "snet-app", "10.1.1.0/24", routeTable={"id": RT}, networkSecurityGroup={"id": NSG}),
                subnet(APP, "snet-apim", "10.1.2.0/24", routeTable={"id": RT}),
            ],
            "virtualNetworkPeerings": [],
        }),
        resource(AI, "Microsoft.Network/virtualNetworks", {
            "addressSpace": {"addressPrefixes": ["10.2.0.0/16"]},
            "subnets": [
                subnet(AI, "snet-pe", "10.2.1.0/24", privateEndpointNetworkPolicies="RouteTableEnabled",
                       privateLinkServiceNetworkPolicies="Enabled"),
                subnet(AI, "snet-work", "10.2.2.0/24", delegations=[child(
                    f"{AI}/subnets/snet-work", "delegations", "web", {"serviceName": "Microsoft.Web/serverFarms",
                                                                      "actions": []},
                    "Microsoft.Network/virtualNetworks/subnets/delegations")]),
            ],
        }),
        resource(VHUB, "Microsoft.Network/virtualHubs", {
            "addressPrefix": "10.10.0.0/23", "sku": "Standard", "virtualRouterIps": ["10.10.0.68", "10.10.0.69"],
            "azureFirewall": {"id": HUB_FW},
            "virtualWan": {"id": f"{NET}/virtualWans/vwan1"},
        }),
        {"name": "intent", "id": f"{VHUB}/routingIntent/intent", "etag": ETAG,
         "type": "Microsoft.Network/virtualHubs/routingIntent", "properties": {
             "provisioningState": "Succeeded", "routingPolicies": [
                 {"name": "PrivateTrafficPolicy", "destinations": ["PrivateTraffic"], "nextHop": HUB_FW},
                 {"name": "InternetTraffic", "destinations": ["Internet"], "nextHop": HUB_FW}]}},
        resource(HUB_FW, "Microsoft.Network/azureFirewalls", {
            "sku": {"name": "AZFW_Hub", "tier": "Premium"},
            "virtualHub": {"id": VHUB},
            "firewallPolicy": {"id": FWP},
            "hubIPAddresses": {"privateIPAddress": "10.10.0.132",
                               "publicIPs": {"addresses": [{"address": "20.0.0.99"}], "count": 1}},
        }),
        resource(RT, "Microsoft.Network/routeTables", {
            "disableBgpRoutePropagation": False,
            "routes": [
                child(RT, "routes", "default", {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                                                "nextHopIpAddress": "10.0.2.4"}, "Microsoft.Network/routeTables/routes"),
                child(RT, "routes", "to-ai", {"addressPrefix": "10.2.0.0/16", "nextHopType": "VirtualAppliance",
                                              "nextHopIpAddress": "10.0.2.4"}, "Microsoft.Network/routeTables/routes"),
            ],
            "subnets": [{"id": f"{APP}/subnets/snet-app"}, {"id": f"{APP}/subnets/snet-apim"}],
        }),
        resource(NSG, "Microsoft.Network/networkSecurityGroups", {
            "securityRules": [child(NSG, "securityRules", "allow-https", {
                "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "443", "sourceAddressPrefix": "10.1.0.0/16",
                "destinationAddressPrefix": "*", "access": "Allow", "priority": 100, "direction": "Inbound",
            }, "Microsoft.Network/networkSecurityGroups/securityRules")],
            "subnets": [{"id": f"{APP}/subnets/snet-app"}],
        }),
        resource(NVA_NIC, "Microsoft.Network/networkInterfaces", {
            "enableIPForwarding": True,
            "ipConfigurations": [nic_ipconfig(NVA_NIC, "ipconfig1", "10.0.2.4", f"{HUB}/subnets/snet-nva")],
            "virtualMachine": {"id": NVA_VM},
        }, tags={"disableSnatOnPL": "true"}),
        # app1-nic does not name its VM: the VM's networkProfile is the only link
        resource(APP_NIC, "Microsoft.Network/networkInterfaces", {
            "enableIPForwarding": False,
            "ipConfigurations": [nic_ipconfig(APP_NIC, "ipconfig1", "10.1.1.4", f"{APP}/subnets/snet-app")],
        }),
        resource(PE_NIC, "Microsoft.Network/networkInterfaces", {
            "enableIPForwarding": False,
            "ipConfigurations": [nic_ipconfig(PE_NIC, "privateEndpointIpConfig.1", "10.2.1.4", f"{AI}/subnets/snet-pe")],
            "privateEndpoint": {"id": PE},
        }),
        # nva1 does not list its NIC: the NIC's virtualMachine reference is the only link
        resource(NVA_VM, "Microsoft.Compute/virtualMachines", {"networkProfile": {"networkInterfaces": []}}),
        resource(APP_VM, "Microsoft.Compute/virtualMachines", {
            "networkProfile": {"networkInterfaces": [{"id": APP_NIC, "properties": {"primary": True}}]},
        }),
        resource(PE, "Microsoft.Network/privateEndpoints", {
            "subnet": {"id": f"{AI}/subnets/snet-pe"},
            "networkInterfaces": [{"id": PE_NIC}],
            "privateLinkServiceConnections": [child(PE, "privateLinkServiceConnections", "aoai", {
                "privateLinkServiceId": AOAI, "groupIds": ["account"],
                "privateLinkServiceConnectionState": {"status": "Approved", "description": "", "actionsRequired": "None"},
            })],
            "manualPrivateLinkServiceConnections": [],
            "customDnsConfigs": [{"fqdn": "aoai1.openai.azure.com", "ipAddresses": ["10.2.1.4"]}],
        }),
        resource(AFW, "Microsoft.Network/azureFirewalls", {
            "sku": {"name": "AZFW_VNet", "tier": "Standard"},
            "ipConfigurations": [child(AFW, "ipConfigurations", "ipconfig", {
                "privateIPAddress": "10.0.1.4", "subnet": {"id": f"{HUB}/subnets/AzureFirewallSubnet"},
            })],
            "firewallPolicy": {"id": FWP},
            "additionalProperties": {},
        }),
        resource(FWP, "Microsoft.Network/firewallPolicies", {
            "snat": {"privateRanges": ["172.16.0.0/12"]}, "ruleCollectionGroups": [],
        }),
        resource(LB, "Microsoft.Network/loadBalancers", {
            "frontendIPConfigurations": [child(LB, "frontendIPConfigurations", "fe", {
                "privateIPAddress": "10.0.2.100", "privateIPAllocationMethod": "Static",
                "subnet": {"id": f"{HUB}/subnets/snet-nva"},
            })],
            "backendAddressPools": [],
        }, sku={"name": "Standard", "tier": "Regional"}),
        resource(VMSS, "Microsoft.Compute/virtualMachineScaleSets", {
            "orchestrationMode": "Uniform",
            "virtualMachineProfile": {"networkProfile": {"networkInterfaceConfigurations": [
                {"name": "nvass-nic", "properties": {"primary": True, "enableIPForwarding": True}},
            ]}},
        }, sku={"name": "Standard_D2s_v5", "tier": "Standard", "capacity": 1}, tags={"disableSnatOnPL": "true"}),
        resource(VMSS_VM, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines", {
            "networkProfile": {"networkInterfaces": [{"id": VMSS_NIC}]},
        }),
        resource(VMSS_NIC, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces", {
            "enableIPForwarding": True,
            "ipConfigurations": [nic_ipconfig(VMSS_NIC, "ipconfig1", "10.0.2.5", f"{HUB}/subnets/snet-nva")],
            "virtualMachine": {"id": VMSS_VM},
        }),
        resource(APIM, "Microsoft.ApiManagement/service", {
            "virtualNetworkType": "Internal",
            "virtualNetworkConfiguration": {"subnetResourceId": f"{APP}/subnets/snet-apim"},
            "privateIPAddresses": ["10.1.2.4"],
            "publicIPAddresses": ["20.0.0.10"],
            "publicNetworkAccess": "Enabled",
        }, sku={"name": "Developer", "capacity": 1}),
        resource(AOAI, "Microsoft.CognitiveServices/accounts", {
            "customSubDomainName": "aoai1",
            "disableLocalAuth": True,
            "publicNetworkAccess": "Disabled",
            "networkAcls": {"defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
            "privateEndpointConnections": [child(AOAI, "privateEndpointConnections", "pe-aoai.conn", {
                "privateEndpoint": {"id": PE},
                "privateLinkServiceConnectionState": {"status": "Approved", "description": "", "actionsRequired": "None"},
            }, "Microsoft.CognitiveServices/accounts/privateEndpointConnections")],
        }, kind="OpenAI", sku={"name": "S0"}),
    ]


# ---------------------------------------------------------------- shape converters (test-side)

def rg_row(res: dict[str, Any]) -> dict[str, Any]:
    """A Resources / ComputeResources row: lower-case type, every column present (nulls included)."""
    rid = res["id"]
    parts = rid.split("/")
    return {
        "id": rid, "name": res["name"], "type": res["type"].lower(), "tenantId": "tenant-1",
        "kind": res.get("kind", ""), "location": res.get("location", ""), "resourceGroup": parts[4].lower(),
        "subscriptionId": parts[2], "managedBy": "", "sku": res.get("sku"), "plan": None,
        "properties": copy.deepcopy(res["properties"]), "tags": res.get("tags"), "identity": None,
        "zones": None, "extendedLocation": None,
    }


# what the CLI's models flatten (sub-resources with a `properties` wrapper in ARM)
CLI_CHILD_LISTS = {"subnets", "virtualNetworkPeerings", "routes", "securityRules", "ipConfigurations",
                   "privateLinkServiceConnections", "manualPrivateLinkServiceConnections", "delegations",
                   "privateEndpointConnections", "frontendIPConfigurations", "networkInterfaces"}


def cli_value(value: Any, rg: str, key: str | None = None) -> Any:
    if isinstance(value, list):
        return [cli_flatten(v, rg) if key in CLI_CHILD_LISTS and isinstance(v, dict) and "properties" in v
                else cli_value(v, rg) for v in value]
    if isinstance(value, dict):
        out = {k: cli_value(v, rg, k) for k, v in value.items()}
        if "id" in out:
            out["resourceGroup"] = rg     # az CLI adds the resource group to every reference
        return out
    return value


def cli_flatten(res: dict[str, Any], rg: str) -> dict[str, Any]:
    """az CLI output: properties hoisted to the top level (children too), nulls for unset fields."""
    out: dict[str, Any] = {k: cli_value(v, rg, k) for k, v in res.items() if k != "properties"}
    for k, v in res.get("properties", {}).items():
        out[k] = cli_value(v, rg, k)
    out["resourceGroup"] = rg
    out.setdefault("tags", None)
    out["extendedLocation"] = None
    return out


def write_shape(shape: str, tmp_path: Path) -> list[Path]:
    estate = base_estate()
    if shape == "arm-array":
        return [write_json(tmp_path, "estate.json", estate)]
    if shape == "rg-objectarray":
        rows = [rg_row(r) for r in estate]
        return [write_json(tmp_path, "rg.json", {"totalRecords": len(rows), "count": len(rows), "data": rows,
                                                  "facets": [], "resultTruncated": "false"})]
    if shape == "rg-cli":  # az graph query -o json
        rows = [rg_row(r) for r in estate]
        return [write_json(tmp_path, "rg.json", {"count": len(rows), "data": rows, "skip_token": None,
                                                  "total_records": len(rows)})]
    if shape == "rg-table":
        rows = [rg_row(r) for r in estate]
        columns = list(rows[0])
        return [write_json(tmp_path, "rg.json", {"totalRecords": len(rows), "count": len(rows), "data": {
            "columns": [{"name": c, "type": "object" if c in ("properties", "tags", "sku") else "string"} for c in columns],
            "rows": [[row[c] for c in columns] for row in rows]}})]
    if shape == "arm-list":
        by_type: dict[str, list[dict[str, Any]]] = {}
        for r in estate:
            by_type.setdefault(r["type"].replace("/", "_"), []).append(r)
        return [write_json(tmp_path, f"list/{t}.json", {"value": items}) for t, items in by_type.items()]
    if shape == "single":  # one `az ... show --query` / GET body per file, some gzipped, nested folders
        paths = []
        for i, r in enumerate(estate):
            path = tmp_path / "single" / f"d{i % 3}" / f"r{i:02}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            data = json.dumps(r).encode()
            if i % 2:
                path = path.with_name(path.name + ".gz")
                path.write_bytes(gzip.compress(data))
            else:
                path.write_bytes(data)
            paths.append(path)
        return [tmp_path / "single"]
    if shape == "az-cli-objects":  # `az network nic show` etc.: one flattened object per file
        return [write_json(tmp_path, f"cli/r{i:02}.json", cli_flatten(r, "rg-net")) for i, r in enumerate(estate)]
    if shape == "az-cli-list":  # `az resource list`-like: a JSON array of flattened objects
        return [write_json(tmp_path, "cli.json", [cli_flatten(r, "rg-net") for r in estate])]
    if shape == "snapshot":
        return [write_json(tmp_path, "snapshot.json", {
            "schema": "pathaudit/snapshot@1", "collected_at": "2026-11-23T10:00:00Z",
            "tool": {"name": "pathaudit", "version": "1.0.0"},
            "scope": {"tenant_id": "tenant-1", "subscriptions": [SUB.rsplit("/", 1)[-1]], "management_groups": []},
            "queries": {}, "coverage": {"complete": True, "failed": []}, "resources": estate, "extras": {},
        })]
    raise AssertionError(shape)


SHAPES = ["arm-array", "rg-objectarray", "rg-cli", "rg-table", "arm-list", "single", "az-cli-objects",
          "az-cli-list", "snapshot"]
# resources + the children nested in them that the contract merges by id (subnets, peerings, routes, NSG rules)
EXPECTED_RECORDS = 22 + 7 + 1 + 2 + 1


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    estate = load_estate(write_shape("arm-array", tmp_path_factory.mktemp("ref")))
    assert unexpected(estate.problems) == []
    return estate


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_reads_to_the_same_estate(shape: str, tmp_path: Path, reference) -> None:
    estate = load_estate(write_shape(shape, tmp_path))
    assert [p.line() for p in estate.problems] == []
    assert estate.resource_count == EXPECTED_RECORDS
    assert set(estate.records) == set(reference.records)
    for key, rec in reference.records.items():
        assert estate.records[key] == rec, f"{shape}: canonical record differs for {key}"
    assert estate_sha256(estate) == estate_sha256(reference)
    assert estate.unknown_types == {}
    # the typed model is shape-independent too
    assert set(estate.subnets) == set(reference.subnets)
    assert {k: (v.kind, v.id) for k, vs in estate.ip_owners.items() for v in vs} == \
        {k: (v.kind, v.id) for k, vs in reference.ip_owners.items() for v in vs}


# ---------------------------------------------------------------- shape-specific behaviour

def test_resource_graph_bookkeeping_is_ignored_but_paging_leftovers_are_not(tmp_path: Path) -> None:
    rows = [rg_row(r) for r in base_estate()]
    # az graph query prints `skip_token: null` and `total_records`; REST prints `$skipToken` only when paging
    clean = load_estate([write_json(tmp_path, "clean.json", {"count": 3, "data": rows, "skip_token": None,
                                                             "totalRecords": 999, "resultTruncated": "false"})])
    assert unexpected(clean.problems) == []
    # a non-empty skip token means later pages were never exported: never "complete" on partial data
    paged = load_estate([write_json(tmp_path, "paged.json", {"data": rows, "$skipToken": "ew0KICAiJGlkIjogIjEiLA0K"})])
    truncated = load_estate([write_json(tmp_path, "trunc.json", {"data": rows, "resultTruncated": "true"})])
    for estate, field in ((paged, "$skipToken"), (truncated, "resultTruncated")):
        [problem] = estate.problems
        assert (problem.field, problem.effect) == (field, EXPORT_INCOMPLETE)
        assert estate.resource_count == EXPECTED_RECORDS     # what was exported is still audited


def test_arm_list_next_link_marks_the_export_incomplete(tmp_path: Path) -> None:
    estate = base_estate()
    path = write_json(tmp_path, "vnets.json", {
        "value": estate[:3],
        "nextLink": "https://management.azure.com/subscriptions/x/providers/Microsoft.Network/virtualNetworks?api-version=2024-05-01&$skipToken=abc",
    })
    model = load_estate([path])
    [problem] = unexpected(model.problems)       # the VNets' route tables are not in this one file either
    assert (problem.file, problem.field, problem.effect) == (str(path), "nextLink", EXPORT_INCOMPLETE)
    assert set(model.vnets) == {HUB.lower(), APP.lower(), AI.lower()}


def test_snapshot_failed_scopes_collected_at_and_effective_routes(tmp_path: Path) -> None:
    route = {"source": "User", "state": "Active", "addressPrefix": ["10.2.0.0/16"], "nextHopType": "VirtualAppliance",
             "nextHopIpAddress": ["10.0.2.4"]}
    path = write_json(tmp_path, "snap.json", {
        "schema": "pathaudit/snapshot@1", "collected_at": "2026-11-23T10:00:00Z",
        "coverage": {"complete": False, "failed": [
            {"scope": "/subscriptions/00000000-0000-0000-0000-000000000002", "type": "microsoft.network/routetables",
             "error": "AuthorizationFailed: no read permission"}]},
        "resources": base_estate(),
        "extras": {"effective_routes": {APP_NIC: [route], NVA_NIC: {"value": [route, route]}}},
    })
    estate = load_estate([path])
    assert estate.collected_at == "2026-11-23T10:00:00Z"
    [problem] = estate.problems
    assert problem.effect == SCOPE_FAILED
    assert (problem.resource_id, problem.field) == ("/subscriptions/00000000-0000-0000-0000-000000000002",
                                                    "microsoft.network/routetables")
    assert "AuthorizationFailed" in problem.problem
    assert estate.effective_routes == {APP_NIC.lower(): [route], NVA_NIC.lower(): [route, route]}
    assert estate.resource_count == EXPECTED_RECORDS
    # in the findings document: under coverage.skipped, and the audit exits 3 (README, exit codes)
    from conftest import run_cli

    code, out, _ = run_cli("audit", path, "--format", "json", "--fail-on", "never")
    doc = json.loads(out)
    assert code == 3
    assert doc["estate"]["collected_at"] == "2026-11-23T10:00:00Z"
    assert [(s["resource_id"], s["effect"]) for s in doc["coverage"]["skipped"]] == [
        ("/subscriptions/00000000-0000-0000-0000-000000000002", "scope not collected")]
    # a snapshot that says it is incomplete without naming a scope is still incomplete
    bare = load_estate([write_json(tmp_path, "bare.json", {"schema": "pathaudit/snapshot@1", "resources": [],
                                                            "coverage": {"complete": False}})])
    assert [p.effect for p in bare.problems] == [SCOPE_FAILED]


def test_directories_are_read_recursively_json_and_json_gz_only(tmp_path: Path) -> None:
    estate = base_estate()
    root = tmp_path / "export"
    write_json(root, "a/b/c/hub.json", estate[0])
    (root / "a" / "spokes.json.gz").write_bytes(gzip.compress(json.dumps(estate[1:3]).encode()))
    (root / "notes.txt").write_text("not an estate")
    (root / "a" / "b" / "old.json.bak").write_text("{broken")
    (root / "a" / "rows.csv").write_text("id,type\n")
    model = load_estate([root])
    assert unexpected(model.problems) == []
    assert set(model.vnets) == {HUB.lower(), APP.lower(), AI.lower()}
    assert model.inputs == [str(root / "a" / "b" / "c" / "hub.json"), str(root / "a" / "spokes.json.gz")]


def subnet_pair(vnet_first: bool) -> list[dict[str, Any]]:
    """A VNet with a nested subnet and the same subnet exported on its own with different id/type casing."""
    nested = {"id": f"{AI}/subnets/snet-pe", "name": "snet-pe", "properties": {"addressPrefix": "10.2.1.0/24"}}
    vnet = {"id": AI, "name": "spoke-ai", "type": "Microsoft.Network/virtualNetworks", "location": "westeurope",
            "properties": {"addressSpace": {"addressPrefixes": ["10.2.0.0/16"]}, "subnets": [nested]}}
    standalone = {
        "id": f"{AI}/SUBNETS/SNET-PE".replace("/resourceGroups/rg-net/", "/resourcegroups/RG-NET/"),
        "name": "snet-pe", "type": "MICROSOFT.NETWORK/VIRTUALNETWORKS/SUBNETS",
        "properties": {"addressPrefix": "10.2.1.0/24", "privateEndpointNetworkPolicies": "routetableenabled",
                       "networkSecurityGroup": {"id": NSG}, "routeTable": {"id": RT}},
    }
    return [vnet, standalone] if vnet_first else [standalone, vnet]


@pytest.mark.parametrize("vnet_first", [True, False])
def test_nested_and_standalone_subnet_merge_keeping_the_richer_copy(vnet_first: bool, tmp_path: Path) -> None:
    estate = load_estate([write_json(tmp_path, "e.json", subnet_pair(vnet_first))])
    assert unexpected(estate.problems) == []                     # the nested copy is contained in the standalone one
    assert estate.resource_count == 2
    [subnet] = estate.subnets.values()
    assert (subnet.pe_policies, subnet.pe_policies_set) == ("RouteTableEnabled", True)
    assert (subnet.nsg_id, subnet.route_table_id) == (NSG, RT)
    assert [s.lower() for s in estate.vnets[AI.lower()].subnet_ids] == [f"{AI}/subnets/snet-pe".lower()]
    # ... and the merge does not depend on which file or position came first
    other = load_estate([write_json(tmp_path, "f.json", subnet_pair(not vnet_first))])
    assert estate_sha256(other) == estate_sha256(estate)


def test_standalone_children_in_separate_files_merge_with_their_parents(tmp_path: Path) -> None:
    estate = base_estate()
    rt = next(r for r in estate if r["id"] == RT)
    # `az network route-table route show`: the same route, with a property the nested copy lacks
    standalone_route = copy.deepcopy({**rt["properties"]["routes"][0], "type": "Microsoft.Network/routeTables/routes"})
    standalone_route["id"] = standalone_route["id"].upper()
    standalone_route["properties"]["hasBgpOverride"] = False
    files = [write_json(tmp_path, "rt.json", rt), write_json(tmp_path, "route.json", standalone_route)]
    model = load_estate(files)
    assert unexpected(model.problems) == []
    assert [r.name for r in model.route_tables[RT.lower()].routes] == ["default", "to-ai"]
    kept = model.records[f"{RT}/routes/default".lower()]
    assert kept["properties"]["hasBgpOverride"] is False
    assert model.files[f"{RT}/routes/default".lower()] == str(tmp_path / "route.json")


# ---------------------------------------------------------------- same estate, three shapes, same bytes

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "estates"
DEMO_SHAPES = {
    "resource-graph": DEMO / "demo-contoso" / "resources.json",
    "arm-array": DEMO / "demo-contoso-shapes" / "arm-array" / "resources.json",
    "az-cli": DEMO / "demo-contoso-shapes" / "az-cli" / "resources.json",
}


def test_demo_estate_in_three_shapes_audits_to_the_same_bytes() -> None:
    import re

    from conftest import run_cli

    missing = [str(p) for p in DEMO_SHAPES.values() if not p.is_file()]
    assert not missing, f"demo estate shapes missing: {missing}"
    runs = {name: run_cli("audit", path, "--format", "json") for name, path in DEMO_SHAPES.items()}
    codes = {name: code for name, (code, _, _) in runs.items()}
    assert len(set(codes.values())) == 1, codes
    docs = {}
    raws = {}
    for name, (_, out, err) in runs.items():
        assert "Traceback" not in err
        doc = json.loads(out)
        assert doc["estate"]["inputs"] == [str(DEMO_SHAPES[name])]
        doc["estate"].pop("inputs")
        docs[name] = json.dumps(doc, sort_keys=True)
        # raw bytes, with only the inputs array replaced
        raw, n = re.subn(r'"inputs": \[[^\]]*\]', '"inputs": []', out)
        assert n == 1
        raws[name] = raw.encode()
    assert docs["arm-array"] == docs["resource-graph"]
    assert docs["az-cli"] == docs["resource-graph"]
    assert raws["arm-array"] == raws["resource-graph"]
    assert raws["az-cli"] == raws["resource-graph"]
    parsed = json.loads(docs["resource-graph"])
    assert parsed["coverage"]["complete"] is True
    assert parsed["findings"], "the demo estate is meant to have findings"
