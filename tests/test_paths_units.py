"""Building blocks of the flow analysis (issue #4 acceptance 5): firewall SNAT ranges, firewall rule
kind, disableSnatOnPL tag placement, NSG evaluation. Model objects are built directly where the logic
is pure; the shapes only ingestion understands (the `"[255.255.255.255/32]"` string form) go through
`load_estate` on a mutated scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.path_estates import Rows, by_rule, ip, triples

from auditor.audit import load_estate
from auditor.estate.model import (
    Estate,
    Firewall,
    FirewallPolicy,
    NetworkInterface,
    NetworkSecurityGroup,
    RuleCollectionGroup,
    ScaleSet,
    ScaleSetInstance,
    SecurityRule,
    VirtualMachine,
)
from auditor.ipnet import Cidr, parse_cidr, port_in_ranges
from auditor.paths import nsg as nsgs
from auditor.paths.appliances import firewall_private_ranges, firewall_snats, tag_findings
from auditor.paths.firewall_rules import firewall_rule_kind

PE = ip("10.2.1.4")
REPO_ROOT = Path(__file__).resolve().parent.parent
FW = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/azureFirewalls/afw1"
POLICY = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/afwp1"


def estate() -> Estate:
    return Estate(records={}, files={})


def firewall(e: Estate, *, policy: list[str] | bool | None = False, classic: str | None = None) -> Firewall:
    """policy=False: no policy attached; None: a policy without `snat`; a list: its snat.privateRanges."""
    fw = Firewall(
        FW,
        "afw1",
        "AZFW_VNet",
        "Standard",
        ip("10.0.1.4"),
        None,
        None if policy is False else POLICY,
        None,
        {"Network.SNAT.PrivateRanges": classic} if classic is not None else {},
    )
    if policy is not False:
        e.firewall_policies[POLICY.lower()] = FirewallPolicy(POLICY, "afwp1", policy, None, None, [])
    e.firewalls[FW.lower()] = fw
    return fw


# ---------------------------------------------------------------------------------------------------
# firewall_snats / firewall_private_ranges (https://learn.microsoft.com/azure/firewall/snat-private-range)


@pytest.mark.parametrize(
    ("dest", "snat"),
    [
        ("10.2.1.4", False),  # RFC 1918
        ("172.20.1.1", False),  # RFC 1918
        ("192.168.7.7", False),  # RFC 1918
        ("100.64.3.3", False),  # RFC 6598
        ("8.8.8.8", True),  # public: always SNATed
        ("172.32.0.1", True),  # just outside 172.16.0.0/12
    ],
)
def test_default_private_ranges_are_iana_rfc1918_and_rfc6598(dest: str, snat: bool) -> None:
    e = estate()
    fw = firewall(e)
    assert firewall_snats(e, fw, ip(dest))[0] is snat
    ranges, origin = firewall_private_ranges(e, fw)
    assert ranges == ["IANAPrivateRanges"] and "default" in origin


def test_policy_without_snat_block_keeps_the_defaults() -> None:
    e = estate()
    fw = firewall(e, policy=None)
    assert firewall_snats(e, fw, PE)[0] is False
    assert "sets no snat.privateRanges" in firewall_private_ranges(e, fw)[1]


def test_policy_always_snat() -> None:
    e = estate()
    fw = firewall(e, policy=["255.255.255.255/32"])
    snat, why = firewall_snats(e, fw, PE)
    assert snat is True and "always" in why


def test_policy_custom_ranges_replace_the_defaults() -> None:
    """S07: only 172.16.0.0/12 is private, so 10.2.1.4 is SNATed (a custom list replaces the IANA one)."""
    e = estate()
    fw = firewall(e, policy=["172.16.0.0/12"])
    assert firewall_snats(e, fw, PE)[0] is True
    assert firewall_snats(e, fw, ip("172.16.9.9"))[0] is False


def test_zero_slash_zero_means_never_snat() -> None:
    e = estate()
    fw = firewall(e, policy=["0.0.0.0/0"])
    assert firewall_snats(e, fw, PE)[0] is False
    assert firewall_snats(e, fw, ip("8.8.8.8"))[0] is False


def test_iana_token_expands_inside_a_custom_policy_list() -> None:
    e = estate()
    fw = firewall(e, policy=["IANAPrivateRanges", "198.51.100.0/24"])
    assert firewall_snats(e, fw, PE)[0] is False
    assert firewall_snats(e, fw, ip("198.51.100.7"))[0] is False
    assert firewall_snats(e, fw, ip("203.0.113.7"))[0] is True


def test_classic_additional_properties_comma_string() -> None:
    """Classic firewalls: `Network.SNAT.PrivateRanges` = "IANAPrivateRanges , IPRange1, ..."
    (https://learn.microsoft.com/azure/firewall/snat-private-range)."""
    e = estate()
    fw = firewall(e, classic="IANAPrivateRanges , 198.51.100.0/24,203.0.113.0/24")
    ranges, origin = firewall_private_ranges(e, fw)
    assert ranges == ["IANAPrivateRanges", "198.51.100.0/24", "203.0.113.0/24"]
    assert "Network.SNAT.PrivateRanges" in origin
    assert firewall_snats(e, fw, PE)[0] is False
    assert firewall_snats(e, fw, ip("203.0.113.9"))[0] is False
    assert firewall_snats(e, fw, ip("192.0.2.1"))[0] is True
    e2 = estate()
    assert firewall_snats(e2, firewall(e2, classic="255.255.255.255/32"), PE)[0] is True


def test_policy_overrides_classic_ranges() -> None:
    """With a policy attached the classic PrivateRange is ignored
    (https://learn.microsoft.com/azure/firewall/snat-private-range), even when the policy sets none."""
    e = estate()
    fw = firewall(e, policy=None, classic="255.255.255.255/32")
    assert firewall_snats(e, fw, PE)[0] is False
    e = estate()
    fw = firewall(e, policy=["255.255.255.255/32"], classic="0.0.0.0/0")
    assert firewall_snats(e, fw, PE)[0] is True


def test_string_form_of_policy_private_ranges(tmp_path: Path) -> None:
    """The SNAT doc sample writes `"[255.255.255.255/32]"` as one string
    (https://learn.microsoft.com/azure/firewall/snat-private-range): parsed like the array,
    so S05 with it behaves like S06 (always SNAT: no NET001, no NET004)."""
    r = Rows("S05")
    r.find("afwp1")["properties"]["snat"] = {"privateRanges": "[255.255.255.255/32]"}
    est = r.estate(tmp_path)
    fw = next(iter(est.firewalls.values()))
    assert firewall_private_ranges(est, fw)[0] == ["255.255.255.255/32"]
    assert firewall_snats(est, fw, PE)[0] is True
    assert {t[0] for t in triples(r.audit(tmp_path))} == {"AOAI005"}
    r.find("afwp1")["properties"]["snat"] = {"privateRanges": "[172.16.0.0/12, 192.168.0.0/16]"}
    est = r.estate(tmp_path)
    fw = next(iter(est.firewalls.values()))
    assert firewall_private_ranges(est, fw)[0] == ["172.16.0.0/12", "192.168.0.0/16"]
    assert firewall_snats(est, fw, PE)[0] is True


# ---------------------------------------------------------------------------------------------------
# firewall_rule_kind: network rules are evaluated before application rules
# (https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall,
# https://learn.microsoft.com/azure/firewall/snat-private-range)


def network_rule(
    src: str = "10.1.0.0/16", dst: str = "10.2.0.0/16", port: str = "443", rtype: str = "NetworkRule"
) -> dict:
    return {
        "ruleType": rtype,
        "name": "n",
        "ipProtocols": ["TCP"],
        "sourceAddresses": [src],
        "destinationAddresses": [dst],
        "destinationPorts": [port],
    }


def app_rule(src: str = "10.1.0.0/16", port: int = 443, rtype: str = "ApplicationRule") -> dict:
    return {
        "ruleType": rtype,
        "name": "a",
        "sourceAddresses": [src],
        "targetFqdns": ["aoai1.openai.azure.com"],
        "protocols": [{"protocolType": "Https", "port": port}],
    }


def with_rules(*groups: tuple[int, list[dict], str]) -> tuple[Estate, Firewall]:
    e = estate()
    fw = firewall(e, policy=None)
    for i, (priority, rules, action) in enumerate(groups):
        gid = f"{POLICY}/ruleCollectionGroups/g{i}"
        e.rule_collection_groups[gid.lower()] = RuleCollectionGroup(
            gid,
            POLICY,
            priority,
            [
                {
                    "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
                    "name": f"c{i}",
                    "priority": 100,
                    "action": {"type": action},
                    "rules": rules,
                }
            ],
        )
    return e, fw


SRC = [parse_cidr("10.1.1.0/24")]
AOAI_NAMES = ("aoai1.openai.azure.com",)  # what private DNS resolves to the endpoint PE


def test_rule_kind_network_rule_match() -> None:
    e, fw = with_rules((200, [network_rule()], "Allow"))
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "network"


def test_rule_kind_application_rule_only() -> None:
    e, fw = with_rules((200, [app_rule()], "Allow"))
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "application"


def test_rule_kind_network_rule_wins_over_application_rule_whatever_the_priority() -> None:
    e, fw = with_rules((100, [app_rule()], "Allow"), (300, [network_rule()], "Allow"))
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "network"


def test_rule_kind_ignores_non_matching_rules_and_a_matching_deny_decides() -> None:
    """Rules are terminating: a network deny that matches drops the flow before any application rule
    (https://learn.microsoft.com/azure/firewall/rule-processing)."""
    e, fw = with_rules(
        (
            100,
            [network_rule(port="22"), network_rule(dst="10.9.0.0/16"), network_rule(src="10.7.0.0/16")],
            "Allow",
        ),
        (300, [app_rule()], "Allow"),
    )
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "application"
    e, fw = with_rules(
        (100, [network_rule(port="22")], "Allow"),
        (200, [network_rule()], "Deny"),
        (300, [app_rule()], "Allow"),
    )
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "denied"
    e, fw = with_rules((200, [app_rule()], "Deny"))
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "denied"


def test_hostile_rule_fields_never_crash_and_decide_nothing() -> None:
    """Odd JSON in a rule (an action as a string, ports as a number or a string, rules not a list) is read
    where it can be and otherwise leaves the verdict unresolved, never an internal error."""
    rule = network_rule()
    rule["destinationPorts"] = 443  # a number: read as ["443"]
    e, fw = with_rules((200, [rule], "Allow"))
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "network"
    rule = network_rule()
    rule["ipProtocols"] = 6  # nonsense: the rule carries no TCP
    bad = network_rule()
    bad["sourceAddresses"] = {"not": "a list"}
    e, fw = with_rules((200, [rule, bad, app_rule()], "Allow"))
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) in ("application", "unresolved")
    e, fw = with_rules((200, [], "Allow"))
    next(iter(e.rule_collection_groups.values())).rule_collections[0]["rules"] = "oops"
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "unresolved"


