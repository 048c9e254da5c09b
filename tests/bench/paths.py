"""Flow-analysis benchmark (issue #4): `pathaudit audit FILE --format json` on large hub-and-spoke estates.

The estate (written as one Resource Graph response, `{"count", "data", ...}`), for N subnets:
  - N // 50 VNets: hub 10.0.0.0/16, a second hub 10.1.0.0/16 and N // 50 - 2 spokes (a /20 each from
    10.16.0.0 on); every spoke is peered both ways (Connected, forwarded traffic) with one hub;
  - hub: Azure Firewall `afw1` (policy with snat.privateRanges 255.255.255.255/32, i.e. always SNAT,
    and a network-rule collection group), NVA VMs nva1..nva4 in snet-nva (IP forwarding; nva1..nva3
    NICs tagged disableSnatOnPL=true, nva2 + nva3 behind an internal load balancer; nva4 untagged),
    API Management (internal VNet mode) in snet-apim with rt-apim (10/8 -> afw1), GatewaySubnet with a
    VPN gateway, a local network gateway (192.168.0.0/16, 172.20.0.0/14), their connection and rt-gw
    (the spoke range -> afw1); spokes use its gateway (gateway transit);
  - hub2: Azure Firewall `afw2` with a policy that keeps the default SNAT ranges (NET004); every 25th
    spoke hangs off hub2 and routes through afw2;
  - each spoke, 50 /26 subnets: snet-pe with N // 5 / spokes private endpoints (2k PEs at 10k subnets;
    the first to the spoke's Azure OpenAI account where there is one, the others to storage accounts and
    key vaults not in the estate), `privateEndpointNetworkPolicies` cycling Disabled / RouteTableEnabled
    / Enabled / NetworkSecurityGroupEnabled, an NSG (allow 443 from the APIM subnet, deny the rest) on
    the PE subnets whose policies enforce it and on every 8th other one; 40 subnets on rt-<spoke>-a
    (0.0.0.0/0 and 10.0.0.0/8 -> the spoke's appliance: afw1, nva1 or the ILB in turn), 6 on
    rt-<spoke>-b (10.0.0.0/8 -> the appliance, the spoke's own /20 -> the appliance, or nva4 in every
    10th spoke) with the spoke NSG, 3 without a route table (one with the spoke NSG);
    `--vms-per-subnet` VMs with a NIC in every workload subnet (default 1, rows shaped like real ones);
  - an Azure OpenAI account (keys off, public access off) in the spokes whose PE policies are Enabled
    and in every 20th spoke.

Prints, per size: rows, file size, the time to merely parse the file (`orjson.loads` and the stdlib
`json.loads`, garbage collector paused, as the loader does), the time to load it as pathaudit does
(`auditor.audit.load_estate`: parse, shape detection, typed and indexed estate), the wall time of the
audit in-process (`auditor.audit.run_audit` + `findings_document` + the JSON bytes: what
`pathaudit audit FILE --format json` does, loading included), the audit's ratio to each of the three,
the peak RSS (`resource.getrusage(...).ru_maxrss`) of a fresh process that only parsed, loaded and
audited, and the findings per rule. Targets at 10k subnets: audit <= 10 s, peak RSS <= 2 GB,
audit/load <= 3 (issue #4: "the ratio of audit time to merely loading the same JSON"; the bare parse
ratios are printed too, and the loader alone is ~2.5-3x orjson.loads, tests/bench/load.py).

    .venv/bin/python tests/bench/paths.py [--sizes 1000,10000,50000] [--runs 1] [--vms-per-subnet 1]
    .venv/bin/python tests/bench/paths.py --profile 10000      # cProfile of the audit
    .venv/bin/python tests/bench/paths.py --write 10000 FILE   # just write the estate

Not collected by pytest (tests/conftest.py: collect_ignore = ["bench"]); tests/test_paths_estates.py
audits a small instance so the generator does not rot.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers.routing_rows import RowEstate, guid  # noqa: E402

SUBNETS_PER_VNET = 50
SUBNETS_PER_PE = 5
AFW_IP, NVA1_IP, ILB_IP, NVA4_IP, AFW2_IP = "10.0.1.4", "10.0.2.4", "10.0.2.100", "10.0.2.7", "10.1.1.4"
APIM_PREFIX = "10.0.4.0/24"
POLICIES = ("Disabled", "RouteTableEnabled", "Enabled", "NetworkSecurityGroupEnabled")


def ip(n: int) -> str:
    return f"{(n >> 24) & 255}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def rule(
    name: str, priority: int, direction: str, access: str, src: str, dst: str, port: str
) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "priority": priority,
            "direction": direction,
            "access": access,
            "protocol": "Tcp",
            "sourceAddressPrefix": src,
            "destinationAddressPrefix": dst,
            "sourcePortRange": "*",
            "destinationPortRange": port,
        },
    }


class BenchEstate(RowEstate):
    """RowEstate plus the resource kinds the flow analysis needs (firewall, LB, NSG, APIM, accounts)."""

    def nsg(self, name: str, rules: list[dict[str, Any]], rg: str) -> str:
        rid = self.rid(rg, "Microsoft.Network/networkSecurityGroups", name)
        for r in rules:
            r["id"] = f"{rid}/securityRules/{r['name']}"
        self.others.append(self.row(rid, "microsoft.network/networksecuritygroups", {"securityRules": rules}))
        return rid

    def attach_nsg(self, subnet_id: str, nsg_id: str) -> None:
        vnet = subnet_id.split("/virtualNetworks/")[1].split("/")[0]
        for s in self.vnets[vnet]["properties"]["subnets"]:
            if s["id"] == subnet_id:
                s["properties"]["networkSecurityGroup"] = {"id": nsg_id}

    def vm(self, name: str, nic_id: str, rg: str) -> str:
        rid = self.rid(rg, "Microsoft.Compute/virtualMachines", name)
        self.others.append(
            self.row(
                rid,
                "microsoft.compute/virtualmachines",
                {  # shaped like a real row
                    "vmId": guid(rid),
                    "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                    "storageProfile": {
                        "osDisk": {
                            "osType": "Linux",
                            "name": f"{name}-os",
                            "createOption": "FromImage",
                            "caching": "ReadWrite",
                            "managedDisk": {"storageAccountType": "Premium_LRS"},
                            "deleteOption": "Delete",
                            "diskSizeGB": 30,
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
                        "computerName": name,
                        "adminUsername": "azureuser",
                        "allowExtensionOperations": True,
                        "linuxConfiguration": {
                            "disablePasswordAuthentication": True,
                            "provisionVMAgent": True,
                        },
                    },
                    "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
                    "networkProfile": {
                        "networkInterfaces": [
                            {"id": nic_id, "properties": {"primary": True, "deleteOption": "Detach"}}
                        ]
                    },
                    "extended": {
                        "instanceView": {
                            "powerState": {"code": "PowerState/running", "displayStatus": "VM running"}
                        }
                    },
                    "timeCreated": "2025-09-15T08:40:05.0694221Z",
                },
            )
        )
        return rid

    def firewall(self, name: str, subnet_id: str, address: str, policy_id: str, rg: str) -> str:
        rid = self.rid(rg, "Microsoft.Network/azureFirewalls", name)
        self.others.append(
            self.row(
                rid,
                "microsoft.network/azurefirewalls",
                {
                    "sku": {"name": "AZFW_VNet", "tier": "Standard"},
                    "additionalProperties": {},
                    "firewallPolicy": {"id": policy_id},
                    "ipConfigurations": [
                        {
                            "id": f"{rid}/azureFirewallIpConfigurations/ipconfig1",
                            "name": "ipconfig1",
                            "properties": {"privateIPAddress": address, "subnet": {"id": subnet_id}},
                        }
                    ],
                },
            )
        )
        return rid

    def firewall_policy(self, name: str, rg: str, private_ranges: list[str] | None) -> str:
        rid = self.rid(rg, "Microsoft.Network/firewallPolicies", name)
        rcg = f"{rid}/ruleCollectionGroups/rcg-spokes"
        props: dict[str, Any] = {"sku": {"tier": "Standard"}, "ruleCollectionGroups": [{"id": rcg}]}
        if private_ranges is not None:
            props["snat"] = {"privateRanges": private_ranges}
        self.others.append(self.row(rid, "microsoft.network/firewallpolicies", props))
        self.others.append(
            self.row(
                rcg,
                "microsoft.network/firewallpolicies/rulecollectiongroups",
                {
                    "priority": 200,
                    "ruleCollections": [
                        {
                            "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
                            "name": "spokes-to-pe",
                            "priority": 100,
                            "action": {"type": "Allow"},
                            "rules": [
                                {
                                    "ruleType": "NetworkRule",
                                    "name": "https",
                                    "ipProtocols": ["TCP"],
                                    "sourceAddresses": ["10.0.0.0/8"],
                                    "destinationAddresses": ["10.0.0.0/8"],
                                    "destinationPorts": ["443"],
                                }
                            ],
                        }
                    ],
                },
            )
        )
        return rid

    def internal_lb(self, name: str, subnet_id: str, address: str, rg: str) -> tuple[str, str]:
        rid = self.rid(rg, "Microsoft.Network/loadBalancers", name)
        pool = f"{rid}/backendAddressPools/nvas"
        row = self.row(
            rid,
            "microsoft.network/loadbalancers",
            {
                "frontendIPConfigurations": [
                    {
                        "id": f"{rid}/frontendIPConfigurations/fe",
                        "name": "fe",
                        "properties": {
                            "privateIPAddress": address,
                            "privateIPAllocationMethod": "Static",
                            "subnet": {"id": subnet_id},
                        },
                    }
                ],
                "backendAddressPools": [{"id": pool, "name": "nvas", "properties": {}}],
            },
        )
        row["sku"] = {"name": "Standard", "tier": "Regional"}
        self.others.append(row)
        return rid, pool

    def apim(self, name: str, subnet_id: str, address: str, rg: str) -> str:
        rid = self.rid(rg, "Microsoft.ApiManagement/service", name)
        row = self.row(
            rid,
            "microsoft.apimanagement/service",
            {
                "virtualNetworkType": "Internal",
                "virtualNetworkConfiguration": {"subnetResourceId": subnet_id},
                "privateIPAddresses": [address],
                "publicIPAddresses": ["198.51.100.20"],
            },
        )
        row["sku"] = {"name": "Premium", "capacity": 1}
        self.others.append(row)
        return rid

    def ai_account(self, name: str, pe_ids: list[str], rg: str) -> str:
        rid = self.rid(rg, "Microsoft.CognitiveServices/accounts", name)
        row = self.row(
            rid,
            "microsoft.cognitiveservices/accounts",
            {
                "disableLocalAuth": True,
                "publicNetworkAccess": "Disabled",
                "networkAcls": {"defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
                "privateEndpointConnections": [
                    {
                        "id": f"{rid}/privateEndpointConnections/{pe.rsplit('/', 1)[-1]}",
                        "properties": {
                            "privateEndpoint": {"id": pe},
                            "privateLinkServiceConnectionState": {"status": "Approved"},
                        },
                    }
                    for pe in pe_ids
                ],
            },
        )
        row["kind"] = "OpenAI"
        row["sku"] = {"name": "S0"}
        self.others.append(row)
        return rid


def estate(subnets: int, vms_per_subnet: int = 1) -> BenchEstate:
    b = BenchEstate()
    vnets = max(3, subnets // SUBNETS_PER_VNET)
    spokes = vnets - 2
    pes_per_spoke = max(1, round(subnets / SUBNETS_PER_PE / spokes))
    hub_rg = "rg-hub"
    b.vnet("hub", "10.0.0.0/16", rg=hub_rg)
    fw_subnet = b.subnet("hub", "AzureFirewallSubnet", "10.0.1.0/26")
    nva_subnet = b.subnet("hub", "snet-nva", "10.0.2.0/24")
    apim_subnet = b.subnet(
        "hub",
        "snet-apim",
        APIM_PREFIX,
        route_table=b.route_table("rt-apim", [("10.0.0.0/8", "VirtualAppliance", AFW_IP)], rg=hub_rg),
    )
    b.firewall("afw1", fw_subnet, AFW_IP, b.firewall_policy("afwp1", hub_rg, ["255.255.255.255/32"]), hub_rg)
    _, pool = b.internal_lb("ilb-nva", nva_subnet, ILB_IP, hub_rg)
    for k, address in ((1, NVA1_IP), (2, "10.0.2.5"), (3, "10.0.2.6"), (4, NVA4_IP)):
        nic = b.nic(f"nva{k}-nic", nva_subnet, address, forwarding=True, rg=hub_rg)
        row = b.others[-1]
        b.vm(f"nva{k}", nic, hub_rg)
        if k in (2, 3):
            row["properties"]["ipConfigurations"][0]["properties"]["loadBalancerBackendAddressPools"] = [
                {"id": pool}
            ]
        if k != 4:
            row["tags"] = {"disableSnatOnPL": "true"}
    b.apim("apim-gw", apim_subnet, "10.0.4.4", hub_rg)
    spoke_base = (10 << 24) | (16 << 16)
    b.subnet(
        "hub",
        "GatewaySubnet",
        "10.0.255.0/27",
        route_table=b.route_table("rt-gw", [(f"{ip(spoke_base)}/12", "VirtualAppliance", AFW_IP)], rg=hub_rg),
    )
    gw = b.vpn_gateway("vpngw-hub", "hub", rg=hub_rg)
    lgw = b.local_gateway("lgw-onprem", "192.168.0.0/16", "172.20.0.0/14", rg=hub_rg)
    b.connection("cn-onprem", gw, lgw, rg=hub_rg)
    # a second, separate hub whose firewall keeps the default SNAT ranges (NET004) for a few spokes
    b.vnet("hub2", "10.1.0.0/16", rg="rg-hub2")
    afw2_subnet = b.subnet("hub2", "AzureFirewallSubnet", "10.1.1.0/26")
    b.firewall("afw2", afw2_subnet, AFW2_IP, b.firewall_policy("afwp2", "rg-hub2", None), "rg-hub2")
    assert spoke_base + spokes * 4096 <= (11 << 24), "too many spokes for 10.0.0.0/8"

    for i in range(spokes):
        net = spoke_base + i * 4096
        name, rg = f"spoke-{i:04}", f"rg-spoke-{i:04}"
        second_hub = i % 25 == 5
        hop = AFW2_IP if second_hub else (AFW_IP, NVA1_IP, ILB_IP)[i % 3]
        own = NVA4_IP if i % 10 == 3 else hop  # intra-VNet inspection; nva4 is untagged
        b.vnet(name, f"{ip(net)}/20", rg=rg)
        rt_a = b.route_table(
            f"rt-{name}-a",
            [("0.0.0.0/0", "VirtualAppliance", hop), ("10.0.0.0/8", "VirtualAppliance", hop)],
            rg=rg,
        )
        rt_b = b.route_table(
            f"rt-{name}-b",
            [("10.0.0.0/8", "VirtualAppliance", hop), (f"{ip(net)}/20", "VirtualAppliance", own)],
            rg=rg,
        )
        nsg = b.nsg(f"nsg-{name}", [rule("deny-rdp-out", 200, "Outbound", "Deny", "*", "*", "3389")], rg)
        policy = POLICIES[i % len(POLICIES)]
        pe_subnet = b.subnet(name, "snet-pe", f"{ip(net)}/26", pe_policies=policy)
        if policy in ("Enabled", "NetworkSecurityGroupEnabled") or i % 8 == 0:
            b.attach_nsg(
                pe_subnet,
                b.nsg(
                    f"nsg-{name}-pe",
                    [
                        rule("allow-apim", 100, "Inbound", "Allow", APIM_PREFIX, "*", "443"),
                        rule("deny-all", 4000, "Inbound", "Deny", "*", "*", "*"),
                    ],
                    rg,
                ),
            )
        for k in range(1, SUBNETS_PER_VNET):
            prefix = f"{ip(net + k * 64)}/26"
            if k <= 40:
                sid = b.subnet(name, f"snet-a{k:02}", prefix, route_table=rt_a)
            elif k <= 46:
                sid = b.subnet(name, f"snet-b{k:02}", prefix, route_table=rt_b)
                b.attach_nsg(sid, nsg)
            else:
                sid = b.subnet(name, f"snet-c{k:02}", prefix)
                if k == 47:
                    b.attach_nsg(sid, nsg)
            for v in range(vms_per_subnet):
                vm_name = f"vm-{i:04}-{k:02}-{v}"
                b.vm(vm_name, b.nic(f"{vm_name}-nic", sid, ip(net + k * 64 + 4 + v), rg=rg), rg)
        pes = []
        for p in range(pes_per_spoke):
            kind = (
                "Microsoft.CognitiveServices/accounts"
                if p == 0
                else "Microsoft.Storage/storageAccounts"
                if p % 2
                else "Microsoft.KeyVault/vaults"
            )
            target = b.rid(rg, kind, f"t{i:04}x{p}")
            pes.append(b.private_endpoint(f"pe-{i:04}-{p}", pe_subnet, ip(net + 4 + p), target=target, rg=rg))
        if policy == "Enabled" or i % 20 == 0:
            b.ai_account(f"t{i:04}x0", pes[:1], rg)
        if second_hub:
            b.peer("hub2", name)
        else:
            b.peer("hub", name, a_transit=True, b_uses_remote=True)
    return b


SPOKES_PER_HUB = 100


def worst_case(subnets: int, pes_per_spoke: int = 10) -> BenchEstate:
    """Issue #12's worst case: spokes of 50 subnets with `pes_per_spoke` private endpoints each, in hubs of
    SPOKES_PER_HUB spokes; every spoke's route table sends private traffic (10.0.0.0/8, 0.0.0.0/0) through
    its hub's one untagged NVA, so every spoke is asymmetric to every endpoint of the other spokes of its
    hub: at 10k subnets (2 hubs, 200 spokes, 2k endpoints) 198,000 (context, endpoint) pairs, the
    estate that gave 198,000 findings before findings@2; at 50k (10 hubs) 990,000."""
    b = BenchEstate()
    spokes = max(2, subnets // SUBNETS_PER_VNET)
    hubs = (spokes + SPOKES_PER_HUB - 1) // SPOKES_PER_HUB
    assert hubs <= 16, "hubs take 10.0.0.0/16 to 10.15.0.0/16"
    spoke_base = (10 << 24) | (16 << 16)
    assert spoke_base + spokes * 4096 <= (11 << 24), "too many spokes for 10.0.0.0/8"
    nva_ips = []
    for h in range(hubs):
        hub, hub_rg = f"hub{h:02}", f"rg-hub{h:02}"
        b.vnet(hub, f"10.{h}.0.0/16", rg=hub_rg)
        nva_subnet = b.subnet(hub, "snet-nva", f"10.{h}.2.0/24")
        nva_ips.append(f"10.{h}.2.4")
        b.vm(
            f"nva-{hub}", b.nic(f"nva-{hub}-nic", nva_subnet, nva_ips[-1], forwarding=True, rg=hub_rg), hub_rg
        )
        if h == 0:
            b.apim("apim-gw", b.subnet(hub, "snet-apim", APIM_PREFIX), "10.0.4.4", hub_rg)
    for i in range(spokes):
        net = spoke_base + i * 4096
        name, rg = f"spoke-{i:04}", f"rg-spoke-{i:04}"
        h = i // SPOKES_PER_HUB
        b.vnet(name, f"{ip(net)}/20", rg=rg)
        rt = b.route_table(
            f"rt-{name}",
            [("0.0.0.0/0", "VirtualAppliance", nva_ips[h]), ("10.0.0.0/8", "VirtualAppliance", nva_ips[h])],
            rg=rg,
        )
        pe_subnet = b.subnet(name, "snet-pe", f"{ip(net)}/26", pe_policies="RouteTableEnabled")
        for k in range(1, SUBNETS_PER_VNET):
            sid = b.subnet(name, f"snet-{k:02}", f"{ip(net + k * 64)}/26", route_table=rt)
            b.vm(f"vm-{i:04}-{k:02}", b.nic(f"vm-{i:04}-{k:02}-nic", sid, ip(net + k * 64 + 4), rg=rg), rg)
        pes = []
        for p in range(pes_per_spoke):
            kind = "Microsoft.CognitiveServices/accounts" if p == 0 else "Microsoft.Storage/storageAccounts"
            target = b.rid(rg, kind, f"t{i:04}x{p}")
            pes.append(b.private_endpoint(f"pe-{i:04}-{p}", pe_subnet, ip(net + 4 + p), target=target, rg=rg))
        b.ai_account(f"t{i:04}x0", pes[:1], rg)
        b.peer(f"hub{h:02}", name)
    return b


def write_estate(subnets: int, path: Path, vms_per_subnet: int = 1, worst: bool = False) -> int:
    rows = (worst_case(subnets) if worst else estate(subnets, vms_per_subnet)).rows()
    path.write_text(
        json.dumps({"count": len(rows), "data": rows, "skip_token": None, "totalRecords": len(rows)}),
        encoding="utf-8",
    )
    return len(rows)


def measure(path: Path, runs: int) -> dict[str, Any]:
    """Run in a fresh interpreter: parse time, audit time, peak RSS (ru_maxrss is per process)."""
    import orjson

    from auditor.audit import findings_document, load_estate, run_audit
    from auditor.config import Config
    from auditor.report.json_doc import dumps

    data = path.read_bytes()
    parse: list[float] = []
    stdlib: list[float] = []
    for _ in range(max(runs, 3)):
        for loads, times in ((orjson.loads, parse), (json.loads, stdlib)):
            gc.collect()
            gc.disable()
            t0 = time.perf_counter()
            loads(data)
            times.append(time.perf_counter() - t0)
            gc.enable()
    del data
    load: list[float] = []
    for _ in range(max(runs, 2)):
        gc.collect()
        t0 = time.perf_counter()
        estate = load_estate([path])
        load.append(time.perf_counter() - t0)
        del estate
    gc.collect()
    audits = []
    doc: dict[str, Any] = {}
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        result = run_audit([path], Config())
        doc = findings_document(result)
        out = dumps(doc)
        audits.append(time.perf_counter() - t0)
        del result
    by_rule: dict[str, int] = {}
    for f in doc["findings"]:
        by_rule[f["rule_id"]] = by_rule.get(f["rule_id"], 0) + 1
    return {
        "parse": min(parse),
        "json": min(stdlib),
        "load": min(load),
        "audit": min(audits),
        "findings": len(doc["findings"]),
        "by_rule": by_rule,
        "bytes": len(out),
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "complete": doc["coverage"]["complete"],
    }


def run_child(path: Path, runs: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", str(path), "--runs", str(runs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measuring {path} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def profile(subnets: int) -> None:
    from auditor.audit import findings_document, run_audit
    from auditor.config import Config
    from auditor.report.json_doc import dumps

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "estate.json"
        write_estate(subnets, path, 1)
        prof = cProfile.Profile()
        prof.enable()
        dumps(findings_document(run_audit([path], Config())))
        prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,50000", help="subnet counts, comma-separated")
    ap.add_argument("--runs", type=int, default=1, help="audits per size (the best is printed)")
    ap.add_argument("--vms-per-subnet", type=int, default=1, help="workload VMs (with a NIC) per subnet")
    ap.add_argument("--profile", type=int, metavar="SUBNETS")
    ap.add_argument("--write", nargs=2, metavar=("SUBNETS", "FILE"))
    ap.add_argument("--measure", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.runs)))
        return 0
    if args.profile:
        profile(args.profile)
        return 0
    if args.write:
        rows = write_estate(int(args.write[0]), Path(args.write[1]), args.vms_per_subnet)
        print(f"wrote {rows} rows to {args.write[1]}")
        return 0
    print(
        f"paths benchmark (Python {sys.version.split()[0]}); targets at 10k subnets: audit <= 10 s, "
        "peak RSS <= 2 GB, audit/load <= 3"
    )
    print(
        "  orjson, json: orjson.loads / json.loads of the file; load: auditor.audit.load_estate (parse, shape "
        "detection, typed and indexed estate); audit: run_audit + findings document + JSON bytes"
    )
    print(
        f"{'subnets':>8} {'VNets':>6} {'PEs':>6} {'rows':>7} {'file MB':>8} {'orjson s':>8} {'json s':>7} "
        f"{'load s':>7} {'audit s':>8} {'/load':>6} {'/json':>6} {'/orjson':>7} {'RSS MB':>7} {'findings':>9}  by rule"
    )
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "estate.json"
            rows = write_estate(size, path, args.vms_per_subnet)
            mb = path.stat().st_size / 1e6
            r = run_child(path, args.runs)
        vnets = max(3, size // SUBNETS_PER_VNET)
        pes = max(1, round(size / SUBNETS_PER_PE / (vnets - 2))) * (vnets - 2)
        rules = " ".join(f"{k}:{v}" for k, v in sorted(r["by_rule"].items()))
        print(
            f"{size:>8} {vnets:>6} {pes:>6} {rows:>7} {mb:>8.1f} {r['parse']:>8.3f} {r['json']:>7.3f} "
            f"{r['load']:>7.2f} {r['audit']:>8.2f} {r['audit'] / r['load']:>6.1f} {r['audit'] / r['json']:>6.1f} "
            f"{r['audit'] / r['parse']:>7.1f} {r['rss'] / 2**20:>7.0f} {r['findings']:>9}  {rules}",
            flush=True,
        )
        if not r["complete"]:
            print("  warning: coverage incomplete (the generated estate has problems)")
        results[size] = r
    ten = next((r for s, r in results.items() if 9000 <= s <= 11000), None)
    if ten is None:
        return 0
    checks = [
        ("audit <= 10 s", ten["audit"] <= 10, f"{ten['audit']:.2f} s"),
        ("peak RSS <= 2 GB", ten["rss"] <= 2 * 2**30, f"{ten['rss'] / 2**20:.0f} MB"),
        ("audit/load <= 3", ten["audit"] / ten["load"] <= 3, f"{ten['audit'] / ten['load']:.1f}"),
    ]
    for label, ok, value in checks:
        print(f"target {label} (10k subnets): {'met' if ok else 'MISSED'} ({value})")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
