"""Issue #3 acceptance 3: property-based checks of the LPM and of the PE /32 invalidation rule.

The references here are written from the spec, not from the implementation:
- LPM (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview): of the prefixes containing the address, the longest; a brute-force scan
  with `ipaddress`. For a prefix given twice the later value counts (a mapping's usual rule).
- PE /32 invalidation (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy):
  the PE /32 is Invalid in a client subnet iff the PE's own
  subnet has privateEndpointNetworkPolicies Enabled or RouteTableEnabled AND the client's route
  table has a UDR whose prefix contains the PE IP AND whose prefix length is >= the prefix length
  of the PE VNet range containing the PE IP; 0.0.0.0/0 never qualifies. A PE VNet range that is not
  known cannot be compared, so nothing is invalidated (the engine's documented choice).
- End to end (effective routes, the invalidation rule and the User > BGP > System tie-break,
  https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview): in a small estate with a
  random route table and policies, the
  state of the PE /32 and the winning route for the PE IP match a reference selection.
"""

from __future__ import annotations

import ipaddress
import json
import tempfile
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

from helpers.routing_rows import RowEstate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.audit import load_estate
from auditor.estate.model import PrivateEndpoint
from auditor.ipnet import MAX32, Cidr, mask, parse_cidr, parse_ip
from auditor.routing.engine import PeRoute, RoutingModel, invalidation
from auditor.routing.lpm import PrefixMap

POLICIES = ("Disabled", "Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled")

# ------------------------------------------------------------------------------------ strategies

addresses = st.one_of(
    st.integers(0, MAX32), st.sampled_from([0, 1, MAX32 - 1, MAX32, 0x0A000000, 0x0AFFFFFF])
)
lengths = st.one_of(st.integers(0, 32), st.sampled_from([0, 1, 8, 16, 24, 31, 32]))


@st.composite
def cidrs(draw, within: Cidr | None = None) -> Cidr:
    lo = within.plen if within is not None else 0
    plen = draw(st.integers(lo, 32)) if within is not None else draw(lengths)
    ip = (
        draw(addresses)
        if within is None
        else within.net + draw(st.integers(0, (1 << (32 - within.plen)) - 1))
    )
    return Cidr(ip & mask(plen), plen)


@st.composite
def prefix_sets(draw) -> list[Cidr]:
    base = draw(st.lists(cidrs(), max_size=10))
    nested = [draw(cidrs(within=c)) for c in base if draw(st.booleans())]
    nested += [draw(cidrs(within=c)) for c in nested if draw(st.booleans())]
    dups = draw(st.lists(st.sampled_from(base), max_size=3)) if base else []
    return draw(st.permutations(base + nested + dups))


def probes(prefixes: list[Cidr], extra: list[int]) -> list[int]:
    """Interval edges of every prefix (first, last and the addresses just outside) plus extremes."""
    out = {0, MAX32, *extra}
    for c in prefixes:
        for ip in (c.net, c.last, c.net - 1, c.last + 1):
            if 0 <= ip <= MAX32:
                out.add(ip)
    return sorted(out)


def lpm_reference(items: list[tuple[Cidr, str]], ip: int) -> str | None:
    table: dict[ipaddress.IPv4Network, str] = {}
    for cidr, value in items:
        table[ipaddress.IPv4Network((cidr.net, cidr.plen))] = value  # later duplicate replaces
    addr = ipaddress.IPv4Address(ip)
    best = None
    for net, value in table.items():
        if addr in net and (best is None or net.prefixlen > best[0].prefixlen):
            best = (net, value)
    return best[1] if best else None


# ------------------------------------------------------------------------------------ LPM


@settings(max_examples=300, deadline=None)
@given(prefix_sets(), st.lists(addresses, max_size=20))
def test_prefix_map_matches_brute_force(prefixes: list[Cidr], extra: list[int]) -> None:
    items = [(c, f"v{i}:{c}") for i, c in enumerate(prefixes)]
    pm = PrefixMap(items)
    for ip in probes(prefixes, extra):
        assert pm.get(ip) == lpm_reference(items, ip), (ip, prefixes)


@settings(max_examples=200, deadline=None)
@given(prefix_sets(), st.lists(addresses, max_size=20))
def test_prefix_map_intervals_tile_the_address_space_and_agree_with_get(
    prefixes: list[Cidr], extra: list[int]
) -> None:
    """The flow analysis sweeps endpoints over `intervals()` instead of calling `get` per endpoint."""
    items = [(c, f"v{i}:{c}") for i, c in enumerate(prefixes)]
    pm = PrefixMap(items)
    spans = pm.intervals()
    assert spans[0][0] == 0 and spans[-1][1] == MAX32
    assert all(a[1] + 1 == b[0] and a[0] <= a[1] for a, b in pairwise(spans))
    for first, last, value in spans:
        assert pm.get(first) == value and pm.get(last) == value
    for ip in probes(prefixes, extra):
        [value] = [v for first, last, v in spans if first <= ip <= last]
        assert value == lpm_reference(items, ip)