def test_a_network_rule_by_fqdn_needs_the_dns_proxy(tmp_path: Path) -> None:
    """L05 with the policy's DNS proxy off: the FQDN network rule cannot resolve, so nothing may be
    assumed (the application rule is not taken to carry the flow) and coverage says why."""
    rows = json.loads(
        (REPO_ROOT / "fixtures/landing-zones/L05-network-rule-by-fqdn/resources.json").read_text()
    )
    for r in rows:
        if r["type"] == "microsoft.network/firewallpolicies":
            r["properties"]["dnsSettings"] = {"enableProxy": False}
    path = tmp_path / "l05.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    e = load_estate([path])
    fw = next(iter(e.firewalls.values()))
    assert firewall_rule_kind(e, fw, [parse_cidr("10.1.1.0/24")], PE, 443) == "unresolved"


def test_rule_kind_unknown_without_rule_collection_groups() -> None:
    e = estate()
    assert firewall_rule_kind(e, firewall(e, policy=None), SRC, PE, 443, AOAI_NAMES) == "unknown"
    e = estate()
    assert (
        firewall_rule_kind(e, firewall(e), SRC, PE, 443, AOAI_NAMES) == "unknown"
    )  # classic firewall, no policy


def test_rule_kind_compares_rule_types_case_insensitively() -> None:
    """Enum strings compare case-insensitively (README, inputs)."""
    e, fw = with_rules((200, [app_rule(rtype="applicationRule")], "allow"))
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "application"
    e, fw = with_rules((200, [network_rule(rtype="networkrule")], "Allow"))
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "network"


