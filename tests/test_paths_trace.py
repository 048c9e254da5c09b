"""`pathaudit trace` (issue #4 acceptance 3): one flow forward and back, in table, JSON and DOT.

Expected hops come from fixtures/scenarios/README.md and Microsoft's documentation: the UDR that wins
at each hop (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview,
https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy), the appliance
owning the next-hop IP, the PE reply ignoring UDRs
(https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall) unless SNAT or a
valid disableSnatOnPL tag brings it back through the appliance
(https://learn.microsoft.com/azure/private-link/private-endpoint-overview,
https://learn.microsoft.com/azure/private-link/private-link-disable-snat,
https://learn.microsoft.com/azure/firewall/snat-private-range).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli, write_json
from helpers.path_estates import scenario_dir

APPLIANCES = {"nva", "azure-firewall"}


@cache
def rows(number: str) -> dict[str, dict[str, Any]]:
    """name -> row of a scenario (names are unique in the scenario estates)."""
    data = json.loads((scenario_dir(number) / "resources.json").read_text("utf-8"))
    return {r["name"]: r for r in data}


def rid(number: str, name: str) -> str:
    return rows(number)[name]["id"]


def subnet_id(number: str, vnet: str, subnet: str) -> str:
    return f"{rid(number, vnet)}/subnets/{subnet}"


def trace(number: str, *args: str) -> tuple[int, str, str]:
    return run_cli("trace", scenario_dir(number) / "resources.json", *args)


@cache
def trace_json(number: str, source: str, dest: str = "pe-aoai") -> dict[str, Any]:
    code, out, err = trace(number, "--from", source, "--to", dest, "--format", "json")
    assert code == 0, err
    assert "Traceback" not in err
    return json.loads(out)


def one_flow(number: str, source: str, dest: str = "pe-aoai") -> dict[str, Any]:
    doc = trace_json(number, source, dest)
    [flow] = doc["flows"]
    return flow


def kinds(hops: list[dict[str, Any]]) -> list[str]:
    return [h["kind"] for h in hops]


def route(hop: dict[str, Any]) -> tuple:
    r = hop["route"] or {}
    return (r.get("prefix"), r.get("next_hop_type"), r.get("next_hop_ip"), r.get("source"))


# ---------------------------------------------------------------------------------------------------
# S01: snet-app -> nva1 (UDR 10.2.0.0/16) -> pe-aoai (/32); reply straight back, without nva1


def test_s01_trace_json_forward_and_return() -> None:
    flow = one_flow("S01", "spoke-app/snet-app")
    fwd, ret = flow["forward"], flow["return"]
    assert kinds(fwd) == ["subnet", "nva", "private-endpoint"]
    assert [h["id"] for h in fwd] == [
        subnet_id("S01", "spoke-app", "snet-app"),
        rid("S01", "nva1-nic"),
        rid("S01", "pe-aoai"),
    ]
    # rt-spoke's 10.2.0.0/16 UDR wins at snet-app (longest match; spoke-app has no /32: not peered with spoke-ai)
    assert route(fwd[0]) == ("10.2.0.0/16", "VirtualAppliance", "10.0.2.4", "User")
    # nva1's subnet (hub, peered with spoke-ai) holds the PE /32, propagated to peered VNets
    # (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)
    assert route(fwd[1]) == ("10.2.1.4/32", "InterfaceEndpoint", None, "Default")
    assert fwd[1]["ip"] == "10.0.2.4" and fwd[2]["ip"] == "10.2.1.4"
    # the reply ignores UDRs: pe-aoai -> snet-app, nva1 nowhere
    assert [h["id"] for h in ret] == [rid("S01", "pe-aoai"), subnet_id("S01", "spoke-app", "snet-app")]
    assert not APPLIANCES & set(kinds(ret))
    assert flow["verdict"] == "asymmetric" and flow["outcome"] == "delivered"
    assert [a["name"] for a in flow["appliances"]] == ["nva1"]
    assert "mitigation" not in flow
    assert (flow["source"], flow["destination"], flow["destination_ip"], flow["port"]) == (
        rid("S01", "rt-spoke"),
        rid("S01", "pe-aoai"),
        "10.2.1.4",
        443,
    )
    # one route decision per routing step, each naming its own route context
    assert [(d["at"], d["route_context"]) for d in flow["decisions"]] == [
        ("snet-app", rid("S01", "rt-spoke")),
        ("nva1", subnet_id("S01", "hub", "snet-nva")),
    ]
    won = [c for c in flow["decisions"][0]["candidates"] if c["outcome"] == "won"]
    assert len(won) == 1 and won[0]["route"].startswith("10.2.0.0/16 -> VirtualAppliance 10.0.2.4")


@pytest.mark.parametrize("source", ["snet-app", "spoke-app/snet-app", "10.1.1.9"])
def test_s01_trace_table(source: str) -> None:
    # the issue's own words: `trace` from snet-app (a bare, unique subnet name) to pe-aoai
    code, out, err = trace("S01", "--from", source, "--to", "pe-aoai")
    assert code == 0, err
    lines = out.splitlines()
    fwd = lines[lines.index("  forward:") + 1 : lines.index("  return:")]
    ret = lines[lines.index("  return:") + 1 :]
    ret = ret[: next(i for i, line in enumerate(ret) if not line.startswith("    "))]
    assert [line.split()[0] for line in fwd] == ["snet-app", "nva1", "pe-aoai"]
    assert "10.2.0.0/16 -> VirtualAppliance 10.0.2.4 (User)" in fwd[0]
    assert "10.2.1.4/32 -> InterfaceEndpoint (Default)" in fwd[1]
    assert [line.split()[0] for line in ret] == ["pe-aoai", "snet-app"]
    assert not any("nva1" in line for line in ret)
    assert "  verdict: ASYMMETRIC" in lines
    # the reason nothing brings the reply back through nva1
    assert any(line.startswith("  note: nva1 does not SNAT") for line in lines)


DOT_NODE = re.compile(r'^  "(?P<id>(?:[^"\\]|\\.)*)" \[(?P<attrs>.*)\];$')
DOT_EDGE = re.compile(r'^  "(?P<a>(?:[^"\\]|\\.)*)" -> "(?P<b>(?:[^"\\]|\\.)*)" \[(?P<attrs>.*)\];$')


def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The subset of DOT `trace --format dot` writes; every line must be one of these statements."""
    lines = text.splitlines()
    assert re.fullmatch(r'digraph "(?:[^"\\]|\\.)*" \{', lines[0]), lines[0]
    assert lines[-1] == "}" and text.endswith("}\n")
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    for line in lines[1:-1]:
        if line in ("  rankdir=LR;",) or line.startswith("  node ["):
            continue
        if m := DOT_EDGE.match(line):
            edges.append((m["a"], m["b"], m["attrs"]))
        elif m := DOT_NODE.match(line):
            nodes[m["id"]] = m["attrs"]
        else:
            raise AssertionError(f"not a DOT statement: {line!r}")
    assert text.count("{") == text.count("}") == 1
    for a, b, _ in edges:
        assert a in nodes and b in nodes, (a, b)
    return nodes, edges


