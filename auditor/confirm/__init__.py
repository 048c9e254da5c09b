"""The confirm stage: evidence from firewall logs and packet captures for path findings.

`confirm_document(doc, ...)` takes a findings document (docs/findings.md), gathers evidence for every
finding that has a `flow` (NET001, NET008 and any other path finding) from
- packet captures taken on the appliance (`pcap`),
- offline Azure Firewall log exports (`flowlogs`, DuckDB),
- a Log Analytics workspace (`loganalytics`, LogsQueryClient),
and returns the same document with `status` set to confirmed / refuted / inconclusive, the evidence
attached (kind `pcap` or `log`: counts per flag and direction, first/last seen, sample 5-tuples, the
file or query it came from; the reason in `note`) and `summary` recomputed. Findings without a flow
are left as they are. Every source is read once for all flows together.

Heavy libraries (duckdb, azure-monitor-query) are imported only when their source is used.
"""

from auditor.confirm.run import ConfirmResult, confirm_document, load_findings

__all__ = ["ConfirmResult", "confirm_document", "load_findings"]
