"""Load benchmark: how much of `load_estate` is the JSON parse, on a 100k-resource estate.

Generates (once, cached under /tmp) a synthetic Resource Graph response with 100,000 top-level
resources shaped like real rows (VNets with nested subnets and peerings, route tables with routes,
NSGs with rules, NICs, VMs, private endpoints, AI accounts), then measures, each in a fresh process so
peak RSS is the step's own:
  1. `orjson.loads` of the file with the garbage collector paused (the floor: what parsing costs),
  2. the full `auditor.audit.load_estate` (read + parse + canonicalise + merge + type + index).
and prints file size, both times, their ratio and the peak RSS of each.

    .venv/bin/python tests/bench/load.py [--resources 100000] [--out /tmp/pathaudit-bench-100k.json] [--runs 3]

Not collected by pytest (tests/conftest.py: collect_ignore = ["bench"]).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SUB = "/subscriptions/00000000-0000-0000-0000-00000000b0{:02}/resourceGroups/rg-{:04}/providers"
ROW = {
    "tenantId": "00000000-0000-0000-0000-0000000000aa",
    "managedBy": "",
    "plan": None,
    "identity": None,
    "zones": None,
    "extendedLocation": None,
}


def ipv4(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def row(rid: str, rtype: str, props: dict, i: int, **extra) -> dict:
    parts = rid.split("/")
    return {
        "id": rid,
        "name": parts[-1],
        "type": rtype,
        "kind": extra.pop("kind", ""),
        "location": "westeurope",
        "resourceGroup": parts[4],
        "subscriptionId": parts[2],
        "sku": extra.pop("sku", None),
        "tags": {
            "env": ("prod", "dev", "test")[i % 3],
            "costCenter": f"cc-{i % 97:03}",
            "owner": f"team-{i % 41}",
        },
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": f"{i:08x}-0000-4000-8000-{i:012x}",
            **props,
        },
        **ROW,
        **extra,
    }


def generate(n: int) -> list[dict]:
    """n top-level resources: 10% VNets, 10% route tables, 10% NSGs, 35% NICs, 25% VMs, 5% PEs, 5% accounts."""
    rows: list[dict] = []
    counts = {
        "vnet": n // 10,
        "rt": n // 10,
        "nsg": n // 10,
        "nic": n * 35 // 100,
        "vm": n // 4,
        "pe": n // 20,
    }
    counts["acct"] = n - sum(counts.values())
    base = lambda i: SUB.format(i % 50, i % 2000)  # noqa: E731
    for i in range(counts["vnet"]):
        net = f"{base(i)}/Microsoft.Network"
        vid = f"{net}/virtualNetworks/vnet-{i:06}"
        prefix = i * 1024
        subnets = [
            {
                "id": f"{vid}/subnets/snet-{k}",
                "name": f"snet-{k}",
                "etag": 'W/"e"',
                "type": "Microsoft.Network/virtualNetworks/subnets",
                "properties": {
                    "provisioningState": "Succeeded",
                    "addressPrefix": f"{ipv4(prefix + k * 256)}/24",
                    "routeTable": {"id": f"{net}/routeTables/rt-{i:06}"},
                    "networkSecurityGroup": {"id": f"{net}/networkSecurityGroups/nsg-{i:06}"},
                    "privateEndpointNetworkPolicies": ("Disabled", "Enabled", "RouteTableEnabled")[k % 3],
                    "privateLinkServiceNetworkPolicies": "Enabled",
                    "serviceEndpoints": [],
                    "delegations": [],
                    "ipConfigurations": [
                        {"id": f"{net}/networkInterfaces/nic-{i:06}/ipConfigurations/ipconfig1"}
                    ],
                },
            }
            for k in range(4)
        ]
        peer = f"{base(i + 1)}/Microsoft.Network/virtualNetworks/vnet-{(i + 1) % counts['vnet']:06}"
        peerings = [
            {
                "id": f"{vid}/virtualNetworkPeerings/to-next",
                "name": "to-next",
                "etag": 'W/"e"',
                "properties": {
                    "provisioningState": "Succeeded",
                    "remoteVirtualNetwork": {"id": peer},
                    "remoteAddressSpace": {"addressPrefixes": [f"{ipv4(prefix + 1024)}/22"]},
                    "peeringState": "Connected",
                    "peeringSyncLevel": "FullyInSync",
                    "allowVirtualNetworkAccess": True,
                    "allowForwardedTraffic": True,
                    "allowGatewayTransit": False,
                    "useRemoteGateways": False,
                },
            }
        ]
        rows.append(
            row(
                vid,
                "microsoft.network/virtualnetworks",
                {
                    "addressSpace": {"addressPrefixes": [f"{ipv4(prefix)}/22"]},
                    "enableDdosProtection": False,
                    "subnets": subnets,
                    "virtualNetworkPeerings": peerings,
                },
                i,
            )
        )
    for i in range(counts["rt"]):
        tid = f"{base(i)}/Microsoft.Network/routeTables/rt-{i:06}"
        routes = [
            {
                "id": f"{tid}/routes/r{k}",
                "name": f"r{k}",
                "etag": 'W/"e"',
                "type": "Microsoft.Network/routeTables/routes",
                "properties": {
                    "provisioningState": "Succeeded",
                    "addressPrefix": p,
                    "nextHopType": "VirtualAppliance",
                    "nextHopIpAddress": "10.255.0.4",
                    "hasBgpOverride": False,
                },
            }
            for k, p in enumerate(("0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/16"))
        ]
        rows.append(
            row(
                tid,
                "microsoft.network/routetables",
                {"disableBgpRoutePropagation": i % 2 == 0, "routes": routes, "subnets": []},
                i,
            )
        )
    for i in range(counts["nsg"]):
        gid = f"{base(i)}/Microsoft.Network/networkSecurityGroups/nsg-{i:06}"
        rules = [
            {
                "id": f"{gid}/securityRules/rule-{k}",
                "name": f"rule-{k}",
                "etag": 'W/"e"',
                "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                "properties": {
                    "provisioningState": "Succeeded",
                    "protocol": "Tcp",
                    "sourcePortRange": "*",
                    "destinationPortRange": str(443 + k),
                    "sourceAddressPrefix": "10.0.0.0/8",
                    "destinationAddressPrefix": "*",
                    "access": "Allow",
                    "priority": 100 + k,
                    "direction": "Inbound",
                    "sourcePortRanges": [],
                    "destinationPortRanges": [],
                    "sourceAddressPrefixes": [],
                    "destinationAddressPrefixes": [],
                },
            }
            for k in range(5)
        ]
        rows.append(
            row(gid, "microsoft.network/networksecuritygroups", {"securityRules": rules, "subnets": []}, i)
        )
    for i in range(counts["nic"]):
        nid = f"{base(i)}/Microsoft.Network/networkInterfaces/nic-{i:06}"
        v = i % counts["vnet"]
        rows.append(
            row(
                nid,
                "microsoft.network/networkinterfaces",
                {
                    "enableIPForwarding": i % 50 == 0,
                    "enableAcceleratedNetworking": True,
                    "macAddress": "00-0D-3A-00-00-00",
                    "primary": True,
                    "nicType": "Standard",
                    "auxiliaryMode": "None",
                    "disableTcpStateTracking": False,
                    "dnsSettings": {
                        "dnsServers": [],
                        "appliedDnsServers": [],
                        "internalDomainNameSuffix": "x.internal.cloudapp.net",
                    },
                    "virtualMachine": {"id": f"{base(i)}/Microsoft.Compute/virtualMachines/vm-{i:06}"}
                    if i < counts["vm"]
                    else None,
                    "ipConfigurations": [
                        {
                            "id": f"{nid}/ipConfigurations/ipconfig1",
                            "name": "ipconfig1",
                            "etag": 'W/"e"',
                            "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
                            "properties": {
                                "provisioningState": "Succeeded",
                                "privateIPAddress": ipv4(v * 1024 + 4 + i // counts["vnet"]),
                                "privateIPAllocationMethod": "Dynamic",
                                "privateIPAddressVersion": "IPv4",
                                "primary": True,
                                "subnet": {
                                    "id": f"{base(v)}/Microsoft.Network/virtualNetworks/vnet-{v:06}/subnets/snet-0"
                                },
                            },
                        }
                    ],
                },
                i,
            )
        )
    for i in range(counts["vm"]):
        rows.append(
            row(
                f"{base(i)}/Microsoft.Compute/virtualMachines/vm-{i:06}",
                "microsoft.compute/virtualmachines",
                {
                    "vmId": f"{i:08x}-1111-4000-8000-{i:012x}",
                    "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                    "storageProfile": {
                        "osDisk": {
                            "osType": "Linux",
                            "name": f"vm-{i:06}-os",
                            "createOption": "FromImage",
                            "caching": "ReadWrite",
                            "managedDisk": {"storageAccountType": "Premium_LRS"},
                        },
                        "imageReference": {
                            "publisher": "Canonical",
                            "offer": "ubuntu-24_04-lts",
                            "sku": "server",
                            "version": "latest",
                        },
                        "dataDisks": [],
                    },
                    "osProfile": {
                        "computerName": f"vm-{i:06}",
                        "adminUsername": "azureuser",
                        "linuxConfiguration": {"disablePasswordAuthentication": True},
                    },
                    "networkProfile": {
                        "networkInterfaces": [
                            {
                                "id": f"{base(i)}/Microsoft.Network/networkInterfaces/nic-{i:06}",
                                "properties": {"primary": True, "deleteOption": "Detach"},
                            }
                        ]
                    },
                    "extended": {"instanceView": {"powerState": {"code": "PowerState/running"}}},
                },
                i,
            )
        )
    for i in range(counts["pe"]):
        net = f"{base(i)}/Microsoft.Network"
        pid = f"{net}/privateEndpoints/pe-{i:06}"
        target = f"{base(i)}/Microsoft.CognitiveServices/accounts/ai-{i % counts['acct']:06}"
        v = i % counts["vnet"]
        rows.append(
            row(
                pid,
                "microsoft.network/privateendpoints",
                {
                    "subnet": {
                        "id": f"{base(v)}/Microsoft.Network/virtualNetworks/vnet-{v:06}/subnets/snet-1"
                    },
                    "networkInterfaces": [{"id": f"{net}/networkInterfaces/pe-{i:06}.nic"}],
                    "privateLinkServiceConnections": [
                        {
                            "id": f"{pid}/privateLinkServiceConnections/c",
                            "name": "c",
                            "properties": {
                                "privateLinkServiceId": target,
                                "groupIds": ["account"],
                                "privateLinkServiceConnectionState": {"status": "Approved"},
                            },
                        }
                    ],
                    "manualPrivateLinkServiceConnections": [],
                    "customNetworkInterfaceName": "",
                    "customDnsConfigs": [
                        {"fqdn": f"ai-{i:06}.openai.azure.com", "ipAddresses": [ipv4(v * 1024 + 260)]}
                    ],
                },
                i,
            )
        )
    for i in range(counts["acct"]):
        aid = f"{base(i)}/Microsoft.CognitiveServices/accounts/ai-{i:06}"
        rows.append(
            row(
                aid,
                "microsoft.cognitiveservices/accounts",
                {
                    "customSubDomainName": f"ai-{i:06}",
                    "endpoint": f"https://ai-{i:06}.openai.azure.com/",
                    "disableLocalAuth": i % 10 != 0,
                    "publicNetworkAccess": ("Disabled", "Enabled")[i % 4 == 0],
                    "networkAcls": {"defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
                    "privateEndpointConnections": [],
                    "capabilities": [{"name": "VirtualNetworks"}],
                },
                i,
                kind="OpenAI",
                sku={"name": "S0"},
            )
        )
    return rows


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(step: str, path: Path) -> None:
    """Run in a child process: print one JSON line with the step's time and peak RSS."""
    import gc

    if step == "parse":
        import orjson

        blob = path.read_bytes()
        gc.disable()
        start = time.perf_counter()
        doc = orjson.loads(blob)
        elapsed = time.perf_counter() - start
        gc.enable()
        extra = {"rows": len(doc["data"])}
    else:
        from auditor.audit import load_estate

        start = time.perf_counter()
        estate = load_estate([path])
        elapsed = time.perf_counter() - start
        extra = {
            "records": estate.resource_count,
            "problems": len(estate.problems),
            "nics": len(estate.nics),
            "ip_owners": len(estate.ip_owners),
        }
    print(json.dumps({"seconds": elapsed, "peak_rss_mb": peak_rss_mb(), **extra}))


