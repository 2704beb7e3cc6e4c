# Two commands do all set-up on a fresh machine (see README):
#   make run    install, create/upgrade the SQLite database, seed demo data, serve on :5000
#   make test   install, lint (ruff, import direction, mypy), run the whole test suite
#               (unit, browser e2e, API fuzz, load/crash; `make test-fast` skips the last three)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install run test test-fast lint pytest test-postgres clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The demo serves plain HTTP on localhost, so the session cookie may not be
# Secure here; production keeps the secure default (README, "Deployment").
run: install
	$(BIN)/flask --app wsgi lims init-db
	$(BIN)/flask --app wsgi lims seed-demo
	LIMS_SESSION_COOKIE_SECURE=false LIMS_REMEMBER_COOKIE_SECURE=false \
		$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python tools/typecheck.py

pytest: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint pytest

# The quick loop while developing: everything but the browser, fuzz and load tests.
test-fast: lint
	$(BIN)/pytest -q -m "not e2e and not fuzz and not load" $(PYTEST_ARGS)

test-postgres: install
	LIMS_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info test-artifacts
