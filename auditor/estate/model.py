"""Typed view of the resources pathaudit reasons about, with the indexes later stages need.

Only the fields rules and routing use are typed; the raw record stays reachable through
`Estate.records` for evidence. Enum strings are folded to their documented casing
(`canon_enum`) so comparisons elsewhere are exact; unknown values are kept verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.ids import key, name_of
from auditor.ipnet import Cidr
from auditor.problems import Problem


@dataclass(slots=True)
class Subnet:
    id: str
    name: str
    vnet_id: str
    prefixes: tuple[Cidr, ...]
    route_table_id: str | None
    nsg_id: str | None
    # privateEndpointNetworkPolicies, documented casing; absent means Disabled (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)
    pe_policies: str
    pe_policies_set: bool
    service_endpoints: tuple[str, ...]
    delegations: tuple[str, ...]
    file: str
    # the subnet's `ipConfigurations[]` back-references: who holds addresses in it (NICs of VMs, PEs,
    # private link services, gateways ...), also for resources the export did not include
    ip_config_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class Peering:
    id: str
    name: str
    vnet_id: str
    remote_vnet_id: str | None
    remote_prefixes: tuple[Cidr, ...]
    state: str
    allow_vnet_access: bool
    allow_forwarded_traffic: bool
    allow_gateway_transit: bool
    use_remote_gateways: bool


@dataclass(slots=True)
class VirtualNetwork:
    id: str
    name: str
    location: str
    prefixes: tuple[Cidr, ...]
    subnet_ids: list[str] = field(default_factory=list)
    peering_ids: list[str] = field(default_factory=list)
    file: str = ""


@dataclass(slots=True)
class Route:
    id: str
    name: str
    prefix: Cidr | None  # None when the prefix is a service tag
    prefix_text: str
    next_hop_type: str
    next_hop_ip: int | None
    next_hop_ip_text: str | None


@dataclass(slots=True)
class RouteTable:
    id: str
    name: str
    location: str
    routes: list[Route]
    disable_bgp_route_propagation: bool
    subnet_ids: list[str] = field(default_factory=list)
    file: str = ""


@dataclass(slots=True)
class SecurityRule:
    id: str
    name: str
    priority: int
    direction: str
    access: str
    protocol: str
    source_prefixes: tuple[str, ...]
    destination_prefixes: tuple[str, ...]
    source_ports: tuple[str, ...]
    destination_ports: tuple[str, ...]
    source_asgs: tuple[str, ...]
    destination_asgs: tuple[str, ...]
    default: bool


@dataclass(slots=True)
class NetworkSecurityGroup:
    id: str
    name: str
    rules: list[SecurityRule]
    subnet_ids: list[str] = field(default_factory=list)
    nic_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class IpConfig:
    name: str
    ip: int | None
    ip_text: str | None
    subnet_id: str | None
    primary: bool
    lb_backend_pool_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class NetworkInterface:
    id: str
    name: str
    ip_forwarding: bool
    ip_configs: list[IpConfig]
    vm_id: str | None
    private_endpoint_id: str | None
    nsg_id: str | None
    tags: dict[str, str]
    # set for VMSS instance NICs (Resource Graph ComputeResources table)
    vmss_vm_id: str | None = None
    file: str = ""


@dataclass(slots=True)
class VirtualMachine:
    id: str
    name: str
    nic_ids: list[str]
    vmss_id: str | None
    tags: dict[str, str]


@dataclass(slots=True)
class ScaleSet:
    id: str
    name: str
    orchestration_mode: str
    tags: dict[str, str]
    ip_forwarding: bool
    instance_ids: list[str] = field(default_factory=list)
    # from the model's network profile: the load balancer backend pools its instances join
    lb_backend_pool_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class ScaleSetInstance:
    id: str
    name: str
    vmss_id: str
    tags: dict[str, str]
    nic_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PrivateLinkConnection:
    name: str
    target_id: str | None
    group_ids: tuple[str, ...]
    status: str
    manual: bool


@dataclass(slots=True)
class PrivateEndpoint:
    id: str
    name: str
    subnet_id: str | None
    nic_ids: list[str]
    connections: list[PrivateLinkConnection]
    static_ips: tuple[int, ...]
    dns_ips: tuple[int, ...]
    ips: list[int] = field(default_factory=list)  # authoritative: its NICs' private IPs
    file: str = ""
    fqdns: list[str] = field(
        default_factory=list
    )  # lower-case names that resolve to it (estate.build.pe_names)

    @property
    def approved(self) -> bool:
        return any(c.status == "Approved" for c in self.connections)


@dataclass(slots=True)
class Firewall:
    id: str
    name: str
    sku_name: str
    sku_tier: str
    private_ip: int | None
    subnet_id: str | None
    policy_id: str | None
    hub_id: str | None
    additional_properties: dict[str, Any]
    file: str = ""


@dataclass(slots=True)
class FirewallPolicy:
    id: str
    name: str
    snat_private_ranges: list[str] | None  # None = not set (defaults apply)
    auto_learn_private_ranges: str | None
    base_policy_id: str | None
    rule_collection_group_ids: list[str]


@dataclass(slots=True)
class RuleCollectionGroup:
    id: str
    policy_id: str
    priority: int | None
    rule_collections: list[dict[str, Any]]


@dataclass(slots=True)
class IpGroup:
    id: str
    name: str
    addresses: tuple[str, ...]  # properties.ipAddresses: IPs, CIDRs or ranges, verbatim


@dataclass(slots=True)
class LoadBalancerFrontend:
    name: str
    ip: int | None
    subnet_id: str | None


@dataclass(slots=True)
class LoadBalancer:
    id: str
    name: str
    frontends: list[LoadBalancerFrontend]
    backend_pool_ids: list[str]


@dataclass(slots=True)
class VirtualNetworkGateway:
    id: str
    name: str
    gateway_type: str
    subnet_id: str | None
    vnet_id: str | None
    bgp_enabled: bool


@dataclass(slots=True)
class LocalNetworkGateway:
    id: str
    name: str
    prefixes: tuple[Cidr, ...]


@dataclass(slots=True)
class Connection:
    id: str
    name: str
    connection_type: str
    gateway_id: str | None
    local_gateway_id: str | None
    status: str


@dataclass(slots=True)
class VirtualHub:
    id: str
    name: str
    prefix: Cidr | None
    firewall_id: str | None
    virtual_wan_id: str | None


@dataclass(slots=True)
class HubNva:
    """A network virtual appliance deployed in a Virtual WAN hub (Microsoft.Network/networkVirtualAppliances)."""

    id: str
    name: str
    hub_id: str | None
    ips: tuple[int, ...]
    tags: dict[str, str]


@dataclass(slots=True)
class HubGateway:
    """A Virtual WAN hub's VPN or ExpressRoute gateway: where on-premises traffic enters a hub."""

    id: str
    name: str
    kind: str  # vpn | expressroute
    hub_id: str | None
    site_ids: tuple[str, ...]  # VPN sites of its connections (their address spaces are on-premises)