def test_s01_trace_dot() -> None:
    code, out, err = trace("S01", "--from", "spoke-app/snet-app", "--to", "pe-aoai", "--format", "dot")
    assert code == 0, err
    nodes, edges = parse_dot(out)
    app, nva, pe = subnet_id("S01", "spoke-app", "snet-app"), rid("S01", "nva1-nic"), rid("S01", "pe-aoai")
    assert set(nodes) == {app, nva, pe}
    style = {(a, b): re.search(r"style=(\w+)", attrs)[1] for a, b, attrs in edges}
    assert style == {(app, nva): "solid", (nva, pe): "solid", (pe, app): "dashed"}
    assert "filled" in nodes[nva] and "filled" not in nodes[app] and "filled" not in nodes[pe]
    assert 'label="10.2.0.0/16 VirtualAppliance"' in next(
        attrs for a, b, attrs in edges if (a, b) == (app, nva)
    )


# ---------------------------------------------------------------------------------------------------
# Other scenarios


def test_s05_trace_via_firewall_says_why_it_does_not_snat() -> None:
    """Network rules do not SNAT RFC 1918 destinations by default
    (https://learn.microsoft.com/azure/firewall/snat-private-range): 10.2.1.4 is in 10.0.0.0/8."""
    flow = one_flow("S05", "spoke-app/snet-app")
    assert kinds(flow["forward"]) == ["subnet", "azure-firewall", "private-endpoint"]
    assert flow["forward"][1]["id"] == rid("S05", "afw1")
    assert route(flow["forward"][0]) == ("10.2.0.0/16", "VirtualAppliance", "10.0.1.4", "User")
    assert not APPLIANCES & set(kinds(flow["return"]))
    assert flow["verdict"] == "asymmetric"
    [note] = [n for n in flow["notes"] if n.startswith("afw1")]
    assert "10.0.0.0/8" in note and "NET004" in note


