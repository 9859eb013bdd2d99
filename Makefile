# The two commands of the README: `make chat` (set up, then serve the chat) and `make test` (set up, then run
# every test). Set-up is idempotent and re-runs only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: chat test setup browser

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

test: $(STAMP) browser
	$(PY) -m pytest