def test_application_rule_only_means_no_net004_and_no_net001(tmp_path: Path) -> None:
    """S05 with its network rule replaced by an application rule: application rules always SNAT
    (https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall)."""
    r = Rows("S05")
    rcg = next(x for x in r.rows if x["type"] == "microsoft.network/firewallpolicies/rulecollectiongroups")
    rule = app_rule()
    rule["targetFqdns"] = ["aoai1-contoso.openai.azure.com"]  # the account's name, resolved to the PE
    rcg["properties"]["ruleCollections"][0]["rules"] = [rule]
    got = triples(r.audit(tmp_path))
    assert not {t[0] for t in got} & {"NET001", "NET004"}, got
    # an application rule for other names does not carry the flow: nothing SNATs it
    rule["targetFqdns"] = ["*.ubuntu.com", "packages.microsoft.com"]
    other = tmp_path / "other"
    other.mkdir()
    assert {"NET001", "NET004"} <= {t[0] for t in triples(r.audit(other))}
    # and with the network rule (S05 itself) both fire
    base = tmp_path / "base"
    base.mkdir()
    assert {"NET001", "NET004"} <= {t[0] for t in triples(Rows("S05").audit(base))}


def test_no_rule_collection_groups_still_fires_net004(tmp_path: Path) -> None:
    """Rules not exported: unknown, so the default (network rule, no SNAT to RFC 1918) applies."""
    r = Rows("S05")
    r.rows = [x for x in r.rows if x["type"] != "microsoft.network/firewallpolicies/rulecollectiongroups"]
    r.find("afwp1")["properties"]["ruleCollectionGroups"] = []
    doc = r.audit(tmp_path)
    [f] = by_rule(doc, "NET004")
    assert f["resource_id"] == r.id("afw1")


