# Tunesmith. `make` lists the targets; `make run` starts the bot, `make test` runs every check. Both build .venv
# on first use (Python 3.11+; set PYTHON=python3 if python3.11 is not on the PATH).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Python may write its bytecode caches here even where the environment says not to (PYTHONDONTWRITEBYTECODE=1 is
# common in containers): without them every pytest worker, and every bot process a test starts, compiles the whole
# project and rewrites every test module's asserts again, which costs the suite about a fifth of its time.
unexport PYTHONDONTWRITEBYTECODE

# The checks. `make test` runs each one to the end, even after a failure, and then names every check that failed.
# Four pytest workers: most tests wait on sockets, timers and processes rather than compute, so they overlap well
# even on two cores; measured back to back on one machine, three took 96 s, four 84 s, five 81 s for 10% more CPU.
# One runs the tests that start whole processes, the others the rest (tests/scheduling.py).
CHECK_PYTEST ?= $(BIN)/python -m pytest -n 4
CHECK_RUFF ?= $(BIN)/ruff check bot cogs tests tools
CHECK_IMPORTS ?= $(BIN)/lint-imports
CHECK_TYPES ?= $(BIN)/mypy

# $(call check,NAME,COMMAND): run COMMAND, remember NAME if it fails, go on (shell fragment; `failed` collects).
check = echo "== $(1): $(2)"; $(2) || failed="$$failed $(1)";
# `make test` runs the static checks beside pytest (they need none of its processes), at a lower priority so they
# take the CPU the tests leave idle: $(call spawn,NAME,COMMAND) starts one, its output and status kept in $$out;
# $(call collect,NAME,COMMAND), after `wait`, shows its output and remembers NAME if it failed.
spawn = ( nice -n 10 $(2) > "$$out/$(1).log" 2>&1; echo $$? > "$$out/$(1).rc" ) &
collect = echo "== $(1): $(2)"; cat "$$out/$(1).log"; [ "$$(cat "$$out/$(1).rc")" = 0 ] || failed="$$failed $(1)";
report = if [ -n "$$failed" ]; then echo "make $@: FAILED:$$failed"; exit 1; fi; echo "make $@: every check passed"

.DEFAULT_GOAL := help
.PHONY: help run test lint bench sandbox mutation clean

help: ## list these targets
	@echo "Tunesmith: make <target>"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11+ or run 'make PYTHON=python3 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# Compile once, as pip does for what it installs: the project's bytecode, and pytest's rewritten test modules
	@# and plugins (otherwise every pytest worker compiles them all again on a new checkout). A test module that
	@# does not import is reported by `make test`, not here.
	$(BIN)/python -m compileall -q bot cogs tools
	-$(BIN)/python -m pytest --collect-only -q > /dev/null 2>&1
	@touch $(STAMP)

run: $(STAMP) ## start the bot (reads .env; see README -> Settings)
	$(BIN)/python -m bot

test: $(STAMP) ## every check: pytest, ruff, the import layers, mypy; reports each failure
	@failed=""; out=$$(mktemp -d); \
	$(call spawn,ruff,$(CHECK_RUFF)) \
	$(call spawn,lint-imports,$(CHECK_IMPORTS)) \
	$(call spawn,mypy,$(CHECK_TYPES)) \
	$(call check,pytest,$(CHECK_PYTEST)) \
	wait; \
	$(call collect,ruff,$(CHECK_RUFF)) \
	$(call collect,lint-imports,$(CHECK_IMPORTS)) \
	$(call collect,mypy,$(CHECK_TYPES)) \
	rm -rf "$$out"; \
	$(report)

lint: $(STAMP) ## the static checks only: ruff, the import layers and mypy
	@failed=""; \
	$(call check,ruff,$(CHECK_RUFF)) \
	$(call check,lint-imports,$(CHECK_IMPORTS)) \
	$(call check,mypy,$(CHECK_TYPES)) \
	$(report)

bench: $(STAMP) ## the benchmark (python -m bot.bench; pass flags with BENCH_ARGS="...")
	$(BIN)/python -m bot.bench $(BENCH_ARGS)

sandbox: $(STAMP) ## the built-in music provider alone on http://127.0.0.1:8765 (Ctrl-C stops it)
	$(BIN)/python -m bot.sandbox --port 8765 $(SANDBOX_ARGS)

mutation: $(STAMP) ## mutation testing (mutmut; slow, not in `make test`): MUTATION_ARGS="fair_queue" runs one module
	$(BIN)/python tools/mutation.py $(MUTATION_ARGS)

clean: ## remove .venv and build files
	rm -rf $(VENV) build *.egg-info mutants
