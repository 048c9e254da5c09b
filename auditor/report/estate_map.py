"""The estate map of the HTML report: one inline SVG of the network with the broken flows drawn on it.

What it shows, from the audited estate (`auditor.estate.model.Estate`):
- hubs: VNets that hold an appliance (Azure Firewall, a NIC with IP forwarding, a load balancer a flow
  goes through) or a VPN/ExpressRoute gateway, or that are peered with three or more VNets, and
  Virtual WAN hubs; each hub box lists its gateways and appliances (and its own route contexts and
  private endpoints when it has any);
- spokes: every other VNet, under the hub it is peered with (or connected to, for a Virtual WAN hub;
  the first hub by name when several), with the private endpoints it holds and the route contexts
  (route tables, subnets) of the broken flows that start in it; VNets peered with no hub form a group
  of their own;
- peerings (dashed red when not Connected), Virtual WAN hub connections, on-premises behind the
  gateways;
- the broken flows of the findings (`flow` of findings@2): source -> appliance -> destination, or
  source -> destination for flows that bypass every appliance, coloured by severity; every node that a
  finding concerns links to that finding.

Readable at hundreds of VNets: a hub with more than SPOKES_SHOWN spokes shows individually only the
spokes that findings concern (most concerned first, at most SPOKES_SHOWN) and one "+N other spokes"
node for the rest; a box lists at most CHIPS_SHOWN private endpoints, appliances or route contexts
(those that findings concern first) and a "+N other ..." line that carries the flows of the others.
The map's width is fixed (the columns: flow sources, hubs, spokes), its height grows with what is
shown, never with the estate.

Without the estate (a saved findings document re-rendered), the map is drawn from the findings' flows
only: sources, appliances and destinations in three columns, and the report says so.

Deterministic: everything is sorted (by name, then lower-case id) and laid out on a fixed grid; no
randomness, no clock, no dict order that is not sorted first. Every label and tooltip goes through
`h` (names are attacker-controlled); class names are this module's own words; coordinates are ints;
the only links are in-page anchors of findings (`#f-...`). No script, no external reference, no id in
the SVG (the CSS-only filter above it is three checkboxes and sibling selectors).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.findings import SEVERITIES
from auditor.ids import key
from auditor.report.text import h, short_name, text

SPOKES_SHOWN = 12  # spokes of one hub drawn individually (all of them when there are no more)
CHIPS_SHOWN = 4  # PEs / appliances / route contexts listed in one box
SAVED_SHOWN = 16  # per column, for a saved document's flows-only map
TIP_NAMES = 30  # names listed in the tooltip of a "+N other" node
FLOWS_LISTED = 50  # rows of the flow table under the map

ONPREM = "on-premises"
# columns: x and width
LEFT_X, LEFT_W = 16, 220
MID_X, MID_W = 356, 250
RIGHT_X, RIGHT_W = 726, 240
WIDTH = RIGHT_X + RIGHT_W + 16
HEADER_H, CHIP_H, CHIP_GAP, BOX_PAD, BOX_GAP = 38, 20, 4, 8, 14
BAND_GAP, BAND_CAPTION = 26, 20
TOP = 34  # below the column headings


@dataclass
class Node:
    """A box (VNet, hub, on-premises, "+N other" group) or a chip inside a box (PE, appliance, route
    context, gateway, "+N other" line)."""

    key: str
    kind: str
    label: str
    sub: str = ""
    tip: str = ""
    chips: list[Node] = field(default_factory=list)
    findings: list[int] = field(default_factory=list)  # finding numbers (1-based, document order)
    quiet: bool = False  # no finding concerns it (the map's filter can hide it)
    x: int = 0
    y: int = 0
    w: int = 0
    h: int = 0

    @property
    def cx(self) -> int:
        return self.x + self.w // 2


@dataclass
class Band:
    caption: str
    caption_y: int = 0
    left: list[Node] = field(default_factory=list)
    middle: list[Node] = field(default_factory=list)
    right: list[Node] = field(default_factory=list)


@dataclass
class Edge:
    a: Node
    b: Node
    kind: str  # peer | vwan | gw | flow | bypass
    tip: str
    classes: tuple[str, ...] = ()
    findings: tuple[int, ...] = ()  # a flow edge's finding numbers


@dataclass
class MapModel:
    bands: list[Band]
    edges: list[Edge]
    headings: tuple[str, str, str]
    notes: list[str]
    flows: list[tuple[int, dict[str, Any]]]  # (finding number, finding) with a flow
    topology: bool = True  # drawn from the estate (False: from a saved document's flows only)


# ----------------------------------------------------------------------------------------- findings


def _flow_findings(document: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for i, f in enumerate(document.get("findings") or [], 1):
        if isinstance(f, dict) and isinstance(f.get("flow"), dict):
            out.append((i, f))
    return out


def _strings(values: Any) -> list[str]:
    return [text(v) for v in values or [] if isinstance(v, str) and v] if isinstance(values, list) else []


def _destinations(flow: dict[str, Any]) -> list[str]:
    dests = flow.get("destinations")
    if not isinstance(dests, list):
        return []
    return [text(d.get("id")) for d in dests if isinstance(d, dict) and d.get("id")]


def _rank(findings: list[int], severities: dict[int, str]) -> int:
    """Most severe finding's rank (0 = high) for colouring; len(SEVERITIES) when none."""
    ranks = [SEVERITIES.index(s) for s in (severities.get(i, "") for i in findings) if s in SEVERITIES]
    return min(ranks, default=len(SEVERITIES))