# ---------------------------------------------------------------------------------------------------
# tag_findings (https://learn.microsoft.com/azure/private-link/private-link-disable-snat)

NIC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nva1-nic"
VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/nva1"
VMSS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-nva"
INST = f"{VMSS}/virtualMachines/0"


def nic_estate(nic_tags=None, vm_tags=None, *, vmss_tags=None, inst_tags=None, flexible=False):
    e = estate()
    vm_id = None
    inst_id = None
    if vmss_tags is not None or inst_tags is not None:
        e.scale_sets[VMSS.lower()] = ScaleSet(
            VMSS, "vmss-nva", "Flexible" if flexible else "Uniform", vmss_tags or {}, True
        )
        if flexible:
            vm_id = VM
            e.vms[VM.lower()] = VirtualMachine(VM, "nva1", [NIC], VMSS, inst_tags or {})
        else:
            inst_id = INST
            e.scale_set_instances[INST.lower()] = ScaleSetInstance(INST, "vmss-nva_0", VMSS, inst_tags or {})
    elif vm_tags is not None:
        vm_id = VM
        e.vms[VM.lower()] = VirtualMachine(VM, "nva1", [NIC], None, vm_tags)
    nic = NetworkInterface(
        NIC, "nva1-nic", True, [], vm_id or inst_id, None, None, nic_tags or {}, vmss_vm_id=inst_id
    )
    return e, nic


def test_tag_on_nic_is_valid() -> None:
    e, nic = nic_estate({"disableSnatOnPL": "true", "owner": "net"})
    [t] = tag_findings(e, nic)
    assert (t.resource_id, t.effective, t.ambiguous, t.problem) == (NIC, True, False, None)


