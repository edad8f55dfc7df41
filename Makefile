# Quick start: `make run` starts the bot, `make test` runs every check. Both build .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench sandbox clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11+ or run 'make PYTHON=python3 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/ruff check bot cogs tests
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bot.bench

sandbox: $(STAMP)
	$(BIN)/python -m bot.sandbox --port 8765

clean:
	rm -rf $(VENV) build *.egg-info
