"""The rule framework: what a check receives (`context`), helpers path rules share (`pathutil`) and the
loop that runs them (`engine`). The rules themselves are folders in `rules/` (auditor.catalog)."""
