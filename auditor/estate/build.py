"""Raw inputs -> Estate: canonicalise, merge by id, type the resources pathaudit uses, index them.

Loading runs on every audit of estates up to 100k resources, so this is a single pass over the
records with plain dict access; the costly part stays the JSON parse (see tests/bench/load.py).
A resource that cannot be understood is skipped with a Problem naming file, id and field; a bad
value inside an otherwise usable resource is ignored with a Problem; the rest is still audited.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from typing import Any

from auditor.estate import enums
from auditor.estate.model import (
    AiAccount,
    AiAccountPeConnection,
    ApiManagement,
    Connection,
    Estate,
    Firewall,
    FirewallPolicy,
    HubConnection,
    HubGateway,
    HubNva,
    IpConfig,
    IpGroup,
    IpOwner,
    LoadBalancer,
    LoadBalancerFrontend,
    LocalNetworkGateway,
    NetworkAcls,
    NetworkInterface,
    NetworkSecurityGroup,
    Peering,
    PrivateEndpoint,
    PrivateLinkConnection,
    Route,
    RouteTable,
    RoutingIntent,
    RoutingPolicy,
    RuleCollectionGroup,
    ScaleSet,
    ScaleSetInstance,
    SecurityRule,
    Subnet,
    VirtualHub,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkGateway,
    VpnSite,
)
from auditor.gcpause import gc_paused
from auditor.ids import key, parent_of, record_name, type_of
from auditor.ingest.files import RawInputs
from auditor.ingest.normalize import canonical, extract_children, merge
from auditor.ipnet import Cidr, PrefixError, parse_cidr, parse_ip
from auditor.problems import CONFLICT, MISSING, RESOURCE_SKIPPED, UNRESOLVED, VALUE_IGNORED, Problem


class FieldError(Exception):
    """A resource is unusable because of one field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


class Pending:
    """Children parsed before their parents are linked (routes, NSG rules)."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, Route]] = []
        self.rules: list[tuple[str, SecurityRule]] = []


class Ctx:
    """Per-resource parsing context: records value-level problems against the right resource."""

    __slots__ = ("estate", "file", "pending", "rid")

    def __init__(self, estate: Estate, pending: Pending, rid: str, file: str) -> None:
        self.estate = estate
        self.pending = pending
        self.rid = rid
        self.file = file

    def ignore(self, field: str, problem: str) -> None:
        self.estate.problems.append(Problem(self.file, self.rid, field, problem, VALUE_IGNORED))


# ---------------------------------------------------------------- field access helpers


def props_of(rec: dict[str, Any]) -> dict[str, Any]:
    props = rec.get("properties")
    if not isinstance(props, dict):
        raise FieldError("properties", f"expected an object, got {type(props).__name__}")
    return props


def sub_props(obj: dict[str, Any]) -> dict[str, Any]:
    """A sub-resource's properties, or the object itself when they are flattened into it."""
    props = obj.get("properties")
    return props if isinstance(props, dict) else obj


def ref(value: Any) -> str | None:
    """An ARM reference `{"id": ...}` (or a bare id string) -> id."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def ref_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [r for r in (ref(v) for v in value) if r]


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None and v != "")
    return ()


def cidrs(ctx: Ctx, values: Any, field: str) -> tuple[Cidr, ...]:
    """IPv4 prefixes from a list; IPv6 and malformed entries are ignored with a problem."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise FieldError(field, f"expected a list of prefixes, got {type(values).__name__}")
    out = []
    for i, value in enumerate(values):
        try:
            out.append(parse_cidr(value))
        except PrefixError as exc:
            ctx.ignore(f"{field}[{i}]", exc.problem)
    return tuple(out)


def ip_of(ctx: Ctx, value: Any, field: str) -> tuple[int | None, str | None]:
    if value is None or value == "":
        return None, None
    text = str(value)
    try:
        if "/" in text:  # NIC IP prefixes (privateIPAddressPrefixLength) are written a.b.c.d/n
            return parse_cidr(text).net, text
        return parse_ip(text), text
    except PrefixError as exc:
        ctx.ignore(field, exc.problem)
        return None, text


def tags_of(rec: dict[str, Any]) -> dict[str, Any]:
    tags = rec.get("tags")
    return dict(tags) if isinstance(tags, dict) else {}


# ---------------------------------------------------------------- per-type parsers


