"""Find resources from what a person types: full ids, `vnet/subnet`, names, IPs."""

from __future__ import annotations

from auditor.errors import UsageError
from auditor.estate.model import Estate, Subnet


def resolve_subnet(estate: Estate, spec: str) -> Subnet:
    """A subnet by resource id (any case) or `vnet/subnet` name; ambiguity is a usage error."""
    found = estate.subnets.get(spec.lower())
    if found is not None:
        return found
    if spec.count("/") == 1:
        vnet_name, subnet_name = (p.lower() for p in spec.split("/"))
        matches = [
            s for s in estate.subnets.values()
            if s.name.lower() == subnet_name and s.vnet_id.rstrip("/").rsplit("/", 1)[-1].lower() == vnet_name
        ]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(sorted(s.id for s in matches))
            raise UsageError(f"subnet {spec!r} is ambiguous ({len(matches)} subnets); use one of the ids: {ids}")
    known = sorted(f"{s.vnet_id.rsplit('/', 1)[-1]}/{s.name}" for s in estate.subnets.values())
    hint = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
    raise UsageError(f"no subnet {spec!r} in the estate (known: {hint or 'none'})")