def _sev_class(findings: list[int], severities: dict[int, str]) -> str:
    r = _rank(findings, severities)
    return f"sev-{SEVERITIES[r]}" if r < len(SEVERITIES) else "sev-info"


def _numbers(findings: Iterable[int]) -> str:
    nums = sorted(set(findings))
    shown = ", ".join(str(n) for n in nums[:12])
    return shown + (f" and {len(nums) - 12} more" if len(nums) > 12 else "")


# ---------------------------------------------------------------------------------- the estate side


def _key(value: Any) -> str:
    """The comparison key (auditor.ids.key) of an id that may be None or not a string."""
    return key(text(value))


def _vnet_part(rid: str) -> str | None:
    """The VNet key a child resource id sits under (`.../virtualNetworks/X/...`)."""
    low = key(rid)
    marker = "/providers/microsoft.network/virtualnetworks/"
    at = low.find(marker)
    if at < 0:
        return None
    rest = low[at + len(marker) :]
    name = rest.split("/", 1)[0]
    return low[: at + len(marker)] + name if name else None


class _Places:
    """Which container (the key of a VNet or of a virtual hub) holds a resource."""

    def __init__(self, estate: Any) -> None:
        self.estate = estate
        e = estate
        self.vnet_of_subnet = {k: key(v.vnet_id) for k, v in e.subnets.items()}
        self.nic_vnet: dict[str, str] = {}
        for k, nic in e.nics.items():
            for c in sorted(nic.ip_configs, key=lambda c: (not c.primary, text(c.name))):
                if c.subnet_id:
                    self.nic_vnet[k] = self.subnet(c.subnet_id) or ""
                    break

    def subnet(self, sid: str | None) -> str | None:
        if not sid:
            return None
        low = key(sid)
        return self.vnet_of_subnet.get(low) or _vnet_part(low)

    def of(self, rid: str) -> list[str]:
        """Containers of `rid` (sorted; a route table can serve subnets of several VNets)."""
        e = self.estate
        low = key(rid)
        if low in e.vnets or low in e.virtual_hubs:
            return [low]
        found: set[str] = set()
        if low in e.route_tables:
            found.update(v for v in (self.subnet(s) for s in e.route_tables[low].subnet_ids) if v)
        elif low in e.nsgs:
            found.update(v for v in (self.subnet(s) for s in e.nsgs[low].subnet_ids) if v)
        elif low in e.private_endpoints:
            found.add(self.subnet(e.private_endpoints[low].subnet_id) or "")
        elif low in e.nics:
            found.add(self.nic_vnet.get(low, ""))
        elif low in e.firewalls:
            fw = e.firewalls[low]
            found.add(key(fw.hub_id) if fw.hub_id else self.subnet(fw.subnet_id) or "")
        elif low in e.hub_nvas:
            found.add(_key(e.hub_nvas[low].hub_id))
        elif low in e.hub_gateways:
            found.add(_key(e.hub_gateways[low].hub_id))
        elif low in e.vnet_gateways:
            gw = e.vnet_gateways[low]
            found.add(_key(gw.vnet_id) or self.subnet(gw.subnet_id) or "")
        elif low in e.load_balancers:
            found.update(v for v in (self.subnet(f.subnet_id) for f in e.load_balancers[low].frontends) if v)
        elif low in e.apims:
            found.add(self.subnet(e.apims[low].subnet_id) or "")
        elif low in e.scale_sets:
            for inst in e.scale_sets[low].instance_ids:
                si = e.scale_set_instances.get(key(inst))
                for nic in si.nic_ids if si else []:
                    found.add(self.nic_vnet.get(key(nic), ""))
        else:
            found.add(self.subnet(low) or "")
        return sorted(v for v in found if v and (v in e.vnets or v in e.virtual_hubs))


_APPLIANCE_KIND = {
    "fw": "Azure Firewall",
    "nva": "NVA (IP forwarding)",
    "hubnva": "hub NVA",
    "lb": "load balancer",
}


def _chip(key: str, kind: str, label: str, tip: str) -> Node:
    return Node(key=key, kind=kind, label=label, tip=tip)


def _more(key: str, hidden: list[Node], noun: str) -> Node:
    names = [n.label for n in hidden]
    tip = (
        f"{len(hidden)} other {noun}: "
        + ", ".join(names[:TIP_NAMES])
        + (" ..." if len(names) > TIP_NAMES else "")
    )
    node = _chip(key, "more", f"+{len(hidden)} other {noun}", tip)
    return node


