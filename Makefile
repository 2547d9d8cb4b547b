# `make run` and `make test` set themselves up on a fresh machine: a virtual environment in .venv with the
# project installed (editable) and its dev extras. Re-running is cheap: pip runs again only when
# pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup test lint typecheck pytest run clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest

test: lint typecheck pytest

run: setup
	$(BIN)/bot data validate --domain domain/domain.yml --data domain/data --config domain/config.yml
	@echo "The server (\`bot run\`) is not built yet; \`make run\` validates the base assistant in domain/."

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
