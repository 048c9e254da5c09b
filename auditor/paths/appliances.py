"""What sits behind a `VirtualAppliance` next hop, and whether it SNATs traffic to private endpoints.

- Azure Firewall: network rules do not SNAT destinations inside its private ranges (default IANA
  RFC 1918 + RFC 6598); `255.255.255.255/32` means always SNAT, `0.0.0.0/0` never; a policy's
  `snat.privateRanges` replaces the classic `Network.SNAT.PrivateRanges`; application rules always
  SNAT (https://learn.microsoft.com/azure/firewall/snat-private-range, learn.microsoft.com/azure/firewall/snat-private-range).
- VM-based NVA (NIC with IP forwarding): replies return through it only with SNAT (declared in the
  config file, since ARM cannot show it) or a valid `disableSnatOnPL=true` tag on its NIC; for a
  scale set the documented placement is ambiguous (VMSS or instance), so such a tag counts with
  lower confidence (https://learn.microsoft.com/azure/private-link/private-endpoint-overview, learn.microsoft.com/azure/private-link/private-link-disable-snat).
- A next-hop IP owned by nobody, or by a NIC without IP forwarding, drops the traffic
  (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditor.config import Config
from auditor.estate.model import Estate, Firewall, IpOwner, NetworkInterface
from auditor.ids import key
from auditor.ipnet import RFC1918, RFC6598, Cidr, PrefixError, fmt_ip, parse_cidr
from auditor.problems import ASSUMED, Problem

TAG_KEY = "disableSnatOnPL"
IANA_DEFAULT = (*RFC1918, RFC6598)


@dataclass(frozen=True, slots=True)
class TagFinding:
    """Where a disableSnatOnPL-like tag was found and why it does or does not count."""

    resource_id: str
    key: str
    value: object
    effective: bool
    problem: str | None  # why it is not effective (None when effective)
    ambiguous: bool = False  # VMSS placement: counts, with lower confidence


@dataclass(slots=True)
class Appliance:
    kind: str  # nva | azure-firewall
    id: str  # NIC id (VM NVA), firewall id, or LB id (ILB in front of NVAs)
    name: str
    ip: int
    subnet_id: str | None
    nic_ids: list[str] = field(default_factory=list)  # the NVA NICs (one, or an ILB's backends)
    hub_id: str | None = None
    snat_declared: bool = False
    tags: list[TagFinding] = field(default_factory=list)
    firewall: Firewall | None = None
    # per NVA NIC, the tag findings around it (an ILB has several NICs; each needs its own opt-in); a
    # scale set whose instance NICs are not in the input stands for them under its own id
    nic_tags: dict[str, list[TagFinding]] = field(default_factory=dict)
    vmss_id: str | None = None  # the scale set all NVA NICs belong to, if any
    # the NVAs behind this next hop: NIC id of a VM NVA, or scale set id -> its members (keys of nic_tags).
    # NET002/NET003 report per NVA, not per load balancer: two NVAs behind one ILB are two findings
    units: dict[str, list[str]] = field(default_factory=dict)
    managed: bool = False  # a Virtual WAN hub NVA (Microsoft.Network/networkVirtualAppliances)
    # the units whose every member has SNAT declared in the config: NET002 speaks for the others only.
    # `snat_declared` (every unit) is what brings the replies back: one NVA that does not SNAT loses them
    declared_units: frozenset[str] = frozenset()
    _vnet: str | None = None  # subnet_vnet, worked out once

    @property
    def ip_text(self) -> str:
        return fmt_ip(self.ip)

    @property
    def subnet_vnet(self) -> str | None:
        """The VNet (lower-case id) of the appliance's subnet; None for a virtual hub's appliance."""
        if self._vnet is None:
            self._vnet = (
                key(self.subnet_id).split("/subnets/")[0] if self.subnet_id and not self.hub_id else ""
            )
        return self._vnet or None

    @property
    def valid_tag(self) -> TagFinding | None:
        """An effective disableSnatOnPL tag, provided every NVA NIC behind this next hop has one: a
        connection may land on any backend of an ILB, and an untagged one still loses the replies
        (https://learn.microsoft.com/azure/private-link/private-link-disable-snat)."""
        if self.nic_tags and not all(any(t.effective for t in tags) for tags in self.nic_tags.values()):
            return None
        return next((t for t in self.tags if t.effective), None)


@dataclass(frozen=True, slots=True)
class Blackhole:
    ip: int
    reason: str
    owner_id: str | None = None


def firewall_private_ranges(estate: Estate, fw: Firewall) -> tuple[list[str], str]:
    """The effective SNAT private-range list of a firewall and where it came from."""
    if fw.policy_id:
        policy = estate.firewall_policies.get(key(fw.policy_id))
        if policy is not None and policy.snat_private_ranges is not None:
            return list(policy.snat_private_ranges), f"{policy.id} properties.snat.privateRanges"
        if policy is None:
            return ["IANAPrivateRanges"], f"default (policy {fw.policy_id} not in the estate)"
        return ["IANAPrivateRanges"], f"default ({policy.id} sets no snat.privateRanges)"
    classic = fw.additional_properties.get("Network.SNAT.PrivateRanges")
    if isinstance(classic, str) and classic.strip():
        return [
            p.strip() for p in classic.split(",") if p.strip()
        ], f"{fw.id} properties.additionalProperties.Network.SNAT.PrivateRanges"
    return ["IANAPrivateRanges"], "default (IANA RFC 1918 + RFC 6598)"


def firewall_snats(estate: Estate, fw: Firewall, destination: int) -> tuple[bool, str]:
    """Does a network rule of this firewall SNAT traffic to `destination`? (and why)"""
    ranges, origin = firewall_private_ranges(estate, fw)
    cidrs: list[Cidr] = []
    for text in ranges:
        if text.lower() == "ianaprivateranges":
            cidrs.extend(IANA_DEFAULT)
            continue
        try:
            cidrs.append(parse_cidr(text))
        except PrefixError:
            continue
    if any(c.plen == 32 and c.net == 0xFFFFFFFF for c in cidrs):
        return True, f"private ranges {ranges} include 255.255.255.255/32: always SNAT ({origin})"
    inside = [c for c in cidrs if c.contains_ip(destination)]
    if inside:
        return False, (
            f"{fmt_ip(destination)} is inside the no-SNAT private range {inside[0]} of {ranges} ({origin}); "
            "network rules do not SNAT it"
        )
    return True, f"{fmt_ip(destination)} is outside the private ranges {ranges} ({origin}): SNAT applies"


def nic_scale_set(estate: Estate, nic: NetworkInterface) -> str | None:
    """The scale set an NVA NIC belongs to: Uniform (instance NIC) or Flexible (VM in a scale set)."""
    inst = estate.scale_set_instances.get(key(nic.vmss_vm_id or nic.vm_id or ""))
    if inst is not None:
        vmss = estate.scale_sets.get(key(inst.vmss_id))
        return vmss.id if vmss is not None else inst.vmss_id
    vm = estate.vms.get(key(nic.vm_id or ""))
    if vm is not None and vm.vmss_id:
        vmss = estate.scale_sets.get(key(vm.vmss_id))
        return vmss.id if vmss is not None else vm.vmss_id
    return None


def tag_findings(estate: Estate, nic: NetworkInterface) -> list[TagFinding]:
    """Every disableSnatOnPL-like tag around an NVA NIC: NIC, VM, scale set, scale-set instance."""
    out: list[TagFinding] = []
    places: list[tuple[str, dict[str, Any], str]] = [(nic.id, nic.tags, "nic")]
    vm = estate.vms.get(key(nic.vm_id or ""))
    if vm is not None:
        # a Flexible scale set's instances are ordinary VMs: a tag there is on "the scale set instance"
        places.append((vm.id, vm.tags, "vmss-instance" if vm.vmss_id else "vm"))
        if vm.vmss_id:
            vmss = estate.scale_sets.get(key(vm.vmss_id))
            if vmss is not None:
                places.append((vmss.id, vmss.tags, "vmss"))
    inst = estate.scale_set_instances.get(key(nic.vmss_vm_id or nic.vm_id or ""))
    if inst is not None:
        places.append((inst.id, inst.tags, "vmss-instance"))
        vmss = estate.scale_sets.get(key(inst.vmss_id))
        if vmss is not None:
            places.append((vmss.id, vmss.tags, "vmss"))
    seen: set[str] = set()
    for rid, tags, where in places:
        if key(rid) in seen:
            continue
        seen.add(key(rid))
        out += judge_tags(rid, tags, where)
    return out


def scale_set_tags(vmss_id: str, tags: dict[str, Any]) -> list[TagFinding]:
    return judge_tags(vmss_id, tags, "vmss")


def judge_tags(rid: str, tags: dict[str, Any], where: str) -> list[TagFinding]:
    """The disableSnatOnPL-like tags of one resource (`where`: nic | vm | vmss | vmss-instance), judged."""
    out = []
    for tag, value in sorted(tags.items()):
        if tag.lower() != TAG_KEY.lower():
            continue
        problems = []
        if tag != TAG_KEY:
            problems.append(f"key {tag!r} is not {TAG_KEY!r} (tags are case-sensitive)")
        if value != "true":
            problems.append(f"value {value!r} is not exactly 'true' (case-sensitive)")
        ambiguous = where in ("vmss", "vmss-instance")
        if where == "vm":
            problems.append("the tag is on the VM, not on the NVA's network interface")
        out.append(
            TagFinding(rid, tag, value, not problems, "; ".join(problems) or None, ambiguous and not problems)
        )
    return out


def owner_place(estate: Estate, owner: IpOwner) -> str | None:
    """The VNet (or, for a Virtual WAN hub's firewall or NVA, the virtual hub) an address lives in,
    lower-case; None when the estate does not say."""
    if owner.subnet_id:
        return key(owner.subnet_id).split("/subnets/")[0]
    if owner.kind == "azure-firewall":
        fw = estate.firewalls.get(key(owner.id))
        return key(fw.hub_id) if fw is not None and fw.hub_id else None
    if owner.kind == "hub-nva":
        nva = estate.hub_nvas.get(key(owner.id))
        return key(nva.hub_id) if nva is not None and nva.hub_id else None
    return None


@dataclass
class ApplianceIndex:
    """What owns a next-hop address, seen from a VNet: `scope(vnet)` names the places (VNets, virtual
    hubs) a packet in that VNet can be handed to (RoutingModel.reachable_from). Without a VNet (a
    route table attached to no subnet) the address is looked up estate-wide."""

    estate: Estate
    config: Config
    scope: Callable[[str], frozenset[str]] | None = None
    _cache: dict[tuple[int, str | None], Appliance | Blackhole] = field(default_factory=dict)
    # what had to be assumed about an appliance (a scale set's model standing for its instances, a load
    # balancer whose backends are not in the input): incomplete coverage, keyed for determinism
    gaps: dict[tuple[str, str], Problem] = field(default_factory=dict)

    def resolve(self, ip: int, vnet: str | None = None) -> Appliance | Blackhole:
        key = (ip, vnet)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._resolve(ip, vnet)
        return hit

    def owners(self, ip: int, vnet: str | None) -> tuple[list[IpOwner], list[IpOwner]]:
        """(owners of `ip` reachable from `vnet`, owners elsewhere); all of them without a VNet."""
        owners = self.estate.owners_of(ip)
        if vnet is None or self.scope is None:
            return owners, []
        reach = self.scope(vnet)
        inside: list[IpOwner] = []
        elsewhere: list[IpOwner] = []
        for o in owners:
            place = owner_place(self.estate, o)
            (inside if place is None or place in reach else elsewhere).append(o)
        return inside, elsewhere

    def _resolve(self, ip: int, vnet: str | None) -> Appliance | Blackhole:
        estate = self.estate
        owners, elsewhere = self.owners(ip, vnet)
        if not owners and elsewhere:
            o = elsewhere[0]
            where = estate.name_of(owner_place(estate, o))
            return Blackhole(
                ip,
                f"{fmt_ip(ip)} belongs to {estate.name_of(o.id)} in {where}, which "
                f"{estate.name_of(vnet)} is not peered with: a next hop must be directly reachable "
                "(addresses are per VNet)",
                o.id,
            )
        if not owners:
            return Blackhole(
                ip, f"no NIC, firewall or load balancer frontend in the estate owns {fmt_ip(ip)}"
            )
        owner = owners[0]
        if owner.kind == "azure-firewall":
            fw = estate.firewalls[key(owner.id)]
            return Appliance(
                "azure-firewall",
                fw.id,
                fw.name,
                ip,
                fw.subnet_id,
                hub_id=fw.hub_id,
                firewall=fw,
                tags=self._firewall_tags(fw),
            )
        if owner.kind == "nic":
            nic = estate.nics[key(owner.id)]
            if not nic.ip_forwarding:
                return Blackhole(
                    ip,
                    f"{fmt_ip(ip)} belongs to NIC {nic.name}, which has enableIPForwarding off: it "
                    "drops traffic not addressed to itself",
                    nic.id,
                )
            vm = estate.vms.get(key(nic.vm_id or ""))
            return self._nva([nic], nic.id, vm.name if vm is not None else nic.name, ip, owner.subnet_id)
        if owner.kind == "lb-frontend":
            return self._load_balancer(owner, ip)
        if owner.kind == "hub-nva":
            nva = estate.hub_nvas[key(owner.id)]
            declared = self._declared(nva.id)
            tags = [
                TagFinding(
                    nva.id,
                    k,
                    v,
                    False,
                    "disableSnatOnPL is documented for customer NVAs on virtual "
                    "machines or scale sets, not for Virtual WAN hub NVAs",
                )
                for k, v in sorted(nva.tags.items())
                if k.lower() == TAG_KEY.lower()
            ]
            return Appliance(
                "nva",
                nva.id,
                nva.name,
                ip,
                None,
                hub_id=nva.hub_id,
                snat_declared=declared,
                tags=tags,
                nic_tags={nva.id: tags},
                units={nva.id: [nva.id]},
                managed=True,
                declared_units=frozenset({nva.id}) if declared else frozenset(),
            )
        return Blackhole(
            ip,
            f"{fmt_ip(ip)} belongs to {owner.kind} {estate.name_of(owner.id)}, which does not "
            "forward traffic",
            owner.id,
        )

    def _load_balancer(self, owner: IpOwner, ip: int) -> Appliance | Blackhole:
        """An internal load balancer's frontend as a next hop is never unusable: its backends are the NVAs
        (the NICs in its pools; else the scale sets whose model joins them, standing for instances the
        input lacks; else unknown, which is said in the coverage)."""
        estate = self.estate
        lb = estate.load_balancers[key(owner.id)]
        pools = {key(p) for p in lb.backend_pool_ids}
        backends = [
            n
            for n in estate.nics.values()
            if any(key(pid) in pools for c in n.ip_configs for pid in c.lb_backend_pool_ids)
        ]
        backends.sort(key=lambda n: key(n.id))
        if backends:
            if not any(n.ip_forwarding for n in backends):
                return Blackhole(
                    ip,
                    f"the backends of load balancer {lb.name} have enableIPForwarding off: they drop "
                    "traffic not addressed to them",
                    lb.id,
                )
            return self._nva([n for n in backends if n.ip_forwarding], lb.id, lb.name, ip, owner.subnet_id)
        models = sorted(
            (v for v in estate.scale_sets.values() if {key(p) for p in v.lb_backend_pool_ids} & pools),
            key=lambda v: key(v.id),
        )
        if models and not any(v.ip_forwarding for v in models):
            return Blackhole(
                ip,
                f"the scale sets behind load balancer {lb.name} have enableIPForwarding off in their "
                "model: their instances drop traffic not addressed to them",
                lb.id,
            )
        models = [v for v in models if v.ip_forwarding]
        nic_tags: dict[str, list[TagFinding]] = {}
        for vmss in models:
            nic_tags[vmss.id] = scale_set_tags(vmss.id, vmss.tags)
            self.gap(
                vmss.id,
                "instance network interfaces",
                f"the instance NICs of scale set {vmss.name} (behind load balancer {lb.name}) are not in the input "
                "(Resource Graph table ComputeResources): its model (IP forwarding, backend pool) stands for them, "
                "and instance-level tags were not seen",
            )
        if not models:
            self.gap(
                lb.id,
                "properties.backendAddressPools",
                f"the backends of load balancer {lb.name} are not in the input: the NVAs behind {fmt_ip(ip)} are "
                "unknown, so nothing can show that they SNAT or carry a disableSnatOnPL tag",
            )
        done = frozenset(v.id for v in models if self._declared(v.id))
        declared = bool(models) and len(done) == len(models)
        return Appliance(
            "nva",
            lb.id,
            lb.name,
            ip,
            owner.subnet_id,
            snat_declared=declared,
            declared_units=done,
            tags=[t for tags in nic_tags.values() for t in tags],
            nic_tags=nic_tags,
            vmss_id=models[0].id if len(models) == 1 else None,
            units={v.id: [v.id] for v in models},
        )

    def gap(self, rid: str, field_name: str, text: str) -> None:
        self.gaps.setdefault(
            (key(rid), text), Problem(self.estate.files.get(key(rid)), rid, field_name, text, ASSUMED)
        )

    def _nva(
        self, nics: list[NetworkInterface], rid: str, name: str, ip: int, subnet_id: str | None
    ) -> Appliance:
        tags: list[TagFinding] = []
        nic_tags: dict[str, list[TagFinding]] = {}
        units: dict[str, list[str]] = {}
        for nic in nics:
            nic_tags[nic.id] = tag_findings(self.estate, nic)
            tags.extend(nic_tags[nic.id])
            units.setdefault(nic_scale_set(self.estate, nic) or nic.id, []).append(nic.id)
        declared = all(self._declared(n.id) for n in nics)
        done = frozenset(
            u for u, members in units.items() if self._declared(u) or all(self._declared(m) for m in members)
        )
        scale_sets = {nic_scale_set(self.estate, n) for n in nics}
        vmss = scale_sets.pop() if len(scale_sets) == 1 else None
        return Appliance(
            "nva",
            rid,
            name,
            ip,
            subnet_id,
            nic_ids=[n.id for n in nics],
            snat_declared=declared,
            tags=tags,
            nic_tags=nic_tags,
            vmss_id=vmss,
            units=units,
            declared_units=done,
        )

    def _declared(self, rid: str) -> bool:
        """The config file declares SNAT on this NIC (or scale set)."""
        return (d := self.config.appliance(rid)) is not None and d.snat

    def _firewall_tags(self, fw: Firewall) -> list[TagFinding]:
        rec = self.estate.record(fw.id) or {}
        tags = found if isinstance(found := rec.get("tags"), dict) else {}
        return [
            TagFinding(
                fw.id,
                k,
                v,
                False,
                "disableSnatOnPL is documented for customer NVA VMs/VMSS only, not "
                "Azure Firewall: use application rules or always-SNAT private ranges",
            )
            for k, v in sorted(tags.items())
            if k.lower() == TAG_KEY.lower()
        ]