def _select(items: list[Node], shown: int, hits: dict[str, list[int]]) -> tuple[list[Node], list[Node]]:
    """All items when they fit in `shown`, else the most concerned (at most shown - 1) and the rest."""
    if len(items) <= shown:
        return items, []
    ranked = sorted(items, key=lambda n: (-len(hits.get(n.key, [])), n.label.lower(), n.key))
    keep = {n.key for n in ranked[: shown - 1] if hits.get(n.key)}
    return [n for n in items if n.key in keep], [n for n in items if n.key not in keep]


def _estate_model(document: dict[str, Any], estate: Any) -> MapModel:
    e = estate
    places = _Places(e)
    findings = [f for f in document.get("findings") or [] if isinstance(f, dict)]
    severities = {i: text(f.get("severity")) for i, f in enumerate(findings, 1)}
    flows = _flow_findings(document)

    # which findings concern which resource (by key) and which container
    hits: dict[str, list[int]] = {}
    touched: dict[str, list[int]] = {}

    def hit(rid: str, n: int) -> None:
        hits.setdefault(key(rid), []).append(n)
        for c in places.of(rid) if rid != ONPREM else []:
            touched.setdefault(c, []).append(n)

    for i, f in enumerate(findings, 1):
        if f.get("resource_id"):
            hit(text(f["resource_id"]), i)
    for i, f in flows:
        fl = f["flow"]
        for rid in [*_strings(fl.get("sources")), *_strings(fl.get("appliances")), *_destinations(fl)]:
            hit(rid, i)

    # containers: hubs (VNets with an appliance or gateway, or >= 3 peers; Virtual WAN hubs) and spokes
    peers: dict[str, set[str]] = {k: set() for k in e.vnets}
    for p in e.peerings.values():
        va, vb = key(p.vnet_id), _key(p.remote_vnet_id)
        if va in e.vnets and vb in e.vnets and va != vb:
            peers[va].add(vb)
            peers[vb].add(va)
    appliances: dict[str, list[Node]] = {}
    gateways: dict[str, list[Node]] = {}

    def add_appliance(rid: str, kind: str, name: str, extra: str = "") -> None:
        for c in places.of(rid)[:1]:
            tip = f"{_APPLIANCE_KIND[kind]} {name}{extra}\n{rid}"
            appliances.setdefault(c, []).append(_chip(key(rid), "appliance", name, tip))

    for _k, fw in sorted(e.firewalls.items()):
        add_appliance(fw.id, "fw", fw.name)
    for _k, nic in sorted(e.nics.items()):
        if nic.ip_forwarding:
            vm = f" (VM {short_name(nic.vm_id)})" if nic.vm_id else ""
            add_appliance(nic.id, "nva", nic.name, vm)
    for _k, nva in sorted(e.hub_nvas.items()):
        add_appliance(nva.id, "hubnva", nva.name)
    known = {n.key for ns in appliances.values() for n in ns}
    for _, f in flows:  # what else a flow names as its appliance (an ILB in front of NVAs, a scale set)
        for rid in _strings(f["flow"].get("appliances")):
            if key(rid) not in known:
                known.add(key(rid))
                kind = "lb" if key(rid) in e.load_balancers else "nva"
                add_appliance(rid, kind, e.name_of(rid))
    for k, gw in sorted(e.vnet_gateways.items()):
        for c in places.of(gw.id)[:1]:
            gateways.setdefault(c, []).append(
                _chip(
                    k,
                    "gateway",
                    gw.name,
                    f"{gw.gateway_type or 'virtual network'} gateway {gw.name}\n{gw.id}",
                )
            )
    for k, hg in sorted(e.hub_gateways.items()):
        for c in places.of(hg.id)[:1]:
            gateways.setdefault(c, []).append(
                _chip(k, "gateway", hg.name, f"{hg.kind} gateway {hg.name}\n{hg.id}")
            )

    hubs = sorted(
        {k for k in e.vnets if k in appliances or k in gateways or len(peers[k]) >= 3} | set(e.virtual_hubs),
        key=lambda k: (e.name_of(k).lower(), k),
    )
    hub_set = set(hubs)
    linked: dict[str, set[str]] = {k: set() for k in e.vnets}
    for k in e.vnets:
        linked[k] = {p for p in peers[k] if p in hub_set}
    for hc in e.hub_connections.values():
        v = _key(hc.remote_vnet_id)
        if v in linked and key(hc.hub_id) in hub_set:
            linked[v].add(key(hc.hub_id))
    home: dict[str, str | None] = {}
    for k in e.vnets:
        if k in hub_set:
            continue
        options = sorted(linked[k], key=lambda x: (e.name_of(x).lower(), x))
        home[k] = options[0] if options else None

    # route contexts and private endpoints per container
    sources: dict[str, list[Node]] = {}
    onprem_used = False
    seen_src: set[tuple[str, str]] = set()
    for _, f in flows:
        for rid in _strings(f["flow"].get("sources")):
            if rid == ONPREM:
                onprem_used = True
                continue
            for c in places.of(rid):
                if (c, key(rid)) not in seen_src:
                    seen_src.add((c, key(rid)))
                    sources.setdefault(c, []).append(
                        _chip(key(rid), "source", e.name_of(rid), f"route context {e.name_of(rid)}\n{rid}")
                    )
    pes: dict[str, list[Node]] = {}
    for k, pe in sorted(e.private_endpoints.items()):
        for c in places.of(pe.id)[:1]:
            pes.setdefault(c, []).append(_chip(k, "pe", pe.name, f"private endpoint {pe.name}\n{pe.id}"))

    where: dict[str, Node] = {}  # key of an id (or ONPREM) -> the node that stands for it on the map

    def box(ref: str, kind: str) -> Node:
        name = e.name_of(ref)
        if kind == "vhub":
            vh = e.virtual_hubs[ref]
            sub = f"Virtual WAN hub · {vh.prefix}" if vh.prefix else "Virtual WAN hub"
            tip = f"virtual hub {name}\n{vh.id}"
        else:
            vn = e.vnets[ref]
            sub = ", ".join(str(p) for p in vn.prefixes[:3]) + (" ..." if len(vn.prefixes) > 3 else "")
            tip = f"virtual network {name} ({vn.location})\n{vn.id}"
        node = Node(key=ref, kind=kind, label=name, sub=sub, tip=tip)
        groups = (
            (gateways.get(ref, []), "gateways"),
            (appliances.get(ref, []), "appliances"),
            (sorted(sources.get(ref, []), key=lambda n: (n.label.lower(), n.key)), "route contexts"),
            (pes.get(ref, []), "private endpoints"),
        )
        for items, noun in groups:
            shown, hidden = _select(items, CHIPS_SHOWN, hits)
            node.chips += shown
            for n in shown:
                where[n.key] = n
            if hidden:
                more = _more(f"{ref}|{noun}", hidden, noun)
                node.chips.append(more)
                for n in hidden:
                    where[n.key] = more
                    more.findings += hits.get(n.key, [])
        where[ref] = node
        return node

    bands: list[Band] = []
    spokes_of: dict[str | None, list[str]] = {}
    for k in sorted(home, key=lambda x: (e.name_of(x).lower(), x)):
        spokes_of.setdefault(home[k], []).append(k)
    has_sources = {k for k in e.vnets if sources.get(k)}
    has_dests = {places.of(d)[0] for _, f in flows for d in _destinations(f["flow"]) if places.of(d)}
    for group in [*hubs, None]:
        members = spokes_of.get(group, [])
        if group is None and not members:
            continue
        band = Band(caption="")
        if group is not None:
            kind = "vhub" if group in e.virtual_hubs else "hub"
            band.middle.append(box(group, kind))
            band.caption = f"hub {e.name_of(group)}: {len(members)} spoke{'s' if len(members) != 1 else ''}"
        else:
            band.caption = f"VNets peered with no hub: {len(members)}"
        nodes = [Node(key=k, kind="vnet", label=e.name_of(k)) for k in members]
        shown_nodes, hidden_nodes = _select(nodes, SPOKES_SHOWN, touched)
        for n in shown_nodes:
            spoke = box(n.key, "vnet")
            (band.left if n.key in has_sources and n.key not in has_dests else band.right).append(spoke)
        if hidden_nodes:
            noun = "spokes" if group is not None else "VNets"
            agg = _more(f"{group}|spokes", hidden_nodes, noun)
            agg.kind = "group"
            hidden_pes = sum(len(pes.get(n.key, [])) for n in hidden_nodes)
            concerned = sum(1 for n in hidden_nodes if touched.get(n.key))
            agg.sub = f"{concerned} with findings · {hidden_pes} private endpoints"
            for n in hidden_nodes:
                where[n.key] = agg
                agg.findings += touched.get(n.key, [])
                for chip in (*sources.get(n.key, []), *pes.get(n.key, [])):
                    where[chip.key] = agg
            band.right.append(agg)
        bands.append(band)

    # on-premises: beside the first hub with a gateway (or in the first band) when a flow starts there
    # or a gateway connects it
    gw_chips = [n for c in hubs for n in gateways.get(c, [])]
    onprem: Node | None = None
    if onprem_used or gw_chips:
        onprem = Node(key=ONPREM, kind="onprem", label=ONPREM, sub="through the hub gateways", tip=ONPREM)
        where[ONPREM] = onprem

    # what the flows name that the estate does not place (resources outside the input)
    extra = _solo_band(flows, where, "named by the findings' flows, not in the input", e.name_of)
    if extra is not None:
        bands.append(extra)
    if onprem is not None:
        target = next((b for b in bands if b.middle and gateways.get(b.middle[0].key)), None)
        if target is None:
            target = bands[0] if bands else Band(caption="")
            if not bands:
                bands.append(target)
        target.left.insert(0, onprem)

    # findings on every node (a "+N other" node already carries its hidden members' findings)
    for node in _all_nodes(bands):
        if node.kind not in ("more", "group"):
            node.findings = sorted(
                set(
                    hits.get(node.key, [])
                    + (touched.get(node.key, []) if node.kind in ("vnet", "hub", "vhub") else [])
                )
            )
        else:
            node.findings = sorted(set(node.findings))
        node.quiet = not node.findings
    for node in [n for b in bands for n in (*b.left, *b.middle, *b.right)]:
        for chip in node.chips:
            chip.quiet = node.quiet  # hidden (by the map's filter) with their box, never alone

    edges: list[Edge] = []
    # peerings and hub connections, one edge per pair of drawn nodes
    pairs: dict[tuple[str, str], list[str]] = {}
    ends: dict[tuple[str, str], tuple[Node, Node, str]] = {}
    for p in sorted(e.peerings.values(), key=lambda p: (key(p.id), p.id)):
        a, b = where.get(key(p.vnet_id)), where.get(_key(p.remote_vnet_id))
        if a is None or b is None or a is b:
            continue
        pair = (min(a.key, b.key), max(a.key, b.key))
        pairs.setdefault(pair, []).append(f"{p.name}: {p.state}")
        ends.setdefault(pair, (a, b, "peer"))
    for hc in sorted(e.hub_connections.values(), key=lambda c: (key(c.id), c.id)):
        a, b = where.get(key(hc.hub_id)), where.get(_key(hc.remote_vnet_id))
        if a is None or b is None or a is b:
            continue
        pair = (min(a.key, b.key), max(a.key, b.key))
        pairs.setdefault(pair, []).append(f"hub connection {short_name(hc.id)}")
        ends.setdefault(pair, (a, b, "vwan"))
    for pair in sorted(pairs):
        a, b, kind = ends[pair]
        states = pairs[pair]
        bad = any(not s.endswith(": Connected") for s in states if kind == "peer" and ": " in s)
        classes = ["bad"] if bad else []
        if a.quiet and b.quiet:
            classes.append("quiet")
        label = f"{len(states)} peerings" if len(states) > 2 else "; ".join(states)
        edges.append(Edge(a, b, kind, f"{a.label} - {b.label}: {label}", tuple(classes)))
    if ONPREM in where:
        for gw in gw_chips:
            if where.get(gw.key) is gw:
                edges.append(Edge(where[ONPREM], gw, "gw", f"on-premises - {gw.label}", ()))
    edges += _flow_edges(flows, where, severities)
    notes = [
        "Hubs are the VNets that hold a firewall, an NVA or a gateway (or are peered with three or more "
        "VNets) and the Virtual WAN hubs; every other VNet is drawn under the hub it is peered with."
    ]
    if any(n.kind == "group" for n in _all_nodes(bands)):
        notes.append(
            f"Hubs with more than {SPOKES_SHOWN} spokes show individually only the spokes that findings "
            'concern (most concerned first); the others are one "+N other spokes" node, which carries '
            "their flows."
        )
    if not e.vnets and not e.virtual_hubs:
        notes.append("The estate holds no virtual network or virtual hub.")
    return MapModel(
        bands,
        edges,
        ("flow sources", "hubs and their appliances", "spokes and private endpoints"),
        notes,
        flows,
    )


