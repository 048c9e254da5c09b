"""Every analysed flow as a row: the route-context x endpoint matrix a network engineer queries
(`pathaudit audit --format flows`). One row per (route context, destination endpoint, port), blocked
flows included, in the analysis' order; the findings that cover a flow are matched by the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from auditor.ipnet import fmt_ip
from auditor.paths.analysis import Flow, FlowAnalysis
from auditor.paths.walk import representative

COLUMNS: tuple[tuple[str, str], ...] = (
    ("context", "VARCHAR"),  # route table id, subnet id, or on-premises
    ("context_kind", "VARCHAR"),  # subnet | on-premises
    ("source_subnets", "VARCHAR"),  # ids, space-separated
    ("source_prefixes", "VARCHAR"),  # CIDRs, space-separated
    ("entry_gateway", "VARCHAR"),  # for on-premises: the gateway it enters through
    ("destination", "VARCHAR"),  # private endpoint id
    ("destination_ip", "VARCHAR"),
    ("port", "INTEGER"),
    ("outcome", "VARCHAR"),  # delivered | blocked
    ("verdict", "VARCHAR"),  # symmetric | asymmetric | return-unroutable | blocked
    ("appliances_forward", "VARCHAR"),  # appliance ids on the way in, space-separated
    ("appliances_return", "VARCHAR"),  # the appliance the reply crosses, if any
    ("mitigation", "VARCHAR"),  # why the reply comes back through the appliance (SNAT, tag ...)
    ("reason", "VARCHAR"),  # why blocked, or what makes it asymmetric
    ("finding", "VARCHAR"),  # fingerprint of the finding that covers the flow, if any
)


def flow_row(analysis: FlowAnalysis, f: Flow, finding: str | None) -> tuple[Any, ...]:
    forward = " ".join(a.id for a in f.tail.appliances)
    back = ""
    reason = "; ".join(f.notes)
    if f.outcome == "delivered":
        if f.mitigation is not None:
            back = f.mitigation.appliance.id
        else:
            reply = analysis.reply_appliance(f.pe, representative(f.source_prefixes))
            back = reply.id if reply is not None else ""
        if f.verdict == "asymmetric" and f.tail.appliances and not reason:
            reason = "private endpoints ignore UDRs for replies: the reply skips " + ", ".join(
                a.name for a in f.tail.appliances if a.id != back
            )
        elif f.verdict == "return-unroutable" and not reason:
            reason = "no system route from the private endpoint's VNet reaches the source"
    return (
        f.source,
        f.source_kind,
        " ".join(sorted(f.source_subnets, key=str.lower)),
        " ".join(str(p) for p in f.source_prefixes),
        f.entry_gateway or "",
        f.pe.id,
        fmt_ip(f.pe_ip),
        f.port,
        f.outcome,
        f.verdict,
        forward,
        back,
        f"{f.mitigation.how}: {f.mitigation.detail}" if f.mitigation is not None else "",
        reason,
        finding or "",
    )


def flow_rows(analysis: FlowAnalysis, covering: Callable[[Flow], str | None]) -> Iterator[tuple[Any, ...]]:
    for f in analysis.iter_flows():
        yield flow_row(analysis, f, covering(f))
