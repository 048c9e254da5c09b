"""Terminal rendering: a readable table (colour only on a TTY) and a coverage footer."""

from __future__ import annotations

import sys
from typing import Any, TextIO

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def short_name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def render_table(document: dict[str, Any], out: TextIO | None = None) -> None:
    from rich.console import Console  # lazy: rich costs ~100 ms to import
    from rich.table import Table

    out = out or sys.stdout
    tty = out.isatty()
    console = Console(file=out, force_terminal=tty, no_color=not tty, width=None if tty else 160,
                      highlight=False, soft_wrap=False)
    findings = document["findings"]
    table = Table(show_lines=False, header_style="bold", expand=False)
    for col in ("severity", "rule", "status", "resource", "message"):
        table.add_column(col, overflow="fold")
    for f in findings:
        sev = f["severity"] if f.get("suppression") is None else f"{f['severity']} (suppressed)"
        style = SEVERITY_STYLE.get(f["severity"], "") if tty else ""
        table.add_row(f"[{style}]{sev}[/]" if style else sev, f["rule_id"], f["status"], short_name(f["resource_id"]),
                      f["message"])
    if findings:
        console.print(table)
    summary = document["summary"]
    counts = ", ".join(f"{summary[k]} {k}" for k in ("high", "medium", "low", "info"))
    estate = document["estate"]
    console.print(f"{len(findings)} findings ({counts}; {summary['suppressed']} suppressed) "
                  f"in {estate['resources']} resources from {len(estate['inputs'])} input(s).", markup=False)
    coverage = document["coverage"]
    if coverage["not_assessed"]:
        names = ", ".join(sorted({n["rule_id"] for n in coverage["not_assessed"]}))
        console.print(f"Not assessed: {names} (see --format json for reasons).", markup=False)
    if not coverage["complete"]:
        console.print(f"Coverage INCOMPLETE: {len(coverage['skipped'])} item(s) skipped; this is not a clean bill of "
                      "health.", markup=False, style="bold" if tty else None)