def _flow_edges(
    flows: list[tuple[int, dict[str, Any]]],
    where: dict[str, Node],
    severities: dict[int, str],
) -> list[Edge]:
    """source -> appliance and appliance -> destination (or source -> destination when no appliance),
    one edge per pair of drawn nodes, carrying the numbers of its findings."""
    found: dict[tuple[str, str, str], list[int]] = {}
    nodes: dict[str, Node] = {}
    suppressed = {n for n, f in flows if f.get("suppression")}
    for n, f in flows:
        fl = f["flow"]
        srcs = [where[key(s)] for s in _strings(fl.get("sources")) if key(s) in where]
        apps = [where[key(a)] for a in _strings(fl.get("appliances")) if key(a) in where]
        dsts = [where[key(d)] for d in _destinations(fl) if key(d) in where]
        steps: list[tuple[Node, Node, str]] = []
        if apps:
            steps += [(s, a, "flow") for s in srcs for a in apps]
            steps += [(a, d, "flow") for a in apps for d in dsts]
        else:
            steps += [(s, d, "bypass") for s in srcs for d in dsts]
        for a, b, kind in steps:
            if a is b:
                continue
            nodes[a.key], nodes[b.key] = a, b
            found.setdefault((a.key, b.key, kind), []).append(n)
    edges = []
    for (ak, bk, kind), nums in sorted(found.items()):
        a, b = nodes[ak], nodes[bk]
        what = "bypasses every appliance" if kind == "bypass" else "broken flow"
        tip = f"{what}: {a.label} -> {b.label}; finding{'s' if len(set(nums)) > 1 else ''} {_numbers(nums)}"
        classes = (_sev_class(nums, severities), *(("suppressed",) if set(nums) <= suppressed else ()))
        edges.append(Edge(a, b, kind, tip, classes, tuple(sorted(set(nums)))))
    return edges


