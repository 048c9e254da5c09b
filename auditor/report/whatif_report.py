"""`pathaudit whatif` output: the change, findings resolved / unchanged / new, flows whose verdict
changed, effective routes that changed, and whether the change may go ahead.

Formats: `table` (terminal), `json` (pathaudit/whatif@1), `markdown` (for a change-request ticket),
`html` (a self-contained page in the evidence report's style: its CSS and Content-Security-Policy, no
script, no fetch; the body is one `<section class="whatif" id="whatif">`). Every estate string is
escaped for its format (names and tags are attacker-controlled); the same input gives the same bytes.
Every format names a resource with its parents (`vnet-a/snet-pe`, auditor.ids.qualified_name), as the
verdict's reasons do.
"""

from __future__ import annotations

import json
from typing import Any

from auditor.ids import qualified_name
from auditor.report.text import encode_lines, h, md
from auditor.safetext import terminal

WHATIF_SCHEMA = "pathaudit/whatif@1"
FORMATS = ("table", "json", "markdown", "html")
SHOWN = 50  # flow groups and routes listed in the table and Markdown (JSON has them all)
CAP = 100  # subnets and endpoints listed per flow group (the totals count them all), as in findings@2


def _finding(f: dict[str, Any]) -> dict[str, Any]:
    return {k: f.get(k) for k in ("fingerprint", "rule_id", "severity", "status", "resource_id", "title")}


def whatif_document(w: Any, fail_on: str) -> dict[str, Any]:
    """The comparison as data (auditor.whatif.run.WhatIf)."""
    c = w.comparison
    worse = c.worse(fail_on)
    complete = w.before_doc["coverage"]["complete"] and w.after_doc["coverage"]["complete"]
    return {
        "schema": WHATIF_SCHEMA,
        "changes": [
            {"where": ch.where, "id": _change_id(ch), "change": ch.describe(), "reason": ch.reason}
            for ch in w.changes
        ],
        "findings": {
            "resolved": [_finding(f) for f in c.resolved],
            "unchanged": [_finding(f) for f in c.unchanged],
            "new": [_finding(f) for f in c.new],
            "worsened": [{**_finding(a), "severity_before": b["severity"]} for b, a in c.worsened],
        },
        "gateway_loses": [{"account": account, "reached_before_by": how} for account, how in c.lost],
        "flows": [
            {
                "context": x.context,
                "before": x.before,
                "after": x.after,
                "appliances_before": list(x.appliances_before),
                "appliances_after": list(x.appliances_after),
                "subnets": sorted(x.subnets, key=str.lower)[:CAP],
                "subnets_total": len(x.subnets),
                "destinations": [
                    {"id": d, "port": port}
                    for d, port in sorted(x.destinations, key=lambda k: (k[0].lower(), k[1]))[:CAP]
                ],
                "destinations_total": x.total,
                "breaks": [
                    {"id": d, "port": port}
                    for (d, port), broken in sorted(
                        x.destinations.items(), key=lambda k: (k[0][0].lower(), k[0][1])
                    )
                    if broken
                ],
            }
            for x in c.flows
        ],
        "flows_compared": "every flow" if c.every_flow else "the flows the rules read (large estate)",
        "routes": [
            {
                "context": r.context,
                "subnets": list(r.subnets),
                "added": list(r.added),
                "removed": list(r.removed),
            }
            for r in c.routes
        ],
        "coverage": {
            "before_complete": w.before_doc["coverage"]["complete"],
            "after_complete": w.after_doc["coverage"]["complete"],
        },
        # never "safe" on incomplete coverage: what the input could not show may be what breaks (exit 3)
        "verdict": {"fail_on": fail_on, "worse": worse, "exit": 1 if worse else 0 if complete else 3},
    }


def _change_id(ch: Any) -> str:
    """The resource a change edits, or the one it adds."""
    return ch.resource_id or str((ch.add or {}).get("id") or "")


def _appliances(ids: list[str]) -> str:
    return f"via {', '.join(qualified_name(i) for i in ids)}" if ids else "(no appliance)"


def _with_appliances(verdict: str, ids: list[str]) -> str:
    """A verdict with the appliances it passes; a flow that does not exist passes none worth saying."""
    return verdict if verdict == "absent" and not ids else f"{verdict} {_appliances(ids)}"


def nothing_worse(fail_on: str, esc: Any) -> str:
    """What a verdict without reasons says, every format alike: none of what
    auditor.whatif.compare.Comparison.worse counts happened. Findings and flows that newly break count
    at and above --fail-on (a flow turning asymmetric or return-unroutable weighs as NET001, high), so
    with `never` only the gateway's paths and reach do."""
    if fail_on == "never":
        return "nothing worse: the gateway keeps every path, and --fail-on never counts no finding or flow"
    return (
        f"nothing worse: no new or risen finding at or above {esc(fail_on)}, no flow newly broken, "
        "the gateway keeps every path"
    )


