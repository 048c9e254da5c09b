"""What `pathaudit routes` asks of the routing stage: one subnet's table, a decision, a comparison."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.config import Config
from auditor.errors import InputError, UsageError
from auditor.estate.lookup import resolve_subnet
from auditor.estate.model import Estate, Subnet
from auditor.ingest.files import parse_json, read_bytes
from auditor.ipnet import PrefixError, parse_ip
from auditor.routing.compare import Difference, compare
from auditor.routing.engine import RoutingModel
from auditor.routing.table import Decision, RouteTableView


@dataclass
class RoutesAnswer:
    subnet: Subnet
    view: RouteTableView
    decision: Decision | None = None
    differences: list[Difference] | None = None
    compared_with: str | None = None

    def azure_json(self) -> dict[str, Any]:
        return {"value": [r.to_azure() for r in self.view.routes]}


def load_effective_routes(path: Path) -> list[dict[str, Any]]:
    try:
        doc = parse_json(read_bytes(path, 1 << 30))
    except Exception as exc:
        raise InputError(f"{path}: cannot read effective routes ({exc})") from None
    if isinstance(doc, dict) and isinstance(value := doc.get("value"), list):
        return value
    if isinstance(doc, list):
        return doc
    raise InputError(
        f'{path}: expected the output of `az network nic show-effective-route-table` ({{"value": [...]}})'
    )


def answer(
    estate: Estate, config: Config, subnet_spec: str, ip: str | None = None, compare_file: Path | None = None
) -> RoutesAnswer:
    subnet = resolve_subnet(estate, subnet_spec)
    model = RoutingModel(estate, config)
    view = model.table_for_subnet(subnet.id)
    assert view is not None
    result = RoutesAnswer(subnet, view)
    if ip is not None:
        try:
            result.decision = view.decide(parse_ip(ip))
        except PrefixError as exc:
            raise UsageError(f"--ip: {exc.problem}") from None
    if compare_file is not None:
        result.differences = compare(view, load_effective_routes(compare_file))
        result.compared_with = str(compare_file)
    return result
