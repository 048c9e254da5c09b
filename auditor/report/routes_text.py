"""Terminal rendering of `pathaudit routes`."""

from __future__ import annotations

from auditor.ipnet import fmt_ip
from auditor.routing.query import RoutesAnswer


def render_routes(ans: RoutesAnswer) -> str:
    view = ans.view
    lines = [f"Effective routes of subnet {ans.subnet.name} ({ans.subnet.id})"]
    if len(view.subnet_ids) > 1:
        lines.append(f"  shared by {len(view.subnet_ids)} subnets with the same VNet and route table")
    if view.route_table_id:
        lines.append(f"  route table: {view.route_table_id}")
    lines.extend(f"  note: {n}" for n in view.notes)
    rows = [("SOURCE", "STATE", "PREFIX", "NEXT HOP", "NEXT HOP IP", "FROM")]
    for r in view.routes:
        rows.append(
            (
                r.source,
                r.state,
                r.prefix_text if r.prefix is None else str(r.prefix),
                r.next_hop_type,
                r.next_hop_ip_text or "",
                r.name or r.kind,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines.append("")
    lines += ["  ".join(row[i].ljust(widths[i]) for i in range(6)).rstrip() for row in rows]
    invalid = [r for r in view.routes if r.state == "Invalid" and r.reason]
    if invalid:
        lines.append("")
        lines.append("Invalid routes:")
        lines += [f"  {r.describe()}: {r.reason}" for r in invalid]
    if ans.decision is not None:
        d = ans.decision
        lines.append("")
        lines.append(f"Destination {fmt_ip(d.ip)}:")
        if d.winner is None:
            lines.append("  no active route covers it: the packet is dropped")
        for c in d.candidates:
            mark = "WINS " if c.outcome == "won" else "loses"
            lines.append(f"  {mark} {c.route.describe()}: {c.why}")
    if ans.differences is not None:
        lines.append("")
        real = [x for x in ans.differences if x.kind != "note"]
        lines.append(f"Compared with {ans.compared_with}: {len(real)} difference(s)")
        for x in ans.differences:
            detail = f"azure={x.azure or '-'} model={x.model or '-'}"
            note = f" ({x.note})" if x.note else ""
            lines.append(f"  {x.kind:8} {x.prefix} [{x.source}] {detail}{note}")
    return "\n".join(lines) + "\n"