def test_prefix_map_examples() -> None:
    items = [
        (parse_cidr("0.0.0.0/0"), "default"),
        (parse_cidr("10.0.0.0/8"), "ten"),
        (parse_cidr("10.2.0.0/16"), "spoke"),
        (parse_cidr("10.2.1.4/32"), "pe"),
        (parse_cidr("255.255.255.255/32"), "broadcast"),
        (parse_cidr("10.2.0.0/16"), "spoke-again"),
    ]
    pm = PrefixMap(items)
    assert pm.get(parse_ip("10.2.1.4")) == "pe"
    assert pm.get(parse_ip("10.2.1.3")) == "spoke-again"  # duplicate prefix: the later value
    assert pm.get(parse_ip("10.2.1.5")) == "spoke-again"
    assert pm.get(parse_ip("10.3.0.0")) == "ten"
    assert pm.get(parse_ip("9.255.255.255")) == "default"
    assert pm.get(MAX32) == "broadcast"
    assert pm.get(MAX32 - 1) == "default"
    assert pm.get(0) == "default"
    empty = PrefixMap([])
    assert empty.get(0) is None and empty.get(MAX32) is None
    only_host = PrefixMap([(parse_cidr("0.0.0.0/32"), "zero")])
    assert only_host.get(0) == "zero" and only_host.get(1) is None
    assert only_host.intervals() == [(0, 0, "zero"), (1, MAX32, None)]
    assert empty.intervals() == [(0, MAX32, None)]


# ------------------------------------------------------------------------ PE /32 invalidation


def r2_reference(
    pe_ip: int, vnet_range: ipaddress.IPv4Network | None, policies: str, udrs: list[ipaddress.IPv4Network]
) -> ipaddress.IPv4Network | None:
    """The longest UDR that invalidates the PE /32 (policies on, UDR no wider than the PE VNet range), or None."""
    if policies not in ("Enabled", "RouteTableEnabled") or vnet_range is None:
        return None
    addr = ipaddress.IPv4Address(pe_ip)
    qualifying = [u for u in udrs if u.prefixlen > 0 and addr in u and u.prefixlen >= vnet_range.prefixlen]
    return max(qualifying, key=lambda u: u.prefixlen, default=None)


def dummy_pe() -> PrivateEndpoint:
    return PrivateEndpoint(
        id="/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe",
        name="pe",
        subnet_id=None,
        nic_ids=[],
        connections=[],
        static_ips=(),
        dns_ips=(),
    )


@st.composite
def r2_cases(draw):
    pe_ip = draw(addresses)
    vnet_plen = draw(st.one_of(st.none(), st.integers(0, 30)))  # /0: only to test "0/0 never"
    vnet = None if vnet_plen is None else ipaddress.IPv4Network((pe_ip & mask(vnet_plen), vnet_plen))
    covering = draw(st.lists(lengths, max_size=5))  # UDRs that contain the PE IP
    udrs = [ipaddress.IPv4Network((pe_ip & mask(p), p)) for p in covering]
    udrs += [ipaddress.IPv4Network((c.net, c.plen)) for c in draw(st.lists(cidrs(), max_size=4))]
    return pe_ip, vnet, draw(st.sampled_from(POLICIES)), draw(st.permutations(udrs))


@settings(max_examples=500, deadline=None)
@given(r2_cases())
def test_invalidation_matches_the_r2_reference(case) -> None:
    pe_ip, vnet, policies, udrs = case
    per = PeRoute(
        dummy_pe(),
        pe_ip,
        None if vnet is None else Cidr(int(vnet.network_address), vnet.prefixlen),
        policies,
        None,
    )
    udr_map = [
        (Cidr(int(u.network_address), u.prefixlen), SimpleNamespace(name=f"udr{i}"))
        for i, u in enumerate(udrs)
    ]
    reason = invalidation(per, udr_map)
    expected = r2_reference(pe_ip, vnet, policies, udrs)
    assert (reason is not None) == (expected is not None), (reason, expected)
    if expected is not None:
        assert str(expected) in reason  # names the deciding (longest qualifying) UDR
        assert policies in reason


