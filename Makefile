# `make run` and `make test` set themselves up on a fresh machine: a virtual environment in .venv with the
# project installed (editable) and its dev extras. Re-running is cheap: pip runs again only when
# pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup browser test lint typecheck pytest run docker-build docker-up clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,rasa-sdk]'
	touch $(STAMP)

# Also compiles the hot modules with mypyc beside their sources (bot/compiled.py lists them and says why): about
# two minutes, then nothing until one of them changes. An edited module makes every process run all of them as
# Python until this runs again. Without a C compiler they stay Python (COMPILE_FLAGS=--require: an error).
setup: $(STAMP)
	$(BIN)/python -m bot.compile $(COMPILE_FLAGS)

# The web widget's tests drive Debian's Chromium (browsers downloaded by test tools do not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: run 'sudo apt-get install chromium' (needed by the widget tests)"; exit 1; fi; }

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

# Every test runs twice where the modules are compiled: once compiled (what `make run` serves), once as Python
# (CONDUCTOR_COMPILED=0: a machine without a compiler, a checkout being edited).
pytest: setup browser
	@if $(BIN)/python -c 'import sys; from bot import compiled; sys.exit(not compiled.status().compiled)'; then \
	  echo "== the tests, compiled modules ==" && CONDUCTOR_EXPECT_COMPILED=1 $(BIN)/pytest $(PYTEST_ARGS) && \
	  echo "== the tests, interpreted modules ==" && CONDUCTOR_COMPILED=0 $(BIN)/pytest $(PYTEST_ARGS); \
	else $(BIN)/pytest $(PYTEST_ARGS); fi

test: lint typecheck pytest

# Trains the base assistant in domain/ when it has no model yet (an unchanged project reuses its model), then
# serves it with the web chat at http://127.0.0.1:5005 and its conversations in domain/conductor.db (SQLite).
run: setup
	cd domain && ../$(BIN)/bot train
	cd domain && ../$(BIN)/bot run --interface 127.0.0.1 --port 5005

# For operators with a Docker engine (none runs on the development machines): see docker/README.md.
docker-build:
	docker build -f docker/Dockerfile -t conductor .

docker-up:
	cd docker && docker compose up --build

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache bot/_compiled.json
	find bot -name '*.so' -delete