def p_vnet(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    space = props.get("addressSpace") or {}
    if not isinstance(space, dict):
        raise FieldError("properties.addressSpace", "expected an object")
    prefixes = cidrs(ctx, space.get("addressPrefixes"), "properties.addressSpace.addressPrefixes")
    if not prefixes:
        raise FieldError("properties.addressSpace.addressPrefixes", "no usable IPv4 address range")
    ctx.estate.vnets[key(rec["id"])] = VirtualNetwork(
        rec["id"],
        record_name(rec),
        str(rec.get("location") or ""),
        prefixes,
        file=ctx.file,
    )


def p_subnet(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    values = props.get("addressPrefixes") or props.get("addressPrefix")
    field = "properties.addressPrefixes" if props.get("addressPrefixes") else "properties.addressPrefix"
    prefixes = cidrs(ctx, values, field)
    if not prefixes:
        raise FieldError(field, "no usable IPv4 address prefix")
    raw_policy = props.get("privateEndpointNetworkPolicies")
    policy = enums.canon_enum(raw_policy, enums.PE_POLICIES, "Disabled")
    ctx.estate.subnets[key(rec["id"])] = Subnet(
        id=rec["id"],
        name=record_name(rec),
        vnet_id=parent_of(rec["id"]),
        prefixes=prefixes,
        route_table_id=ref(props.get("routeTable")),
        nsg_id=ref(props.get("networkSecurityGroup")),
        pe_policies=policy or "Disabled",
        pe_policies_set=raw_policy not in (None, ""),
        service_endpoints=tuple(
            str(se.get("service"))
            for se in props.get("serviceEndpoints") or []
            if isinstance(se, dict) and se.get("service")
        ),
        delegations=tuple(
            str((d.get("properties") or {}).get("serviceName") or d.get("serviceName") or "")
            for d in props.get("delegations") or []
            if isinstance(d, dict)
        ),
        file=ctx.file,
        ip_config_ids=tuple(ref_list(props.get("ipConfigurations"))),
    )


def p_peering(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    remote_space = props.get("remoteAddressSpace") or {}
    remote = cidrs(
        ctx,
        remote_space.get("addressPrefixes") if isinstance(remote_space, dict) else None,
        "properties.remoteAddressSpace.addressPrefixes",
    )
    ctx.estate.peerings[key(rec["id"])] = Peering(
        id=rec["id"],
        name=record_name(rec),
        vnet_id=parent_of(rec["id"]),
        remote_vnet_id=ref(props.get("remoteVirtualNetwork")),
        remote_prefixes=remote,
        state=enums.canon_enum(props.get("peeringState"), enums.PEERING_STATES, "") or "",
        allow_vnet_access=props.get("allowVirtualNetworkAccess", True) is not False,
        allow_forwarded_traffic=as_bool(props.get("allowForwardedTraffic")),
        allow_gateway_transit=as_bool(props.get("allowGatewayTransit")),
        use_remote_gateways=as_bool(props.get("useRemoteGateways")),
    )


def parse_route(ctx: Ctx, rid: str, name: str, props: dict[str, Any], field: str) -> Route | None:
    text = props.get("addressPrefix")
    if not isinstance(text, str) or not text:
        # the route is dropped, so it is a skipped resource, not an ignored value
        raise FieldError(f"{field}.addressPrefix", f"route {name!r} has no addressPrefix")
    prefix: Cidr | None = None
    if any(c.isdigit() for c in text.split("/")[0][:1]) or "/" in text or ":" in text:
        try:
            prefix = parse_cidr(text)
        except PrefixError as exc:
            if not exc.ipv6:
                raise FieldError(f"{field}.addressPrefix", f"route {name!r}: {exc.problem}") from None
            ctx.ignore(f"{field}.addressPrefix", f"route {name!r}: {exc.problem}")  # IPv6: not modelled
            return None
    hop_ip, hop_text = None, None
    hop = props.get("nextHopIpAddress")
    if hop:
        hop_ip, hop_text = ip_of(ctx, hop, f"{field}.nextHopIpAddress")
    return Route(
        id=rid,
        name=name,
        prefix=prefix,
        prefix_text=text,
        next_hop_type=enums.canon_next_hop(props.get("nextHopType")),
        next_hop_ip=hop_ip,
        next_hop_ip_text=hop_text,
    )


def p_route_table(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    ctx.estate.route_tables[key(rec["id"])] = RouteTable(
        id=rec["id"],
        name=record_name(rec),
        location=str(rec.get("location") or ""),
        routes=[],
        disable_bgp_route_propagation=as_bool(props.get("disableBgpRoutePropagation")),
        subnet_ids=ref_list(props.get("subnets")),
        file=ctx.file,
    )


def p_route(ctx: Ctx, rec: dict[str, Any]) -> None:
    route = parse_route(ctx, rec["id"], record_name(rec), props_of(rec), "properties")
    if route is not None:
        ctx.pending.routes.append((key(parent_of(rec["id"])), route))


def p_nsg(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    ctx.estate.nsgs[key(rec["id"])] = NetworkSecurityGroup(
        id=rec["id"],
        name=record_name(rec),
        rules=[],
        subnet_ids=ref_list(props.get("subnets")),
        nic_ids=ref_list(props.get("networkInterfaces")),
    )


def p_security_rule(ctx: Ctx, rec: dict[str, Any], default: bool = False) -> None:
    props = props_of(rec)
    priority = props.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise FieldError("properties.priority", f"expected an integer, got {priority!r}")

    def both(single: str, plural: str) -> tuple[str, ...]:
        return str_list(props.get(plural)) or str_list(props.get(single))

    rule = SecurityRule(
        id=rec["id"],
        name=record_name(rec),
        priority=priority,
        direction=enums.canon_enum(props.get("direction"), enums.DIRECTIONS, "") or "",
        access=enums.canon_enum(props.get("access"), enums.ACCESS, "") or "",
        protocol=enums.canon_enum(props.get("protocol"), enums.PROTOCOLS, "*") or "*",
        source_prefixes=both("sourceAddressPrefix", "sourceAddressPrefixes"),
        destination_prefixes=both("destinationAddressPrefix", "destinationAddressPrefixes"),
        source_ports=both("sourcePortRange", "sourcePortRanges"),
        destination_ports=both("destinationPortRange", "destinationPortRanges"),
        source_asgs=tuple(ref_list(props.get("sourceApplicationSecurityGroups"))),
        destination_asgs=tuple(ref_list(props.get("destinationApplicationSecurityGroups"))),
        default=default,
    )
    ctx.pending.rules.append((key(parent_of(rec["id"])), rule))


def ip_configs(ctx: Ctx, props: dict[str, Any]) -> list[IpConfig]:
    configs = props.get("ipConfigurations")
    if configs is None:
        return []
    if not isinstance(configs, list):
        raise FieldError("properties.ipConfigurations", f"expected a list, got {type(configs).__name__}")
    out = []
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, dict):
            ctx.ignore(f"properties.ipConfigurations[{i}]", "not an object")
            continue
        cp = sub_props(cfg)
        ip, text = ip_of(
            ctx, cp.get("privateIPAddress"), f"properties.ipConfigurations[{i}].properties.privateIPAddress"
        )
        out.append(
            IpConfig(
                name=str(cfg.get("name") or ""),
                ip=ip,
                ip_text=text,
                subnet_id=ref(cp.get("subnet")),
                primary=as_bool(cp.get("primary")),
                lb_backend_pool_ids=tuple(ref_list(cp.get("loadBalancerBackendAddressPools"))),
            )
        )
    return out


def p_nic(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    rid = rec["id"]
    vmss_vm = None
    if rec["type"].startswith("microsoft.compute/virtualmachinescalesets/"):
        vmss_vm = parent_of(rid)
    ctx.estate.nics[key(rid)] = NetworkInterface(
        id=rid,
        name=record_name(rec),
        ip_forwarding=as_bool(props.get("enableIPForwarding")),
        ip_configs=ip_configs(ctx, props),
        vm_id=ref(props.get("virtualMachine")) or vmss_vm,
        private_endpoint_id=ref(props.get("privateEndpoint")),
        nsg_id=ref(props.get("networkSecurityGroup")),
        tags=tags_of(rec),
        vmss_vm_id=vmss_vm,
        file=ctx.file,
    )


def p_vm(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    net = props.get("networkProfile") or {}
    ctx.estate.vms[key(rec["id"])] = VirtualMachine(
        id=rec["id"],
        name=record_name(rec),
        nic_ids=ref_list(net.get("networkInterfaces") if isinstance(net, dict) else None),
        vmss_id=ref(props.get("virtualMachineScaleSet")),
        tags=tags_of(rec),
    )


def p_vmss(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    profile = (props.get("virtualMachineProfile") or {}).get("networkProfile") or {}
    forwarding = False
    pools: list[str] = []
    for conf in profile.get("networkInterfaceConfigurations") or []:
        if isinstance(conf, dict):
            cp = sub_props(conf)
            forwarding = forwarding or as_bool(cp.get("enableIPForwarding"))
            for ipc in cp.get("ipConfigurations") or []:
                if isinstance(ipc, dict):
                    ipp = sub_props(ipc)
                    pools += ref_list(ipp.get("loadBalancerBackendAddressPools"))
    ctx.estate.scale_sets[key(rec["id"])] = ScaleSet(
        id=rec["id"],
        name=record_name(rec),
        orchestration_mode=str(props.get("orchestrationMode") or "Uniform"),
        tags=tags_of(rec),
        ip_forwarding=forwarding,
        lb_backend_pool_ids=tuple(pools),
    )


def p_vmss_vm(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    net = props.get("networkProfile") or {}
    ctx.estate.scale_set_instances[key(rec["id"])] = ScaleSetInstance(
        id=rec["id"],
        name=record_name(rec),
        vmss_id=parent_of(rec["id"]),
        tags=tags_of(rec),
        nic_ids=ref_list(net.get("networkInterfaces") if isinstance(net, dict) else None),
    )


def p_private_endpoint(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    conns = []
    for field, manual in (
        ("privateLinkServiceConnections", False),
        ("manualPrivateLinkServiceConnections", True),
    ):
        for i, conn in enumerate(props.get(field) or []):
            if not isinstance(conn, dict):
                ctx.ignore(f"properties.{field}[{i}]", "not an object")
                continue
            cp = sub_props(conn)
            state = cp.get("privateLinkServiceConnectionState") or {}
            conns.append(
                PrivateLinkConnection(
                    name=str(conn.get("name") or ""),
                    target_id=ref(cp.get("privateLinkServiceId")),
                    group_ids=str_list(cp.get("groupIds")),
                    status=enums.canon_enum(
                        state.get("status") if isinstance(state, dict) else None, enums.CONNECTION_STATUS, ""
                    )
                    or "",
                    manual=manual,
                )
            )
    static = []
    for i, cfg in enumerate(props.get("ipConfigurations") or []):
        if isinstance(cfg, dict):
            cp = sub_props(cfg)
            ip, _ = ip_of(
                ctx,
                cp.get("privateIPAddress"),
                f"properties.ipConfigurations[{i}].properties.privateIPAddress",
            )
            if ip is not None:
                static.append(ip)
    dns = []
    fqdns: list[str] = []
    for i, cfg in enumerate(props.get("customDnsConfigs") or []):
        if isinstance(cfg, dict):
            if isinstance(cfg.get("fqdn"), str) and cfg["fqdn"]:
                fqdns.append(cfg["fqdn"].lower().rstrip("."))
            for j, addr in enumerate(cfg.get("ipAddresses") or []):
                ip, _ = ip_of(ctx, addr, f"properties.customDnsConfigs[{i}].ipAddresses[{j}]")
                if ip is not None:
                    dns.append(ip)
    ctx.estate.private_endpoints[key(rec["id"])] = PrivateEndpoint(
        id=rec["id"],
        name=record_name(rec),
        subnet_id=ref(props.get("subnet")),
        nic_ids=ref_list(props.get("networkInterfaces")),
        connections=conns,
        static_ips=tuple(static),
        dns_ips=tuple(dns),
        file=ctx.file,
        fqdns=fqdns,
    )


def p_firewall(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    sku = props.get("sku") or rec.get("sku") or {}
    ip, subnet = None, None
    for i, cfg in enumerate(props.get("ipConfigurations") or []):
        if isinstance(cfg, dict):
            cp = sub_props(cfg)
            got, _ = ip_of(
                ctx,
                cp.get("privateIPAddress"),
                f"properties.ipConfigurations[{i}].properties.privateIPAddress",
            )
            if got is not None and ip is None:
                ip, subnet = got, ref(cp.get("subnet"))
    hub_ips = props.get("hubIPAddresses") or {}
    if ip is None and isinstance(hub_ips, dict):
        ip, _ = ip_of(ctx, hub_ips.get("privateIPAddress"), "properties.hubIPAddresses.privateIPAddress")
    additional = props.get("additionalProperties")
    ctx.estate.firewalls[key(rec["id"])] = Firewall(
        id=rec["id"],
        name=record_name(rec),
        sku_name=str(sku.get("name") or "") if isinstance(sku, dict) else "",
        sku_tier=str(sku.get("tier") or "") if isinstance(sku, dict) else "",
        private_ip=ip,
        subnet_id=subnet,
        policy_id=ref(props.get("firewallPolicy")),
        hub_id=ref(props.get("virtualHub")),
        additional_properties=dict(additional) if isinstance(additional, dict) else {},
        file=ctx.file,
    )


def p_ip_group(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    values = props.get("ipAddresses")
    if values is not None and not isinstance(values, list):
        raise FieldError(
            "properties.ipAddresses", f"expected a list of addresses, got {type(values).__name__}"
        )
    kept = []
    for i, value in enumerate(values or []):
        text = str(value).strip()
        try:
            for part in text.split("-", 1):  # an address, a prefix or an a-b range
                parse_cidr(part.strip())
            kept.append(text)
        except PrefixError as exc:
            ctx.ignore(f"properties.ipAddresses[{i}]", exc.problem)
    ctx.estate.ip_groups[key(rec["id"])] = IpGroup(rec["id"], record_name(rec), tuple(kept))


def p_firewall_policy(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    snat = props.get("snat") or {}
    ranges: list[str] | None = None
    if isinstance(snat, dict) and snat.get("privateRanges") is not None:
        value = snat["privateRanges"]
        if isinstance(
            value, str
        ):  # the doc sample writes "[255.255.255.255/32]" (https://learn.microsoft.com/azure/firewall/snat-private-range)
            value = [v.strip() for v in value.strip().strip("[]").split(",") if v.strip()]
        if not isinstance(value, list):
            raise FieldError("properties.snat.privateRanges", f"expected a list, got {type(value).__name__}")
        ranges = [str(v) for v in value]
    ctx.estate.firewall_policies[key(rec["id"])] = FirewallPolicy(
        id=rec["id"],
        name=record_name(rec),
        snat_private_ranges=ranges,
        auto_learn_private_ranges=(snat.get("autoLearnPrivateRanges") if isinstance(snat, dict) else None),
        base_policy_id=ref(props.get("basePolicy")),
        rule_collection_group_ids=ref_list(props.get("ruleCollectionGroups")),
    )


def p_rule_collection_group(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    collections = props.get("ruleCollections") or []
    if not isinstance(collections, list):
        raise FieldError("properties.ruleCollections", "expected a list")
    priority = props.get("priority")
    ctx.estate.rule_collection_groups[key(rec["id"])] = RuleCollectionGroup(
        id=rec["id"],
        policy_id=parent_of(rec["id"]),
        priority=priority if isinstance(priority, int) else None,
        rule_collections=[c for c in collections if isinstance(c, dict)],
    )


def p_load_balancer(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    frontends = []
    for i, fe in enumerate(props.get("frontendIPConfigurations") or []):
        if isinstance(fe, dict):
            fp = sub_props(fe)
            ip, _ = ip_of(
                ctx,
                fp.get("privateIPAddress"),
                f"properties.frontendIPConfigurations[{i}].properties.privateIPAddress",
            )
            frontends.append(LoadBalancerFrontend(str(fe.get("name") or ""), ip, ref(fp.get("subnet"))))
    ctx.estate.load_balancers[key(rec["id"])] = LoadBalancer(
        id=rec["id"],
        name=record_name(rec),
        frontends=frontends,
        backend_pool_ids=ref_list(props.get("backendAddressPools")),
    )


def p_vnet_gateway(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    subnet = None
    for cfg in props.get("ipConfigurations") or []:
        if isinstance(cfg, dict):
            cp = sub_props(cfg)
            subnet = subnet or ref(cp.get("subnet"))
    ctx.estate.vnet_gateways[key(rec["id"])] = VirtualNetworkGateway(
        id=rec["id"],
        name=record_name(rec),
        gateway_type=enums.canon_enum(props.get("gatewayType"), enums.GATEWAY_TYPES, "") or "",
        subnet_id=subnet,
        vnet_id=parent_of(subnet) if subnet else None,
        bgp_enabled=as_bool(props.get("enableBgp")),
    )


def p_local_gateway(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    space = props.get("localNetworkAddressSpace") or {}
    ctx.estate.local_gateways[key(rec["id"])] = LocalNetworkGateway(
        id=rec["id"],
        name=record_name(rec),
        prefixes=cidrs(
            ctx,
            space.get("addressPrefixes") if isinstance(space, dict) else None,
            "properties.localNetworkAddressSpace.addressPrefixes",
        ),
    )


def p_connection(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    ctx.estate.connections[key(rec["id"])] = Connection(
        id=rec["id"],
        name=record_name(rec),
        connection_type=str(props.get("connectionType") or ""),
        gateway_id=ref(props.get("virtualNetworkGateway1")),
        local_gateway_id=ref(props.get("localNetworkGateway2")) or ref(props.get("virtualNetworkGateway2")),
        status=str(props.get("connectionStatus") or ""),
    )


def p_virtual_hub(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    prefix = None
    if props.get("addressPrefix"):
        got = cidrs(ctx, [props["addressPrefix"]], "properties.addressPrefix")
        prefix = got[0] if got else None
    ctx.estate.virtual_hubs[key(rec["id"])] = VirtualHub(
        id=rec["id"],
        name=record_name(rec),
        prefix=prefix,
        firewall_id=ref(props.get("azureFirewall")),
        virtual_wan_id=ref(props.get("virtualWan")),
    )


def p_hub_nva(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    ips = []
    for i, n in enumerate(props.get("virtualApplianceNics") or []):
        if isinstance(n, dict) and n.get("privateIpAddress"):
            ip, _ = ip_of(
                ctx, n.get("privateIpAddress"), f"properties.virtualApplianceNics[{i}].privateIpAddress"
            )
            if ip is not None:
                ips.append(ip)
    ctx.estate.hub_nvas[key(rec["id"])] = HubNva(
        rec["id"],
        record_name(rec),
        ref(props.get("virtualHub")),
        tuple(ips),
        tags_of(rec),
    )


def p_hub_gateway(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    sites = []
    for conn in props.get("connections") or []:
        if isinstance(conn, dict):
            cp = sub_props(conn)
            site = ref(cp.get("remoteVpnSite"))
            if site:
                sites.append(site)
    kind = "expressroute" if rec["type"] == "microsoft.network/expressroutegateways" else "vpn"
    ctx.estate.hub_gateways[key(rec["id"])] = HubGateway(
        rec["id"],
        record_name(rec),
        kind,
        ref(props.get("virtualHub")),
        tuple(sites),
    )


def p_vpn_site(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    space = props.get("addressSpace") or {}
    ctx.estate.vpn_sites[key(rec["id"])] = VpnSite(
        rec["id"],
        record_name(rec),
        cidrs(
            ctx,
            space.get("addressPrefixes") if isinstance(space, dict) else None,
            "properties.addressSpace.addressPrefixes",
        ),
    )


def p_routing_intent(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    policies = []
    for i, pol in enumerate(props.get("routingPolicies") or []):
        if not isinstance(pol, dict):
            ctx.ignore(f"properties.routingPolicies[{i}]", "not an object")
            continue
        pp = sub_props(pol)
        policies.append(
            RoutingPolicy(
                str(pol.get("name") or ""), str_list(pp.get("destinations")), ref(pp.get("nextHop"))
            )
        )
    ctx.estate.routing_intents[key(rec["id"])] = RoutingIntent(rec["id"], parent_of(rec["id"]), policies)


def p_hub_connection(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    ctx.estate.hub_connections[key(rec["id"])] = HubConnection(
        rec["id"], parent_of(rec["id"]), ref(props.get("remoteVirtualNetwork"))
    )


def p_apim(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    sku = rec.get("sku") or {}
    vnet_conf = props.get("virtualNetworkConfiguration") or {}
    # Premium multi-region: each additionalLocations[] entry is a gateway with its own public IPs
    extra_public: list[str] = []
    for loc in props.get("additionalLocations") or []:
        if isinstance(loc, dict):
            extra_public += str_list(loc.get("publicIPAddresses"))
    ctx.estate.apims[key(rec["id"])] = ApiManagement(
        id=rec["id"],
        name=record_name(rec),
        sku=str(sku.get("name") or "") if isinstance(sku, dict) else "",
        vnet_type=enums.canon_enum(props.get("virtualNetworkType"), enums.VNET_TYPES, "None") or "None",
        subnet_id=ref(vnet_conf.get("subnetResourceId")) if isinstance(vnet_conf, dict) else None,
        private_ips=str_list(props.get("privateIPAddresses")),
        public_ips=(*str_list(props.get("publicIPAddresses")), *extra_public),
        outbound_public_ips=str_list(props.get("outboundPublicIPAddresses")),
        public_network_access=props.get("publicNetworkAccess"),
    )


def p_ai_account(ctx: Ctx, rec: dict[str, Any]) -> None:
    props = props_of(rec)
    acls = props.get("networkAcls")
    network_acls = None
    if acls is not None:
        if not isinstance(acls, dict):
            raise FieldError("properties.networkAcls", f"expected an object, got {type(acls).__name__}")
        network_acls = NetworkAcls(
            default_action=enums.canon_enum(acls.get("defaultAction"), enums.ACCESS),
            bypass=enums.canon_enum(acls.get("bypass"), enums.BYPASS),
            ip_rules=tuple(
                str(r.get("value"))
                for r in acls.get("ipRules") or []
                if isinstance(r, dict) and r.get("value")
            ),
            virtual_network_rules=tuple(ref_list(acls.get("virtualNetworkRules"))),
        )
    conns = []
    for i, conn in enumerate(props.get("privateEndpointConnections") or []):
        if not isinstance(conn, dict):
            ctx.ignore(f"properties.privateEndpointConnections[{i}]", "not an object")
            continue
        cp = sub_props(conn)
        state = cp.get("privateLinkServiceConnectionState") or {}
        conns.append(
            AiAccountPeConnection(
                id=conn.get("id"),
                private_endpoint_id=ref(cp.get("privateEndpoint")),
                status=enums.canon_enum(
                    state.get("status") if isinstance(state, dict) else None, enums.CONNECTION_STATUS, ""
                )
                or "",
            )
        )
    pna = props.get("publicNetworkAccess")
    ctx.estate.ai_accounts[key(rec["id"])] = AiAccount(
        id=rec["id"],
        name=record_name(rec),
        kind=str(rec.get("kind") or ""),
        disable_local_auth=props.get("disableLocalAuth"),
        public_network_access=enums.canon_enum(pna, enums.PUBLIC_ACCESS) if pna is not None else None,
        network_acls=network_acls,
        pe_connections=conns,
        custom_subdomain=props.get("customSubDomainName"),
        file=ctx.file,
    )


PARSERS: dict[str, Callable[[Ctx, dict[str, Any]], None]] = {
    "microsoft.network/virtualnetworks": p_vnet,
    "microsoft.network/virtualnetworks/subnets": p_subnet,
    "microsoft.network/virtualnetworks/virtualnetworkpeerings": p_peering,
    "microsoft.network/routetables": p_route_table,
    "microsoft.network/routetables/routes": p_route,
    "microsoft.network/networksecuritygroups": p_nsg,
    "microsoft.network/networksecuritygroups/securityrules": p_security_rule,
    "microsoft.network/networksecuritygroups/defaultsecurityrules": lambda c, r: p_security_rule(c, r, True),
    "microsoft.network/networkinterfaces": p_nic,
    "microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces": p_nic,
    "microsoft.compute/virtualmachines": p_vm,
    "microsoft.compute/virtualmachinescalesets": p_vmss,
    "microsoft.compute/virtualmachinescalesets/virtualmachines": p_vmss_vm,
    "microsoft.network/privateendpoints": p_private_endpoint,
    "microsoft.network/azurefirewalls": p_firewall,
    "microsoft.network/firewallpolicies": p_firewall_policy,
    "microsoft.network/firewallpolicies/rulecollectiongroups": p_rule_collection_group,
    "microsoft.network/ipgroups": p_ip_group,
    "microsoft.network/loadbalancers": p_load_balancer,
    "microsoft.network/virtualnetworkgateways": p_vnet_gateway,
    "microsoft.network/localnetworkgateways": p_local_gateway,
    "microsoft.network/connections": p_connection,
    "microsoft.network/virtualhubs": p_virtual_hub,
    "microsoft.network/virtualhubs/routingintent": p_routing_intent,
    "microsoft.network/networkvirtualappliances": p_hub_nva,
    "microsoft.network/vpngateways": p_hub_gateway,
    "microsoft.network/expressroutegateways": p_hub_gateway,
    "microsoft.network/vpnsites": p_vpn_site,
    "microsoft.network/virtualhubs/hubvirtualnetworkconnections": p_hub_connection,
    "microsoft.apimanagement/service": p_apim,
    "microsoft.cognitiveservices/accounts": p_ai_account,
}


# ---------------------------------------------------------------- the build


def merge_records(raw: RawInputs, estate: Estate) -> None:
    records = estate.records
    files = estate.files
    problems = estate.problems

    def put(rec: dict[str, Any], file: str) -> None:
        k = key(rec["id"])
        seen = records.get(k)
        if seen is None:
            records[k] = rec
            files[k] = file
            return
        kept, conflict = merge(seen, rec)
        if conflict:
            problems.append(
                Problem(
                    file,
                    rec["id"],
                    None,
                    f"seen twice with conflicting content (also in {files[k]}); kept the richer copy",
                    CONFLICT,
                )
            )
        if kept is not seen:
            records[k] = kept
            files[k] = file  # the file of the copy that is kept

    for item in raw.resources:
        obj, file = item.data, item.file
        rid, rtype = obj.get("id"), obj.get("type")
        if not isinstance(rid, str) or not rid.strip():
            name = obj.get("name")
            problems.append(
                Problem(
                    file, f"(name {name!r})" if name else None, "id", "resource has no id", RESOURCE_SKIPPED
                )
            )
            continue
        if not isinstance(rtype, str) or not rtype.strip():
            # real ARM GETs of child resources (subnets, routes) sometimes omit `type`; the id says it
            inferred = type_of(rid)
            if not inferred:
                problems.append(
                    Problem(file, rid, "type", "resource has no type and its id names none", RESOURCE_SKIPPED)
                )
                continue
            obj = {**obj, "type": inferred}
        if "properties" in obj and not isinstance(obj["properties"], dict) and obj["properties"] is not None:
            problems.append(
                Problem(
                    file,
                    rid,
                    "properties",
                    f"expected an object, got {type(obj['properties']).__name__}",
                    RESOURCE_SKIPPED,
                )
            )
            continue
        rec = canonical(obj)
        for child in extract_children(rec):
            if "__invalid_child__" in child:
                what = (
                    f"expected a list, got {type(child['__invalid_child__']).__name__}: its children are unknown"
                    if child.get("not_a_list")
                    else "child element without an id"
                )
                problems.append(Problem(file, rid, f"properties.{child['prop']}", what, VALUE_IGNORED))
                continue
            put(child, file)
        put(rec, file)


def link(estate: Estate, pending: Pending) -> None:
    """Parent/child links, back-references and the private-IP ownership index."""
    for parent, route in pending.routes:
        table = estate.route_tables.get(parent)
        if table is not None:
            table.routes.append(route)
    for parent, rule in pending.rules:
        nsg = estate.nsgs.get(parent)
        if nsg is not None:
            nsg.rules.append(rule)
    for table in estate.route_tables.values():
        table.routes.sort(key=lambda r: key(r.id))
    for nsg in estate.nsgs.values():
        nsg.rules.sort(key=lambda r: (r.default, r.priority, r.name))

    for sid, subnet in estate.subnets.items():
        vnet = estate.vnets.get(key(subnet.vnet_id))
        if vnet is not None:
            vnet.subnet_ids.append(subnet.id)
        if subnet.route_table_id:
            table = estate.route_tables.get(key(subnet.route_table_id))
            if table is not None and all(key(s) != sid for s in table.subnet_ids):
                table.subnet_ids.append(subnet.id)
        if subnet.nsg_id:
            nsg = estate.nsgs.get(key(subnet.nsg_id))
            if nsg is not None and all(key(s) != sid for s in nsg.subnet_ids):
                nsg.subnet_ids.append(subnet.id)
    # a route table may name subnets whose own record lacks the back-reference
    for table in estate.route_tables.values():
        for sid in table.subnet_ids:
            named = estate.subnets.get(key(sid))
            if named is not None and named.route_table_id is None:
                named.route_table_id = table.id
    for peering in estate.peerings.values():
        vnet = estate.vnets.get(key(peering.vnet_id))
        if vnet is not None:
            vnet.peering_ids.append(peering.id)

    for vm in estate.vms.values():
        for nic_id in vm.nic_ids:
            nic = estate.nics.get(key(nic_id))
            if nic is not None and nic.vm_id is None:
                nic.vm_id = vm.id
    for nic in estate.nics.values():
        if nic.vm_id:
            owner_vm = estate.vms.get(key(nic.vm_id))
            if owner_vm is not None and all(key(n) != key(nic.id) for n in owner_vm.nic_ids):
                owner_vm.nic_ids.append(nic.id)
            inst = estate.scale_set_instances.get(key(nic.vm_id))
            if inst is not None and all(key(n) != key(nic.id) for n in inst.nic_ids):
                inst.nic_ids.append(nic.id)
    for inst in estate.scale_set_instances.values():
        vmss = estate.scale_sets.get(key(inst.vmss_id))
        if vmss is not None:
            vmss.instance_ids.append(inst.id)

    owners = estate.ip_owners

    def own(ip: int | None, owner: IpOwner) -> None:
        if ip is not None:
            owners.setdefault(ip, []).append(owner)

    pe_by_nic = {}
    for pe in estate.private_endpoints.values():
        for nic_id in pe.nic_ids:
            pe_by_nic[key(nic_id)] = pe
    for nic in estate.nics.values():
        nic_pe = None
        if nic.private_endpoint_id:
            nic_pe = estate.private_endpoints.get(key(nic.private_endpoint_id))
        nic_pe = nic_pe or pe_by_nic.get(key(nic.id))
        for cfg in nic.ip_configs:
            if nic_pe is not None:
                if cfg.ip is not None and cfg.ip not in nic_pe.ips:
                    nic_pe.ips.append(cfg.ip)
                own(cfg.ip, IpOwner("private-endpoint", nic_pe.id, cfg.subnet_id or nic_pe.subnet_id))
            else:
                own(cfg.ip, IpOwner("nic", nic.id, cfg.subnet_id))
        if nic_pe is not None and all(key(n) != key(nic.id) for n in nic_pe.nic_ids):
            nic_pe.nic_ids.append(nic.id)
    for pe in estate.private_endpoints.values():
        pe.fqdns = sorted(set(pe.fqdns) | set(pe_names(estate, pe)))
        if not pe.ips:  # NIC not exported: static IP configurations, then DNS configs (https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data)
            for ip in pe.static_ips or pe.dns_ips:
                if ip not in pe.ips:
                    pe.ips.append(ip)
                    own(ip, IpOwner("private-endpoint", pe.id, pe.subnet_id))
    for fw in estate.firewalls.values():
        own(fw.private_ip, IpOwner("azure-firewall", fw.id, fw.subnet_id))
    for hub_nva in estate.hub_nvas.values():
        for ip in hub_nva.ips:
            own(ip, IpOwner("hub-nva", hub_nva.id, None))
    for lb in estate.load_balancers.values():
        for fe in lb.frontends:
            own(fe.ip, IpOwner("lb-frontend", lb.id, fe.subnet_id))
    for apim in estate.apims.values():
        for text in apim.private_ips:
            try:
                own(parse_ip(text), IpOwner("apim", apim.id, apim.subnet_id))
            except PrefixError:
                estate.problems.append(
                    Problem(
                        None,
                        apim.id,
                        "properties.privateIPAddresses",
                        f"{text!r} is not an IPv4 address",
                        VALUE_IGNORED,
                    )
                )
    for ip_list in owners.values():
        ip_list.sort(key=lambda o: (o.kind, key(o.id)))


AI_DOMAINS = ("openai.azure.com", "cognitiveservices.azure.com", "services.ai.azure.com")


def pe_names(estate: Estate, pe: PrivateEndpoint) -> list[str]:
    """The names clients resolve to a private endpoint's address: its NICs' private link FQDNs and, for
    an AI account, the custom subdomain under the service's public domains (private DNS answers them
    with the endpoint's IP). Firewall rules that name a destination by FQDN match through these."""
    names: list[str] = []
    for nic_id in pe.nic_ids:
        rec = estate.record(nic_id) or {}
        props = found if isinstance(found := rec.get("properties"), dict) else {}
        for cfg in props.get("ipConfigurations") or []:
            cp = sub_props(cfg) if isinstance(cfg, dict) else {}
            link = cp.get("privateLinkConnectionProperties") or {}
            names += [
                str(f).lower().rstrip(".") for f in (link.get("fqdns") or []) if isinstance(link, dict) and f
            ]
    for conn in pe.connections:
        account = estate.ai_accounts.get(key(conn.target_id or ""))
        if account is not None and isinstance(account.custom_subdomain, str) and account.custom_subdomain:
            names += [f"{account.custom_subdomain.lower()}.{d}" for d in AI_DOMAINS]
    return names


def dangling(estate: Estate) -> None:
    """References to resources the input lacks, where the missing one can change a verdict: a partial
    export (a forgotten route-tables.json, a peered VNet in a subscription not collected) must never
    audit as clean. Each becomes a coverage problem naming the missing id (exit 3, never 0); findings
    that name the referring resource carry it as `unresolved` evidence (auditor.rules.engine)."""
    out = estate.problems

    def missing(rec_id: str, file: str | None, field: str, what: str, ref_id: str, effect: str) -> None:
        out.append(Problem(file, rec_id, field, f"{what} {ref_id} is not in the input: {effect}", MISSING))

    for sid in sorted(estate.subnets):
        s = estate.subnets[sid]
        if key(s.vnet_id) not in estate.vnets:
            missing(
                s.id, s.file, "id", "virtual network", s.vnet_id, "its address space and peerings are unknown"
            )
        if s.route_table_id and key(s.route_table_id) not in estate.route_tables:
            missing(
                s.id,
                s.file,
                "properties.routeTable.id",
                "route table",
                s.route_table_id,
                "the subnet's user-defined routes are unknown",
            )
        if s.nsg_id and key(s.nsg_id) not in estate.nsgs:
            missing(
                s.id,
                s.file,
                "properties.networkSecurityGroup.id",
                "network security group",
                s.nsg_id,
                "what it allows or denies is unknown",
            )
    for pid in sorted(estate.peerings):
        p = estate.peerings[pid]
        if p.state == "Connected" and p.remote_vnet_id and key(p.remote_vnet_id) not in estate.vnets:
            missing(
                p.id,
                estate.files.get(key(p.vnet_id)),
                "properties.remoteVirtualNetwork.id",
                "peered virtual network",
                p.remote_vnet_id,
                "its subnets, route tables and private endpoints are not audited",
            )
    for tid in sorted(estate.route_tables):
        for r in estate.route_tables[tid].routes:
            if r.next_hop_type.lower() not in enums.NEXT_HOP_TYPES:
                out.append(
                    Problem(
                        estate.route_tables[tid].file,
                        r.id,
                        "properties.nextHopType",
                        f"next hop type {r.next_hop_type!r} is not one pathaudit knows: the route decided "
                        "nothing (traffic it carries is treated as dropped)",
                        VALUE_IGNORED,
                    )
                )
    # lists of references, one spec each: (referrers, their references, where the referenced live, field,
    # what is referenced, what its absence leaves unknown)
    lists: list[
        tuple[dict[str, Any], Callable[[Any], Iterable[str]], Container[str], str, str, Callable[[Any], str]]
    ] = [
        (
            estate.private_endpoints,
            lambda pe: pe.nic_ids,
            estate.nics,
            "properties.networkInterfaces",
            "network interface",
            lambda pe: (
                "the endpoint's address is taken from its static or DNS configuration"
                if pe.ips
                else "the endpoint's address is unknown, so no flow to it is analysed"
            ),
        ),
        (
            estate.vms,
            lambda vm: vm.nic_ids,
            estate.nics,
            "properties.networkProfile.networkInterfaces",
            "network interface",
            lambda vm: "its address, IP forwarding and tags are unknown",
        ),
        (
            estate.hub_gateways,
            lambda gw: gw.site_ids,
            estate.vpn_sites,
            "properties.connections",
            "VPN site",
            lambda gw: "its on-premises address space is unknown",
        ),
    ]
    for referrers, refs_of, present, field_name, what, effect_of in lists:
        for referrer in sorted(referrers):
            item = referrers[referrer]
            for ref in refs_of(item):
                if key(ref) not in present:
                    missing(item.id, estate.files.get(referrer), field_name, what, ref, effect_of(item))
    for fw_id in sorted(estate.firewalls):
        fw = estate.firewalls[fw_id]
        if fw.policy_id and key(fw.policy_id) not in estate.firewall_policies:
            missing(
                fw.id,
                fw.file,
                "properties.firewallPolicy.id",
                "firewall policy",
                fw.policy_id,
                "its SNAT ranges and rules are unknown (the defaults are assumed)",
            )
    for ri_id in sorted(estate.routing_intents):
        ri = estate.routing_intents[ri_id]
        for pol in ri.policies:
            hop = key(pol.next_hop or "")
            hop_fw, nva = estate.firewalls.get(hop), estate.hub_nvas.get(hop)
            if not hop or (hop_fw is None and nva is None):
                missing(
                    ri.id,
                    estate.files.get(ri_id),
                    f"properties.routingPolicies[{pol.name}].nextHop",
                    "routing-intent next hop",
                    pol.next_hop or "(none)",
                    "traffic the policy sends there is not followed through it",
                )
            elif (
                hop_fw.private_ip
                if hop_fw is not None
                else (nva.ips[0] if nva is not None and nva.ips else None)
            ) is None:
                out.append(
                    Problem(
                        estate.files.get(ri_id),
                        ri.id,
                        f"properties.routingPolicies[{pol.name}].nextHop",
                        f"routing-intent next hop {pol.next_hop} has no private IP in the input: traffic the "
                        "policy sends there is not followed through it",
                        UNRESOLVED,
                    )
                )


def resolve_effective_routes(raw: RawInputs, estate: Estate) -> None:
    by_name: dict[str, list[str]] = {}
    for nic in estate.nics.values():
        by_name.setdefault(nic.name.lower(), []).append(nic.id)
    for owner, routes in raw.effective_routes.items():
        if owner.startswith("name:"):
            matches = by_name.get(owner[5:].lower(), [])
            if len(matches) != 1:
                estate.problems.append(
                    Problem(
                        None,
                        None,
                        None,
                        f"effective routes for NIC named {owner[5:]!r}: {len(matches)} NICs have that name",
                        VALUE_IGNORED,
                    )
                )
                continue
            owner = matches[0]
        estate.effective_routes[key(owner)] = routes


@dataclass
class Merged:
    """The inputs' resources as canonical records, one per id, before any parser reads them: what
    `pathaudit whatif` builds both of its estates from (merge once, build twice)."""

    records: dict[str, dict[str, Any]]
    files: dict[str, str]
    problems: list[Problem]


def merge_inputs(raw: RawInputs) -> Merged:
    with gc_paused():
        scratch = Estate(records={}, files={})
        merge_records(raw, scratch)
        return Merged(scratch.records, scratch.files, scratch.problems)


def build_estate(
    raw: RawInputs,
    edit: Callable[[dict[str, dict[str, Any]], dict[str, str]], None] | None = None,
    merged: Merged | None = None,
) -> Estate:
    """The garbage collector is paused while the estate is built, as during the parse: the build
    allocates millions of acyclic objects, and cyclic-GC passes over the parsed documents cost about
    as much as the build itself on large estates (tests/bench/load.py). `merged`: the records of an
    earlier merge of the same `raw` (never modified: `edit` replaces the records it changes)."""
    with gc_paused():
        return _build(raw, edit, merged)


def _build(
    raw: RawInputs,
    edit: Callable[[dict[str, dict[str, Any]], dict[str, str]], None] | None = None,
    merged: Merged | None = None,
) -> Estate:
    estate = Estate(records={}, files={})
    estate.problems.extend(raw.problems)
    estate.inputs = list(raw.inputs)
    estate.read_files = list(raw.read)
    estate.collected_at = raw.collected_at
    pending = Pending()
    if merged is None:
        merge_records(raw, estate)
    else:
        estate.records.update(merged.records)
        estate.files.update(merged.files)
        estate.problems.extend(merged.problems)
    if (
        edit is not None
    ):  # pathaudit whatif: proposed changes, made to the records before any parser reads them
        edit(estate.records, estate.files)
    for k, rec in estate.records.items():
        parser = PARSERS.get(rec["type"])
        if parser is None:
            estate.unknown_types[rec["type"]] = estate.unknown_types.get(rec["type"], 0) + 1
            continue
        ctx = Ctx(estate, pending, rec["id"], estate.files[k])
        try:
            parser(ctx, rec)
        except FieldError as exc:
            estate.problems.append(Problem(ctx.file, rec["id"], exc.field, exc.problem, RESOURCE_SKIPPED))
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            # a shape no parser anticipated: name it, skip the resource, keep auditing
            estate.problems.append(
                Problem(
                    ctx.file,
                    rec["id"],
                    None,
                    f"unexpected shape ({type(exc).__name__}: {exc})",
                    RESOURCE_SKIPPED,
                )
            )
    link(estate, pending)
    dangling(estate)
    resolve_effective_routes(raw, estate)
    return estate
