"""The config file (README, config file): what the estate cannot say about itself.

Looked up in this order: `--config FILE`, `./pathaudit.toml`, `[tool.pathaudit]` in
`./pyproject.toml`. Every value is validated up front so a typo fails the run with exit 2 instead
of silently changing what is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import UsageError
from auditor.ids import key
from auditor.ipnet import Cidr, PrefixError, parse_cidr


@dataclass(frozen=True)
class GatewayDecl:
    name: str
    subnets: tuple[str, ...]


@dataclass(frozen=True)
class ApplianceDecl:
    nic: str
    snat: bool


@dataclass(frozen=True)
class Suppression:
    rule: str
    resource: str
    reason: str
    expires: dt.date
    approved_by: str | None


@dataclass(frozen=True)
class Config:
    path: str | None = None
    on_premises: tuple[Cidr, ...] = ()
    gateways: tuple[GatewayDecl, ...] = ()
    appliances: tuple[ApplianceDecl, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def echo(self) -> dict[str, Any] | None:
        """What the findings document says about the config file: which one, its hash, and every value
        that can change a verdict (on-premises ranges, gateways, appliances that SNAT)."""
        if self.path is None:
            return None
        try:
            digest = hashlib.sha256(Path(self.path).read_bytes()).hexdigest()
        except OSError:
            digest = ""
        return {
            "file": self.path,
            "sha256": digest,
            "values": {
                "on_premises": [str(p) for p in self.on_premises],
                "gateways": [{"name": g.name, "subnets": list(g.subnets)} for g in self.gateways],
                "appliances": [{"nic": a.nic, "snat": a.snat} for a in self.appliances],
            },
        }

    def appliance(self, nic_id: str) -> ApplianceDecl | None:
        for decl in self.appliances:
            if key(decl.nic) == key(nic_id):
                return decl
        return None


def _err(path: Path, where: str, problem: str) -> UsageError:
    return UsageError(f"{path}: {where}: {problem}")


def parse_config(doc: dict[str, Any], path: Path) -> Config:
    known = {"network", "gateways", "appliances", "suppressions"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise _err(path, ", ".join(unknown), f"unknown section (expected one of {', '.join(sorted(known))})")
    network = _table(path, doc, "network")
    on_prem = []
    for i, text in enumerate(_array(path, network, "on_premises", "network.on_premises")):
        try:
            on_prem.append(parse_cidr(text))
        except PrefixError as exc:
            raise _err(path, f"network.on_premises[{i}]", exc.problem) from None
    gateways = []
    for i, gw in enumerate(_tables(path, doc, "gateways")):
        subnets = gw.get("subnets")
        if not isinstance(subnets, list) or not all(
            isinstance(s, str) and s.startswith("/") for s in subnets
        ):
            raise _err(path, f"gateways[{i}].subnets", "expected a list of subnet resource ids")
        gateways.append(GatewayDecl(str(gw.get("name") or f"gateway-{i}"), tuple(subnets)))
    appliances = []
    for i, ap in enumerate(_tables(path, doc, "appliances")):
        nic = ap.get("nic")
        if not isinstance(nic, str) or not nic.startswith("/"):
            raise _err(path, f"appliances[{i}].nic", "expected a network interface resource id")
        snat = ap.get("snat", False)
        if not isinstance(snat, bool):
            raise _err(path, f"appliances[{i}].snat", "expected true or false")
        appliances.append(ApplianceDecl(nic, snat))
    suppressions = []
    for i, sup in enumerate(_tables(path, doc, "suppressions")):
        where = f"suppressions[{i}]"
        for field_name in ("rule", "resource", "reason", "expires"):
            if not sup.get(field_name):
                raise _err(path, f"{where}.{field_name}", "required")
        expires = sup["expires"]
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                raise _err(path, f"{where}.expires", f"{expires!r} is not a YYYY-MM-DD date") from None
        if isinstance(expires, dt.datetime):
            expires = expires.date()
        if not isinstance(expires, dt.date):
            raise _err(path, f"{where}.expires", "expected a YYYY-MM-DD date")
        suppressions.append(
            Suppression(
                str(sup["rule"]),
                str(sup["resource"]),
                str(sup["reason"]),
                expires,
                str(sup["approved_by"]) if sup.get("approved_by") else None,
            )
        )
    return Config(str(path), tuple(on_prem), tuple(gateways), tuple(appliances), tuple(suppressions), doc)


def _table(path: Path, doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        raise _err(path, key, f"expected a table ([{key}]), got {type(value).__name__}")
    return value


def _array(path: Path, doc: dict[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise _err(path, where, f"expected a list, got {type(value).__name__}")
    return value


def _tables(path: Path, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """An array of tables ([[key]]); a single [key] table or a scalar is an error naming it."""
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise _err(path, key, f"expected an array of tables ([[{key}]]), got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _err(path, f"{key}[{i}]", f"expected a table, got {type(item).__name__}")
    return value


def load_config(explicit: Path | None, cwd: Path | None = None) -> Config:
    if explicit is not None:
        if not explicit.exists():
            raise UsageError(f"{explicit}: config file not found")
        return parse_config(_read_toml(explicit), explicit)
    cwd = cwd or Path.cwd()
    candidate = cwd / "pathaudit.toml"
    if candidate.is_file():
        return parse_config(_read_toml(candidate), candidate)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("pathaudit")
        if isinstance(section, dict):
            return parse_config(section, pyproject)
    return Config()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UsageError(f"{path}: not a regular file")
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
