# Two entry points for people (README): `make demo` and `make test`. Both bootstrap .venv once.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint docs docs-check bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	@$(BIN)/pathaudit audit --demo --fail-on never
	@# --fail-on high: the JUnit report fails the demo's high findings (exit 1 is expected here)
	@$(BIN)/pathaudit audit --demo --fail-on high --format json --format sarif --format html --format markdown \
		--format junit --format csv --out reports/demo 2>/dev/null || [ $$? -eq 1 ]
	@echo "Reports of the demo estate: reports/demo/ (findings.html, .json, .sarif, .md, .junit.xml, .csv)"

test: $(STAMP)
	@$(BIN)/python -m ruff check auditor tests rules
	@$(BIN)/python -m pytest -q

# The same checks as .pre-commit-config.yaml and .ci/run: lint, formatting, types, generated docs.
lint: $(STAMP)
	@$(BIN)/python -m ruff check auditor tests rules
	@$(BIN)/python -m ruff format --check auditor tests rules
	@$(BIN)/python -m mypy
	@$(BIN)/python -m auditor.report.rule_docs --check

# docs/rules/*.md and the README's rule table, from rules/*/rule.yaml
docs: $(STAMP)
	@$(BIN)/python -m auditor.report.rule_docs

docs-check: $(STAMP)
	@$(BIN)/python -m auditor.report.rule_docs --check

bench: $(STAMP)
	@$(BIN)/python tests/bench/run.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
