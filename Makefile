# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_PROVIDER := tests/oidc_provider
NODE_E2E := tests/e2e

.PHONY: run test bench lint types format demo clean install

$(STAMP): pyproject.toml
	@test -x $(PY) || "$$(.ci/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

$(NODE_E2E)/node_modules/.installed: $(NODE_E2E)/package.json $(NODE_E2E)/package-lock.json
	cd $(NODE_E2E) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(NODE_PROVIDER)/node_modules/.installed: $(NODE_PROVIDER)/package.json $(NODE_PROVIDER)/package-lock.json
	cd $(NODE_PROVIDER) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## Start the portal with demo data on an embedded SQLite database at http://127.0.0.1:8000
run: $(STAMP)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py demo_data
	$(PY) manage.py runserver 127.0.0.1:8000

## Run the whole test suite (SQLite by default; set DATABASE_URL for PostgreSQL)
test: $(STAMP) $(NODE_PROVIDER)/node_modules/.installed $(NODE_E2E)/node_modules/.installed
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

## Speed measurements, printed as ratios against a baseline measured in the same run.
## The search benchmark needs PostgreSQL: DATABASE_URL defaults to the local server.
bench: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
bench: $(STAMP)
	$(PY) -m pytest tests/benchmarks -m benchmark -s -p no:xdist $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo
	@$(MAKE) --no-print-directory types

## mypy with django-stubs ([tool.mypy] in pyproject.toml); access.node again as Python 3.11 code
types: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --python-version 3.11 --no-warn-unused-configs -p access.node

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 $(NODE_PROVIDER)/node_modules $(NODE_E2E)/node_modules
