"""The HTML evidence report, read statically: self-contained, escaped, complete, with path diagrams."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import pytest
from conftest import grouped
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

from auditor.audit import run_audit
from auditor.catalog import load_catalog
from auditor.config import Config
from auditor.report.html import CSP, render_html
from auditor.report.pathsvg import divergence, flow_svg


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)


def parse(data: bytes) -> Tags:
    p = Tags()
    p.feed(data.decode("utf-8"))
    p.close()
    return p


def assert_self_contained(data: bytes) -> Tags:
    """No script, no event handler, no element that fetches; URLs only in <a href>; the CSP meta."""
    p = parse(data)
    names = [t for t, _ in p.tags]
    assert "script" not in names and "iframe" not in names and "object" not in names and "embed" not in names
    assert "img" not in names and "link" not in names and "base" not in names and "form" not in names
    for tag, attrs in p.tags:
        for k, v in attrs.items():
            assert not k.startswith("on"), (tag, k)
            assert k not in ("src", "srcset", "xlink:href", "action", "formaction", "background", "poster"), (
                tag,
                k,
            )
            if k == "href":
                assert tag == "a" and (
                    v.startswith("#") or v.startswith("https://") or v.startswith("http://")
                ), v
            elif (
                v
                and re.search(r"(?i)(https?:|javascript:|data:|//)", v)
                and not (tag == "meta" and k == "content")
            ):
                raise AssertionError(f"URL-like attribute {tag} {k}={v!r}")
    metas = [
        a
        for t, a in p.tags
        if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"
    ]
    assert [m["content"] for m in metas] == [CSP]
    assert CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert "url(" not in p.style and "@import" not in p.style
    # outside <a href="...">, no http(s) URL anywhere in the file
    stripped = re.sub(rb'<a href="https?://[^"]*"', b"<a", data)
    assert b"http://" not in stripped and b"https://" not in stripped
    return p


@pytest.fixture(scope="module")
def hostile_html(tmp_path_factory) -> bytes:
    tmp = tmp_path_factory.mktemp("hostile")
    doc = run_audit([write_estate(tmp, hostile_estate())], Config()).document()
    return render_html(doc, load_catalog())


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
    assert data.count(b"<script") == 0 and data.count(b"<img") == 0
    assert [t for t, _ in p.tags].count("svg") == 1
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
    svg = data[data.index(b"<svg") : data.index(b"</svg>")].decode()
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
