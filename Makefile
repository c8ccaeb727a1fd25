# bridgebot: `make demo` runs the bridge on the local lab; `make test` runs every check.
# Both set up what they need first (a venv in .venv, the Python packages, and, for the
# tests, the services the tests use), so each works on a fresh machine.

VENV    ?= .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup services lint test demo bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lab,bench]'
	touch $@

services:
	bash scripts/install-services.sh

lint: setup
	$(BIN)/ruff check bridgebot rules adapters tests bench
	$(BIN)/ruff format --check bridgebot rules adapters tests bench
	$(BIN)/mypy

test: setup services lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

# Dovecot (email column) needs root to install; without it the demo runs without email.
demo: setup
	-bash scripts/install-services.sh
	$(BIN)/bridgebot demo

bench: setup
	$(PY) bench/relay.py

# Announcements to 50 rooms on every network; needs Synapse (.[lab]) and Dovecot (services).
.PHONY: bench-announce
bench-announce: setup
	$(PY) bench/announce.py

# One Telegram send's cost: python-telegram-bot over httpx against ours over aiohttp.
.PHONY: bench-telegram
bench-telegram: setup
	$(PY) bench/telegram_send.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
