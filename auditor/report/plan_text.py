"""`pathaudit plan` output: per finding, its fixes, smallest blast radius first (auditor.rules.remedy).

`json` is the plan document (pathaudit/plan@1). `whatif --change plan.json` reads it as a change set:
the first fix with changes of each plan, as `whatif --plan` picks them. `table` is for a person: a
finding's resource is named with its parents (`vnet-a/snet-pe`), a fix's Bicep is shown one line a
line under `bicep:` (one `//`-headed snippet per resource), and every estate string is made
terminal-safe.
"""

from __future__ import annotations

import json
from typing import Any

from auditor.rules.remedy import qualified_name
from auditor.safetext import terminal

PLAN_SCHEMA = "pathaudit/plan@1"


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
            lines += [f"     az: {terminal(a)}" for a in fix.get("az", [])]
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
