# The two set-up commands of the README: `make demo` (the main job) and `make test` (the whole suite).
# Both create .venv when missing and install what they need; `make test` also installs Debian's
# chromium for the browser tests (as root), and fails loudly when it cannot.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
SHARED_DATA ?= $(abspath ../shared/data)

.PHONY: demo test chromium bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	# torch pinned to the CPU build on this machine's disk (the tests of the torch embedder need it).
	$(BIN)/pip install -q -e '.[test]' 'torch==2.13.0'
	touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/bagel demo

chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || { echo "error: apt-get install chromium failed" >&2; exit 1; }; \
	else \
		echo "error: the browser tests need Debian's chromium: run 'sudo apt-get install -y chromium' and retry" >&2; exit 1; \
	fi

test: $(VENV)/.test chromium
	@test -d "$(SHARED_DATA)" || { echo "error: the tests read the shared reference data at $(SHARED_DATA) (set SHARED_DATA=...)" >&2; exit 1; }
	$(BIN)/ruff check --select F,E9 src tests benchmarks
	BAGEL_DATA_DIR="$(SHARED_DATA)" BAGEL_TEST_BROWSER=/usr/bin/chromium $(BIN)/pytest -q

bench: $(VENV)/.test
	BAGEL_DATA_DIR="$(SHARED_DATA)" $(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) bagel-demo bagel-workspace