# ------------------------------------------------------------------------------ the saved-document side


def _solo_band(
    flows: list[tuple[int, dict[str, Any]]], where: dict[str, Node], caption: str, name_of: Any
) -> Band | None:
    """The flows' sources, appliances and destinations that `where` has no node for, as a band of three
    columns (at most SAVED_SHOWN per column, then a "+N other" node); None when there are none."""
    columns: list[dict[str, list[int]]] = [{}, {}, {}]
    names: dict[str, str] = {}
    for n, f in flows:
        fl = f["flow"]
        for col, ids in enumerate(
            (_strings(fl.get("sources")), _strings(fl.get("appliances")), _destinations(fl))
        ):
            for rid in ids:
                ref = key(rid)
                if ref in where:
                    continue
                names.setdefault(ref, rid if rid == ONPREM else name_of(rid))
                columns[col].setdefault(ref, []).append(n)
    if not any(columns):
        return None
    band = Band(caption=caption)
    kinds = ("source", "appliance", "pe")
    nouns = ("sources", "appliances", "destinations")
    placed: dict[str, Node] = {}
    for col, target in enumerate((band.left, band.middle, band.right)):
        nodes = []
        for ref in sorted(columns[col], key=lambda k: (names[k].lower(), k)):
            if ref in placed:  # named in two roles: drawn once, where first seen
                continue
            kind = "onprem" if ref == ONPREM else kinds[col]
            tip = ONPREM if ref == ONPREM else f"{kinds[col]} {ref}"
            node = Node(key=ref, kind=f"solo {kind}", label=names[ref], tip=tip)
            node.findings = sorted(set(columns[col][ref]))
            nodes.append(node)
        shown, hidden = _select(nodes, SAVED_SHOWN, {n.key: n.findings for n in nodes})
        target += shown
        for node in shown:
            placed[node.key] = node
        if hidden:
            agg = _more(f"solo|{caption}|{col}", hidden, nouns[col])
            agg.kind = "group"
            agg.findings = sorted({x for n in hidden for x in n.findings})
            for node in hidden:
                placed[node.key] = agg
            target.append(agg)
    where.update(placed)
    return band