def run_step(step: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", step, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--resources", type=int, default=100_000)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--measure", nargs=2, metavar=("STEP", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        measure(args.measure[0], Path(args.measure[1]))
        return
    path = args.out or Path(f"/tmp/pathaudit-bench-{args.resources // 1000}k.json")
    if not path.is_file():
        import orjson

        start = time.perf_counter()
        rows = generate(args.resources)
        path.write_bytes(orjson.dumps({"totalRecords": len(rows), "count": len(rows), "data": rows}))
        print(f"generated {path} in {time.perf_counter() - start:.1f} s")
    size = path.stat().st_size
    parse = [run_step("parse", path) for _ in range(args.runs)]
    load = [run_step("load", path) for _ in range(args.runs)]
    p = statistics.median(r["seconds"] for r in parse)
    ld = statistics.median(r["seconds"] for r in load)
    print(
        f"file                  {path} ({size / 1e6:.1f} MB, {parse[0]['rows']} top-level resources, "
        f"{load[0]['records']} records after merging nested children)"
    )
    print(
        f"orjson.loads (gc off) {p:6.2f} s   median of {args.runs}   peak RSS {max(r['peak_rss_mb'] for r in parse):7.0f} MB"
    )
    print(
        f"load_estate           {ld:6.2f} s   median of {args.runs}   peak RSS {max(r['peak_rss_mb'] for r in load):7.0f} MB"
    )
    print(
        f"ratio load/parse      {ld / p:6.2f}x   ({load[0]['nics']} NICs, {load[0]['ip_owners']} owned IPs, "
        f"{load[0]['problems']} problems)"
    )
    print(f"cpu count             {os.cpu_count()}")


if __name__ == "__main__":
    main()
