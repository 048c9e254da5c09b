"""What-if: apply a proposed change to the estate in memory, audit before and after in one run, and
say which findings go, stay and appear, which flows change verdict and which routes change
(docs/whatif.md). Remediation plans (`plan.py`) are change sets the same machinery can try."""
