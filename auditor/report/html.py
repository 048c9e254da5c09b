"""The HTML evidence report: one self-contained, print-friendly file for auditors.

Self-contained means no fetch of any kind: inline CSS, inline SVG, no scripts, no fonts, no images
from elsewhere, and a Content-Security-Policy that would block them anyway. The only URLs are the
catalog's references, as plain `<a href>` links (http/https only). Every value is escaped with `h`
(html.escape plus removal of characters HTML cannot carry); there is no other way markup is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from auditor.catalog import Rule
from auditor.findings import SEVERITIES
from auditor.report.pathsvg import flow_svg
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
@media print{
 body{max-width:none;padding:0;font-size:11pt}nav{display:none}
 a{color:inherit;text-decoration:none}a[href]::after{content:" <" attr(href) ">";font-size:9pt;color:#374151}
 h2{break-after:avoid}article.finding,table,svg{break-inside:avoid}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .flowwrap{overflow:visible}
}
"""


def _badge(severity: str, suppressed: bool = False) -> str:
    cls = f"sev-{severity}" if severity in SEVERITIES else "sev-info"
    out = f'<span class="badge {cls}">{h(severity)}</span>'
    if suppressed:
        out += ' <span class="badge supp">suppressed</span>'
    return out


def _href(url: Any) -> str | None:
    u = text(url).strip()
    return u if u.lower().startswith(("https://", "http://")) else None


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


def _header(document: dict[str, Any], catalog: dict[str, Rule]) -> list[str]:
    estate = document["estate"]
    inputs = (
        "<br>".join(f"<code>{h(i)}</code>" for i in estate["inputs"]) or '<span class="muted">none</span>'
    )
    out = [
        "<header>",
        f"<h1>{h(TITLE)}</h1>",
        '<p class="muted">Findings of pathaudit on an exported Azure estate: summary, coverage, every finding '
        "with its evidence, remediation, references and control mappings.</p>",
    ]
    out += _meta(
        [
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
        '<nav><ul><li><a href="#summary">Summary</a></li><li><a href="#coverage">Coverage</a></li>'
        '<li><a href="#findings">Findings</a></li><li><a href="#suppressions">Suppressions</a></li></ul></nav>'
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
                    h(catalog[n["rule_id"]].title if n["rule_id"] in catalog else ""),
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
    out = [
        "<h4>Why it matters</h4>",
        f'<pre class="text">{h(rule.rationale)}</pre>',
        "<h4>References</h4>",
        "<ul>",
    ]
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


def _finding(f: dict[str, Any], index: int, rule: Rule | None, same_fix_as: int | None = None) -> list[str]:
    """One finding; `same_fix_as` is the number of an earlier finding of the rule whose remediation text
    is identical: it is referred to instead of repeated (a rule's fix is usually one text)."""
    sup = f.get("suppression")
    classes = ["finding", f["severity"] if f["severity"] in SEVERITIES else "info"]
    if sup:
        classes.append("suppressed")
    fp = "".join(c for c in text(f.get("fingerprint")) if c.isalnum())
    out = [
        f'<article class="{" ".join(classes)}" id="f-{fp}">',
        f"<h3>{index}. {_badge(f['severity'], bool(sup))} {h(f['rule_id'])} {h(f.get('title'))}: "
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
        out += ["<h4>Remediation</h4>", f'<pre class="text">{h(f.get("remediation"))}</pre>']
    else:
        out += ["<h4>Remediation</h4>", f'<p class="muted">As for finding {same_fix_as} above.</p>']
    out.append("</article>")
    return out


def _findings(document: dict[str, Any], catalog: dict[str, Rule]) -> list[str]:
    """Findings grouped by rule, most severe rule first: an index of the rules with their counts, then
    per rule its rationale, references and mappings once and its findings (numbered in document order)."""
    findings = document["findings"]
    out = ['<section id="findings">', f"<h2>Findings ({len(findings)})</h2>"]
    if not findings:
        return [*out, '<p class="muted">No findings.</p>', "</section>"]
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, f in enumerate(findings, 1):
        groups.setdefault(str(f["rule_id"]), []).append((i, f))
    out.append('<nav class="index"><ul>')
    for rid, items in groups.items():
        rule = catalog.get(rid)
        title = f" {h(rule.title)}" if rule is not None else ""
        out.append(f'<li><a href="#rule-{h(_anchor(rid))}">{h(rid)}</a>{title} ({len(items)})</li>')
    out.append("</ul></nav>")
    for rid, items in groups.items():
        rule = catalog.get(rid)
        out.append(f'<section class="rule" id="rule-{h(_anchor(rid))}">')
        out.append(f"<h3>{h(rid)}{(' ' + h(rule.title)) if rule is not None else ''} ({len(items)})</h3>")
        out += _rule_refs(rule)
        first_with: dict[str, int] = {}
        for i, f in items:
            fix = text(f.get("remediation"))
            out += _finding(f, i, rule, first_with.get(fix))
            first_with.setdefault(fix, i)
        out.append("</section>")
    out.append("</section>")
    return out


def _anchor(rule_id: str) -> str:
    return "".join(c for c in rule_id if c.isalnum())


def _suppressions(document: dict[str, Any]) -> list[str]:
    out = ['<section id="suppressions">', "<h2>Suppressions</h2>"]
    rows = [f for f in document["findings"] if f.get("suppression")]
    if rows:
        lines = []
        for f in rows:
            s = f["suppression"]
            fp = "".join(c for c in text(f.get("fingerprint")) if c.isalnum())
            lines.append(
                _tr(
                    f'<a href="#f-{fp}">{h(fp[:12])}</a>',
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


def _lines_html(document: dict[str, Any], catalog: dict[str, Rule]) -> list[str]:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{h(CSP)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{h(TITLE)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
    ]
    out += _header(document, catalog)
    out += _summary(document)
    out += _coverage(document, catalog)
    out += _findings(document, catalog)
    out += _suppressions(document)
    estate = document["estate"]
    out.append(
        f'<footer><p class="muted">pathaudit {h(document["tool"]["version"])} · estate sha256 '
        f"<code>{h(estate['sha256'])}</code> · collected at {h(estate.get('collected_at') or 'unknown')}</p>"
        "</footer>"
    )
    out += ["</body>", "</html>"]
    return out


def iter_html(document: dict[str, Any], catalog: dict[str, Rule]) -> Iterator[bytes]:
    return encode_lines(_lines_html(document, catalog))


def render_html(document: dict[str, Any], catalog: dict[str, Rule]) -> bytes:
    return b"".join(iter_html(document, catalog))
