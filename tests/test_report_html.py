"""The HTML evidence report, read statically: self-contained, escaped, complete, with path diagrams, a
reproducible "generated at", an index whose links resolve, rule text rendered from its Markdown subset
(estate strings never), and no link to anything that does not ship with pathaudit."""

from __future__ import annotations

import copy
import dataclasses
import html
import re
import time

import pytest
from conftest import grouped
from helpers.html_checks import assert_links_resolve, assert_self_contained, parse, visible_text
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
from auditor.report.html import finding_anchors, render_html
from auditor.report.pathsvg import divergence, flow_svg


@pytest.fixture(scope="module", params=["with the estate", "saved document"])
def hostile_html(tmp_path_factory, request) -> bytes:
    tmp = tmp_path_factory.mktemp("hostile")
    result = run_audit([write_estate(tmp, hostile_estate())], Config())
    estate = result.estate if request.param == "with the estate" else None
    return render_html(result.document(), load_catalog(), estate=estate)


@pytest.fixture(scope="module")
def demo():
    """The demo estate audited: (findings document, estate)."""
    paths, display = demo_inputs()
    result = run_audit(paths, Config(), display)
    return result.document(), result.estate


@pytest.fixture(autouse=True)
def _no_source_date_epoch(monkeypatch):
    """Reports show SOURCE_DATE_EPOCH when set (CI may set it): these tests decide it themselves."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def test_checker_catches_an_injected_element():
    """The static check can fail: an unescaped payload is an <img> with onerror."""
    good = render_html(document([finding()]), load_catalog())
    assert_self_contained(good)
    bad = good.replace(b"<footer>", b"<footer><img src=x onerror=alert(1)>")
    with pytest.raises(AssertionError):
        assert_self_contained(bad)


def test_hostile_estate_is_escaped(hostile_html):
    p = assert_self_contained(hostile_html)
    text = "".join(p.text)
    assert SCRIPT in text and IMG in text and JAPANESE in text and GREEK in text  # shown as text
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in hostile_html
    assert b"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in hostile_html
    assert "日本語-Ελληνικά".encode() in hostile_html  # UTF-8, not mangled
    assert hostile_html.startswith(b"<!DOCTYPE html>\n") and b'<meta charset="utf-8">' in hostile_html


def test_every_field_of_a_crafted_document_is_escaped():
    data = render_html(hostile_document(), load_catalog())
    p = assert_self_contained(data)
    assert_links_resolve(data)
    assert data.count(b"<script") == 0 and data.count(b"<img") == 0
    assert [t for t, _ in p.tags].count("svg") == 2  # the flow's path and the map of the flows
    text = "".join(p.text)
    for payload in (SCRIPT, IMG, GREEK):
        assert payload in text


def test_summary_coverage_suppressions_and_meta_are_shown():
    sup = {
        "rule": "NET001",
        "resource": "/x/*",
        "reason": "lab estate",
        "expires": "2027-03-31",
        "approved_by": "secops",
    }
    doc = document(
        [finding(suppression=sup), finding("AOAI001", resource_id="/acc", message="keys on")],
        summary={"high": 1, "medium": 0, "low": 0, "info": 0, "suppressed": 1},
        coverage={
            "complete": False,
            "skipped": [
                {
                    "file": "f.json",
                    "resource_id": "/r",
                    "field": "properties.x",
                    "problem": "not a list",
                    "effect": "resource skipped",
                }
            ],
            "not_assessed": [{"rule_id": "AOAI005", "reason": "no gateway in the estate"}],
        },
        estate={
            "sha256": "b" * 64,
            "collected_at": "2026-11-23T10:00:00Z",
            "resources": 7,
            "inputs": ["snap.json"],
        },
    )
    data = render_html(doc, load_catalog())
    text = " ".join(" ".join(parse(data).text).split())
    assert "b" * 64 in text and "2026-11-23T10:00:00Z" in text and "pathaudit 0.1.0" in text
    assert "Coverage INCOMPLETE: 1 item(s) skipped" in text
    assert "not a list" in text and "properties.x" in text
    assert "AOAI005" in text and "no gateway in the estate" in text
    assert "lab estate" in text and "2027-03-31" in text and "secops" in text
    # findings carry remediation, references (links) and control mappings from the catalog
    catalog = load_catalog()
    for ref in catalog["NET001"].references:
        assert f'<a href="{ref["url"]}" rel="noreferrer noopener">'.encode() in data
    assert "NS-3" in text and "AC-4" in text
    assert "71ef260a-8f18-47b7-abcb-62d0673d94dc" in text  # AOAI001's Azure Policy mapping
    assert b"@media print" in data


def test_flow_finding_draws_forward_and_return_with_appliance_and_divergence():
    data = render_html(
        document([finding(flow=grouped(copy.deepcopy(FWD_APPLIANCE_RETURN_DIRECT)))]), load_catalog()
    )
    start = data.index(b'<svg class="flow"')
    svg = data[start : data.index(b"</svg>", start)].decode()
    assert svg.count('<g class="hop') == 5  # 3 forward + 2 return
    assert svg.count('<g class="hop appliance') == 1  # nva1-nic highlighted
    assert 'class="hop appliance diverge"' in svg  # and it is where the paths diverge
    assert svg.count("paths diverge here") == 2  # marked in both lanes
    assert "verdict: asymmetric" in svg and "xmlns" not in svg


def test_divergence_index():
    fwd = FWD_APPLIANCE_RETURN_DIRECT["forward"]
    assert divergence(fwd, FWD_APPLIANCE_RETURN_DIRECT["return"]) == 1
    assert divergence(fwd, list(reversed(fwd))) is None  # symmetric: nothing marked
    svg = flow_svg({"forward": fwd, "return": list(reversed(fwd)), "verdict": "symmetric"})
    assert "diverge" not in svg and svg.count('class="hop appliance"') == 2


def test_no_findings_page_is_valid():
    data = render_html(document([]), load_catalog())
    assert_self_contained(data)
    assert b"No findings." in data and b"No finding is suppressed." in data


# --- generated at ---------------------------------------------------------------------------------


def _generated(data: bytes) -> str:
    m = re.search(r"<dt>generated at</dt><dd>(.*?)</dd>", data.decode())
    assert m, "no generated-at line"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).split())


def test_generated_at_is_the_collection_time_or_says_there_is_none(monkeypatch):
    catalog = load_catalog()
    none = render_html(document([finding()]), catalog)
    assert "the input records no collection time" in _generated(none)
    stamped = document(
        [finding()], estate={**document()["estate"], "collected_at": "2026-11-23T11:00:00+01:00"}
    )
    assert _generated(render_html(stamped, catalog)) == "2026-11-23T10:00:00Z (the estate's collection time)"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764698400")
    for doc in (document([finding()]), stamped):
        assert _generated(render_html(doc, catalog)) == "2025-12-02T18:00:00Z (SOURCE_DATE_EPOCH)"
    assert b"generated at 2025-12-02T18:00:00Z</p></footer>" in render_html(stamped, catalog)


def test_two_renders_are_byte_identical_whatever_the_clock(demo):
    """No renderer reads the clock: renders on either side of a second boundary are the same bytes."""
    doc, estate = demo
    catalog = load_catalog()
    first = render_html(doc, catalog, estate=estate)
    second_now = int(time.time())
    while int(time.time()) == second_now:
        time.sleep(0.05)
    assert render_html(doc, catalog, estate=estate) == first
    assert render_html(doc, catalog) == render_html(doc, catalog)
    assert "the input records no collection time" in _generated(first)  # the demo records none


# --- index and links ------------------------------------------------------------------------------


def test_index_lists_every_finding_under_its_rule_and_every_link_resolves(demo):
    doc, estate = demo
    data = render_html(doc, load_catalog(), estate=estate)
    ids, local = assert_links_resolve(data)
    anchors = finding_anchors(doc["findings"])
    assert len(set(anchors)) == len(doc["findings"]) and set(anchors) <= ids
    index = data[
        data.index(b'<nav class="index">') : data.index(b"</nav>", data.index(b'<nav class="index">'))
    ]
    index_links = re.findall(rb'href="#([^"]+)"', index)
    rules = list(dict.fromkeys(f["rule_id"] for f in doc["findings"]))
    assert [x.decode() for x in index_links if x.startswith(b"rule-")] == [f"rule-{r}" for r in rules]
    # per rule, its findings in document order, each linked
    expected = [anchors[i] for r in rules for i, f in enumerate(doc["findings"]) if f["rule_id"] == r]
    assert [x.decode() for x in index_links if x.startswith(b"f-")] == expected
    assert all(f"#{a}" in local for a in anchors)


def test_anchors_stay_unique_for_crafted_fingerprints():
    same = "c" * 32
    doc = document(
        [
            finding(fingerprint=same),
            finding("AOAI001", resource_id="/a", fingerprint=same),
            finding("AOAI002", resource_id="/b", fingerprint=""),
            finding("AOAI003", resource_id="/c", fingerprint=SCRIPT),
            finding("NET-001", resource_id="/d"),  # a crafted rule id whose anchor collides with NET001's
        ]
    )
    anchors = finding_anchors(doc["findings"])
    assert len(set(anchors)) == 5 and all(re.fullmatch(r"f-[A-Za-z0-9]*(-\d+)?", a) for a in anchors)
    data = render_html(doc, load_catalog())
    assert_self_contained(data)
    assert_links_resolve(data)


def test_many_findings_of_a_rule_fold_in_the_index():
    findings = [finding("NET007", resource_id=f"/rt{i}", fingerprint=f"{i:032x}") for i in range(12)]
    data = render_html(document(findings), load_catalog()).decode()
    assert "<details><summary>12 findings</summary>" in data
    assert_links_resolve(data.encode())


def all_rules_document() -> dict:
    """One finding per catalog rule, carrying the catalog's remediation (as an audit writes it)."""
    catalog = load_catalog()
    return document(
        [
            finding(rid, resource_id=f"/x/{rid}", remediation=rule.remediation, title=rule.title)
            for rid, rule in sorted(catalog.items())
        ]
    )


