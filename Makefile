PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Only the tool's own output on stdout (`make verify ARGS=--json | python3 -m json.tool`), even when run from make.
MAKEFLAGS += --no-print-directory

.PHONY: install backfill verify undo sync demo demo-images test compat e2e lint bench clean node-duckdb

# The dashboard's DuckDB engine for Node (@duckdb/node-api 1.4.2, npm registry) under .cache/node, skipped when
# there; Debian's nodejs and npm are installed when missing (as root, e.g. in CI). Tests read our files with it.
NODE_DUCKDB := .cache/node/node_modules/@duckdb/node-api/package.json
$(NODE_DUCKDB): tests/dashboard.py | $(STAMP)
	@command -v npm >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm)
	@$(BIN)/python -m tests.dashboard --install
	@touch $(NODE_DUCKDB)

node-duckdb: $(NODE_DUCKDB)

# Create .venv and install the package with its dev tools; redone when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "Installing backfill and its dev tools into $(VENV) (log: $(VENV)/install.log)" >&2
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install -e '.[dev]' >> $(VENV)/install.log 2>&1 \
	  || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# Silent (@): stdout carries only what backfill prints.
backfill: $(STAMP)
	@$(BIN)/python -m backfill run $(ARGS)

verify: $(STAMP)
	@$(BIN)/python -m backfill verify $(ARGS)

# `make undo ARGS=--last`: what the last `run --refresh` replaced, put back.
undo: $(STAMP)
	@$(BIN)/python -m backfill undo $(ARGS)

sync: $(STAMP)
	@$(BIN)/python -m backfill sync $(ARGS)

demo: $(STAMP)
	@$(BIN)/python -m backfill demo $(ARGS)

# The pictures behind data/demo.duckdb's image URLs (Spotify's stand-in on 8765, Deezer's on 8766, e.g. for the
# dashboard), served again after `make demo`
# (Ctrl-C to stop). data/demo.html needs no server: its pictures are inside it.
demo-images: $(STAMP)
	$(BIN)/python -m standin.deezer --port 8766 --local-images --filler 0 & \
	  trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/python -m standin --port 8765 --local-images --seed 7 --tracks 1500 --artists 400

# One worker per core (pytest-xdist), a test file's tests on one worker: module fixtures are made once.
test: $(STAMP) $(NODE_DUCKDB)
	BACKFILL_NODE=1 $(BIN)/python -m pytest -n auto --dist loadfile $(ARGS)

# Histories made by DuckDB 0.10-1.5 (one cached virtualenv each under .cache/) stay readable by their maker.
compat: $(STAMP) $(NODE_DUCKDB)
	BACKFILL_NODE=1 BACKFILL_COMPAT=1 $(BIN)/python -m pytest -q tests/store/test_compat.py $(ARGS)

# The page of `verify --html` in a real headless browser (Debian's chromium, installed when missing).
# BACKFILL_E2E=1 turns a missing chromium into a failure; BACKFILL_SCREENSHOT=docs/verify.png keeps a picture.
e2e: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	BACKFILL_E2E=1 $(BIN)/python -m pytest -m e2e $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check backfill standin tests bench
	$(BIN)/ruff format --check backfill standin tests bench
	$(BIN)/mypy backfill standin
	$(BIN)/lint-imports --no-cache

bench: $(STAMP) $(NODE_DUCKDB)
	@$(BIN)/python -m pip install -e '.[dev,bench]' >> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
