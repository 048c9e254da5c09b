"""Compare the modelled effective routes with an effective route table exported from Azure.

This is how a user learns to trust the model and how pathaudit reports where model and Azure
disagree. Routes are matched by (address prefix, source); differences are missing (Azure has it,
the model does not), extra (the model has it, Azure does not), or a different next hop or state.
Known gaps are labelled, not hidden: newer Default `None` routes (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview) and service
endpoint prefixes, which the model represents by the service tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.estate.enums import canon_next_hop
from auditor.routing.table import RouteTableView

SOURCES = {
    "default": "Default",
    "user": "User",
    "virtualnetworkgateway": "VirtualNetworkGateway",
    "unknown": "Unknown",
}


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # missing | extra | next-hop | state | note
    prefix: str
    source: str
    azure: str | None
    model: str | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "prefix": self.prefix,
            "source": self.source,
            "azure": self.azure,
            "model": self.model,
            "note": self.note,
        }


def _norm_source(value: Any) -> str:
    return SOURCES.get(str(value or "").lower(), str(value or ""))


def _hop(next_hop_type: str, ips: list[str]) -> str:
    return next_hop_type + (" " + ",".join(ips) if ips else "")


def azure_rows(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        prefixes = item.get("addressPrefix") or []
        if isinstance(prefixes, str):
            prefixes = [prefixes]
        ips = item.get("nextHopIpAddress") or []
        if isinstance(ips, str):
            ips = [ips]
        for prefix in prefixes:
            rows[(str(prefix), _norm_source(item.get("source")))] = {
                "state": str(item.get("state") or ""),
                "next_hop_type": canon_next_hop(item.get("nextHopType")),
                "ips": [str(i) for i in ips],
            }
    return rows


def compare(view: RouteTableView, items: list[dict[str, Any]]) -> list[Difference]:
    azure = azure_rows(items)
    model = {}
    for r in view.routes:
        model[(r.prefix_text if r.prefix is None else str(r.prefix), r.source)] = r
    diffs: list[Difference] = []
    azure_se = sorted(k[0] for k, v in azure.items() if v["next_hop_type"] == "VirtualNetworkServiceEndpoint")
    model_se = sorted(k[0] for k, r in model.items() if r.next_hop_type == "VirtualNetworkServiceEndpoint")
    if azure_se or model_se:
        diffs.append(
            Difference(
                "note",
                ", ".join(model_se) or "-",
                "Default",
                f"{len(azure_se)} prefixes",
                ", ".join(model_se) or "none",
                "service endpoint routes: the model holds the service tag, Azure lists its prefixes",
            )
        )
    for key in sorted(set(azure) | set(model)):
        prefix, source = key
        a, m = azure.get(key), model.get(key)
        if a is not None and a["next_hop_type"] == "VirtualNetworkServiceEndpoint":
            continue
        if m is not None and m.next_hop_type == "VirtualNetworkServiceEndpoint":
            continue
        if m is None:
            assert a is not None  # the key is Azure's or the model's
            note = ""
            if source == "Default" and a["next_hop_type"] == "None":
                note = "a newer Default route the model does not know (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)"
            diffs.append(
                Difference(
                    "missing",
                    prefix,
                    source,
                    f"{_hop(a['next_hop_type'], a['ips'])} {a['state']}",
                    None,
                    note,
                )
            )
            continue
        model_hop = _hop(m.next_hop_type, [m.next_hop_ip_text] if m.next_hop_ip_text else [])
        if a is None:
            if m.kind == "reserved" and m.state == "Invalid":
                continue  # removed by a 0.0.0.0/0 override: Azure lists it as Invalid or not at all
            diffs.append(Difference("extra", prefix, source, None, f"{model_hop} {m.state}"))
            continue
        same_type = a["next_hop_type"] == m.next_hop_type
        # gateway next-hop IPs are instance addresses ARM does not export
        ips_matter = m.next_hop_type not in ("VirtualNetworkGateway",)
        model_ips = [m.next_hop_ip_text] if m.next_hop_ip_text else []
        if not same_type or (ips_matter and sorted(a["ips"]) != sorted(model_ips)):
            diffs.append(
                Difference("next-hop", prefix, source, _hop(a["next_hop_type"], a["ips"]), model_hop)
            )
        if a["state"].lower() != m.state.lower():
            diffs.append(Difference("state", prefix, source, a["state"], m.state, m.reason or ""))
    return diffs