def _section(out: list[str], title: str, items: list[str]) -> None:
    """A heading, a blank line, its items and a blank line after them: an empty section is its
    heading alone, one blank line from the next."""
    out += [title, "", *items, *([""] if items else [])]


def _lines(doc: dict[str, Any], esc: Any, code: Any, heading: Any) -> list[str]:
    """The table and Markdown report. Resources are named with their parents (`vnet-a/snet-pe`,
    `rt-x/route-y`): two subnets called snet-pe in different VNets read apart."""
    out: list[str] = []
    changes = [
        f"- {esc(c['change'])}" + (f" ({esc(c['reason'])})" if c["reason"] else "") for c in doc["changes"]
    ]
    _section(out, heading("What if"), changes)
    fs = doc["findings"]
    _section(
        out,
        heading(
            f"Findings: {len(fs['resolved'])} resolved, {len(fs['new'])} new, {len(fs['unchanged'])} unchanged"
        ),
        [
            f"- {label}: {esc(f['rule_id'])} [{esc(f['severity'])}] {esc(qualified_name(f['resource_id']))} "
            f"({code(f['fingerprint'])})"
            for label in ("resolved", "new")
            for f in fs[label]
        ]
        + [
            f"- risen: {esc(f['rule_id'])} [{esc(f['severity_before'])} -> {esc(f['severity'])}] "
            f"{esc(qualified_name(f['resource_id']))} ({code(f['fingerprint'])})"
            for f in fs.get("worsened", [])
        ],
    )
    flows = doc["flows"]
    items = []
    for x in flows[:SHOWN]:
        mark = " BREAKS THE GATEWAY PATH" if x["breaks"] else ""
        names = ", ".join(qualified_name(d["id"]) for d in x["destinations"][:5])
        more = f" and {x['destinations_total'] - 5} more" if x["destinations_total"] > 5 else ""
        before, after = x["before"], x["after"]
        if x["appliances_before"] != x["appliances_after"]:  # else `symmetric -> symmetric` says nothing
            before = _with_appliances(before, x["appliances_before"])
            after = _with_appliances(after, x["appliances_after"])
        items.append(
            f"- {esc(qualified_name(x['context']))}: {esc(before)} -> {esc(after)} to {esc(names)}{more}{mark}"
        )
    if len(flows) > SHOWN:
        items.append(f"- ... and {len(flows) - SHOWN} more (--format json lists them all)")
    _section(
        out,
        heading(
            f"Flows whose verdict changes: {sum(x['destinations_total'] for x in flows)} endpoint(s) in {len(flows)} "
            f"group(s) (compared: {doc['flows_compared']})"
        ),
        items,
    )
    routes = doc["routes"]
    items = []
    for r in routes[:SHOWN]:
        items.append(f"- {esc(qualified_name(r['context']))}:")
        items += [f"  + {esc(line)}" for line in r["added"]] + [f"  - {esc(line)}" for line in r["removed"]]
    _section(out, heading(f"Route contexts whose effective routes change: {len(routes)}"), items)
    v = doc["verdict"]
    items = []
    if v["worse"]:
        items += [f"- NOT SAFE (exit 1, --fail-on {esc(v['fail_on'])}): {esc(w)}" for w in v["worse"]]
    elif v["exit"] == 3:
        items.append(f"- {nothing_worse(v['fail_on'], esc)}, but coverage is incomplete (exit 3)")
    else:
        items.append(f"- {nothing_worse(v['fail_on'], esc)} (exit 0)")
    if not (doc["coverage"]["before_complete"] and doc["coverage"]["after_complete"]):
        items.append(
            "- coverage is incomplete: the comparison covers only what the input lets pathaudit assess"
        )
    _section(out, heading("Verdict"), items)
    while out and not out[-1]:  # no blank line after the last item
        out.pop()
    return out


