"""Every resource type pathaudit reads can be exported: it is in the README's Resource Graph export and
in the queries `pathaudit collect` runs (checks/resource-graph/*.kql). A type the estate parser knows
but no export brings would be silently missing from every audit."""

from __future__ import annotations

import re

from conftest import REPO

from auditor.estate.build import PARSERS

# children that arrive nested in their parents (contracts: merged by id), never queried on their own
NESTED = {
    "microsoft.network/virtualnetworks/subnets",
    "microsoft.network/virtualnetworks/virtualnetworkpeerings",
    "microsoft.network/routetables/routes",
    "microsoft.network/networksecuritygroups/securityrules",
    "microsoft.network/networksecuritygroups/defaultsecurityrules",
}


def quoted_types(text: str) -> set[str]:
    return {t.lower() for t in re.findall(r"'((?:microsoft\.[a-z]+)/[a-z0-9/]+)'", text, flags=re.I)}


def test_readme_export_brings_every_parsed_type() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    export = readme[readme.index("## Audit an exported estate") : readme.index("pathaudit audit estate.json")]
    missing = set(PARSERS) - NESTED - quoted_types(export)
    assert not missing, f"README export query lacks {sorted(missing)}"


def test_collect_queries_bring_every_parsed_type() -> None:
    kql = "".join(p.read_text("utf-8") for p in sorted((REPO / "checks" / "resource-graph").glob("*.kql")))
    missing = set(PARSERS) - NESTED - quoted_types(kql)
    assert not missing, f"checks/resource-graph lacks {sorted(missing)}"
