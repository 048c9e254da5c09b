"""One small but complete estate in ARM form, and writers for every input shape the contract lists.

`base_estate()` holds hub/spoke VNets, NVA, firewall, private endpoint, APIM, AI account and a VMSS as
Resource Graph's ComputeResources table returns it; `write_shape(shape, tmp_path)` converts it
(independently of auditor/estate/normalize.py) to each shape of `SHAPES` and writes it. Used by
test_ingest_shapes and test_ingest_model.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

from conftest import write_json

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


def child(
    parent: str, kind: str, name: str, props: dict[str, Any], ctype: str | None = None
) -> dict[str, Any]:
    """A nested child sub-resource as ARM returns it (name, id, etag, optional type, properties)."""
    out: dict[str, Any] = {"name": name, "id": f"{parent}/{kind}/{name}", "etag": ETAG}
    if ctype:
        out["type"] = ctype
    out["properties"] = {"provisioningState": "Succeeded", **props}
    return out


def subnet(vnet: str, name: str, prefix: str, **extra: Any) -> dict[str, Any]:
    return child(
        vnet, "subnets", name, {"addressPrefix": prefix, **extra}, "Microsoft.Network/virtualNetworks/subnets"
    )


def resource(rid: str, rtype: str, props: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": rid.rsplit("/", 1)[-1],
        "id": rid,
        "etag": ETAG,
        "type": rtype,
        "location": "westeurope",
    }
    out.update(envelope)
    out["properties"] = {"provisioningState": "Succeeded", **props}
    return out


def nic_ipconfig(nic: str, name: str, address: str, subnet_id: str, primary: bool = True) -> dict[str, Any]:
    return child(
        nic,
        "ipConfigurations",
        name,
        {
            "privateIPAddress": address,
            "privateIPAllocationMethod": "Static",
            "privateIPAddressVersion": "IPv4",
            "primary": primary,
            "subnet": {"id": subnet_id},
        },
        "Microsoft.Network/networkInterfaces/ipConfigurations",
    )


def base_estate() -> list[dict[str, Any]]:
    """The estate in ARM form (GET bodies, ARM casing of types, children nested with etags)."""
    return [
        resource(
            HUB,
            "Microsoft.Network/virtualNetworks",
            {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [
                    subnet(HUB, "AzureFirewallSubnet", "10.0.1.0/26"),
                    subnet(HUB, "snet-nva", "10.0.2.0/24"),
                    subnet(HUB, "GatewaySubnet", "10.0.255.0/27"),
                ],
                "virtualNetworkPeerings": [
                    child(
                        HUB,
                        "virtualNetworkPeerings",
                        "hub-to-ai",
                        {
                            "remoteVirtualNetwork": {"id": AI},
                            "remoteAddressSpace": {"addressPrefixes": ["10.2.0.0/16"]},
                            "peeringState": "Connected",
                            "allowVirtualNetworkAccess": True,
                            "allowForwardedTraffic": True,
                            "allowGatewayTransit": True,
                            "useRemoteGateways": False,
                        },
                        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
                    )
                ],
            },
        ),
        resource(
            APP,
            "Microsoft.Network/virtualNetworks",
            {
                "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
                "subnets": [
                    subnet(
                        APP,
                        "snet-app",
                        "10.1.1.0/24",
                        routeTable={"id": RT},
                        networkSecurityGroup={"id": NSG},
                    ),
                    subnet(APP, "snet-apim", "10.1.2.0/24", routeTable={"id": RT}),
                ],
                "virtualNetworkPeerings": [],
            },
        ),
        resource(
            AI,
            "Microsoft.Network/virtualNetworks",
            {
                "addressSpace": {"addressPrefixes": ["10.2.0.0/16"]},
                "subnets": [
                    subnet(
                        AI,
                        "snet-pe",
                        "10.2.1.0/24",
                        privateEndpointNetworkPolicies="RouteTableEnabled",
                        privateLinkServiceNetworkPolicies="Enabled",
                    ),
                    subnet(
                        AI,
                        "snet-work",
                        "10.2.2.0/24",
                        delegations=[
                            child(
                                f"{AI}/subnets/snet-work",
                                "delegations",
                                "web",
                                {"serviceName": "Microsoft.Web/serverFarms", "actions": []},
                                "Microsoft.Network/virtualNetworks/subnets/delegations",
                            )
                        ],
                    ),
                ],
            },
        ),
        resource(
            VHUB,
            "Microsoft.Network/virtualHubs",
            {
                "addressPrefix": "10.10.0.0/23",
                "sku": "Standard",
                "virtualRouterIps": ["10.10.0.68", "10.10.0.69"],
                "azureFirewall": {"id": HUB_FW},
                "virtualWan": {"id": f"{NET}/virtualWans/vwan1"},
            },
        ),
        {
            "name": "intent",
            "id": f"{VHUB}/routingIntent/intent",
            "etag": ETAG,
            "type": "Microsoft.Network/virtualHubs/routingIntent",
            "properties": {
                "provisioningState": "Succeeded",
                "routingPolicies": [
                    {"name": "PrivateTrafficPolicy", "destinations": ["PrivateTraffic"], "nextHop": HUB_FW},
                    {"name": "InternetTraffic", "destinations": ["Internet"], "nextHop": HUB_FW},
                ],
            },
        },
        resource(
            HUB_FW,
            "Microsoft.Network/azureFirewalls",
            {
                "sku": {"name": "AZFW_Hub", "tier": "Premium"},
                "virtualHub": {"id": VHUB},
                "firewallPolicy": {"id": FWP},
                "hubIPAddresses": {
                    "privateIPAddress": "10.10.0.132",
                    "publicIPs": {"addresses": [{"address": "20.0.0.99"}], "count": 1},
                },
            },
        ),
        resource(
            RT,
            "Microsoft.Network/routeTables",
            {
                "disableBgpRoutePropagation": False,
                "routes": [
                    child(
                        RT,
                        "routes",
                        "default",
                        {
                            "addressPrefix": "0.0.0.0/0",
                            "nextHopType": "VirtualAppliance",
                            "nextHopIpAddress": "10.0.2.4",
                        },
                        "Microsoft.Network/routeTables/routes",
                    ),
                    child(
                        RT,
                        "routes",
                        "to-ai",
                        {
                            "addressPrefix": "10.2.0.0/16",
                            "nextHopType": "VirtualAppliance",
                            "nextHopIpAddress": "10.0.2.4",
                        },
                        "Microsoft.Network/routeTables/routes",
                    ),
                ],
                "subnets": [{"id": f"{APP}/subnets/snet-app"}, {"id": f"{APP}/subnets/snet-apim"}],
            },
        ),
        resource(
            NSG,
            "Microsoft.Network/networkSecurityGroups",
            {
                "securityRules": [
                    child(
                        NSG,
                        "securityRules",
                        "allow-https",
                        {
                            "protocol": "Tcp",
                            "sourcePortRange": "*",
                            "destinationPortRange": "443",
                            "sourceAddressPrefix": "10.1.0.0/16",
                            "destinationAddressPrefix": "*",
                            "access": "Allow",
                            "priority": 100,
                            "direction": "Inbound",
                        },
                        "Microsoft.Network/networkSecurityGroups/securityRules",
                    )
                ],
                "subnets": [{"id": f"{APP}/subnets/snet-app"}],
            },
        ),
        resource(
            NVA_NIC,
            "Microsoft.Network/networkInterfaces",
            {
                "enableIPForwarding": True,
                "ipConfigurations": [
                    nic_ipconfig(NVA_NIC, "ipconfig1", "10.0.2.4", f"{HUB}/subnets/snet-nva")
                ],
                "virtualMachine": {"id": NVA_VM},
            },
            tags={"disableSnatOnPL": "true"},
        ),
        # app1-nic does not name its VM: the VM's networkProfile is the only link
        resource(
            APP_NIC,
            "Microsoft.Network/networkInterfaces",
            {
                "enableIPForwarding": False,
                "ipConfigurations": [
                    nic_ipconfig(APP_NIC, "ipconfig1", "10.1.1.4", f"{APP}/subnets/snet-app")
                ],
            },
        ),
        resource(
            PE_NIC,
            "Microsoft.Network/networkInterfaces",
            {
                "enableIPForwarding": False,
                "ipConfigurations": [
                    nic_ipconfig(PE_NIC, "privateEndpointIpConfig.1", "10.2.1.4", f"{AI}/subnets/snet-pe")
                ],
                "privateEndpoint": {"id": PE},
            },
        ),
        # nva1 does not list its NIC: the NIC's virtualMachine reference is the only link
        resource(NVA_VM, "Microsoft.Compute/virtualMachines", {"networkProfile": {"networkInterfaces": []}}),
        resource(
            APP_VM,
            "Microsoft.Compute/virtualMachines",
            {
                "networkProfile": {"networkInterfaces": [{"id": APP_NIC, "properties": {"primary": True}}]},
            },
        ),
        resource(
            PE,
            "Microsoft.Network/privateEndpoints",
            {
                "subnet": {"id": f"{AI}/subnets/snet-pe"},
                "networkInterfaces": [{"id": PE_NIC}],
                "privateLinkServiceConnections": [
                    child(
                        PE,
                        "privateLinkServiceConnections",
                        "aoai",
                        {
                            "privateLinkServiceId": AOAI,
                            "groupIds": ["account"],
                            "privateLinkServiceConnectionState": {
                                "status": "Approved",
                                "description": "",
                                "actionsRequired": "None",
                            },
                        },
                    )
                ],
                "manualPrivateLinkServiceConnections": [],
                "customDnsConfigs": [{"fqdn": "aoai1.openai.azure.com", "ipAddresses": ["10.2.1.4"]}],
            },
        ),
        resource(
            AFW,
            "Microsoft.Network/azureFirewalls",
            {
                "sku": {"name": "AZFW_VNet", "tier": "Standard"},
                "ipConfigurations": [
                    child(
                        AFW,
                        "ipConfigurations",
                        "ipconfig",
                        {
                            "privateIPAddress": "10.0.1.4",
                            "subnet": {"id": f"{HUB}/subnets/AzureFirewallSubnet"},
                        },
                    )
                ],
                "firewallPolicy": {"id": FWP},
                "additionalProperties": {},
            },
        ),
        resource(
            FWP,
            "Microsoft.Network/firewallPolicies",
            {
                "snat": {"privateRanges": ["172.16.0.0/12"]},
                "ruleCollectionGroups": [],
            },
        ),
        resource(
            LB,
            "Microsoft.Network/loadBalancers",
            {
                "frontendIPConfigurations": [
                    child(
                        LB,
                        "frontendIPConfigurations",
                        "fe",
                        {
                            "privateIPAddress": "10.0.2.100",
                            "privateIPAllocationMethod": "Static",
                            "subnet": {"id": f"{HUB}/subnets/snet-nva"},
                        },
                    )
                ],
                "backendAddressPools": [],
            },
            sku={"name": "Standard", "tier": "Regional"},
        ),
        resource(
            VMSS,
            "Microsoft.Compute/virtualMachineScaleSets",
            {
                "orchestrationMode": "Uniform",
                "virtualMachineProfile": {
                    "networkProfile": {
                        "networkInterfaceConfigurations": [
                            {
                                "name": "nvass-nic",
                                "properties": {"primary": True, "enableIPForwarding": True},
                            },
                        ]
                    }
                },
            },
            sku={"name": "Standard_D2s_v5", "tier": "Standard", "capacity": 1},
            tags={"disableSnatOnPL": "true"},
        ),
        resource(
            VMSS_VM,
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
            {
                "networkProfile": {"networkInterfaces": [{"id": VMSS_NIC}]},
            },
        ),
        resource(
            VMSS_NIC,
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces",
            {
                "enableIPForwarding": True,
                "ipConfigurations": [
                    nic_ipconfig(VMSS_NIC, "ipconfig1", "10.0.2.5", f"{HUB}/subnets/snet-nva")
                ],
                "virtualMachine": {"id": VMSS_VM},
            },
        ),
        resource(
            APIM,
            "Microsoft.ApiManagement/service",
            {
                "virtualNetworkType": "Internal",
                "virtualNetworkConfiguration": {"subnetResourceId": f"{APP}/subnets/snet-apim"},
                "privateIPAddresses": ["10.1.2.4"],
                "publicIPAddresses": ["20.0.0.10"],
                "publicNetworkAccess": "Enabled",
            },
            sku={"name": "Developer", "capacity": 1},
        ),
        resource(
            AOAI,
            "Microsoft.CognitiveServices/accounts",
            {
                "customSubDomainName": "aoai1",
                "disableLocalAuth": True,
                "publicNetworkAccess": "Disabled",
                "networkAcls": {"defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
                "privateEndpointConnections": [
                    child(
                        AOAI,
                        "privateEndpointConnections",
                        "pe-aoai.conn",
                        {
                            "privateEndpoint": {"id": PE},
                            "privateLinkServiceConnectionState": {
                                "status": "Approved",
                                "description": "",
                                "actionsRequired": "None",
                            },
                        },
                        "Microsoft.CognitiveServices/accounts/privateEndpointConnections",
                    )
                ],
            },
            kind="OpenAI",
            sku={"name": "S0"},
        ),
    ]


# ---------------------------------------------------------------- shape converters (test-side)


def rg_row(res: dict[str, Any]) -> dict[str, Any]:
    """A Resources / ComputeResources row: lower-case type, every column present (nulls included)."""
    rid = res["id"]
    parts = rid.split("/")
    return {
        "id": rid,
        "name": res["name"],
        "type": res["type"].lower(),
        "tenantId": "tenant-1",
        "kind": res.get("kind", ""),
        "location": res.get("location", ""),
        "resourceGroup": parts[4].lower(),
        "subscriptionId": parts[2],
        "managedBy": "",
        "sku": res.get("sku"),
        "plan": None,
        "properties": copy.deepcopy(res["properties"]),
        "tags": res.get("tags"),
        "identity": None,
        "zones": None,
        "extendedLocation": None,
    }


# what the CLI's models flatten (sub-resources with a `properties` wrapper in ARM)
CLI_CHILD_LISTS = {
    "subnets",
    "virtualNetworkPeerings",
    "routes",
    "securityRules",
    "ipConfigurations",
    "privateLinkServiceConnections",
    "manualPrivateLinkServiceConnections",
    "delegations",
    "privateEndpointConnections",
    "frontendIPConfigurations",
    "networkInterfaces",
}


def cli_value(value: Any, rg: str, key: str | None = None) -> Any:
    if isinstance(value, list):
        return [
            cli_flatten(v, rg)
            if key in CLI_CHILD_LISTS and isinstance(v, dict) and "properties" in v
            else cli_value(v, rg)
            for v in value
        ]
    if isinstance(value, dict):
        out = {k: cli_value(v, rg, k) for k, v in value.items()}
        if "id" in out:
            out["resourceGroup"] = rg  # az CLI adds the resource group to every reference
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
        return [
            write_json(
                tmp_path,
                "rg.json",
                {
                    "totalRecords": len(rows),
                    "count": len(rows),
                    "data": rows,
                    "facets": [],
                    "resultTruncated": "false",
                },
            )
        ]
    if shape == "rg-cli":  # az graph query -o json
        rows = [rg_row(r) for r in estate]
        return [
            write_json(
                tmp_path,
                "rg.json",
                {"count": len(rows), "data": rows, "skip_token": None, "total_records": len(rows)},
            )
        ]
    if shape == "rg-table":
        rows = [rg_row(r) for r in estate]
        columns = list(rows[0])
        return [
            write_json(
                tmp_path,
                "rg.json",
                {
                    "totalRecords": len(rows),
                    "count": len(rows),
                    "data": {
                        "columns": [
                            {"name": c, "type": "object" if c in ("properties", "tags", "sku") else "string"}
                            for c in columns
                        ],
                        "rows": [[row[c] for c in columns] for row in rows],
                    },
                },
            )
        ]
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
        return [
            write_json(tmp_path, f"cli/r{i:02}.json", cli_flatten(r, "rg-net")) for i, r in enumerate(estate)
        ]
    if shape == "az-cli-list":  # `az resource list`-like: a JSON array of flattened objects
        return [write_json(tmp_path, "cli.json", [cli_flatten(r, "rg-net") for r in estate])]
    if shape == "snapshot":
        return [
            write_json(
                tmp_path,
                "snapshot.json",
                {
                    "schema": "pathaudit/snapshot@1",
                    "collected_at": "2026-11-23T10:00:00Z",
                    "tool": {"name": "pathaudit", "version": "1.0.0"},
                    "scope": {
                        "tenant_id": "tenant-1",
                        "subscriptions": [SUB.rsplit("/", 1)[-1]],
                        "management_groups": [],
                    },
                    "queries": {},
                    "coverage": {"complete": True, "failed": []},
                    "resources": estate,
                    "extras": {},
                },
            )
        ]
    raise AssertionError(shape)


SHAPES = [
    "arm-array",
    "rg-objectarray",
    "rg-cli",
    "rg-table",
    "arm-list",
    "single",
    "az-cli-objects",
    "az-cli-list",
    "snapshot",
]
