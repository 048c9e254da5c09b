"""The HTML evidence report: one self-contained, print-friendly file for auditors.

Self-contained means no fetch of any kind: inline CSS, inline SVG, no scripts, no fonts, no images
from elsewhere, and a Content-Security-Policy that would block them anyway. The only links are in-page
anchors (the index of findings, the map's nodes) and https URLs: the catalog's references and the links
of its rule text. Nothing cites a document that does not ship with pathaudit (no relative link).

Every value is escaped with `h` (html.escape plus removal of characters HTML cannot carry); there is
no other way markup is built, except the rule catalog's own text (rationale, remediation, notes,
titles), which is escaped first and then rendered from a small Markdown subset
(auditor.report.ruletext). Estate-derived strings, and any text a findings document carries that is
not the catalog's, are only ever escaped.

Sections: a header with the time the report states (auditor.report.stamp: SOURCE_DATE_EPOCH or the
estate's collection time, never the clock), the summary, the estate map (auditor.report.estate_map:
drawn from the audited estate, or from the findings' flows when re-rendering a saved document),
coverage, the findings grouped by rule behind a linked index, and suppressions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from auditor.catalog import Rule
from auditor.findings import SEVERITIES
from auditor.report.estate_map import map_section
from auditor.report.pathsvg import flow_svg
from auditor.report.ruletext import inline, rule_html
from auditor.report.stamp import report_time
from auditor.report.text import encode_lines, h, short_name, text

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
TITLE = "pathaudit evidence report"

CSS = """
:root{--high:#b91c1c;--medium:#b45309;--low:#1d4ed8;--info:#4b5563;--line:#d1d5db;--muted:#6b7280}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK JP",sans-serif;
 color:#111827;margin:0 auto;max-width:1180px;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;border-bottom:2px solid #111827;padding-bottom:3px;margin-top:32px}
h3{font-size:16px;margin:0 0 6px}
code,.mono{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid var(--line);padding:4px 7px;
 text-align:left;vertical-align:top}th{background:#f3f4f6}td.n{text-align:right;width:6em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}dl.meta dt{font-weight:600}
dl.meta dd{margin:0}
.badge{display:inline-block;border-radius:4px;padding:0 6px;color:#fff;font-weight:600;font-size:12px}
.sev-high{background:var(--high)}.sev-medium{background:var(--medium)}.sev-low{background:var(--low)}
.sev-info{background:var(--info)}.supp{background:#6b7280}
.banner{padding:8px 12px;border-radius:6px;margin:10px 0;font-weight:600}
.ok{background:#dcfce7;border:1px solid #16a34a}.bad{background:#fee2e2;border:1px solid #b91c1c}
.warn{background:#fef3c7;border:1px solid #b45309}
article.finding{border:1px solid var(--line);border-left:6px solid var(--info);border-radius:6px;padding:12px 14px;
 margin:14px 0;break-inside:avoid-page}
article.finding.high{border-left-color:var(--high)}article.finding.medium{border-left-color:var(--medium)}
article.finding.low{border-left-color:var(--low)}article.finding.suppressed{opacity:.8;border-style:dashed}
pre.text{white-space:pre-wrap;font-family:inherit;font-size:13px;line-height:1.45;margin:4px 0;background:#f9fafb;padding:8px;border-radius:4px}
.muted{color:var(--muted)}
.bar{display:inline-block;height:10px;background:#9ca3af;vertical-align:middle}
.bar.high{background:var(--high)}.bar.medium{background:var(--medium)}.bar.low{background:var(--low)}
.flowwrap{overflow-x:auto;margin:6px 0}
svg.flow{font:12px system-ui,sans-serif;max-width:100%;height:auto}
svg.flow .hop rect{fill:#f9fafb;stroke:#6b7280;stroke-width:1.5}
svg.flow .hop.appliance rect{fill:#fde68a;stroke:#b45309;stroke-width:3}
svg.flow .hop.diverge rect{stroke:#b91c1c;stroke-width:3;stroke-dasharray:6 3}
svg.flow .kind{fill:#6b7280;font-size:11px}svg.flow .name{font-weight:600;fill:#111827}
svg.flow .ip{fill:#374151;font-size:11px}svg.flow .lane{font-weight:600;fill:#374151}
svg.flow .divergelabel{fill:#b91c1c;font-weight:700;font-size:11px}svg.flow .legend{fill:#6b7280;font-size:11px}
svg.flow line.fwd{stroke:#111827;stroke-width:2}svg.flow .fwdhead{fill:#111827}
svg.flow line.ret{stroke:#2563eb;stroke-width:2;stroke-dasharray:5 3}svg.flow .rethead{fill:#2563eb}
nav ul{display:flex;gap:16px;list-style:none;padding:0;margin:8px 0}
nav.index ul{display:block}nav.index>ul>li{margin:6px 0}
ul.idx{margin:2px 0 4px;padding-left:22px;list-style:none}ul.idx li{margin:1px 0}
details summary{cursor:pointer;color:var(--muted)}
.md p{margin:4px 0}.md ul,.md ol{margin:4px 0;padding-left:24px}.md li{margin:2px 0}
.md code{background:#f3f4f6;padding:0 3px;border-radius:3px}
.mapctl label{margin-right:14px;font-size:13px}.mapctl input{margin:0 4px 0 0;vertical-align:middle}
.mapwrap{overflow-x:auto;margin:8px 0;border:1px solid var(--line);border-radius:6px;background:#fff}
svg.map{display:block;font:12px system-ui,sans-serif;max-width:100%;height:auto}
svg.map .heading{fill:#374151;font-weight:700;font-size:11px;letter-spacing:.05em}
svg.map .caption{fill:#4b5563;font-weight:600}svg.map line.rule{stroke:#e5e7eb}
svg.map .box>rect{fill:#f9fafb;stroke:#9ca3af;stroke-width:1.2}
svg.map .box.hub>rect{fill:#eef2ff;stroke:#4338ca;stroke-width:2}
svg.map .box.vhub>rect{fill:#eef2ff;stroke:#4338ca;stroke-width:2;stroke-dasharray:7 3}
svg.map .box.onprem>rect{fill:#f3f4f6;stroke:#374151;stroke-dasharray:3 3}
svg.map .box.group>rect{fill:#fff;stroke:#6b7280;stroke-dasharray:4 3}
svg.map .box.appliance>rect{fill:#fde68a;stroke:#b45309}svg.map .box.pe>rect{fill:#dbeafe;stroke:#1d4ed8}
svg.map .box.source>rect{fill:#dcfce7;stroke:#15803d}
svg.map .name{font-weight:600;fill:#111827}svg.map .sub{fill:#6b7280;font-size:11px}
svg.map .count{fill:#374151;font-size:11px;font-weight:600}
svg.map .chip>rect{fill:#fff;stroke:#d1d5db}svg.map .chip text{fill:#111827;font-size:11px}
svg.map .chip .tag{fill:#6b7280;font-size:10px}
svg.map .chip.appliance>rect{fill:#fde68a;stroke:#b45309}svg.map .chip.pe>rect{fill:#dbeafe;stroke:#1d4ed8}
svg.map .chip.source>rect{fill:#dcfce7;stroke:#15803d}svg.map .chip.gateway>rect{fill:#e5e7eb;stroke:#374151}
svg.map .chip.more>rect{fill:#fff;stroke:#9ca3af;stroke-dasharray:3 2}
svg.map .hit>rect{stroke-width:2.5}svg.map .hit.sev-high>rect{stroke:var(--high)}
svg.map .hit.sev-medium>rect{stroke:var(--medium)}svg.map .hit.sev-low>rect{stroke:var(--low)}
svg.map a:hover>g>rect{fill:#fff7ed}
svg.map .edge path{fill:none;stroke-width:1.5}svg.map .edge.peer path{stroke:#9ca3af}
svg.map .edge.vwan path{stroke:#4338ca;stroke-dasharray:6 3}svg.map .edge.gw path{stroke:#374151;stroke-dasharray:3 3}
svg.map .edge.bad path{stroke:#b91c1c;stroke-dasharray:5 3;stroke-width:2}
svg.map .edge.flow path,svg.map .edge.bypass path{stroke-width:2.5;opacity:.85;stroke:var(--info)}
svg.map .edge.bypass path{stroke-dasharray:8 4}svg.map .edge polygon{fill:var(--info)}
svg.map .edge.sev-high path{stroke:var(--high)}svg.map .edge.sev-high polygon{fill:var(--high)}
svg.map .edge.sev-medium path{stroke:var(--medium)}svg.map .edge.sev-medium polygon{fill:var(--medium)}
svg.map .edge.sev-low path{stroke:var(--low)}svg.map .edge.sev-low polygon{fill:var(--low)}
svg.map .edge.suppressed{opacity:.35}
#mf-peer:not(:checked)~.mapwrap .edge.peer,#mf-peer:not(:checked)~.mapwrap .edge.vwan,
#mf-peer:not(:checked)~.mapwrap .edge.gw,#mf-flow:not(:checked)~.mapwrap .edge.flow,
#mf-flow:not(:checked)~.mapwrap .edge.bypass,#mf-quiet:not(:checked)~.mapwrap .quiet{display:none}
.legend{font-size:12px;color:#374151}
.key{display:inline-block;width:16px;height:10px;margin:0 3px 0 8px;vertical-align:middle;border:1px solid #9ca3af}
.k-hub{background:#eef2ff;border:2px solid #4338ca}.k-vnet{background:#f9fafb}
.k-app{background:#fde68a;border-color:#b45309}.k-pe{background:#dbeafe;border-color:#1d4ed8}
.k-src{background:#dcfce7;border-color:#15803d}.k-flow{height:0;border:0;border-top:3px solid var(--high)}
.k-bypass{height:0;border:0;border-top:3px dashed var(--high)}.k-peer{height:0;border:0;border-top:2px solid #9ca3af}
.k-bad{height:0;border:0;border-top:2px dashed #b91c1c}
@media print{
 body{max-width:none;padding:0;font-size:11pt}nav,.mapctl>input,.mapctl>label{display:none}
 a{color:inherit;text-decoration:none}
 a[href^="https:"]::after{content:" <" attr(href) ">";font-size:9pt;color:#374151}a.bare::after{content:none}
 h2{break-after:avoid}article.finding,table,svg{break-inside:avoid}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .flowwrap,.mapwrap{overflow:visible}svg.map{max-width:100%;height:auto}
}
"""


def _badge(severity: str, suppressed: bool = False) -> str:
    cls = f"sev-{severity}" if severity in SEVERITIES else "sev-info"
    out = f'<span class="badge {cls}">{h(severity)}</span>'
    if suppressed:
        out += ' <span class="badge supp">suppressed</span>'
    return out


def _href(url: Any) -> str | None:
    """A catalog reference's URL when it is https (the only links a report has, besides in-page anchors)."""
    u = text(url).strip()
    return u if u.lower().startswith("https://") else None


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return str(value)


def _table(headers: list[str], rows: list[str], empty: str | None = None) -> list[str]:
    """A table: `headers` are HTML (escape what is not literal), `rows` finished `<tr>` lines; with
    `empty`, a muted row spanning every column stands in for no rows."""
    if not rows and empty is not None:
        rows = [f'<tr><td colspan="{len(headers)}" class="muted">{empty}</td></tr>']
    return [
        "<table><thead><tr>" + "".join(f"<th>{x}</th>" for x in headers) + "</tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]


def _tr(*cells: str) -> str:
    """A row of plain cells (each already HTML)."""
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _code(value: Any) -> str:
    return f"<code>{h(value)}</code>"


def _meta(rows: list[tuple[str, str]]) -> list[str]:
    out = ['<dl class="meta">']
    for k, v in rows:
        out.append(f"<dt>{h(k)}</dt><dd>{v}</dd>")
    out.append("</dl>")
    return out


def _generated(document: dict[str, Any]) -> str:
    """When the report says it was made (auditor.report.stamp: never the clock) and where that comes from."""
    when = report_time(document)
    if when is None:
        return (
            '<span class="muted">not stated: the input records no collection time (set SOURCE_DATE_EPOCH '
            "to stamp the report)</span>"
        )
    source = "the estate's collection time" if when == report_time(document, {}) else "SOURCE_DATE_EPOCH"
    return f'{h(when)} <span class="muted">({h(source)})</span>'


def _header(document: dict[str, Any], catalog: dict[str, Rule]) -> list[str]:
    estate = document["estate"]
    inputs = (
        "<br>".join(f"<code>{h(i)}</code>" for i in estate["inputs"]) or '<span class="muted">none</span>'
    )
    out = [
        "<header>",
        f"<h1>{h(TITLE)}</h1>",
        '<p class="muted">Findings of pathaudit on an exported Azure estate: summary, a map of the estate '
        "with the broken flows, coverage, every finding with its evidence, remediation, references and "
        "control mappings.</p>",
    ]
    out += _meta(
        [
            ("generated at", _generated(document)),
            ("tool", f"{h(document['tool']['name'])} {h(document['tool']['version'])}"),
            ("findings schema", f"<code>{h(document['schema'])}</code>"),
            ("estate sha256", f"<code>{h(estate['sha256'])}</code>"),
            (
                "collected at",
                h(estate["collected_at"])
                if estate.get("collected_at")
                else '<span class="muted">not recorded in the input</span>',
            ),
            ("resources", h(estate["resources"])),
            ("inputs", inputs),
            ("rule catalog", f"{len(catalog)} rules"),
        ]
    )
    out.append("</header>")
    out.append(
        '<nav><ul><li><a href="#summary">Summary</a></li><li><a href="#map">Estate map</a></li>'
        '<li><a href="#coverage">Coverage</a></li><li><a href="#findings">Findings</a></li>'
        '<li><a href="#suppressions">Suppressions</a></li></ul></nav>'
    )
    return out


def _summary(document: dict[str, Any]) -> list[str]:
    summary = document["summary"]
    findings = document["findings"]
    peak = max([summary.get(s, 0) for s in SEVERITIES] + [summary.get("suppressed", 0), 1])
    out = ['<section id="summary">', "<h2>Summary</h2>"]
    bars = []
    for s in (*SEVERITIES, "suppressed"):
        n = int(summary.get(s, 0))
        width = round(240 * n / peak)
        bars.append(
            f'<tr><td>{h(s)}</td><td class="n">{n}</td><td><span class="bar {h(s)}" '
            f'style="width:{width}px"></span></td></tr>'
        )
    out += _table(["severity", "active findings", ""], bars)
    statuses: dict[str, int] = {}
    for f in findings:
        statuses[f["status"]] = statuses.get(f["status"], 0) + 1
    out += _table(
        ["status", "findings"],
        [f'<tr><td>{h(k)}</td><td class="n">{statuses[k]}</td></tr>' for k in sorted(statuses)],
        empty="no findings",
    )
    baseline = document.get("baseline")
    if baseline is not None:
        resolved = baseline.get("resolved") or []
        out.append(
            f"<p><strong>Baseline:</strong> {h(baseline.get('new', 0))} new, {h(baseline.get('unchanged', 0))} "
            f"unchanged, {len(resolved)} resolved.</p>"
        )
        if resolved:
            out += _table(
                ["resolved rule", "severity", "resource", "fingerprint"],
                [
                    _tr(
                        h(r.get("rule_id")),
                        h(r.get("severity")),
                        _code(r.get("resource_id")),
                        _code(r.get("fingerprint")),
                    )
                    for r in resolved
                ],
            )
    out.append("</section>")
    return out


def _coverage(document: dict[str, Any], catalog: dict[str, Rule]) -> list[str]:
    cov = document["coverage"]
    out = ['<section id="coverage">', "<h2>Coverage</h2>"]
    if cov["complete"]:
        out.append(
            '<div class="banner ok">Coverage complete: every input was read and every resource understood.</div>'
        )
    else:
        out.append(
            f'<div class="banner bad">Coverage INCOMPLETE: {len(cov["skipped"])} item(s) skipped. This report is '
            "not a clean bill of health for what was skipped.</div>"
        )
    warnings = document.get("warnings") or []
    for w in warnings:
        out.append(f'<div class="banner warn">{h(w.get("message"))}</div>')
    out.append("<h3>Skipped items</h3>")
    if cov["skipped"]:
        out += _table(
            ["file", "resource", "field", "problem", "effect"],
            [
                _tr(
                    _code(p.get("file")),
                    _code(p.get("resource_id")),
                    _code(p.get("field")),
                    h(p.get("problem")),
                    h(p.get("effect")),
                )
                for p in cov["skipped"]
            ],
        )
    else:
        out.append('<p class="muted">None.</p>')
    out.append("<h3>Rules not assessed</h3>")
    if cov["not_assessed"]:
        out += _table(
            ["rule", "title", "why"],
            [
                _tr(
                    h(n["rule_id"]),
                    inline(catalog[n["rule_id"]].title) if n["rule_id"] in catalog else "",
                    h(n["reason"]),
                )
                for n in cov["not_assessed"]
            ],
        )
    else:
        out.append('<p class="muted">None: every rule of the catalog was assessed.</p>')
    out.append("</section>")
    return out


SHOWN = 20  # destinations listed in a finding's section; the JSON and `--format flows` have them all


def _flow(grouped: dict[str, Any]) -> list[str]:
    """A findings@2 flow: what it concerns (sources, appliances, destinations), then its example path."""
    dests = [d for d in grouped.get("destinations") or [] if isinstance(d, dict)]
    total = given if isinstance(given := grouped.get("destinations_total"), int) else len(dests)
    listed = "<br>".join(
        f"<code>{h(d.get('id'))}</code> {h(d.get('ip'))}:{h(d.get('port'))}" for d in dests[:SHOWN]
    )
    if total > min(len(dests), SHOWN):
        listed += (
            f'<br><span class="muted">and {total - min(len(dests), SHOWN)} more (all in the JSON document; every '
            "flow with <code>--format flows</code>)</span>"
        )
    out = ["<h4>Flows</h4>"]
    out += _meta(
        [
            (
                "route contexts",
                "<br>".join(f"<code>{h(x)}</code>" for x in grouped.get("sources") or []) or "-",
            ),
            (
                "appliances",
                "<br>".join(f"<code>{h(x)}</code>" for x in grouped.get("appliances") or []) or "-",
            ),
            (f"destinations ({h(total)})", listed or "-"),
        ]
    )
    example = found if isinstance(found := grouped.get("example"), dict) else {}
    return out + _example(example)


def _example(flow: dict[str, Any]) -> list[str]:
    out = ["<h4>Example path</h4>"]
    out += _meta(
        [
            ("source", f"<code>{h(flow.get('source'))}</code>"),
            (
                "source subnets",
                "<br>".join(f"<code>{h(s)}</code>" for s in flow.get("source_subnets") or []) or "-",
            ),
            ("source prefixes", h(", ".join(text(p) for p in flow.get("source_prefixes") or [])) or "-"),
            ("destination", f"<code>{h(flow.get('destination'))}</code>"),
            (
                "destination ip:port",
                f"{h(flow.get('destination_ip'))}:{h(flow.get('port') if flow.get('port') is not None else 'any')}",
            ),
            ("verdict", f"<strong>{h(flow.get('verdict'))}</strong>"),
        ]
    )
    out.append(f'<div class="flowwrap">{flow_svg(flow)}</div>')
    for lane in ("forward", "return"):
        rows = []
        for hop in (x for x in flow.get(lane) or [] if isinstance(x, dict)):
            route = hop.get("route") or {}
            rtext = (
                ", ".join(f"{k} {text(v)}" for k, v in sorted(route.items()) if v)
                if isinstance(route, dict)
                else ""
            )
            rows.append(
                _tr(
                    h(hop.get("hop")),
                    h(hop.get("kind")),
                    h(hop.get("ip")),
                    _code(hop.get("id")),
                    h(rtext),
                    h(hop.get("note")),
                )
            )
        out += _table(
            [f"{h(lane)} hop", "kind", "ip", "resource", "route", "note"], rows, empty="no hops recorded"
        )
    return out


def _rule_refs(rule: Rule | None) -> list[str]:
    if rule is None:
        return ['<p class="muted">This rule is not in the rule catalog of this pathaudit version.</p>']
    out = ["<h4>Why it matters</h4>", f'<div class="md">{rule_html(rule.rationale)}</div>']
    if rule.notes:
        out += ["<h4>Notes</h4>", f'<div class="md">{rule_html(rule.notes)}</div>']
    out += ["<h4>References</h4>", "<ul>"]
    for r in rule.references:
        url = _href(r.get("url"))
        label = h(r.get("title") or r.get("url"))
        out.append(
            f'<li><a href="{h(url)}" rel="noreferrer noopener">{label}</a></li>'
            if url
            else f"<li>{label}</li>"
        )
    out.append("</ul>")
    out.append("<h4>Control mappings</h4>")
    rows = []
    for p in rule.mappings.get("azure_policy") or []:
        rows.append(("Azure Policy", f"<code>{h(p.get('id'))}</code> {h(p.get('name', ''))}"))
    if not rule.mappings.get("azure_policy"):
        rows.append(("Azure Policy", '<span class="muted">no built-in policy</span>'))
    rows.append(("MCSB", h(", ".join(rule.mappings.get("mcsb") or [])) or '<span class="muted">none</span>'))
    rows.append(
        (
            "NIST SP 800-53",
            h(", ".join(rule.mappings.get("nist_800_53") or [])) or '<span class="muted">none</span>',
        )
    )
    out += _meta(rows)
    return out


def _title(f: dict[str, Any], rule: Rule | None) -> str:
    """The rule catalog's title (code spans rendered) when the finding carries it, else its own, escaped."""
    own = text(f.get("title"))
    return inline(own) if rule is not None and own == rule.title else h(own)


def _remediation(f: dict[str, Any], rule: Rule | None) -> str:
    """The rule catalog's remediation rendered (its Markdown subset) when the finding carries exactly that
    text; any other text (an older version's, a crafted document's) is shown as it is, escaped."""
    fix = text(f.get("remediation"))
    if rule is not None and fix == rule.remediation:
        return f'<div class="md">{rule_html(fix)}</div>'
    return f'<pre class="text">{h(fix)}</pre>'


def _finding(
    f: dict[str, Any], index: int, rule: Rule | None, anchor: str, same_fix_as: int | None = None
) -> list[str]:
    """One finding (its element id is `anchor`); `same_fix_as` is the number of an earlier finding of the
    rule whose remediation text is identical: it is referred to instead of repeated (a rule's fix is
    usually one text)."""
    sup = f.get("suppression")
    classes = ["finding", f["severity"] if f["severity"] in SEVERITIES else "info"]
    if sup:
        classes.append("suppressed")
    out = [
        f'<article class="{" ".join(classes)}" id="{h(anchor)}">',
        f"<h3>{index}. {_badge(f['severity'], bool(sup))} {h(f['rule_id'])} {_title(f, rule)}: "
        f"{h(short_name(f['resource_id']))}</h3>",
        f"<p>{h(f.get('message'))}</p>",
    ]
    rows = [("status", h(f["status"])), ("resource", f"<code>{h(f['resource_id'])}</code>")]
    related = [r for r in f.get("related_ids") or [] if r.lower() != f["resource_id"].lower()]
    if related:
        rows.append(("related", "<br>".join(f"<code>{h(r)}</code>" for r in related)))
    rows.append(("fingerprint", f"<code>{h(f.get('fingerprint'))}</code>"))
    if f.get("baseline"):
        rows.append(("baseline", h(f["baseline"])))
    if sup:
        rows.append(
            (
                "suppressed",
                f"{h(sup.get('reason'))} (expires {h(sup.get('expires'))}"
                + (f", approved by {h(sup.get('approved_by'))}" if sup.get("approved_by") else "")
                + ")",
            )
        )
    if f.get("suppression_expired"):
        ex = f["suppression_expired"]
        rows.append(
            ("suppression expired", f"{h(ex.get('reason'))} (expired {h(ex.get('expires'))}): not applied")
        )
    out += _meta(rows)
    if f.get("flow"):
        out += _flow(f["flow"])
    out.append("<h4>Evidence</h4>")
    evidence = f.get("evidence") or []
    if evidence:
        out += _table(
            ["kind", "resource", "property", "value", "note"],
            [
                _tr(
                    h(e.get("kind")),
                    _code(e.get("id")),
                    _code(e.get("path")),
                    _code(_value(e.get("value"))),
                    h(e.get("note")),
                )
                for e in evidence
            ],
        )
    else:
        out.append('<p class="muted">No evidence properties recorded.</p>')
    if same_fix_as is None:
        out += ["<h4>Remediation</h4>", _remediation(f, rule)]
    else:
        out += ["<h4>Remediation</h4>", f'<p class="muted">As for finding {same_fix_as} above.</p>']
    out.append("</article>")
    return out


def finding_anchors(findings: list[dict[str, Any]]) -> list[str]:
    """The element id of each finding: `f-` and its fingerprint's letters and digits; a finding whose
    fingerprint is empty or already taken (a crafted document) gets its number appended, so every id
    is unique and every link resolves."""
    seen: set[str] = set()
    out = []
    for i, f in enumerate(findings, 1):
        base = "f-" + "".join(c for c in text(f.get("fingerprint")) if c.isalnum())[:64]
        anchor = base if base != "f-" and base not in seen else f"{base}-{i}"
        seen.add(anchor)
        out.append(anchor)
    return out


INDEX_OPEN = 10  # a rule's findings are listed open in the index up to this many, else folded


def _index(
    groups: dict[str, list[tuple[int, dict[str, Any]]]],
    catalog: dict[str, Rule],
    rule_ids: dict[str, str],
    anchors: list[str],
) -> list[str]:
    """The index: each rule (link to its section) with its findings (links to each), folded (no script:
    `<details>`) when a rule has more than INDEX_OPEN."""
    out = ['<nav class="index"><ul>']
    for rid, items in groups.items():
        rule = catalog.get(rid)
        title = f" {inline(rule.title)}" if rule is not None else ""
        out.append(f'<li><a href="#{h(rule_ids[rid])}">{h(rid)}</a>{title} ({len(items)})')
        entries = [
            f'<li><a href="#{h(anchors[i - 1])}">{i}. {h(short_name(text(f.get("resource_id"))))}</a> '
            f'<span class="muted">{h(f.get("severity"))}, {h(f.get("status"))}'
            + (", suppressed" if f.get("suppression") else "")
            + "</span></li>"
            for i, f in items
        ]
        if len(items) > INDEX_OPEN:
            out.append(f"<details><summary>{len(items)} findings</summary>")
            out += ['<ul class="idx">', *entries, "</ul>", "</details></li>"]
        else:
            out += ['<ul class="idx">', *entries, "</ul></li>"]
    out.append("</ul></nav>")
    return out


def _findings(document: dict[str, Any], catalog: dict[str, Rule], anchors: list[str]) -> list[str]:
    """Findings grouped by rule, most severe rule first: an index of the rules with their findings (each a
    link), then per rule its rationale, references and mappings once and its findings (numbered in
    document order)."""
    findings = document["findings"]
    out = ['<section id="findings">', f"<h2>Findings ({len(findings)})</h2>"]
    if not findings:
        return [*out, '<p class="muted">No findings.</p>', "</section>"]
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, f in enumerate(findings, 1):
        groups.setdefault(str(f["rule_id"]), []).append((i, f))
    rule_ids: dict[str, str] = {}
    for rid in groups:
        base = f"rule-{_anchor(rid)}"
        rule_ids[rid] = base if base not in rule_ids.values() else f"{base}-{len(rule_ids) + 1}"
    out += _index(groups, catalog, rule_ids, anchors)
    for rid, items in groups.items():
        rule = catalog.get(rid)
        out.append(f'<section class="rule" id="{h(rule_ids[rid])}">')
        out.append(
            f"<h3>{h(rid)}{(' ' + inline(rule.title)) if rule is not None else ''} ({len(items)})</h3>"
        )
        out += _rule_refs(rule)
        first_with: dict[str, int] = {}
        for i, f in items:
            fix = text(f.get("remediation"))
            out += _finding(f, i, rule, anchors[i - 1], first_with.get(fix))
            first_with.setdefault(fix, i)
        out.append("</section>")
    out.append("</section>")
    return out


def _anchor(rule_id: str) -> str:
    return "".join(c for c in rule_id if c.isalnum())


def _suppressions(document: dict[str, Any], anchors: list[str]) -> list[str]:
    out = ['<section id="suppressions">', "<h2>Suppressions</h2>"]
    rows = [(i, f) for i, f in enumerate(document["findings"], 1) if f.get("suppression")]
    if rows:
        lines = []
        for i, f in rows:
            s = f["suppression"]
            fp = "".join(c for c in text(f.get("fingerprint")) if c.isalnum())
            lines.append(
                _tr(
                    f'<a href="#{h(anchors[i - 1])}">{i}. {h(fp[:12])}</a>',
                    h(f["rule_id"]),
                    _code(f["resource_id"]),
                    h(s.get("reason")),
                    h(s.get("expires")),
                    h(s.get("approved_by")),
                    _code(s.get("resource")),
                )
            )
        out += _table(
            ["finding", "rule", "resource", "reason", "expires", "approved by", "suppression glob"], lines
        )
    else:
        out.append('<p class="muted">No finding is suppressed.</p>')
    expired = document.get("warnings") or []
    if expired:
        table = _table(
            ["rule", "resource glob", "expired", "message"],
            [
                _tr(h(w.get("rule_id")), _code(w.get("resource")), h(w.get("expires")), h(w.get("message")))
                for w in expired
            ],
        )
        out += ["<h3>Expired suppressions (not applied)</h3>" + table[0], *table[1:]]
    out.append("</section>")
    return out


def page_head(title: str, css: str) -> list[str]:
    """The start of every pathaudit page, up to <body>: no script and nothing fetched (the CSP forbids
    both), no referrer, inline CSS."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{h(CSP)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{h(title)}</title>",
        f"<style>{css}</style>",
        "</head>",
        "<body>",
    ]


def _lines_html(document: dict[str, Any], catalog: dict[str, Rule], estate: Any = None) -> list[str]:
    out = page_head(TITLE, CSS)
    anchors = finding_anchors(document["findings"])
    out += _header(document, catalog)
    out += _summary(document)
    out += map_section(document, anchors, estate)
    out += _coverage(document, catalog)
    out += _findings(document, catalog, anchors)
    out += _suppressions(document, anchors)
    meta = document["estate"]
    out.append(
        f'<footer><p class="muted">pathaudit {h(document["tool"]["version"])} · estate sha256 '
        f"<code>{h(meta['sha256'])}</code> · collected at {h(meta.get('collected_at') or 'unknown')} · "
        f"generated at {h(report_time(document) or 'unknown')}</p></footer>"
    )
    out += ["</body>", "</html>"]
    return out


def iter_html(document: dict[str, Any], catalog: dict[str, Rule], *, estate: Any = None) -> Iterator[bytes]:
    """The report in pieces; `estate` (auditor.estate.model.Estate, from an audit run) draws the whole
    estate on the map, None (a saved findings document) draws the findings' flows only."""
    return encode_lines(_lines_html(document, catalog, estate))


def render_html(document: dict[str, Any], catalog: dict[str, Rule], *, estate: Any = None) -> bytes:
    return b"".join(iter_html(document, catalog, estate=estate))