def test_tag_on_vm_is_not_effective() -> None:
    e, nic = nic_estate({}, {"disableSnatOnPL": "true"})
    [t] = tag_findings(e, nic)
    assert t.resource_id == VM and t.effective is False and "VM" in t.problem


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("disableSnatOnPL", "True", "value"),
        ("disableSnatOnPL", "TRUE", "value"),
        ("disableSnatOnPL", "yes", "value"),
        ("disablesnatonpl", "true", "key"),
        ("DisableSnatOnPL", "true", "key"),
    ],
)
def test_tag_is_case_sensitive(key: str, value: str, problem: str) -> None:
    e, nic = nic_estate({key: value})
    [t] = tag_findings(e, nic)
    assert t.effective is False and problem in t.problem


def test_unrelated_tags_are_ignored() -> None:
    e, nic = nic_estate({"disableSnat": "true", "env": "prod"}, {"owner": "x"})
    assert tag_findings(e, nic) == []


@pytest.mark.parametrize("flexible", [False, True], ids=["uniform", "flexible"])
@pytest.mark.parametrize("where", ["vmss", "instance"])
def test_scale_set_tags_count_but_are_ambiguous(where: str, flexible: bool) -> None:
    kw = {"vmss_tags": {}, "inst_tags": {}}
    kw["vmss_tags" if where == "vmss" else "inst_tags"] = {"disableSnatOnPL": "true"}
    e, nic = nic_estate({}, flexible=flexible, **kw)
    [t] = tag_findings(e, nic)
    assert t.effective is True and t.ambiguous is True
    assert t.resource_id == (VMSS if where == "vmss" else (VM if flexible else INST))


def test_scale_set_tag_with_wrong_value_is_not_effective() -> None:
    e, nic = nic_estate({}, vmss_tags={"disableSnatOnPL": "True"}, inst_tags={})
    [t] = tag_findings(e, nic)
    assert t.effective is False and t.ambiguous is False


# ---------------------------------------------------------------------------------------------------
# NSG evaluation (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview,
# https://learn.microsoft.com/azure/virtual-network/service-tags-overview)


def srule(
    name: str,
    priority: int,
    access: str,
    src: str | tuple = "*",
    dst: str = "*",
    port: str = "443",
    direction: str = "Inbound",
    protocol: str = "Tcp",
    src_asg: bool = False,
    default: bool = False,
):
    srcs = src if isinstance(src, tuple) else (src,)
    asg = (
        ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/asg1",)
        if src_asg
        else ()
    )
    return SecurityRule(
        id=name,
        name=name,
        priority=priority,
        direction=direction,
        access=access,
        protocol=protocol,
        source_prefixes=() if src_asg else srcs,
        destination_prefixes=(dst,),
        source_ports=("*",),
        destination_ports=(port,),
        source_asgs=asg,
        destination_asgs=(),
        default=default,
    )


def evaluate(
    rules, sources=("10.1.1.0/24",), vn=("10.1.0.0/16", "10.2.0.0/16"), direction="Inbound", port=443
):
    group = NetworkSecurityGroup("nsg", "nsg", list(rules))
    return nsgs.evaluate(
        group, direction, [parse_cidr(s) for s in sources], [Cidr(PE, 32)], port, [parse_cidr(v) for v in vn]
    )


def test_nsg_priority_order_first_match_decides() -> None:
    v = evaluate([srule("deny", 200, "Deny"), srule("allow", 100, "Allow")])
    assert (v.decision, v.rule) == ("allow", "allow (100)")
    v = evaluate([srule("deny", 100, "Deny"), srule("allow", 200, "Allow")])
    assert (v.decision, v.rule) == ("deny", "deny (100)")


def test_nsg_default_rules_supplied_when_absent() -> None:
    """AllowVnetInBound admits VirtualNetwork sources, DenyAllInBound the rest (A1), even when the export
    left the default rules out."""
    assert evaluate([]).decision == "allow"
    assert evaluate([]).rule == "AllowVnetInBound (65000)"
    v = evaluate([], sources=("203.0.113.0/24",))
    assert (v.decision, v.rule) == ("deny", "DenyAllInBound (65500)")


