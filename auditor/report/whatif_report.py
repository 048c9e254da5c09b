"""`pathaudit whatif` output: the change, findings resolved / unchanged / new, flows whose verdict
changed, effective routes that changed, and whether the change may go ahead.

Formats: `table` (terminal), `json` (pathaudit/whatif@1), `markdown` (for a change-request ticket),
`html` (a self-contained section). Every estate string is escaped for its format (names and tags are
attacker-controlled); the same input gives the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from auditor.report.text import h, md, short_name
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
        "changes": [{"where": ch.where, "change": ch.describe(), "reason": ch.reason} for ch in w.changes],
        "findings": {
            "resolved": [_finding(f) for f in c.resolved],
            "unchanged": [_finding(f) for f in c.unchanged],
            "new": [_finding(f) for f in c.new],
        },
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


def _lines(doc: dict[str, Any], esc: Any, code: Any, heading: Any) -> list[str]:
    out = [heading("What if"), ""]
    out += [
        f"- {esc(c['change'])}" + (f" ({esc(c['reason'])})" if c["reason"] else "") for c in doc["changes"]
    ]
    fs = doc["findings"]
    out += [
        "",
        heading(
            f"Findings: {len(fs['resolved'])} resolved, {len(fs['new'])} new, {len(fs['unchanged'])} unchanged"
        ),
        "",
    ]
    for label in ("resolved", "new"):
        out += [
            f"- {label}: {f['rule_id']} [{f['severity']}] {esc(short_name(f['resource_id']))} ({code(f['fingerprint'])})"
            for f in fs[label]
        ]
    flows = doc["flows"]
    out += [
        "",
        heading(
            f"Flows whose verdict changes: {sum(x['destinations_total'] for x in flows)} endpoint(s) in {len(flows)} "
            f"group(s) (compared: {doc['flows_compared']})"
        ),
        "",
    ]
    for x in flows[:SHOWN]:
        mark = " BREAKS THE GATEWAY PATH" if x["breaks"] else ""
        names = ", ".join(short_name(d["id"]) for d in x["destinations"][:5])
        more = f" and {x['destinations_total'] - 5} more" if x["destinations_total"] > 5 else ""
        out.append(
            f"- {esc(short_name(x['context']))}: {x['before']} -> {x['after']} to {esc(names)}{more}{mark}"
        )
    if len(flows) > SHOWN:
        out.append(f"- ... and {len(flows) - SHOWN} more (--format json lists them all)")
    routes = doc["routes"]
    out += ["", heading(f"Route contexts whose effective routes change: {len(routes)}"), ""]
    for r in routes[:SHOWN]:
        out.append(f"- {esc(short_name(r['context']))}:")
        out += [f"  + {esc(line)}" for line in r["added"]] + [f"  - {esc(line)}" for line in r["removed"]]
    v = doc["verdict"]
    out += ["", heading("Verdict"), ""]
    if v["worse"]:
        out += [f"- NOT SAFE (exit 1, --fail-on {v['fail_on']}): {esc(w)}" for w in v["worse"]]
    elif v["exit"] == 3:
        out.append(
            f"- no new finding at or above {v['fail_on']} and no gateway path broken, but coverage is incomplete (exit 3)"
        )
    else:
        out.append(f"- no new finding at or above {v['fail_on']} and no gateway path broken (exit 0)")
    if not (doc["coverage"]["before_complete"] and doc["coverage"]["after_complete"]):
        out.append(
            "- coverage is incomplete: the comparison covers only what the input lets pathaudit assess"
        )
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
        body = _lines(doc, h, lambda t: f"<code>{h(t)}</code>", lambda t: f"<h3>{h(t)}</h3>")
        items = []
        for line in body:
            if not line:
                continue
            items.append(line if line.startswith("<h3>") else f"<p>{line}</p>")
        return ('<section class="whatif">\n' + "\n".join(items) + "\n</section>\n").encode("utf-8")
    raise ValueError(f"unknown whatif format {fmt!r} (known: {', '.join(FORMATS)})")