def test_s02_nic_tag_brings_the_reply_back_through_nva1() -> None:
    flow = one_flow("S02", "spoke-app/snet-app")
    assert kinds(flow["forward"]) == ["subnet", "nva", "private-endpoint"]
    assert [h["id"] for h in flow["return"]] == [
        rid("S02", "pe-aoai"),
        rid("S02", "nva1-nic"),
        subnet_id("S02", "spoke-app", "snet-app"),
    ]
    assert flow["verdict"] == "symmetric"
    assert flow["mitigation"]["how"] == "tag" and "disableSnatOnPL=true" in flow["mitigation"]["detail"]


def test_s06_always_snat_is_symmetric() -> None:
    flow = one_flow("S06", "spoke-app/snet-app")
    assert kinds(flow["return"]) == ["private-endpoint", "azure-firewall", "subnet"]
    assert flow["verdict"] == "symmetric"
    assert flow["mitigation"]["how"] == "snat" and "255.255.255.255/32" in flow["mitigation"]["detail"]
    # the reply is addressed to the firewall, which routes it back by its own subnet's routes
    assert flow["return"][0]["route"]["prefix"] == "10.0.1.4/32"


def test_s11_trace_from_on_premises() -> None:
    """GatewaySubnet's rt-gw sends 10.2.0.0/16 to nva1, invalidating the PE /32 there
    (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy); the reply
    takes the system gateway route from spoke-ai (useRemoteGateways) and skips nva1."""
    flow = one_flow("S11", "on-premises")
    fwd, ret = flow["forward"], flow["return"]
    assert kinds(fwd) == ["gateway", "nva", "private-endpoint"]
    assert fwd[0]["id"] == rid("S11", "vpngw-hub")
    assert route(fwd[0]) == ("10.2.0.0/16", "VirtualAppliance", "10.0.2.4", "User")
    assert flow["source"] == "on-premises" and flow["source_prefixes"] == ["192.168.0.0/16"]
    assert ret[0]["id"] == rid("S11", "pe-aoai")
    assert route(ret[0])[:2] == ("192.168.0.0/16", "VirtualNetworkGateway")
    assert ret[-1]["id"] == rid("S11", "vpngw-hub") and ret[-1]["kind"] == "gateway"
    assert not APPLIANCES & set(kinds(ret))
    assert flow["verdict"] == "asymmetric"
    assert flow["decisions"][0]["route_context"] == rid("S11", "rt-gw")
    invalid = [c for c in flow["decisions"][0]["candidates"] if c["route"].startswith("10.2.1.4/32")]
    assert [c["outcome"] for c in invalid] == ["invalid"]


def test_s13_trace_blocked_by_the_enforced_nsg_names_the_rule() -> None:
    nsg = rows("S13")["nsg-pe"]
    [deny] = [r for r in nsg["properties"]["securityRules"] if r["properties"]["access"] == "Deny"]
    flow = one_flow("S13", "spoke-app/snet-app")
    assert flow["verdict"] == "blocked" and flow["outcome"] == "blocked" and flow["return"] == []
    [rec] = flow["nsg"]
    assert (rec["nsg"], rec["direction"], rec["decision"]) == (nsg["id"], "Inbound", "deny")
    assert deny["name"] in rec["rule"]
    code, out, _ = trace("S13", "--from", "spoke-app/snet-app", "--to", "pe-aoai")
    assert code == 0
    assert f"NSG nsg-pe Inbound: deny by {deny['name']}" in out and "verdict: BLOCKED" in out
    # APIM is the allowed source: it gets through (and is asymmetric via nva1)
    apim = one_flow("S13", "spoke-app/snet-apim")
    assert apim["outcome"] == "delivered" and apim["verdict"] == "asymmetric"
    assert apim["nsg"][0]["decision"] == "allow"


