"""The estate map of the HTML report (auditor/report/estate_map.py): a node per VNet, hub, appliance and
private endpoint, the findings' broken flows as edges, every label escaped, the same bytes for the same
estate whatever the input order, aggregated (and small) at 200 VNets, and drawn from the flows alone
when a saved findings document is re-rendered."""

from __future__ import annotations

import json
import re

import pytest
from conftest import grouped
from helpers.html_checks import assert_links_resolve, assert_self_contained, parse, visible_text
from helpers.map_estates import hostile_network, many_spokes
from helpers.report_docs import (
    FWD_APPLIANCE_RETURN_DIRECT,
    GREEK,
    IMG,
    JAPANESE,
    SCRIPT,
    document,
    finding,
    hostile_document,
    hostile_estate,
    write_estate,
)

from auditor.audit import demo_inputs, run_audit
from auditor.catalog import load_catalog
from auditor.config import Config
from auditor.ids import key
from auditor.report.estate_map import ONPREM, SPOKES_SHOWN, map_model
from auditor.report.html import render_html

MAP_BYTES_200 = 60_000  # the map of the 200-VNet estate stays below this (it is ~26 kB)


@pytest.fixture(autouse=True)
def _no_source_date_epoch(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


@pytest.fixture(scope="module")
def demo():
    paths, display = demo_inputs()
    result = run_audit(paths, Config(), display)
    return result.document(), result.estate


def map_svg(data: bytes) -> str:
    text = data.decode("utf-8")
    start = text.index('<svg class="map"')
    return text[start : text.index("</svg>", start) + len("</svg>")]


def map_section(data: bytes) -> bytes:
    start = data.index(b'<section id="map">')
    return data[start : data.index(b"</section>", start)]


def groups(svg: str, cls: str) -> list[str]:
    """The <title> of each SVG group whose class list starts with `cls` ("box hub", "chip pe", "edge flow")."""
    return re.findall(rf'<g class="{cls}(?: [^"]*)?"><title>([^<]*)</title>', svg)


def test_demo_map_has_a_node_per_vnet_hub_appliance_and_private_endpoint(demo):
    doc, estate = demo
    svg = map_svg(render_html(doc, load_catalog(), estate=estate))
    titles = "\n".join(re.findall(r"<title>([^<]*)</title>", svg))
    boxes = groups(svg, "box vnet") + groups(svg, "box hub") + groups(svg, "box vhub")
    for vnet in estate.vnets.values():
        assert sum(vnet.id in t for t in boxes) == 1, vnet.name
    for hub in estate.virtual_hubs.values():
        assert sum(hub.id in t for t in groups(svg, "box vhub")) == 1, hub.name
    appliances = groups(svg, "chip appliance")
    expected = [fw.id for fw in estate.firewalls.values()]
    expected += [nic.id for nic in estate.nics.values() if nic.ip_forwarding]
    assert len(appliances) == len(expected) == 5
    for rid in expected:
        assert sum(rid in t for t in appliances) == 1, rid
    pes = groups(svg, "chip pe")
    assert len(pes) == len(estate.private_endpoints) == 5
    for pe in estate.private_endpoints.values():
        assert sum(pe.id in t for t in pes) == 1, pe.name
    for gw in estate.vnet_gateways.values():
        assert gw.id in titles
    # the hub VNet (firewall, NVAs, gateway) and the Virtual WAN hub are hubs; the others are spokes
    assert [t.split("\n")[0] for t in groups(svg, "box hub")] == ["virtual network vnet-hub-weu (westeurope)"]
    assert len(groups(svg, "box vnet")) == 5 and len(groups(svg, "box onprem")) == 1
    assert len(groups(svg, "edge peer")) == 4 and len(groups(svg, "edge vwan")) == 1


def test_demo_map_draws_every_flow_source_to_appliance_to_destination(demo):
    doc, estate = demo
    model = map_model(doc, estate)
    edges = {(e.a.key, e.b.key, e.kind): e.findings for e in model.edges if e.kind in ("flow", "bypass")}
    flows = [(n, f["flow"]) for n, f in enumerate(doc["findings"], 1) if f.get("flow")]
    assert len(flows) == 6
    for n, flow in flows:
        sources = [key(s) for s in flow["sources"]]
        dests = [key(d["id"]) for d in flow["destinations"]]
        if flow["appliances"]:
            for a in map(key, flow["appliances"]):
                for s in sources:
                    assert n in edges[(s, a, "flow")], (n, s, a)
                for d in dests:
                    assert n in edges[(a, d, "flow")], (n, a, d)
        else:  # NET005/NET008: the flow bypasses every appliance
            for s in sources:
                for d in dests:
                    assert n in edges[(s, d, "bypass")], (n, s, d)
    assert (ONPREM, key(next(iter(estate.vnet_gateways.values())).id), "gw") in {
        (e.a.key, e.b.key, e.kind) for e in model.edges
    }
    svg = map_svg(render_html(doc, load_catalog(), estate=estate))
    drawn = groups(svg, "edge flow") + groups(svg, "edge bypass")
    assert len(drawn) == len(edges)
    assert len(
        re.findall(
            r'<g class="edge (?:flow|bypass) [^"]*"><title>[^<]*</title><path d="M[^"]+"/>\n<polygon', svg
        )
    ) == len(edges)  # each with its arrowhead
    assert any("finding 6" in t and "rt-app -&gt; nic-nva-fw01" in t for t in drawn)


def test_map_nodes_link_to_their_findings(demo):
    doc, estate = demo
    data = render_html(doc, load_catalog(), estate=estate)
    assert_links_resolve(data)
    svg = map_svg(data)
    assert len(re.findall(r'<a href="#f-[0-9a-f]+"><g class="(?:box|chip) [^"]*hit', svg)) >= 10


def test_same_estate_same_map_whatever_the_input_order(tmp_path, demo):
    """Determinism: the estate's resources in reverse order give the same map, byte for byte."""
    doc, estate = demo
    catalog = load_catalog()
    first = render_html(doc, catalog, estate=estate)
    assert render_html(doc, catalog, estate=estate) == first
    paths, _ = demo_inputs()
    files = sorted(paths[0].rglob("*.json"))
    assert len(files) == 1
    rows = json.loads(files[0].read_text(encoding="utf-8"))
    records = rows if isinstance(rows, list) else rows["data"]
    records.reverse()
    for record in records:  # nested children (subnets, peerings, routes) reversed too
        for child in (record.get("properties") or {}).values():
            if isinstance(child, list):
                child.reverse()
    out = tmp_path / "reversed.json"
    out.write_text(json.dumps(rows), encoding="utf-8")
    result = run_audit([out], Config())
    assert [f["fingerprint"] for f in result.document()["findings"]] == [
        f["fingerprint"] for f in doc["findings"]
    ]
    assert map_section(render_html(result.document(), catalog, estate=result.estate)) == map_section(first)


def test_hostile_names_are_escaped_on_the_map(tmp_path):
    result = run_audit([hostile_network().write(tmp_path / "resources.json")], Config())
    doc = result.document()
    assert any(f.get("flow") for f in doc["findings"])  # the payloads reach a flow on the map
    data = render_html(doc, load_catalog(), estate=result.estate)
    p = assert_self_contained(data)
    assert_links_resolve(data)
    assert [t for t, _ in p.tags].count("img") == 0 and b"<script" not in data
    svg = map_svg(data)
    assert "<img" not in svg and "<script" not in svg and "onerror=alert" in svg  # as text only
    labels = "".join(parse(svg.encode()).text)
    for payload in (SCRIPT[:10], IMG[:12], JAPANESE, GREEK):
        assert payload in labels, payload
    # every label and tooltip of the map is escaped text: no element but the map's own
    assert set(re.findall(r"<([a-zA-Z]+)", svg)) <= {
        "svg",
        "g",
        "title",
        "rect",
        "text",
        "path",
        "polygon",
        "line",
        "a",
    }
    assert len(groups(svg, "edge flow")) == 2  # route context -> NVA -> private endpoint
    assert len(groups(svg, "chip appliance")) == 1 and len(groups(svg, "chip pe")) == 1


def test_hostile_estate_without_networks_says_so(tmp_path):
    """The hostile estate of the other report tests (AI accounts only) has nothing to map."""
    result = run_audit([write_estate(tmp_path, hostile_estate())], Config())
    data = render_html(result.document(), load_catalog(), estate=result.estate)
    assert_self_contained(data)
    assert "The estate holds no virtual network or virtual hub." in visible_text(map_section(data))


def test_200_vnets_render_aggregated_and_small(tmp_path):
    result = run_audit([many_spokes().write(tmp_path / "resources.json")], Config())
    assert len(result.estate.vnets) == 200
    doc = result.document()
    data = render_html(doc, load_catalog(), estate=result.estate)
    assert_self_contained(data)
    assert_links_resolve(data)
    svg = map_svg(data)
    assert len(svg.encode()) < MAP_BYTES_200, len(svg.encode())
    height = int(re.search(r'<svg class="map" viewBox="0 0 (\d+) (\d+)"', svg).group(2))
    assert height < 3000
    spokes = groups(svg, "box vnet")
    assert len(spokes) <= SPOKES_SHOWN
    hidden = 199 - len(spokes)
    assert f"+{hidden} other spokes" in svg
    # the shown spokes are the ones the findings concern most; the sources among them have their chip
    assert all("spoke-" in t for t in spokes)
    assert len(groups(svg, "chip source")) >= 1
    # flows of the aggregated spokes end on the aggregate node
    model = map_model(doc, result.estate)
    group = next(n for b in model.bands for n in b.right if n.kind == "group")
    assert any(e.a is group or e.b is group for e in model.edges if e.kind == "flow")


def test_saved_document_map_is_drawn_from_the_flows_and_says_so(demo):
    doc, _ = demo
    data = render_html(doc, load_catalog())
    section = map_section(data)
    assert b"Drawn from the findings&#x27; flows only" in section
    svg = map_svg(data)
    assert not groups(svg, "box vnet") and not groups(svg, "edge peer")  # no topology to draw
    flows = [f["flow"] for f in doc["findings"] if f.get("flow")]
    names = {
        *(s.rsplit("/", 1)[-1] for f in flows for s in f["sources"]),
        *(a.rsplit("/", 1)[-1] for f in flows for a in f["appliances"]),
        *(d["id"].rsplit("/", 1)[-1] for f in flows for d in f["destinations"]),
    }
    labels = set(re.findall(r'class="name">([^<]*)</text>', svg))
    assert names == labels
    assert len(groups(svg, "edge flow")) + len(groups(svg, "edge bypass")) == len(map_model(doc).edges)
    assert b'id="mf-peer"' not in section and b'id="mf-flow"' in section


def test_saved_hostile_document_map_is_escaped():
    data = render_html(hostile_document(), load_catalog())
    assert_self_contained(data)
    svg = map_svg(data)
    assert "<img" not in svg and "<script" not in svg
    assert "&lt;script&gt;" in svg and "&quot;&gt;&lt;img" in svg


def test_no_flows_no_map_drawn():
    data = render_html(document([finding("AOAI001", resource_id="/a")]), load_catalog())
    section = map_section(data)
    assert b"<svg" not in section and b"No finding records a broken flow" in section


def test_suppressed_flows_are_drawn_faded():
    sup = {
        "rule": "NET001",
        "resource": "*",
        "reason": "accepted",
        "expires": "2099-01-01",
        "approved_by": None,
    }
    flow = grouped(dict(FWD_APPLIANCE_RETURN_DIRECT))
    svg = map_svg(render_html(document([finding(flow=flow, suppression=sup)]), load_catalog()))
    edges = re.findall(r'<g class="edge flow ([^"]*)">', svg)
    assert len(edges) == 2 and all("suppressed" in e.split() for e in edges)
    svg = map_svg(render_html(document([finding(flow=flow)]), load_catalog()))
    assert not any("suppressed" in e for e in re.findall(r'<g class="edge flow ([^"]*)">', svg))