def test_nsg_exported_default_rules_are_used_as_they_are() -> None:
    exported = [
        srule("AllowVnetInBound", 65000, "Allow", "VirtualNetwork", "VirtualNetwork", "*", default=True),
        srule("DenyAllInBound", 65500, "Deny", "*", "*", "*", default=True),
    ]
    v = evaluate(exported, sources=("203.0.113.0/24",))
    assert (v.decision, v.rule) == ("deny", "DenyAllInBound (65500)")


def test_nsg_virtual_network_tag_covers_peered_and_on_premises_ranges() -> None:
    """A2: VirtualNetwork = VNet space + peered VNets + on-premises + UDR prefixes, as the caller lists them."""
    rules = [srule("vnet", 100, "Allow", "VirtualNetwork"), srule("deny", 4000, "Deny")]
    assert evaluate(rules, sources=("10.1.1.0/24",)).decision == "allow"
    assert (
        evaluate(rules, sources=("192.168.1.0/24",), vn=("10.2.0.0/16", "192.168.0.0/16")).decision == "allow"
    )
    assert evaluate(rules, sources=("172.16.1.0/24",)).decision == "deny"


def test_nsg_internet_tag_does_not_match_private_sources() -> None:
    rules = [srule("inet", 100, "Allow", "Internet"), srule("deny", 4000, "Deny")]
    assert evaluate(rules).decision == "deny"


def test_nsg_partial_prefix_overlap() -> None:
    """A rule covering part of a source subnet: an allow lets some hosts through; a partial deny leaves
    the rest to later rules and is recorded as uncertain."""
    v = evaluate([srule("half", 100, "Allow", "10.1.1.0/25"), srule("deny", 4000, "Deny")])
    assert v.decision == "allow"
    v = evaluate([srule("half", 100, "Deny", "10.1.1.0/25"), srule("allow", 200, "Allow")])
    assert v.decision == "allow" and v.uncertain == ["half (100) partially"]
    v = evaluate([srule("half", 100, "Deny", "10.1.1.0/25"), srule("rest", 200, "Deny", "10.1.1.128/25")])
    assert v.decision == "allow" and v.rule == "AllowVnetInBound (65000)"  # neither covers the subnet alone
    v = evaluate([srule("half", 100, "Deny", "10.1.1.0/25"), srule("deny", 4000, "Deny")])
    assert (v.decision, v.rule) == ("deny", "deny (4000)")
    # several prefixes that together cover the subnet count as a full match
    v = evaluate([srule("both", 100, "Deny", ("10.1.1.0/25", "10.1.0.0/16")), srule("allow", 200, "Allow")])
    assert v.decision == "deny"


@pytest.mark.parametrize("kind", ["asg", "service tag"])
def test_nsg_unresolvable_allow_before_deny_may_match_never_silently_no_match(kind: str) -> None:
    first = (
        srule("maybe", 100, "Allow", src_asg=True)
        if kind == "asg"
        else srule("maybe", 100, "Allow", "AzureCloud.westeurope")
    )
    v = evaluate([first, srule("deny", 4000, "Deny")])
    assert v.uncertain == ["maybe (100)"]
    assert v.decision == "allow", "a may-match allow leaves the flow possible: the deny is not definite"
    assert "maybe (100)" in v.rule


def test_nsg_unresolvable_deny_before_allow_is_recorded() -> None:
    v = evaluate([srule("maybe", 100, "Deny", src_asg=True), srule("allow", 200, "Allow")])
    assert (v.decision, v.rule, v.uncertain) == ("allow", "allow (200)", ["maybe (100)"])


def test_nsg_protocol_port_and_direction_filters() -> None:
    rules = [
        srule("udp", 100, "Allow", protocol="Udp"),
        srule("ssh", 110, "Allow", port="22"),
        srule("out", 120, "Allow", direction="Outbound"),
        srule("range", 130, "Allow", port="400-500"),
        srule("deny", 4000, "Deny"),
    ]
    v = evaluate(rules)
    assert (v.decision, v.rule) == ("allow", "range (130)")
    assert evaluate(rules[:3] + rules[4:]).decision == "deny"


# ---------------------------------------------------------------------------------------------------
# The compiled NSG evaluation (what the flow analysis runs per class of subnets) agrees with a plain
# reading of the NSG overview (default rules, priority order, first match), rule by rule, on random rule sets


