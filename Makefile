# Ascolto — the two commands a newcomer needs are `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test lint bench fuzz clean chromium

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(TSTAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e '.[test]'
	touch $@ $(STAMP)

run: $(STAMP)
	$(PY) run.py serve

# Debian's chromium for the browser tests: installed when missing and we are root.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "chromium is missing: install Debian's chromium package (browser tests will fail)"; \
		fi; \
	fi

test: $(TSTAMP) chromium
	$(PY) -m pytest

lint: $(TSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(TSTAMP) chromium
	$(PY) -m tests.bench

# Protocol fuzzing at scale: 100,000 generated and mutated frames over the three signaling sockets.
fuzz: $(TSTAMP)
	$(PY) -m tests.fuzz

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
