"""Builders and constants shared by several test modules.

Test modules (tests/test_*.py) hold tests: one that needs another's estate builder, document or
scenario runner imports it from here (`from helpers.routing_rows import RowEstate`), never from the
other test module. A helper living in a test module ties every importer to that module (renaming,
splitting or deleting tests there breaks unrelated files, and importing it runs its module-level
setup), and hides what is shared from whoever reads the test file. tests/test_layout.py fails if a
module under tests/ imports a test_* module.

Import them as `helpers.<module>`: tests/ is not a package, so pytest (default "prepend" import
mode) puts tests/ itself at the front of sys.path, as `from conftest import run_cli` relies on; the
bench scripts in tests/bench insert tests/ into sys.path themselves. Fixtures and the small CLI
helpers every module uses (REPO, run_cli, write_json) stay in tests/conftest.py.

  routing_rows      RowEstate: Resource Graph rows built one resource at a time; hub_and_spokes()
  path_estates      Rows: a fixtures/scenarios estate edited in memory; triples, by_rule, nsg_row ...
  estate_shapes     one ARM estate (base_estate) and write_shape() for every input shape
  malformed_inputs  unreadable files, unusable resources, and a good estate to put next to them
  scenarios         SCENARIO_DIRS, scenario(), and audit(): each scenario audited once per session
  findings_schema   validator() for auditor/schemas/findings-v2.schema.json
  report_docs       hostile estates, hand-made findings documents and the payloads they carry
"""