def ref_match(values, asgs, prefixes, vn) -> str:
    """full | partial | may | none, straight from A3: `*` matches all; a prefix or the VirtualNetwork tag
    covers the sources fully or partly; an ASG or an unknown tag "may match"."""
    if asgs:
        return "may"
    best = "none"
    for t in values:
        if t in ("*", "Any", "0.0.0.0/0"):
            return "full"
        if t.lower() == "virtualnetwork":
            cands = vn
        elif t.lower() in ("internet", "azureloadbalancer"):
            continue
        else:
            try:
                cands = [parse_cidr(t)]
            except ValueError:
                best = "may" if best == "none" else best
                continue
        if prefixes and all(any(c.contains(p) for c in cands) for p in prefixes):
            return "full"
        if any(c.contains(p) or p.contains(c) for c in cands for p in prefixes):
            best = "partial"
    return best


def ref_evaluate(rules, direction, sources, destinations, port, vn):
    all_rules = rules if any(r.default for r in rules) else [*rules, *nsgs.DEFAULT_RULES]
    uncertain, may_allow = [], None
    for r in sorted(all_rules, key=lambda r: (r.priority, r.default, r.name)):
        if (
            r.direction != direction
            or r.protocol not in ("Tcp", "*")
            or not port_in_ranges(r.destination_ports or ("*",), port)
        ):
            continue
        src = ref_match(r.source_prefixes, r.source_asgs, sources, vn)
        dst = ref_match(r.destination_prefixes, r.destination_asgs, destinations, vn)
        if "none" in (src, dst):
            continue
        label = f"{r.name} ({r.priority})"
        if "may" in (src, dst):
            uncertain.append(label)
            may_allow = may_allow or (label if r.access == "Allow" else None)
            continue
        if r.access == "Allow":
            return "allow", uncertain
        if src == dst == "full":
            return ("allow" if may_allow else "deny"), uncertain
        uncertain.append(f"{label} partially")
    return ("allow" if may_allow else "deny"), uncertain


ADDRS = [
    "*",
    "VirtualNetwork",
    "Internet",
    "AzureCloud.westeurope",
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.1.0/24",
    "10.1.1.0/25",
    "10.2.1.4",
    "10.2.0.0/16",
    "192.168.0.0/16",
    "172.16.0.0/12",
]


def test_compiled_nsg_evaluation_matches_the_reference() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    rule = st.builds(
        lambda i, prio, access, src, dst, asg, direction, proto, port: SecurityRule(
            id=f"r{i}",
            name=f"r{i}",
            priority=prio,
            direction=direction,
            access=access,
            protocol=proto,
            source_prefixes=tuple(src),
            destination_prefixes=tuple(dst),
            source_ports=("*",),
            destination_ports=(port,),
            source_asgs=("asg",) if asg else (),
            destination_asgs=(),
            default=False,
        ),
        st.integers(0, 99),
        st.integers(100, 4096),
        st.sampled_from(["Allow", "Deny"]),
        st.lists(st.sampled_from(ADDRS), min_size=1, max_size=2),
        st.lists(st.sampled_from(ADDRS), min_size=1, max_size=2),
        st.booleans(),
        st.sampled_from(["Inbound", "Outbound"]),
        st.sampled_from(["Tcp", "Udp", "*"]),
        st.sampled_from(["*", "443", "22", "400-500"]),
    )
    prefixes = st.lists(
        st.sampled_from(["10.1.1.0/24", "10.1.1.0/26", "10.3.0.0/16", "192.168.5.0/24"]),
        min_size=0,
        max_size=2,
    )
    vnets = st.lists(
        st.sampled_from(["10.1.0.0/16", "10.2.0.0/16", "192.168.0.0/16", "10.0.0.0/8"]), max_size=3
    )

    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(
        st.lists(rule, max_size=6, unique_by=lambda r: r.name),
        prefixes,
        vnets,
        st.sampled_from(["Inbound", "Outbound"]),
    )
    def check(rules, srcs, vn, direction):
        sources = [parse_cidr(s) for s in srcs]
        vnet = [parse_cidr(v) for v in vn]
        dest = [Cidr(PE, 32)]
        v = nsgs.evaluate(NetworkSecurityGroup("n", "n", rules), direction, sources, dest, 443, vnet)
        assert (v.decision, v.uncertain) == ref_evaluate(rules, direction, sources, dest, 443, vnet)
        # and the single-address shortcut the analysis uses for destinations
        from auditor.routing.lpm import PrefixMap

        vmap = PrefixMap((c, True) for c in vnet)
        for r in nsgs.compile_rules(NetworkSecurityGroup("n", "n", rules), direction, 443):
            assert r.dst.match_ip(PE, vmap) == r.dst.match(dest, vnet)
            assert r.src.match_ip(PE, vmap) == r.src.match(dest, vnet)

    check()


