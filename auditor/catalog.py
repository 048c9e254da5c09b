"""The rule registry: one folder per rule in `rules/`, shipped inside the wheel.

A rule is one unit (docs/adding-a-rule.md), as a Prowler check or a Checkov check is: `rules/<ID>/`
holds `rule.yaml` (its metadata), `check.py` (its check), `fail/` and `pass/` (estates it must and must
not report on) and nothing about it lives anywhere else. The registry discovers the folders, validates
every `rule.yaml` against auditor/schemas/rule.schema.json when it loads (a misspelt severity or a
missing check is an error naming the file, never a rule that silently stops running) and imports a
rule's check only when an audit runs it. Reports, SARIF descriptors, `pathaudit rules` and the
generated docs/rules pages all read this one source.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from auditor.errors import UsageError
from auditor.packaged import data_dir

if TYPE_CHECKING:
    from auditor.paths.appliances import Appliance

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_FILE = PACKAGE_DIR / "schemas" / "rule.schema.json"
CHECK_FILE = "check.py"
METADATA_FILE = "rule.yaml"


@dataclass(frozen=True)
class FlowNeeds:
    """Which analysed flows a path rule reads (`flows:` in its rule.yaml); the flow analysis keeps the
    union over the rules an audit runs and leaves the others out (auditor.rules.context)."""

    endpoints: str | None = None  # "ai-accounts": every flow to a private endpoint of an AI account
    routes: str | None = None  # "private-endpoint": flows delivered by a PE /32
    replies: str | None = None  # "unmitigated": flows through an appliance that may not bring replies back
    appliances: str | None = None  # a function of check.py naming appliances the rule reports

    def __bool__(self) -> bool:
        return any((self.endpoints, self.routes, self.replies, self.appliances))


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    synopsis: str
    recommendation: str
    severity: str
    family: str
    default_status: str
    primary_resource: str
    rationale: str
    remediation: str
    references: tuple[dict[str, str], ...]
    mappings: dict[str, Any]
    folder: Path
    resource_types: tuple[str, ...] = ()
    severity_note: str | None = None
    flows: FlowNeeds = field(default_factory=FlowNeeds)
    notes: str | None = None
    examples: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def help_uri(self) -> str:
        return self.references[0]["url"] if self.references else ""

    def module(self) -> ModuleType:
        """The rule's check.py, imported once under a name of its own (`pathaudit_rule_<ID>_<hash of its path>`); it must
        define check(ctx) and the function its `flows.appliances` names."""
        module = _import_check(self.id, self.folder / CHECK_FILE)
        if self.flows.appliances and not callable(getattr(module, self.flows.appliances, None)):
            raise UsageError(
                f"{self.folder / METADATA_FILE}: flows.appliances: check.py defines no function "
                f"{self.flows.appliances!r}"
            )
        return module

    def check(self) -> Callable[..., Any]:
        check: Callable[..., Any] = self.module().check  # validated callable at import
        return check

    def reported_appliance(self) -> Callable[[Appliance], bool] | None:
        """The function (of check.py) naming the appliances this rule reports, if it declares one."""
        if not self.flows.appliances:
            return None
        reporter: Callable[[Appliance], bool] = getattr(self.module(), self.flows.appliances)
        return reporter


def _import_check(rule_id: str, path: Path) -> ModuleType:
    # one module per check file: a catalog read from another directory (tests) never shares it
    name = f"pathaudit_rule_{rule_id}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: not a Python module (the check of rule {rule_id})")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    if not callable(getattr(module, "check", None)):
        del sys.modules[name]
        raise UsageError(f"{path}: defines no check(ctx) function (rule {rule_id})")
    return module


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def metadata_problem(doc: Any, folder: Path) -> str | None:
    """Why `doc` (a parsed rule.yaml in `folder`) is not valid rule metadata, in one line; None if it is."""
    if not isinstance(doc, dict):
        return f"not a rule definition (a YAML {type(doc).__name__}, not a mapping)"
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        return f"{where}: {err.message}"
    if doc["id"] != folder.name:
        return f"id: {doc['id']!r} differs from its folder name {folder.name!r}"
    if not (folder / CHECK_FILE).is_file():
        return f"no {CHECK_FILE} beside it (every rule has its check in its folder)"
    for kind in ("fail", "pass"):
        if not (folder / kind).is_dir():
            return f"examples.{kind}: no {kind}/ folder with an estate beside it"
    return None


def parse_rule(doc: dict[str, Any], folder: Path) -> Rule:
    problem = metadata_problem(doc, folder)
    if problem is not None:
        raise UsageError(f"{folder / METADATA_FILE}: {problem}")
    return Rule(
        id=doc["id"],
        title=doc["title"],
        synopsis=doc["synopsis"],
        recommendation=doc["recommendation"],
        severity=doc["severity"],
        family=doc["family"],
        default_status=doc["default_status"],
        primary_resource=doc["primary_resource"].strip(),
        rationale=doc["rationale"].strip(),
        remediation=doc["remediation"].strip(),
        references=tuple(doc["references"]),
        mappings=dict(doc["mappings"]),
        folder=folder,
        resource_types=tuple(doc.get("resource_types") or ()),
        severity_note=doc.get("severity_note"),
        flows=FlowNeeds(**(doc.get("flows") or {})),
        notes=doc["notes"].strip() if doc.get("notes") else None,
        examples=doc["examples"],
    )


def rule_folders(directory: Path) -> list[Path]:
    """Every rule folder: a directory holding a rule.yaml (anything else in rules/ is not a rule)."""
    return sorted(p for p in directory.iterdir() if p.is_dir() and (p / METADATA_FILE).is_file())


@cache
def load_catalog(directory: Path | None = None) -> dict[str, Rule]:
    import yaml  # lazy: keeps `pathaudit --help` fast

    # libyaml's loader when PyYAML was built with it: the pure-Python one takes ~0.2 s for the catalog,
    # a tenth of a 10k-subnet audit (tests/bench/paths.py); both build the same plain data
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    directory = directory or data_dir("rules")
    rules: dict[str, Rule] = {}
    for folder in rule_folders(directory):
        path = folder / METADATA_FILE
        try:
            with path.open(encoding="utf-8") as fh:
                doc = yaml.load(fh, Loader=loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise UsageError(f"{path}: cannot read rule metadata: {str(exc).splitlines()[0]}") from None
        rule = parse_rule(doc, folder)
        rules[rule.id] = rule
    if not rules:
        raise UsageError(f"{directory}: no rule folders (rules/<ID>/rule.yaml)")
    return dict(sorted(rules.items()))


def canonical_rule_ids(ids: Iterable[str], catalog: dict[str, Rule], where: str) -> list[str]:
    """Rule ids as the catalog spells them (ids compare case-insensitively); an id the catalog does not
    know is a usage error naming it and `where` it was given, never a silent "evaluated nothing"."""
    known = {rid.lower(): rid for rid in catalog}
    out, unknown = [], []
    for rid in ids:
        hit = known.get(str(rid).strip().lower())
        if hit is not None:
            out.append(hit)
        else:
            unknown.append(str(rid))
    if unknown:
        raise UsageError(
            f"{where}: unknown rule id(s) {', '.join(repr(u) for u in unknown)} "
            f"(known: {', '.join(sorted(catalog))})"
        )
    return out
