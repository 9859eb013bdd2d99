# The two commands of the README: `make chat` (set up, then serve the chat) and `make test` (set up, then lint,
# type-check and run every test: what CI runs). `make check` is lint and types alone, `make test-fast` the tests
# that need no model or browser, `make bench` the benchmarks and the README's figure tables. Set-up is
# idempotent and re-runs only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: chat test test-fast check setup browser

setup: $(STAMP)

# torch first and pinned: the CPU wheel on this machine's disk; unpinned, pip pulls the multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

chat: $(STAMP)
	$(PY) app.py

# The browser tests drive Debian's Chromium (Playwright's own browser download is not reachable).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core >/dev/null; }

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser"

test: $(STAMP) browser check
	$(PY) -m pytest