def test_no_output_cites_what_does_not_ship(demo):
    """Links are in-page anchors or https URLs, never a relative path (docs/..., README.md, ../): a
    report names nothing that is not in it or on the web. Every rule's text is rendered here."""
    doc, estate = demo
    catalog = load_catalog()
    pages = [
        render_html(doc, catalog, estate=estate),
        render_html(doc, catalog),
        render_html(all_rules_document(), catalog),
        render_html(hostile_document(), catalog),
    ]
    for data in pages:
        p = assert_self_contained(data)
        for _tag, attrs in p.tags:
            href = attrs.get("href")
            if href is not None:
                assert href.startswith("#") or href.startswith("https://"), href
        text = visible_text(data)
        assert not re.search(r"\b(docs|tests|rules|auditor|fixtures)/[\w./-]+", text), re.search(
            r"\b(docs|tests|rules|auditor|fixtures)/[\w./-]+", text
        )
        assert not re.search(r"\b[\w-]+\.md\b", text)
    # the checker sees a relative link
    bad = pages[0].replace(b"<footer>", b'<footer><a href="docs/findings.md">docs</a>')
    with pytest.raises(AssertionError):
        assert_self_contained(bad)


# --- rule text: a Markdown subset; estate strings: escaped only -----------------------------------


def test_rule_text_markdown_is_rendered():
    data = render_html(all_rules_document(), load_catalog()).decode()
    # NET001: remediation list items and code spans, the notes' bare link, the rationale's code
    net001 = data[data.index('id="rule-NET001"') : data.index("</section>", data.index('id="rule-NET001"'))]
    assert "<li>Azure Firewall: use application rules" in net001
    assert "<code>disableSnatOnPL</code>" in net001 and "<h4>Notes</h4>" in net001
    assert (
        '<a class="bare" href="https://learn.microsoft.com/azure/private-link/private-endpoint-overview" '
        'rel="noopener noreferrer">' in net001
    )
    assert "<ol><li>Move every caller to Microsoft Entra ID first" in data  # AOAI001's numbered steps
    assert "`" not in re.sub(r"<pre.*?</pre>", "", data, flags=re.S).split("<body>")[1]