def test_invalidation_examples() -> None:
    pe = dummy_pe()
    ip = parse_ip("10.2.1.4")
    vnet16 = parse_cidr("10.2.0.0/16")

    def inv(policies: str, *udrs: str, vnet: Cidr | None = vnet16) -> bool:
        per = PeRoute(pe, ip, vnet, policies, None)
        return invalidation(per, [(parse_cidr(u), SimpleNamespace(name=u)) for u in udrs]) is not None

    assert inv("RouteTableEnabled", "10.2.0.0/16")  # equal to the VNet range
    assert inv("Enabled", "10.2.1.0/24")  # narrower
    assert not inv("RouteTableEnabled", "10.0.0.0/8")  # wider than the VNet range
    assert not inv("RouteTableEnabled", "0.0.0.0/0")  # never: 0.0.0.0/0 never qualifies
    assert not inv("RouteTableEnabled", "10.3.0.0/16")  # does not contain the PE IP
    assert not inv("Disabled", "10.2.1.4/32")  # no policies: no invalidation ...
    assert not inv("NetworkSecurityGroupEnabled", "10.2.1.0/24")
    assert not inv("RouteTableEnabled", "10.2.1.0/24", vnet=None)
    assert inv("RouteTableEnabled", "10.0.0.0/8", vnet=parse_cidr("10.0.0.0/8"))


# ------------------------------------------------------------------------------------ end to end

CANDIDATE_UDRS = [
    "0.0.0.0/0",
    "10.0.0.0/8",
    "10.2.0.0/15",
    "10.2.0.0/16",
    "10.2.0.0/20",
    "10.2.1.0/24",
    "10.2.1.0/26",
    "10.2.1.4/32",
    "10.3.0.0/16",
    "10.2.1.8/29",
]
PE_VNET_RANGES = ["10.2.0.0/16", "10.2.0.0/20", "10.2.1.0/24", "10.2.0.0/15"]


def reference_selection(pe_vnet: str, policies: str, udrs: list[str]):
    """(PE /32 state, winning (prefix, source)) for 10.2.1.4, from the effective-route model, the
    invalidation rule and longest prefix / tie-break selection
    (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)."""
    ip = ipaddress.IPv4Address("10.2.1.4")
    nets = [ipaddress.IPv4Network(u) for u in udrs]
    vnet = ipaddress.IPv4Network(pe_vnet)
    invalid = (
        r2_reference(int(ip), vnet, policies, nets) is not None
        or ipaddress.IPv4Network("10.2.1.4/32") in nets
    )
    # candidates covering the PE IP: (prefix, source). The PE VNet range is VnetLocal for a client in
    # that VNet and VNetPeering for one in the peered hub: a system route of that prefix either way.
    system = [
        ipaddress.IPv4Network("0.0.0.0/0"),
        ipaddress.IPv4Network("10.0.0.0/8"),
        vnet,
    ]  # Internet, None, VNet/peering
    if not invalid:
        system.append(ipaddress.IPv4Network("10.2.1.4/32"))
    cands = [(n, "User") for n in nets if ip in n] + [(n, "Default") for n in system if ip in n]
    best_len = max(n.prefixlen for n, _ in cands)
    top = [c for c in cands if c[0].prefixlen == best_len]
    # User beats System on a tie (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
    chosen = next((c for c in top if c[1] == "User"), top[0])
    return ("Invalid" if invalid else "Active"), (str(chosen[0]), chosen[1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(PE_VNET_RANGES),
    st.sampled_from(POLICIES),
    st.lists(st.sampled_from(CANDIDATE_UDRS), unique=True, max_size=5),
    st.booleans(),
)
def test_engine_selection_towards_a_pe_matches_the_reference(
    pe_vnet: str, policies: str, udrs: list[str], client_in_pe_vnet: bool
) -> None:
    b = RowEstate()
    b.vnet("hub", "10.0.0.0/16")
    b.vnet("spoke-ai", pe_vnet)
    nva = b.subnet("hub", "snet-nva", "10.0.2.0/24")
    b.nic("nva1-nic", nva, "10.0.2.4", forwarding=True)
    rt = b.route_table("rt-client", [(u, "VirtualAppliance", "10.0.2.4") for u in udrs])
    pe_subnet = b.subnet("spoke-ai", "snet-pe", "10.2.1.0/26", pe_policies=policies)
    b.private_endpoint("pe1", pe_subnet, "10.2.1.4")
    if client_in_pe_vnet:
        client = b.subnet("spoke-ai", "snet-client", "10.2.1.128/26", route_table=rt)
    else:
        client = b.subnet("hub", "snet-client", "10.0.1.0/24", route_table=rt)
    b.peer("hub", "spoke-ai")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resources.json"
        path.write_text(json.dumps(b.rows()), encoding="utf-8")
        estate = load_estate([path])
    assert estate.problems == []
    table = RoutingModel(estate).table_for_subnet(client)
    pe = [r for r in table.routes if r.kind == "private-endpoint"]
    assert len(pe) == 1
    state, (prefix, source) = reference_selection(pe_vnet, policies, udrs)
    assert pe[0].state == state
    w = table.lookup(parse_ip("10.2.1.4"))
    assert (str(w.prefix), w.source) == (prefix, source)
    if source == "User":
        assert (w.next_hop_type, w.next_hop_ip_text) == ("VirtualAppliance", "10.0.2.4")
