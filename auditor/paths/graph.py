"""Flows as a small directed multigraph: nodes are subnets/contexts, appliances, gateways, endpoints;
edges are forward and return hops labelled with the route that decided them. Used for `trace --format
dot` and by reports that draw paths; walks themselves are computed hop by hop (auditor.paths.analysis),
never by generic graph search, which is too slow per flow pair (stack-notes).

Nothing here needs a graph algorithm (only nodes with attributes and parallel edges, written out as
DOT), so it is plain dicts and lists rather than a graph library."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

APPLIANCE_KINDS = {"nva", "azure-firewall"}


@dataclass
class FlowGraph:
    """Nodes by key with their attributes (a node seen again takes the later attributes), and every
    edge in insertion order (parallel edges kept: one per flow and direction that takes the hop)."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def add_node(self, key: str, **attrs: Any) -> None:
        self.nodes.setdefault(key, {}).update(attrs)

    def add_edge(self, a: str, b: str, **attrs: Any) -> None:
        self.nodes.setdefault(a, {})
        self.nodes.setdefault(b, {})
        self.edges.append((a, b, attrs))


def node_key(hop: dict[str, Any]) -> str:
    return str(hop.get("id") or hop.get("hop"))


def flow_graph(flows: list[dict[str, Any]]) -> FlowGraph:
    g = FlowGraph()
    for flow in flows:
        for direction in ("forward", "return"):
            hops = flow.get(direction) or []
            for hop in hops:
                g.add_node(node_key(hop), label=hop.get("hop"), kind=hop.get("kind"), ip=hop.get("ip"))
            for a, b in pairwise(hops):
                route = a.get("route") or {}
                label = " ".join(str(x) for x in (route.get("prefix"), route.get("next_hop_type")) if x)
                g.add_edge(
                    node_key(a), node_key(b), direction=direction, label=label, verdict=flow.get("verdict")
                )
    return g


def _q(text: object) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def to_dot(g: FlowGraph, title: str = "pathaudit") -> str:
    lines = [f"digraph {_q(title)} {{", "  rankdir=LR;", '  node [shape=ellipse, fontname="Helvetica"];']
    for node in sorted(g.nodes):
        data = g.nodes[node]
        label = f"{data.get('label')}\\n{data.get('kind')}" + (f" {data.get('ip')}" if data.get("ip") else "")
        style = (
            ', shape=box, style=filled, fillcolor="#ffd8a8"' if data.get("kind") in APPLIANCE_KINDS else ""
        )
        if data.get("kind") == "private-endpoint":
            style = ", shape=box, style=rounded"
        lines.append(f"  {_q(node)} [label={_q(label).replace(chr(92) * 2 + 'n', chr(92) + 'n')}{style}];")
    for a, b, data in sorted(g.edges, key=lambda e: (e[2]["direction"], e[0], e[1], e[2]["label"])):
        style = "solid" if data["direction"] == "forward" else "dashed"
        color = "#1c7ed6" if data["direction"] == "forward" else "#e8590c"
        lines.append(f"  {_q(a)} -> {_q(b)} [label={_q(data['label'])}, style={style}, color={_q(color)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