def test_s17_trace_is_dropped_at_the_unowned_next_hop() -> None:
    flow = one_flow("S17", "spoke-app/snet-app")
    assert kinds(flow["forward"]) == ["subnet", "drop"]
    assert flow["forward"][1]["ip"] == "10.0.2.9"
    assert flow["verdict"] == "blocked" and flow["return"] == []
    assert any("10.0.2.9" in n for n in flow["notes"])


def test_s16_trace_to_a_pending_endpoint_is_blocked() -> None:
    """Only Approved connections pass traffic
    (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)."""
    flow = one_flow("S16", "spoke-app/snet-app")
    assert flow["verdict"] == "blocked" and flow["return"] == []
    assert any("Pending" in n for n in flow["notes"])


def test_trace_from_an_ip_and_to_an_account_name() -> None:
    """--from 10.1.1.4 is inside snet-app; --to aoai1 is the account behind pe-aoai: same flow as S01's."""
    by_ip = one_flow("S01", "10.1.1.4", "aoai1")
    by_name = one_flow("S01", "spoke-app/snet-app", "pe-aoai")
    assert by_ip["source_subnets"] == [subnet_id("S01", "spoke-app", "snet-app")]
    for key in ("forward", "return", "verdict", "destination", "source"):
        assert by_ip[key] == by_name[key], key
    to_ip = one_flow("S01", "spoke-app/snet-app", "10.2.1.4")
    assert to_ip["forward"] == by_name["forward"]


def test_trace_json_is_deterministic() -> None:
    outs = {trace("S11", "--from", "on-premises", "--to", "aoai1", "--format", "json")[1] for _ in range(2)}
    assert len(outs) == 1


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("--from", "no-such-subnet", "--to", "pe-aoai"), "no-such-subnet"),
        (("--from", "spoke-app/nope", "--to", "pe-aoai"), "spoke-app/nope"),
        (("--from", "172.31.0.1", "--to", "pe-aoai"), "172.31.0.1"),
        (("--from", "spoke-app/snet-app", "--to", "no-such-pe"), "no-such-pe"),
        (("--from", "spoke-app/snet-app", "--to", "10.9.9.9"), "10.9.9.9"),
    ],
)
def test_bad_from_or_to_is_a_one_line_usage_error(args: tuple[str, ...], mentions: str) -> None:
    code, out, err = trace("S01", *args)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert mentions in lines[0]


def test_on_premises_without_a_gateway_is_a_usage_error(tmp_path: Path) -> None:
    rows = json.loads((REPO / "fixtures/scenarios/S01-base/resources.json").read_text("utf-8"))
    rows = [r for r in rows if r["type"] != "microsoft.network/virtualnetworkgateways"]
    code, _, err = run_cli(
        "trace", write_json(tmp_path, "no-gw.json", rows), "--from", "on-premises", "--to", "pe-aoai"
    )
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "gateway" in err


def test_on_premises_through_a_virtual_wan_hub_gateway() -> None:
    """S19: on-premises enters at the hub's VPN gateway; with route-table policies off on snet-pe the
    request bypasses the routing-intent firewall while the reply crosses it (the asymmetry NET008 reports)."""
    code, out, err = trace("S19", "--from", "on-premises", "--to", "pe-aoai", "--format", "json")
    assert code in (0, 1, 3), err
    [flow] = json.loads(out)["flows"]
    assert [h["kind"] for h in flow["forward"]] == ["gateway", "private-endpoint"]
    assert [h["kind"] for h in flow["return"]] == ["private-endpoint", "azure-firewall", "gateway"]
    assert flow["verdict"] == "asymmetric"


def test_trace_needs_existing_input(tmp_path: Path) -> None:
    code, _, err = run_cli("trace", tmp_path / "missing.json", "--from", "x", "--to", "y")
    assert code == 2 and "Traceback" not in err
