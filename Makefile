# The two commands of the README: `make demo` and `make test`. Both work on a fresh machine with
# Python 3.11 and make: they create .venv if missing and install the project into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench postgres-binaries chromium clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bidder demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(STAMP) postgres-binaries chromium lint
	$(BIN)/pytest -q -p no:cacheprovider

# PostgreSQL tests start their own throwaway server; they need the server binaries and the
# `postgres` system user, which Debian's package brings.
postgres-binaries:
	@if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "pg_ctl not found: installing Debian's postgresql package"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
	fi

# The dashboard's browser tests drive Debian's chromium through Playwright for Python (the `dev` extras);
# Playwright's own browser downloads are never used.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "chromium not found: installing Debian's chromium package (dashboard browser tests)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache bidder.db demo.db
