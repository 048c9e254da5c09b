"""Small estates built by editing a scenario's rows in memory, for the flow-analysis and NET rule tests.

`Rows` copies `fixtures/scenarios/<scenario>/resources.json` and edits it in memory (add a NIC, a load
balancer, a route table, an NSG, retarget a private endpoint ...), then writes it under tmp_path and
reads it back through the real ingestion path. `triples` and `by_rule` read a findings document;
`flow_key` is a flow's comparable identity. Used by test_paths_* and test_rules_net.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from conftest import REPO

from auditor.audit import findings_document, load_estate, run_audit
from auditor.config import Config
from auditor.paths.analysis import FlowAnalysis

SCENARIOS = REPO / "fixtures" / "scenarios"
SUB = "3f2c8a71-5b0e-4d2a-9c7e-1a2b3c4d5e6f"


def ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def scenario_dir(number: str) -> Path:
    [path] = [p for p in SCENARIOS.glob(f"{number}-*") if (p / "resources.json").is_file()]
    return path


def rid(rg: str, rtype: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/{rtype}/{name}"


class Rows:
    """A scenario's Resource Graph rows, edited in memory."""

    def __init__(self, number: str = "S01") -> None:
        self.rows: list[dict[str, Any]] = json.loads(
            (scenario_dir(number) / "resources.json").read_text("utf-8")
        )

    # ---------------------------------------------------------------- lookup

    def find(self, name: str, rtype: str | None = None) -> dict[str, Any]:
        hits = [r for r in self.rows if r["name"] == name and (rtype is None or r["type"] == rtype)]
        assert len(hits) == 1, f"{name}: {len(hits)} rows"
        return hits[0]

    def id(self, name: str) -> str:
        return self.find(name)["id"]

    def subnet(self, vnet: str, name: str) -> dict[str, Any]:
        for s in self.find(vnet, "microsoft.network/virtualnetworks")["properties"]["subnets"]:
            if s["name"] == name:
                return s
        raise KeyError(f"{vnet}/{name}")

    def subnet_id(self, vnet: str, name: str) -> str:
        return self.subnet(vnet, name)["id"]

    def remove(self, name: str) -> None:
        self.rows.remove(self.find(name))

    # ---------------------------------------------------------------- edits

    def add_subnet(self, vnet: str, name: str, prefix: str, **props: Any) -> str:
        row = self.find(vnet, "microsoft.network/virtualnetworks")
        sid = f"{row['id']}/subnets/{name}"
        row["properties"]["subnets"].append(
            {
                "id": sid,
                "name": name,
                "type": "Microsoft.Network/virtualNetworks/subnets",
                "properties": {
                    "addressPrefix": prefix,
                    "delegations": [],
                    "privateEndpointNetworkPolicies": "Disabled",
                    "privateLinkServiceNetworkPolicies": "Enabled",
                    "provisioningState": "Succeeded",
                    **props,
                },
            }
        )
        return sid

    def route_table(
        self, name: str, routes: list[tuple[str, str, str | None]], subnets: list[str], rg: str = "rg-hub"
    ) -> str:
        """A route table (cloned from rt-spoke) attached to `subnets` (ids), replacing their old table."""
        row = copy.deepcopy(self.find("rt-spoke"))
        tid = rid(rg, "Microsoft.Network/routeTables", name)
        row.update(id=tid, name=name, resourceGroup=rg)
        row["properties"]["routes"] = [
            {
                "id": f"{tid}/routes/r{i}",
                "name": f"r{i}",
                "type": "Microsoft.Network/routeTables/routes",
                "properties": {
                    "addressPrefix": prefix,
                    "nextHopType": hop,
                    "hasBgpOverride": False,
                    "provisioningState": "Succeeded",
                    **({"nextHopIpAddress": nh} if nh else {}),
                },
            }
            for i, (prefix, hop, nh) in enumerate(routes)
        ]
        row["properties"]["subnets"] = [{"id": s} for s in subnets]
        self.rows.append(row)
        for sid in subnets:
            self.attach_route_table(sid, tid)
        return tid

    def attach_route_table(self, subnet_id: str, table_id: str | None) -> None:
        vnet, name = subnet_id.split("/virtualNetworks/")[1].split("/subnets/")
        props = self.subnet(vnet, name)["properties"]
        old = (props.get("routeTable") or {}).get("id")
        if old:
            for r in self.rows:
                if r["id"] == old:
                    r["properties"]["subnets"] = [
                        s for s in r["properties"]["subnets"] if s["id"] != subnet_id
                    ]
        if table_id:
            props["routeTable"] = {"id": table_id}
        else:
            props.pop("routeTable", None)

    def set_routes(self, table: str, routes: list[tuple[str, str, str | None]]) -> None:
        row = self.find(table, "microsoft.network/routetables")
        tid = row["id"]
        row["properties"]["routes"] = [
            {
                "id": f"{tid}/routes/r{i}",
                "name": f"r{i}",
                "type": "Microsoft.Network/routeTables/routes",
                "properties": {
                    "addressPrefix": prefix,
                    "nextHopType": hop,
                    "hasBgpOverride": False,
                    "provisioningState": "Succeeded",
                    **({"nextHopIpAddress": nh} if nh else {}),
                },
            }
            for i, (prefix, hop, nh) in enumerate(routes)
        ]

    def nic(
        self,
        name: str,
        subnet_id: str,
        address: str,
        *,
        forwarding: bool = True,
        tags: dict[str, str] | None = None,
        vm: str | None = None,
        rg: str = "rg-hub",
        pools: list[str] | None = None,
    ) -> str:
        """A NIC cloned from nva1-nic (and, with `vm`, a VM cloned from nva1 that owns it)."""
        row = copy.deepcopy(self.find("nva1-nic"))
        nid = rid(rg, "Microsoft.Network/networkInterfaces", name)
        row.update(id=nid, name=name, resourceGroup=rg, tags=dict(tags or {}))
        props = row["properties"]
        props["enableIPForwarding"] = forwarding
        cfg = props["ipConfigurations"][0]
        cfg["id"] = f"{nid}/ipConfigurations/ipconfig1"
        cfg["properties"].update(privateIPAddress=address, subnet={"id": subnet_id})
        if pools:
            cfg["properties"]["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
        props.pop("virtualMachine", None)
        self.rows.append(row)
        if vm:
            vrow = copy.deepcopy(self.find("nva1", "microsoft.compute/virtualmachines"))
            vid = rid(rg, "Microsoft.Compute/virtualMachines", vm)
            vrow.update(id=vid, name=vm, resourceGroup=rg, tags={})
            vrow["properties"]["networkProfile"]["networkInterfaces"][0]["id"] = nid
            props["virtualMachine"] = {"id": vid}
            self.rows.append(vrow)
        return nid

    def internal_lb(self, name: str, subnet_id: str, address: str, rg: str = "rg-hub") -> tuple[str, str]:
        lid = rid(rg, "Microsoft.Network/loadBalancers", name)
        pool = f"{lid}/backendAddressPools/nvas"
        row = copy.deepcopy(self.find("nva1-nic"))
        row.update(
            id=lid,
            name=name,
            type="microsoft.network/loadbalancers",
            resourceGroup=rg,
            tags={},
            sku={"name": "Standard", "tier": "Regional"},
        )
        row["properties"] = {
            "provisioningState": "Succeeded",
            "frontendIPConfigurations": [
                {
                    "id": f"{lid}/frontendIPConfigurations/fe",
                    "name": "fe",
                    "properties": {
                        "privateIPAddress": address,
                        "privateIPAllocationMethod": "Static",
                        "subnet": {"id": subnet_id},
                    },
                }
            ],
            "backendAddressPools": [{"id": pool, "name": "nvas", "properties": {}}],
        }
        self.rows.append(row)
        return lid, pool

    def tag(self, name: str, rtype: str, tags: dict[str, str]) -> None:
        self.find(name, rtype)["tags"] = dict(tags)

    # ---------------------------------------------------------------- run

    def write(self, tmp_path: Path, name: str = "resources.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(self.rows), encoding="utf-8")
        return path

    def estate(self, tmp_path: Path):
        estate = load_estate([self.write(tmp_path)])
        assert estate.problems == [], estate.problems[:3]
        return estate

    def analysis(self, tmp_path: Path, config: Config | None = None) -> FlowAnalysis:
        return FlowAnalysis(self.estate(tmp_path), config or Config())

    def audit(self, tmp_path: Path, config: Config | None = None, complete: bool = True) -> dict[str, Any]:
        doc = findings_document(run_audit([self.write(tmp_path)], config or Config()))
        assert doc["coverage"]["complete"] is complete, doc["coverage"]["skipped"][:3]
        return doc


def triples(doc: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    """(rule, resource name, source name) for every finding: names keep the assertions readable."""
    out = set()
    for f in doc["findings"]:
        sources = (f.get("flow") or {}).get("sources") if f["rule_id"] in ("NET001", "NET005") else None
        for src in sources or [None]:
            out.add(
                (f["rule_id"], f["resource_id"].rsplit("/", 1)[-1], src.rsplit("/", 1)[-1] if src else None)
            )
    return out


def by_rule(doc: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["rule_id"] == rule]


def nsg_row(r: Rows, name: str, rules: list[dict[str, Any]], rg: str = "rg-spoke-ai") -> str:
    row = copy.deepcopy(r.find("rt-spoke"))
    nid = rid(rg, "Microsoft.Network/networkSecurityGroups", name)
    row.update(id=nid, name=name, type="microsoft.network/networksecuritygroups", resourceGroup=rg)
    row["properties"] = {
        "provisioningState": "Succeeded",
        "securityRules": [
            {
                "id": f"{nid}/securityRules/{x['name']}",
                "name": x["name"],
                "properties": {
                    "protocol": "Tcp",
                    "sourcePortRange": "*",
                    "destinationPortRange": "443",
                    "destinationAddressPrefix": "*",
                    **{k: v for k, v in x.items() if k != "name"},
                },
            }
            for x in rules
        ],
    }
    r.rows.append(row)
    return nid


def attach_nsg(r: Rows, vnet: str, subnet: str, nsg_id: str) -> None:
    r.subnet(vnet, subnet)["properties"]["networkSecurityGroup"] = {"id": nsg_id}


def vmss_rows(r: Rows, tags_on: str | None, *, uniform: bool = True) -> tuple[str, str]:
    """Replace nva1 by a scale set `vmss-nva` whose instance owns the NIC at 10.0.2.4."""
    vmss_id = rid("rg-hub", "Microsoft.Compute/virtualMachineScaleSets", "vmss-nva")
    vm = r.find("nva1", "microsoft.compute/virtualmachines")
    vmss = copy.deepcopy(vm)
    vmss.update(
        id=vmss_id,
        name="vmss-nva",
        type="microsoft.compute/virtualmachinescalesets",
        sku={"name": "Standard_D2s_v5", "capacity": 2},
        tags={},
    )
    vmss["properties"] = {
        "orchestrationMode": "Uniform" if uniform else "Flexible",
        "virtualMachineProfile": {
            "networkProfile": {
                "networkInterfaceConfigurations": [
                    {"name": "nic", "properties": {"enableIPForwarding": True, "primary": True}}
                ]
            }
        },
    }
    r.rows.append(vmss)
    nic = r.find("nva1-nic")
    if uniform:
        inst_id = f"{vmss_id}/virtualMachines/0"
        inst = copy.deepcopy(vm)
        inst.update(
            id=inst_id,
            name="vmss-nva_0",
            type="microsoft.compute/virtualmachinescalesets/virtualmachines",
            tags={},
        )
        r.rows.remove(vm)
        r.rows.append(inst)
        new_nic = f"{inst_id}/networkInterfaces/nic"
        nic["id"] = new_nic
        nic["type"] = "microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces"
        nic["properties"]["ipConfigurations"][0]["id"] = f"{new_nic}/ipConfigurations/ipconfig1"
        nic["properties"]["virtualMachine"] = {"id": inst_id}
        inst["properties"]["networkProfile"]["networkInterfaces"][0]["id"] = new_nic
        holder = {"vmss": vmss, "instance": inst, "nic": nic}
    else:
        vm["properties"]["virtualMachineScaleSet"] = {"id": vmss_id}
        holder = {"vmss": vmss, "instance": vm, "nic": nic}
    if tags_on:
        holder[tags_on]["tags"] = {"disableSnatOnPL": "true"}
    return vmss_id, nic["id"]


def flow_key(f) -> str:
    return json.dumps(
        {
            **f.to_dict(),
            "outcome": f.outcome,
            "mitigation": [f.mitigation.how, f.mitigation.detail] if f.mitigation else None,
        },
        sort_keys=True,
    )


def nsg_mix(r: Rows) -> Rows:
    """S13's enforced PE NSG plus an outbound NSG on snet-app and a partial-prefix allow."""
    nsg = nsg_row(
        r,
        "nsg-pe",
        [
            {
                "name": "allow-apim",
                "priority": 100,
                "direction": "Inbound",
                "access": "Allow",
                "sourceAddressPrefix": "10.1.2.0/25",
            },
            {
                "name": "allow-vnet",
                "priority": 200,
                "direction": "Inbound",
                "access": "Allow",
                "sourceAddressPrefix": "VirtualNetwork",
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
    out = nsg_row(
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
    attach_nsg(r, "spoke-app", "snet-app", out)
    return r
