# Two commands for a newcomer: `make demo` (see the pipeline work) and `make test`.
# Everything else is installed on demand: a virtualenv in .venv and the Kafka jars in the user
# cache directory, ~/.cache/nightstream (see nightstream/local_kafka). Needs Java 11+, not Maven.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install kafka lint test demo clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "nightstream needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

kafka: install
	@$(BIN)/nightstream kafka fetch

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# pytest exits 5 when it collected no test: that is a broken setup, not a pass.
test: install kafka lint
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the test setup is broken" >&2; exit 1; fi; \
	exit $$rc

demo: install kafka
	$(BIN)/python -m nightstream.demo

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
