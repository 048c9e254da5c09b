"""Every cache of the flow analysis, in one place: what a part of FlowAnalysis remembers between flows.

Keys use `id()` of views, routes and appliance lists where those objects live as long as the analysis
(routing views, shared walk tails): cheaper than hashing them, and safe while the analysis holds them."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.ipnet import Cidr
from auditor.paths import nsg as nsgs
from auditor.paths.appliances import Appliance
from auditor.paths.firewall_rules import FirewallRules, Verdict
from auditor.paths.flow import Mitigation
from auditor.paths.walk import Hop, Tail
from auditor.routing.lpm import PrefixMap
from auditor.routing.table import EffectiveRoute


@dataclass
class AnalysisCaches:
    tails: dict[tuple, Tail] = field(default_factory=dict)
    system: dict[tuple, PrefixMap[EffectiveRoute]] = field(default_factory=dict)
    fixed: dict[tuple, Tail] = field(default_factory=dict)
    dest_hops: dict[tuple, Hop] = field(default_factory=dict)
    fw_rules: dict[str, FirewallRules | None] = field(default_factory=dict)
    fw_candidates: dict[tuple, tuple] = field(default_factory=dict)
    fw_kinds: dict[tuple, Verdict] = field(default_factory=dict)
    ip_names: dict[tuple[int, str], tuple[str, ...]] = field(default_factory=dict)
    replies: dict[tuple, Appliance | None] = field(default_factory=dict)
    fw_snat: dict[tuple, tuple[bool, str]] = field(default_factory=dict)
    mitigations: dict[tuple, Mitigation | None] = field(default_factory=dict)
    mit_memo: dict[tuple, tuple[list, Mitigation | None]] = field(default_factory=dict)
    canon: dict[tuple, tuple] = field(default_factory=dict)
    nsg_rules: dict[tuple[str, str], tuple[nsgs.CompiledRule, ...]] = field(default_factory=dict)
    rulesets: dict[tuple, tuple[nsgs.CompiledRule, ...]] = field(default_factory=dict)
    vnet_tags: dict[tuple, tuple[list[Cidr], PrefixMap[bool]]] = field(default_factory=dict)
    verdicts: dict[tuple, bool | None] = field(default_factory=dict)  # -> denied (None: per member)
    pe_nsgs: dict[str, tuple | None] = field(default_factory=dict)
