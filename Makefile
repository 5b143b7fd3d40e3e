# Two entry points for a fresh clone: `make run` (the bot: on the configured platforms, or with
# no credentials in the sandbox with a web chat page) and `make test` (the whole test suite).
# Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

run: install
	$(BIN)/hrbot serve

test: install-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q

# Refresh the README's sandbox images: the browser tests (Debian's chromium) write their
# screenshots to docs/ instead of a temporary folder.
screenshots: install-test
	HRBOT_SCREENSHOTS=docs $(BIN)/pytest -q -p no:cacheprovider tests/test_browser.py
