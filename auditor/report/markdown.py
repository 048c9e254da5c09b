"""GitHub-flavoured Markdown for PR comments and wikis: summary, findings table, coverage notes.

Estate strings go through `md` (text) or `md_code` (ids); both keep table cells on one line and
produce no raw HTML, links or emphasis from estate data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.catalog import Rule
from auditor.findings import SEVERITIES
from auditor.report.text import encode_lines, md, md_code, short_name


def _status_counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        out[f["status"]] = out.get(f["status"], 0) + 1
    return dict(sorted(out.items()))


def _lines_markdown(document: dict[str, Any], catalog: dict[str, Rule] | None = None) -> list[str]:
    catalog = catalog or {}
    estate = document["estate"]
    coverage = document["coverage"]
    summary = document["summary"]
    findings = document["findings"]
    baseline = document.get("baseline")
    out = ["# pathaudit findings", ""]
    out.append(
        f"pathaudit {md(document['tool']['version'])} · estate {md_code(estate['sha256'][:16])} · "
        f"{md(estate['resources'])} resources from {len(estate['inputs'])} input(s)"
        + (f" · collected {md(estate['collected_at'])}" if estate.get("collected_at") else "")
    )
    out.append("")
    if coverage["complete"]:
        out.append("**Coverage: complete.**")
    else:
        out.append(
            f"**Coverage: INCOMPLETE** ({len(coverage['skipped'])} item(s) skipped): this is not a clean "
            "bill of health."
        )
    out += ["", "## Summary", "", "| severity | active |", "|---|---:|"]
    out += [f"| {s} | {md(summary.get(s, 0))} |" for s in SEVERITIES]
    out.append(f"| suppressed | {md(summary.get('suppressed', 0))} |")
    statuses = _status_counts(findings)
    if statuses:
        out += ["", "| status | findings |", "|---|---:|"]
        out += [f"| {md(k)} | {v} |" for k, v in statuses.items()]
    if baseline is not None:
        resolved = baseline.get("resolved") or []
        out += [
            "",
            f"**Baseline:** {md(baseline.get('new', 0))} new, {md(baseline.get('unchanged', 0))} unchanged, "
            f"{len(resolved)} resolved.",
        ]
    out += ["", "## Findings", ""]
    if not findings:
        out.append("No findings.")
    else:
        head = "| # | severity | rule | status | resource | message |"
        sep = "|---:|---|---|---|---|---|"
        if baseline is not None:
            head += " baseline |"
            sep += "---|"
        out += [head, sep]
        for i, f in enumerate(findings, 1):
            sev = md(f["severity"]) + (" (suppressed)" if f.get("suppression") else "")
            title = catalog[f["rule_id"]].title if f["rule_id"] in catalog else f.get("title", "")
            rule = f"{md(f['rule_id'])} {md(title)}"
            resource = f"{md(short_name(f['resource_id']))}<br>{md_code(f['resource_id'])}"
            row = f"| {i} | {sev} | {rule} | {md(f['status'])} | {resource} | {md(f.get('message', ''))} |"
            if baseline is not None:
                row += f" {md(f.get('baseline', ''))} |"
            out.append(row)
    suppressed = [f for f in findings if f.get("suppression")]
    if suppressed:
        out += [
            "",
            "## Suppressed findings",
            "",
            "| rule | resource | reason | expires | approved by |",
            "|---|---|---|---|---|",
        ]
        for f in suppressed:
            s = f["suppression"]
            out.append(
                f"| {md(f['rule_id'])} | {md_code(f['resource_id'])} | {md(s.get('reason'))} | "
                f"{md(s.get('expires'))} | {md(s.get('approved_by') or '')} |"
            )
    warnings = document.get("warnings") or []
    if warnings:
        out += ["", "## Warnings", ""]
        out += [f"- {md(w.get('message'))}" for w in warnings]
    out += ["", "## Coverage notes", ""]
    if not coverage["skipped"] and not coverage["not_assessed"]:
        out.append("Every input was read and every rule assessed.")
    for p in coverage["skipped"]:
        where = " ".join(
            x
            for x in (
                md_code(p.get("file")),
                md_code(p.get("resource_id")),
                f"field {md_code(p.get('field'))}" if p.get("field") else "",
            )
            if x
        )
        out.append(f"- skipped ({md(p.get('effect'))}): {where}: {md(p.get('problem'))}")
    for n in coverage["not_assessed"]:
        out.append(f"- not assessed: {md(n['rule_id'])}: {md(n['reason'])}")
    if baseline is not None and baseline.get("resolved"):
        out += [
            "",
            "## Resolved since the baseline",
            "",
            "| rule | severity | resource | fingerprint |",
            "|---|---|---|---|",
        ]
        for r in baseline["resolved"]:
            out.append(
                f"| {md(r['rule_id'])} | {md(r.get('severity', ''))} | {md_code(r['resource_id'])} | "
                f"{md_code(r['fingerprint'])} |"
            )
    return out


def iter_markdown(document: dict[str, Any], catalog: dict[str, Rule] | None = None) -> Iterator[bytes]:
    return encode_lines(_lines_markdown(document, catalog))


def render_markdown(document: dict[str, Any], catalog: dict[str, Rule] | None = None) -> bytes:
    return b"".join(iter_markdown(document, catalog))
