"""`pathaudit plan` output: per finding, its fixes, smallest blast radius first (auditor.rules.remedy).

`json` is the plan document (pathaudit/plan@1). `whatif --change plan.json` reads it as a change set:
the first fix with changes of each plan, as `whatif --plan` picks them. `table` is for a person: a
finding's resource is named with its parents (`vnet-a/snet-pe`), a fix's Bicep is shown one line a
line under `bicep:` (one `//`-headed snippet per resource), and every estate string is made
terminal-safe. An `az:` line is made so argument by argument and quoted again (`az_line`): stripping
an escape sequence from the whole line could take a quote with it, and the line is for pasting.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from auditor.ids import qualified_name
from auditor.safetext import terminal

PLAN_SCHEMA = "pathaudit/plan@1"


def az_line(command: str) -> str:
    """An az command (auditor.rules.remedy.az_command quotes every argument for a POSIX shell) as the
    table shows it: each argument made terminal-safe on its own, then quoted again, so what the terminal
    shows is still one shell word an argument, whatever an id or tag held. The plan's own lines come back
    unchanged; a line that is no shell command (an edited plan document) is made terminal-safe whole."""
    try:
        words = shlex.split(command)
    except ValueError:
        return terminal(command)
    return shlex.join(terminal(w) for w in words)


def render_plan(doc: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    lines: list[str] = []
    for item in doc["plans"]:
        lines.append(
            f"{item['rule_id']} [{item['severity']}] {terminal(qualified_name(item['resource_id']))}"
        )
        if not item["fixes"]:
            lines.append("  (no fix proposed)")
        for i, fix in enumerate(item["fixes"], 1):
            lines.append(f"  {i}. {terminal(fix['title'])}")
            if fix.get("cannot"):
                lines.append(f"     no change set: {terminal(fix['cannot'])}")
            lines += [f"     az: {az_line(a)}" for a in fix.get("az", [])]
            if fix.get("bicep"):
                lines.append("     bicep:")
                lines += [f"       {terminal(b)}".rstrip() for b in fix["bicep"].splitlines()]
            if fix.get("declaration"):
                lines += [f"     pathaudit.toml: {terminal(d)}" for d in fix["declaration"].splitlines()]
            lines += [f"     cost: {terminal(s)}" for s in fix.get("side_effects", [])]
        lines.append("")
    if not doc["plans"]:
        lines.append("no findings to plan for")
    return ("\n".join(lines).rstrip("\n") + "\n").encode("utf-8")