# ---------------------------------------------------------------------------------------------------
# classic rule collections, from the REST API example (AzureFirewallGet, 2025-03-01)

REAL_FW = Path(__file__).parent / "fixtures_real/arm-examples/network/2025-03-01/AzureFirewallGet.json"


def classic_estate(tmp_path: Path, action: str) -> tuple[Estate, Firewall]:
    body = json.loads(REAL_FW.read_text("utf-8"))["responses"]["200"]["body"]
    for key in ("networkRuleCollections", "applicationRuleCollections"):
        for coll in body["properties"][key]:
            coll["properties"]["action"]["type"] = action
    path = tmp_path / "fw.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    e = load_estate([path])
    return e, next(iter(e.firewalls.values()))


def test_classic_rule_collections_with_address_ranges(tmp_path: Path) -> None:
    """The example's network rule admits 10.1.4.12-10.1.4.255 to any destination on 443-444: a network
    rule carries such a flow; a source outside every range is carried by no rule. Its FQDN rule names
    www.amazon.com, which no private endpoint answers for; the same rule naming an Azure service name
    that no endpoint of the input has decides nothing for its 10.2.4.x sources."""
    e, fw = classic_estate(tmp_path, "Allow")
    assert firewall_rule_kind(e, fw, [parse_cidr("10.1.4.0/28")], PE, 443, ()) == "network"
    assert firewall_rule_kind(e, fw, [parse_cidr("10.9.9.0/24")], PE, 443, ()) == "unknown"
    assert firewall_rule_kind(e, fw, [parse_cidr("10.2.4.0/24")], PE, 443, ()) == "unknown"
    rec = e.record(fw.id)
    rec["properties"]["networkRuleCollections"][0]["properties"]["rules"][1]["destinationFqdns"] = [
        "other-account.openai.azure.com"
    ]
    assert firewall_rule_kind(e, fw, [parse_cidr("10.2.4.0/24")], PE, 443, ()) == "unresolved"
    # the example's own collections deny: its network rule drops these sources' traffic
    e, fw = classic_estate(tmp_path, "Deny")
    assert firewall_rule_kind(e, fw, [parse_cidr("10.1.4.0/28")], PE, 443, ()) == "denied"
    assert firewall_rule_kind(e, fw, [parse_cidr("10.9.9.0/24")], PE, 443, ()) == "unknown"


def test_missing_parent_policy_and_ip_group_leave_the_kind_unresolved(tmp_path: Path) -> None:
    """Nothing is assumed about rules the input lacks: a parent policy or an IP group that is referenced
    but absent leaves the flow unresolved (unless a known network rule decides), and says why."""
    e, fw = with_rules((200, [app_rule()], "Allow"))
    e.firewall_policies[POLICY.lower()].base_policy_id = POLICY + "-parent"
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "unresolved"
    e, fw = with_rules((200, [network_rule()], "Allow"))
    e.firewall_policies[POLICY.lower()].base_policy_id = POLICY + "-parent"
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "network"  # a known network rule decides
    rule = network_rule()
    rule["destinationAddresses"], rule["destinationIpGroups"] = [], [POLICY + "/../ipGroups/missing"]
    e, fw = with_rules((200, [rule, app_rule()], "Allow"))
    assert firewall_rule_kind(e, fw, SRC, PE, 443, AOAI_NAMES) == "unresolved"
