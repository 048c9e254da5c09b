"""Find resources from what a person types: full ids, `vnet/subnet`, bare subnet names, IPs."""

from __future__ import annotations

from auditor.errors import UsageError
from auditor.estate.model import Estate, Subnet
from auditor.ids import key, name_of


def _vnet_name(subnet: Subnet) -> str:
    return name_of(subnet.vnet_id)


def _label(subnet: Subnet) -> str:
    return f"{_vnet_name(subnet)}/{subnet.name}"


def resolve_subnet(estate: Estate, spec: str) -> Subnet:
    """A subnet by resource id (any case), `vnet/subnet`, or a bare subnet name that is unique.

    A bare name is what people type first (`--from snet-app`); it is accepted only when exactly one
    subnet carries it, because guessing between two `snet-app` subnets would trace the wrong flow.
    """
    found = estate.subnets.get(key(spec))
    if found is not None:
        return found
    parts = spec.strip().strip("/").split("/")
    if len(parts) == 2:
        vnet_name, subnet_name = (p.lower() for p in parts)
        matches = [
            s
            for s in estate.subnets.values()
            if s.name.lower() == subnet_name and _vnet_name(s).lower() == vnet_name
        ]
    elif len(parts) == 1 and parts[0]:
        matches = [s for s in estate.subnets.values() if s.name.lower() == parts[0].lower()]
    else:
        matches = []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        labels = sorted({_label(s) for s in matches})
        if len(labels) == len(matches):
            raise UsageError(
                f"subnet {spec!r} is ambiguous ({len(matches)} subnets); use one of: {', '.join(labels)}"
            )
        ids = ", ".join(sorted(s.id for s in matches))
        raise UsageError(f"subnet {spec!r} is ambiguous ({len(matches)} subnets); use one of the ids: {ids}")
    known = sorted(_label(s) for s in estate.subnets.values())
    hint = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
    raise UsageError(f"no subnet {spec!r} in the estate (known: {hint or 'none'})")