def _saved_model(document: dict[str, Any]) -> MapModel:
    findings = [f for f in document.get("findings") or [] if isinstance(f, dict)]
    severities = {i: text(f.get("severity")) for i, f in enumerate(findings, 1)}
    flows = _flow_findings(document)
    where: dict[str, Node] = {}
    band = _solo_band(
        flows, where, "broken flows of the findings: source -> appliance -> destination", short_name
    )
    notes = [
        "Drawn from the findings' flows only: this report was rendered from a saved findings document, "
        "which does not carry the estate's topology (VNets, peerings, hubs). The HTML report that "
        "pathaudit audit writes draws the whole estate."
    ]
    if band is None:
        notes.append("No finding records a broken flow: there is nothing to draw.")
    edges = _flow_edges(flows, where, severities)
    return MapModel(
        [band] if band else [],
        edges,
        ("flow sources", "appliances", "destinations"),
        notes,
        flows,
        topology=False,
    )


# ------------------------------------------------------------------------------------------- layout


def _all_nodes(bands: list[Band]) -> Iterable[Node]:
    for b in bands:
        for n in (*b.left, *b.middle, *b.right):
            yield n
            yield from n.chips


def _layout(bands: list[Band]) -> int:
    """Place every node; returns the map's height."""
    y = TOP
    for band in bands:
        y += BAND_CAPTION
        bottom = y
        for x, w, nodes in (
            (LEFT_X, LEFT_W, band.left),
            (MID_X, MID_W, band.middle),
            (RIGHT_X, RIGHT_W, band.right),
        ):
            cy = y
            for node in nodes:
                node.x, node.y, node.w = x, cy, w
                node.h = HEADER_H + (len(node.chips) * (CHIP_H + CHIP_GAP) + BOX_PAD if node.chips else 0)
                if not node.sub and not node.chips and not node.findings:
                    node.h = 28
                for i, chip in enumerate(node.chips):
                    chip.x, chip.w, chip.h = x + 10, w - 20, CHIP_H
                    chip.y = cy + HEADER_H + i * (CHIP_H + CHIP_GAP)
                cy += node.h + BOX_GAP
            bottom = max(bottom, cy - BOX_GAP)
        band.caption_y = y - BAND_CAPTION + 14
        y = bottom + BAND_GAP
    return max(y, TOP + 40)


# -------------------------------------------------------------------------------------------- SVG


