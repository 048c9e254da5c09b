"""Hand-built estates for the routing tests and benchmarks, as Azure Resource Graph rows.

`RowEstate` writes the shape `az graph query` returns (docs/conventions.md "Fixture estates"):
lower-case `type`, ARM `properties`, subnets and peerings nested in their VNet, routes nested in
their route table. It is written here, independently of auditor/estate, so the routing tests
exercise the real ingestion path (`auditor.audit.load_estate`) on real-shaped rows.

Used by test_routing_* and tests/bench/paths.py, tests/bench/routing.py; tests/test_routing_builder.py
checks the builder itself.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

SUB = "7d3e5c10-2b4a-4f6e-8a9c-0d1e2f3a4b5c"
TENANT = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
ROW_COLUMNS = (
    "id",
    "name",
    "type",
    "tenantId",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "managedBy",
    "sku",
    "plan",
    "properties",
    "tags",
    "identity",
    "zones",
    "extendedLocation",
)


def guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


class RowEstate:
    """Build an estate one resource at a time; `rows()` returns the Resource Graph rows."""

    def __init__(self, location: str = "westeurope", sub: str = SUB) -> None:
        self.location = location
        self.sub = sub
        self.vnets: dict[str, dict[str, Any]] = {}  # name -> row
        self.tables: dict[str, dict[str, Any]] = {}  # id -> row
        self.others: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ ids and rows

    def rid(self, rg: str, rtype: str, name: str) -> str:
        return f"/subscriptions/{self.sub}/resourceGroups/{rg}/providers/{rtype}/{name}"

    def row(
        self,
        rid: str,
        rtype: str,
        props: dict[str, Any],
        location: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        rg = rid.split("/")[4]
        return {
            "id": rid,
            "name": rid.rsplit("/", 1)[-1],
            "type": rtype.lower(),
            "tenantId": TENANT,
            "kind": "",
            "location": location or self.location,
            "resourceGroup": rg.lower(),
            "subscriptionId": self.sub,
            "managedBy": "",
            "sku": None,
            "plan": None,
            "properties": {"provisioningState": "Succeeded", "resourceGuid": guid(rid), **props},
            "tags": tags or {},
            "identity": None,
            "zones": None,
            "extendedLocation": None,
        }

    def vnet_id(self, name: str) -> str:
        return self.vnets[name]["id"]

    def subnet_id(self, vnet: str, subnet: str) -> str:
        return f"{self.vnet_id(vnet)}/subnets/{subnet}"

    # ------------------------------------------------------------------ network

    def vnet(self, name: str, *prefixes: str, rg: str = "rg-net", location: str | None = None) -> str:
        rid = self.rid(rg, "Microsoft.Network/virtualNetworks", name)
        self.vnets[name] = self.row(
            rid,
            "microsoft.network/virtualnetworks",
            {
                "addressSpace": {"addressPrefixes": list(prefixes)},
                "enableDdosProtection": False,
                "subnets": [],
                "virtualNetworkPeerings": [],
            },
            location=location,
        )
        return rid

    def subnet(
        self,
        vnet: str,
        name: str,
        prefix: str,
        *,
        route_table: str | None = None,
        pe_policies: str | None = "Disabled",
        service_endpoints: tuple[str, ...] = (),
    ) -> str:
        vrow = self.vnets[vnet]
        sid = f"{vrow['id']}/subnets/{name}"
        props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "addressPrefix": prefix,
            "delegations": [],
            "privateLinkServiceNetworkPolicies": "Enabled",
        }
        if pe_policies is not None:
            props["privateEndpointNetworkPolicies"] = pe_policies
        if route_table is not None:
            props["routeTable"] = {"id": route_table}
            self.tables[route_table.lower()]["properties"]["subnets"].append({"id": sid})
        if service_endpoints:
            props["serviceEndpoints"] = [
                {"provisioningState": "Succeeded", "service": s, "locations": [vrow["location"]]}
                for s in service_endpoints
            ]
        vrow["properties"]["subnets"].append(
            {
                "id": sid,
                "name": name,
                "properties": props,
                "type": "Microsoft.Network/virtualNetworks/subnets",
            }
        )
        return sid

    def peering(
        self,
        local: str,
        remote: str,
        *,
        state: str = "Connected",
        allow_gateway_transit: bool = False,
        use_remote_gateways: bool = False,
        name: str | None = None,
    ) -> str:
        lrow, rrow = self.vnets[local], self.vnets[remote]
        pid = f"{lrow['id']}/virtualNetworkPeerings/{name or f'{local}-to-{remote}'}"
        space = {"addressPrefixes": list(rrow["properties"]["addressSpace"]["addressPrefixes"])}
        lrow["properties"]["virtualNetworkPeerings"].append(
            {
                "id": pid,
                "name": pid.rsplit("/", 1)[-1],
                "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
                "properties": {
                    "allowForwardedTraffic": True,
                    "allowGatewayTransit": allow_gateway_transit,
                    "allowVirtualNetworkAccess": True,
                    "doNotVerifyRemoteGateways": False,
                    "peerCompleteVnets": True,
                    "peeringState": state,
                    "peeringSyncLevel": "FullyInSync",
                    "provisioningState": "Succeeded",
                    "remoteAddressSpace": space,
                    "remoteVirtualNetworkAddressSpace": space,
                    "remoteVirtualNetwork": {"id": rrow["id"]},
                    "useRemoteGateways": use_remote_gateways,
                },
            }
        )
        return pid

    def peer(
        self,
        a: str,
        b: str,
        *,
        state: str = "Connected",
        a_transit: bool = False,
        b_uses_remote: bool = False,
    ) -> None:
        """Both halves of a peering; `a_transit`/`b_uses_remote` make `a` the hub whose gateway `b` uses."""
        self.peering(a, b, state=state, allow_gateway_transit=a_transit)
        self.peering(b, a, state=state, use_remote_gateways=b_uses_remote)

    def route_table(
        self,
        name: str,
        routes: list[tuple[str, str, str | None]] = (),
        *,  # type: ignore[assignment]
        disable_bgp: bool = False,
        rg: str = "rg-net",
        names: list[str] | None = None,
    ) -> str:
        """`routes`: (addressPrefix, nextHopType, nextHopIpAddress or None)."""
        rid = self.rid(rg, "Microsoft.Network/routeTables", name)
        out = []
        for i, (prefix, hop, ip) in enumerate(routes):
            rname = names[i] if names else f"r{i}-{prefix.replace('/', '_')}"
            props: dict[str, Any] = {
                "provisioningState": "Succeeded",
                "addressPrefix": prefix,
                "nextHopType": hop,
                "hasBgpOverride": False,
            }
            if ip is not None:
                props["nextHopIpAddress"] = ip
            out.append(
                {
                    "id": f"{rid}/routes/{rname}",
                    "name": rname,
                    "properties": props,
                    "type": "Microsoft.Network/routeTables/routes",
                }
            )
        self.tables[rid.lower()] = self.row(
            rid,
            "microsoft.network/routetables",
            {
                "disableBgpRoutePropagation": disable_bgp,
                "routes": out,
                "subnets": [],
            },
        )
        return rid

    def nic(
        self,
        name: str,
        subnet_id: str,
        ip: str,
        *,
        forwarding: bool = False,
        rg: str = "rg-net",
        private_endpoint: str | None = None,
    ) -> str:
        rid = self.rid(rg, "Microsoft.Network/networkInterfaces", name)
        props: dict[str, Any] = {
            "enableIPForwarding": forwarding,
            "enableAcceleratedNetworking": False,
            "primary": True,
            "nicType": "Standard",
            "hostedWorkloads": [],
            "tapConfigurations": [],
            "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
            "ipConfigurations": [
                {
                    "id": f"{rid}/ipConfigurations/ipconfig1",
                    "name": "ipconfig1",
                    "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateIPAddress": ip,
                        "privateIPAllocationMethod": "Dynamic",
                        "privateIPAddressVersion": "IPv4",
                        "primary": True,
                        "subnet": {"id": subnet_id},
                    },
                }
            ],
        }
        if private_endpoint:
            props["privateEndpoint"] = {"id": private_endpoint}
        self.others.append(self.row(rid, "microsoft.network/networkinterfaces", props))
        self._hold(subnet_id, f"{rid}/ipConfigurations/ipconfig1")
        return rid

    def _hold(self, subnet_id: str, ip_config_id: str) -> None:
        """List the NIC's ip configuration on its subnet, as ARM's subnet `ipConfigurations` does."""
        vnet = subnet_id.split("/virtualNetworks/")[1].split("/")[0]
        for s in self.vnets.get(vnet, {}).get("properties", {}).get("subnets", []):
            if s["id"].lower() == subnet_id.lower():
                s["properties"].setdefault("ipConfigurations", []).append({"id": ip_config_id})

    def private_endpoint(
        self,
        name: str,
        subnet_id: str,
        ip: str,
        *,
        target: str | None = None,
        status: str = "Approved",
        rg: str = "rg-net",
    ) -> str:
        rid = self.rid(rg, "Microsoft.Network/privateEndpoints", name)
        nic = self.nic(f"{name}.nic.{guid(rid)[:8]}", subnet_id, ip, rg=rg, private_endpoint=rid)
        target = target or self.rid(rg, "Microsoft.CognitiveServices/accounts", f"{name}-target")
        self.others.append(
            self.row(
                rid,
                "microsoft.network/privateendpoints",
                {
                    "subnet": {"id": subnet_id},
                    "networkInterfaces": [{"id": nic}],
                    "ipConfigurations": [],
                    "manualPrivateLinkServiceConnections": [],
                    "customDnsConfigs": [],
                    "privateLinkServiceConnections": [
                        {
                            "id": f"{rid}/privateLinkServiceConnections/{name}",
                            "name": name,
                            "type": "Microsoft.Network/privateEndpoints/privateLinkServiceConnections",
                            "properties": {
                                "groupIds": ["account"],
                                "privateLinkServiceId": target,
                                "privateLinkServiceConnectionState": {
                                    "status": status,
                                    "description": "",
                                    "actionsRequired": "None",
                                },
                            },
                        }
                    ],
                },
            )
        )
        return rid

    def vpn_gateway(self, name: str, vnet: str, *, rg: str = "rg-net") -> str:
        """A route-based VPN gateway in `vnet`'s GatewaySubnet (the subnet must exist)."""
        rid = self.rid(rg, "Microsoft.Network/virtualNetworkGateways", name)
        self.others.append(
            self.row(
                rid,
                "microsoft.network/virtualnetworkgateways",
                {
                    "gatewayType": "Vpn",
                    "vpnType": "RouteBased",
                    "enableBgp": False,
                    "activeActive": False,
                    "sku": {"name": "VpnGw1", "tier": "VpnGw1", "capacity": 2},
                    "ipConfigurations": [
                        {
                            "id": f"{rid}/ipConfigurations/default",
                            "name": "default",
                            "properties": {
                                "privateIPAllocationMethod": "Dynamic",
                                "subnet": {"id": self.subnet_id(vnet, "GatewaySubnet")},
                            },
                        }
                    ],
                },
            )
        )
        return rid

    def local_gateway(self, name: str, *prefixes: str, rg: str = "rg-net") -> str:
        rid = self.rid(rg, "Microsoft.Network/localNetworkGateways", name)
        self.others.append(
            self.row(
                rid,
                "microsoft.network/localnetworkgateways",
                {
                    "gatewayIpAddress": "192.0.2.10",
                    "localNetworkAddressSpace": {"addressPrefixes": list(prefixes)},
                },
            )
        )
        return rid

    def connection(self, name: str, gateway: str, local_gateway: str, *, rg: str = "rg-net") -> str:
        rid = self.rid(rg, "Microsoft.Network/connections", name)
        self.others.append(
            self.row(
                rid,
                "microsoft.network/connections",
                {
                    "connectionType": "IPsec",
                    "connectionProtocol": "IKEv2",
                    "connectionStatus": "Connected",
                    "enableBgp": False,
                    "routingWeight": 0,
                    "virtualNetworkGateway1": {"id": gateway, "properties": {}},
                    "localNetworkGateway2": {"id": local_gateway, "properties": {}},
                },
            )
        )
        return rid

    # ------------------------------------------------------------------ output

    def rows(self) -> list[dict[str, Any]]:
        return [*self.vnets.values(), *self.tables.values(), *self.others]

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.rows()), encoding="utf-8")
        return path

    def load(self, tmp_path: Path, name: str = "resources.json"):
        """Write the rows and read them back through the real ingestion path."""
        from auditor.audit import load_estate

        return load_estate([self.write(tmp_path / name)])


