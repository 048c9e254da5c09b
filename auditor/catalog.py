"""The rule catalog: one YAML file per rule in `rules/`, shipped inside the wheel.

Metadata lives beside the code that implements it (Prowler/Checkov style) so that reports, SARIF
rule descriptors and `pathaudit rules show` all read one source of truth.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from auditor.errors import UsageError

PACKAGE_DIR = Path(__file__).resolve().parent
REQUIRED = ("id", "title", "severity", "family", "check", "rationale", "remediation", "references", "mappings")


def data_dir(name: str) -> Path:
    """Installed wheel: auditor/_data/<name>; source checkout: the top-level folder."""
    installed = PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    return PACKAGE_DIR.parent / name


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    family: str
    check_ref: str
    default_status: str
    rationale: str
    remediation: str
    references: tuple[dict[str, str], ...]
    mappings: dict[str, Any]
    resource_types: tuple[str, ...] = ()
    notes: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def help_uri(self) -> str:
        return self.references[0]["url"] if self.references else ""

    def check(self) -> Callable[..., Any]:
        module, _, func = self.check_ref.partition(":")
        return getattr(importlib.import_module(module), func)


def parse_rule(doc: dict[str, Any], source: Path) -> Rule:
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise UsageError(f"{source}: rule file lacks {', '.join(missing)}")
    return Rule(
        id=str(doc["id"]),
        title=str(doc["title"]),
        severity=str(doc["severity"]),
        family=str(doc["family"]),
        check_ref=str(doc["check"]),
        default_status=str(doc.get("default_status") or "confirmed"),
        rationale=str(doc["rationale"]).strip(),
        remediation=str(doc["remediation"]).strip(),
        references=tuple(doc.get("references") or ()),
        mappings=dict(doc.get("mappings") or {}),
        resource_types=tuple(doc.get("resource_types") or ()),
        notes=str(doc["notes"]).strip() if doc.get("notes") else None,
        raw=doc,
    )


@cache
def load_catalog(directory: Path | None = None) -> dict[str, Rule]:
    import yaml  # lazy: keeps `pathaudit --help` fast

    # libyaml's loader when PyYAML was built with it: the pure-Python one takes ~0.2 s for the catalog,
    # a tenth of a 10k-subnet audit (tests/bench/paths.py); both build the same plain data
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    directory = directory or data_dir("rules")
    rules: dict[str, Rule] = {}
    for path in sorted(directory.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=loader)
        if not isinstance(doc, dict):
            raise UsageError(f"{path}: not a rule definition")
        rule = parse_rule(doc, path)
        rules[rule.id] = rule
    return dict(sorted(rules.items()))


def implemented(catalog: dict[str, Rule]) -> dict[str, Rule]:
    """Rules whose check module exists in this build (rules land issue by issue)."""
    out = {}
    for rid, rule in catalog.items():
        module = rule.check_ref.partition(":")[0]
        if importlib.util.find_spec(module) is not None:
            out[rid] = rule
    return out


def canonical_rule_ids(ids: Iterable[str], catalog: dict[str, Rule], where: str) -> list[str]:
    """Rule ids as the catalog spells them (ids compare case-insensitively); an id the catalog does not
    know is a usage error naming it and `where` it was given, never a silent "evaluated nothing"."""
    from auditor.errors import UsageError

    known = {rid.lower(): rid for rid in catalog}
    out, unknown = [], []
    for rid in ids:
        hit = known.get(str(rid).strip().lower())
        (out.append(hit) if hit is not None else unknown.append(str(rid)))
    if unknown:
        raise UsageError(f"{where}: unknown rule id(s) {', '.join(repr(u) for u in unknown)} "
                         f"(known: {', '.join(sorted(catalog))})")
    return out