def _fit(label: str, px: int, per: float) -> str:
    """`label` cut (with an ellipsis) to about `px` pixels at `per` pixels a character (wide East Asian
    characters count twice): SVG text does not wrap, and a long name must not run out of its box."""
    used = 0.0
    for i, c in enumerate(label):
        used += per * (2 if unicodedata.east_asian_width(c) in ("W", "F") else 1)
        if used > px:
            return label[: max(i - 1, 0)] + "…"
    return label


def _link(node: Node, anchors: list[str], body: list[str], cls: str) -> list[str]:
    tip = node.tip or node.label
    if node.findings:
        tip += "\nfindings " + _numbers(node.findings)
    head = f'<g class="{cls}"><title>{h(tip)}</title>'
    if node.findings and 0 < node.findings[0] <= len(anchors):
        return [f'<a href="#{h(anchors[node.findings[0] - 1])}">{head}', *body, "</g></a>"]
    return [head, *body, "</g>"]


def _box_svg(node: Node, anchors: list[str], severities: dict[int, str]) -> list[str]:
    classes = ["box", *node.kind.split()]
    if node.findings:
        classes += ["hit", _sev_class(node.findings, severities)]
    if node.quiet:
        classes.append("quiet")
    # the number of findings: right of the name, or on the second line when the box has none
    count_right = bool(node.findings and node.sub)
    body = [
        f'<rect x="{node.x}" y="{node.y}" width="{node.w}" height="{node.h}" rx="8"/>',
        f'<text x="{node.x + 10}" y="{node.y + 17}" class="name">'
        f"{h(_fit(node.label, node.w - 20 - (84 if count_right else 0), 7.2))}</text>",
    ]
    if node.sub:
        body.append(
            f'<text x="{node.x + 10}" y="{node.y + 31}" class="sub">{h(_fit(node.sub, node.w - 20, 6.2))}</text>'
        )
    if node.findings:
        count = f"{len(node.findings)} finding{'s' if len(node.findings) != 1 else ''}"
        where = f'x="{node.x + node.w - 8}" y="{node.y + 17}" class="count" text-anchor="end"'
        if not count_right:
            where = f'x="{node.x + 10}" y="{node.y + 31}" class="count"'
        body.append(f"<text {where}>{count}</text>")
    return _link(node, anchors, body, " ".join(classes))


_CHIP_TAG = {"pe": "PE", "appliance": "FW/NVA", "source": "source", "gateway": "gateway", "more": ""}


def _chip_svg(chip: Node, anchors: list[str], severities: dict[int, str]) -> list[str]:
    classes = ["chip", chip.kind]
    if chip.findings:
        classes += ["hit", _sev_class(chip.findings, severities)]
    if chip.quiet:
        classes.append("quiet")
    tag = _CHIP_TAG.get(chip.kind, "")
    body = [
        f'<rect x="{chip.x}" y="{chip.y}" width="{chip.w}" height="{chip.h}" rx="4"/>',
        f'<text x="{chip.x + 6}" y="{chip.y + 14}">'
        f"{h(_fit(chip.label, chip.w - 12 - (6 * len(tag) + 8 if tag else 0), 6.4))}</text>",
    ]
    if tag:
        body.append(
            f'<text x="{chip.x + chip.w - 5}" y="{chip.y + 14}" class="tag" text-anchor="end">{tag}</text>'
        )
    return _link(chip, anchors, body, " ".join(classes))


