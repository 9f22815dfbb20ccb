PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install backfill verify demo test lint bench clean

# Create .venv and install the package with its dev tools; redone when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

backfill: $(STAMP)
	$(BIN)/python -m backfill run $(ARGS)

verify: $(STAMP)
	$(BIN)/python -m backfill verify $(ARGS)

demo: $(STAMP)
	$(BIN)/python -m backfill demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check backfill tests bench
	$(BIN)/ruff format --check backfill tests bench

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
