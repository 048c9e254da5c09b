# Two entry points for people (README): `make demo` and `make test`. Both bootstrap .venv once.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	@$(BIN)/pathaudit audit --demo --fail-on never
	@$(BIN)/pathaudit audit --demo --fail-on never --format json --format sarif --format html --format markdown \
		--format junit --format csv --out reports/demo 2>/dev/null
	@echo "Reports of the demo estate: reports/demo/ (findings.html, .json, .sarif, .md, .junit.xml, .csv)"

test: $(STAMP)
	@$(BIN)/python -m ruff check auditor tests
	@$(BIN)/python -m pytest -q

lint: $(STAMP)
	@$(BIN)/python -m ruff check auditor tests

bench: $(STAMP)
	@$(BIN)/python tests/bench/run.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