def render_whatif(doc: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode("utf-8")
    if fmt == "table":
        lines = _lines(doc, terminal, str, lambda t: t.upper())
        return ("\n".join(lines) + "\n").encode("utf-8")
    if fmt == "markdown":
        lines = _lines(doc, md, lambda t: f"`{t}`", lambda t: f"### {t}")
        return ("\n".join(lines) + "\n").encode("utf-8")
    if fmt == "html":
        return b"".join(encode_lines(_html(doc)))
    raise ValueError(f"unknown whatif format {fmt!r} (known: {', '.join(FORMATS)})")


# --- html ------------------------------------------------------------------------------------------

TITLE = "pathaudit what-if"
# Added to the evidence report's stylesheet (auditor.report.html.CSS); like it, no URL of any kind.
WHATIF_CSS = """
.whatif .verdict{font-size:16px}.whatif .verdict ul{margin:6px 0 0;padding-left:22px;font-weight:400}
.whatif ul.findings{padding-left:20px}.whatif ul.findings li{margin:3px 0}
.whatif ol.changes li{margin:3px 0}.whatif .reason{color:var(--muted)}
.whatif .arrow{color:var(--muted);padding:0 4px}
.whatif td.breaks{background:#fee2e2;font-weight:600}.whatif td.nobreak{color:var(--muted)}
.whatif .gone{color:var(--high);font-weight:600}.whatif .kept{color:#15803d;font-weight:600}
.whatif ul.routes{list-style:none;padding-left:8px;margin:2px 0 8px}
.whatif ul.routes.added li::before{content:"+ ";font-weight:700;color:#15803d}
.whatif ul.routes.removed li::before{content:"\\2212  ";font-weight:700;color:var(--high)}
.whatif h4{font-size:13px;margin:8px 0 2px}
"""
# Verdicts of a flow that does not arrive (auditor.whatif.compare reads them too): blocked, on a side
# where its context or endpoint does not exist, or not delivered (large estates)
GONE = ("blocked", "absent", "not delivered")


def _verdict_html(doc: dict[str, Any]) -> list[str]:
    """The verdict first and in colour: the reason a reviewer opens the page."""
    v = doc["verdict"]
    fail_on = h(v["fail_on"])
    if v["worse"]:
        out = [
            '<div class="banner bad verdict" id="verdict">',
            f"Verdict: NOT SAFE (exit 1, --fail-on {fail_on})",
            "<ul>",
            *(f"<li>{h(w)}</li>" for w in v["worse"]),
            "</ul>",
        ]
    elif v["exit"] == 3:
        out = [
            '<div class="banner warn verdict" id="verdict">',
            f"Verdict: {nothing_worse(v['fail_on'], h)}, but coverage is incomplete (exit 3)",
        ]
    else:
        out = [
            '<div class="banner ok verdict" id="verdict">',
            f"Verdict: {nothing_worse(v['fail_on'], h)} (exit 0)",
        ]
    out.append("</div>")
    cov = doc["coverage"]
    if not (cov["before_complete"] and cov["after_complete"]):
        sides = [
            s for s, ok in (("before", cov["before_complete"]), ("after", cov["after_complete"])) if not ok
        ]
        out.append(
            '<p class="banner warn">Coverage is incomplete (' + " and ".join(sides) + " the change): the "
            "comparison covers only what the input lets pathaudit assess, so it is never reported safe.</p>"
        )
    return out


def _severity(severity: Any) -> str:
    cls = f"sev-{severity}" if severity in ("high", "medium", "low", "info") else "sev-info"
    return f'<span class="badge {cls}">{h(severity)}</span>'


def _finding_li(f: dict[str, Any]) -> str:
    return (
        f"<li>{_severity(f['severity'])} <strong>{h(f['rule_id'])}</strong> "
        f"{h(qualified_name(f['resource_id']))}: {h(f.get('title') or '')} "
        f'<code class="fp">{h(f["fingerprint"])}</code><br>'
        f'<code class="muted">{h(f["resource_id"])}</code></li>'
    )


def _findings_html(fs: dict[str, list[dict[str, Any]]]) -> list[str]:
    out = [
        f"<h2>Findings: {len(fs['resolved'])} resolved, {len(fs['new'])} new, "
        f"{len(fs['unchanged'])} unchanged</h2>",
        '<p class="muted">Compared by fingerprint: a finding that disappears is resolved, one that appears is '
        "new (a finding whose flows only grow or shrink keeps its fingerprint and stays unchanged).</p>",
    ]
    for label, title in (("resolved", "Resolved"), ("new", "New")):
        out.append(f"<h3>{title} ({len(fs[label])})</h3>")
        if fs[label]:
            out += [f'<ul class="findings {label}">', *(_finding_li(f) for f in fs[label]), "</ul>"]
        else:
            out.append('<p class="muted">none</p>')
    risen = fs.get("worsened", [])
    if risen:
        out += [
            f"<h3>Risen ({len(risen)})</h3>",
            '<ul class="findings risen">',
            *(_finding_li(f).replace("<li>", f"<li>{h(f['severity_before'])} &rarr; ", 1) for f in risen),
            "</ul>",
        ]
    if fs["unchanged"]:
        out += [
            f"<details><summary>Unchanged ({len(fs['unchanged'])})</summary>",
            '<ul class="findings unchanged">',
            *(_finding_li(f) for f in fs["unchanged"]),
            "</ul></details>",
        ]
    return out


def _names(ids: list[str]) -> str:
    return ", ".join(h(qualified_name(i)) for i in ids) if ids else '<span class="muted">none</span>'


def _state(verdict: str) -> str:
    cls = "gone" if verdict in GONE else "kept" if verdict == "symmetric" else ""
    return f'<span class="{cls}">{h(verdict)}</span>' if cls else h(verdict)


def _flow_row(x: dict[str, Any]) -> str:
    context = f"<strong>{h(qualified_name(x['context']))}</strong>"
    if x["subnets_total"]:  # none for traffic entering from on-premises
        subnets = x["subnets"][:5]
        more = x["subnets_total"] - len(subnets)
        context += (
            f'<br><span class="muted">{x["subnets_total"]} subnet(s): {_names(subnets)}'
            f"{f' and {more} more' if more > 0 else ''}</span>"
        )
    change = f'{_state(x["before"])}<span class="arrow">&rarr;</span>{_state(x["after"])}'
    before, after = x["appliances_before"], x["appliances_after"]
    if before == after:
        apps = _names(before)
    else:
        apps = f'{_names(before)}<span class="arrow">&rarr;</span>{_names(after)}'
    dests = ", ".join(f"{h(qualified_name(d['id']))}:{h(d['port'])}" for d in x["destinations"])
    listed = len(x["destinations"])
    if x["destinations_total"] > listed:
        dests += f" and {x['destinations_total'] - listed} more"
    if x["breaks"]:
        cut = ", ".join(f"{h(qualified_name(d['id']))}:{h(d['port'])}" for d in x["breaks"])
        breaks = f'<td class="breaks">yes: {cut}</td>'
    else:
        breaks = '<td class="nobreak">no</td>'
    return f"<tr><td>{context}</td><td>{change}</td><td>{apps}</td><td>{dests}</td>{breaks}</tr>"


def _flows_html(doc: dict[str, Any]) -> list[str]:
    flows = doc["flows"]
    out = [
        f"<h2>Flows whose verdict changes: {sum(x['destinations_total'] for x in flows)} endpoint(s) in "
        f"{len(flows)} group(s)</h2>",
        f'<p class="muted">Compared: {h(doc["flows_compared"])}. One row per route context whose flows changed '
        "the same way through the same appliances.</p>",
    ]
    if not flows:
        return [*out, '<p class="muted">none</p>']
    out.append(
        '<table class="flows"><thead><tr><th>route context</th><th>before &rarr; after</th>'
        "<th>appliances</th><th>private endpoints</th><th>breaks the gateway path</th></tr></thead><tbody>"
    )
    out += [_flow_row(x) for x in flows[:SHOWN]]
    out.append("</tbody></table>")
    if len(flows) > SHOWN:
        out.append(
            f'<p class="muted">&hellip; and {len(flows) - SHOWN} more (--format json lists them all)</p>'
        )
    return out


def _routes_html(doc: dict[str, Any]) -> list[str]:
    routes = doc["routes"]
    out = [f"<h2>Route contexts whose effective routes change: {len(routes)}</h2>"]
    if not routes:
        return [*out, '<p class="muted">none</p>']
    for r in routes[:SHOWN]:
        more = len(r["subnets"]) - 10
        out += [
            f"<h3>{h(qualified_name(r['context']))}</h3>",
            f'<p class="muted"><code>{h(r["context"])}</code><br>subnets: {_names(r["subnets"][:10])}'
            f"{f' and {more} more' if more > 0 else ''}</p>",
        ]
        for label in ("added", "removed"):
            if r[label]:
                out += [
                    f"<h4>{label.capitalize()} ({len(r[label])})</h4>",
                    f'<ul class="routes {label}">',
                    *(f"<li><code>{h(line)}</code></li>" for line in r[label]),
                    "</ul>",
                ]
    if len(routes) > SHOWN:
        out.append(
            f'<p class="muted">&hellip; and {len(routes) - SHOWN} more (--format json lists them all)</p>'
        )
    return out


def _html(doc: dict[str, Any]) -> list[str]:
    from auditor import __version__
    from auditor.report.html import CSS, page_head

    changes = [
        f"<li>{h(c['change'])}"
        + (f' <span class="reason">({h(c["reason"])})</span>' if c["reason"] else "")
        + f'<br><span class="muted">{h(c["where"])}</span></li>'
        for c in doc["changes"]
    ]
    return [
        *page_head(TITLE, CSS + WHATIF_CSS),
        '<section class="whatif" id="whatif">',
        "<h1>What if</h1>",
        *_verdict_html(doc),
        f"<h2>The change ({len(changes)})</h2>",
        '<ol class="changes">',
        *changes,
        "</ol>",
        *_findings_html(doc["findings"]),
        *_flows_html(doc),
        *_routes_html(doc),
        "</section>",
        f'<footer><p class="muted">pathaudit {h(__version__)} · {h(doc["schema"])} · the model is '
        "pathaudit&rsquo;s computed data plane, not Azure&rsquo;s</p></footer>",
        "</body>",
        "</html>",
    ]
