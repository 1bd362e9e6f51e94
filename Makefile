# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install sysdeps asyncapi-parser demo journey up observe test lint test-unit bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded,test,bench]'
	@touch $@

# The services need no system package; the tests need three pip cannot install: chromium, prometheus,
# and libzbar0 for the second QR reader our symbols are checked with. `make test` installs them as root.
sysdeps:
	@bash deploy/local/sysdeps.sh --test

install: $(STAMP)

# The official AsyncAPI parser (npm's @asyncapi/parser, pinned by package-lock.json) the tests run on
# deploy/asyncapi/*.json. Installed only where node and npm exist; without them that test skips (fails in CI).
PARSER := deploy/asyncapi/parser
$(PARSER)/node_modules/.package-lock.json: $(PARSER)/package-lock.json
	cd $(PARSER) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

# Node's `canonicalize` (RFC 8785 by the RFC's author): the cross-language check of our canonical JSON.
JCS := tests/vectors/jcs
$(JCS)/node_modules/.package-lock.json: $(JCS)/package-lock.json
	cd $(JCS) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

asyncapi-parser:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(PARSER)/node_modules/.package-lock.json \
	$(JCS)/node_modules/.package-lock.json; \
	else echo "npm not found: the AsyncAPI parser and RFC 8785 vector tests will skip (apt-get install -y nodejs npm)"; fi

demo: install            ## the main job: one carnet from issuance to a pushed confirmation
	$(BIN)/python -m deploy.local demo

journey: install         ## a multi-country journey with the refusals the rules demand
	$(BIN)/python -m deploy.local journey

up: install              ## keep the embedded stack running until Ctrl-C
	$(BIN)/python -m deploy.local up

observe: install         ## the stack under Debian's Prometheus (apt-get install prometheus), running the demo
	$(BIN)/python -m deploy.local observe

test: install            ## lint, then unit, service, integration, end-to-end and browser tests
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory sysdeps
	@$(MAKE) --no-print-directory asyncapi-parser
	$(BIN)/python -m pytest

lint: install            ## ruff's findings fail the build (configuration: pyproject.toml [tool.ruff])
	$(BIN)/ruff check .

test-unit: install
	$(BIN)/python -m pytest tests/unit

bench: install           ## the benchmark (issue 9): bench/results/latest.json and latest.png, ~15 min
	$(BIN)/python -m bench

bench-quick: install     ## the same with small counts, under 2 minutes (CI): bench/results/quick.json
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var demo-out .pytest_cache
