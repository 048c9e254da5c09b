"""Forward and return path of a flow as an inline SVG (no scripts, no ids, no external references).

Two lanes: the forward path left to right, the return path below it. When every return hop is also
a forward hop, return hops sit under their forward twin, so a skipped appliance shows as a gap.
Stateful appliances (NVA, Azure Firewall) are highlighted; the first hop where the return path stops
retracing the forward path (walking both from the source end) is marked in both lanes.
"""

from __future__ import annotations

from typing import Any

from auditor.report.text import h, short_name, text, truncate

APPLIANCE_KINDS = frozenset({"nva", "azure-firewall", "firewall", "appliance", "virtual-appliance"})
BOX_W, BOX_H, GAP = 160, 58, 44
LANE_LABEL_W = 78
FWD_Y, RET_Y = 34, 138
HEIGHT = 222


def hop_key(hop: dict[str, Any]) -> str:
    return str(hop.get("id") or hop.get("hop") or "").lower()


def is_appliance(hop: dict[str, Any]) -> bool:
    return str(hop.get("kind", "")).lower() in APPLIANCE_KINDS


def divergence(forward: list[dict[str, Any]], back: list[dict[str, Any]]) -> int | None:
    """Index (from the source end) of the first hop where the reversed return path leaves the forward
    path; None when the return path retraces the forward path exactly."""
    rev = list(reversed(back))
    n = min(len(forward), len(rev))
    for i in range(n):
        if hop_key(forward[i]) != hop_key(rev[i]):
            return i
    if len(forward) == len(rev):
        return None
    return n


def _label(hop: dict[str, Any]) -> str:
    name = hop.get("hop") or short_name(str(hop.get("id") or "")) or "?"
    return truncate(text(name), 22)


def _box(x: int, y: int, hop: dict[str, Any], diverges: bool) -> list[str]:
    classes = ["hop"]
    if is_appliance(hop):
        classes.append("appliance")
    if diverges:
        classes.append("diverge")
    tip = " | ".join(text(v) for v in (hop.get("kind"), hop.get("hop"), hop.get("id"), hop.get("ip")) if v)
    route = hop.get("route") or {}
    if isinstance(route, dict) and route:
        tip += " | route " + " ".join(f"{k}={text(v)}" for k, v in sorted(route.items()) if v)
    if hop.get("note"):
        tip += " | " + text(hop["note"])
    out = [
        f'<g class="{" ".join(classes)}"><title>{h(tip)}</title>',
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="7"/>',
        f'<text x="{x + 8}" y="{y + 16}" class="kind">{h(truncate(text(hop.get("kind") or "hop"), 24))}</text>',
        f'<text x="{x + 8}" y="{y + 34}" class="name">{h(_label(hop))}</text>',
    ]
    if hop.get("ip"):
        out.append(f'<text x="{x + 8}" y="{y + 50}" class="ip">{h(truncate(text(hop["ip"]), 24))}</text>')
    out.append("</g>")
    if diverges:
        out.append(
            f'<text x="{x + BOX_W // 2}" y="{y - 7}" class="divergelabel" text-anchor="middle">'
            "paths diverge here</text>"
        )
    return out


def _arrow(x1: int, x2: int, y: int, cls: str) -> list[str]:
    """Horizontal arrow from x1 to x2 at height y (either direction)."""
    d = 1 if x2 > x1 else -1
    tip = x2
    return [
        f'<line x1="{x1}" y1="{y}" x2="{tip - 8 * d}" y2="{y}" class="{cls}"/>',
        f'<polygon points="{tip},{y} {tip - 9 * d},{y - 5} {tip - 9 * d},{y + 5}" class="{cls}head"/>',
    ]


def _col_x(col: int) -> int:
    return LANE_LABEL_W + col * (BOX_W + GAP)


def flow_svg(flow: dict[str, Any]) -> str:
    forward = [h_ for h_ in flow.get("forward") or [] if isinstance(h_, dict)]
    back = [h_ for h_ in flow.get("return") or [] if isinstance(h_, dict)]
    div = divergence(forward, back)
    fwd_cols = list(range(len(forward)))
    # place return hops under their forward twins when every return hop has one, else right to left
    where: dict[str, int] = {}
    for i, hop in enumerate(forward):
        where.setdefault(hop_key(hop), i)
    if back and all(hop_key(hop) in where for hop in back):
        ret_cols = [where[hop_key(hop)] for hop in back]
    else:
        width = max(len(forward), len(back))
        ret_cols = [width - 1 - j for j in range(len(back))]
    ncols = max([*fwd_cols, *ret_cols, 0]) + 1
    width = _col_x(ncols) + 8
    label = f"forward and return path, verdict {text(flow.get('verdict'))}"
    out = [
        f'<svg class="flow" viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}" role="img" '
        f'aria-label="{h(label)}">',
        f'<text x="4" y="{FWD_Y + 34}" class="lane">forward</text>',
        f'<text x="4" y="{RET_Y + 34}" class="lane">return</text>',
    ]
    for i, hop in enumerate(forward):
        out += _box(_col_x(i), FWD_Y, hop, div is not None and i == div)
        if i + 1 < len(forward):
            out += _arrow(_col_x(i) + BOX_W, _col_x(i + 1), FWD_Y + BOX_H // 2, "fwd")
    ret_div = len(back) - 1 - div if div is not None and div < len(back) else None
    for j, hop in enumerate(back):
        out += _box(_col_x(ret_cols[j]), RET_Y, hop, ret_div is not None and j == ret_div)
        if j + 1 < len(back):
            a, b = ret_cols[j], ret_cols[j + 1]
            if a == b:
                continue
            x1 = _col_x(a) + (BOX_W if b > a else 0)
            x2 = _col_x(b) + (0 if b > a else BOX_W)
            out += _arrow(x1, x2, RET_Y + BOX_H // 2, "ret")
    if not forward and not back:
        out.append(f'<text x="{LANE_LABEL_W}" y="{FWD_Y + 34}" class="lane">no hops recorded</text>')
    legend_y = HEIGHT - 8
    out.append(
        f'<text x="4" y="{legend_y}" class="legend">verdict: {h(flow.get("verdict") or "unknown")}'
        " · highlighted boxes are stateful appliances</text>"
    )
    out.append("</svg>")
    return "\n".join(out)
