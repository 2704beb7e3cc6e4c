# Two commands do all set-up on a fresh machine (see README):
#   make run    install the app, create/upgrade the SQLite database, seed demo data, serve on :5000
#   make test   install the app and the test tools, lint (ruff, import direction, mypy), run the whole
#               test suite (unit, browser e2e, API fuzz, load/crash; `make test-fast` skips the
#               last three)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
# Test processes for the fast tests (pytest-xdist): `auto` is one per CPU core.
WORKERS ?= auto
FAST := not e2e and not fuzz and not load
SLOW := e2e or fuzz or load
# The fast tests run in parallel; the browser, fuzz and load tests (servers, browsers,
# timing) after them in one process. "No tests selected" (5) is no failure when
# PYTEST_ARGS selects tests of one part only.
PYTEST_FAST = $(BIN)/pytest -q -n $(WORKERS) --dist worksteal -m "$(FAST)" $(PYTEST_ARGS) \
	|| [ $$? -eq 5 ]
PYTEST_SLOW = $(BIN)/pytest -q -m "$(SLOW)" $(PYTEST_ARGS) || [ $$? -eq 5 ]

.PHONY: install run test test-fast lint pytest test-postgres clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Two install stamps: the app alone (make run), and the app with the test tools.
$(VENV)/.installed-app: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-app
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The development set-up: the app and its test tools.
install: $(VENV)/.installed-test

# The demo serves plain HTTP on localhost, so the session cookie may not be
# Secure here; production keeps the secure default (README, "Deployment").
run: $(VENV)/.installed-app
	$(BIN)/flask --app wsgi lims init-db
	$(BIN)/flask --app wsgi lims seed-demo
	LIMS_SESSION_COOKIE_SECURE=false LIMS_REMEMBER_COOKIE_SECURE=false \
		$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python tools/typecheck.py

pytest: install
	$(PYTEST_FAST)
	$(PYTEST_SLOW)

test: lint pytest

# The quick loop while developing: everything but the browser, fuzz and load tests.
test-fast: lint
	$(PYTEST_FAST)

test-postgres: install
	LIMS_TEST_DATABASE_URL=$(PG_TEST_URL) $(PYTEST_FAST)
	LIMS_TEST_DATABASE_URL=$(PG_TEST_URL) $(PYTEST_SLOW)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis .schemathesis \
		*.egg-info test-artifacts oq-report
