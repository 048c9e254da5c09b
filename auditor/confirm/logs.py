"""Azure Firewall log rows, aggregated per flow, whichever way they arrived (export or Log Analytics).

Both `flowlogs` (offline exports through DuckDB) and `loganalytics` (KQL through LogsQueryClient)
aggregate the same way, server-side or in SQL, so only per-flow summaries reach Python:

    Table, Firewall, Direction, ClientIp, PeIp, PePort, Flag, Rows, FirstSeen, LastSeen,
    SampleClientPort, ClientPorts

Direction is `forward` (client -> PE, the rows of AZFWNetworkRule and client-side flow-trace rows)
or `reverse` (PE -> client: SYN-ACK, FIN, RST, INVALID of the replies). Grouping by the PE side's
port instead of the raw `DestinationPort` keeps the reverse direction from exploding into one group
per client ephemeral port. AZFWNetworkRule rows log the first packet of a connection, so they count
as `SYN` (or `DENY` when the rule denied it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditor.confirm.flows import FlowTarget
from auditor.confirm.verdict import Observation
from auditor.ids import key
from auditor.ipnet import PrefixError, parse_ip

FLOW_TRACE = "AZFWFlowTrace"
NETWORK_RULE = "AZFWNetworkRule"
RESULT_COLUMNS = (
    "Table",
    "Firewall",
    "Direction",
    "ClientIp",
    "PeIp",
    "PePort",
    "Flag",
    "Rows",
    "FirstSeen",
    "LastSeen",
    "SampleClientPort",
    "ClientPorts",
)
TOTAL_DIRECTION = "(all rows)"
MAX_SAMPLES = 5


@dataclass(frozen=True, slots=True)
class LogGroup:
    table: str
    firewall: str
    direction: str
    client_ip: str
    pe_ip: str
    pe_port: int | None
    flag: str
    rows: int
    first_seen: float | None
    last_seen: float | None
    sample_client_port: int | None = None
    client_ports: int | None = None


@dataclass(slots=True)
class LogData:
    """Everything one log source produced for all targets."""

    label: str  # where, for messages: "flow-trace exports (a.csv)"
    groups: list[LogGroup] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # table -> all rows in the window/file
    flowtrace_known: bool = True  # False: no flow-trace data was requested or readable
    partial: bool = False
    _by_pe: dict[tuple[int, int], list[tuple[int, int, int, LogGroup]]] | None = None
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)

    def to_pe(self, target: FlowTarget) -> list[tuple[int, int, LogGroup]]:
        """(PE address, client address, group) of the groups to the target's endpoints, in row order,
        through an index by (PE address, port) built once: each finding looks up its own endpoints."""
        if self._by_pe is None:
            self._by_pe = {}
            for n, g in enumerate(self.groups):
                try:
                    pe, client = parse_ip(g.pe_ip), parse_ip(g.client_ip)
                except PrefixError:
                    continue
                if g.pe_port is not None:
                    self._by_pe.setdefault((pe, g.pe_port), []).append((n, pe, client, g))
        if target.ranges or any(port is None for _, port in target.host_keys()):
            rows = [
                x for xs in self._by_pe.values() for x in xs if target.matches_pe(x[1], x[3].pe_port or 0)
            ]
        else:
            rows = [x for key in target.host_keys() for x in self._by_pe.get(key, [])]  # type: ignore[arg-type]
        rows.sort(key=lambda x: x[0])
        return [(pe, client, g) for _, pe, client, g in rows]

    @property
    def flowtrace_rows(self) -> int | None:
        if not self.flowtrace_known:
            return None
        return self.totals.get(FLOW_TRACE, 0)


def to_epoch(value: Any) -> float | None:
    """Timestamps arrive as datetime (SDK, DuckDB), ISO strings, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return to_epoch(dt)


def to_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def group_from_row(row: dict[str, Any]) -> LogGroup | None:
    """A result row (any source) as a LogGroup; None for the table-total rows."""
    table = str(row.get("Table") or "")
    direction = str(row.get("Direction") or "")
    if direction == TOTAL_DIRECTION or not direction:
        return None
    return LogGroup(
        table=table,
        firewall=key(str(row.get("Firewall") or "").strip()),
        direction=direction,
        client_ip=str(row.get("ClientIp") or "").strip(),
        pe_ip=str(row.get("PeIp") or "").strip(),
        pe_port=to_int(row.get("PePort")),
        flag=str(row.get("Flag") or "").strip().upper(),
        rows=to_int(row.get("Rows")) or 0,
        first_seen=to_epoch(row.get("FirstSeen")),
        last_seen=to_epoch(row.get("LastSeen")),
        sample_client_port=to_int(row.get("SampleClientPort")),
        client_ports=to_int(row.get("ClientPorts")),
    )


def observe(data: LogData, target: FlowTarget) -> Observation:
    obs = Observation()
    firewall_ids = {key(str(a.id)) for a in target.azure_firewalls if a.id}
    samples: list[tuple[int, int, str]] = []
    for _pe, client, g in data.to_pe(target):
        role = target.client_role(client)
        if role is None:
            continue
        if g.firewall and firewall_ids and g.firewall not in firewall_ids:
            obs.other_firewall_rows += g.rows
            continue
        obs.seen(g.first_seen)
        obs.seen(g.last_seen)
        flag = g.flag or "SYN"
        if g.direction == "forward":
            obs.forward[flag] += g.rows
            if flag == "SYN":
                obs.syn_addrs.add(g.client_ip)
            text = f"{g.client_ip}:{g.sample_client_port or '*'} -> {g.pe_ip}:{g.pe_port} {flag}"
        else:
            obs.reverse[flag] += g.rows
            if flag != "INVALID":
                obs.reply_addrs.add(g.client_ip)
                if role == "snat":
                    obs.snat.add(g.client_ip)
            text = f"{g.pe_ip}:{g.pe_port} -> {g.client_ip}:{g.sample_client_port or '*'} {flag}"
        ports = f", {g.client_ports} client port(s)" if g.client_ports else ""
        rank = 0 if flag in ("INVALID", "SYN-ACK") else 1
        samples.append((rank, -g.rows, f"{text} x{g.rows} ({g.table}{ports})"))
    samples.sort()
    obs.samples = [s for _, _, s in samples[:MAX_SAMPLES]]
    obs.forward = Counter({k: v for k, v in obs.forward.items() if v})
    obs.reverse = Counter({k: v for k, v in obs.reverse.items() if v})
    return obs
