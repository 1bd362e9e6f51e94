# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install sysdeps demo journey up observe test test-unit test-kafka bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	@touch $@

# The services need no system package; the tests need three pip cannot install: chromium, prometheus,
# and libzbar0 for the second QR reader our symbols are checked with. `make test` installs them as root.
sysdeps:
	@bash deploy/local/sysdeps.sh --test

install: $(STAMP)

demo: install            ## the main job: one carnet from issuance to a pushed confirmation
	$(BIN)/python -m deploy.local demo

journey: install         ## a multi-country journey with the refusals the rules demand
	$(BIN)/python -m deploy.local journey

up: install              ## keep the embedded stack running until Ctrl-C
	$(BIN)/python -m deploy.local up

observe: install         ## the stack under Debian's Prometheus (apt-get install prometheus), running the demo
	$(BIN)/python -m deploy.local observe

test: install            ## unit, service, integration, end-to-end and browser tests, then again on Apache Kafka
	@$(MAKE) --no-print-directory sysdeps
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

test-unit: install
	$(BIN)/python -m pytest tests/unit

bench: install           ## the benchmark (issue 9): bench/results/latest.json and latest.png, ~15 min
	$(BIN)/python -m bench

bench-quick: install     ## the same with small counts, under 2 minutes (CI): bench/results/quick.json
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var demo-out .pytest_cache
