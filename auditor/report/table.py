"""Terminal rendering: a readable table (colour only on a TTY) and a coverage footer."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from auditor.ids import name_of
from auditor.safetext import terminal

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
ROWS_SHOWN = 50  # a screenful or two: the rest is counted, and every other format has them all


def render_table(document: dict[str, Any], out: TextIO | None = None) -> None:
    from rich.console import Console  # lazy: rich costs ~100 ms to import
    from rich.table import Table
    from rich.text import Text

    out = out or sys.stdout
    tty = out.isatty()
    console = Console(
        file=out,
        force_terminal=tty,
        no_color=not tty,
        width=None if tty else 160,
        highlight=False,
        soft_wrap=False,
    )
    findings = document["findings"]
    baseline = document.get("baseline")
    table = Table(show_lines=False, header_style="bold", expand=False)
    for col in (
        "severity",
        "rule",
        "status",
        "resource",
        "message",
        *(("baseline",) if baseline is not None else ()),
    ):
        table.add_column(col, overflow="fold")
    for f in findings[:ROWS_SHOWN]:
        sev = f["severity"] if f.get("suppression") is None else f"{f['severity']} (suppressed)"
        style = SEVERITY_STYLE.get(f["severity"], "") if tty else ""
        # estate strings are data, never rich markup
        cells = [
            Text(sev, style=style),
            Text(terminal(f["rule_id"])),
            Text(terminal(f["status"])),
            Text(terminal(name_of(f["resource_id"]))),
            Text(terminal(f["message"])),
        ]
        if baseline is not None:
            cells.append(Text(f.get("baseline") or ""))
        table.add_row(*cells)
    if findings:
        console.print(table)
    if len(findings) > ROWS_SHOWN:
        console.print(
            f"... and {len(findings) - ROWS_SHOWN} more findings, not shown (the table lists the first "
            f"{ROWS_SHOWN}, most severe first): see them all with --format html, markdown, csv or json "
            "(--out FILE).",
            markup=False,
        )
    summary = document["summary"]
    counts = ", ".join(f"{summary[k]} {k}" for k in ("high", "medium", "low", "info"))
    estate = document["estate"]
    console.print(
        f"{len(findings)} findings ({counts}; {summary['suppressed']} suppressed) "
        f"in {estate['resources']} resources from {len(estate['inputs'])} input(s).",
        markup=False,
    )
    coverage = document["coverage"]
    if coverage["not_assessed"]:
        names = terminal(", ".join(sorted({str(n["rule_id"]) for n in coverage["not_assessed"]})))
        console.print(f"Not assessed: {names} (see --format json for reasons).", markup=False)
    for w in document.get("warnings") or []:
        console.print(f"Warning: {terminal(w['message'])}", markup=False)
    if baseline is not None:
        from auditor.suppress import baseline_lines

        for line in baseline_lines(baseline):
            console.print(terminal(line[0].upper() + line[1:]), markup=False)
    if not coverage["complete"]:
        console.print(
            f"Coverage INCOMPLETE: {len(coverage['skipped'])} item(s) skipped; this is not a clean bill of "
            "health.",
            markup=False,
            style="bold" if tty else None,
        )