def hub_and_spokes() -> RowEstate:
    """A small hub-and-spoke estate used by several tests.

    hub 10.0.0.0/16 (GatewaySubnet, snet-nva with nva1 10.0.2.4, VPN gateway + local network gateway
    192.168.0.0/16 through a Connection, allowGatewayTransit), spoke-app 10.1.0.0/16 and spoke-ai
    10.2.0.0/16 (useRemoteGateways), PE 10.2.1.4 in spoke-ai/snet-pe (RouteTableEnabled).
    """
    b = RowEstate()
    b.vnet("hub", "10.0.0.0/16")
    b.vnet("spoke-app", "10.1.0.0/16")
    b.vnet("spoke-ai", "10.2.0.0/16")
    b.subnet("hub", "GatewaySubnet", "10.0.255.0/27")
    nva_subnet = b.subnet("hub", "snet-nva", "10.0.2.0/24")
    b.nic("nva1-nic", nva_subnet, "10.0.2.4", forwarding=True)
    b.subnet("spoke-app", "snet-app", "10.1.1.0/24")
    pe_subnet = b.subnet("spoke-ai", "snet-pe", "10.2.1.0/24", pe_policies="RouteTableEnabled")
    b.subnet("spoke-ai", "snet-work", "10.2.2.0/24")
    b.private_endpoint("pe-aoai", pe_subnet, "10.2.1.4")
    gw = b.vpn_gateway("vpngw-hub", "hub")
    lgw = b.local_gateway("lgw-onprem", "192.168.0.0/16")
    b.connection("cn-hub-onprem", gw, lgw)
    b.peer("hub", "spoke-app", a_transit=True, b_uses_remote=True)
    b.peer("hub", "spoke-ai", a_transit=True, b_uses_remote=True)
    return b