@dataclass(slots=True)
class VpnSite:
    id: str
    name: str
    prefixes: tuple[Cidr, ...]


@dataclass(slots=True)
class RoutingPolicy:
    name: str
    destinations: tuple[str, ...]
    next_hop: str | None


@dataclass(slots=True)
class RoutingIntent:
    id: str
    hub_id: str
    policies: list[RoutingPolicy]


@dataclass(slots=True)
class HubConnection:
    id: str
    hub_id: str
    remote_vnet_id: str | None


@dataclass(slots=True)
class ApiManagement:
    id: str
    name: str
    sku: str
    vnet_type: str
    subnet_id: str | None
    private_ips: tuple[str, ...]
    public_ips: tuple[str, ...]
    outbound_public_ips: tuple[str, ...]
    public_network_access: str | None


@dataclass(slots=True)
class NetworkAcls:
    default_action: str | None
    bypass: str | None
    ip_rules: tuple[str, ...]
    virtual_network_rules: tuple[str, ...]


@dataclass(slots=True)
class AiAccountPeConnection:
    id: str | None
    private_endpoint_id: str | None
    status: str


@dataclass(slots=True)
class AiAccount:
    id: str
    name: str
    kind: str
    disable_local_auth: Any  # raw value: only literal true disables keys (policy 71ef260a)
    public_network_access: str | None
    network_acls: NetworkAcls | None
    pe_connections: list[AiAccountPeConnection]
    custom_subdomain: str | None
    file: str = ""


