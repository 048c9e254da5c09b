"""Issue #3 acceptance 5 (CLI part): `pathaudit routes --ip` explanations and `--subnet` resolution."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO, run_cli, write_json
from helpers.routing_rows import RowEstate

S08 = REPO / "fixtures" / "scenarios" / "S08-same-vnet-udr-invalidates-pe-route" / "resources.json"
S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"
SNET_WORK = (
    "/subscriptions/3f2c8a71-5b0e-4d2a-9c7e-1a2b3c4d5e6f/resourceGroups/rg-spoke-ai/providers/"
    "Microsoft.Network/virtualNetworks/spoke-ai/subnets/snet-work"
)


def decision_lines(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Destination "))
    return [ln.strip() for ln in lines[start + 1 :] if ln.strip()]


def test_ip_names_the_winner_and_every_loser_with_a_reason() -> None:
    # S08 snet-work: the /24 UDR wins
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview), the PE /32 is
    # Invalid because policies are on and the UDR is no wider than the PE VNet's range
    # (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy), the VNet /16,
    # the reserved 10/8 and 0/0 are less specific.
    code, out, err = run_cli("routes", S08, "--subnet", "spoke-ai/snet-work", "--ip", "10.2.1.4")
    assert code == 0, err
    assert "Destination 10.2.1.4:" in out
    lines = decision_lines(out)
    assert lines[0].startswith("WINS  10.2.1.0/24 -> VirtualAppliance 10.0.2.4 (User/udr)")
    assert "longest matching prefix (/24)" in lines[0]
    losers = {ln.split(" -> ")[0].removeprefix("loses "): ln for ln in lines[1:]}
    assert set(losers) == {"10.2.1.4/32", "10.2.0.0/16", "10.0.0.0/8", "0.0.0.0/0"}
    assert all(ln.startswith("loses ") for ln in lines[1:])
    assert "InterfaceEndpoint" in losers["10.2.1.4/32"]
    assert "invalidated by UDR" in losers["10.2.1.4/32"] and "RouteTableEnabled" in losers["10.2.1.4/32"]
    assert "/16 is shorter than the winning /24" in losers["10.2.0.0/16"]
    assert "/8 is shorter" in losers["10.0.0.0/8"] and "/0 is shorter" in losers["0.0.0.0/0"]
    # the route table itself lists the Invalid /32 with the same reason
    assert "Invalid routes:" in out


def test_ip_explains_a_tie() -> None:
    # GatewaySubnet towards on-premises: the gateway route ties the reserved 192.168/16 None route
    code, out, _ = run_cli("routes", S01, "--subnet", "hub/GatewaySubnet", "--ip", "192.168.10.1")
    assert code == 0
    lines = decision_lines(out)
    assert lines[0].startswith("WINS  192.168.0.0/16 -> VirtualNetworkGateway")
    assert "beats 1 route(s) with the same prefix" in lines[0]
    tie = next(ln for ln in lines if ln.startswith("loses 192.168.0.0/16 -> None"))
    assert "virtual-networks-udr-overview" in tie


def test_ip_with_no_covering_route_and_bad_ip(tmp_path: Path) -> None:
    code, out, _ = run_cli("routes", S01, "--subnet", "hub/snet-nva", "--ip", "8.8.8.8")
    assert code == 0
    assert decision_lines(out)[0].startswith("WINS  0.0.0.0/0 -> Internet")
    code, out, err = run_cli("routes", S01, "--subnet", "hub/snet-nva", "--ip", "10.2.1.999")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--ip" in err


def test_subnet_by_id_in_any_case_and_by_vnet_slash_subnet() -> None:
    outs = []
    for spec in (SNET_WORK, SNET_WORK.lower(), "spoke-ai/snet-work", "SPOKE-AI/SNET-WORK"):
        code, out, err = run_cli("routes", S08, "--subnet", spec, "--format", "json")
        assert code == 0, (spec, err)
        outs.append(json.loads(out))
    assert all(o == outs[0] for o in outs)
    assert any(r["addressPrefix"] == ["10.2.1.0/24"] and r["source"] == "User" for r in outs[0]["value"])


def test_unknown_subnet_is_a_one_line_usage_error() -> None:
    for spec in (
        "spoke-ai/nope",
        "nope",
        "",
        "/",
        "spoke-ai/snet-work/extra",
        "<script>",
        SNET_WORK.replace("snet-work", "snet-gone"),
    ):
        code, out, err = run_cli("routes", S08, "--subnet", spec)
        assert code == 2, spec
        assert out == ""
        assert len(err.strip().splitlines()) == 1, err
        assert (
            err.startswith("pathaudit: error: no subnet") and "spoke-ai/snet-work" in err
        )  # lists known ones


def test_ambiguous_subnet_is_a_one_line_usage_error(tmp_path: Path) -> None:
    a, b = RowEstate(), RowEstate()
    a.vnet("shared", "10.1.0.0/16", rg="rg-a")
    a.subnet("shared", "app", "10.1.1.0/24")
    b.vnet("shared", "10.2.0.0/16", rg="rg-b")
    b.subnet("shared", "app", "10.2.1.0/24")
    estate = write_json(tmp_path, "two.json", a.rows() + b.rows())
    code, out, err = run_cli("routes", estate, "--subnet", "shared/app")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "ambiguous" in err
    assert a.subnet_id("shared", "app") in err and b.subnet_id("shared", "app") in err
    # a bare name shared by both is ambiguous too: never guess which one was meant
    code, out, err = run_cli("routes", estate, "--subnet", "app")
    assert (code, out) == (2, "")
    assert "ambiguous" in err and a.subnet_id("shared", "app") in err
    # the full id resolves it
    code, out, _ = run_cli("routes", estate, "--subnet", b.subnet_id("shared", "app"), "--format", "json")
    assert code == 0
    assert ["10.2.0.0/16"] in [r["addressPrefix"] for r in json.loads(out)["value"]]


def test_bare_subnet_name_resolves_when_unique_and_lists_vnets_when_not(tmp_path: Path) -> None:
    e = RowEstate()
    for vnet, prefix, subnets in (("hub", "10.0.0.0/16", ["app"]), ("spoke", "10.1.0.0/16", ["app", "db"])):
        e.vnet(vnet, prefix)
        for i, name in enumerate(subnets, 1):
            e.subnet(vnet, name, prefix.replace(".0.0/16", f".{i}.0/24"))
    estate = write_json(tmp_path, "e.json", e.rows())
    code, out, err = run_cli(
        "routes", estate, "--subnet", "DB", "--format", "json"
    )  # names match in any case
    assert code == 0, err
    assert ["10.1.0.0/16"] in [r["addressPrefix"] for r in json.loads(out)["value"]]
    code, out, err = run_cli("routes", estate, "--subnet", "app")
    assert (code, out) == (2, "")
    assert "ambiguous" in err and "hub/app" in err and "spoke/app" in err
