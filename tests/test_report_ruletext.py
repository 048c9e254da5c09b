"""The Markdown subset of rule text in the HTML report (auditor/report/ruletext.py): escaped first, then
only code spans, bold, lists, paragraphs and https links; everything else stays inert text."""

from __future__ import annotations

import re

import pytest
from helpers.report_docs import IMG, SCRIPT

from auditor.catalog import load_catalog
from auditor.report.ruletext import inline, rule_html


def test_paragraphs_lists_code_bold_and_links():
    src = (
        "Pick **one** per appliance:\n"
        '- Azure Firewall: use `properties.snat.privateRanges: ["255.255.255.255/32"]`, see\n'
        "  [SNAT ranges](https://learn.microsoft.com/azure/firewall/snat-private-range).\n"
        "- NVA: tag the NIC `disableSnatOnPL=true`.\n"
        "Then run `pathaudit confirm`.\n"
        "\n"
        "1. first\n"
        "   continued\n"
        "2. second (https://docs.github.com/en/code-security).\n"
    )
    out = rule_html(src)
    assert out.splitlines() == [
        "<p>Pick <strong>one</strong> per appliance:</p>",
        "<ul><li>Azure Firewall: use <code>properties.snat.privateRanges: [&quot;255.255.255.255/32&quot;]</code>, "
        'see <a href="https://learn.microsoft.com/azure/firewall/snat-private-range" rel="noopener noreferrer">'
        "SNAT ranges</a>.</li><li>NVA: tag the NIC <code>disableSnatOnPL=true</code>.</li></ul>",
        "<p>Then run <code>pathaudit confirm</code>.</p>",
        '<ol><li>first continued</li><li>second (<a class="bare" href="https://docs.github.com/en/code-security" '
        'rel="noopener noreferrer">https://docs.github.com/en/code-security</a>).</li></ol>',
    ]


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](http://example.com/plain-http)",
        "[x](docs/findings.md)",
        "[x](../README.md)",
        "[x](//evil.example/x)",
        "[x](https://)",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_only_https_links_become_links(link):
    out = inline(f"see {link} now")
    assert "<a" not in out and "href" not in out, out
    assert "<script" not in out


def test_a_quote_cannot_leave_the_href():
    out = inline('[x](https://a.example/"onmouseover="alert(1))')
    hrefs = re.findall(r"<a [^>]*>", out)
    assert hrefs == ['<a class="bare" href="https://a.example/" rel="noopener noreferrer">']
    assert "onmouseover=&quot;alert(1)" in out and 'onmouseover="' not in out


def test_hostile_rule_text_stays_inert():
    src = (
        f"{SCRIPT}\n\n- {IMG}\n- `{SCRIPT}` **{IMG}**\n\n[{SCRIPT}](https://learn.microsoft.com/x?a=1&b=<i>)"
    )
    out = rule_html(src)
    assert "<script" not in out and "<img" not in out and "<i>" not in out
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in out
        and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in out
    )
    tags = set(re.findall(r"</?([a-z0-9]+)", out))
    assert tags <= {"p", "ul", "ol", "li", "code", "strong", "a"}, tags
    # the link survives with its label escaped, its URL cut where the escaped text stops being a URL
    assert '<a href="https://learn.microsoft.com/x?a=1&amp;b=" rel="noopener noreferrer">' not in out
    for href in re.findall(r'href="([^"]*)"', out):
        assert href.startswith("https://") and "<" not in href and '"' not in href


def test_no_markup_inside_code_spans():
    assert inline("`**not bold** [x](https://a.example) https://b.example`") == (
        "<code>**not bold** [x](https://a.example) https://b.example</code>"
    )


def test_no_nested_links():
    out = inline("[https://a.example](https://b.example)")
    assert out.count("<a ") == 1 and 'href="https://b.example"' in out


def test_every_rule_text_renders_to_the_subset():
    """Every rationale, remediation and note of the catalog: only the subset's elements, every link https
    with rel=noopener noreferrer, no Markdown syntax left over that the subset should have rendered."""
    for rule in load_catalog().values():
        for field in (rule.rationale, rule.remediation, rule.notes or ""):
            out = rule_html(field)
            assert set(re.findall(r"<([a-z0-9]+)", out)) <= {"p", "ul", "ol", "li", "code", "strong", "a"}
            for a in re.findall(r"<a [^>]*>", out):
                assert re.fullmatch(
                    r'<a (class="bare" )?href="https://[^"]+" rel="noopener noreferrer">', a
                ), a
            text = re.sub(r"<code>.*?</code>", "", out)
            assert "**" not in text and "](" not in text, (rule.id, text)
