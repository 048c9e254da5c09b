"""Reports stay readable at scale: the table summarises beyond a screenful, the HTML report groups
findings by rule behind an index and states each rule's rationale once, SARIF warns about GitHub's
limits and caps related locations."""

from __future__ import annotations

import io
import json

from helpers.report_docs import document, finding

from auditor.catalog import load_catalog
from auditor.report.html import render_html
from auditor.report.sarif import GITHUB_LOCATIONS, github_warnings, render_sarif
from auditor.report.table import ROWS_SHOWN, render_table


def many(n: int, rule: str = "NET007", **extra) -> list[dict]:
    return [
        finding(
            rule,
            resource_id=f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt{i:05}",
            fingerprint=f"{i:032x}",
            **extra,
        )
        for i in range(n)
    ]


def test_table_shows_a_screenful_and_says_how_to_see_all() -> None:
    out = io.StringIO()
    render_table(document(many(ROWS_SHOWN + 7)), out)
    text = out.getvalue()
    assert "rt00049" in text and "rt00050" not in text
    assert "and 7 more findings" in text and "--format html" in text
    out = io.StringIO()
    render_table(document(many(3)), out)
    assert "more findings" not in out.getvalue()


def test_html_groups_by_rule_with_an_index_and_one_rationale_per_rule() -> None:
    catalog = load_catalog()
    data = render_html(document([*many(4, "NET007"), *many(2, "AOAI001")]), catalog).decode()
    assert data.count('<section class="rule"') == 2
    assert '<a href="#rule-NET007">NET007</a>' in data and '<a href="#rule-AOAI001">AOAI001</a>' in data
    assert data.count("<h4>Why it matters</h4>") == 2  # once per rule, not once per finding
    assert data.count('<article class="finding') == 6


def test_sarif_warns_over_githubs_limits_and_caps_locations() -> None:
    assert github_warnings(document(many(10))) == []
    assert "top 5,000" in github_warnings(document(many(5001)))[0]
    assert "rejects" in github_warnings(document(many(25001)))[0]
    related = [
        f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe{i}"
        for i in range(1500)
    ]
    sarif = json.loads(render_sarif(document(many(1, related_ids=related)), load_catalog()))
    assert len(sarif["runs"][0]["results"][0]["relatedLocations"]) == GITHUB_LOCATIONS


def test_html_states_a_repeated_remediation_once_per_rule() -> None:
    fix_a, fix_b = "Tag the NIC with disableSnatOnPL=true.", "Declare SNAT in the config file."
    findings = [*many(3, "NET002", remediation=fix_a), *many(1, "NET002", remediation=fix_b)]
    findings[3]["resource_id"] += "-b"
    data = render_html(document(findings), load_catalog()).decode()
    assert data.count(fix_a) == 1 and data.count(fix_b) == 1
    assert data.count("As for finding 1 above.") == 2
