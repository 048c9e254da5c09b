"""Verdicts: what one evidence source says about one flow, and what all of them say together.

Rules (issue #6, https://learn.microsoft.com/azure/firewall/monitor-firewall-reference):
- confirmed: SYNs from the source prefixes to PE:port cross the appliance and no reply (SYN-ACK, RST,
  data) from PE:port comes back through it; or flow trace flags the flow `INVALID`; or replies cross
  the appliance whose SYNs never did (the mirror image, NET008's pattern).
- refuted: replies are seen at the appliance (directly, or to the appliance's SNAT address).
- inconclusive: no matching traffic, mixed evidence, or evidence that cannot speak for this flow
  (flow trace not enabled, logs of an Azure Firewall for a flow through an NVA, partial results);
  always with the reason.

Routing is per destination address, so replies are judged per *return address* (the client, or the
SNAT address the appliance substituted): one reply through the appliance to an address proves the
return path to that address crosses it; an unanswered SYN from the same address then has another
cause (the PE did not answer), not asymmetry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from auditor.confirm.flows import BYPASS, RETURN_ONLY, FlowTarget

CONFIRMED = "confirmed"
REFUTED = "refuted"
INCONCLUSIVE = "inconclusive"

FLOW_TRACE_HINT = (
    "flow trace may not be enabled: register the Microsoft.Network feature AFWEnableTcpConnectionLogging "
    "on the subscription, update the firewall, and send the 'Azure Firewall Flow Trace Log' category to "
    "resource-specific tables (AZFWFlowTrace); without it replies are never logged"
)


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    reason: str


@dataclass(slots=True)
class Observation:
    """What one evidence source saw of one flow. Counts are packets (pcap) or log rows (log)."""

    forward: Counter = field(default_factory=Counter)  # SYN, ACK/data, FIN, RST, INVALID, DENY
    reverse: Counter = field(default_factory=Counter)  # SYN-ACK, ACK/data, FIN, FIN-ACK, RST, INVALID
    syn_addrs: set[str] = field(default_factory=set)  # return addresses whose SYNs crossed
    reply_addrs: set[str] = field(default_factory=set)  # return addresses whose replies crossed
    unanswered_addrs: set[str] = field(default_factory=set)  # with definitively unanswered SYNs
    snat: set[str] = field(default_factory=set)  # SNAT addresses seen for the flow
    first_seen: float | None = None
    last_seen: float | None = None
    samples: list[str] = field(default_factory=list)
    # capture only: connection accounting
    answered: int = 0
    unanswered: int = 0
    pending: int = 0
    offpath_handshakes: int = 0  # client ACKed a SYN-ACK the appliance never saw
    snat_answered: bool = False  # some SNATed connection of the flow got its replies back
    orphan_replies: int = 0  # SYN-ACKs from the PE without a SYN through the appliance
    other_sources: int = 0  # connections to the PE from clients outside the flow (capture)
    # logs only
    other_firewall_rows: int = 0

    def seen(self, t: float | None) -> None:
        if t is None:
            return
        if self.first_seen is None or t < self.first_seen:
            self.first_seen = t
        if self.last_seen is None or t > self.last_seen:
            self.last_seen = t

    @property
    def any_traffic(self) -> bool:
        return bool(sum(self.forward.values()) or sum(self.reverse.values()))


def _snat_note(obs: Observation) -> str:
    return f"; SNAT to {', '.join(sorted(obs.snat))} observed" if obs.snat else ""


def _direction_note(target: FlowTarget, found: str) -> str:
    """Say when the evidence is asymmetric the other way round from what the configuration predicted."""
    if target.expectation == RETURN_ONLY and found == "forward":
        return " (the configuration predicted the reverse: forward bypassing, return crossing)"
    if target.expectation != RETURN_ONLY and found == "return":
        return " (mirror image of the configured asymmetry: the replies cross the appliance, the SYNs do not)"
    return ""


def capture_verdict(obs: Observation, target: FlowTarget) -> Verdict:
    ep = target.endpoint_text
    fwd_syn = obs.forward["SYN"]
    if target.expectation == BYPASS:
        if obs.any_traffic:
            return Verdict(
                REFUTED,
                f"packets of this flow to {ep} were captured: if the capture was taken at "
                "the appliance, the flow is inspected, not bypassing it",
            )
        return Verdict(
            INCONCLUSIVE, f"no packets to or from {ep}: absence at the capture point cannot prove the bypass"
        )
    if obs.answered:
        # replies to the appliance's SNAT address cover the clients whose twins could not be paired
        mixed = set() if obs.snat_answered else obs.unanswered_addrs - obs.reply_addrs
        if mixed:
            return Verdict(
                INCONCLUSIVE,
                f"mixed: {obs.answered} connection(s) to {ep} answered through the capture point, "
                f"{obs.unanswered} unanswered from other address(es) {', '.join(sorted(mixed)[:5])}",
            )
        extra = (
            (
                f"; {obs.unanswered} other connection(s) unanswered (the PE did not reply, or their SNATed "
                "twin was not recognised; not a routing asymmetry)"
            )
            if obs.unanswered
            else ""
        )
        parts = [f"{obs.reverse['SYN-ACK']} SYN-ACK"] + (
            [f"{obs.reverse['RST']} RST"] if obs.reverse["RST"] else []
        )
        return Verdict(
            REFUTED,
            f"{obs.answered} connection(s) to {ep}: the SYNs and the replies ({', '.join(parts)}) "
            f"both cross the capture point, so the return path crosses the appliance"
            f"{_snat_note(obs)}{extra}",
        )
    if obs.unanswered:
        how = []
        if obs.offpath_handshakes:
            how.append(
                f"{obs.offpath_handshakes} completed the handshake off-path (client ACK/data after "
                "a SYN-ACK the appliance never saw)"
            )
        retrans = obs.unanswered - obs.offpath_handshakes
        if retrans > 0:
            how.append(f"{retrans} with retransmitted SYNs or unanswered for more than 3 s")
        return Verdict(
            CONFIRMED,
            f"{fwd_syn} SYN(s) in {obs.unanswered} connection(s) from the source prefixes "
            f"to {ep} crossed the capture point and no SYN-ACK came back through it: "
            + "; ".join(how)
            + _snat_note(obs)
            + _direction_note(target, "forward"),
        )
    if obs.orphan_replies:
        return Verdict(
            CONFIRMED,
            f"{obs.reverse['SYN-ACK']} SYN-ACK(s) from {ep} crossed the capture point "
            f"without their SYNs ({obs.orphan_replies} connection(s))" + _direction_note(target, "return"),
        )
    fdata, rdata = obs.forward["ACK/data"] + obs.forward["FIN"], obs.reverse["ACK/data"] + obs.reverse["FIN"]
    if fdata and rdata:
        return Verdict(
            REFUTED,
            f"no handshake captured, but packets of established connections cross in both "
            f"directions ({fdata} toward {ep}, {rdata} back){_snat_note(obs)}",
        )
    if fdata:
        return Verdict(
            CONFIRMED,
            f"no handshake captured; {fdata} packet(s) toward {ep} and none back"
            + _direction_note(target, "forward"),
        )
    if rdata:
        return Verdict(
            CONFIRMED,
            f"no handshake captured; {rdata} packet(s) from {ep} and none toward it"
            + _direction_note(target, "return"),
        )
    if obs.pending:
        return Verdict(
            INCONCLUSIVE,
            f"{obs.pending} SYN(s) to {ep} seen only in the last 3 s of the capture: "
            "the reply may simply not have been captured",
        )
    others = (
        f"; {obs.other_sources} connection(s) to {ep} from other sources ignored" if obs.other_sources else ""
    )
    return Verdict(
        INCONCLUSIVE, f"no matching traffic: no TCP packets between the source prefixes and {ep}{others}"
    )


def log_verdict(
    obs: Observation, target: FlowTarget, *, flowtrace_rows: int | None, partial: bool, where: str
) -> Verdict:
    """`flowtrace_rows`: rows in AZFWFlowTrace over the whole window (None: unknown/not queried)."""
    ep = target.endpoint_text
    if target.expectation != BYPASS and not target.azure_firewalls:
        names = ", ".join(a.label() for a in target.appliances)
        return Verdict(
            INCONCLUSIVE,
            f"Azure Firewall logs cannot speak for this flow: it crosses {names}, "
            "not an Azure Firewall (use a capture on the appliance)",
        )
    syn = obs.forward["SYN"]
    denied = obs.forward["DENY"]
    invalid = obs.forward["INVALID"] + obs.reverse["INVALID"]
    replies = sum(v for k, v in obs.reverse.items() if k != "INVALID")
    if target.expectation == BYPASS:
        if syn or replies or invalid:
            return Verdict(
                REFUTED,
                f"the firewall logged this flow ({syn} SYN/rule rows, {replies} replies in "
                f"{where}): it is inspected, not bypassing the firewall",
            )
        return Verdict(
            INCONCLUSIVE, f"no rows for {ep} in {where}: absence from firewall logs cannot prove the bypass"
        )
    no_trace = flowtrace_rows == 0
    if replies and not invalid:
        unanswered = obs.syn_addrs - obs.reply_addrs
        if unanswered and not obs.snat:
            return Verdict(
                INCONCLUSIVE,
                f"mixed: replies from {ep} logged for {', '.join(sorted(obs.reply_addrs)[:5])}"
                f" but not for {', '.join(sorted(unanswered)[:5])}",
            )
        return Verdict(
            REFUTED,
            f"{replies} reply row(s) from {ep} (SYN-ACK/FIN/RST) in {where}: the return "
            f"path crosses the firewall{_snat_note(obs)}",
        )
    if replies and invalid:
        return Verdict(
            INCONCLUSIVE, f"mixed: {replies} reply row(s) and {invalid} INVALID row(s) for {ep} in {where}"
        )
    if invalid:
        v = Verdict(
            CONFIRMED,
            f"{invalid} INVALID flow-trace row(s) for {ep} (packets without connection state "
            f"on the firewall) and no SYN-ACK in {where}",
        )
    elif syn:
        if no_trace:
            return Verdict(
                INCONCLUSIVE,
                f"{syn} SYN row(s) from the source prefixes to {ep} allowed by network "
                f"rules, but AZFWFlowTrace has no rows at all in {where}: {FLOW_TRACE_HINT}",
            )
        if flowtrace_rows is None:
            return Verdict(
                INCONCLUSIVE,
                f"{syn} SYN row(s) to {ep} but no flow-trace data was supplied: "
                "replies are only visible in AZFWFlowTrace",
            )
        v = Verdict(
            CONFIRMED,
            f"{syn} SYN row(s) from the source prefixes to {ep} crossed the firewall and no "
            f"SYN-ACK came back through it (AZFWFlowTrace active: {flowtrace_rows} rows; the "
            "missing-SYN-ACK pattern is an inference, docs/landing-zones.md)",
        )
    elif denied:
        return Verdict(
            INCONCLUSIVE, f"the firewall denied {denied} SYN(s) to {ep}: the flow is blocked, not asymmetric"
        )
    else:
        if no_trace:
            return Verdict(
                INCONCLUSIVE,
                f"no matching traffic for {ep} in {where}, and AZFWFlowTrace has no rows "
                f"at all: {FLOW_TRACE_HINT}",
            )
        others = (
            f"; {obs.other_firewall_rows} matching row(s) came from other firewalls than this flow's"
            if obs.other_firewall_rows
            else ""
        )
        return Verdict(
            INCONCLUSIVE,
            f"no matching traffic: no rows between the source prefixes and {ep} in {where}{others}",
        )
    if partial:
        return Verdict(INCONCLUSIVE, f"partial results: {v.reason}; the missing part may hold the replies")
    return v


def combine(verdicts: list[Verdict]) -> Verdict:
    """All sources together: agreement decides, disagreement is inconclusive, silence explains itself."""
    confirmed = [v for v in verdicts if v.status == CONFIRMED]
    refuted = [v for v in verdicts if v.status == REFUTED]
    if confirmed and refuted:
        return Verdict(
            INCONCLUSIVE, f"evidence conflicts: {len(confirmed)} source(s) confirm, {len(refuted)} refute"
        )
    if confirmed:
        return Verdict(CONFIRMED, confirmed[0].reason)
    if refuted:
        return Verdict(REFUTED, refuted[0].reason)
    if not verdicts:
        return Verdict(INCONCLUSIVE, "no evidence source supplied")
    return Verdict(INCONCLUSIVE, "; ".join(dict.fromkeys(v.reason for v in verdicts)))