def _edge_svg(edge: Edge) -> list[str]:
    a, b = edge.a, edge.b
    ay, by = a.y + a.h // 2, b.y + b.h // 2
    if abs(a.cx - b.cx) < 40:  # same column: leave and re-enter on the right, bulging out
        x1, x2 = a.x + a.w, b.x + b.w
        bulge = min(40 + abs(by - ay) // 6, 110)
        path = f"M{x1},{ay} C{x1 + bulge},{ay} {x2 + bulge},{by} {x2},{by}"
        direction = -1
    else:
        x1 = a.x + a.w if a.cx < b.cx else a.x
        x2 = b.x if a.cx < b.cx else b.x + b.w
        mid = (x1 + x2) // 2
        path = f"M{x1},{ay} C{mid},{ay} {mid},{by} {x2},{by}"
        direction = 1 if x2 > x1 else -1
    cls = " ".join(("edge", edge.kind, *edge.classes))
    out = [f'<g class="{cls}"><title>{h(edge.tip)}</title><path d="{path}"/>']
    if edge.kind in ("flow", "bypass"):
        d = direction
        out.append(f'<polygon points="{x2},{by} {x2 - 9 * d},{by - 5} {x2 - 9 * d},{by + 5}"/>')
    out.append("</g>")
    return out


def _svg(model: MapModel, anchors: list[str], severities: dict[int, str]) -> str:
    height = _layout(model.bands)
    out = [
        f'<svg class="map" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        'aria-label="estate map: hubs, spokes, appliances, private endpoints and the broken flows of the findings">',
    ]
    for x, w, heading in zip((LEFT_X, MID_X, RIGHT_X), (LEFT_W, MID_W, RIGHT_W), model.headings, strict=True):
        out.append(f'<text x="{x + w // 2}" y="18" class="heading" text-anchor="middle">{h(heading)}</text>')
    for band in model.bands:
        if band.caption:
            y = band.caption_y
            out.append(
                f'<text x="{LEFT_X}" y="{y}" class="caption">{h(_fit(band.caption, WIDTH - 40, 7.2))}</text>'
            )
            out.append(f'<line x1="{LEFT_X}" y1="{y + 4}" x2="{WIDTH - 16}" y2="{y + 4}" class="rule"/>')
    boxes = [n for b in model.bands for n in (*b.left, *b.middle, *b.right)]
    for node in boxes:
        out += _box_svg(node, anchors, severities)
    structural = [e for e in model.edges if e.kind in ("peer", "vwan", "gw")]
    flows = [e for e in model.edges if e.kind in ("flow", "bypass")]
    for edge in structural:
        out += _edge_svg(edge)
    for edge in flows:
        out += _edge_svg(edge)
    for node in boxes:
        for chip in node.chips:
            out += _chip_svg(chip, anchors, severities)
    out.append("</svg>")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------- HTML


def map_model(document: dict[str, Any], estate: Any = None) -> MapModel:
    return _estate_model(document, estate) if estate is not None else _saved_model(document)


def map_section(document: dict[str, Any], anchors: list[str], estate: Any = None) -> list[str]:
    """The report's "Estate map" section: filters (CSS only), the SVG, notes and the flows it draws."""
    model = map_model(document, estate)
    findings = [f for f in document.get("findings") or [] if isinstance(f, dict)]
    severities = {i: text(f.get("severity")) for i, f in enumerate(findings, 1)}
    out = ['<section id="map">', "<h2>Estate map</h2>"]
    out += [f'<p class="muted">{h(n)}</p>' for n in model.notes]
    if model.bands:
        out.append('<div class="mapctl">')
        if model.topology:
            out.append(
                '<input type="checkbox" class="mf" id="mf-peer" checked><label for="mf-peer">peerings</label>'
            )
        out.append(
            '<input type="checkbox" class="mf" id="mf-flow" checked><label for="mf-flow">broken flows</label>'
        )
        if model.topology:
            out.append(
                '<input type="checkbox" class="mf" id="mf-quiet" checked>'
                '<label for="mf-quiet">VNets no finding concerns</label>'
            )
        out += ['<div class="mapwrap">', _svg(model, anchors, severities), "</div>", "</div>"]
        keys = (
            [
                ("k-hub", "hub"),
                ("k-vnet", "spoke VNet"),
                ("k-app", "firewall / NVA"),
                ("k-pe", "private endpoint"),
                ("k-src", "route context (flow source)"),
            ]
            if model.topology
            else [("k-src", "flow source"), ("k-app", "firewall / NVA"), ("k-pe", "destination")]
        )
        keys += [
            ("k-flow", "broken flow (colour: severity)"),
            ("k-bypass", "flow that bypasses every appliance"),
        ]
        if model.topology:
            keys += [("k-peer", "peering"), ("k-bad", "peering not Connected")]
        out.append(
            '<p class="legend">'
            + " ".join(f'<span class="key {k}"></span> {h(label)}' for k, label in keys)
            + ". Outlined in colour: concerned by findings (select it to go to its first finding; hover for "
            "names and finding numbers).</p>"
        )
    if model.flows:
        rows = []
        for n, f in model.flows[:FLOWS_LISTED]:
            fl = f["flow"]
            total = fl.get("destinations_total")
            dests = _destinations(fl)
            count = total if isinstance(total, int) else len(dests)
            rows.append(
                f'<tr><td><a href="#{h(anchors[n - 1])}">{n}</a></td><td>{h(f.get("rule_id"))}</td>'
                f"<td>{h(', '.join(short_name(s) for s in _strings(fl.get('sources'))) or '-')}</td>"
                f"<td>{h(', '.join(short_name(a) for a in _strings(fl.get('appliances'))) or 'none (bypass)')}</td>"
                f"<td>{h(', '.join(short_name(d) for d in dests[:3]))}"
                + (f" and {h(count - min(len(dests), 3))} more" if count > min(len(dests), 3) else "")
                + "</td></tr>"
            )
        out.append("<h3>Flows on the map</h3>")
        out.append(
            '<table class="flows"><thead><tr><th>finding</th><th>rule</th><th>source</th><th>appliances</th>'
            "<th>destinations</th></tr></thead><tbody>"
        )
        out += rows
        out.append("</tbody></table>")
        if len(model.flows) > FLOWS_LISTED:
            out.append(
                f'<p class="muted">and {len(model.flows) - FLOWS_LISTED} more findings with a flow (below).</p>'
            )
    out.append("</section>")
    return out
