"""SARIF 2.1.0 (OASIS errata01) for code-scanning UIs: GitHub, Azure DevOps, GitLab, VS Code viewers.

One reportingDescriptor per catalog rule; one result per finding with the resource id as a logical
location and always a physical location, which GitHub code scanning requires of every result: the
input file and line of the resource's `"id"`, else a fallback artifact (auditor.report.locate,
docs/findings.md "SARIF"). `partialFingerprints["pathaudit/v1"]` is the finding fingerprint so
re-runs match up; `automationDetails.id` names the audit so several scheduled audits can be uploaded
side by side.
Suppressed findings carry `suppressions` (kind external, status accepted, the reason as justification).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.catalog import Rule
from auditor.report.json_doc import iter_indented
from auditor.report.locate import SourceLocator, artifact_location
from auditor.report.text import short_name, text

SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
LEVEL = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning buckets: >= 9 critical, 7-8.9 high, 4-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {"high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
FINGERPRINT_KEY = "pathaudit/v1"
INFORMATION_URI = "https://pathaudit.dev/"
DEFAULT_CATEGORY = "pathaudit/"  # automationDetails.id: "<category>/" (GitHub: one category per analysis)


def rule_name(title: str) -> str:
    """`API keys enabled on an AI account` -> `ApiKeysEnabledOnAnAiAccount` (SARIF rule names are identifiers)."""
    words = "".join(ch if ch.isalnum() else " " for ch in title).split()
    return "".join(w[:1].upper() + w[1:].lower() for w in words) or "Rule"


def help_markdown(rule: Rule) -> str:
    out = ["**Rationale**", "", rule.rationale, "", "**Remediation**", "", rule.remediation]
    if rule.references:
        out += ["", "**References**", ""]
        out += [
            f"- [{r.get('title') or r.get('url')}]({r.get('url')})" for r in rule.references if r.get("url")
        ]
    mappings = mapping_lines(rule)
    if mappings:
        out += ["", "**Mappings**", ""] + [f"- {m}" for m in mappings]
    return "\n".join(out)


def help_text(rule: Rule) -> str:
    out = ["Rationale:", rule.rationale, "", "Remediation:", rule.remediation]
    if rule.references:
        out += ["", "References:"] + [f"- {r.get('title', '')}: {r.get('url', '')}" for r in rule.references]
    return "\n".join(out)


def mapping_lines(rule: Rule) -> list[str]:
    out = []
    for p in rule.mappings.get("azure_policy") or []:
        out.append(f"Azure Policy {p.get('id')}: {p.get('name', '')}")
    if rule.mappings.get("mcsb"):
        out.append("MCSB: " + ", ".join(rule.mappings["mcsb"]))
    if rule.mappings.get("nist_800_53"):
        out.append("NIST SP 800-53: " + ", ".join(rule.mappings["nist_800_53"]))
    return out


def rule_tags(rule: Rule) -> list[str]:
    tags = ["security", "azure", rule.family]
    tags += [f"mcsb/{c}" for c in rule.mappings.get("mcsb") or []]
    tags += [f"nist-800-53/{c}" for c in rule.mappings.get("nist_800_53") or []]
    tags += [f"azure-policy/{p.get('id')}" for p in rule.mappings.get("azure_policy") or [] if p.get("id")]
    return tags


def descriptor(rule: Rule) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": rule.id,
        "name": rule_name(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": help_text(rule), "markdown": help_markdown(rule)},
    }
    if rule.help_uri:
        d["helpUri"] = rule.help_uri
    d["defaultConfiguration"] = {"level": LEVEL.get(rule.severity, "warning")}
    d["properties"] = {
        "tags": rule_tags(rule),
        "security-severity": SECURITY_SEVERITY.get(rule.severity, "5.5"),
        "precision": "high" if rule.default_status == "confirmed" else "medium",
        "problem.severity": "error"
        if rule.severity == "high"
        else "warning"
        if rule.severity == "medium"
        else "recommendation",
        "family": rule.family,
    }
    return d


def sarif_text(value: Any) -> str:
    """Message text: SARIF reads `[text](target)` in it as an embedded link (GitHub renders it), so
    brackets from the estate are escaped with a backslash, as are backslashes (SARIF 2.1.0, 3.11.6)."""
    return text(value).replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def logical(resource_id: str) -> dict[str, str]:
    return {
        "name": text(short_name(resource_id)),
        "fullyQualifiedName": text(resource_id),
        "kind": "resource",
    }


def location(
    resource_id: str, locator: SourceLocator | None, loc_id: int | None = None, message: str | None = None
) -> dict[str, Any]:
    loc: dict[str, Any] = {}
    if loc_id is not None:
        loc["id"] = loc_id
    if locator is not None:  # each input file indexed once
        found, exact = locator.physical(resource_id)
        loc["physicalLocation"] = {
            "artifactLocation": artifact_location(found.input),
            "region": {"startLine": found.line},
        }
        if not exact:  # the file stands for the estate; the logical location names the resource
            loc["properties"] = {"fallback": True}
    loc["logicalLocations"] = [logical(resource_id)]
    if message:
        loc["message"] = {"text": sarif_text(message)}
    return loc


def result(f: dict[str, Any], rule_index: dict[str, int], locator: SourceLocator | None) -> dict[str, Any]:
    r: dict[str, Any] = {"ruleId": f["rule_id"]}
    if f["rule_id"] in rule_index:
        r["ruleIndex"] = rule_index[f["rule_id"]]
    r["level"] = LEVEL.get(f["severity"], "warning")
    r["message"] = {"text": sarif_text(f.get("message") or f.get("title") or f["rule_id"])}
    r["locations"] = [location(f["resource_id"], locator)]
    related = [rid for rid in f.get("related_ids") or [] if rid.lower() != f["resource_id"].lower()]
    related = related[:GITHUB_LOCATIONS]  # GitHub rejects results with more; the JSON document has them all
    if related:
        r["relatedLocations"] = [
            location(rid, locator, i + 1, "related resource") for i, rid in enumerate(related)
        ]
    r["partialFingerprints"] = {FINGERPRINT_KEY: f["fingerprint"]}
    if f.get("baseline") in ("new", "unchanged"):
        r["baselineState"] = f["baseline"]
    sup = f.get("suppression")
    if sup is not None:
        justification = text(sup.get("reason"))
        extra = [
            f"expires {sup['expires']}" if sup.get("expires") else "",
            f"approved by {sup['approved_by']}" if sup.get("approved_by") else "",
        ]
        extra = [e for e in extra if e]
        if extra:
            justification += f" ({'; '.join(extra)})"
        r["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": justification,
                "properties": {k: sup.get(k) for k in ("rule", "resource", "expires", "approved_by")},
            }
        ]
    props: dict[str, Any] = {"severity": f["severity"], "status": f["status"], "title": f.get("title", "")}
    flow = f.get("flow")
    if isinstance(flow, dict):
        ex = example if isinstance(example := flow.get("example"), dict) else {}
        props["flow"] = {
            "sources": flow.get("sources"),
            "appliances": flow.get("appliances"),
            "destinations_total": flow.get("destinations_total"),
            **{k: ex.get(k) for k in ("source", "destination", "destination_ip", "port", "verdict")},
        }
    if f.get("suppression_expired"):
        props["suppression_expired"] = f["suppression_expired"]
    r["properties"] = props
    return r


def sarif_log(
    document: dict[str, Any],
    catalog: dict[str, Rule],
    locator: SourceLocator | None = None,
    results: bool = True,
    category: str | None = None,
) -> dict[str, Any]:
    rules = [catalog[rid] for rid in sorted(catalog)]
    rule_index = {r.id: i for i, r in enumerate(rules)}
    invocation: dict[str, Any] = {"executionSuccessful": True}
    notes = []
    for p in document["coverage"]["skipped"]:
        where = ", ".join(x for x in (p.get("file"), p.get("resource_id"), p.get("field")) if x)
        notes.append(
            {
                "level": "warning",
                "message": {"text": sarif_text(f"{where}: {p.get('problem')} ({p.get('effect')})")},
            }
        )
    if notes:
        invocation["toolExecutionNotifications"] = notes
    config_notes = []
    for n in document["coverage"]["not_assessed"]:
        note: dict[str, Any] = {
            "level": "note",
            "message": {"text": sarif_text(f"{n['rule_id']} not assessed: {n['reason']}")},
        }
        if n["rule_id"] in rule_index:
            note["associatedRule"] = {"id": n["rule_id"], "index": rule_index[n["rule_id"]]}
        config_notes.append(note)
    for w in document.get("warnings") or []:
        config_notes.append({"level": "warning", "message": {"text": sarif_text(w.get("message"))}})
    if config_notes:
        invocation["toolConfigurationNotifications"] = config_notes
    estate = document["estate"]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "pathaudit",
                "informationUri": INFORMATION_URI,
                "version": document["tool"]["version"],
                "semanticVersion": document["tool"]["version"],
                "rules": [descriptor(r) for r in rules],
            }
        },
        "automationDetails": {"id": automation_id(category)},
        "invocations": [invocation],
        "originalUriBaseIds": {
            "%SRCROOT%": {
                "description": {"text": "The directory pathaudit ran in (input paths are relative to it)."}
            },
            "PATHAUDIT_BUNDLED": {
                "description": {"text": "The estates bundled with pathaudit (fixtures/estates)."}
            },
        },
        "results": [result(f, rule_index, locator) for f in document["findings"]] if results else [],
        "properties": {
            "findingsSchema": document["schema"],
            "estate": {
                "sha256": estate["sha256"],
                "collected_at": estate["collected_at"],
                "resources": estate["resources"],
                "inputs": estate["inputs"],
            },
            "coverageComplete": document["coverage"]["complete"],
            "summary": document["summary"],
        },
    }
    if "baseline" in document:
        run["properties"]["baseline"] = document["baseline"]
    return {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}


# GitHub code scanning limits (https://docs.github.com/en/code-security/code-scanning/troubleshooting-sarif-uploads/results-exceed-limit):
# a run over 25,000 results is rejected, only the top 5,000 by severity are kept; a result over 1,000
# locations is rejected.
GITHUB_RESULTS_REJECTED = 25_000
GITHUB_GZIP_BYTES = (
    10 * 1024 * 1024
)  # an upload over 10 MB gzip-compressed is rejected (same docs: file-too-large)
GITHUB_RESULTS_SHOWN = 5_000
GITHUB_LOCATIONS = 1_000


def github_warnings(document: dict[str, Any]) -> list[str]:
    """What GitHub code scanning will do with this SARIF file, when it will not show all of it."""
    n = len(document["findings"])
    if n > GITHUB_RESULTS_REJECTED:
        return [
            f"SARIF has {n} results: GitHub code scanning rejects runs over {GITHUB_RESULTS_REJECTED:,} "
            "(narrow it with --rule, or keep the HTML and JSON reports instead)"
        ]
    if n > GITHUB_RESULTS_SHOWN:
        return [
            f"SARIF has {n} results: GitHub code scanning keeps only the top {GITHUB_RESULTS_SHOWN:,} by severity"
        ]
    return []


def automation_id(category: str | None) -> str:
    """`automationDetails.id`: the category ends with "/" so GitHub reads all of it as the category
    (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning)."""
    cat = (category or DEFAULT_CATEGORY).strip()
    return cat if cat.endswith("/") else cat + "/"


def measured(chunks: Iterator[bytes], notices: list[str]) -> Iterator[bytes]:
    """Pass the SARIF bytes through while gzip-compressing them on the side, and add a notice when the
    compressed file is over GitHub's upload limit (the size only exists once it is written)."""
    import zlib

    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    size = 0
    for chunk in chunks:
        size += len(z.compress(chunk))
        yield chunk
    size += len(z.flush())
    if size > GITHUB_GZIP_BYTES:
        notices.append(
            f"SARIF is {size / 2**20:.1f} MB gzip-compressed: GitHub code scanning rejects uploads over "
            f"{GITHUB_GZIP_BYTES // 2**20} MB (narrow it with --rule or --severity)"
        )


def iter_sarif(
    document: dict[str, Any],
    catalog: dict[str, Rule],
    locator: SourceLocator | None = None,
    category: str | None = None,
) -> Iterator[bytes]:
    """The SARIF log in pieces, one result at a time (same bytes as dumping it whole)."""
    log = sarif_log(document, catalog, locator, results=False, category=category)
    rules = [catalog[rid] for rid in sorted(catalog)]
    rule_index = {r.id: i for i, r in enumerate(rules)}
    results = (result(f, rule_index, locator) for f in document["findings"])
    return iter_indented(log, ("runs", 0, "results"), list(results))


def render_sarif(
    document: dict[str, Any],
    catalog: dict[str, Rule],
    locator: SourceLocator | None = None,
    category: str | None = None,
) -> bytes:
    return b"".join(iter_sarif(document, catalog, locator, category))
