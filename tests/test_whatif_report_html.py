"""`pathaudit whatif --format html`: a complete, self-contained page (the evidence report's CSS and
Content-Security-Policy) whose body is one `<section class="whatif" id="whatif">`: the verdict first,
the findings as lists, the flow changes as a table, the route changes as added/removed lists. Every
estate string is escaped, and the same input gives the same bytes."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from conftest import REPO, run_cli
from helpers.html_checks import assert_self_contained
from helpers.report_docs import IMG, JAPANESE, SCRIPT, hostile_estate, write_estate

from auditor.report.text import short_name
from auditor.report.whatif_report import SHOWN, render_whatif

NVA = "/subscriptions/5c3f8a2e-9d41-4b7a-a6e3-2f8b1c0d7e95/resourceGroups/rg-connectivity-nva-weu/providers/Microsoft.Network/networkInterfaces/nic-nva-fw0"
S12 = REPO / "fixtures" / "scenarios" / "S12-nsg-not-enforced" / "resources.json"
VOID = {"br", "meta", "hr", "img", "input", "link", "wbr", "col", "source"}


class Page(HTMLParser):
    """The parts of a whatif page the tests read: the section's attributes, the text of each `<li>` per
    list class, the rows of the flow table (cell texts and classes), the verdict banner."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.sections: list[dict[str, str]] = []
        self.items: dict[str, list[str]] = {}  # class of the <ul>/<ol> -> text of each <li>
        self.fingerprints: dict[str, list[str]] = {}  # class of the <ul> -> <code class="fp"> texts
        self.rows: list[list[tuple[str, str]]] = []  # flow table: [(td class, td text)]
        self.verdict: list[tuple[str, str]] = []  # (banner classes, text)
        self.text: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.sections.append(a)
        if tag in VOID:
            return
        self.stack.append((tag, a))
        if tag == "li":
            self.items.setdefault(self._list_class(), []).append("")
        elif tag == "tr" and self._inside("table", "flows") and self._inside("tbody"):
            self.rows.append([])
        elif tag == "td" and self.rows and self._inside("table", "flows"):
            self.rows[-1].append((a.get("class", ""), ""))
        elif tag == "div" and a.get("id") == "verdict":
            self.verdict.append((a.get("class", ""), ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._inside("li"):
            key = self._list_class()
            self.items[key][-1] += data
            if self.stack[-1][0] == "code" and self.stack[-1][1].get("class") == "fp":
                self.fingerprints.setdefault(key, []).append(data)
        if self._inside("td") and self.rows and self.rows[-1]:
            cls, text = self.rows[-1][-1]
            self.rows[-1][-1] = (cls, text + data)
        if self._inside("div", id_="verdict") and self.verdict:
            cls, text = self.verdict[-1]
            self.verdict[-1] = (cls, text + data)

    def _inside(self, tag: str, cls: str | None = None, id_: str | None = None) -> bool:
        return any(
            t == tag
            and (cls is None or cls in a.get("class", "").split())
            and (id_ is None or a.get("id") == id_)
            for t, a in self.stack
        )

    def _list_class(self) -> str:
        for t, a in reversed(self.stack):
            if t in ("ul", "ol"):
                return a.get("class", "")
        return ""


def page(data: bytes) -> Page:
    p = Page()
    p.feed(data.decode("utf-8"))
    p.close()
    return p


def whatif(*args: str | Path, expect: int) -> tuple[bytes, dict[str, Any]]:
    """The html page and the json document of one change (two runs of the real CLI)."""
    code, out, err = run_cli("whatif", *args, "--format", "html")
    assert code == expect, err
    code, doc, err = run_cli("whatif", *args, "--format", "json")
    assert code == expect, err
    return out.encode("utf-8"), json.loads(doc)


def test_demo_fix_is_a_complete_page_listing_what_it_resolves() -> None:
    data, doc = whatif("--demo", "--tag", NVA + "1", "disableSnatOnPL=true", expect=0)
    assert data.startswith(b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
    assert_self_contained(data)  # parses; no script, no fetch; the evidence report's CSP
    p = page(data)
    assert p.doctype.lower() == "doctype html"
    assert p.sections == [{"class": "whatif", "id": "whatif"}]
    resolved = [f["fingerprint"] for f in doc["findings"]["resolved"]]
    assert len(resolved) == 2 and p.fingerprints["findings resolved"] == resolved
    assert "findings new" not in p.items
    assert len(p.fingerprints["findings unchanged"]) == len(doc["findings"]["unchanged"])
    [(cls, text)] = p.verdict
    assert "ok" in cls.split()
    assert " ".join(text.split()) == (
        "Verdict: nothing worse: no new or risen finding at or above medium, no flow newly broken, the "
        "gateway keeps every path (exit 0)"
    )
    [row] = p.rows  # rt-app: asymmetric -> symmetric through fw01, three endpoints
    cells = [t for _, t in row]
    assert cells[0].startswith("rt-app") and cells[1] == "asymmetric→symmetric"
    assert cells[2] == "nic-nva-fw01" and cells[3].count(":443") == 3 and cells[4] == "no"
    # the change, then where it came from (on a line of its own)
    assert p.items["changes"] == ["nic-nva-fw01: tag disableSnatOnPL=true--tag disableSnatOnPL"]


def test_a_change_that_adds_findings_is_not_safe_and_lists_them(tmp_path: Path) -> None:
    change = tmp_path / "cleanup.yaml"
    change.write_text(
        f"changes:\n  - id: {NVA}3\n    reason: tidy up tags\n    tags: {{disableSnatOnPL: null}}\n",
        encoding="utf-8",
    )
    data, doc = whatif("--demo", "--change", change, expect=1)
    p = page(data)
    new = [f["fingerprint"] for f in doc["findings"]["new"]]
    assert {f["rule_id"] for f in doc["findings"]["new"]} == {"NET001", "NET002"}
    assert p.fingerprints["findings new"] == new
    assert "findings resolved" not in p.fingerprints
    [(cls, text)] = p.verdict
    assert "bad" in cls.split()
    assert " ".join(text.split()).startswith("Verdict: NOT SAFE (exit 1, --fail-on medium) new NET001 (high)")
    assert p.items[""] == [w for w in doc["verdict"]["worse"]]  # the reasons, under the banner
    assert [[t for _, t in row][:2] for row in p.rows] == [
        ["rt-data1 subnet(s): vnet-data-weu/snet-data", "symmetric→asymmetric"]  # named with its VNet
    ]
    assert p.items["changes"][0].startswith("nic-nva-fw03: remove tag disableSnatOnPL (tidy up tags)")
    # the same change with --fail-on never: the findings no longer fail it
    code, out, _ = run_cli("whatif", "--demo", "--change", change, "--format", "html", "--fail-on", "never")
    assert code == 0 and "ok" in page(out.encode()).verdict[0][0].split()


def s12_blocking_the_gateway(tmp_path: Path) -> tuple[Path, str]:
    """S12 with its PE subnet's NSG admitting 10.9.9.0/24 only (not the APIM subnet): enforcing it
    blocks the gateway's path to the AI account."""
    rows = json.loads(S12.read_text(encoding="utf-8"))
    subnet = ""
    for row in rows:
        if row["type"] == "microsoft.network/networksecuritygroups":
            for rule in row["properties"]["securityRules"]:
                if rule["properties"]["access"] == "Allow":
                    rule["properties"]["sourceAddressPrefix"] = "10.9.9.0/24"
        for sn in (row.get("properties") or {}).get("subnets") or []:
            if sn["id"].endswith("/subnets/snet-pe"):
                subnet = sn["id"]
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path, subnet


def test_a_broken_gateway_path_is_marked_in_the_flow_table(tmp_path: Path) -> None:
    estate, subnet = s12_blocking_the_gateway(tmp_path)
    data, doc = whatif(estate, "--set", subnet, "properties.privateEndpointNetworkPolicies=Enabled", expect=1)
    p = page(data)
    broken = [x for x in doc["flows"] if x["breaks"]]
    assert broken
    marked = [row for row in p.rows if row[4][0] == "breaks"]
    assert len(marked) == len(broken)
    for row, x in zip(marked, broken, strict=True):
        assert row[4][1].startswith("yes: ") and row[1][1].endswith("→blocked")
        assert all(f"{d['id'].rsplit('/', 1)[-1]}:{d['port']}" in row[4][1] for d in x["breaks"])
    assert any("gateway path" in li for li in p.items[""])
    assert all(row[4] == ("nobreak", "no") for row in p.rows if row not in marked)


def test_route_changes_are_added_and_removed_lists(tmp_path: Path) -> None:
    rows = json.loads(S12.read_text(encoding="utf-8"))
    table = next(r for r in rows if r["type"] == "microsoft.network/routetables")
    nva = table["properties"]["routes"][0]["properties"]["nextHopIpAddress"]
    change = tmp_path / "change.json"
    route = {"name": "onprem", "addressPrefix": "192.168.0.0/16", "nextHopType": "VirtualAppliance"}
    change.write_text(
        json.dumps({"changes": [{"id": table["id"], "add_route": {**route, "nextHopIpAddress": nva}}]}),
        encoding="utf-8",
    )
    data, doc = whatif(S12, "--change", change, expect=0)
    p = page(data)
    [routes] = doc["routes"]
    assert p.items["routes added"] == routes["added"] and p.items["routes removed"] == routes["removed"]
    assert f"192.168.0.0/16 -> VirtualAppliance {nva} (User, Active)" in p.items["routes added"]


def test_hostile_names_tags_and_reasons_stay_text(tmp_path: Path) -> None:
    rows = hostile_estate()
    estate = write_estate(tmp_path, rows)
    target = next(r["id"] for r in rows if SCRIPT in r["id"])
    change = tmp_path / "c.json"
    change.write_text(
        json.dumps({"changes": [{"id": target, "tags": {IMG: SCRIPT}, "reason": f"{IMG} {JAPANESE}"}]}),
        encoding="utf-8",
    )
    code, out, err = run_cli(
        "whatif", estate, "--tag", target, f"note={IMG}", "--change", change, "--format", "html"
    )
    assert code in (0, 1, 3) and "Traceback" not in err, err
    data = out.encode("utf-8")
    assert_self_contained(data)  # no <script>, no <img>, no on* attribute got through
    assert SCRIPT not in out and IMG not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    text = "".join(page(data).text)
    assert f"note={IMG}" in text and f"({IMG} {JAPANESE})" in text  # shown, as text


def test_every_field_of_the_document_is_escaped() -> None:
    """Hostile strings in every place a whatif document carries estate text (a real document with its
    values replaced), rendered: nothing becomes markup, everything is shown."""
    _, doc = whatif("--demo", "--tag", NVA + "1", "disableSnatOnPL=true", expect=0)
    doc = copy.deepcopy(doc)
    bad = f"/subscriptions/x/{SCRIPT}{IMG}"
    doc["changes"] = [{"where": SCRIPT, "change": IMG, "reason": SCRIPT}]
    f = doc["findings"]["resolved"][0]
    f.update(resource_id=bad, title=IMG, fingerprint=SCRIPT, rule_id=IMG, severity=SCRIPT)
    doc["findings"]["new"] = [dict(f)]
    x = doc["flows"][0]
    x.update(context=bad, before=SCRIPT, after=IMG, appliances_before=[bad], appliances_after=[bad + "2"])
    x.update(subnets=[bad], subnets_total=1, destinations=[{"id": bad, "port": IMG}], destinations_total=1)
    x["breaks"] = [{"id": bad, "port": SCRIPT}]
    doc["flows_compared"] = IMG
    doc["routes"] = [{"context": bad, "subnets": [bad], "added": [SCRIPT], "removed": [IMG]}]
    doc["verdict"] = {"fail_on": IMG, "worse": [SCRIPT, IMG], "exit": 1}
    data = render_whatif(doc, "html")
    assert_self_contained(data)
    out = data.decode("utf-8")
    assert SCRIPT not in out and IMG not in out
    p = page(data)
    assert p.items["routes added"] == [SCRIPT] and p.items["routes removed"] == [IMG]
    assert p.items[""] == [SCRIPT, IMG]
    assert p.fingerprints["findings new"] == [SCRIPT]
    assert p.rows[0][4] == ("breaks", f"yes: {short_name(bad)}:{SCRIPT}")
    assert p.rows[0][:4] == [
        ("", f"{short_name(bad)}1 subnet(s): {short_name(bad)}"),
        ("", f"{SCRIPT}→{IMG}"),
        ("", f"{short_name(bad)}→{short_name(bad + '2')}"),
        ("", f"{short_name(bad)}:{IMG}"),
    ]
    text = "".join(p.text)
    assert all(s in text for s in (f"{IMG} ({SCRIPT})", f"--fail-on {IMG}", f"Compared: {IMG}", bad))
    assert render_whatif(doc, "html") == data


def test_long_lists_are_cut_and_say_how_many_more() -> None:
    _, doc = whatif("--demo", "--tag", NVA + "1", "disableSnatOnPL=true", expect=0)
    doc["flows"] = [copy.deepcopy(doc["flows"][0]) for _ in range(SHOWN + 3)]
    doc["flows"][0]["destinations_total"] = 250
    p = page(render_whatif(doc, "html"))
    assert len(p.rows) == SHOWN
    assert p.rows[0][3][1].endswith(" and 247 more")
    assert "… and 3 more (--format json lists them all)" in "".join(p.text)


def test_same_input_same_bytes(tmp_path: Path) -> None:
    args = ("whatif", "--demo", "--tag", NVA + "2", "disableSnatOnPL=true", "--format", "html")
    first = run_cli(*args)
    second = run_cli(*args, env={"SOURCE_DATE_EPOCH": "1700000000", "TZ": "Asia/Tokyo"})
    assert first[0] == second[0] == 0 and first[1] == second[1]
    code, _, err = run_cli(*args, "-o", tmp_path / "whatif.html")
    assert code == 0, err
    assert (tmp_path / "whatif.html").read_bytes() == first[1].encode("utf-8")
