# Rapport — the two commands a newcomer needs are `make run` and `make test`.
.DEFAULT_GOAL := help
.PHONY: help install run up down status test test-fast bench chaos clean

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

help:
	@echo "make run    embedded platform: 4 services, SQLite under var/, in-process broker, gateway on :8080"
	@echo "make test   the whole test suite (unit, integration on PostgreSQL + RabbitMQ, end-to-end)"
	@echo "make up     local distributed mode: gunicorn + consumers + relays per service, PostgreSQL, RabbitMQ, nginx on :8080"
	@echo "make down   stop the local distributed mode"
	@echo "make chaos  fault-injection suite (full profile), writes docs/reliability.md"
	@echo "make bench  benchmarks against same-run baselines, writes docs/performance.md"

# Reinstalled whenever pyproject.toml or the lock file changes.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	@touch $@

install: $(STAMP)

run: install
	$(BIN)/rapport run

up: install
	scripts/ensure-nginx
	$(BIN)/rapport up

down:
	@test -x $(BIN)/rapport && $(BIN)/rapport down || true

status: install
	$(BIN)/rapport status

test: install
	scripts/ensure-nginx
	$(BIN)/pytest

# Fault-injection suite with the full profile; writes docs/reliability.md (bounded to 10 minutes).
chaos: install
	rm -rf var/chaos
	RAPPORT_CHAOS_PROFILE=full RAPPORT_CHAOS_RESULTS=var/chaos timeout 600 $(BIN)/pytest tests/reliability -q
	RAPPORT_CHAOS_RESULTS=var/chaos $(BIN)/python -m tests.reliability.report docs/reliability.md

# Benchmarks against same-run baselines on this machine's PostgreSQL and RabbitMQ in `make up`
# mode; writes docs/performance.md. BENCH_ARGS=--quick for a fast smoke run. Bounded to 15 minutes.
BENCH_ARGS ?=
bench: install
	scripts/ensure-nginx
	scripts/ensure-wrk
	timeout --signal=TERM --kill-after=60 840 $(BIN)/python -m bench $(BENCH_ARGS)

test-fast: install
	$(BIN)/pytest services tests/integration

clean:
	rm -rf var .pytest_cache
