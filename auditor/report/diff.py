"""`pathaudit diff OLD.json NEW.json`: new, unchanged and resolved findings between two documents."""

from __future__ import annotations

from typing import Any

import orjson

from auditor.exitcodes import fails_doc
from auditor.suppress import Comparison, compare


def diff_exit_code(comparison: Comparison, fail_on: str) -> int:
    """1 when a new finding is at or above fail_on (and not suppressed or refuted), else 0."""
    return 1 if any(fails_doc(f, fail_on) for f in comparison.new) else 0


def _line(tag: str, f: dict[str, Any]) -> str:
    sup = " (suppressed)" if f.get("suppression") else ""
    return f"{tag:<10} {f['rule_id']:<8} {f['severity']:<6}{sup} {f['resource_id']}  {f['fingerprint']}"


def diff_text(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, Comparison]:
    c = compare(old, new)
    out = [
        f"{len(c.new)} new, {len(c.unchanged)} unchanged, {len(c.resolved)} resolved "
        f"(estate {old['estate'].get('sha256', '')[:12]} -> {new['estate'].get('sha256', '')[:12]})"
    ]
    out += [_line("new", f) for f in c.new]
    out += [_line("resolved", f) for f in c.resolved]
    out += [_line("unchanged", f) for f in c.unchanged]
    text = "\n".join(out) + "\n"
    # estate strings reach a terminal: drop control characters (escape sequences)
    text = "".join(ch if ch in "\n\t" or ch.isprintable() else "\ufffd" for ch in text)
    return text, c


def diff_json(old: dict[str, Any], new: dict[str, Any]) -> tuple[bytes, Comparison]:
    c = compare(old, new)
    brief = ("rule_id", "severity", "status", "resource_id", "fingerprint", "suppression")
    doc = {
        "schema": "pathaudit/diff@1",
        "old": {"sha256": old["estate"].get("sha256")},
        "new": {"sha256": new["estate"].get("sha256")},
        "summary": {"new": len(c.new), "unchanged": len(c.unchanged), "resolved": len(c.resolved)},
        "new_findings": [{k: f.get(k) for k in brief} for f in c.new],
        "resolved": [{k: f.get(k) for k in brief} for f in c.resolved],
        "unchanged": [{k: f.get(k) for k in brief} for f in c.unchanged],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n", c