@dataclass(frozen=True, slots=True)
class IpOwner:
    """Who holds a private IP: a NIC (VM, NVA, PE), a firewall, a load balancer frontend or APIM."""

    kind: str  # nic | private-endpoint | azure-firewall | lb-frontend | apim | hub-nva
    id: str  # the owning resource (NIC id, PE id, firewall id, LB id, APIM id)
    subnet_id: str | None


@dataclass(slots=True)
class Estate:
    records: dict[str, dict[str, Any]]  # lower id -> canonical raw record
    files: dict[str, str]  # lower id -> file it came from
    vnets: dict[str, VirtualNetwork] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    peerings: dict[str, Peering] = field(default_factory=dict)
    route_tables: dict[str, RouteTable] = field(default_factory=dict)
    nsgs: dict[str, NetworkSecurityGroup] = field(default_factory=dict)
    nics: dict[str, NetworkInterface] = field(default_factory=dict)
    vms: dict[str, VirtualMachine] = field(default_factory=dict)
    scale_sets: dict[str, ScaleSet] = field(default_factory=dict)
    scale_set_instances: dict[str, ScaleSetInstance] = field(default_factory=dict)
    private_endpoints: dict[str, PrivateEndpoint] = field(default_factory=dict)
    firewalls: dict[str, Firewall] = field(default_factory=dict)
    firewall_policies: dict[str, FirewallPolicy] = field(default_factory=dict)
    rule_collection_groups: dict[str, RuleCollectionGroup] = field(default_factory=dict)
    ip_groups: dict[str, IpGroup] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    vnet_gateways: dict[str, VirtualNetworkGateway] = field(default_factory=dict)
    local_gateways: dict[str, LocalNetworkGateway] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    virtual_hubs: dict[str, VirtualHub] = field(default_factory=dict)
    routing_intents: dict[str, RoutingIntent] = field(default_factory=dict)
    hub_nvas: dict[str, HubNva] = field(default_factory=dict)
    hub_gateways: dict[str, HubGateway] = field(default_factory=dict)
    vpn_sites: dict[str, VpnSite] = field(default_factory=dict)
    hub_connections: dict[str, HubConnection] = field(default_factory=dict)
    apims: dict[str, ApiManagement] = field(default_factory=dict)
    ai_accounts: dict[str, AiAccount] = field(default_factory=dict)
    ip_owners: dict[int, list[IpOwner]] = field(default_factory=dict)
    effective_routes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    collected_at: str | None = None
    unknown_types: dict[str, int] = field(default_factory=dict)
    # the input files this run read and used (auditor.ingest.files.ReadFile): what an evidence bundle holds
    read_files: list[Any] = field(default_factory=list)

    def record(self, rid: str | None) -> dict[str, Any] | None:
        return self.records.get(key(rid)) if rid else None

    def name_of(self, rid: str | None) -> str:
        if not rid:
            return ""
        rec = self.records.get(key(rid))
        if rec and rec.get("name"):
            return str(rec["name"])
        return name_of(rid)

    def owners_of(self, ip: int) -> list[IpOwner]:
        return self.ip_owners.get(ip, [])

    @property
    def resource_count(self) -> int:
        return len(self.records)
