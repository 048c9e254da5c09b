"""A synthetic tenant of any size for scale tests: VNets, NICs and VMs spread over many subscriptions."""

from __future__ import annotations

import uuid
from typing import Any

TENANT = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"


def subscription_ids(count: int) -> list[str]:
    return [str(uuid.UUID(int=(i + 1) * 0x1000_0000_0000_0000_0001, version=4)) for i in range(count)]


def synthetic_tenant(
    resources: int = 20_000, subscriptions: int = 1001
) -> tuple[list[dict[str, Any]], list[str]]:
    """`resources` Resource Graph rows (60% NICs, 30% VMs, 10% VNets) over `subscriptions` subscriptions."""
    subs = subscription_ids(subscriptions)
    rows = []
    for i in range(resources):
        sub = subs[i % len(subs)]
        rg = f"rg-{i % 7}"
        kind = i % 10
        base = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
        if kind < 6:
            rid, rtype = (
                f"{base}/Microsoft.Network/networkInterfaces/nic-{i:06d}",
                "microsoft.network/networkinterfaces",
            )
            props: dict[str, Any] = {
                "enableIPForwarding": i % 50 == 0,
                "ipConfigurations": [
                    {
                        "id": f"{rid}/ipConfigurations/ipconfig1",
                        "name": "ipconfig1",
                        "properties": {
                            "privateIPAddress": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                            "privateIPAllocationMethod": "Dynamic",
                            "primary": True,
                            "subnet": {
                                "id": f"{base}/Microsoft.Network/virtualNetworks/vnet-{i % 100}/subnets/default"
                            },
                        },
                    }
                ],
                "provisioningState": "Succeeded",
            }
        elif kind < 9:
            rid, rtype = (
                f"{base}/Microsoft.Compute/virtualMachines/vm-{i:06d}",
                "microsoft.compute/virtualmachines",
            )
            props = {
                "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                "networkProfile": {
                    "networkInterfaces": [{"id": f"{base}/Microsoft.Network/networkInterfaces/nic-{i:06d}"}]
                },
                "provisioningState": "Succeeded",
            }
        else:
            rid, rtype = (
                f"{base}/Microsoft.Network/virtualNetworks/vnet-{i:06d}",
                "microsoft.network/virtualnetworks",
            )
            props = {
                "addressSpace": {"addressPrefixes": [f"10.{i % 256}.0.0/16"]},
                "subnets": [
                    {
                        "id": f"{rid}/subnets/default",
                        "name": "default",
                        "properties": {"addressPrefix": f"10.{i % 256}.0.0/24"},
                    }
                ],
                "provisioningState": "Succeeded",
            }
        rows.append(
            {
                "id": rid,
                "name": rid.rsplit("/", 1)[-1],
                "type": rtype,
                "tenantId": TENANT,
                "kind": "",
                "location": "westeurope",
                "resourceGroup": rg,
                "subscriptionId": sub,
                "managedBy": "",
                "sku": None,
                "plan": None,
                "properties": props,
                "tags": {"env": "scale"},
                "identity": None,
                "zones": None,
                "extendedLocation": None,
            }
        )
    return rows, subs