def test_hostile_rule_text_stays_inert():
    catalog = dict(load_catalog())  # a copy: load_catalog() is cached
    evil = (
        f"{SCRIPT} [click](javascript:alert(1)) [x](data:text/html,{SCRIPT}) [doc](docs/findings.md) "
        f"[ok](https://learn.microsoft.com/azure/) **bold** `{IMG}`\n\n- item {IMG}"
    )
    catalog["NET001"] = dataclasses.replace(catalog["NET001"], rationale=evil, remediation=evil, notes=evil)
    data = render_html(document([finding(remediation=evil)]), catalog)
    p = assert_self_contained(data)
    assert_links_resolve(data)
    assert b"<script" not in data and b"javascript:" not in data.replace(b"[click](javascript:", b"")
    references = {r["url"] for r in catalog["NET001"].references}
    hrefs = [a["href"] for t, a in p.tags if t == "a" and not str(a["href"]).startswith("#")]
    assert sorted(set(hrefs) - references) == ["https://learn.microsoft.com/azure/"]
    assert data.count(b"<strong>bold</strong>") == 3  # rationale, notes, remediation
    assert SCRIPT in visible_text(data) and f"- item {IMG}" not in visible_text(data)


def test_estate_strings_are_never_markdown():
    """Messages, names, evidence and a document's own remediation text are escaped, never rendered: a
    crafted link in them stays text."""
    md = "**bold** `code` [phish](https://evil.example/login) https://evil.example/x"
    f = finding(
        message=md,
        resource_id=f"/x/{md}",
        remediation=md,  # not the catalog's text: shown as it is
        evidence=[{"kind": "property", "id": md, "path": md, "value": md, "note": md}],
        related_ids=[md],
    )
    data = render_html(document([f]), load_catalog())
    assert_self_contained(data)
    assert b"evil.example" in data and b'href="https://evil.example' not in data
    assert b"<strong>bold</strong>" not in data
    assert b"[phish](https://evil.example/login)" in data
