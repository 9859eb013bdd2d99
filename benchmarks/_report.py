"""The one way a benchmark reports: its result as JSON on stdout and in its result file (which
`benchmarks/figures.py collect` reads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def report(result: dict[str, Any], out: Path) -> None:
    """Print `result` and write it to `out` (its folder made if missing), UTF-8, non-ASCII kept."""
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
